"""complexity/cli.py: the ``fastgnn complexity`` subparser and its command (on tiny sweeps)."""

from __future__ import annotations

import argparse
import json

import pytest

from fastgnn.complexity import add_subparser, run_cli


def _cli(argv):
    p = argparse.ArgumentParser(prog="fastgnn")
    sub = p.add_subparsers(dest="command")
    add_subparser(sub)
    return p.parse_args(["complexity", *argv])


def test_cli_hook_json_and_out(tmp_path, capsys):
    args = _cli(["--quick", "--ops", "ref-copy", "--repeats", "1", "--json", "--out", str(tmp_path)])
    assert args.func is run_cli
    assert run_cli(args) == 0
    out = json.loads(capsys.readouterr().out)  # one strict JSON document
    assert out["table"][0]["operation"] == "ref-copy"
    assert (tmp_path / "complexity.json").exists()
    assert run_cli(_cli(["--list", "--ops", "gntk"])) == 0
    assert "gntk-pair-kron/N" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no operation matches"):
        run_cli(_cli(["--ops", "nothing-like-this", "--quick"]))
    with pytest.raises(ValueError, match="repeats"):
        run_cli(_cli(["--repeats", "0"]))
