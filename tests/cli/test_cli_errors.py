"""The command line's failures and messages (issues 24.6 and 25.4-25.6): one ``error:`` line naming the
file or argument, exit status 1 (2 for argparse), a JSON error object on stdout under ``--json``, outputs
checked before any work, and summaries that say what they are (fold count, split, which Gram C is of).

Everything here runs on a tiny GIN-format folder or a small random Gram: seconds in all.
"""

from __future__ import annotations

import errno
import json
import os
import zipfile

import numpy as np
import pytest

from fastgnn.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, command: str) -> str:
    """The last line of stderr, checked to be the one ``fastgnn COMMAND: error: ...`` line (no traceback)."""
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"fastgnn {command}: error: "), err
    return last


def tiny_dataset(folder, n_per_class=10, seed=0):
    """A GIN-format folder ``folder/NAME/NAME.txt``: 2 classes of small random graphs (paths and stars)."""
    rng = np.random.default_rng(seed)
    name = folder.name
    lines = [str(2 * n_per_class)]
    for label in (0, 1):
        for _ in range(n_per_class):
            n = int(rng.integers(3, 7))
            nbrs = {i: set() for i in range(n)}
            for i in range(1, n):
                j = i - 1 if label == 0 else 0  # a path or a star
                nbrs[i].add(j)
                nbrs[j].add(i)
            lines.append(f"{n} {label}")
            lines += [f"{int(rng.integers(0, 2))} {len(nbrs[i])} " + " ".join(map(str, sorted(nbrs[i])))
                      for i in range(n)]
    folder.mkdir(parents=True)
    (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def gram_dir(tmp_path):
    """A 40-item Gram and labels (no folds.npz beside them)."""
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, 3)) + y[:, None]
    d = tmp_path / "g"
    d.mkdir()
    np.save(d / "gram.npy", 100.0 * (x @ x.T / 3 + 3.0) ** 2)
    np.save(d / "labels.npy", y)
    return d


# ----------------------------------------------------------------------------- 25.6: messages


def test_evaluate_a_text_file_names_it_without_allow_pickle(capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# not a Gram\n" * 20)
    np.save(tmp_path / "labels.npy", np.arange(4) % 2)
    code, out, err = run_cli(capsys, "evaluate", readme)
    line = one_error_line(err, "evaluate")
    assert code == 1 and str(readme) in line and "not a NumPy .npy array" in line
    assert "allow_pickle" not in err and "pickle.load" not in err


def test_errors_under_json_are_a_json_object_on_stdout(capsys, tmp_path):
    missing = tmp_path / "nothing.npy"
    code, out, err = run_cli(capsys, "evaluate", missing, "--json")
    assert code == 1
    obj = json.loads(out)
    assert obj["command"] == "evaluate" and obj["exit_status"] == 1 and obj["type"] == "FileNotFoundError"
    assert str(missing) in obj["error"] and str(missing) in one_error_line(err, "evaluate")


def test_argparse_errors_under_json_too(capsys, tmp_path):
    code, out, err = run_cli(capsys, "evaluate", tmp_path, "--protocol", "bogus", "--json")
    assert code == 2
    obj = json.loads(out)
    assert obj["exit_status"] == 2 and "--protocol" in obj["error"] and "bogus" in obj["error"]
    assert "usage:" in err and err.strip().splitlines()[-1].startswith("fastgnn evaluate: error: ")


def test_search_bad_layers_fail_before_any_work(capsys, tmp_path, monkeypatch):
    import fastgnn.cli.search as search_cli

    monkeypatch.setattr(search_cli, "load_graphs", lambda *a: pytest.fail("the data was read before the check"))
    code, out, err = run_cli(capsys, "search", "MUTAG", "--layers", "1,2")
    line = one_error_line(err, "search")
    assert code == 1 and "--layers 1,2" in line and "num_layers" in line
    assert "%|" not in err  # no progress bar was started


@pytest.mark.parametrize("flag, value, word", [("--mlp-layers", "0", "num_mlp_layers"),
                                               ("--scales", "uniform,sideways", "scale"),
                                               ("--layers", "2,x", "integers")])
def test_search_grid_values_name_their_flag(capsys, flag, value, word):
    code, out, err = run_cli(capsys, "search", "MUTAG", flag, value)
    line = one_error_line(err, "search")
    assert code == 1 and flag in line and word in line


def test_help_texts(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "thin" not in top and ":func:" not in top and "Fast graph learning" in top
    for command, needle in (("datasets", "List every dataset known by name"), ("search", "dataset the graph dataset")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert needle in " ".join(capsys.readouterr().out.split())


def test_search_summary_says_folds_and_no_stage_that_did_not_run(capsys, tmp_path, isolated_data_env):
    data = tiny_dataset(tmp_path / "TINY")
    code, out, err = run_cli(capsys, "search", data, "--layers", "2", "--mlp-layers", "1", "--scales", "uniform",
                             "--jk", "no", "--num-C", "3", "--protocol", "paper", "--jobs", "1")
    assert code == 0, err
    assert "fully_nested" not in out and "fully nested" not in out
    assert "% over 10 folds" in out


# ----------------------------------------------------------------------------- 25.4: folds and split said


def test_evaluate_without_folds_says_it_makes_a_new_split(capsys, gram_dir):
    code, out, err = run_cli(capsys, "evaluate", gram_dir / "gram.npy", "--protocol", "paper", "--seed", "3")
    assert code == 0, err
    assert "new stratified 10-fold split" in err and "seed 3" in err
    assert "over 10 folds" in out
    assert "raw = gram / " in out or "cosine-normalised" in out  # which Gram the C is of
    res = json.loads(run_cli(capsys, "evaluate", gram_dir, "--protocol", "paper", "--json")[1])["paper"]
    assert res["split"]["made"] is True and res["split"]["seed"] == 0 and res["folds"] == 10
    assert res["gram_scale"] == pytest.approx(np.load(gram_dir / "gram.npy").min())


def test_evaluate_with_folds_npz_says_where_they_came_from(capsys, gram_dir):
    from fastgnn.graph import stratified_folds

    folds = stratified_folds(np.load(gram_dir / "labels.npy"), 4)
    np.savez(gram_dir / "folds.npz", **{f"{k}_{i}": f[j] for i, f in enumerate(folds)
                                        for j, k in enumerate(("train", "test"))})
    code, out, err = run_cli(capsys, "evaluate", gram_dir, "--protocol", "paper")
    assert code == 0 and "new stratified" not in err and "over 4 folds" in out


def test_a_truncated_folds_npz_is_named(capsys, gram_dir):
    np.savez(gram_dir / "folds.npz", train_0=np.arange(30), test_0=np.arange(30, 40))
    data = (gram_dir / "folds.npz").read_bytes()
    (gram_dir / "folds.npz").write_bytes(data[: len(data) // 2])
    code, out, err = run_cli(capsys, "evaluate", gram_dir, "--json")
    line = one_error_line(err, "evaluate")
    assert code == 1 and str(gram_dir / "folds.npz") in line and json.loads(out)["exit_status"] == 1


# ----------------------------------------------------------------------------- 24.6: no tracebacks


@pytest.mark.parametrize("exc, words", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/out/gram.npy"), ["permission denied",
                                                                                "/data/out/gram.npy"]),
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/gram.npy"), ["no space left", "/data/out/gram.npy"]),
    (MemoryError("Unable to allocate 894. GiB for an array with shape (346410, 346410)"), ["out of memory",
                                                                                           "894. GiB"]),
    (zipfile.BadZipFile("File is not a zip file"), ["damaged or truncated", "not a zip file"]),
    (KeyError("surprise"), ["KeyError", "FASTGNN_TRACEBACK"]),
])
def test_failures_end_in_one_error_line(capsys, gram_dir, monkeypatch, exc, words):
    import fastgnn.cli.evaluate as evaluate_cli

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(evaluate_cli, "evaluate_gram", fail)
    for json_flag in ((), ("--json",)):
        code, out, err = run_cli(capsys, "evaluate", gram_dir, *json_flag)
        line = one_error_line(err, "evaluate")
        assert code == 1
        assert all(w in line for w in words), line
        if json_flag:
            assert json.loads(out)["type"] == type(exc).__name__
        else:
            assert out == ""


def test_traceback_on_request(gram_dir, monkeypatch):
    import fastgnn.cli.evaluate as evaluate_cli

    monkeypatch.setattr(evaluate_cli, "evaluate_gram", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("FASTGNN_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["evaluate", str(gram_dir)])


@pytest.mark.parametrize("command, extra, kind", [
    ("gntk", ["synthetic"], "folder"),
    ("search", ["synthetic"], "file"),
    ("train", ["--model", "gin", "--dataset", "synthetic"], "folder"),
    ("reproduce", ["--quick"], "folder"),
    ("demo", [], "folder"),
])
def test_outputs_are_checked_before_any_work(capsys, tmp_path, monkeypatch, command, extra, kind):
    """--out below a regular file cannot be written: said at once, naming --out, before anything runs."""
    import importlib

    module = importlib.import_module(f"fastgnn.cli.{command}")
    monkeypatch.setattr(module, "run", lambda args: pytest.fail("the command ran before --out was checked"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out_path = blocker / "sub" / ("result.json" if kind == "file" else "out")
    code, out, err = run_cli(capsys, command, *extra, "--out", out_path)
    line = one_error_line(err, command)
    assert code == 1 and "--out" in line and str(out_path) in line


def test_output_folder_that_is_a_file_and_file_that_is_a_folder(capsys, tmp_path):
    f = tmp_path / "x.json"
    f.write_text("{}")
    code, _, err = run_cli(capsys, "gntk", "synthetic", "--out", f)
    assert code == 1 and "not a folder" in one_error_line(err, "gntk")
    code, _, err = run_cli(capsys, "search", "synthetic", "--out", tmp_path)
    assert code == 1 and "is a folder" in one_error_line(err, "search")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes through file modes")
def test_read_only_output_folder(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run_cli(capsys, "gntk", "synthetic", "--out", ro / "out")
        assert code == 1 and "cannot write" in one_error_line(err, "gntk")
    finally:
        ro.chmod(0o700)


def test_writability_check_creates_nothing(tmp_path):
    from fastgnn.cli import FOLDER, check_writable

    target = tmp_path / "a" / "b"
    assert check_writable(target, FOLDER, "--out") == target
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []
