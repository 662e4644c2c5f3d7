"""The molhiv-like generator: its statistics (size, degrees, atom types, rings, labels) and determinism.

The statistics are recomputed here from the edge lists with networkx-free NumPy (degrees) and a
union-find (connectivity, cycle rank), independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastgnn.datasets import molhiv_like
from fastgnn.datasets.molhiv_like import ATOM_TYPES


@pytest.fixture(scope="module")
def ds():
    return molhiv_like(2000, seed=1)


def components(n: int, ei: np.ndarray) -> int:
    parent = list(range(n))

    def find(u):
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for u, v in ei.T:
        parent[find(int(u))] = find(int(v))
    return len({find(u) for u in range(n)})


def test_size_matches_molhiv(ds):
    nodes = np.array([g.num_nodes for g in ds])
    edges = np.array([g.edge_index.shape[1] / 2 for g in ds])
    assert nodes.mean() == pytest.approx(25.5, abs=0.3)
    assert edges.mean() == pytest.approx(27.5, abs=0.4)
    assert nodes.min() >= 2 and nodes.max() <= 222
    assert 18 <= np.median(nodes) <= 26  # a skew to the right, as molecule sizes


def test_molecule_like_structure(ds):
    deg_all, cycle_rank = [], []
    for g in ds:
        ei = g.edge_index.numpy()
        n = g.num_nodes
        assert not np.any(ei[0] == ei[1]), "no self-loops"
        keys = ei[0] * n + ei[1]
        assert np.unique(keys).size == keys.size, "no duplicate edges"
        assert np.array_equal(np.sort(ei[1] * n + ei[0]), np.sort(keys)), "symmetric"
        assert components(n, ei) == 1, "connected"
        deg = np.bincount(ei[0], minlength=n)
        deg_all.append(deg)
        cycle_rank.append(ei.shape[1] // 2 - n + 1)
        assert g.meta["rings"] == cycle_rank[-1]
    deg = np.concatenate(deg_all)
    share = np.bincount(deg, minlength=5) / deg.size
    assert deg.max() <= 4
    assert share[2] + share[3] > 0.6, "mostly degree 2-3"
    assert 0.1 < share[1] < 0.35 and share[4] < 0.08
    rank = np.array(cycle_rank)
    assert rank.mean() == pytest.approx(3.0, abs=0.3)
    assert (rank == 0).mean() > 0.02 and (rank >= 1).mean() > 0.8, "a few rings, some acyclic molecules"


def test_atom_types_and_labels(ds):
    x = torch.cat([g.x for g in ds])
    assert x.shape[1] == len(ATOM_TYPES) == 9
    assert torch.all(x.sum(1) == 1)
    tags = np.concatenate([g.meta["tags"] for g in ds])
    freq = np.bincount(tags, minlength=9) / tags.size
    assert freq[0] > 0.65 and freq[0] == freq.max(), "carbon dominates"
    assert np.all(freq > 0), "every type occurs"
    # valence: halogens (valence 1) are terminal, oxygen has at most 2 bonds
    deg = np.concatenate([np.bincount(g.edge_index[0].numpy(), minlength=g.num_nodes) for g in ds])
    valence = np.array([v for _, _, v in ATOM_TYPES])
    assert np.all(deg <= valence[tags])
    assert set(np.unique(ds.y)) == {0, 1}
    assert 0.02 < ds.y.mean() < 0.06
    assert len(ds.folds) == 10
    for _, test in ds.folds:  # stratified: every test fold holds positives
        assert ds.y[test].sum() >= 1


def test_deterministic_and_validated():
    a, b = molhiv_like(50, positive_rate=0.3, seed=3), molhiv_like(50, positive_rate=0.3, seed=3)
    c = molhiv_like(50, positive_rate=0.3, seed=4)
    assert all(torch.equal(g.edge_index, h.edge_index) and torch.equal(g.x, h.x) for g, h in zip(a, b))
    assert np.array_equal(a.y, b.y)
    assert not all(g.num_nodes == h.num_nodes and torch.equal(g.edge_index, h.edge_index) for g, h in zip(a, c))
    with pytest.raises(ValueError, match="mean_edges"):
        molhiv_like(10, mean_edges=20.0)
    with pytest.raises(ValueError, match="positive_rate"):
        molhiv_like(10, positive_rate=0.0)
    with pytest.raises(ValueError, match="max_degree"):
        molhiv_like(10, max_degree=5)
