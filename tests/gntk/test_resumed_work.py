"""What a resumed run read back had cost: every checkpoint records its seconds, a rerun reports them.

DD's reduced-grid pass (58.6 G node pairs) was killed at 83 % by a session's end and finished by the next run
from its checkpointed tiles; the search's "kernels" then counted the last 11 minutes of a 52-minute pass.  Each
checkpoint (the node-pair engine's tiles, the colour-pair path's block state, its shares and bands) now records
the seconds it took; a run that reads it back counts them (``GNTK.resumed_time_``, the search's work seconds).
Each test makes the killed run's pieces slow by a known sleep, so the seconds reported have a lower bound of
their own, and the killed run's wall time an upper bound.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

import fastgnn.gntk.engine as engine
import fastgnn.gntk.plan as gntk_plan
from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK, colour_bands, colour_pairs, colour_shares
from fastgnn.gntk.checkpoints import SECONDS_FILE, Checkpoint, note_resumed, resumed_work

try:
    from .test_colour_pairs import _deep_set  # graphs whose colours keep splitting (deep depths run by blocks)
except ImportError:
    from test_colour_pairs import _deep_set

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = 64 * 64 * 8 * gntk_plan.LIVE_TILES  # the smallest tiles (64 nodes): many tiles
NAP = 0.05


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def graphs():
    return synthetic(num_graphs=40, min_nodes=8, max_nodes=20, seed=3).graphs


def _slow_then_killed(monkeypatch, module, name, kill_at):
    """``module.name`` sleeps NAP before each call and raises Killed at call ``kill_at`` (1-based; None: never)."""
    real = getattr(module, name)
    calls = {"n": 0}

    def slow(*args, **kwargs):
        calls["n"] += 1
        time.sleep(NAP)
        if kill_at is not None and calls["n"] == kill_at:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)
    return calls


def _logged(folder) -> dict[str, float]:
    """The tiles' seconds as the log holds them (parsed here, not by the module): name -> seconds."""
    lines = (folder / SECONDS_FILE).read_text().splitlines()
    return {name: float(value) for name, value in (line.split() for line in lines)}


def test_the_ledger_counts_only_inside_its_block_and_nested_blocks_count_their_own():
    note_resumed(5.0)  # outside: nothing to count into, no error
    with resumed_work() as outer:
        note_resumed(1.5)
        with resumed_work() as inner:
            note_resumed(2.0)
            note_resumed(None)
        note_resumed(0.5)
    assert outer == {"seconds": 2.0, "untimed": 0} and inner == {"seconds": 2.0, "untimed": 1}


@pytest.mark.filterwarnings("ignore::fastgnn.gntk.plan.BudgetWarning")  # many small tiles, on purpose
def test_a_resumed_node_pair_run_reports_the_seconds_of_the_tiles_it_read_back(graphs, tmp_path, monkeypatch):
    kw = dict(num_layers=3, max_memory=SMALL, colour_pairs=False, checkpoint_dir=tmp_path, progress=False)
    calls = _slow_then_killed(monkeypatch, engine, "tile_readouts", kill_at=8)
    t0 = time.perf_counter()
    with pytest.raises(Killed):
        GNTK(**kw).fit_transform(graphs)
    killed_wall = time.perf_counter() - t0
    (folder,) = tmp_path.glob("gram-*")
    seconds = _logged(folder)
    assert len(seconds) == 7 and all(s >= NAP for s in seconds.values())  # each tile's own nap at least

    calls["n"] = -10**9  # no kill
    est = GNTK(**kw)
    gram = est.fit_transform(graphs)
    assert est.resumed_time_ == pytest.approx(sum(seconds.values()))
    assert 7 * NAP <= est.resumed_time_ <= killed_wall
    assert est.time_ >= (len(list(folder.glob("r*_c*.*.npy"))) - 7) * NAP  # this run's own tiles
    np.testing.assert_array_equal(gram, GNTK(**{**kw, "checkpoint_dir": None}).fit_transform(graphs))

    again = GNTK(**kw)  # everything read back: the work of both runs
    again.fit_transform(graphs)
    every = _logged(folder)
    assert again.resumed_time_ == pytest.approx(sum(every.values())) and again.resumed_time_ >= est.resumed_time_
    fresh = GNTK(**{**kw, "checkpoint_dir": None})
    fresh.fit_transform(graphs)
    assert fresh.resumed_time_ == 0.0


def test_tiles_without_logged_seconds_are_counted_as_untimed_and_a_torn_line_is_skipped(graphs, tmp_path):
    ops = GNTK(num_layers=3, colour_pairs=False).fit(graphs).fitted_
    kw = dict(num_blocks=2, num_mlp_layers=2, sketched=False, tile_nodes=64, checkpoint_dir=tmp_path)
    first = engine.gram_readouts(ops, None, **kw)
    (folder,) = tmp_path.glob("gram-*")
    tiles = len(list(folder.glob("r*_c*.*.npy")))
    logged = _logged(folder)
    assert sorted(logged) == sorted(p.name.split(".", 1)[0] for p in folder.glob("r*_c*.*.npy"))
    (folder / SECONDS_FILE).unlink()  # as a fastgnn that recorded no seconds left it
    with resumed_work() as ledger:
        again = engine.gram_readouts(ops, None, **kw)
    assert ledger == {"seconds": 0.0, "untimed": tiles} and np.array_equal(again, first)
    # a log torn by a kill mid-line, or edited: the lines that parse count (the last of a tile wins), not the rest
    name, other = sorted(logged)[:2]
    (folder / SECONDS_FILE).write_text(f"{name} 2.5\n{other} -1.0\nr9_c9 nan\ngarbage\n{other} 1.")
    store = Checkpoint(tmp_path, json.loads((folder / "manifest.json").read_text())["fingerprint"], symmetric=True)
    store.release()
    assert store.tile_seconds == {name: 2.5, other: 1.0}


def test_a_resumed_blocked_colour_run_reports_the_seconds_its_state_recorded(tmp_path, monkeypatch):
    from fastgnn.gntk import _colour_kernels, colour_blocks

    cols = colour_pairs.dataset_colours(_deep_set(), 5, "uniform")
    budget = 2 * (colour_blocks.held_bytes(cols.sizes, 2, 8) + colour_blocks.readout_bytes(5, cols.num_graphs)) - 1
    monkeypatch.setattr(colour_blocks.ColourCheckpoint, "due", lambda self, end: True)  # save after every block
    real = _colour_kernels.histogram_product
    calls = {"n": 0}

    def slow(*args):
        calls["n"] += 1
        if calls["n"] == 40:
            raise Killed
        time.sleep(0.01)
        return real(*args)

    monkeypatch.setattr(_colour_kernels, "histogram_product", slow)
    t0 = time.perf_counter()
    with pytest.raises(Killed):
        colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    killed_wall = time.perf_counter() - t0
    monkeypatch.setattr(_colour_kernels, "histogram_product", real)
    (state,) = tmp_path.glob("colour-*/state.npz")
    recorded = float(np.load(state)["work_seconds"])
    with resumed_work() as ledger:
        colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    assert ledger["seconds"] == pytest.approx(recorded) and ledger["untimed"] == 0
    assert 0.01 <= ledger["seconds"] <= killed_wall  # at least one slowed block before the save
    # the finished state holds both runs' seconds: a third run reads back more than the second did
    with resumed_work() as third:
        colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    assert third["seconds"] > ledger["seconds"]


@pytest.mark.parametrize("pieces", ["shares", "bands"])
def test_resumed_shares_and_bands_report_their_recorded_seconds(tmp_path, monkeypatch, pieces):
    cols = colour_pairs.dataset_colours(_deep_set(), 3, "degree")
    n = cols.num_graphs
    if pieces == "shares":  # slowed inside share_gram, which times itself
        slowed = (colour_shares, "blocked_gram")
        run = lambda: colour_shares.shared_gram(cols, 3, 2, torch.float64, 100_000, np.zeros((n, n)),  # noqa: E731
                                                range(4), num_shares=4, checkpoint_dir=tmp_path)
    else:  # a band's seconds: since the band before it came
        slowed = (colour_bands, "band_rows")
        run = lambda: colour_bands.banded_gram(cols, 3, 2, torch.float64, 4000, np.zeros((n, n)),  # noqa: E731
                                               range(4), num_bands=5, checkpoint_dir=tmp_path)
    _slow_then_killed(monkeypatch, *slowed, kill_at=3)
    t0 = time.perf_counter()
    with pytest.raises(Killed):
        run()
    killed_wall = time.perf_counter() - t0
    with resumed_work() as ledger:
        run()
    assert ledger["untimed"] == 0 and 2 * NAP <= ledger["seconds"] <= killed_wall  # the two pieces saved


def test_a_search_counts_the_resumed_seconds_of_its_pass_as_kernel_work(tmp_path, monkeypatch):
    """The search's pass records ``time_ + resumed_time_`` as what it cost, so work exceeds the wall time."""
    import fastgnn.search as search

    class Resumed(GNTK):
        def readouts(self, X):
            parts = super().readouts(X)
            self.resumed_time_ = 1000.0  # as if earlier runs had made tiles worth 1000 s
            return parts

    monkeypatch.setattr(search, "GNTK", Resumed)
    data = synthetic(num_graphs=30, seed=4, name="resumed-search")
    grid = {"num_layers": (2,), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
    res = search.gntk_search(data, grid=grid, C_grid=np.logspace(-1, 1, 3), protocols=("paper",),
                             cache_dir=tmp_path, progress=False, log=None, n_jobs=1)
    assert res.work_seconds["kernels"] == pytest.approx(1000.0 + res.kernel_seconds)
    assert res.kernel_seconds < 1000.0
    (meta,) = tmp_path.glob("*.npy.meta.json")
    assert json.loads(meta.read_text())["note"]["seconds"] == pytest.approx(res.work_seconds["kernels"])
