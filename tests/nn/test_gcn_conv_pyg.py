"""GCNConv and the functional gcn_norm against PyTorch Geometric's: with the same weights, outputs and
gradients (wrt x, every parameter, the edge weights or the sparse adjacency's values) agree in
float64, for every option of the PyG signature. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")
pyg_utils = pytest.importorskip("torch_geometric.utils")
PYG_GCN_NORM = pytest.importorskip("torch_geometric.nn.conv.gcn_conv").gcn_norm

from pyg_compare import F64, PYG_MARKS, compare, graphs, same_weights, simple_graph  # noqa: E402

from fastgnn.nn import GCNConv  # noqa: E402
from fastgnn.nn.gcn_conv import gcn_norm  # noqa: E402

pytestmark = PYG_MARKS


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gcn_conv_equals_pyg(name, impl, normalize):
    edge_index, n = graphs()[name]
    torch.manual_seed(1)
    ours = GCNConv(5, 4, aggr_impl=impl, normalize=normalize).double()
    theirs = pyg_nn.GCNConv(5, 4, normalize=normalize).double()
    same_weights(ours, theirs)  # same parameter names: lin.weight [F_out, F_in], bias
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index), 0)


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("options", [
    {}, {"improved": True}, {"normalize": False}, {"add_self_loops": False}, {"bias": False},
])
def test_gcn_conv_with_edge_weight_equals_pyg(name, impl, options):
    """edge_weight enters the normalisation and the aggregation; its gradient goes through our
    sampled product and autograd's normalisation, PyG's through autograd only."""
    edge_index, n = graphs()[name]
    torch.manual_seed(3)
    ours = GCNConv(5, 4, aggr_impl=impl, **options).double()
    theirs = pyg_nn.GCNConv(5, 4, **options).double()
    same_weights(ours, theirs)
    weight = torch.rand(edge_index.shape[1], dtype=F64) + 0.1
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index, weight), 0, 2)


def test_gcn_conv_improved_without_edge_weight_is_a_plus_2i():
    """PyG 2.8 ignores ``improved=True`` when no edge_weight is given (its self-loops keep weight 1);
    ours follows the documented A + 2I, which PyG computes when given unit edge weights (on a
    graph without self-loops, whose given weights PyG would keep)."""
    edge_index, n = graphs()["random"]
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    ours = GCNConv(5, 4, improved=True).double()
    theirs = pyg_nn.GCNConv(5, 4, improved=True).double()
    same_weights(ours, theirs)
    x = torch.randn(n, 5, dtype=F64)
    ones = torch.ones(edge_index.shape[1], dtype=F64)
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index, ones))
    assert not torch.allclose(theirs(x, edge_index), theirs(x, edge_index, ones))


@pytest.mark.parametrize("layout", ["csr", "coo", "csr-weighted", "coo-weighted"])
@pytest.mark.parametrize("improved", [False, True])
def test_gcn_conv_on_sparse_adj_t_equals_pyg(layout, improved):
    """A torch.sparse adj_t (rows = targets, values = weights) as PyG takes it, gradients wrt the
    values included."""
    edge_index, n = simple_graph()
    torch.manual_seed(4)
    ours = GCNConv(5, 4, improved=improved).double()
    theirs = pyg_nn.GCNConv(5, 4, improved=improved).double()
    same_weights(ours, theirs)
    weighted = layout.endswith("weighted")
    value = torch.rand(edge_index.shape[1], dtype=F64) + 0.1 if weighted else torch.ones(edge_index.shape[1], dtype=F64)
    adj = pyg_utils.to_torch_coo_tensor(edge_index, value, size=(n, n)).t().coalesce()
    if layout.startswith("csr"):
        adj = adj.to_sparse_csr()
    x = torch.randn(n, 5, dtype=F64)
    compare(ours, theirs, (x, adj), 0)
    if weighted:  # without self-loops (which PyG treats differently for each), edge_index + edge_weight
        keep = edge_index[0] != edge_index[1]
        adj = pyg_utils.to_torch_coo_tensor(edge_index[:, keep], value[keep], size=(n, n)).t()
        torch.testing.assert_close(ours(x, adj), ours(x, edge_index[:, keep], value[keep]))


def test_gcn_conv_static_graph_and_flow_equal_pyg():
    edge_index, n = graphs()["random"]
    torch.manual_seed(5)
    ours = GCNConv(5, 4, flow="target_to_source").double()
    theirs = pyg_nn.GCNConv(5, 4, flow="target_to_source").double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), edge_index), 0)
    ours.flow = theirs.flow = "source_to_target"
    compare(ours, theirs, (torch.randn(3, n, 5, dtype=F64), edge_index), 0)  # x [B, N, F]: one graph


def test_gcn_conv_cached_and_sparse_features_equal_pyg():
    edge_index, n = graphs()["random"]
    ours, theirs = GCNConv(5, 4, cached=True).double(), pyg_nn.GCNConv(5, 4, cached=True).double()
    same_weights(ours, theirs)
    x = torch.randn(n, 5, dtype=F64)
    for _ in range(2):  # built, then reused
        compare(ours, theirs, (x, edge_index), 0)
    sparse_x = (x * (torch.rand(n, 5, dtype=F64) < 0.3)).to_sparse()
    torch.testing.assert_close(ours(sparse_x, edge_index), theirs(sparse_x, edge_index))


def test_gcn_conv_lazy_in_channels_equals_pyg():
    edge_index, n = graphs()["directed"]
    ours, theirs = GCNConv(-1, 4).double(), pyg_nn.GCNConv(-1, 4).double()
    x = torch.randn(n, 5, dtype=F64)
    same_weights(ours, theirs, x, edge_index)
    assert ours.lin.weight.shape == (4, 5)
    compare(ours, theirs, (x, edge_index), 0)


def test_gcn_norm_signature_is_pygs():
    import inspect

    p1, p2 = inspect.signature(gcn_norm).parameters.values(), inspect.signature(PYG_GCN_NORM).parameters.values()
    assert [(p.name, p.default) for p in p1] == [(p.name, p.default) for p in p2]


def _grad(fn, value, cotangent):
    """The gradient of <cotangent, fn(v)> wrt a fresh leaf copy v of ``value``."""
    v = value.detach().clone().requires_grad_()
    return torch.autograd.grad(fn(v), v, cotangent)[0]


@pytest.mark.parametrize("name", ["directed", "random"])
@pytest.mark.parametrize("options", [
    {}, {"improved": True}, {"add_self_loops": False}, {"flow": "target_to_source"}, {"num_nodes": 40},
])
def test_gcn_norm_on_edge_index_equals_pyg(name, options):
    """``(edge_index, edge_weight)``: the same edges in the same order (non-loop edges, then one
    loop per node) and the same weights; the gradient wrt edge_weight equals PyG's autograd one."""
    edge_index, n = graphs()[name]
    options = {"num_nodes": n, **options}
    weight = torch.rand(edge_index.shape[1], dtype=F64, generator=torch.Generator().manual_seed(6)) + 0.1
    ei1, w1 = gcn_norm(edge_index, None, **options)
    ei2, w2 = PYG_GCN_NORM(edge_index, None, **options)
    assert torch.equal(ei1, ei2)
    if "improved" not in options:  # PyG 2.8 drops improved without edge_weight: see below
        torch.testing.assert_close(w1, w2)
    (ei1, w1), (ei2, w2) = gcn_norm(edge_index, weight, **options), PYG_GCN_NORM(edge_index, weight, **options)
    assert torch.equal(ei1, ei2)
    torch.testing.assert_close(w1, w2)
    cotangent = torch.randn(ei2.shape[1], dtype=F64)
    g1 = _grad(lambda w: gcn_norm(edge_index, w, **options)[1], weight, cotangent)
    g2 = _grad(lambda w: PYG_GCN_NORM(edge_index, w, **options)[1], weight, cotangent)
    torch.testing.assert_close(g1, g2)


def test_gcn_norm_without_arguments_and_empty_equal_pyg():
    """num_nodes read as edge_index.max() + 1, unit weights in ``dtype``; an empty graph."""
    edge_index, _ = graphs()["directed"]
    for dtype in (None, F64):
        (ei1, w1), (ei2, w2) = gcn_norm(edge_index, dtype=dtype), PYG_GCN_NORM(edge_index, dtype=dtype)
        assert torch.equal(ei1, ei2) and w1.dtype == w2.dtype
        torch.testing.assert_close(w1, w2)
    empty = torch.empty(2, 0, dtype=torch.long)
    (ei1, w1), (ei2, w2) = gcn_norm(empty), PYG_GCN_NORM(empty)
    assert ei1.shape == ei2.shape == (2, 0) and w1.shape == w2.shape == (0,)


def test_gcn_norm_improved_without_edge_weight_is_a_plus_2i():
    """As GCNConv: PyG 2.8's gcn_norm makes the loops 1 when ``improved=True`` comes without
    edge_weight; ours are 2, which PyG gives with unit weights (graph without self-loops)."""
    edge_index, n = graphs()["random"]
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    ones = torch.ones(edge_index.shape[1])
    ours = gcn_norm(edge_index, None, n, improved=True)
    torch.testing.assert_close(ours, PYG_GCN_NORM(edge_index, ones, n, improved=True))
    assert not torch.allclose(ours[1], PYG_GCN_NORM(edge_index, None, n, improved=True)[1])


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr])
@pytest.mark.parametrize("improved", [False, True])
def test_gcn_norm_on_sparse_adj_t_equals_pyg(layout, improved):
    """``(adj_t', None)`` in the input's layout: the same structure and values as PyG's; the
    gradient wrt the input's values equals PyG's autograd one. (Through PyG's COO output the
    backward fails in torch 2.13, "derivative for aten::_coalesced_ is not implemented", so both
    layouts' gradients are compared with PyG's CSR path, which computes the same function.)"""
    edge_index, n = simple_graph()
    value = torch.rand(edge_index.shape[1], dtype=F64, generator=torch.Generator().manual_seed(7)) + 0.1

    def adj(v, as_layout):  # a fresh tensor per call: PyG flags its input coalesced in place
        a = pyg_utils.to_torch_coo_tensor(edge_index, v, size=(n, n)).t().coalesce()
        return a.to_sparse_csr() if as_layout == torch.sparse_csr else a

    ours, none = gcn_norm(adj(value, layout), improved=improved)
    pygs, _ = PYG_GCN_NORM(adj(value, layout), improved=improved)
    assert none is None and ours.layout == pygs.layout == layout
    if layout == torch.sparse_coo:
        assert torch.equal(ours.indices(), pygs.indices())
    else:
        assert torch.equal(ours.crow_indices(), pygs.crow_indices())
        assert torch.equal(ours.col_indices(), pygs.col_indices())
    torch.testing.assert_close(ours.values(), pygs.values())
    cotangent = torch.randn(n, n, dtype=F64)
    g1 = _grad(lambda v: gcn_norm(adj(v, layout), improved=improved)[0].to_dense(), value, cotangent)
    g2 = _grad(lambda v: PYG_GCN_NORM(adj(v, torch.sparse_csr), improved=improved)[0].to_dense(), value, cotangent)
    torch.testing.assert_close(g1, g2)
