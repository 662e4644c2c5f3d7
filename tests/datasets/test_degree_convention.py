"""Degree features as Du et al.'s and Xu et al.'s util.py make them: networkx's degree, a self-loop counting 2."""

import networkx as nx
import numpy as np
import pytest

from fastgnn.datasets.raw import degrees, symmetrise


@pytest.mark.parametrize("seed", range(5))
def test_degrees_are_networkx_degrees(seed):
    rng = np.random.default_rng(seed)
    n = 12
    edges = rng.integers(0, n, size=(2, 30))  # duplicates, both directions and self-loops among them
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.T.tolist())
    want = np.array([g.degree(u) for u in range(n)])
    assert (edges[0] == edges[1]).any()
    assert np.array_equal(degrees(symmetrise(edges[0], edges[1], n), n), want)
