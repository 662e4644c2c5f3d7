"""fastgnn.gntk.checkpoints: tiles bound to their run, the manifest's plan bounded, one writer per folder.

The resume itself (a killed run finishing from its tiles, bitwise) is tested with the engine
(``tests/gntk/test_engine.py``); here what a checkpoint folder received from elsewhere, edited or
shared by two processes can and cannot do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import fastgnn.gntk.engine as engine
from fastgnn.datasets import synthetic
from fastgnn.gntk.checkpoints import Checkpoint, tile_digest
from fastgnn.gntk.pairwise import prepare_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KW = dict(num_blocks=2, num_mlp_layers=2, sketched=False)


def _ops(seed=3):
    graphs = synthetic(num_graphs=24, min_nodes=8, max_nodes=20, seed=seed).graphs
    return prepare_many(graphs, num_blocks=2, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                        sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu", compress=False)


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = engine.compute_tile
    monkeypatch.setattr(engine, "compute_tile", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    return calls


def _tiles(folder):
    return sorted(folder.glob("r*_c*.*.npy"))


def _perturbed(ops):
    """The same graphs' operands but the first one's features changed: another run, the same plan and tile names."""
    first = ops[0]
    x = first.x.clone()
    x[0] = x[0].roll(1)
    return [type(first)(**{**first.__dict__, "x": x}), *ops[1:]]


def test_a_tile_substituted_with_its_own_digest_is_detected(tmp_path, counted):
    """Tile digests covered the block alone: a tile of another run (other data), copied in with its digest, was
    used.  The digest now binds the block to the run's fingerprint and the tile's name."""
    ops = _ops()
    other = _perturbed(ops)
    reference = engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=tmp_path / "a", **KW)
    engine.gram_readouts(other, None, tile_nodes=64, checkpoint_dir=tmp_path / "b", **KW)
    (mine,) = (tmp_path / "a").iterdir()
    (theirs,) = (tmp_path / "b").iterdir()
    victim = _tiles(mine)[0]
    name = victim.name.split(".")[0]
    (foreign,) = theirs.glob(f"{name}.*.npy")
    assert not np.array_equal(np.load(foreign), np.load(victim))  # the other data's tile differs
    victim.unlink()
    (mine / foreign.name).write_bytes(foreign.read_bytes())  # whole, under its own (valid) digest
    counted.clear()
    with pytest.warns(RuntimeWarning, match=f"{foreign.name} is damaged"):
        got = engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=tmp_path / "a", **KW)
    assert len(counted) == 1 and np.array_equal(got, reference)


def test_tile_digest_changes_with_the_run_the_place_and_the_contents():
    block = np.arange(12.0).reshape(1, 3, 4)
    base = tile_digest("f" * 40, "r000000-000002_c000000-000003", block)
    assert tile_digest("e" * 40, "r000000-000002_c000000-000003", block) != base
    assert tile_digest("f" * 40, "r000001-000002_c000000-000003", block) != base
    changed = block.copy()
    changed[0, 0, 0] = 1e-300
    assert tile_digest("f" * 40, "r000000-000002_c000000-000003", changed) != base


@pytest.mark.parametrize("edit", [1, 10**9, "64"])
def test_a_plan_read_from_an_edited_manifest_is_bounded(tmp_path, counted, edit):
    """The manifest's ``tile_nodes`` was trusted: an edited value planned 619,941 tiles.  An edit now breaks the
    manifest's digest (its plan is not used); a value out of bounds is refused even with a valid digest."""
    ops = _ops()
    reference = engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=tmp_path, **KW)
    (folder,) = tmp_path.iterdir()
    for tile in _tiles(folder):
        tile.unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tile_nodes"] = edit
    (folder / "manifest.json").write_text(json.dumps(manifest))  # by hand: the digest no longer matches
    counted.clear()
    with pytest.warns(RuntimeWarning, match="manifest.json: its contents do not match its digest"):
        got = engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=tmp_path, resume_plan=True, **KW)
    assert len(counted) == len(engine.plan_tiles(ops, None, 64).tiles) and np.array_equal(got, reference)
    # the same value in a manifest with a valid digest: bounded all the same
    key = engine.fingerprint(ops, None, **KW)
    store = Checkpoint(tmp_path, key, symmetric=True)
    store.write_manifest(tile_nodes=edit, complete=True)
    store = Checkpoint(tmp_path, key, symmetric=True)
    with pytest.warns(RuntimeWarning, match="out of bounds"):
        assert store.resumed_tile_nodes(64) == 64
    store.release()


def test_a_plan_within_bounds_is_resumed(tmp_path):
    ops = _ops()
    store = Checkpoint(tmp_path, engine.fingerprint(ops, None, **KW), symmetric=True)
    store.write_manifest(tile_nodes=128, complete=True)
    store = Checkpoint(tmp_path, engine.fingerprint(ops, None, **KW), symmetric=True)
    assert store.resumed_tile_nodes(300) == 128  # an automatic budget that drifted: the saved plan is kept
    store.release()


_WRITER = textwrap.dedent("""
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    import fastgnn.gntk.engine as engine
    sys.path.insert(0, sys.argv[3])
    from test_checkpoints import KW, _ops
    calls = []
    real = engine.compute_tile
    def slow(*a, **k):
        calls.append(1)
        time.sleep(0.1)
        return real(*a, **k)
    engine.compute_tile = slow
    ops = _ops()
    while time.time() < float(sys.argv[2]):
        time.sleep(0.01)
    out = engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=sys.argv[1], **KW)
    print(json.dumps({"tiles": len(calls), "sum": float(out.sum())}))
""")


def test_two_processes_on_one_checkpoint_never_both_compute_everything(tmp_path):
    """Two writers of one checkpoint folder each computed every tile.  Now the second waits for the first (the
    folder is locked while a run writes it), then reads its tiles."""
    from pathlib import Path

    here = str(Path(__file__).parent)
    start = str(time.time() + 6)
    runs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), start, here], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [r.communicate(timeout=180) for r in runs]
    assert all(r.returncode == 0 for r in runs), [e for _, e in results]
    outs = [json.loads(o.strip().splitlines()[-1]) for o, _ in results]
    total = len(engine.plan_tiles(_ops(), None, 64).tiles)
    assert sorted(o["tiles"] for o in outs) == [0, total]
    assert outs[0]["sum"] == outs[1]["sum"]
    assert any("another run is writing it" in e for _, e in results)
