"""The ``fastgnn`` command line: every subcommand, its files, its JSON and its errors.

Most tests call :func:`fastgnn.cli.main` in-process (output through ``capsys``);
two run the installed console script in a subprocess.  Torch runs on one thread
(``torch_one_thread``): on a shared 2-core machine two threads are much slower.

The expensive parts are shared: one ``gntk synthetic --out`` run (module fixture)
feeds the ``gntk`` checks, and ``evaluate`` runs on a 60-graph slice of its Gram
(the 10-fold SVM on all 200 graphs takes ~15 s, on MUTAG ~1 min).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fastgnn.cli import main

TOOL = Path(sys.executable).with_name("fastgnn")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KNOWN = ["MUTAG", "PTC", "NCI1", "PROTEINS", "COLLAB", "IMDBBINARY", "IMDBMULTI", "REDDIT-BINARY", "DD", "ENZYMES",
         "ogbg-molhiv", "synthetic"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_cli(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv) -> dict:
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def run_tool(*argv, env=None):
    """The installed console script, one torch thread, FASTGNN_DATA unset."""
    if not TOOL.exists():
        pytest.skip(f"console script not installed: {TOOL}")
    e = {k: v for k, v in os.environ.items() if k != "FASTGNN_DATA"}
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
    return subprocess.run([str(TOOL), *map(str, argv)], capture_output=True, text=True, env=e, timeout=120)


def no_temporaries(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    leftovers = [n for n in names if n.startswith(".") or n.endswith((".tmp", ".part")) or "tmp" in n]
    assert not leftovers, f"temporary files left in {folder}: {leftovers}"


# --------------------------------------------------------------------------- gntk


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """``fastgnn gntk synthetic --num-layers 2 --num-mlp-layers 1 --out DIR --json`` (once)."""
    out_dir = tmp_path_factory.mktemp("gntk") / "out"
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(["gntk", "synthetic", "--num-layers", "2", "--num-mlp-layers", "1",
                     "--out", str(out_dir), "--json"])
    assert code == 0, err.getvalue()
    return out_dir, json.loads(buf.getvalue())


def test_gntk_synthetic_writes_gram_labels_folds_json(synthetic_run):
    out_dir, info = synthetic_run
    assert sorted(p.name for p in out_dir.iterdir()) == ["folds.npz", "gntk.json", "gram.npy", "labels.npy"]
    no_temporaries(out_dir)

    n = info["dataset"]["graphs"]
    assert info["dataset"]["name"] == "synthetic" and n == 200
    gram = np.load(out_dir / "gram.npy")
    assert gram.shape == (n, n) and gram.dtype == np.float64
    assert np.all(np.isfinite(gram))
    np.testing.assert_allclose(gram, gram.T, rtol=1e-12, atol=0)
    assert np.all(np.diag(gram) > 0)

    labels = np.load(out_dir / "labels.npy")
    assert labels.shape == (n,) and set(np.unique(labels)) == {0, 1}

    folds = np.load(out_dir / "folds.npz")
    k = len(folds.files) // 2
    assert k == 10 and sorted(folds.files) == sorted([f"train_{i}" for i in range(k)] + [f"test_{i}" for i in range(k)])
    tests = np.concatenate([folds[f"test_{i}"] for i in range(k)])
    assert sorted(tests.tolist()) == list(range(n))  # the test folds partition the data
    for i in range(k):
        assert not set(folds[f"train_{i}"].tolist()) & set(folds[f"test_{i}"].tolist())

    saved = json.loads((out_dir / "gntk.json").read_text())
    for d in (info, saved):
        assert d["config"]["num_layers"] == 2 and d["config"]["num_mlp_layers"] == 1
        assert d["config"]["method"] == "batched" and d["config"]["scale"] == "uniform"
        assert d["config"]["jk"] is True and d["config"]["dtype"] == "float64"
        assert d["kernel_seconds"] > 0
        assert d["versions"]["fastgnn"] and d["versions"]["torch"] == torch.__version__
    assert saved["kernel_seconds"] == info["kernel_seconds"]
    assert info["out"] == str(out_dir) and "out" not in saved


@pytest.mark.data
def test_gntk_without_json_prints_a_summary(capsys, tmp_path, shared_datasets):
    code, out, err = run_cli(capsys, "gntk", "MUTAG", "--data-dir", shared_datasets, "--num-layers", "2",
                             "--num-mlp-layers", "1", "--out", tmp_path / "o")
    assert code == 0, err
    assert out.startswith("MUTAG: 188 graphs") and "L=2 R=1 uniform jk=yes batched" in out
    assert "wrote" in out and (tmp_path / "o" / "gram.npy").exists()


@pytest.mark.data
@pytest.mark.parametrize("method, extra", [("decoupled", []), ("sketch", ["--sketch-size", "8"])])
def test_gntk_mutag_pairwise_methods(capsys, shared_datasets, method, extra):
    # ~5 s each on one thread (188 graphs, L=2, R=1).
    info = run_json(capsys, "gntk", "MUTAG", "--data-dir", shared_datasets, "--num-layers", "2",
                    "--num-mlp-layers", "1", "--method", method, *extra)
    assert info["dataset"]["name"] == "MUTAG" and info["dataset"]["graphs"] == 188
    assert info["config"]["method"] == method
    assert info["config"]["sketch_size"] == (8 if method == "sketch" else None)
    assert "out" not in info


# --------------------------------------------------------------------------- evaluate


@pytest.fixture
def small_gram_dir(synthetic_run, tmp_path):
    """A 60-graph slice of the synthetic Gram with 5 folds in folds.npz (so reading it is visible)."""
    from fastgnn.graph import stratified_folds

    src, _ = synthetic_run
    y = np.load(src / "labels.npy")
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:30] for c in (0, 1)]))
    d = tmp_path / "small"
    d.mkdir()
    np.save(d / "gram.npy", np.load(src / "gram.npy")[np.ix_(idx, idx)])
    np.save(d / "labels.npy", y[idx])
    folds = stratified_folds(y[idx], 5)
    np.savez(d / "folds.npz", **{f"{kind}_{i}": f[j] for i, f in enumerate(folds)
                                 for j, kind in enumerate(("train", "test"))})
    return d


def _check_result(res, protocol, n_folds, param="C"):
    assert res["protocol"] == protocol
    assert 0.0 <= res["mean"] <= 1.0 and res["std"] >= 0
    assert len(res["fold_accuracies"]) == n_folds
    assert all(0.0 <= a <= 1.0 for a in res["fold_accuracies"])
    assert np.isclose(res["mean"], np.mean(res["fold_accuracies"]))
    if protocol == "paper":
        assert res["param_name"] == param and res["C"] > 0
    for k in ("curve", "curve_folds", "grid"):
        assert k not in res


def test_evaluate_folder_both_protocols(capsys, small_gram_dir):
    result = run_json(capsys, "evaluate", small_gram_dir)
    assert set(result) == {"paper", "nested"}
    for p in ("paper", "nested"):
        assert result[p]["method"] == "svm"
        _check_result(result[p], p, n_folds=5)  # the folds come from folds.npz


def test_evaluate_normalizations(capsys, small_gram_dir):
    both = run_json(capsys, "evaluate", small_gram_dir, "--protocol", "paper")["paper"]
    cos = run_json(capsys, "evaluate", small_gram_dir, "--protocol", "paper", "--normalizations", "cosine")["paper"]
    assert cos["normalization"] == "cosine"
    assert cos["mean"] <= both["mean"]  # one of the two compared: never better than the best of both
    code, _, err = run_cli(capsys, "evaluate", small_gram_dir, "--normalizations", "raw,l2")
    assert code == 2 and "--normalizations" in err and "l2" in err


def test_evaluate_krr(capsys, small_gram_dir):
    result = run_json(capsys, "evaluate", small_gram_dir, "--classifier", "krr", "--protocol", "paper")
    assert set(result) == {"paper"} and result["paper"]["method"] == "krr"
    _check_result(result["paper"], "paper", n_folds=5, param=result["paper"]["param_name"])


def test_evaluate_gram_file_with_labels_elsewhere(capsys, small_gram_dir, tmp_path):
    # gram.npy alone in its folder (no folds.npz): stratified 10-fold, labels from --labels.
    g = tmp_path / "g"
    g.mkdir()
    shutil.copy(small_gram_dir / "gram.npy", g / "gram.npy")
    shutil.copy(small_gram_dir / "labels.npy", tmp_path / "my_labels.npy")
    result = run_json(capsys, "evaluate", g / "gram.npy", "--labels", tmp_path / "my_labels.npy",
                      "--protocol", "paper")
    _check_result(result["paper"], "paper", n_folds=10)

    code, out, err = run_cli(capsys, "evaluate", g / "gram.npy", "--protocol", "paper")
    assert code == 1 and out == ""
    assert str(g / "labels.npy") in err and "--labels" in err


def test_evaluate_missing_labels_in_folder(capsys, tmp_path):
    np.save(tmp_path / "gram.npy", np.eye(4))
    code, _, err = run_cli(capsys, "evaluate", tmp_path, "--json")
    assert code == 1
    assert err.startswith("fastgnn evaluate: error:") and str(tmp_path / "labels.npy") in err


# --------------------------------------------------------------------------- search


@pytest.mark.data
def test_search_grid_and_cache(capsys, shared_datasets, tmp_path):
    # ~12 s: 2 kernels, 4 rows x 10 folds x 10 C, then the same grid from the cache.
    cache = tmp_path / "cache"
    args = ["search", "MUTAG", "--data-dir", shared_datasets, "--layers", "2,3", "--mlp-layers", "1",
            "--scales", "uniform", "--jk", "both", "--protocol", "paper", "--cache", cache]
    first = run_json(capsys, *args, "--num-C", "10", "--out", tmp_path / "search.json")
    assert first["dataset"] == "MUTAG"
    rows = first["rows"]
    assert len(rows) == 4  # 2 num_layers x 1 num_mlp_layers x 1 scale x 2 jk
    assert {(r["num_layers"], r["num_mlp_layers"], r["scale"], r["jk"]) for r in rows} == {
        (L, 1, "uniform", jk) for L in (2, 3) for jk in (True, False)}
    assert all(0 <= r["paper_mean"] <= 1 for r in rows)
    best = first["best"]["paper"]
    assert best["paper_mean"] == max(r["paper_mean"] for r in rows)
    assert first["kernel_seconds"] > 0
    assert json.loads((tmp_path / "search.json").read_text())["rows"] == rows
    assert any(cache.iterdir())

    # Same kernels, fewer C: every readout comes from the cache.
    second = run_json(capsys, *args, "--num-C", "2")
    assert second["kernel_seconds"] == 0
    assert len(second["rows"]) == 4 and "paper" in second["best"]


# --------------------------------------------------------------------------- demo


def _check_demo(out_dir: Path, summary: dict, name: str) -> None:
    png = Path(summary["heatmap"])
    assert png == out_dir / f"gntk_{name.lower()}.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    saved = json.loads((out_dir / "demo.json").read_text())
    assert saved["dataset"]["name"] == name == summary["dataset"]["name"]
    assert set(summary["accuracy"]) == {"paper", "nested"}
    for p, res in summary["accuracy"].items():
        assert 0.0 <= res["mean"] <= 1.0
        assert all(0.0 <= a <= 1.0 for a in res["fold_accuracies"])
        assert saved["accuracy"][p]["mean"] == res["mean"]
    assert summary["kernel_seconds"] > 0 and summary["total_seconds"] >= summary["kernel_seconds"]
    no_temporaries(out_dir)


@pytest.mark.slow
def test_demo_synthetic(capsys, tmp_path, isolated_data_env):
    # ~25 s: GNTK L=3 R=2 of 200 graphs and the 120-C SVM, both protocols.
    out_dir = tmp_path / "demo"
    summary = run_json(capsys, "demo", "--out", out_dir)
    _check_demo(out_dir, summary, "synthetic")


@pytest.mark.slow
@pytest.mark.data
def test_demo_mutag(capsys, tmp_path, isolated_data_env, shared_datasets):
    out_dir = tmp_path / "demo"
    summary = run_json(capsys, "demo", "--out", out_dir, "--data-dir", shared_datasets)
    _check_demo(out_dir, summary, "MUTAG")
    assert summary["dataset"]["graphs"] == 188


# --------------------------------------------------------------------------- datasets


@pytest.mark.data
def test_datasets_lists_mutag_console_script(shared_datasets):
    proc = run_tool("datasets", "--data-dir", shared_datasets, "--json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    rows = {r["name"]: r for r in listing["datasets"]}
    assert list(rows) == [*KNOWN, "Cora", "CiteSeer", "sbm"]
    assert rows["MUTAG"]["format"] == "gin"
    assert rows["MUTAG"]["path"] == str(shared_datasets / "MUTAG" / "MUTAG.txt")
    assert rows["synthetic"]["format"] == "generated"
    assert listing["searched"][0] == str(shared_datasets)


def test_datasets_not_found(capsys, tmp_path, isolated_data_env):
    listing = run_json(capsys, "datasets", "--data-dir", tmp_path)
    rows = {r["name"]: r for r in listing["datasets"]}
    assert rows["MUTAG"] == {"name": "MUTAG", "format": None, "path": None}
    assert rows["Cora"] == {"name": "Cora", "format": None, "path": None}
    assert listing["searched"] == [str(tmp_path), str(isolated_data_env)]

    code, out, _ = run_cli(capsys, "datasets", "--data-dir", tmp_path)
    assert code == 0 and re.search(r"MUTAG\s+not found", out)


# --------------------------------------------------------------------------- errors


def test_unknown_dataset_console_script(tmp_path):
    proc = run_tool("gntk", "NOPE", "--data-dir", tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("fastgnn gntk: error: unknown dataset 'NOPE'")
    for name in KNOWN:
        assert name in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_dataset_names_the_places(capsys, tmp_path, isolated_data_env, monkeypatch):
    # Nowhere on disk, and the "download" is a file:// address that does not exist: no network.
    monkeypatch.setenv("FASTGNN_URL", (tmp_path / "nowhere.zip").as_uri())
    code, _, err = run_cli(capsys, "gntk", "MUTAG", "--data-dir", tmp_path)
    assert code == 1
    assert "dataset MUTAG not found" in err and str(tmp_path / "MUTAG" / "MUTAG.txt") in err
    assert "--data-dir" in err


def test_malformed_gin_file_names_file_and_line(capsys, tmp_path, isolated_data_env):
    bad = tmp_path / "MUTAG" / "MUTAG.txt"
    bad.parent.mkdir()
    bad.write_text("2\n3 1\n0 2 1 x\n1 1 0\n0 1 0\n2 0\n0 1 1\n1 1 0\n")  # line 3: a non-integer neighbour
    code, out, err = run_cli(capsys, "gntk", "MUTAG", "--data-dir", tmp_path, "--json")
    assert code == 1 and f"{bad}:3:" in json.loads(out)["error"]  # --json: the error as a JSON object too
    assert f"{bad}:3:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag, value, name", [("--num-layers", "1", "num_layers"),
                                               ("--num-mlp-layers", "0", "num_mlp_layers")])
def test_bad_hyperparameter_is_named(capsys, flag, value, name, tmp_path):
    # Validation must come before any costly work: a tiny dataset is enough.
    bad = tmp_path / "MUTAG" / "MUTAG.txt"
    bad.parent.mkdir()
    bad.write_text("2\n2 0\n0 1 1\n1 1 0\n2 1\n1 1 1\n0 1 0\n")
    code, out, err = run_cli(capsys, "gntk", "MUTAG", "--data-dir", tmp_path, flag, value)
    assert code == 1 and out == ""
    assert err.startswith("fastgnn gntk: error:") and name in err


def test_bad_integer_list(capsys, tmp_path):
    bad = tmp_path / "MUTAG" / "MUTAG.txt"
    bad.parent.mkdir()
    bad.write_text("2\n2 0\n0 1 1\n1 1 0\n2 1\n1 1 1\n0 1 0\n")
    code, _, err = run_cli(capsys, "search", "MUTAG", "--data-dir", tmp_path, "--layers", "2,x")
    assert code == 1 and "comma-separated integers" in err and "'2,x'" in err


def test_no_command_prints_help(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "COMMAND" in out
    for cmd in ("gntk", "evaluate", "search", "demo", "datasets"):
        assert cmd in out


HELP_FLAGS = {
    "gntk": ["--num-layers", "--num-mlp-layers", "--scale", "--jk", "--no-jk", "--method", "--sketch-size",
             "--sketch", "--seed", "--out", "--evaluate", "--device", "--dtype", "--max-memory", "--json",
             "--data-dir"],
    "evaluate": ["--labels", "--folds-from", "--protocol", "--classifier", "--json", "--data-dir"],
    "search": ["--layers", "--mlp-layers", "--scales", "--jk", "--protocol", "--num-C", "--cache", "--out",
               "--device", "--dtype", "--max-memory", "--json", "--data-dir"],
    "demo": ["--out", "--json", "--data-dir"],
    "datasets": ["--json", "--data-dir"],
}


@pytest.mark.parametrize("command", sorted(HELP_FLAGS))
def test_help_mentions_every_flag(capsys, command):
    from fastgnn.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    # every flag the parser knows (the CLI grows: read them from it), and at least those listed above
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    known = {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
    assert set(HELP_FLAGS[command]) <= known
    for flag in sorted(known):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out), f"{command} --help lacks {flag}"


def test_search_cache_is_keyed_by_the_data(tmp_path):
    """Readouts cached for one dataset are never served for different graphs under the same name."""
    from fastgnn import datasets
    from fastgnn.search import gntk_search

    grid = {"num_layers": (2,), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
    a = datasets.synthetic(num_graphs=24, seed=1, name="same-name")
    b = datasets.synthetic(num_graphs=24, seed=2, name="same-name")
    kw = dict(grid=grid, protocols=("paper",), C_grid=[1.0], cache_dir=tmp_path, progress=False, log=None)
    first = gntk_search(a, **kw)
    assert first.kernel_seconds > 0
    assert gntk_search(a, **kw).kernel_seconds == 0  # reused
    assert gntk_search(b, **kw).kernel_seconds > 0  # other graphs: recomputed
    assert len(list(tmp_path.glob("same-name-*.npy"))) == 2


def test_datasets_lists_the_planetoid_folder(capsys, isolated_data_env, shared_planetoid):
    rows = {r["name"]: r for r in run_json(capsys, "datasets", "--data-dir", shared_planetoid)["datasets"]}
    assert rows["Cora"]["format"] == rows["CiteSeer"]["format"] == "planetoid"
    assert rows["Cora"]["path"] == str(shared_planetoid)
    assert rows["sbm"]["format"] == "generated"


# --------------------------------------------------------------------------- entry points (issue 14)


def test_version_and_python_dash_m(capsys):
    import fastgnn

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"fastgnn {fastgnn.__version__}"
    proc = subprocess.run([sys.executable, "-m", "fastgnn", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fastgnn {fastgnn.__version__}"


@pytest.mark.parametrize("name", ["Cora", "citeseer", "sbm"])
def test_node_dataset_given_to_gntk_is_a_clear_error(capsys, name):
    code, out, err = run_cli(capsys, "gntk", name)
    assert code == 1 and out == ""
    assert err.startswith("fastgnn gntk: error:") and "node-classification" in err and "fastgnn train" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_clear_error(capsys):
    code, out, err = run_cli(capsys, "gntk", "synthetic", "--device", "cuda")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "device='cuda'" in err and "CUDA" in err


def test_gntk_on_a_dataset_folder_by_path(capsys, tmp_path, isolated_data_env):
    folder = tmp_path / "MYSET"
    folder.mkdir()
    (folder / "MYSET.txt").write_text("4\n2 0\n0 1 1\n1 1 0\n3 1\n0 1 1\n1 2 0 2\n0 1 1\n2 0\n0 1 1\n0 1 0\n"
                                      "1 1\n0 0\n")
    res = run_json(capsys, "gntk", folder, "--num-layers", "2", "--normalize", "--out", tmp_path / "out")
    assert res["dataset"]["name"] == "MYSET" and res["dataset"]["graphs"] == 4
    assert res["config"]["normalize"] is True
    gram = np.load(tmp_path / "out" / "gram.npy")
    assert np.allclose(np.diag(gram), 1.0)



@pytest.mark.parametrize("readouts", [True, False])
def test_gntk_out_of_core_keeps_the_readouts_or_not(capsys, tmp_path, readouts):
    out = tmp_path / "o"
    flag = "--readouts" if readouts else "--no-readouts"
    info = run_json(capsys, "gntk", "synthetic", "--num-layers", "3", "--num-mlp-layers", "1", "--out-of-core",
                    flag, "--out", out)
    assert info["out_of_core"] is True
    names = sorted(p.name for p in out.iterdir())
    kept = ["readouts.npy"] if readouts else []
    assert names == sorted(["folds.npz", "gntk.json", "gram.npy", "labels.npy", *kept])
    from fastgnn import GNTK, datasets

    want = GNTK(num_layers=3, num_mlp_layers=1, progress=False).fit_transform(datasets.load("synthetic"))
    np.testing.assert_allclose(np.load(out / "gram.npy"), want, rtol=1e-10)


def test_gntk_gram_alone_on_colour_pairs_resumes_by_shares(capsys, tmp_path):
    """--out-of-core --no-readouts with --checkpoint-dir on colour pairs: the Gram by shares of the triangle, each
    saved; a rerun loads them all and writes the same Gram bit for bit."""
    args = ["gntk", "synthetic", "--num-layers", "4", "--colour-pairs", "yes", "--out-of-core", "--no-readouts",
            "--checkpoint-dir", tmp_path / "ck"]
    run_json(capsys, *args, "--out", tmp_path / "a")
    bands = sorted((tmp_path / "ck").glob("shares-*/share-*.*"))
    assert len(bands) == 8  # four shares: each a packed Gram and its record
    stamps = [b.stat().st_mtime_ns for b in bands]
    run_json(capsys, *args, "--out", tmp_path / "b")
    assert [b.stat().st_mtime_ns for b in bands] == stamps  # loaded, not written again
    first, again = np.load(tmp_path / "a" / "gram.npy"), np.load(tmp_path / "b" / "gram.npy")
    assert np.array_equal(first, again)
    from fastgnn import GNTK, datasets

    want = GNTK(num_layers=4, progress=False).fit_transform(datasets.load("synthetic"))
    np.testing.assert_allclose(first, want, rtol=1e-10)
