"""DenseGCNConv: every behaviour PyTorch Geometric 2.8's ``test/nn/dense/test_dense_gcn_conv.py``
checks (the batched, masked form DiffPool uses equals the sparse layer on the unpadded graphs;
broadcasting), and the backward wrt the dense adjacency gradchecked in float64; the layer equals the
sparse one with the same weights and PyG's dense formula.  Against PyG itself:
``test_dense_gcn_conv_pyg.py``."""

from __future__ import annotations

import pytest
import torch
from nn_references import dense_adjacency, directed_graph

from fastgnn.nn import DenseGCNConv, GCNConv
from fastgnn.nn.gcn_conv import GCNFunction

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


def test_batched_masked_equals_sparse_layer_on_the_unpadded_graphs():
    channels = 16
    sparse_conv, dense_conv = GCNConv(channels, channels), DenseGCNConv(channels, channels)
    assert str(dense_conv) == "DenseGCNConv(16, 16)"
    dense_conv.lin.weight = sparse_conv.lin.weight  # PyG's test assigns the submodules' parameters
    dense_conv.bias = sparse_conv.bias
    torch.nn.init.normal_(sparse_conv.bias)
    x = torch.randn(5, channels)
    # a triangle (0, 1, 2) and an edge (3, 4): two graphs of 3 and 2 nodes
    edge_index = torch.tensor([[0, 0, 1, 1, 2, 2, 3, 4], [1, 2, 0, 2, 0, 1, 4, 3]])
    sparse_out = sparse_conv(x, edge_index)
    assert sparse_out.shape == (5, channels)

    x = torch.cat([x, x.new_zeros(1, channels)]).view(2, 3, channels)
    adj = torch.tensor([[[0, 1, 1], [1, 0, 1], [1, 1, 0]], [[0, 1, 0], [1, 0, 0], [0, 0, 0]]], dtype=torch.float)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    dense_out = dense_conv(x, adj, mask)
    assert dense_out.shape == (2, 3, channels)
    assert float(dense_out[1, 2].detach().abs().sum()) == 0  # the padding node's row, bias included
    torch.testing.assert_close(dense_out.view(6, channels)[:-1], sparse_out, atol=1e-5, rtol=1e-5)


def test_one_adjacency_broadcast_over_a_batch():
    batch_size, num_nodes, channels = 8, 3, 16
    conv = DenseGCNConv(channels, channels)
    x = torch.randn(batch_size, num_nodes, channels)
    adj = torch.tensor([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=torch.float)
    out = conv(x, adj)
    assert out.shape == (batch_size, num_nodes, channels)
    for b in range(batch_size):
        torch.testing.assert_close(out[b], conv(x[b], adj)[0])
    mask = torch.tensor([1, 1, 1], dtype=torch.bool)
    torch.testing.assert_close(conv(x, adj, mask), out)


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("add_loop", [True, False])
def test_gradcheck_wrt_x_weights_and_adjacency(improved, add_loop):
    """dX = A'ᵀ dY Wᵀ, dW, db and dA' = dY Zᵀ through the normalisation (a learned adjacency, as
    DiffPool's SᵀAS), with a padding mask."""
    torch.manual_seed(0)
    conv = DenseGCNConv(3, 2, improved=improved).double()
    x = torch.randn(2, 4, 3, dtype=F64, requires_grad=True)
    adj = torch.rand(2, 4, 4, dtype=F64, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    params = (conv.lin.weight, conv.bias)
    assert torch.autograd.gradcheck(lambda x, a, *p: conv(x, a, mask, add_loop), (x, adj) + params)


def test_bad_arguments():
    conv = DenseGCNConv(3, 2)
    with pytest.raises(ValueError, match=r"adj must be a dense \[B, N, N\] or \[N, N\]"):
        conv(torch.randn(4, 3), torch.rand(4, 5))
    with pytest.raises(ValueError, match="x has 4 rows but the graph has num_nodes=5"):
        conv(torch.randn(4, 3), torch.rand(5, 5))
    with pytest.raises(ValueError, match=r"mask must be \[B, N\] = \[2, 4\]"):
        conv(torch.randn(2, 4, 3), torch.rand(2, 4, 4), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask needs a dense float adjacency"):
        conv(torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]]), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="adj has a non-finite value"):
        conv(torch.randn(4, 3), torch.full((4, 4), float("nan")))


# --- against the sparse layer and the dense reference -----------------------------------------------


def test_dense_gcn_conv_matches_sparse_and_gradcheck():
    edge_index, n = directed_graph()
    sparse = GCNConv(3, 2).double()
    torch.nn.init.normal_(sparse.bias)
    dense = DenseGCNConv(3, 2).double()
    dense.load_state_dict(sparse.state_dict())
    x = torch.randn(n, 3, dtype=F64, requires_grad=True)
    dy = torch.randn(n, 2, dtype=F64)
    y_s, y_d = sparse(x, edge_index), dense(x, edge_index)
    torch.testing.assert_close(y_d, y_s)
    g_s = torch.autograd.grad(y_s, (x, sparse.lin.weight, sparse.bias), dy)
    g_d = torch.autograd.grad(y_d, (x, dense.lin.weight, dense.bias), dy)
    for a, b in zip(g_s, g_d):
        torch.testing.assert_close(a, b)
    adj = dense.adjacency(edge_index, x)
    w = torch.randn(3, 2, dtype=F64, requires_grad=True)
    b = torch.randn(2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: GCNFunction.apply(x, w, b, adj.values, adj, "dense"), (x, w, b))


def test_dense_gcn_conv_accepts_dense_adjacency_like_pyg():
    edge_index, n = directed_graph()
    dense = DenseGCNConv(3, 2).double()
    x = torch.randn(n, 3, dtype=F64)
    # PyG's dense convention: adj[i, j] = 1 for an edge j → i; a binary matrix (no duplicates).
    a = (dense_adjacency(edge_index, n) > 0).to(F64)
    a.fill_diagonal_(1.0)
    d = a.sum(1).pow(-0.5)
    want = (d[:, None] * a * d[None, :]) @ x @ dense.lin.weight.detach().T + dense.bias.detach()
    torch.testing.assert_close(dense(x, a), want[None])  # PyG's output is always batched [B, N, F]
