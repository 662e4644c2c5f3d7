"""fastgnn.gntk.plan below what the work needs: the budget counts the readouts, the operands and the preparation of
the largest graph, and a budget below that warns with the minimum and a budget that gives useful tiles.

The finding: NCI1 under 500 MB planned 2.07 million 64-node tiles (an hour) against 28 tiles at 1 GB, silently;
preparing a 3,000-node graph under a 50 MB budget took +477 MB, uncounted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from fastgnn import GNTK
from fastgnn.datasets import synthetic
from fastgnn.gntk import plan
from fastgnn.gntk.pairwise import prepare_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ops(graphs):
    return prepare_many(graphs, num_blocks=2, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                        sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu", compress=False)


@pytest.fixture(scope="module")
def many():
    """300 small graphs: readouts of 8 * 3 * 300^2 = 2.2 MB, more than the 16 MiB fixed reserve can hide below 20 MB."""
    return synthetic(num_graphs=300, min_nodes=6, max_nodes=14, seed=5).graphs


def test_a_budget_below_the_readouts_warns_with_the_minimum_and_a_useful_budget(many):
    ops = _ops(many)
    least = plan.minimum_budget(ops, None, 8, 2, False)
    assert least >= plan.reserved_bytes(ops, None, 2) > 8 * 3 * 300**2  # the readouts are counted
    with pytest.warns(plan.BudgetWarning, match=r"max_memory=1\.0 MB is below the .* needs at the least") as w:
        small = plan.plan_tile_nodes(ops, None, 1e6, 8, 2, False)
    message = str(w[0].message)
    useful = plan.useful_budget(ops, None, 8, 2, False)
    assert f"max_memory={useful / 1e6:.1f} MB gives" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", plan.BudgetWarning)  # the budget it suggests is enough
        good = plan.plan_tile_nodes(ops, None, useful, 8, 2, False)
    assert good >= plan.USEFUL_TILE_NODES and small == 64
    tiles_small, tiles_good = (len(plan.plan_tiles(ops, None, t).tiles) for t in (small, good))
    assert f"{tiles_small:,} tiles of 64 nodes" in message and tiles_good * 50 < tiles_small


def test_the_estimator_warns_rather_than_slowing_down_silently(many):
    with pytest.warns(plan.BudgetWarning, match="fit_transform_to_disk keeps the readouts outside the budget"):
        GNTK(num_layers=3, max_memory="1MB", colour_pairs=False, progress=False).fit_transform(many[:120])


def test_the_minimum_counts_the_preparation_of_the_largest_graph():
    big = synthetic(num_graphs=2, min_nodes=1500, max_nodes=1500, seed=0).graphs
    ops = _ops(big)
    assert plan.preparation_bytes(ops) == plan.preparation_bytes([1500]) == plan.PREPARATION_ARRAYS * 8 * 1500**2
    assert plan.minimum_budget(ops, None, 8, 2, False) >= plan.preparation_bytes([1500])
    with pytest.warns(plan.BudgetWarning, match="preparing its largest graph, 1500 nodes: 126.0 MB"):
        plan.plan_tile_nodes(ops, None, 50e6, 8, 2, False)


def test_a_graph_larger_than_a_chunk_is_alone_and_chunks_follow_size():
    """plan_chunks (the engine's tiles and the kernel-time stage's preparation): by size, at most the limit each,
    an item over it alone."""
    assert [c.tolist() for c in plan.plan_chunks([9, 100, 4, 4, 1], 9)] == [[4, 2, 3], [0], [1]]
    rng = np.random.default_rng(0)
    for limit in (1, 7, 50, 10_000):
        sizes = rng.integers(1, 60, size=200).tolist()
        chunks = plan.plan_chunks(sizes, limit)
        assert sorted(i for c in chunks for i in c) == list(range(len(sizes)))  # every item once
        assert all(len(c) == 1 or sum(sizes[i] for i in c) <= limit for c in chunks)
        flat = [sizes[i] for c in chunks for i in c]
        assert flat == sorted(flat)  # smallest first, so a chunk holds graphs of similar size
        # greedy: no chunk could have taken the next chunk's first item
        assert all(sum(sizes[i] for i in a) + sizes[b[0]] > limit for a, b in zip(chunks, chunks[1:]))


PEAK = textwrap.dedent("""
    import gc, json, sys, torch
    torch.set_num_threads(1)
    from fastgnn import GNTK
    from fastgnn.datasets import synthetic
    n = int(sys.argv[1])
    kw = dict(num_layers=3, compress=False, colour_pairs=False, progress=False)
    GNTK(**kw).fit(synthetic(num_graphs=1, min_nodes=400, max_nodes=400, seed=0).graphs).fitted_  # imports, compiling
    graphs = synthetic(num_graphs=1, min_nodes=n, max_nodes=n, seed=0).graphs
    gc.collect()
    def status(field):
        return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field))
    before = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from here: making the graph does not count
    GNTK(**kw).fit(graphs).fitted_  # the operands are prepared on first use
    print(json.dumps({"growth": status("VmHWM:") - before}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status and clear_refs (Linux)")
def test_preparation_bytes_bound_the_measured_peak_of_preparing_a_large_graph():
    """The peak resident growth of preparing one 2,500-node graph (a child process) is within what the budget
    counts for it."""
    run = subprocess.run([sys.executable, "-c", PEAK, "2500"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    growth = json.loads(run.stdout.strip().splitlines()[-1])["growth"]
    assert 0 < growth <= plan.preparation_bytes([2500]), (growth, plan.preparation_bytes([2500]))
