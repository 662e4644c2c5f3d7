"""Colour classes (fastgnn.gntk.colour) against networkx's Weisfeiler-Lehman hashing and by definition.

The partition must be (a) equitable for Ã = Graph.adjacency(self_loops=True), checked here on the
dense matrix, (b) a refinement of the feature classes, and (c) the coarsest such: equal to the
stable colouring of an independent 1-WL implementation (networkx's subgraph hashes after N
iterations), on random graphs and on graphs built to have large classes.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from fastgnn.gntk import colour
from fastgnn.gntk.colour import colour_classes, colour_classes_many
from fastgnn.graph import Graph

try:
    from .finite_gnn import du_et_al_adjacency
except ImportError:
    from finite_gnn import du_et_al_adjacency


def make_graph(edges, n: int, labels=None, num_labels: int = 3) -> Graph:
    """An undirected graph from an edge list (both directions), one-hot features of ``labels``."""
    labels = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels)
    x = torch.nn.functional.one_hot(torch.as_tensor(labels, dtype=torch.long), num_labels).double()
    e = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    ei = torch.as_tensor(np.concatenate([e, e[:, ::-1]]).T.copy())
    return Graph(ei, n, x)


def from_nx(g: nx.Graph, labels=None) -> Graph:
    g = nx.convert_node_labels_to_integers(g)
    return make_graph(g.edges(), g.number_of_nodes(), labels)


def wl_partition(graph: Graph) -> np.ndarray:
    """Class ids from networkx's WL subgraph hashes after N iterations (stable by then)."""
    g = nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    g.add_edges_from(graph.edge_index.T.tolist())
    for u in range(graph.num_nodes):
        g.nodes[u]["f"] = repr(graph.x[u].tolist())
    hashes = nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="f", iterations=graph.num_nodes)
    final = [hashes[u][-1] if hashes[u] else g.nodes[u]["f"] for u in range(graph.num_nodes)]
    return np.unique(final, return_inverse=True)[1]


def same_partition(a, b) -> bool:
    pairs = set(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
    return len(pairs) == len(set(np.asarray(a).tolist())) == len(set(np.asarray(b).tolist()))


def check_quotient(graph: Graph, c, loop_weight: int = 3) -> None:
    """Equitable on the dense Ã (Du et al.'s), sizes, Q, numbering by first node, feature classes respected."""
    a = du_et_al_adjacency(graph, loop_weight)
    onehot = np.eye(c.num_classes)[c.labels]
    per_node = a @ onehot  # W[u, K] = Σ_{a ∈ K} Ã[u, a]
    np.testing.assert_array_equal(per_node, c.counts[c.labels])
    np.testing.assert_array_equal(c.sizes, onehot.sum(0))
    firsts = [int(np.flatnonzero(c.labels == k)[0]) for k in range(c.num_classes)]
    assert firsts == sorted(firsts) == c.firsts.tolist()
    x = graph.x.numpy()
    np.testing.assert_array_equal(x, x[np.array(firsts)][c.labels])


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_match_networkx_wl(seed):
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(12):
        n = int(rng.integers(1, 25))
        g = nx.gnp_random_graph(n, float(rng.uniform(0.0, 0.4)), seed=int(rng.integers(2**31)))
        graphs.append(from_nx(g, rng.integers(0, int(rng.integers(1, 4)), n)))
    together = colour_classes_many(graphs)
    for g, c in zip(graphs, together):
        assert same_partition(c.labels, wl_partition(g))
        check_quotient(g, c)
        np.testing.assert_array_equal(c.labels, colour_classes(g).labels)  # the batch does not mix graphs


BUILT = {
    "star": (nx.star_graph(9), 2),
    "complete bipartite 3x5": (nx.complete_bipartite_graph(3, 5), 2),
    "complete bipartite 4x4": (nx.complete_bipartite_graph(4, 4), 1),
    "disjoint cliques 4+4+4": (nx.disjoint_union_all([nx.complete_graph(4)] * 3), 1),
    "disjoint cliques 3+5": (nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(5)), 2),
    "3-regular (1-WL separates nothing)": (nx.random_regular_graph(3, 20, seed=1), 1),
    "cycle": (nx.cycle_graph(11), 1),
    "path": (nx.path_graph(7), 4),
    "no edges": (nx.empty_graph(6), 1),
    "one node": (nx.empty_graph(1), 1),
}


@pytest.mark.parametrize("name", list(BUILT))
def test_built_graphs_with_large_classes(name):
    g, classes = BUILT[name]
    graph = from_nx(g)
    c = colour_classes(graph)
    assert c.num_classes == classes
    assert same_partition(c.labels, wl_partition(graph))
    check_quotient(graph, c)


def test_features_split_classes_and_isolated_nodes():
    """A star whose leaves carry two labels, plus two isolated nodes of different labels."""
    graph = make_graph([(0, k) for k in range(1, 7)], 9, [0, 1, 1, 1, 2, 2, 2, 1, 2])
    c = colour_classes(graph)
    assert c.num_classes == 5  # centre, two leaf labels, two isolated nodes
    assert same_partition(c.labels, wl_partition(graph))
    check_quotient(graph, c)


@pytest.mark.parametrize("loop_weight", [3, 2])
def test_a_listed_self_loop_separates_the_ends_of_a_path(loop_weight):
    """A path 0-1-2 with a self-loop on node 0: Ã[0, 0] = 3 (Du et al.'s A + Aᵀ + I) or 2 separates the
    two ends; with weight 1 (the set reading N(u) ∪ {u}) the loop changes nothing."""
    ei = torch.tensor([[0, 1, 1, 2, 0], [1, 0, 2, 1, 0]])
    graph = Graph(ei, 3, torch.ones(3, 1))
    c = colour_classes(graph, loop_weight=loop_weight)
    assert c.num_classes == 3
    check_quotient(graph, c, loop_weight)
    plain = colour_classes(Graph(ei[:, :4], 3, torch.ones(3, 1)))
    assert plain.num_classes == 2
    assert colour_classes(graph, loop_weight=1).num_classes == 2


def test_duplicate_and_one_directional_edges_count_once():
    """Ã is symmetrised and deduplicated: an edge listed twice, or in one direction only, is one edge."""
    ei = torch.tensor([[0, 0, 0, 1, 2], [1, 1, 2, 0, 0]])  # 0-1 twice, 0->2 plus 2->0, no 1-2
    graph = Graph(ei, 3, torch.ones(3, 1))
    c = colour_classes(graph)
    check_quotient(graph, c)
    assert c.num_classes == 2


def test_non_equitable_partition_is_rejected(monkeypatch):
    """The exact check behind the hash: a partition that is not equitable (here the feature classes
    of a path) is refused by ``_split``, and a hash collision (simulated: the first refinement returns
    its starting colours unrefined) is recovered from by refining again."""
    graph = from_nx(nx.path_graph(5))
    colours = colour._feature_classes([graph], np.array([5]))
    rows, cols, weights = colour.adjacency_entries(graph.edge_index.numpy(), 5)
    assert colour._split(colours, rows, cols, weights, np.array([0, 5])) is None
    real, calls = colour._refine, []

    def collide_once(start, *args):
        calls.append(1)
        return start if len(calls) == 1 else real(start, *args)

    monkeypatch.setattr(colour, "_refine", collide_once)
    c = colour_classes(graph)
    assert len(calls) == 2 and c.num_classes == 3
    check_quotient(graph, c)


def test_feature_dimensions_must_agree():
    with pytest.raises(ValueError, match="feature dimensions"):
        colour_classes_many([make_graph([], 2), Graph(torch.zeros(2, 0, dtype=torch.long), 2, torch.ones(2, 1))])


def test_float_features_compared_exactly():
    """Features that differ in the last bit are different classes; −0.0 equals 0.0."""
    x = torch.tensor([[1.0, 0.0], [1.0 + 2**-52, 0.0], [1.0, -0.0]], dtype=torch.float64)
    graph = Graph(torch.zeros(2, 0, dtype=torch.long), 3, x)
    c = colour_classes(graph)
    np.testing.assert_array_equal(c.labels, [0, 1, 0])


def test_batches_of_the_union_give_the_same_classes(monkeypatch):
    """Graphs are refined in batches of at most BATCH_EDGES edges: tiny batches, the same classes."""
    rng = np.random.default_rng(9)
    graphs = [from_nx(nx.gnp_random_graph(int(n), 0.3, seed=int(n)), rng.integers(0, 2, int(n)))
              for n in rng.integers(1, 15, 20)]
    whole = colour_classes_many(graphs)
    monkeypatch.setattr(colour, "BATCH_EDGES", 30)
    batched = colour_classes_many(graphs)
    for a, b in zip(whole, batched):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.counts, b.counts)
