"""GCNConv: every behaviour PyTorch Geometric 2.8's ``test/nn/conv/test_gcn_conv.py`` checks, written
here against independent references (a dense A' built by loops, PyG's convention for sparse
``adj_t``), and the backward extended to edge weights, gradchecked in float64; the explicit backward
against autograd through a dense reference and the GCN complexity note's closed forms (eqs. 28-29);
prebuilt operators, caching and dtypes.  Against PyG itself: ``test_gcn_conv_pyg.py``."""

from __future__ import annotations

import pytest
import torch
from nn_references import GRAPHS, dense_adjacency, directed_graph, reference_gcn, reference_gcn_norm

from fastgnn.nn import GCNConv, normalized_adjacency
from fastgnn.nn.gcn_conv import GCNFunction, gcn_norm

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")]

F64 = torch.float64
# PyG's test graph: a star around node 0, both directions
STAR = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])


def dense_gcn(edge_index, num_nodes, weight=None, loop=1.0):
    """A' = D^-1/2 (A + loop I) D^-1/2 by loops: A[i, j] += w for each edge j → i, existing
    self-loops replaced (kept with their weight when weighted), D the row sums."""
    a = torch.zeros(num_nodes, num_nodes, dtype=F64)
    loops = {}
    for e, (j, i) in enumerate(edge_index.T.tolist()):
        w = 1.0 if weight is None else float(weight[e])
        if i == j:
            loops[i] = w
        else:
            a[i, j] += w
    for i in range(num_nodes):
        a[i, i] = loops[i] if weight is not None and i in loops else loop
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def csc_t(edge_index, num_nodes, value=None):
    """PyG's ``to_torch_csc_tensor(edge_index, value).t()``: a CSR adj_t, rows = targets."""
    value = torch.ones(edge_index.shape[1], dtype=F64) if value is None else value
    adj = torch.sparse_coo_tensor(edge_index, value, (num_nodes, num_nodes)).coalesce().to_sparse_csc()
    return adj.t()


def test_repr_shape_and_sparse_adj_t_like_edge_index():
    torch.manual_seed(0)
    x = torch.randn(4, 16, dtype=F64)
    value = torch.rand(STAR.shape[1], dtype=F64)
    conv = GCNConv(16, 32).double()
    torch.nn.init.normal_(conv.bias)
    assert str(conv) == "GCNConv(16, 32)"
    w, b = conv.lin.weight.detach().T, conv.bias.detach()
    out1 = conv(x, STAR)
    torch.testing.assert_close(out1, dense_gcn(STAR, 4) @ x @ w + b)
    torch.testing.assert_close(conv(x, csc_t(STAR, 4)), out1)
    out2 = conv(x, STAR, value)
    torch.testing.assert_close(out2, dense_gcn(STAR, 4, value) @ x @ w + b)
    torch.testing.assert_close(conv(x, csc_t(STAR, 4, value)), out2)


def test_cached_switched_on_after_construction():
    x = torch.randn(4, 16)
    adj_t = csc_t(STAR, 4).float()
    conv = GCNConv(16, 32)
    out1 = conv(x, STAR)
    assert conv._cached_edge_index is None
    conv.cached = True
    conv(x, STAR)
    assert conv._cached_edge_index is not None
    torch.testing.assert_close(conv(x, STAR), out1)
    torch.testing.assert_close(conv(x, adj_t), out1)  # another graph object: rebuilt, never a stale A'


def test_sparse_input_features():
    x = torch.sparse_coo_tensor(torch.tensor([[0, 0], [0, 1]]), torch.tensor([1.0, 1.0]), (4, 16))
    conv = GCNConv(16, 32)
    out = conv(x, STAR)
    assert out.shape == (4, 32)
    torch.testing.assert_close(out, conv(x.to_dense(), STAR))
    out.sum().backward()  # dW = Xᵀ D with a sparse X
    ref = GCNConv(16, 32)
    ref.load_state_dict(conv.state_dict())
    ref(x.to_dense(), STAR).sum().backward()
    torch.testing.assert_close(conv.lin.weight.grad, ref.lin.weight.grad)


def test_static_graph_batch_of_feature_matrices():
    torch.manual_seed(1)
    x = torch.randn(3, 4, 16, dtype=F64, requires_grad=True)
    conv = GCNConv(16, 32).double()
    out = conv(x, STAR)
    assert out.shape == (3, 4, 32)
    for b in range(3):
        torch.testing.assert_close(out[b], conv(x[b], STAR))
    assert torch.autograd.gradcheck(lambda t: conv(t, STAR), (x,))


def test_self_loops_without_normalisation_refused():
    with pytest.raises(ValueError, match="does not support adding self-loops"):
        GCNConv(16, 32, normalize=False, add_self_loops=True)


def test_flow_target_to_source_reads_edge_index_the_other_way():
    x = torch.randn(4, 16)
    edge_index = torch.tensor([[0, 0, 0], [1, 2, 3]])
    conv = GCNConv(16, 32, flow="source_to_target")
    out1 = conv(x, edge_index)
    conv.flow = "target_to_source"
    torch.testing.assert_close(conv(x, edge_index.flip(0)), out1)
    with pytest.raises(ValueError, match="flow must be one of"):
        GCNConv(16, 32, flow="both")


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr])
def test_gcn_norm_keeps_the_gradient_of_sparse_values(requires_grad, layout):
    """PyG's ``test_gcn_norm_gradient``: the functional ``gcn_norm(adj)`` returns ``(adj', None)``
    in adj's layout, whose values need a gradient exactly when the sparse input's do (so do the
    operator's), and the gradient is the one of the dense normalisation (gradcheck)."""
    value = torch.ones(STAR.shape[1], dtype=F64, requires_grad=requires_grad)

    def sparse(v):
        adj = torch.sparse_coo_tensor(STAR, v, (4, 4))
        return adj.coalesce().to_sparse_csr() if layout == torch.sparse_csr else adj

    out, none = gcn_norm(sparse(value))
    assert none is None and out.layout == layout
    assert out.requires_grad == requires_grad
    assert normalized_adjacency(sparse(value)).values.requires_grad == requires_grad
    if requires_grad:
        def norm(v):  # dense reference: D^-1/2 (A + I) D^-1/2 with torch.sparse's loops added on top
            a = torch.zeros(4, 4, dtype=F64).index_put((STAR[0], STAR[1]), v, accumulate=True).T + torch.eye(4)
            d = a.sum(1).pow(-0.5)
            return d[:, None] * a * d[None, :]

        torch.testing.assert_close(out.to_dense(), norm(value))
        torch.testing.assert_close(normalized_adjacency(sparse(value)).to_dense(), norm(value))
        v = torch.rand(STAR.shape[1], dtype=F64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda v: gcn_norm(sparse(v))[0].to_dense(), (v,))
        assert torch.autograd.gradcheck(lambda v: normalized_adjacency(sparse(v)).to_dense(), (v,))


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"add_self_loops": False},
                                     {"flow": "target_to_source"}])
@pytest.mark.parametrize("weighted", [False, True])
def test_functional_gcn_norm_is_the_operators_entries(options, weighted):
    """``gcn_norm`` (PyG's functional form) returns the entries of the operator
    ``normalized_adjacency`` builds: scattered into a dense matrix they equal it, and both equal
    the dense reference written by loops."""
    w = torch.rand(GRAPH.shape[1], dtype=F64) + 0.2 if weighted else None
    edge_index, weight = gcn_norm(GRAPH, w, 7, dtype=F64, **options)
    target, source = (1, 0) if options.get("flow") != "target_to_source" else (0, 1)
    dense = torch.zeros(7, 7, dtype=F64).index_put((edge_index[target], edge_index[source]), weight, accumulate=True)
    flow = options.get("flow", "source_to_target")
    op = normalized_adjacency(GRAPH, 7, dtype=F64, edge_weight=w, improved=options.get("improved", False),
                              add_self_loops=options.get("add_self_loops", True), flow=flow)
    torch.testing.assert_close(dense, op.to_dense())
    if "add_self_loops" not in options:
        graph = GRAPH if flow == "source_to_target" else GRAPH.flip(0)
        loop = 2.0 if options.get("improved") else 1.0
        torch.testing.assert_close(dense, dense_gcn(graph, 7, w, loop=loop))


def test_functional_gcn_norm_refuses_the_old_operator_call_and_weights_beside_sparse_values():
    """``gcn_norm(edge_index, num_nodes)``, the operator builder's old call, now puts num_nodes
    where PyG's edge_weight is: refused with the new name instead of a silent misreading."""
    with pytest.raises(ValueError, match=r"edge_weight must be a tensor \[E\] or None, got int 7.*"
                                         r"normalized_adjacency\(edge_index, num_nodes\)"):
        gcn_norm(GRAPH, 7)
    adj = torch.sparse_coo_tensor(STAR, torch.ones(6), (4, 4))
    with pytest.raises(ValueError, match="edge_weight must be None with a sparse adjacency"):
        gcn_norm(adj, torch.ones(6))
    with pytest.raises(ValueError, match=r"an \[E, 2\] edge list: pass edge_index.t\(\) instead"):
        gcn_norm(STAR.T.contiguous())


def test_functional_gcn_norm_keeps_a_csc_layout():
    """PyG refuses CSC (NotImplementedError); fastgnn reads it and answers in CSC."""
    value = torch.rand(STAR.shape[1], dtype=F64) + 0.1
    coo = torch.sparse_coo_tensor(STAR, value, (4, 4)).coalesce()
    out, none = gcn_norm(coo.to_sparse_csc())
    assert none is None and out.layout == torch.sparse_csc
    torch.testing.assert_close(out.to_dense(), gcn_norm(coo)[0].to_dense())


# --- beyond PyG's file: the hand-written backward with edge weights, improved, errors ------


GRAPH = torch.tensor([[0, 1, 2, 3, 3, 4, 0, 2, 2, 5], [1, 2, 0, 4, 3, 1, 1, 3, 3, 5]])  # dup edge, loops


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("options", [{}, {"improved": True}, {"normalize": False}])
def test_backward_wrt_edge_weight_gradcheck(impl, options):
    """GCNFunction's dA'_ij = <dY_i, Z_j> chained through the normalisation to edge_weight, and
    dX, dW, db, all by gradcheck in float64."""
    torch.manual_seed(2)
    conv = GCNConv(3, 2, aggr_impl=impl, **options).double()
    x = torch.randn(7, 3, dtype=F64, requires_grad=True)
    w = (torch.rand(GRAPH.shape[1], dtype=F64) + 0.2).requires_grad_()
    params = (conv.lin.weight, conv.bias)
    assert torch.autograd.gradcheck(lambda x, w, *p: conv(x, GRAPH, w), (x, w) + params)


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
def test_gcn_function_values_gradcheck(impl):
    """The Function alone: gradients wrt x, W, b and A''s values (duplicates, a batch of x)."""
    adj = normalized_adjacency(GRAPH, 7, dtype=F64)
    values = adj.values.detach().clone().requires_grad_()
    x = torch.randn(2, 7, 3, dtype=F64, requires_grad=True)
    w = torch.randn(3, 2, dtype=F64, requires_grad=True)
    b = torch.randn(2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: GCNFunction.apply(*t, adj, impl), (x, w, b, values))


def test_improved_is_a_plus_2i_and_weighted_loops_keep_their_weight():
    torch.manual_seed(3)
    x = torch.randn(7, 3, dtype=F64)
    conv = GCNConv(3, 2, improved=True, bias=False).double()
    w = conv.lin.weight.detach().T
    torch.testing.assert_close(conv(x, GRAPH), dense_gcn(GRAPH, 7, loop=2.0) @ x @ w)
    weight = torch.rand(GRAPH.shape[1], dtype=F64) + 0.1
    torch.testing.assert_close(conv(x, GRAPH, weight), dense_gcn(GRAPH, 7, weight, loop=2.0) @ x @ w)


def test_lazy_in_channels():
    conv = GCNConv(-1, 4)
    assert str(conv) == "GCNConv(-1, 4)"
    out = conv(torch.randn(7, 5), GRAPH)
    assert out.shape == (7, 4) and conv.lin.weight.shape == (4, 5)
    torch.manual_seed(0)
    wide = GCNConv(-1, 200)
    wide(torch.randn(7, 300), GRAPH)
    # Glorot's bound sqrt(6 / 500) = 0.110, not nn.Linear's Kaiming 1 / sqrt(300) = 0.058
    assert 0.1 < float(wide.lin.weight.detach().abs().max()) <= (6.0 / 500) ** 0.5


def test_bad_arguments_are_clear_errors():
    x = torch.randn(7, 3)
    conv = GCNConv(3, 2)
    with pytest.raises(ValueError, match="does not support bipartite"):
        conv((x, x), GRAPH)
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[E\] with E = 10"):
        conv(x, GRAPH, torch.ones(9))
    with pytest.raises(ValueError, match="edge_weight has a non-finite value at edge 2"):
        conv(x, GRAPH, torch.tensor([1.0, 1, float("nan")] + [1.0] * 7))
    with pytest.raises(ValueError, match=r"\[E, 2\] edge list: pass edge_index.t\(\)"):
        conv(x, GRAPH.T)
    with pytest.raises(ValueError, match=r"adj_t must have shape .* \[7, 7\]"):
        conv(x, csc_t(STAR, 4).float())
    with pytest.raises(ValueError, match="edge_weight must be None with a sparse adjacency"):
        conv(x, csc_t(GRAPH[:, :6], 7).float(), torch.ones(6))
    with pytest.raises(ValueError, match="aggr must be 'add'"):
        GCNConv(3, 2, aggr="mean")
    with pytest.raises(ValueError, match="in_channels must be a positive int or -1"):
        GCNConv(0, 2)


def test_weights_that_need_a_gradient_are_not_cached():
    conv = GCNConv(3, 2, cached=True)
    x, w = torch.randn(7, 3), torch.rand(GRAPH.shape[1], requires_grad=True)
    conv(x, GRAPH, w).sum().backward()
    assert conv._cached_edge_index is None
    conv(x, GRAPH, w).sum().backward()  # a second backward through a fresh graph: no error
    assert w.grad is not None


# --- the backward against the dense reference (eqs. 28-29), prebuilt operators, dtypes --------------


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
@pytest.mark.parametrize("name", GRAPHS)
def test_gcn_function_gradcheck(name, impl):
    edge_index, n = GRAPHS[name]
    adj = normalized_adjacency(edge_index, n, dtype=F64)
    x = torch.randn(n, 3, dtype=F64, requires_grad=True)
    w = torch.randn(3, 2, dtype=F64, requires_grad=True)
    b = torch.randn(2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: GCNFunction.apply(x, w, b, adj.values, adj, impl), (x, w, b))


@pytest.mark.parametrize("impl", ["spmm", "scatter"])
def test_gcn_conv_backward_is_eqs_28_29(impl):
    """Output and all gradients against autograd through the dense reference, and the note's
    closed forms dX = A'ᵀ dY Wᵀ (eq. 28), dW = Xᵀ A'ᵀ dY (eq. 29), db = Σ dY."""
    edge_index, n = directed_graph()
    conv = GCNConv(3, 4, aggr_impl=impl).double()
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(n, 3, dtype=F64, requires_grad=True)
    dy = torch.randn(n, 4, dtype=F64)
    a_norm = reference_gcn_norm(edge_index, n)
    y = conv(x, edge_index)
    got = torch.autograd.grad(y, (x, conv.lin.weight, conv.bias), dy)

    w = conv.lin.weight.detach().T.clone().requires_grad_()
    b = conv.bias.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y_ref = reference_gcn(x_ref, w, b, a_norm)
    torch.testing.assert_close(y, y_ref)
    want = torch.autograd.grad(y_ref, (x_ref, w, b), dy)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1].T)
    torch.testing.assert_close(got[2], want[2])

    d = a_norm.T @ dy
    torch.testing.assert_close(got[0], d @ w.detach().T)  # eq. 28
    torch.testing.assert_close(got[1].T, x.detach().T @ d)  # eq. 29
    torch.testing.assert_close(got[2], dy.sum(0))


def test_gcn_conv_without_normalize_or_bias():
    edge_index, n = directed_graph()
    conv = GCNConv(3, 2, bias=False, normalize=False).double()
    x = torch.randn(n, 3, dtype=F64)
    want = dense_adjacency(edge_index, n) @ x @ conv.lin.weight.detach().T
    torch.testing.assert_close(conv(x, edge_index), want)


def test_gcn_conv_accepts_prebuilt_adjacency_and_caches():
    edge_index, n = directed_graph()
    x = torch.randn(n, 3)
    adj = normalized_adjacency(edge_index, n)
    conv = GCNConv(3, 2, cached=True)
    y = conv(x, edge_index)
    torch.testing.assert_close(conv(x, adj), y)
    first = conv.adjacency(edge_index, x)
    assert conv.adjacency(edge_index, x) is first  # same tensor: reused
    assert conv.adjacency(edge_index.clone(), x) is not first  # another tensor: rebuilt
    edge_index[0, 0] = 2  # modified in place: the version counter changes, rebuilt
    assert conv.adjacency(edge_index, x) is not first
    uncached = GCNConv(3, 2)
    assert uncached.adjacency(edge_index, x) is not uncached.adjacency(edge_index, x)


def test_gcn_conv_float32_converts_prebuilt_float64_adjacency():
    edge_index, n = directed_graph()
    adj = normalized_adjacency(edge_index, n, dtype=F64)
    conv = GCNConv(3, 2)
    y = conv(torch.randn(n, 3), adj)
    assert y.dtype == torch.float32


def test_mismatched_feature_rows_against_prebuilt_adjacency():
    edge_index, n = directed_graph()
    adj = normalized_adjacency(edge_index, n)
    with pytest.raises(ValueError, match=r"x has 6 rows but the graph has num_nodes=7"):
        GCNConv(3, 2)(torch.randn(6, 3), adj)


def test_large_finite_features_are_accepted_even_when_their_sum_overflows():
    x = torch.full((7, 3), 3e38)  # float32: finite entries, infinite sum
    assert GCNConv(3, 2)(x, directed_graph()[0]).shape == (7, 2)
