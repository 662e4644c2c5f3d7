"""Ã and its self-loop convention (gntk/adjacency.py) against a transcription of Du et al.'s ``gram.py``
(networkx edge list, ``A + Aᵀ + I``), through every engine of the kernel."""

import numpy as np
import pytest
import torch

try:
    from .finite_gnn import du_et_al_adjacency, reference_gntk
    from .test_colour_pairs import small_set, tagged_graph
except ImportError:
    from finite_gnn import du_et_al_adjacency, reference_gntk
    from test_colour_pairs import small_set, tagged_graph

from fastgnn import GNTK, Graph
from fastgnn.gntk.adjacency import LOOP_WEIGHTS, adjacency_entries, dense_adjacency


def _with_loops(seed):
    """Graphs with self-loops (some listed twice, in both directions of a duplicated edge list)."""
    graphs = [tagged_graph(n, seed + n, self_loops=2, isolated=int(n % 3 == 0)) for n in range(1, 9)]
    g = graphs[4]
    doubled = torch.cat([g.edge_index, g.edge_index], 1)  # every edge and loop listed twice
    graphs.append(Graph(edge_index=doubled, num_nodes=g.num_nodes, x=g.x))
    return graphs


@pytest.mark.parametrize("loop_weight", LOOP_WEIGHTS)
def test_entries_are_du_et_al_adjacency(loop_weight):
    for g in _with_loops(0):
        want = du_et_al_adjacency(g, loop_weight)
        rows, cols, w = adjacency_entries(g.edge_index.numpy(), g.num_nodes, loop_weight)
        got = np.zeros_like(want)
        got[rows, cols] = w
        assert np.array_equal(got, want)
        assert np.array_equal(dense_adjacency(g, loop_weight).numpy(), want)


def test_default_is_du_et_al_three():
    g = tagged_graph(4, 1, self_loops=1)
    assert GNTK().self_loop_weight == 3
    assert np.diag(du_et_al_adjacency(g)).max() == 3


@pytest.mark.parametrize("loop_weight", LOOP_WEIGHTS)
@pytest.mark.parametrize("engine", [dict(colour_pairs=True), dict(colour_pairs=False, compress=True),
                                    dict(colour_pairs=False, compress=False),
                                    dict(method="decoupled", compress=False)])
def test_every_engine_equals_du_et_al_on_self_loops(loop_weight, engine):
    graphs = _with_loops(3) + small_set(seed=4)
    for scale in ("uniform", "degree"):
        ref = reference_gntk(graphs, 3, 2, scale, True, dtype=np.longdouble, snap_ulps=32, loop_weight=loop_weight)
        got = GNTK(num_layers=3, num_mlp_layers=2, scale=scale, self_loop_weight=loop_weight, progress=False,
                   **engine).fit_transform(graphs)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_the_three_readings_of_a_triangle_with_a_loop_differ():
    """The issue's example: a triangle with one self-loop gives three different kernels, and
    Du et al.'s code's is the default."""
    tri = Graph(edge_index=torch.tensor([[0, 1, 1, 2, 2, 0, 0], [1, 0, 2, 1, 0, 2, 0]]), num_nodes=3,
                x=torch.ones(3, 1, dtype=torch.float64))
    values = {w: GNTK(num_layers=3, self_loop_weight=w).fit_transform([tri])[0, 0] for w in LOOP_WEIGHTS}
    assert len({round(v, 6) for v in values.values()}) == 3
    assert values[3] == GNTK(num_layers=3).fit_transform([tri])[0, 0]
    ref = {w: reference_gntk([tri], 3, 2, "uniform", True, loop_weight=w)[0, 0] for w in LOOP_WEIGHTS}
    np.testing.assert_allclose([values[w] for w in LOOP_WEIGHTS], [ref[w] for w in LOOP_WEIGHTS], rtol=1e-12)


def test_without_loops_the_weight_changes_nothing():
    graphs = small_set(seed=11)
    graphs = [Graph(edge_index=g.edge_index[:, g.edge_index[0] != g.edge_index[1]], num_nodes=g.num_nodes, x=g.x)
              for g in graphs]
    grams = [GNTK(num_layers=3, self_loop_weight=w).fit_transform(graphs) for w in LOOP_WEIGHTS]
    assert all(np.array_equal(grams[0], k) for k in grams[1:])


def test_pyg_add_self_loops_with_weight_one_is_the_graph_without_them():
    """A graph in PyG's convention after add_self_loops lists every node's loop; weight 1 reads it as Ã = A + I."""
    plain = [Graph(edge_index=g.edge_index[:, g.edge_index[0] != g.edge_index[1]], num_nodes=g.num_nodes, x=g.x)
             for g in small_set(seed=12)]
    looped = [Graph(edge_index=torch.cat([g.edge_index, torch.arange(g.num_nodes).repeat(2, 1)], 1),
                    num_nodes=g.num_nodes, x=g.x) for g in plain]
    want = GNTK(num_layers=3).fit_transform(plain)
    assert np.array_equal(GNTK(num_layers=3, self_loop_weight=1).fit_transform(looped), want)
    assert not np.allclose(GNTK(num_layers=3).fit_transform(looped), want)


@pytest.mark.parametrize("bad", [0, 4, 2.5, True, "3"])
def test_other_weights_are_refused_naming_the_parameter(bad):
    with pytest.raises(ValueError, match="self_loop_weight"):
        GNTK(self_loop_weight=bad).fit([tagged_graph(3, 0)])
