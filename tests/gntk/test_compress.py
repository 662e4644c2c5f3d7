"""The GNTK on colour classes (``GNTK(compress=...)``) equals the node-level kernel (issue 12's "Done when").

Reference: the node-level recursion of Du et al. written out here in extended precision
(``np.longdouble``: 64-bit mantissa on x86), per graph pair with the decoupled aggregation
``C_G A_G Σ A_Hᵀ C_H`` on the dense Ã = ``Graph.adjacency(self_loops=True)``, sharing no code with
fastgnn.  Like fastgnn it takes ρ within 32 ulps of ±1 as ±1, but ulps of the extended type
(~3.5e-18): a node against an identical computation tree has ρ = 1 exactly, and without the snap
the reference's own rounding would move arccos by ~3e-10 there.

Checked: compressed and uncompressed each within 1e-10 (relative to the largest entry) of the
reference and within 2e-10 of each other (near ρ = 1 arccos turns one-ulp differences of summation
order into ~1e-10), for depths 2-4 with and without jk (one pass of 4 layers: shallower kernels are
prefixes), both scales, both tiles (the compiled numba tile and the torch tile), ``fit_transform``,
``readouts`` and ``transform``; on seeded subsets of the six benchmark sets (skipped without
``../shared/datasets``), a COLLAB-like generated set, graphs built to have large classes, and the
corner cases: no edges, isolated nodes, one node, every node its own class.
"""

from __future__ import annotations

import contextlib

import networkx as nx
import numpy as np
import pytest
import torch
from conftest import load_shared, rel

from fastgnn import GNTK
from fastgnn.datasets.synthetic import COLLAB_PRESET, synthetic
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.pairwise import prepare_many
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.graph import Graph

LD = np.longdouble
NUM_LAYERS, NUM_MLP_LAYERS = 4, 2
TU_SETS = ["MUTAG", "PTC", "PROTEINS", "NCI1", "IMDBBINARY", "IMDBMULTI"]

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(np.finfo(LD).eps > 1e-18, reason="np.longdouble is not extended precision here"),
]


# --------------------------------------------------------------------------- extended-precision reference


def _relu_ld(sigma, d_left, d_right):
    """(Σ', Σ̇) of one ReLU layer in extended precision (c_σ = 2), ρ snapped within 32 ulps of ±1."""
    pi = np.arccos(LD(-1))
    norm = np.outer(d_left, d_right)
    rho = np.divide(sigma, norm, out=np.zeros_like(sigma), where=norm > 0)
    rho = np.clip(rho, LD(-1), LD(1))
    tol = 32 * np.finfo(LD).eps
    rho = np.where(rho > 1 - tol, LD(1), np.where(rho < -1 + tol, LD(-1), rho))
    theta = np.arccos(rho)
    return (rho * (pi - theta) + np.sqrt(1 - rho * rho)) / pi * norm, (pi - theta) / pi


def _operands_ld(graph: Graph, scale: str):
    a = graph.adjacency(self_loops=True).numpy().astype(LD)
    if scale == "degree":
        a = a / a.sum(1, keepdims=True)
    return a, graph.x.numpy().astype(LD)


def _self_diagonals_ld(a, x, blocks, r):
    sigma = a @ (x @ x.T) @ a.T
    out = []
    for b in range(blocks):
        for _ in range(r):
            d = np.sqrt(np.clip(np.diagonal(sigma), 0, None))
            out.append(d)
            sigma, _ = _relu_ld(sigma, d, d)
        if b < blocks - 1:
            sigma = a @ sigma @ a.T
    return out


def _pair_ld(g, h, blocks, r):
    (a_g, x_g, d_g), (a_h, x_h, d_h) = g, h
    sigma = x_g @ x_h.T
    out = [sigma.sum()]
    sigma = a_g @ sigma @ a_h.T
    theta = sigma.copy()
    for b in range(blocks):
        for k in range(b * r, (b + 1) * r):
            sigma, dot = _relu_ld(sigma, d_g[k], d_h[k])
            theta = theta * dot + sigma
        out.append(theta.sum())
        if b < blocks - 1:
            sigma, theta = a_g @ sigma @ a_h.T, a_g @ theta @ a_h.T
    return out


def reference_readouts(graphs, scale, num_layers=NUM_LAYERS, num_mlp_layers=NUM_MLP_LAYERS) -> np.ndarray:
    """``[num_layers, n, n]`` node-level readouts in extended precision, returned as float64."""
    blocks = num_layers - 1
    ops = []
    for g in graphs:
        a, x = _operands_ld(g, scale)
        ops.append((a, x, _self_diagonals_ld(a, x, blocks, num_mlp_layers)))
    n = len(graphs)
    out = np.zeros((num_layers, n, n), dtype=LD)
    for i in range(n):
        for j in range(i, n):
            out[:, i, j] = out[:, j, i] = _pair_ld(ops[i], ops[j], blocks, num_mlp_layers)
    return out.astype(np.float64)


# --------------------------------------------------------------------------- graphs


def _subset(graphs, k: int, seed: int, max_nodes: int = 60):
    """k seeded random graphs of at most ``max_nodes`` nodes (the reference is O(N³) per pair in software
    extended precision), the largest such graph included."""
    small = [i for i, g in enumerate(graphs) if g.num_nodes <= max_nodes]
    rng = np.random.default_rng(seed)
    largest = max(small, key=lambda i: graphs[i].num_nodes)
    pick = {largest, *rng.choice(small, size=k, replace=False).tolist()}
    return [graphs[i] for i in sorted(pick)]


def _collab_like():
    """COLLAB's generator (one-hot degree features, dense ego-networks), 7 graphs of at most 45 nodes."""
    return synthetic(**{**COLLAB_PRESET, "num_graphs": 7, "min_nodes": 12, "max_nodes": 45, "mean_nodes": 25.0,
                        "mean_edges": 150.0}, seed=3).graphs


def _from_nx(g: nx.Graph, labels=None, num_labels: int = 3) -> Graph:
    g = nx.convert_node_labels_to_integers(g)
    n = g.number_of_nodes()
    labels = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels)
    x = torch.nn.functional.one_hot(torch.as_tensor(labels, dtype=torch.long), num_labels).double()
    e = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
    return Graph(torch.as_tensor(np.concatenate([e, e[:, ::-1]]).T.copy()), n, x)


def _built():
    """Graphs with large classes, and the corner cases, one-hot features of 3 labels."""
    asym = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (5, 6), (1, 7)])  # asymmetric: singleton classes
    return [
        _from_nx(nx.star_graph(12)),
        _from_nx(nx.star_graph(7), [1] + [0, 2] * 3 + [0]),
        _from_nx(nx.complete_bipartite_graph(3, 9)),
        _from_nx(nx.complete_bipartite_graph(6, 6), [2] * 12),
        _from_nx(nx.disjoint_union_all([nx.complete_graph(5)] * 3)),
        _from_nx(nx.random_regular_graph(3, 16, seed=2)),  # 1-WL separates nothing
        _from_nx(nx.random_regular_graph(4, 13, seed=5), [1] * 13),
        _from_nx(nx.cycle_graph(9)),
        _from_nx(nx.empty_graph(5)),  # no edges
        _from_nx(nx.empty_graph(4), [0, 1, 0, 2]),  # no edges, mixed labels
        _from_nx(nx.disjoint_union(nx.path_graph(4), nx.empty_graph(3))),  # isolated nodes
        _from_nx(nx.empty_graph(1), [2]),  # one node
        _from_nx(asym, [0, 1, 2, 0, 1, 2, 0, 1]),  # every node its own class
    ]


def _case(name: str):
    if name == "COLLAB-like":
        return _collab_like()
    if name == "built":
        return _built()
    return _subset(load_shared(name).graphs, 6, seed=11)


CASES = [*(pytest.param(n, marks=pytest.mark.data) for n in TU_SETS), "COLLAB-like", "built"]


def _gntk(scale, compress, **kw):
    """The node-pair engine (these tests are about its classes and tiles; colour pairs have their own file)."""
    return GNTK(num_layers=NUM_LAYERS, num_mlp_layers=NUM_MLP_LAYERS, scale=scale, jk=True, compress=compress,
                progress=False, colour_pairs=False, **kw)


@contextlib.contextmanager
def _use_tile(tile: str, monkeypatch):
    """The tile kind for the block (``"torch"``: the compiled tile switched off); yields a list that
    records each compiled-tile call."""
    if tile == "compiled" and not compiled_tile.available():
        pytest.skip("numba not installed, or FASTGNN_NO_NUMBA set: no compiled tile")
    calls = []
    real = compiled_tile.tile_readouts_fused
    monkeypatch.setattr(compiled_tile, "tile_readouts_fused", lambda *a, **k: calls.append(1) or real(*a, **k))
    with compiled_tile.config_context(enabled=False if tile == "torch" else None):
        yield calls


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("scale", ["uniform", "degree"])
@pytest.mark.parametrize("name", CASES)
def test_compressed_and_uncompressed_equal_the_extended_precision_kernel(name, scale, monkeypatch):
    graphs = _case(name)
    ref = reference_readouts(graphs, scale)
    for tile in ("compiled", "torch"):
        with monkeypatch.context() as mp, _use_tile(tile, mp) as calls:
            parts = {c: _gntk(scale, c).readouts(graphs) for c in (True, False)}
            assert bool(calls) == (tile == "compiled")
        for layers in range(2, NUM_LAYERS + 1):
            for jk in (True, False):
                want = combine_readouts(ref, layers, jk)
                got = {c: combine_readouts(p, layers, jk) for c, p in parts.items()}
                where = (name, scale, tile, layers, jk)
                assert rel(got[True], want) < 1e-10, where
                assert rel(got[False], want) < 1e-10, where
                assert rel(got[True], got[False]) < 2e-10, where


@pytest.mark.parametrize("tile", ["compiled", "torch"])
@pytest.mark.parametrize("name", CASES)
def test_fit_transform_and_transform_compressed(name, tile, monkeypatch):
    """``fit_transform`` (default ``compress="auto"``) and ``transform`` of new graphs against fitted
    ones (off-diagonal, non-symmetric tiles), depth 3 without jk and depth 4 with it."""
    graphs = _case(name)
    ref = reference_readouts(graphs, "uniform")
    cut = len(graphs) // 2
    with _use_tile(tile, monkeypatch):
        for layers, jk in ((3, False), (4, True)):
            want = combine_readouts(ref, layers, jk)
            kw = dict(num_layers=layers, num_mlp_layers=NUM_MLP_LAYERS, jk=jk, progress=False)
            assert rel(GNTK(**kw).fit_transform(graphs), want) < 1e-10
            for compress in ("auto", True, False):
                est = GNTK(compress=compress, **kw).fit(graphs[:cut])
                assert rel(est.transform(graphs[cut:]), want[cut:, :cut]) < 1e-10, (compress, layers, jk)


def test_the_built_graphs_do_compress():
    """The classes the tests above rely on: large classes are merged, singletons stay, and ``"auto"``
    leaves a graph whose every node is its own class on its nodes."""
    graphs = _built()
    kw = dict(num_blocks=2, num_mlp_layers=1, scale="uniform", method="decoupled", sketch_size=None,
              sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu")
    auto = prepare_many(graphs, compress="auto", **kw)
    rows = [op.num_rows for op in auto]
    assert rows[:8] == [2, 3, 2, 1, 1, 1, 1, 1]
    assert rows[8:12] == [1, 3, 2 + 1, 1]  # no edges; mixed labels; a path's 2 classes + isolated; one node
    assert rows[12] == graphs[12].num_nodes and auto[12].colouring is None  # singletons: not compressed
    forced = prepare_many(graphs, compress=True, **kw)
    assert forced[12].colouring is not None and forced[12].num_rows == graphs[12].num_nodes
    np.testing.assert_array_equal(forced[12].sizes.numpy(), np.ones(graphs[12].num_nodes))
    assert all(op.num_nodes == g.num_nodes and float(op.sizes.sum()) == g.num_nodes for op, g in zip(forced, graphs))


def test_sketched_kernel_stays_on_nodes():
    """The sketch is defined on a graph's nodes: ``"auto"`` runs it uncompressed (the same kernel as
    ``compress=False``), ``compress=True`` is refused with a message naming the argument."""
    graphs = _built()[:6]
    kw = dict(num_layers=3, sketch_size=4, seed=1, progress=False)
    est = GNTK(compress="auto", **kw)
    k_auto = est.fit_transform(graphs)
    assert all(op.colouring is None and op.num_rows == g.num_nodes for op, g in zip(est.fitted_, graphs))
    np.testing.assert_array_equal(k_auto, GNTK(compress=False, **kw).fit_transform(graphs))
    with pytest.raises(ValueError, match="compress=True"):
        GNTK(compress=True, **kw).fit(graphs)
    with pytest.raises(ValueError, match="compress"):
        GNTK(compress="yes").fit(graphs)


@pytest.mark.parametrize("layout", ["sparse", "dense"])
def test_both_torch_tile_layouts_take_class_operands(layout, tile_switches):
    """The torch tile's CSR layout and its padded dense layout (batched products; padding rows of weight
    0) on compressed operands, as one tile, against the reference."""
    from fastgnn.gntk.tiles import stack_operands, tile_readouts

    tile_switches(enabled=False)
    graphs = _built()
    ops = prepare_many(graphs, num_blocks=NUM_LAYERS - 1, num_mlp_layers=NUM_MLP_LAYERS, scale="degree",
                       method="decoupled", sketch_size=None, sketch_kind="ams", seed=0, dtype=torch.float64,
                       device="cpu", compress=True)
    left, right = stack_operands(ops[:7], False, layout), stack_operands(ops[7:], False, layout)
    assert (left.blocks is not None) == (layout == "dense")
    got = tile_readouts(left, right, NUM_LAYERS - 1, NUM_MLP_LAYERS).numpy()
    ref = reference_readouts(graphs, "degree")[:, :7, 7:]
    assert rel(got, ref) < 1e-10
