"""The batched engine's tile loop: checkpoints and resume, the memory budget, the CLI plumbing.

Torch runs on one thread (the shared 2-core machine is much slower with two).
The memory test runs the kernel in child processes and compares their peak
resident size with a child that does everything but the kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import fastgnn.gntk.engine as engine
import fastgnn.gntk.plan as gntk_plan
from fastgnn.budget import default_max_memory, parse_memory
from fastgnn.cli import main
from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK
from fastgnn.gntk.pairwise import prepare_many

SMALL = 64 * 64 * 8 * gntk_plan.LIVE_TILES  # a budget of the smallest tiles (64 nodes)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graphs():
    return synthetic(num_graphs=40, min_nodes=8, max_nodes=20, seed=3).graphs


class Interrupt(Exception):
    pass


@pytest.fixture
def counted(monkeypatch):
    """Count the tiles computed; ``counted.reset(fail_after=k)`` raises at the (k+1)-th tile."""
    real = engine.tile_readouts

    class Counter:
        calls = 0
        fail_after = None

        @classmethod
        def reset(cls, fail_after=None):
            cls.calls, cls.fail_after = 0, fail_after

    def tile_readouts(*args, **kwargs):
        if Counter.fail_after is not None and Counter.calls >= Counter.fail_after:
            raise Interrupt("killed")
        Counter.calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "tile_readouts", tile_readouts)
    return Counter


def prepare_ops(graphs, num_layers=3, num_mlp_layers=2, scale="uniform", dtype=torch.float64, sketch_size=None,
                compress="auto"):
    """The operands GNTK(...) prepares for ``graphs`` (its defaults), by the engine's own preparation."""
    return prepare_many(graphs, num_blocks=num_layers - 1, num_mlp_layers=num_mlp_layers, scale=scale,
                        method="decoupled" if sketch_size is None else "sketch", sketch_size=sketch_size,
                        sketch_kind="ams", seed=0, dtype=dtype, device="cpu", compress=compress)


def num_tiles(graphs, max_memory, **kw) -> int:
    ops = prepare_ops(graphs, **kw)
    itemsize = ops[0].x.element_size()
    tn = gntk_plan.tile_nodes_for_budget(parse_memory(max_memory), itemsize,
                                         reserved=gntk_plan.reserved_bytes(ops, None, kw.get("num_layers", 3) - 1))
    return len(engine.plan_tiles(ops, None, tn).tiles)


def test_reserved_bytes_counts_the_compiled_tiles_arrays_only_where_it_runs(graphs, tile_switches):
    """The dense ``C A`` blocks and the features' CSR are budgeted only where the compiled tile runs
    (not on CUDA, not without numba): elsewhere the tiles get that memory."""
    from fastgnn.gntk import compiled_tile
    from fastgnn.gntk.tiles import stack_operands

    ops = prepare_ops(graphs)
    extra = sum(op.a.numel() * op.a.element_size() + gntk_plan.compiled_csr_bytes(op) for op in ops)
    # the torch tile may take the padded dense layout (bounded by 16 bytes per dense entry); the compiled tile
    # takes the sparse one, whose CSR holds the non-zeros only (16 bytes each) and the row pointers
    padded = sum(16 * op.a.numel() for op in ops)
    csr = sum(16 * int(torch.count_nonzero(op.a)) + 8 * (op.num_rows + 1) for op in ops)
    tile_switches(enabled=False)
    off = gntk_plan.reserved_bytes(ops, None, 2)
    tile_switches(enabled=True)
    on = gntk_plan.reserved_bytes(ops, None, 2)
    assert on == (off - padded + csr + extra if compiled_tile.available() else off)
    b = stack_operands(ops, False, "sparse").factors[0]  # what a stack really holds: within the count
    assert b.values().numel() * 8 + b.col_indices().numel() * 8 + b.crow_indices().numel() * 8 <= csr


def test_compiled_csr_bytes_bound_the_csrs_the_compiled_tile_keeps(graphs):
    """The budgeted CSR bytes cover what the stacks really hold: X's and (C A) X's non-zeros."""
    from fastgnn.gntk.tiles import stack_operands

    ops = prepare_ops(graphs)
    st = stack_operands(ops, False, "sparse")
    held = 16 * (st.x_csr()[2].size + st.ax_csr()[2].size)
    budgeted = sum(gntk_plan.compiled_csr_bytes(op) for op in ops)
    assert held <= budgeted <= 16 * sum(op.x.numel() + op.a.numel() for op in ops)
    assert st.x_csr()[2].size == int(torch.count_nonzero(st.x))


def test_compiled_tiles_grow_with_the_free_memory_within_their_bounds():
    """The compiled tile's rule: b M + a M² within the free bytes, 64 <= M <= COMPILED_MAX_TILE_NODES."""
    sizes = [gntk_plan.compiled_tile_nodes(free, 8, 100, 3, 50.0) for free in (0, 2**20, 2**24, 2**28, 2**40)]
    assert sizes[0] == 64 and sizes[-1] == gntk_plan.COMPILED_MAX_TILE_NODES
    assert sizes == sorted(sizes) and sizes[1] < sizes[2] < sizes[3]
    m = sizes[2]
    assert 2 * 100 * 8 * m + 4 * 16 / 50.0**2 * m * m <= 2**24 < 2 * 100 * 8 * (m + 2) + 4 * 16 / 50.0**2 * (m + 2) ** 2


def folders(root):
    return sorted(p for p in root.iterdir() if p.is_dir())


def tile_files(folder):
    return sorted(folder.glob("r*_c*.*.npy"))


# --------------------------------------------------------------------------- resume


def test_resume_after_interrupt_is_bitwise_identical(graphs, tmp_path, counted):
    reference = GNTK(num_layers=3, max_memory=SMALL).fit_transform(graphs)
    total = num_tiles(graphs, num_layers=3, max_memory=SMALL)
    assert total > 10

    counted.reset(fail_after=7)
    with pytest.raises(Interrupt):
        GNTK(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path).fit_transform(graphs)
    (folder,) = folders(tmp_path)
    assert len(tile_files(folder)) == 7
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["num_tiles"] == total

    counted.reset()
    resumed = GNTK(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path).fit_transform(graphs)
    assert counted.calls == total - 7  # only the remaining tiles
    assert np.array_equal(resumed, reference)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["tile_nodes"] == 64
    assert manifest["fingerprint"].startswith(folder.name.split("-", 1)[1])

    counted.reset()  # a finished run is read back, not recomputed
    again = GNTK(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path).fit_transform(graphs)
    assert counted.calls == 0 and np.array_equal(again, reference)


def test_resume_transform_and_readouts(graphs, tmp_path, counted):
    train, test = graphs[:25], graphs[25:]
    ref_est = GNTK(num_layers=4, max_memory=SMALL).fit(train)
    reference = ref_est.transform(test)
    est = GNTK(num_layers=4, max_memory=SMALL, checkpoint_dir=tmp_path).fit(train)
    counted.reset(fail_after=3)
    with pytest.raises(Interrupt):
        est.transform(test)
    counted.reset()
    assert np.array_equal(est.transform(test), reference)
    (folder,) = folders(tmp_path)
    assert folder.name.startswith("cross-") and counted.calls == len(tile_files(folder)) - 3
    parts = GNTK(num_layers=4, max_memory=SMALL, checkpoint_dir=tmp_path).readouts(graphs)
    assert np.array_equal(parts, GNTK(num_layers=4, max_memory=SMALL).readouts(graphs))
    assert sorted(p.name.split("-")[0] for p in folders(tmp_path)) == ["cross", "gram"]


def test_progress_counts_finished_tiles(graphs, tmp_path, counted, monkeypatch):
    counted.reset(fail_after=5)
    with pytest.raises(Interrupt):
        GNTK(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path).fit_transform(graphs)
    counted.reset()
    bars = []
    real = engine._progress
    monkeypatch.setattr(engine, "_progress", lambda *a, **k: bars.append(real(*a, **k)) or bars[-1])
    GNTK(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path, progress=True).fit_transform(graphs)
    (bar,) = bars
    assert 0 < bar.initial < bar.total and bar.n == bar.total


def test_engine_resume_plan(graphs, tmp_path, counted):
    """An automatic budget may give another plan on restart: ``resume_plan`` keeps the checkpoint's."""
    ops = prepare_ops(graphs)
    kw = dict(num_blocks=2, num_mlp_layers=2, sketched=False)
    reference = engine.gram_readouts(ops, None, tile_nodes=64, **kw)
    counted.reset(fail_after=4)
    with pytest.raises(Interrupt):
        engine.gram_readouts(ops, None, tile_nodes=64, checkpoint_dir=tmp_path, **kw)
    counted.reset()
    out = engine.gram_readouts(ops, None, tile_nodes=300, checkpoint_dir=tmp_path, resume_plan=True, **kw)
    assert np.array_equal(out, reference)
    assert counted.calls == len(engine.plan_tiles(ops, None, 64).tiles) - 4
    # without resume_plan another plan reuses only tiles of the same graph ranges: still the right answer
    counted.reset()
    other = engine.gram_readouts(ops, None, tile_nodes=300, checkpoint_dir=tmp_path, **kw)
    assert counted.calls == len(engine.plan_tiles(ops, None, 300).tiles)
    assert np.abs(other - reference).max() <= 1e-12 * np.abs(reference).max()


# --------------------------------------------------------------------------- no wrong reuse


@pytest.mark.parametrize(
    "change",
    [
        {"scale": "degree"},
        {"num_mlp_layers": 1},
        {"num_layers": 4},
        {"dtype": torch.float32},
        {"sketch_size": 8},
        "features",
        "edges",
    ],
    ids=lambda c: c if isinstance(c, str) else next(iter(c)),
)
def test_changed_data_or_config_is_not_reused(graphs, tmp_path, counted, change):
    base = dict(num_layers=3, num_mlp_layers=2, max_memory=SMALL)
    GNTK(**base, checkpoint_dir=tmp_path).fit_transform(graphs)
    other_graphs, kw = list(graphs), dict(base)
    if change == "features":
        g = other_graphs[5]
        other_graphs[5] = type(g)(g.edge_index, g.num_nodes, g.x.flip(0))
    elif change == "edges":
        g = other_graphs[5]
        keep = (g.edge_index != 0).all(0)  # node 0 loses its edges
        assert not keep.all()
        other_graphs[5] = type(g)(g.edge_index[:, keep], g.num_nodes, g.x)
    else:
        kw.update(change)
    counted.reset()
    got = GNTK(**kw, checkpoint_dir=tmp_path).fit_transform(other_graphs)
    assert counted.calls == num_tiles(other_graphs, **kw)  # nothing reused
    assert len(folders(tmp_path)) == 2
    assert np.array_equal(got, GNTK(**kw).fit_transform(other_graphs))


def test_sketch_seed_is_part_of_the_fingerprint(graphs, tmp_path, counted):
    kw = dict(num_layers=3, sketch_size=6, max_memory=SMALL, checkpoint_dir=tmp_path)
    a = GNTK(seed=1, **kw).fit_transform(graphs)
    counted.reset()
    b = GNTK(seed=2, **kw).fit_transform(graphs)
    assert counted.calls > 0 and len(folders(tmp_path)) == 2 and not np.array_equal(a, b)


def test_damaged_tiles_are_recomputed(graphs, tmp_path, counted):
    kw = dict(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path)
    reference = GNTK(**kw).fit_transform(graphs)
    (folder,) = folders(tmp_path)
    files = tile_files(folder)
    truncated, altered, removed = files[2], files[5], files[8]
    truncated.write_bytes(truncated.read_bytes()[:100])
    block = np.load(altered)
    block[0, 0, 0] += 1.0
    np.save(altered, block)  # well-formed, same name, other contents
    removed.unlink()
    (folder / f".{files[0].name}.tmp123.npy").write_bytes(b"partial write")  # a killed save's leftover
    counted.reset()
    with pytest.warns(RuntimeWarning, match="damaged"):
        got = GNTK(**kw).fit_transform(graphs)
    assert counted.calls == 3
    assert np.array_equal(got, reference)
    assert len(tile_files(folder)) == len(files)


def test_manifest_of_another_fingerprint_is_an_error(graphs, tmp_path):
    kw = dict(num_layers=3, max_memory=SMALL, checkpoint_dir=tmp_path)
    GNTK(**kw).fit_transform(graphs[:10])
    (folder,) = folders(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["fingerprint"] = "0" * 40
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match="fingerprint"):
        GNTK(**kw).fit_transform(graphs[:10])


# --------------------------------------------------------------------------- parameters, CLI


def test_params_and_defaults(graphs, tmp_path):
    from sklearn.base import clone

    est = GNTK(checkpoint_dir=tmp_path)
    assert est.get_params()["checkpoint_dir"] == tmp_path
    assert clone(est).get_params() == est.get_params()
    assert GNTK().max_memory == "auto"
    budget = default_max_memory("cpu")
    assert 2**20 <= budget <= 4 * 2**30 and budget & (budget - 1) == 0  # a power of two
    with pytest.raises(ValueError, match="checkpoint_dir"):
        GNTK(method="decoupled", checkpoint_dir=tmp_path).fit_transform(graphs[:3])
    # the reserve (output, stacks, fixed) comes off the budget before the tiles
    assert gntk_plan.tile_nodes_for_budget(2**30, 8) > gntk_plan.tile_nodes_for_budget(2**30, 8, reserved=2**29)
    assert gntk_plan.tile_nodes_for_budget(1, 8) == 64


def test_cli_checkpoint_dir(tmp_path, capsys, counted, monkeypatch):
    args = ["gntk", "synthetic", "--num-layers", "2", "--max-memory", "8MB", "--json", "--colour-pairs", "no",
            "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["config"]["checkpoint_dir"] == str(tmp_path / "ck")
    (folder,) = folders(tmp_path / "ck")
    assert json.loads((folder / "manifest.json").read_text())["complete"] is True
    counted.reset()
    assert main(args) == 0 and counted.calls == 0  # read back
    capsys.readouterr()

    import fastgnn.cli.search

    seen = {}

    class Result:
        def to_dict(self):
            return {}

    def fake_search(data, **kw):
        seen.update(kw)
        return Result()

    monkeypatch.setattr(fastgnn.cli.search, "gntk_search", fake_search)
    assert main(["search", "synthetic", "--json", "--checkpoint-dir", str(tmp_path / "s")]) == 0
    assert seen["checkpoint_dir"] == str(tmp_path / "s") and seen["max_memory"] == "auto"


@pytest.mark.parametrize("command", ["gntk", "search"])
def test_help_mentions_checkpoint_dir(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--checkpoint-dir" in out and "default auto" in out


# --------------------------------------------------------------------------- memory


CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    torch.set_num_threads(1)
    from fastgnn.datasets import synthetic
    from fastgnn.gntk import GNTK
    import fastgnn.gntk.engine as engine

    budget = float(sys.argv[1])
    data = synthetic(num_graphs=200, min_nodes=20, max_nodes=40, seed=0)
    est = GNTK(num_layers=3, num_mlp_layers=2, max_memory=budget or "auto", progress=False)
    info = {}
    if budget:
        plans = []
        real = engine.plan_tiles
        engine.plan_tiles = lambda *a, **k: plans.append(real(*a, **k)) or plans[-1]
        est.fit_transform(data)
        info = {"tiles": len(plans[0].tiles), "tile_nodes": plans[0].tile_nodes}
    else:
        est.fit(data)  # everything but the kernel: imports, data, prepared operands
    info["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(info))
    """
)


def run_child(budget: float, torch_tile: bool = False) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "FASTGNN_NO_NUMBA": "1" if torch_tile else "0"}
    res = subprocess.run([sys.executable, "-c", CHILD, str(budget)], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB and malloc_trim: Linux")
def test_peak_memory_within_budget():
    """Peak RSS of the kernel (child minus a child without it) stays within max_memory: the torch tile,
    whose ``[M, M]`` arrays the budget limits (smaller budget, more and smaller tiles), and the
    compiled tile, which holds no such array."""
    torch_runs = {}
    for torch_tile, budgets in ((True, (64 * 2**20, 256 * 2**20)), (False, (48 * 2**20,))):
        base = run_child(0, torch_tile)["maxrss"]
        runs = {b: run_child(b, torch_tile) for b in budgets}
        torch_runs.update(runs if torch_tile else {})
        for budget, info in runs.items():
            used = info["maxrss"] - base
            print(f"{'torch' if torch_tile else 'compiled'} tile, budget {budget / 2**20:.0f} MiB: peak "
                  f"{used / 2**20:.1f} MiB, {info['tiles']} tiles of <= {info['tile_nodes']} nodes")
            assert used <= budget, (budget, used, info)
    small, large = torch_runs[64 * 2**20], torch_runs[256 * 2**20]
    assert small["tile_nodes"] < large["tile_nodes"] and small["tiles"] > large["tiles"] > 1


def test_readouts_outside_the_budget_are_not_set_aside(graphs):
    """``readouts_outside`` (the out-of-core Gram, its readouts on disk): the plan is that of a budget
    larger by the readouts' bytes, which ``reserved_bytes(readouts=False)`` leaves out."""
    ops = prepare_ops(graphs)
    readouts = 8 * 3 * len(ops) ** 2
    assert gntk_plan.reserved_bytes(ops, None, 2, readouts=False) == gntk_plan.reserved_bytes(ops, None, 2) - readouts
    for budget in (2**20, 3 * 2**20, 2**26):
        assert (gntk_plan.plan_tile_nodes(ops, None, budget, 8, 2, False, readouts_outside=True)
                == gntk_plan.plan_tile_nodes(ops, None, budget + readouts, 8, 2, False))


def test_block_digest_names_the_contents():
    from fastgnn.gntk.checkpoints import block_digest

    block = np.arange(12.0).reshape(1, 3, 4)
    assert block_digest(block) == block_digest(block.copy()) and len(block_digest(block)) == 16
    changed = block.copy()
    changed[0, 2, 3] = np.nextafter(changed[0, 2, 3], 0)
    assert block_digest(changed) != block_digest(block) != block_digest(block.reshape(1, 4, 3))


def test_cli_colour_pairs_keep_their_own_checkpoints(tmp_path, capsys):
    args = ["gntk", "synthetic", "--num-layers", "3", "--json", "--colour-pairs", "yes",
            "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert list((tmp_path / "ck").glob("colour-*/state.npz"))
    assert main(args) == 0  # resumed from the finished state
    assert json.loads(capsys.readouterr().out)["config"]["colour_pairs"] is True
    assert first["config"]["colour_pairs"] is True


def test_the_progress_bar_counts_node_or_class_pairs():
    """The bar's unit says what the tiles' rows are: nodes, colour classes (compressed graphs), or both."""
    from types import SimpleNamespace

    from fastgnn.gntk.engine import _pair_unit

    node, cls = SimpleNamespace(colouring=None), SimpleNamespace(colouring=object())
    assert _pair_unit([node, node]) == " node pairs"
    assert _pair_unit([cls]) == " class pairs"
    assert _pair_unit([node, cls]) == " node/class pairs"
