"""The CLI restates nothing: its choices and defaults are the library's constants and signatures.

Also: every command module registers itself, ``fastgnn --help`` speaks to users, and
``python -m fastgnn --help`` runs.
"""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys

import numpy as np
import pytest

from fastgnn import datasets
from fastgnn.budget import gram_bytes
from fastgnn.cli import COMMANDS, DESCRIPTION, build_parser, command_module, main
from fastgnn.cli.common import BOTH, DASK, executor_name, protocols
from fastgnn.cli.gntk import COMPRESS, out_of_core
from fastgnn.cli.search import JK, c_grid, parse_ints
from fastgnn.executors import EXECUTORS, LOCAL
from fastgnn.gntk import GNTK
from fastgnn.gntk.params import DTYPES, options
from fastgnn.model_selection.protocols import PROTOCOLS
from fastgnn.model_selection.solvers import DEFAULT_C_GRID, SOLVERS
from fastgnn.nn.models import GRAPH_MODELS, NODE_MODELS
from fastgnn.reproduce import reproduce
from fastgnn.reproduce.settings import Settings
from fastgnn.search import DEFAULT_GRID, gntk_search
from fastgnn.train.experiment import run_node_experiment


def subparser(command: str) -> argparse.ArgumentParser:
    return next(a for a in build_parser()._actions if a.dest == "command").choices[command]


def action(command: str, dest: str) -> argparse.Action:
    return next(a for a in subparser(command)._actions if a.dest == dest)


def defaults(fn) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()}


def test_every_command_module_registers_itself():
    names = next(a for a in build_parser()._actions if a.dest == "command").choices
    for command in COMMANDS:
        if command != "complexity":  # the profiler's module names its runner run_cli
            assert subparser(command).get_default("func") is command_module(command).run
    assert list(names) == list(COMMANDS)


def test_a_command_imports_its_own_module_only():
    """``fastgnn gntk`` builds the gntk subparser alone: it never imports the GNN layers (whose
    ``torch.compiler.disable`` imports ``torch._dynamo``, about 2 s) nor the profiler."""
    code = ("import contextlib, sys\nfrom fastgnn.cli import main\n"
            "with contextlib.suppress(SystemExit):\n    main(['gntk', '--help'])\n"
            "print('fastgnn.nn' in sys.modules, 'fastgnn.complexity' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "usage: fastgnn gntk" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("command", ["evaluate", "search"])
def test_protocol_choices_are_the_protocols_and_both(command):
    a = action(command, "protocol")
    assert tuple(a.choices) == (*PROTOCOLS, BOTH) and a.default == BOTH
    assert protocols(BOTH) == tuple(PROTOCOLS) and protocols(PROTOCOLS[0]) == (PROTOCOLS[0],)


def test_gntk_flags_are_the_estimator_parameters():
    est = GNTK().get_params()
    for name in ("scale", "method", "sketch", "dtype"):
        assert tuple(action("gntk", name).choices) == options(name)
    for name in ("num_layers", "num_mlp_layers", "scale", "jk", "normalize", "method", "sketch_size", "sketch",
                 "seed", "device", "dtype", "max_memory", "checkpoint_dir"):
        assert action("gntk", name).default == est[name], name
    assert COMPRESS[action("gntk", "compress").default] == est["compress"]
    assert tuple(action("gntk", "dtype").choices) == tuple(DTYPES)
    assert set(COMPRESS.values()) == set(options("compress"))


def test_cluster_flags_select_a_known_executor():
    assert DASK in EXECUTORS
    for workers, scheduler, name in ((None, None, LOCAL), (2, None, DASK), (None, "tcp://h:8786", DASK)):
        assert executor_name(argparse.Namespace(workers=workers, scheduler=scheduler)) == name


def test_search_defaults_are_the_default_grid_and_gntk_search_signature():
    sig = defaults(gntk_search)
    assert parse_ints(action("search", "layers").default) == tuple(DEFAULT_GRID["num_layers"])
    assert parse_ints(action("search", "mlp_layers").default) == tuple(DEFAULT_GRID["num_mlp_layers"])
    assert tuple(action("search", "scales").default.split(",")) == tuple(DEFAULT_GRID["scale"])
    assert JK[action("search", "jk").default] == tuple(DEFAULT_GRID["jk"])
    assert JK[BOTH] == options("jk") and JK["yes"] == (True,) and JK["no"] == (False,)
    assert tuple(action("search", "solver").choices) == tuple(SOLVERS)
    assert action("search", "solver").default == sig["solver"]
    assert action("search", "refine_top").default == sig["refine_top"]
    assert tuple(sig["protocols"]) == tuple(PROTOCOLS)  # --protocol's default "both"
    num_c = action("search", "num_C").default
    assert num_c == len(DEFAULT_C_GRID) and np.array_equal(c_grid(num_c), DEFAULT_C_GRID)  # bitwise
    assert np.array_equal(c_grid(25), np.logspace(-2, 4, 25))


def test_dataset_help_lists_the_dataset_table():
    names = ", ".join(datasets.KNOWN_NAMES)
    for command in ("gntk", "search"):
        assert names in action(command, "dataset").help
    assert ", ".join(datasets.NODE_NAMES) in action("train", "dataset").help
    assert names in subparser("datasets").description


def test_train_and_reproduce_defaults_are_the_library_ones():
    node = defaults(run_node_experiment)
    assert action("train", "fanouts").default == ",".join(map(str, node["fanouts"]))
    assert action("train", "patience").default == node["patience"]
    assert all(f"default {cls.training_defaults['patience']};" in action("train", "patience").help
               for cls in NODE_MODELS.values())
    assert all(f"(default {cls.training_defaults['batch_size']})" in action("train", "batch_size").help
               for cls in GRAPH_MODELS.values())
    sbm = defaults(datasets.sbm)
    for dest, key in (("nodes", "num_nodes"), ("classes", "num_classes"), ("features", "num_features"),
                      ("avg_degree", "avg_degree"), ("homophily", "homophily"),
                      ("feature_signal", "feature_signal"), ("data_seed", "seed")):
        assert action("train", dest).default == sbm[key], dest
    assert action("reproduce", "out").default == defaults(reproduce)["out"]
    full, quick = Settings.full(), Settings.quick_run()
    text = action("reproduce", "refine_top").help
    assert f"default {full.refine_top}" in text and f"--quick {quick.refine_top}" in text
    assert " ".join(full.datasets) in action("reproduce", "datasets").help


def test_out_of_core_follows_the_memory_budget():
    args = argparse.Namespace(out="somewhere", out_of_core=False)
    n, layers = 100, 3
    assert out_of_core(args, GNTK(num_layers=layers, max_memory=gram_bytes(n, layers) - 1), n)
    assert not out_of_core(args, GNTK(num_layers=layers, max_memory=gram_bytes(n, layers)), n)
    assert not out_of_core(argparse.Namespace(out=None, out_of_core=False), GNTK(max_memory=1), n)


def test_help_speaks_to_users(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "thin" not in out and "Graph Neural Tangent Kernel" in out
    assert DESCRIPTION.split()[0] in out
    assert action("search", "dataset").help and subparser("datasets").description


def test_python_dash_m_help():
    proc = subprocess.run([sys.executable, "-m", "fastgnn", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: fastgnn" in proc.stdout and "reproduce" in proc.stdout


@pytest.mark.parametrize("command", ["gntk", "evaluate", "search", "demo", "train", "reproduce", "datasets"])
def test_old_command_functions_are_deprecated_aliases(command):
    import importlib

    import fastgnn.cli

    with pytest.warns(DeprecationWarning, match=rf"fastgnn\.cli\.cmd_{command} is deprecated.*fastgnn\.cli\.{command}"):
        fn = getattr(fastgnn.cli, f"cmd_{command}")
    assert fn is importlib.import_module(f"fastgnn.cli.{command}").run
