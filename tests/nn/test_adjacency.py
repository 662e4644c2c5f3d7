"""fastgnn.nn.adjacency: A' against a dense reference (and A'ᵀ kept), the aggregation's explicit
backward against gradcheck and the closed form dZ = A'ᵀ dY, the spmm and scatter paths agree, bad
arguments refused."""

from __future__ import annotations

import math

import pytest
import torch
from nn_references import GRAPHS, random_graph, reference_gcn_norm

from fastgnn.nn import GCNConv, aggregate, normalized_adjacency
from fastgnn.nn.adjacency import csr_from_rowptr, rowptr

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


@pytest.mark.parametrize("name", GRAPHS)
def test_normalized_adjacency_matches_dense_reference_and_keeps_transpose(name):
    edge_index, n = GRAPHS[name]
    adj = normalized_adjacency(edge_index, n, dtype=F64)
    ref = reference_gcn_norm(edge_index, n)
    torch.testing.assert_close(adj.to_dense(), ref)
    torch.testing.assert_close(adj.csr_t.to_dense(), ref.T)
    if name == "directed":
        assert not torch.allclose(ref, ref.T)  # the test graph really is directed


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("name", GRAPHS)
def test_aggregate_gradcheck_and_reference(name, impl):
    edge_index, n = GRAPHS[name]
    adj = normalized_adjacency(edge_index, n, dtype=F64)
    z = torch.randn(n, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: aggregate(t, adj, impl), (z,))
    ref = reference_gcn_norm(edge_index, n)
    dy = torch.randn(n, 3, dtype=F64)
    (got,) = torch.autograd.grad(aggregate(z, adj, impl), z, dy)
    (want,) = torch.autograd.grad(ref @ z, z, dy)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got, ref.T @ dy)  # eq. 10: dZ = A'ᵀ dY


def test_spmm_and_scatter_paths_agree_in_float32():
    edge_index, n = random_graph(200, 2000, seed=3), 200
    adj = normalized_adjacency(edge_index, n)
    z = torch.randn(n, 16, requires_grad=True)
    dy = torch.randn(n, 16)
    outs = []
    for impl in ("spmm", "scatter"):
        y = aggregate(z, adj, impl)
        (dz,) = torch.autograd.grad(y, z, dy)
        outs.append((y.detach(), dz))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-5)


def test_normalized_adjacency_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"empty graph: num_nodes must be > 0, got 0"):
        normalized_adjacency(torch.empty(2, 0, dtype=torch.long), 0)
    with pytest.raises(ValueError, match=r"edge_index\[1, 0\] = 3 \(target node\) is out of range for num_nodes=3"):
        normalized_adjacency(torch.tensor([[0], [3]]), 3)
    with pytest.raises(ValueError, match=r"aggr_impl must be one of"):
        GCNConv(3, 2, aggr_impl="dense")


def test_isolated_node_without_self_loops_gets_zero_not_inf():
    adj = normalized_adjacency(torch.tensor([[0], [1]]), 3, add_self_loops=False)
    dense = adj.to_dense()
    assert bool(torch.isfinite(dense).all())
    assert math.isclose(float(dense[1, 0]), 0.0)  # source 0 has in-degree 0: d_0^-1/2 taken as 0, as PyG


def test_rowptr_and_csr_from_rowptr_build_the_csr_of_sorted_entries():
    """Row pointers of unsorted row indices; the CSR tensor of entries sorted by row, hybrid values
    (one per head) included, equals the dense matrix."""
    row, col = torch.tensor([2, 0, 2, 3, 0]), torch.tensor([1, 3, 0, 3, 0])
    assert rowptr(row, 5).tolist() == [0, 2, 2, 4, 5, 5]
    order = torch.argsort(row * 4 + col)
    values = torch.arange(10, dtype=F64).view(5, 2)
    csr = csr_from_rowptr(rowptr(row, 5), col[order], values[order], 5, 4)
    dense = torch.zeros(5, 4, 2, dtype=F64)
    dense[row, col] = values
    assert csr.layout == torch.sparse_csr and csr.shape == (5, 4, 2)
    torch.testing.assert_close(csr.to_dense(), dense)
