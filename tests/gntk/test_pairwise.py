"""The per-graph preparation of :mod:`fastgnn.gntk.pairwise`: the self-diagonals of large sparse graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastgnn.gntk import pairwise
from fastgnn.gntk.recursion import self_diagonals
from fastgnn.graph import Graph

KW = dict(num_blocks=3, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None, sketch_kind="ams",
          seed=0, dtype=torch.float64, device="cpu", compress=False)


def _sparse_graph(n: int, seed: int) -> Graph:
    """A cycle of n nodes with n // 4 random chords and a self-loop, one-hot labels of 5 kinds."""
    rng = np.random.default_rng(seed)
    src = np.concatenate([np.arange(n), rng.integers(0, n, n // 4), [3]])
    dst = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, n // 4), [3]])
    x = torch.nn.functional.one_hot(torch.from_numpy(rng.integers(0, 5, n)), 5).to(torch.float64)
    return Graph(edge_index=torch.from_numpy(np.stack([src, dst])), num_nodes=n, x=x)


@pytest.mark.parametrize("scale", ["uniform", "degree"])
def test_large_sparse_graphs_get_their_self_diagonals_by_sparse_products(monkeypatch, scale):
    """A graph of at least SPARSE_SELF_MIN_ROWS rows and density under SPARSE_SELF_DENSITY takes sparse
    products ``a (a s)ᵀ``; its diagonals equal the dense ``a s aᵀ`` ones (rounding apart), and a dense
    graph of that size keeps the dense product."""
    monkeypatch.setattr(pairwise, "SPARSE_SELF_MIN_ROWS", 64)  # small graphs, quick test
    calls = []
    original = torch.Tensor.to_sparse_csr
    monkeypatch.setattr(torch.Tensor, "to_sparse_csr", lambda t, *a, **k: calls.append(t.shape) or original(t, *a, **k))
    graphs = [_sparse_graph(150, 0), _sparse_graph(90, 1)]
    ops = pairwise.prepare_many(graphs, **{**KW, "scale": scale})
    assert calls == [(150, 150), (90, 90)]
    for op in ops:
        ref = self_diagonals(op.x, lambda s, a=op.a: a @ s @ a.T, 3, 2)
        for got, want in zip(op.diags, ref, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    # dense: an 80-node graph with every edge stays on the dense product
    n = 80
    full = Graph(edge_index=torch.combinations(torch.arange(n)).T.contiguous(), num_nodes=n,
                 x=torch.ones(n, 1, dtype=torch.float64))
    calls.clear()
    pairwise.prepare_many([full], **KW)
    assert calls == []
