"""``torch_sparse.SparseTensor`` input, through a stand-in with the four methods the layers call
(``coo``, ``sparse_sizes``, ``size``, the ``row/col/value/sparse_sizes`` constructor): torch_sparse
does not build against this torch, so the real class cannot be installed. With the real package
the same code paths run. Checked against the same graph given as ``edge_index``."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from fastgnn.nn import GATConv, GCNConv, gcn_norm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class SparseTensor:
    """The slice of torch_sparse's SparseTensor API that fastgnn.nn uses."""

    def __init__(self, row, col, value=None, sparse_sizes=None):
        self._row, self._col, self._value, self._sizes = row, col, value, tuple(sparse_sizes)

    def coo(self):
        return self._row, self._col, self._value

    def sparse_sizes(self):
        return self._sizes

    def size(self, dim):
        return self._sizes[dim]


SparseTensor.__module__ = "torch_sparse"


@pytest.fixture(autouse=True)
def fake_torch_sparse(monkeypatch):
    if "torch_sparse" not in sys.modules:
        monkeypatch.setitem(sys.modules, "torch_sparse", types.ModuleType("torch_sparse"))


EDGES = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 0, 4, 3, 2]])  # no self-loops, no duplicates


def adj_t(edge_index, n, value=None):
    return SparseTensor(row=edge_index[1], col=edge_index[0], value=value, sparse_sizes=(n, n))


def test_gcn_conv_takes_a_sparse_tensor_adj_t():
    torch.manual_seed(0)
    x, w = torch.randn(5, 3), torch.rand(6) + 0.1
    conv = GCNConv(3, 2)
    torch.testing.assert_close(conv(x, adj_t(EDGES, 5)), conv(x, EDGES))
    torch.testing.assert_close(conv(x, adj_t(EDGES, 5, w)), conv(x, EDGES, w))


def test_gat_conv_takes_a_sparse_tensor_and_returns_one_of_attention_weights():
    torch.manual_seed(1)
    x = torch.randn(5, 3)
    conv = GATConv(3, 2, heads=2)
    out, alpha = conv(x, adj_t(EDGES, 5), return_attention_weights=True)
    out2, (edge_index, alpha2) = conv(x, EDGES, return_attention_weights=True)
    torch.testing.assert_close(out, out2)
    assert isinstance(alpha, SparseTensor) and alpha.sparse_sizes() == (5, 5)
    row, col, value = alpha.coo()
    dense, dense2 = torch.zeros(5, 5, 2), torch.zeros(5, 5, 2)
    dense[row, col] = value
    dense2[edge_index[1], edge_index[0]] = alpha2
    torch.testing.assert_close(dense, dense2)


def test_cached_gcn_conv_reuses_the_operator_of_the_same_sparse_tensor():
    x, adj = torch.randn(5, 3), adj_t(EDGES, 5)
    conv = GCNConv(3, 2, cached=True)
    conv(x, adj)
    first = conv._cached_edge_index
    assert first is not None
    conv(x, adj)
    assert conv._cached_edge_index is first
    conv(x, adj_t(EDGES, 5))  # another object: rebuilt
    assert conv._cached_edge_index is not first


def test_functional_gcn_norm_returns_a_sparse_tensor():
    """PyG's gcn_norm returns a SparseTensor (not a tuple) for one, its diagonal set to 1 (2 with
    improved): the same matrix as the edge_index form, which has no self-loops to replace here."""
    w = torch.rand(6) + 0.1
    for improved in (False, True):
        out = gcn_norm(adj_t(EDGES, 5, w), improved=improved)
        assert isinstance(out, SparseTensor) and out.sparse_sizes() == (5, 5)
        row, col, value = out.coo()
        edge_index, weight = gcn_norm(EDGES, w, 5, improved=improved)
        dense, dense2 = torch.zeros(5, 5), torch.zeros(5, 5)
        dense[row, col] = value
        dense2.index_put_((edge_index[1], edge_index[0]), weight, accumulate=True)
        torch.testing.assert_close(dense, dense2)
