"""GNTK(executor="dask") on a LocalCluster: the same Gram as the in-process engine, bitwise, through
worker and client failures; the out-of-core Gram; the CLI's --workers.

One LocalCluster of 2 single-threaded worker processes on 127.0.0.1 serves the module (its start
costs a few seconds); each test enters ``with Client(cluster):``.  The references are in-process
runs of the same estimator with the same ``max_memory`` (the same tile plan): the engine there is
checked against independent computations in tests/gntk/.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastgnn.gntk.engine as engine
import fastgnn.gntk.plan as gntk_plan
from fastgnn.budget import default_max_memory
from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK

distributed = pytest.importorskip("distributed")
from distributed import Client, LocalCluster  # noqa: E402

from fastgnn.distributed import DaskTiles  # noqa: E402

#: a budget of small tiles (64-node chunks: 13 chunks and 91 tiles for GRAPHS)
SMALL = 64 * 64 * 8 * gntk_plan.LIVE_TILES
GRAPHS = dict(num_graphs=44, min_nodes=8, max_nodes=30, seed=3)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graphs():
    return synthetic(**GRAPHS).graphs


@pytest.fixture(scope="module")
def cluster():
    """Closed as ``--workers`` closes its cluster (tests/distributed/test_closed_cluster.py): TLS with a temporary
    certificate when ``cryptography`` is there, and no HTTP server on Dask's default port 8787."""
    security = distributed.security.Security.temporary() if _has_cryptography() else None
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", security=security,
                      dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}) as c:
        yield c


def _has_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def reference(graphs):
    """In-process Gram, readouts and cross-kernel (train 30 x test 14) of the settings used below."""
    kw = dict(num_layers=3, max_memory=SMALL)
    est = GNTK(**kw).fit(graphs[:30])
    return {"gram": GNTK(**kw).fit_transform(graphs), "readouts": GNTK(**kw).readouts(graphs),
            "cross": est.transform(graphs[30:]),
            "normalized": GNTK(**kw, normalize=True).fit_transform(graphs)}


def tile_files(folder):
    return sorted(folder.glob("*/r*_c*.*.npy"))


@pytest.mark.slow
def test_dask_gram_is_bitwise_the_in_process_one(cluster, graphs, reference):
    kw = dict(num_layers=3, max_memory=SMALL, executor="dask")
    with Client(cluster):
        gram = GNTK(**kw).fit_transform(graphs)
        cross = GNTK(**kw).fit(graphs[:30]).transform(graphs[30:])
    assert len(engine.plan_tiles(GNTK(num_layers=3).fit(graphs).fitted_, None, 64).tiles) > 80
    assert np.array_equal(gram, reference["gram"])
    assert np.array_equal(cross, reference["cross"])


def test_auto_budget_is_the_smallest_workers(cluster, graphs, reference, monkeypatch):
    """max_memory='auto' plans within the workers' budget; the Gram is the same kernel (another plan
    groups the pairs otherwise, so equal to rounding, not bitwise)."""
    from fastgnn.distributed import worker_budget

    with Client(cluster) as client:
        budget = worker_budget(client)
        assert budget & (budget - 1) == 0 and budget <= default_max_memory() / 2 + 1
        gram = GNTK(num_layers=3, executor="dask").fit_transform(graphs)
    assert np.abs(gram - reference["gram"]).max() <= 1e-12 * np.abs(reference["gram"]).max()


@pytest.mark.slow
def test_a_worker_killed_mid_run_has_its_tiles_recomputed(cluster, graphs, reference, monkeypatch):
    with Client(cluster) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        placed, killed_at = [], []
        real = engine.place_tile

        def place_and_kill(out, plan, tile, block):
            placed.append(tile)
            if len(placed) == 10:  # mid-run: the other tiles are queued or running
                killed_at.append(len(plan.tiles) - len(placed))
                os.kill(victim, signal.SIGKILL)
            real(out, plan, tile, block)

        monkeypatch.setattr(engine, "place_tile", place_and_kill)
        gram = GNTK(num_layers=3, max_memory=SMALL, executor="dask").fit_transform(graphs)
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it
        after = client.run(os.getpid)
    assert killed_at and killed_at[0] > 40  # killed with many tiles still to do
    assert victim not in after.values()
    assert sorted(placed) == sorted(set(placed))  # each tile placed once
    assert np.array_equal(gram, reference["gram"])


CLIENT_SCRIPT = """
import os, signal, sys
import torch
torch.set_num_threads(1)
import fastgnn.gntk.engine as engine
from distributed import Client
from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK

graphs = synthetic(**{graphs}).graphs
real, placed = engine.place_tile, []

def place_then_die(out, plan, tile, block):
    placed.append(tile)
    if len(placed) == {kill_after}:
        os.kill(os.getpid(), signal.SIGKILL)  # the client dies mid-run, its futures pending
    real(out, plan, tile, block)

engine.place_tile = place_then_die
import pickle
security = pickle.loads(open(sys.argv[3], "rb").read())  # the cluster's credentials, a file only this user reads
with Client(sys.argv[1], security=security):
    GNTK(num_layers=3, max_memory={small}, executor="dask", checkpoint_dir=sys.argv[2]).fit_transform(graphs)
"""


@pytest.mark.slow
def test_a_killed_client_resumes_from_the_checkpoint(cluster, graphs, reference, tmp_path, monkeypatch):
    ck = tmp_path / "ck"
    script = CLIENT_SCRIPT.format(graphs=GRAPHS, kill_after=12, small=SMALL)
    credentials = tmp_path / "security.pickle"
    credentials.touch(mode=0o600)
    credentials.write_bytes(pickle.dumps(cluster.security))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), cluster.scheduler_address, str(ck),
                           str(credentials)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    before = {p: p.stat().st_mtime_ns for p in tile_files(ck)}
    (manifest,) = ck.glob("*/manifest.json")
    total = json.loads(manifest.read_text())["num_tiles"]
    assert len(before) == 12 and total > 80

    computed = []
    real_call = DaskTiles.__call__

    def counting(self, rows, cols, plan, tiles, **kw):
        computed.append(len(tiles))
        yield from real_call(self, rows, cols, plan, tiles, **kw)

    monkeypatch.setattr(DaskTiles, "__call__", counting)
    with Client(cluster):
        gram = GNTK(num_layers=3, max_memory=SMALL, executor="dask", checkpoint_dir=ck).fit_transform(graphs)
    assert computed == [total - 12]  # only the tiles without a file
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # the finished ones untouched
    assert len(tile_files(ck)) == total and json.loads(manifest.read_text())["complete"] is True
    assert np.array_equal(gram, reference["gram"])


#: the readouts of GRAPHS at num_layers=3: out of core they are on disk, outside the budget
READOUT_BYTES = 8 * 3 * 44 * 44


@pytest.fixture(scope="module")
def reference_on_disk_budget(graphs):
    """In-process runs with the budget an out-of-core run with max_memory=SMALL gives its tiles."""
    kw = dict(num_layers=3, max_memory=SMALL + READOUT_BYTES)
    return {"gram": GNTK(**kw).fit_transform(graphs), "readouts": GNTK(**kw).readouts(graphs),
            "normalized": GNTK(**kw, normalize=True).fit_transform(graphs)}


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_out_of_core_equals_in_memory(cluster, graphs, reference_on_disk_budget, tmp_path, executor):
    reference = reference_on_disk_budget
    with Client(cluster):
        est = GNTK(num_layers=3, max_memory=SMALL, executor=executor)
        disk = est.fit_transform_to_disk(graphs, tmp_path / "out", band_bytes=3 * 44 * 8 * 7)  # bands of 7 rows
        norm = GNTK(num_layers=3, max_memory=SMALL, executor=executor, normalize=True).fit_transform_to_disk(
            graphs, tmp_path / "norm", band_bytes=3 * 44 * 8 * 7)
    assert isinstance(disk.gram, np.memmap) and disk.gram.shape == (44, 44)
    assert np.array_equal(np.load(tmp_path / "out" / "gram.npy"), reference["gram"])
    assert np.array_equal(np.load(tmp_path / "out" / "readouts.npy"), reference["readouts"])
    assert np.array_equal(norm.gram, reference["normalized"])
    assert np.array_equal(est.self_readouts_, np.diagonal(reference["readouts"], axis1=1, axis2=2))
    assert est.max_memory == SMALL  # the estimator's parameter is left as given
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gram.npy", "readouts.npy"]  # no temporaries


def test_out_of_core_plan_leaves_the_readouts_out_of_the_budget(graphs, tmp_path, monkeypatch):
    """Out of core the readouts are on disk: a budget smaller than them still plans the tiles it has
    room for (it planned 64-node tiles: 30 million of them for the 20,000-graph molhiv-like set)."""
    import fastgnn.gntk.estimator as estimator_module

    ops = GNTK(num_layers=3).fit(graphs).fitted_
    stacks = gntk_plan.reserved_bytes(ops, None, 2) - READOUT_BYTES  # the stacked operands and the fixed part
    budget = stacks + READOUT_BYTES // 2  # in memory, no room for the readouts
    seen = []
    real = estimator_module.gram_readouts

    def spy(*args, **kw):
        seen.append(kw["tile_nodes"])
        return real(*args, **kw)

    monkeypatch.setattr(estimator_module, "gram_readouts", spy)
    GNTK(num_layers=3, max_memory=budget).readouts(graphs)
    GNTK(num_layers=3, max_memory=budget).fit_transform_to_disk(graphs, tmp_path)
    itemsize = ops[0].x.element_size()
    assert seen[0] == gntk_plan.plan_tile_nodes(ops, None, budget, itemsize, 2, sketched=False) == 64
    assert seen[1] == gntk_plan.plan_tile_nodes(ops, None, budget + READOUT_BYTES, itemsize, 2, sketched=False) > 64


def test_evaluate_reads_an_on_disk_gram_by_blocks(reference, tmp_path, monkeypatch):
    """svm_cv / krr_cv of a memory-mapped Gram (transformed by bands of 5 rows, folds read from the
    maps) equal those of the in-memory Gram exactly; the transformed Grams equal scale_gram and
    cosine_normalize of the whole one; bad Grams get the in-memory messages."""
    import fastgnn.gram
    from fastgnn.evaluate import cosine_normalize, krr_cv, scale_gram, svm_cv

    monkeypatch.setattr(fastgnn.gram, "BAND_BYTES", 8 * 44 * 5)
    y = synthetic(**GRAPHS).y
    folds = list(synthetic(**GRAPHS).folds)
    # a Gram a rounding off symmetric, as sums in another order leave it: symmetrised by both paths
    gram = reference["gram"] * (1 + 1e-13 * np.triu(np.ones((44, 44)), 1))
    np.save(tmp_path / "gram.npy", gram)
    disk = np.load(tmp_path / "gram.npy", mmap_mode="r")
    grams = fastgnn.gram.transform(disk, ("raw", "cosine"))
    assert all(isinstance(g, np.memmap) for g in grams.values())
    sym = 0.5 * (gram + gram.T)
    assert np.array_equal(grams["raw"], scale_gram(sym))
    assert np.array_equal(grams["cosine"], cosine_normalize(scale_gram(sym)))
    real, calls = fastgnn.gram.transform, []
    monkeypatch.setattr(fastgnn.gram, "transform",
                        lambda g, *a, **k: calls.append(isinstance(g, np.memmap)) or real(g, *a, **k))
    for protocol in ("paper", "nested"):
        mem = svm_cv(gram, y, folds, protocol=protocol, C_grid=np.logspace(-2, 4, 15), n_jobs=1)
        blk = svm_cv(disk, y, folds, protocol=protocol, C_grid=np.logspace(-2, 4, 15), n_jobs=1)
        assert np.array_equal(mem.fold_accuracies, blk.fold_accuracies) and mem.C == blk.C
        assert mem.normalization == blk.normalization
    assert 0.5 < mem.mean <= 1.0  # a learnable set: accuracies that could differ
    mem, blk = (krr_cv(g, y, folds, n_jobs=1) for g in (gram, disk))
    assert np.array_equal(mem.fold_accuracies, blk.fold_accuracies) and mem.C == blk.C
    assert calls == [False, True] * 2 + [False, True]  # the memory maps went by blocks, the arrays not

    for bad, match in ((np.where(np.eye(44, k=3) > 0, np.nan, sym), r"finite, but gram\[0, 3\] = nan"),
                       (sym + 1e-3 * np.triu(sym, 1), "symmetric: max"),
                       (sym - np.diag(np.diag(sym)), r"positive diagonal, but gram\[0, 0\] = 0.0")):
        np.save(tmp_path / "bad.npy", bad)
        for g in (bad, np.load(tmp_path / "bad.npy", mmap_mode="r")):
            with pytest.raises(ValueError, match=match):
                svm_cv(g, y, folds, C_grid=[1.0], n_jobs=1)


def test_without_a_client_or_without_dask_the_error_says_what_to_do(graphs, monkeypatch):
    with pytest.raises(RuntimeError, match="no(ne)?.*(--workers|Client)"):
        GNTK(num_layers=3, executor="dask").fit_transform(graphs[:5])
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r'pip install "fastgnn\[dask\]"'):
        GNTK(num_layers=3, executor="dask").fit_transform(graphs[:5])
    with pytest.raises(ValueError, match="method='batched'"):
        GNTK(num_layers=3, executor="dask", method="decoupled").fit(graphs[:5])
    with pytest.raises(ValueError, match="executor"):
        GNTK(num_layers=3, executor="ray").fit(graphs[:5])


@pytest.mark.slow
def test_cli_workers_and_out_of_core_equal_the_in_process_run(tmp_path, capsys, monkeypatch):
    import fastgnn.cli.gntk  # the CLI imports its commands lazily: load it before patching it
    from fastgnn.cli import main

    monkeypatch.setattr(fastgnn.cli.gntk, "load_graphs", lambda *a: synthetic(**GRAPHS))  # small: the plumbing
    base = ["gntk", "synthetic", "--num-layers", "3", "--max-memory", str(SMALL), "--json"]
    assert main([*base, "--out", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    assert main([*base, "--workers", "2", "--out-of-core", "--out", str(tmp_path / "dask")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cluster"]["workers"] == 2 and info["cluster"]["startup_seconds"] > 0
    assert info["out_of_core"] is True and info["config"]["executor"] == "dask"
    local, dask = (np.load(tmp_path / d / "gram.npy") for d in ("local", "dask"))
    assert np.array_equal(local, dask)
    assert np.array_equal(np.load(tmp_path / "dask" / "readouts.npy").sum(axis=0), local)  # jk: the sum


def test_cli_refuses_bad_cluster_options(tmp_path, capsys, monkeypatch):
    from fastgnn.cli import main

    assert main(["gntk", "synthetic", "--workers", "0"]) == 1
    assert "workers must be a positive integer" in capsys.readouterr().err
    assert main(["gntk", "synthetic", "--out-of-core"]) == 1
    assert "--out" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["gntk", "synthetic", "--workers", "2"]) == 1
    assert 'pip install "fastgnn[dask]"' in capsys.readouterr().err


def test_model_selection_curves_on_dask_equal_the_serial_ones(cluster, graphs, reference, monkeypatch):
    """svm_curves' (normalisation, fold) C-path tasks on Dask: the same curves as run serially."""
    from sklearn.model_selection import StratifiedKFold

    import fastgnn.distributed.selection as selection
    from fastgnn.distributed import DaskRun
    from fastgnn.evaluate import cosine_normalize, scale_gram, svm_solver
    from fastgnn.model_selection.protocols import svm_curves

    y = synthetic(**GRAPHS).y
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    raw = scale_gram(reference["gram"])
    grams = {"raw": raw, "cosine": cosine_normalize(raw)}
    grid = np.logspace(-2, 4, 12)
    serial = svm_curves(grams, y, folds, grid, svm_solver("path"), nested=True, inner_folds=3)
    monkeypatch.setattr(selection, "SCATTER_BYTES", 0)  # scatter even these small Grams (once each)
    done = []
    with Client(cluster):
        dask = svm_curves(grams, y, folds, grid, svm_solver("path"), nested=True, inner_folds=3,
                          run=DaskRun(on_done=lambda i, r: done.append(i)))
    assert sorted(done) == list(range(2 * len(folds)))
    assert np.array_equal(dask.test, serial.test) and np.array_equal(dask.inner, serial.inner)
    assert 0.4 < serial.test.mean() <= 1.0  # curves of a learnable set, not a constant


def test_cli_evaluate_by_blocks_equals_in_memory(reference, tmp_path, capsys, monkeypatch):
    """`fastgnn evaluate DIR --by-blocks yes` (the Gram as a memory map) prints the in-memory result."""
    import fastgnn.gram
    from fastgnn.cli import main

    data = synthetic(**GRAPHS)
    np.save(tmp_path / "gram.npy", reference["gram"])
    np.save(tmp_path / "labels.npy", data.y)
    real, calls = fastgnn.gram.transform, []
    monkeypatch.setattr(fastgnn.gram, "transform",
                        lambda g, *a, **k: calls.append(isinstance(g, np.memmap)) or real(g, *a, **k))
    out = {}
    for mode in ("no", "yes", "auto"):  # auto: 15 kB, below BY_BLOCKS_BYTES: in memory
        assert main(["evaluate", str(tmp_path), "--by-blocks", mode, "--protocol", "paper", "--json"]) == 0
        out[mode] = json.loads(capsys.readouterr().out)["paper"]
        out[mode].pop("seconds")
    assert out["yes"] == out["no"] == out["auto"] and 0.5 < out["yes"]["mean"] <= 1.0
    assert sum(calls) == 1  # only --by-blocks yes read the Gram as a memory map
    assert main(["evaluate", str(tmp_path / "missing.npy"), "--by-blocks", "yes"]) == 1
    assert "gram not found" in capsys.readouterr().err


@pytest.mark.parametrize("pieces", ["shares", "bands"])
def test_the_colour_pair_gram_runs_in_pieces_on_dask(cluster, graphs, tmp_path, monkeypatch, pieces):
    """fit_transform_to_disk(readouts=False) on colour pairs with executor='dask': its pieces run as tasks (the
    colours shipped to each worker once): shares of the triangle on the LocalCluster, whose workers run on this
    machine, bands of graphs where they would not; bitwise the local run in the same pieces with the same
    max_memory, equal to the in-memory Gram; nothing but the Gram is kept from the tasks."""
    from fastgnn.distributed import dask_same_machine

    if pieces == "bands":  # as on workers of other machines
        monkeypatch.setattr(GNTK, "_by_shares", lambda self: False)
    kw = dict(num_layers=4, colour_pairs=True, max_memory=2**27, progress=False)
    local = GNTK(checkpoint_dir=tmp_path / "ck", **kw).fit_transform_to_disk(graphs, tmp_path / "l", readouts=False)
    assert list((tmp_path / "ck").glob(f"{pieces}-*"))
    with Client(cluster):
        assert dask_same_machine()
        est = GNTK(executor="dask", **kw)
        on_dask = est.fit_transform_to_disk(graphs, tmp_path / "d", readouts=False)
    assert np.array_equal(np.asarray(on_dask.gram), np.asarray(local.gram))
    np.testing.assert_allclose(est.self_readouts_, np.diagonal(GNTK(**kw).readouts(graphs), axis1=1, axis2=2),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(on_dask.gram), GNTK(**kw).fit_transform(graphs), rtol=1e-12)
    with Client(cluster):  # fit_transform in memory: the whole Gram in pieces, both halves
        gram = GNTK(executor="dask", **kw).fit_transform(graphs)
        cosine = GNTK(executor="dask", normalize=True, **kw).fit_transform(graphs)
    assert np.array_equal(gram, gram.T) and np.array_equal(np.triu(gram), np.triu(np.asarray(on_dask.gram)))
    np.testing.assert_allclose(cosine, GNTK(normalize=True, **kw).fit_transform(graphs), rtol=1e-12)


def test_dask_run_ships_a_shared_object_once_and_can_drop_results(cluster):
    """DaskRun scatters an object every task shares (not only large arrays), and with keep=False hands each
    result to on_done and returns None in its place."""
    from fastgnn.distributed import DaskRun

    class Shared:
        def __init__(self):
            self.values = np.arange(10.0)

    shared, seen = Shared(), {}
    with Client(cluster) as client:
        out = DaskRun(client, on_done=lambda i, r: seen.__setitem__(i, r), keep=False)(
            _shared_sum, [(shared, i) for i in range(4)])
    assert out == [None] * 4 and seen == {i: 45.0 + i for i in range(4)}


def _shared_sum(shared, i):
    return float(shared.values.sum()) + i
