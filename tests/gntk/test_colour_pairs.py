"""The GNTK on the dataset's colour pairs (gntk/colour_pairs.py) against independent computations:
Du et al.'s code transcribed in extended precision, the node-pair engine, and a plain-Python WL."""

import numpy as np
import pytest
import torch

try:
    from .finite_gnn import reference_gntk
except ImportError:
    from finite_gnn import reference_gntk

from fastgnn import GNTK, Graph
from fastgnn.gntk import colour_pairs
from fastgnn.gntk.colour import adjacency_entries


def tagged_graph(n, seed, tags=3, p=0.35, self_loops=0, isolated=0):
    """A random graph with one-hot node tags (so colours repeat), some self-loops and isolated nodes."""
    rng = np.random.default_rng(seed)
    m = n - isolated
    edges = [(u, v) for u in range(m) for v in range(u + 1, m) if rng.random() < p]
    edges += [(u, u) for u in rng.choice(n, size=min(self_loops, n), replace=False)]
    ei = np.array([[u for u, v in edges] + [v for u, v in edges if u != v],
                   [v for u, v in edges] + [u for u, v in edges if u != v]], dtype=np.int64).reshape(2, -1)
    x = np.eye(tags)[rng.integers(0, tags, n)]
    return Graph(edge_index=torch.from_numpy(ei), num_nodes=n, x=torch.from_numpy(x))


def small_set(seed=0):
    graphs = [tagged_graph(int(n), seed + i, self_loops=i % 3, isolated=int(i % 4 == 0))
              for i, n in enumerate(np.random.default_rng(seed).integers(2, 9, 10))]
    graphs.append(tagged_graph(1, seed + 100))  # one node
    graphs.append(tagged_graph(5, seed + 101, p=0.0))  # no edges
    graphs.append(graphs[1])  # a duplicate
    return graphs


def colour_gram(graphs, num_layers, num_mlp_layers, scale, jk, dtype=torch.float64):
    cols = colour_pairs.dataset_colours(graphs, num_layers - 1, scale, dtype)
    parts = colour_pairs.colour_pair_readouts(cols, num_layers - 1, num_mlp_layers, dtype=dtype)
    return parts[:num_layers].sum(0) if jk else parts[num_layers - 1]


@pytest.mark.parametrize("scale", ["uniform", "degree"])
@pytest.mark.parametrize("num_mlp_layers", [1, 2, 3])
@pytest.mark.parametrize("jk", [True, False])
def test_equals_du_et_al_in_extended_precision(scale, num_mlp_layers, jk):
    graphs = small_set(seed=num_mlp_layers)
    ref = reference_gntk(graphs, 3, num_mlp_layers, scale, jk, dtype=np.longdouble, snap_ulps=32)
    got = colour_gram(graphs, 3, num_mlp_layers, scale, jk)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("scale", ["uniform", "degree"])
def test_equals_the_node_pair_engine(scale):
    graphs = small_set(seed=7) * 3
    for dtype, rtol in ((torch.float64, 2e-10), (torch.float32, 1e-5)):
        node = GNTK(num_layers=4, num_mlp_layers=2, scale=scale, dtype=dtype, progress=False).readouts(graphs)
        cols = colour_pairs.dataset_colours(graphs, 3, scale, dtype)
        got = colour_pairs.colour_pair_readouts(cols, 3, 2, dtype=dtype)
        np.testing.assert_allclose(got, node, rtol=rtol, atol=rtol * np.abs(node).max())


def test_bitwise_independent_of_graph_order():
    """Colours are numbered by their hashes and features, not by where a graph stands: a permuted dataset
    gives the permuted Gram bit for bit (each readout sums a graph's colours in colour order)."""
    graphs = small_set(seed=3) * 2
    perm = np.random.default_rng(0).permutation(len(graphs))
    a = colour_gram(graphs, 4, 2, "degree", True)
    b = colour_gram([graphs[i] for i in perm], 4, 2, "degree", True)
    assert np.array_equal(a[np.ix_(perm, perm)], b)


def _plain_wl(graphs, depth):
    """Depth-l colours by Python tuples: the multiset of (colour, Ã weight) over the closed neighbourhood."""
    n = [g.num_nodes for g in graphs]
    offsets = np.concatenate([[0], np.cumsum(n)])
    edges = np.concatenate([g.edge_index.numpy() + offsets[i] for i, g in enumerate(graphs)], 1)
    rows, cols, w = adjacency_entries(edges, int(offsets[-1]))
    x = torch.cat([g.x for g in graphs]).numpy()
    names = {}
    colour = [names.setdefault(tuple(r), len(names)) for r in x]
    out = [colour]
    for _ in range(depth):
        sig = [dict() for _ in colour]
        for r, c, wt in zip(rows, cols, w):
            sig[r][out[-1][c]] = sig[r].get(out[-1][c], 0) + int(wt)
        names = {}
        out.append([names.setdefault(tuple(sorted(s.items())), len(names)) for s in sig])
    return out


def _same_partition(a, b):
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_colours_are_exactly_wl_even_when_the_hash_collides(monkeypatch):
    """The refinement equals plain-Python WL; words that make every hash collide are detected (the round
    is redone with new words), so two signatures are never merged."""
    graphs = small_set(seed=5)
    plain = _plain_wl(graphs, 3)
    cols = colour_pairs.dataset_colours(graphs, 3, "uniform")
    for depth in range(4):
        assert _same_partition(cols.labels[depth], plain[depth]), depth

    real = np.random.default_rng

    class Colliding:  # first every word 1 (hash = f(weights, nnz) only), then honest words
        def __init__(self):
            self.calls, self.rng = 0, real(1)

        def integers(self, *a, **k):
            self.calls += 1
            out = self.rng.integers(*a, **k)
            return out * 0 if self.calls <= 2 else out

    colliding = Colliding()
    monkeypatch.setattr(colour_pairs.np.random, "default_rng", lambda seed=None: colliding)
    again = colour_pairs.dataset_colours(graphs, 3, "uniform")
    assert colliding.calls > 3  # the colliding words were drawn, found out, and drawn again
    for depth in range(4):
        assert _same_partition(again.labels[depth], plain[depth]), depth


def test_counts_rows_hold_the_scale():
    graphs = small_set(seed=2)
    for scale in ("uniform", "degree"):
        cols = colour_pairs.dataset_colours(graphs, 2, scale)
        indptr, _, values = cols.counts[1]
        sums = np.add.reduceat(values, indptr[:-1])
        if scale == "degree":
            np.testing.assert_allclose(sums, 1.0)
        else:
            assert np.all(sums >= 1) and np.all(values == np.round(values))
    assert cols.sizes[0] <= 3 and cols.node_pairs() > sum(c * c for c in cols.sizes[:1])


def test_blocks_of_the_top_depth_and_the_torch_path_agree():
    """The compiled path's top depth by many small blocks of rows (upper triangle) equals one block, and the
    dense torch path (no numba, or CUDA) equals both."""
    from fastgnn.gntk import compiled_tile

    graphs = small_set(seed=11) * 2
    cols = colour_pairs.dataset_colours(graphs, 3, "degree")
    one = colour_pairs.colour_pair_readouts(cols, 3, 2)
    many = colour_pairs.colour_pair_readouts(cols, 3, 2, max_bytes=1)  # one row per block
    np.testing.assert_allclose(many, one, rtol=1e-13, atol=0)
    with compiled_tile.config_context(enabled=False):
        dense = colour_pairs.colour_pair_readouts(cols, 3, 2)
    np.testing.assert_allclose(dense, one, rtol=1e-12, atol=0)
    assert np.array_equal(many, many.transpose(0, 2, 1))


@pytest.mark.parametrize("choice", [True, False, "auto"])
def test_the_estimator_gives_the_same_gram_whichever_engine(choice):
    graphs = small_set(seed=13) * 4
    ref = GNTK(num_layers=3, num_mlp_layers=2, colour_pairs=False, progress=False).fit_transform(graphs)
    est = GNTK(num_layers=3, num_mlp_layers=2, colour_pairs=choice, normalize=False, progress=False)
    np.testing.assert_allclose(est.fit_transform(graphs), ref, rtol=2e-10, atol=0)
    np.testing.assert_allclose(est.transform(graphs[:5]), ref[:5], rtol=2e-10, atol=0)


def test_colour_pairs_true_is_refused_where_it_cannot_run():
    graphs = small_set(seed=1)
    with pytest.raises(ValueError, match="colour_pairs=True needs"):
        GNTK(colour_pairs=True, sketch_size=4, progress=False).fit_transform(graphs)
    with pytest.raises(ValueError, match="max_memory"):
        GNTK(colour_pairs=True, max_memory=1000, progress=False).fit_transform(graphs)


@pytest.mark.parametrize("compiled", [True, False])
def test_rectangle_equals_the_symmetric_gram_sliced(compiled):
    """Readouts of the graphs past ``split`` against those before it equal the union's symmetric readouts,
    sliced (the top depth by several blocks, both orders of each off-diagonal block read out)."""
    from fastgnn.gntk import compiled_tile

    graphs = small_set(seed=17) * 2
    cols = colour_pairs.dataset_colours(graphs, 3, "uniform")
    split = 11
    with compiled_tile.config_context(enabled=compiled):
        whole = colour_pairs.colour_pair_readouts(cols, 3, 2)
        rect = colour_pairs.colour_pair_readouts(cols, 3, 2, split=split, max_bytes=2000)
    assert rect.shape == (4, len(graphs) - split, split)
    np.testing.assert_allclose(rect, whole[:, split:, :split], rtol=1e-12, atol=0)


def test_transform_of_a_subset_equals_fit_transform_of_the_union():
    """fit on a set, transform new graphs on colour pairs: the rows of fit_transform on the union (the new
    graphs' colours are refined together with the fitted ones, new colours get new rows)."""
    graphs = small_set(seed=21) * 2
    fitted, new = graphs[:15], graphs[15:] + [tagged_graph(6, 999, tags=3)]
    union = GNTK(num_layers=4, num_mlp_layers=2, colour_pairs=True, progress=False).fit_transform(fitted + new)
    est = GNTK(num_layers=4, num_mlp_layers=2, colour_pairs=True, progress=False).fit(fitted)
    assert est._dataset_colours(new, est._prepare(new, est.fitted_)) is not None
    np.testing.assert_allclose(est.transform(new), union[15:, :15], rtol=1e-12, atol=0)
    node = GNTK(num_layers=4, num_mlp_layers=2, colour_pairs=False, progress=False).fit(fitted).transform(new)
    np.testing.assert_allclose(est.transform(new), node, rtol=2e-10, atol=0)


def test_the_dense_path_counts_its_whole_top_depth():
    """Without numba (or on CUDA) the top depth is one dense matrix: the budget check counts it, so a
    budget that holds the blocked path but not the dense one sends "auto" to the node-pair engine."""
    from fastgnn.gntk import compiled_tile

    graphs = [tagged_graph(12, seed, tags=5, p=0.3) for seed in range(20)]  # many colours, few graphs
    cols = colour_pairs.dataset_colours(graphs, 3, "uniform")
    blocked = colour_pairs.colour_pair_bytes(cols, 8, 3, blocked=True)
    dense = colour_pairs.colour_pair_bytes(cols, 8, 3, blocked=False)
    assert dense > blocked
    with compiled_tile.config_context(enabled=False):
        assert not colour_pairs.uses_compiled_path("cpu")
        with pytest.raises(ValueError, match="max_memory"):
            GNTK(num_layers=4, colour_pairs=True, max_memory=(blocked + dense) / 2,
                 progress=False).fit_transform(graphs)


def _deep_set():
    """Graphs whose colours keep splitting for several depths (so deep depths have many colours)."""
    return [tagged_graph(int(n), 200 + i, tags=3, p=0.3, self_loops=i % 2) for i, n in
            enumerate(np.random.default_rng(9).integers(6, 14, 24))]


@pytest.mark.parametrize("budget_rows, depth", [(0, 3), (1, 5)])
def test_blocked_depths_recompute_their_support_rows_exactly(budget_rows, depth):
    """A budget too small to hold the deep depths: they run by row blocks, recomputing the support rows
    below each block, down to the held depth (one or more levels of recursion; from the input covariance
    itself with held depth 0); equal to the run that holds every depth below the top, and to Du et al.'s
    code in extended precision."""
    from fastgnn.gntk import colour_blocks

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, depth, "degree")
    sizes, n = cols.sizes, cols.num_graphs
    # the largest budget at which depth `budget_rows` is the held one (the next depth does not fit)
    budget = 2 * (colour_blocks.held_bytes(sizes, budget_rows + 1, 8) + colour_blocks.readout_bytes(depth, n)) - 1
    held = colour_blocks.plan_held(sizes, depth, 8, budget, n)
    assert held == budget_rows < depth - 1
    assert colour_blocks.block_rows(sizes, depth, held, 8, n, budget) < sizes[depth]  # more than one block
    small = colour_pairs.colour_pair_readouts(cols, depth, 2, max_bytes=budget)
    large = colour_pairs.colour_pair_readouts(cols, depth, 2, max_bytes=2**32)
    np.testing.assert_allclose(small, large, rtol=1e-12, atol=0)
    ref = reference_gntk(graphs, depth + 1, 2, "degree", True, dtype=np.longdouble, snap_ulps=32)
    np.testing.assert_allclose(small.sum(0), ref, rtol=1e-10, atol=0)
    if held == 0:  # tiny blocks (4 rows at depth 3): the rectangle and float32 once, below, are enough
        return
    # transform's rectangle, blocked the same way
    rect = colour_pairs.colour_pair_readouts(cols, depth, 2, max_bytes=budget, split=10)
    np.testing.assert_allclose(rect, large[:, 10:, :10], rtol=1e-12, atol=0)
    # float32
    cols32 = colour_pairs.dataset_colours(graphs, depth, "degree", torch.float32)
    small32 = colour_pairs.colour_pair_readouts(cols32, depth, 2, max_bytes=budget, dtype=torch.float32)
    large32 = colour_pairs.colour_pair_readouts(cols32, depth, 2, max_bytes=2**32, dtype=torch.float32)
    np.testing.assert_allclose(small32, large32, rtol=1e-5, atol=1e-5 * np.abs(large).max())
    np.testing.assert_allclose(small32, large, rtol=2e-4, atol=0)  # float32's own error at depth 5


def test_the_counted_work_includes_the_recomputed_rows():
    from fastgnn.gntk import colour_blocks

    cols = colour_pairs.dataset_colours(_deep_set(), 5, "uniform")
    sizes, n = cols.sizes, cols.num_graphs
    budget = (colour_blocks.held_bytes(sizes, 1, 8) + colour_blocks.readout_bytes(5, n)) * 2
    held_all = colour_pairs.colour_pair_flops(cols, 5, 2, 20.0)
    blocked = colour_pairs.colour_pair_flops(cols, 5, 2, 20.0, max_bytes=budget)
    assert blocked > held_all * 0.5  # upper triangles only, but the support rows are recomputed
    counts, _ = colour_blocks.renumbered_counts(cols, 1, 5)
    assert colour_blocks.recomputed_pairs(counts, sizes, 5, 1, lambda d: 16) > 0


def test_a_killed_blocked_run_resumes_bitwise(tmp_path, monkeypatch):
    """Blocked depths save their state by blocks; a run killed half-way resumes from the block it reached
    and gives the uninterrupted Gram bit for bit; a damaged state file is refused with a warning naming it."""
    from fastgnn.gntk import _colour_kernels, colour_blocks

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 5, "uniform")
    sizes, n = cols.sizes, cols.num_graphs
    budget = 2 * (colour_blocks.held_bytes(sizes, 2, 8) + colour_blocks.readout_bytes(5, n)) - 1
    want = colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget)
    calls = {"n": 0}
    real = _colour_kernels.histogram_product

    def dies_later(*args):
        calls["n"] += 1
        if calls["n"] == 40:
            raise KeyboardInterrupt("killed")
        return real(*args)

    monkeypatch.setattr(_colour_kernels, "histogram_product", dies_later)
    monkeypatch.setattr(colour_blocks.ColourCheckpoint, "due", lambda self, end: True)  # save after every block
    with pytest.raises(KeyboardInterrupt):
        colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    monkeypatch.setattr(_colour_kernels, "histogram_product", real)
    [folder] = list(tmp_path.glob("colour-*"))
    state = np.load(folder / "state.npz")
    assert 0 < int(state["next_row"]) or int(state["depth"]) > 2  # it stopped inside the blocked depths
    resumed = colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    assert np.array_equal(resumed, want)
    # a second run on the finished state reads it; a damaged one is refused and recomputed
    data = (folder / "state.npz").read_bytes()
    (folder / "state.npz").write_bytes(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match="state.npz"):
        again = colour_pairs.colour_pair_readouts(cols, 5, 2, max_bytes=budget, checkpoint_dir=tmp_path)
    assert np.array_equal(again, want)


def test_the_estimator_keeps_colour_pair_checkpoints(tmp_path):
    graphs = _deep_set()
    est = GNTK(num_layers=5, colour_pairs=True, checkpoint_dir=tmp_path, progress=False)
    k = est.fit_transform(graphs)
    np.testing.assert_allclose(k, GNTK(num_layers=5, colour_pairs=False, progress=False).fit_transform(graphs),
                               rtol=2e-10)
    assert list(tmp_path.glob("colour-*/state.npz"))


@pytest.mark.parametrize("budget_held", [None, 1])
@pytest.mark.parametrize("jk", [True, False])
def test_the_gram_summed_alone_equals_the_readouts_combined(tmp_path, budget_held, jk):
    """colour_pair_gram: Σ_l K_l accumulated straight into one n × n memory map (no per-depth readouts),
    the depths held whole or blocked, equal to the per-depth readouts combined; its diagonals are theirs."""
    from numpy.lib.format import open_memmap

    from fastgnn.gntk import colour_blocks

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 4, "degree")
    sizes, n = cols.sizes, cols.num_graphs
    budget = 2**32 if budget_held is None else 2 * colour_blocks.held_bytes(sizes, budget_held + 1, 8) - 1
    assert colour_blocks.plan_held(sizes, 4, 8, budget, n, in_memory=False) == (3 if budget_held is None else 1)
    parts = colour_pairs.colour_pair_readouts(cols, 4, 2, max_bytes=2**32)
    into = open_memmap(tmp_path / "k.npy", mode="w+", dtype=np.float64, shape=(n, n))
    depths = range(5) if jk else [4]
    diag = colour_pairs.colour_pair_gram(cols, 4, 2, into, depths, max_bytes=budget)
    want = parts.sum(0) if jk else parts[4]
    np.testing.assert_allclose(np.asarray(into), want, rtol=1e-12, atol=0)
    assert np.array_equal(np.asarray(into), np.asarray(into).T)
    np.testing.assert_allclose(diag, np.diagonal(parts, axis1=1, axis2=2), rtol=1e-12, atol=0)
    ref = reference_gntk(graphs, 5, 2, "degree", jk, dtype=np.longdouble, snap_ulps=32)
    np.testing.assert_allclose(np.asarray(into), ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("budget_held", [None, 1])
def test_the_gram_summed_on_its_upper_triangle_never_writes_the_lower_one(budget_held):
    """colour_pair_gram(upper=True): the Gram in the upper triangle (the diagonal included), the lower triangle
    left as it was (NaN here: never written, so its pages are never mapped in a fresh np.zeros), equal to the
    per-depth readouts combined; write_by_bands(upper=True) writes the whole symmetric Gram from it, cosine
    too."""
    from fastgnn.gntk import colour_blocks
    from fastgnn.gntk.outofcore import write_by_bands
    from fastgnn.gram import cosine

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 4, "uniform")
    sizes, n = cols.sizes, cols.num_graphs
    budget = 2**32 if budget_held is None else 2 * colour_blocks.held_bytes(sizes, budget_held + 1, 8) - 1
    want = colour_pairs.colour_pair_readouts(cols, 4, 2, max_bytes=2**32).sum(0)
    into = np.zeros((n, n))
    lower = np.tril_indices(n, -1)
    into[lower] = np.nan
    diag = colour_pairs.colour_pair_gram(cols, 4, 2, into, range(5), max_bytes=budget, upper=True)
    assert np.isnan(into[lower]).all()
    upper = np.triu_indices(n)
    np.testing.assert_allclose(into[upper], want[upper], rtol=1e-12, atol=0)
    out = np.empty((n, n))
    write_by_bands(into, out, band_bytes=8 * n * 5, upper=True)  # bands of 5 rows
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=0)
    assert np.array_equal(out, out.T)
    write_by_bands(into, out, diag.sum(0), band_bytes=8 * n * 7, upper=True)
    np.testing.assert_allclose(out, cosine(want, np.diagonal(want)), rtol=1e-12, atol=1e-15)


def test_readouts_into_a_memory_map_equal_those_in_memory(tmp_path):
    from numpy.lib.format import open_memmap

    cols = colour_pairs.dataset_colours(_deep_set(), 4, "uniform")
    want = colour_pairs.colour_pair_readouts(cols, 4, 2, max_bytes=2**32)
    out = open_memmap(tmp_path / "r.npy", mode="w+", dtype=np.float64, shape=want.shape)
    got = colour_pairs.colour_pair_readouts(cols, 4, 2, max_bytes=2**32, out=out)
    assert got is out and np.array_equal(np.asarray(out), want)
    with pytest.raises(ValueError, match="shape"):
        colour_pairs.colour_pair_readouts(cols, 4, 2, out=np.zeros((2, 3, 3)))


@pytest.mark.parametrize("normalize", [True, False])
def test_fit_transform_to_disk_without_readouts(tmp_path, normalize):
    """Out of core on colour pairs, the Gram alone: equal to fit_transform; no readouts file (a stale one
    from an earlier run is removed, never served); the node-pair engine gives the same and removes its own."""
    graphs = _deep_set()
    want = GNTK(num_layers=4, normalize=normalize, colour_pairs=False, progress=False).fit_transform(graphs)
    (tmp_path / "readouts.npy").write_bytes(b"stale")
    for choice in (True, False):
        est = GNTK(num_layers=4, normalize=normalize, colour_pairs=choice, progress=False)
        disk = est.fit_transform_to_disk(graphs, tmp_path, readouts=False)
        assert disk.readouts is None and not (tmp_path / "readouts.npy").exists()
        np.testing.assert_allclose(np.asarray(disk.gram), want, rtol=1e-10, atol=1e-12)
        assert est.self_readouts_.shape == (4, len(graphs))
    kept = GNTK(num_layers=4, normalize=normalize, colour_pairs=True, progress=False).fit_transform_to_disk(
        graphs, tmp_path / "kept")
    np.testing.assert_allclose(np.asarray(kept.gram), want, rtol=1e-10, atol=1e-12)
    assert kept.readouts.shape == (4, len(graphs), len(graphs))


def test_symmetrize_in_place_equals_a_plus_its_transpose():
    from fastgnn.gntk import _colour_kernels as ck

    a = np.random.default_rng(0).standard_normal((131, 131))
    want = a + a.T
    ck.symmetrize(a)
    assert np.array_equal(a, want)


def test_the_gram_summed_in_float32_and_its_memory_check(tmp_path, monkeypatch):
    from fastgnn import budget

    graphs = _deep_set()
    want = GNTK(num_layers=4, colour_pairs=False, progress=False).fit_transform(graphs)
    disk = GNTK(num_layers=4, dtype="float32", colour_pairs=True, progress=False).fit_transform_to_disk(
        graphs, tmp_path, readouts=False)
    assert disk.gram.dtype == np.float64
    np.testing.assert_allclose(np.asarray(disk.gram), want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
    monkeypatch.setattr(budget, "available_ram", lambda: 100.0)
    with pytest.raises(MemoryError, match=r"float64 \(its upper triangle\) is .* dtype='float32' halves it"):
        GNTK(num_layers=4, colour_pairs=True, progress=False).fit_transform_to_disk(graphs, tmp_path / "b",
                                                                                    readouts=False)


def test_distinct_feature_rows_by_projection_equal_those_by_bytes(monkeypatch):
    """Depth 0's colours: grouped by a random projection and checked exactly, numbered as grouping the rows'
    bytes numbers them; a projection that merges different rows (forced here: all zero) falls back to the
    bytes."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, size=(500, 6)).astype(np.float32)
    x[::7] = -0.0 * x[::7]
    x += 0.0
    want = colour_pairs._by_bytes(x)
    for got in (colour_pairs._distinct_rows(x),):
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))

    monkeypatch.setattr(colour_pairs, "_projection_vector", np.zeros)
    got = colour_pairs._distinct_rows(x)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert len(np.unique(want[1])) > 1
