"""fastgnn.nn against PyTorch Geometric: with the same weights, outputs and gradients (wrt x and
every parameter) agree in float64. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")

from fastgnn.nn import DenseGCNConv, GATConv, GCNConv  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


def graphs():
    g = torch.Generator().manual_seed(0)
    return {
        # directed, with a duplicate edge, a self-loop and isolated nodes 5, 6
        "directed": (torch.tensor([[0, 1, 2, 3, 3, 4, 0, 2, 2], [1, 2, 0, 4, 3, 1, 1, 3, 3]]), 7),
        "random": (torch.randint(0, 30, (2, 120), generator=g), 30),
    }


def assert_same_outputs_and_grads(ours, theirs, x, edge_index):
    """Forward both, backpropagate one random cotangent, compare output, dx and every parameter's grad."""
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    y1, y2 = ours(x1, edge_index), theirs(x2, edge_index)
    torch.testing.assert_close(y1, y2)
    dy = torch.randn_like(y1)
    p1, p2 = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert set(p1) <= set(p2), (set(p1), set(p2))
    names = sorted(p1)
    g1 = torch.autograd.grad(y1, [x1] + [p1[k] for k in names], dy)
    g2 = torch.autograd.grad(y2, [x2] + [p2[k] for k in names], dy)
    for name, a, b in zip(["x"] + names, g1, g2):
        torch.testing.assert_close(a, b, msg=f"gradient wrt {name}")


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gcn_conv_equals_pyg(name, impl, normalize):
    edge_index, n = graphs()[name]
    torch.manual_seed(1)
    ours = GCNConv(5, 4, aggr_impl=impl, normalize=normalize).double()
    theirs = pyg_nn.GCNConv(5, 4, normalize=normalize).double()
    torch.nn.init.normal_(ours.bias)
    theirs.load_state_dict(ours.state_dict())  # same parameter names: lin.weight [F_out, F_in], bias
    assert_same_outputs_and_grads(ours, theirs, torch.randn(n, 5, dtype=F64), edge_index)


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("self_loops", [True, False])
def test_gat_conv_equals_pyg(name, concat, self_loops):
    edge_index, n = graphs()[name]
    torch.manual_seed(2)
    kwargs = dict(heads=3, concat=concat, negative_slope=0.1, add_self_loops=self_loops)
    ours = GATConv(5, 4, **kwargs).double()
    theirs = pyg_nn.GATConv(5, 4, **kwargs).double()
    torch.nn.init.normal_(ours.bias)
    theirs.load_state_dict(ours.state_dict())  # lin.weight [H C, F_in], att_src, att_dst [1, H, C], bias
    assert_same_outputs_and_grads(ours, theirs, torch.randn(n, 5, dtype=F64), edge_index)


def test_gat_conv_with_dropout_equals_pyg_in_eval_mode():
    edge_index, n = graphs()["random"]
    ours, theirs = GATConv(5, 4, heads=2, dropout=0.6).double(), pyg_nn.GATConv(5, 4, heads=2, dropout=0.6).double()
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    assert_same_outputs_and_grads(ours, theirs, torch.randn(n, 5, dtype=F64), edge_index)


class _PygDenseUnbatched(torch.nn.Module):
    """PyG's DenseGCNConv on one graph: ``(x [N, F], adj [N, N])`` → ``[N, F_out]``."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x, adj):
        return self.conv(x, adj)[0]


def test_dense_gcn_conv_equals_pyg_dense_gcn_conv_on_a_dense_adjacency():
    edge_index, n = graphs()["random"]
    adj = torch.zeros(n, n, dtype=F64)
    adj[edge_index[1], edge_index[0]] = 1.0  # adj[i, j] = 1 for an edge j → i (binary)
    ours = DenseGCNConv(5, 4).double()
    torch.nn.init.normal_(ours.bias)
    theirs = pyg_nn.DenseGCNConv(5, 4).double()
    theirs.load_state_dict(ours.state_dict())
    wrapped = _PygDenseUnbatched(theirs)
    # wrapped's parameters are named conv.*: compare through the shared names
    x = torch.randn(n, 5, dtype=F64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = ours(x1, adj), wrapped(x2, adj)
    torch.testing.assert_close(y1, y2)
    dy = torch.randn_like(y1)
    g1 = torch.autograd.grad(y1, [x1, ours.lin.weight, ours.bias], dy)
    g2 = torch.autograd.grad(y2, [x2, theirs.lin.weight, theirs.bias], dy)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
