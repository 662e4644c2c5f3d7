"""fastgnn.nn against PyTorch Geometric: with the same weights, outputs and gradients (wrt x, every
parameter, and the edge weights / edge features / dense adjacency where they are inputs) agree in
float64, for every option of the PyG signature. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")
pyg_utils = pytest.importorskip("torch_geometric.utils")
PYG_GCN_NORM = pytest.importorskip("torch_geometric.nn.conv.gcn_conv").gcn_norm

from fastgnn.nn import DenseGCNConv, GATConv, GCNConv  # noqa: E402
from fastgnn.nn.gcn_conv import gcn_norm  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning"),
              pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning"),
              pytest.mark.filterwarnings("ignore:Converting sparse tensor to CSR:UserWarning")]  # PyG's own

F64 = torch.float64


def graphs():
    g = torch.Generator().manual_seed(0)
    return {
        # directed, with a duplicate edge, a self-loop and isolated nodes 5, 6
        "directed": (torch.tensor([[0, 1, 2, 3, 3, 4, 0, 2, 2], [1, 2, 0, 4, 3, 1, 1, 3, 3]]), 7),
        "random": (torch.randint(0, 30, (2, 120), generator=g), 30),
    }


def simple_graph():
    """Directed, with a self-loop and an isolated node but no duplicate edge (a sparse adjacency
    cannot hold duplicates): 6 nodes, 9 edges."""
    return torch.tensor([[0, 1, 2, 3, 3, 4, 1, 2, 5], [1, 2, 0, 4, 3, 1, 0, 3, 2]]), 7


def compare(ours, theirs, inputs, *grad_inputs, out=lambda y: y):
    """Run ``ours(*inputs)`` and ``theirs(*inputs)`` on separate copies of the tensors in
    ``grad_inputs`` (indices into ``inputs`` whose gradients are compared, besides every
    parameter's), backpropagate one random cotangent and compare everything."""

    def run(module):
        args = list(inputs)
        leaves = []
        for i in grad_inputs:
            args[i] = _leaf(args[i])
            leaves.append(args[i])
        y = out(module(*args))
        return y, leaves

    y1, l1 = run(ours)
    y2, l2 = run(theirs)
    torch.testing.assert_close(y1, y2)
    dy = torch.randn_like(y1)
    p1, p2 = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert set(p1) <= set(p2), (set(p1), set(p2))
    names = sorted(p1)
    g1 = torch.autograd.grad(y1, _tensors(l1) + [p1[k] for k in names], dy, allow_unused=True)
    g2 = torch.autograd.grad(y2, _tensors(l2) + [p2[k] for k in names], dy, allow_unused=True)
    labels = [f"input {i}" for i in range(len(_tensors(l1)))] + names
    for name, a, b in zip(labels, g1, g2):
        if a is None or b is None:
            assert a is None and b is None or (a if b is None else b).abs().max() == 0, name
            continue
        if a.layout != torch.strided:
            a, b = a.to_dense(), b.to_dense()
        torch.testing.assert_close(a, b, msg=lambda m, name=name: f"gradient wrt {name}: {m}")
    return y1


def _leaf(t):
    if isinstance(t, tuple):
        return tuple(_leaf(u) for u in t)
    if t is None:
        return None
    if t.layout != torch.strided:
        return t.detach().clone().requires_grad_()
    return t.detach().clone().requires_grad_()


def _tensors(leaves):
    out = []
    for t in leaves:
        out += [u for u in t if u is not None] if isinstance(t, tuple) else [t]
    return out


def same_weights(ours, theirs, *inputs):
    """Random bias (and any lazy weight materialised by one forward), then PyG gets our state."""
    if inputs:
        with torch.no_grad():
            ours(*inputs), theirs(*inputs)
    for name, p in ours.named_parameters():
        if name.split(".")[-1] in ("bias", "att_edge"):
            torch.nn.init.normal_(p)
    theirs.load_state_dict(ours.state_dict())


# --- GCNConv ---------------------------------------------------------------------------------


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


# --- the functional gcn_norm (PyG's torch_geometric.nn.conv.gcn_conv.gcn_norm) ----------------


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


# --- GATConv ---------------------------------------------------------------------------------


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


# --- DenseGCNConv ----------------------------------------------------------------------------


def dense_batch():
    """Two graphs of 4 and 3 nodes padded to N = 4, weighted, with the mask of real nodes."""
    g = torch.Generator().manual_seed(10)
    adj = (torch.rand(2, 4, 4, generator=g, dtype=F64) > 0.4).to(F64) * torch.rand(2, 4, 4, generator=g, dtype=F64)
    adj[1, 3, :] = adj[1, :, 3] = 0.0
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    return adj, mask


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"bias": False}])
@pytest.mark.parametrize("forward", [{}, {"add_loop": False}, {"mask": True}])
def test_dense_gcn_conv_batched_equals_pyg(options, forward):
    """PyG's batched form, gradients wrt x, the parameters and the adjacency (DiffPool's use)."""
    adj, mask = dense_batch()
    torch.manual_seed(11)
    ours, theirs = DenseGCNConv(5, 4, **options).double(), pyg_nn.DenseGCNConv(5, 4, **options).double()
    same_weights(ours, theirs)
    kwargs = {"mask": mask} if forward.get("mask") else {k: v for k, v in forward.items() if k != "mask"}

    class Call(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def forward(self, x, adj):
            return self.conv(x, adj, **kwargs)

    ours_c, theirs_c = Call(ours), Call(theirs)
    compare(ours_c, theirs_c, (torch.randn(2, 4, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_broadcasting_equals_pyg():
    """One adjacency [N, N] for a batch of feature matrices, and one feature matrix for a batch
    of adjacencies."""
    adj, _ = dense_batch()
    ours, theirs = DenseGCNConv(5, 4).double(), pyg_nn.DenseGCNConv(5, 4).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(3, 4, 5, dtype=F64), adj[0]), 0, 1)
    compare(ours, theirs, (torch.randn(4, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_equals_pyg_dense_gcn_conv_on_one_graph():
    edge_index, n = graphs()["random"]
    adj = torch.zeros(n, n, dtype=F64)
    adj[edge_index[1], edge_index[0]] = 1.0  # adj[i, j] = 1 for an edge j → i (binary)
    ours, theirs = DenseGCNConv(5, 4).double(), pyg_nn.DenseGCNConv(5, 4).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_lazy_in_channels_equals_pyg():
    adj, mask = dense_batch()
    ours, theirs = DenseGCNConv(-1, 4).double(), pyg_nn.DenseGCNConv(-1, 4).double()
    x = torch.randn(2, 4, 5, dtype=F64)
    same_weights(ours, theirs, x, adj)
    assert ours.lin.weight.shape == (4, 5)
    compare(ours, theirs, (x, adj, mask), 0, 1)


@pytest.mark.parametrize("name", ["GCNConv", "GATConv", "DenseGCNConv"])
def test_constructor_and_forward_signatures_are_pygs(name):
    """Same positional order, names and defaults as PyG (``GCNConv(F, 16, True)`` is
    ``improved=True``, ``DenseGCNConv(16, 16, False)`` keeps its bias); fastgnn's extras are
    keyword-only."""
    import inspect

    ours, theirs = {"GCNConv": GCNConv, "GATConv": GATConv, "DenseGCNConv": DenseGCNConv}[name], getattr(pyg_nn, name)
    for method in ("__init__", "forward"):
        p1 = [p for p in inspect.signature(getattr(ours, method)).parameters.values() if p.kind != p.KEYWORD_ONLY]
        p2 = [p for p in inspect.signature(getattr(theirs, method)).parameters.values() if p.kind != p.VAR_KEYWORD]
        assert [(p.name, p.default) for p in p1] == [(p.name, p.default) for p in p2], method


def test_positional_arguments_mean_what_they_mean_in_pyg():
    assert GCNConv(5, 4, True).improved and GCNConv(5, 4, True).bias is not None
    dense = DenseGCNConv(16, 16, False)
    assert not dense.improved and dense.bias is not None
    gat = GATConv(5, 4, 2, False, 0.1, 0.0, False, 3, 0.5, False, True)
    assert (gat.heads, gat.concat, gat.negative_slope, gat.add_self_loops, gat.edge_dim, gat.fill_value,
            gat.bias, gat.res is not None) == (2, False, 0.1, False, 3, 0.5, None, True)


def test_dense_gcn_conv_in_pygs_diffpool_equals_pyg():
    """DiffPool's use: assignment and embedding by DenseGCNConv on a padded batch with its mask,
    PyG's dense_diff_pool, then DenseGCNConv on the pooled (learned, dense) adjacency; output and
    every gradient equal the same network built from PyG's DenseGCNConv."""
    adj, mask = dense_batch()

    class DiffPool(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.assign, self.embed, self.after = conv(5, 2), conv(5, 6), conv(6, 3)

        def forward(self, x, adj):
            s = self.assign(x, adj, mask)
            h = torch.relu(self.embed(x, adj, mask))
            h, pooled, link_loss, ent_loss = pyg_nn.dense_diff_pool(h, adj, s, mask)
            return self.after(h, pooled).sum(1) + link_loss + ent_loss

    torch.manual_seed(12)
    ours, theirs = DiffPool(DenseGCNConv).double(), DiffPool(pyg_nn.DenseGCNConv).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(2, 4, 5, dtype=F64), adj), 0, 1)
