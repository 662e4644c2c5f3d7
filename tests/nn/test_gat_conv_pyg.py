"""GATConv against PyTorch Geometric's: with the same weights, outputs and gradients (wrt x, every
parameter and the edge features) agree in float64, for every option of the PyG signature, bipartite
graphs and the attention weights included. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")
pyg_utils = pytest.importorskip("torch_geometric.utils")

from pyg_compare import F64, PYG_MARKS, compare, graphs, same_weights, simple_graph  # noqa: E402

from fastgnn.nn import GATConv  # noqa: E402

pytestmark = PYG_MARKS


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gat_conv_equals_pyg(name, concat, self_loops, bias):
    edge_index, n = graphs()[name]
    torch.manual_seed(2)
    kwargs = dict(heads=3, concat=concat, negative_slope=0.1, add_self_loops=self_loops, bias=bias)
    ours = GATConv(5, 4, **kwargs).double()
    theirs = pyg_nn.GATConv(5, 4, **kwargs).double()
    same_weights(ours, theirs)  # lin.weight [H C, F_in], att_src, att_dst [1, H, C], bias
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index), 0)


def test_gat_conv_with_dropout_equals_pyg_in_eval_mode():
    edge_index, n = graphs()["random"]
    ours, theirs = GATConv(5, 4, heads=2, dropout=0.6).double(), pyg_nn.GATConv(5, 4, heads=2, dropout=0.6).double()
    same_weights(ours, theirs)
    ours.eval(), theirs.eval()
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index), 0)


FILL_VALUES = [0.5, "mean", "add", "max", "min", "mul", "tensor"]


@pytest.mark.parametrize("fill_value", FILL_VALUES)
@pytest.mark.parametrize("edge_dim", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
def test_gat_conv_with_edge_attr_equals_pyg(edge_dim, fill_value, concat):
    """edge_dim / edge_attr / fill_value: output and gradients wrt x, every parameter (lin_edge,
    att_edge) and edge_attr."""
    edge_index, n = graphs()["directed"]
    torch.manual_seed(6)
    if fill_value == "tensor":
        fill_value = torch.linspace(-1, 1, edge_dim, dtype=F64)
    kwargs = dict(heads=2, edge_dim=edge_dim, fill_value=fill_value, concat=concat)
    ours, theirs = GATConv(5, 4, **kwargs).double(), pyg_nn.GATConv(5, 4, **kwargs).double()
    same_weights(ours, theirs)
    shape = (edge_index.shape[1],) if edge_dim == 1 else (edge_index.shape[1], edge_dim)
    edge_attr = torch.randn(*shape, dtype=F64)
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index, edge_attr), 0, 2)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_conv_residual_equals_pyg(concat):
    edge_index, n = graphs()["random"]
    torch.manual_seed(7)
    ours = GATConv(5, 4, heads=2, concat=concat, residual=True).double()
    theirs = pyg_nn.GATConv(5, 4, heads=2, concat=concat, residual=True).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index), 0)


def bipartite():
    """8 sources, 5 targets; a duplicate edge; target 4 without in-edges."""
    g = torch.Generator().manual_seed(8)
    edge_index = torch.stack([torch.randint(0, 8, (20,), generator=g), torch.randint(0, 4, (20,), generator=g)])
    edge_index[:, 1] = edge_index[:, 0]
    return edge_index, 8, 5


@pytest.mark.parametrize("in_channels", [(5, 3), 5])
@pytest.mark.parametrize("residual", [False, True])
def test_gat_conv_bipartite_equals_pyg(in_channels, residual):
    edge_index, n_src, n_dst = bipartite()
    torch.manual_seed(9)
    ours = GATConv(in_channels, 4, heads=2, residual=residual).double()
    theirs = pyg_nn.GATConv(in_channels, 4, heads=2, residual=residual).double()
    same_weights(ours, theirs)
    f_dst = in_channels[1] if isinstance(in_channels, tuple) else in_channels
    x = (torch.randn(n_src, 5, dtype=F64), torch.randn(n_dst, f_dst, dtype=F64))
    compare(ours, theirs, (x, edge_index), 0)
    compare(ours, theirs, (x, edge_index, None, (n_src, n_dst)), 0)
    # no target features: the size says how many targets, and there is no residual or a_dst term
    compare(ours, theirs, ((x[0], None), edge_index, None, (n_src, n_dst)), 0)


def test_gat_conv_bipartite_sparse_adj_t_equals_pyg():
    edge_index, n_src, n_dst = bipartite()
    edge_index = torch.unique(edge_index, dim=1)
    ours, theirs = GATConv((5, 3), 4, heads=2).double(), pyg_nn.GATConv((5, 3), 4, heads=2).double()
    same_weights(ours, theirs)
    adj_t = pyg_utils.to_torch_csc_tensor(edge_index, size=(n_src, n_dst)).t()
    x = (torch.randn(n_src, 5, dtype=F64), torch.randn(n_dst, 3, dtype=F64))
    y = compare(ours, theirs, (x, adj_t), 0)
    torch.testing.assert_close(y, ours(x, edge_index))


@pytest.mark.parametrize("layout", ["edge_index", "csr", "coo"])
def test_gat_conv_return_attention_weights_equals_pyg(layout):
    edge_index, n = simple_graph()
    ours, theirs = GATConv(5, 4, heads=2).double(), pyg_nn.GATConv(5, 4, heads=2).double()
    same_weights(ours, theirs)
    graph = edge_index
    if layout != "edge_index":
        graph = pyg_utils.to_torch_coo_tensor(edge_index, size=(n, n)).t().coalesce()
        graph = graph.to_sparse_csr() if layout == "csr" else graph
    x = torch.randn(n, 5, dtype=F64)
    out1, (adj1, alpha1) = ours(x, graph, return_attention_weights=True)
    out2, (adj2, alpha2) = theirs(x, graph, return_attention_weights=True)
    torch.testing.assert_close(out1, out2)
    torch.testing.assert_close(alpha1, alpha2.detach())
    if layout == "edge_index":
        assert torch.equal(adj1, adj2)
    else:
        assert adj1.layout == adj2.layout and adj1.shape == adj2.shape == (n, n, 2)
        torch.testing.assert_close(adj1.to_dense(), adj2.detach().to_dense())


def test_gat_conv_lazy_in_channels_equals_pyg():
    edge_index, n_src, n_dst = bipartite()
    ours, theirs = GATConv((-1, -1), 4, heads=2).double(), pyg_nn.GATConv((-1, -1), 4, heads=2).double()
    x = (torch.randn(n_src, 5, dtype=F64), torch.randn(n_dst, 3, dtype=F64))
    same_weights(ours, theirs, x, edge_index)
    assert ours.lin_src.weight.shape == (8, 5) and ours.lin_dst.weight.shape == (8, 3)
    compare(ours, theirs, (x, edge_index), 0)
