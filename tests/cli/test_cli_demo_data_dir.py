"""``fastgnn demo --data-dir DIR`` reads MUTAG from DIR or fails naming it (issue 25.6: a folder that does not
exist fell back to the generated data without a word)."""

from __future__ import annotations

from fastgnn.cli import main


def test_demo_with_a_data_dir_without_mutag_fails_naming_it(capsys, tmp_path, isolated_data_env):
    missing = tmp_path / "nonexistent"
    out = tmp_path / "demo"
    code = main(["demo", "--data-dir", str(missing), "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == 1
    assert stderr.startswith("fastgnn demo: error: dataset MUTAG not found")
    assert str(missing / "MUTAG" / "MUTAG.txt") in stderr
    assert "synthetic" not in stdout + stderr and not out.exists()
