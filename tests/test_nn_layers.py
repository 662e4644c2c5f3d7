"""fastgnn.nn: every explicit backward against gradcheck and against autograd through an
independent dense reference written here; the spmm and scatter paths agree; bad input is refused."""

from __future__ import annotations

import math

import pytest
import torch

from fastgnn.nn import (
    DenseGCNConv,
    GATConv,
    GCNConv,
    SelfAttention,
    aggregate,
    gat_graph,
    normalized_adjacency,
    self_attention,
)
from fastgnn.nn.gat_conv import GATAggregate
from fastgnn.nn.gcn_conv import GCNFunction
from fastgnn.nn.self_attention import SelfAttentionFunction

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


# --- graphs and dense references -------------------------------------------------------------


def directed_graph() -> tuple[torch.Tensor, int]:
    """7 nodes, directed (A != Aᵀ), a duplicate edge, a self-loop and isolated nodes 5 and 6."""
    edge_index = torch.tensor([[0, 1, 2, 3, 3, 4, 0, 2, 2], [1, 2, 0, 4, 3, 1, 1, 3, 3]])
    return edge_index, 7


def random_graph(num_nodes: int, num_edges: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_nodes, (2, num_edges), generator=g)


GRAPHS = {
    "directed": directed_graph(),
    "random": (random_graph(12, 40, seed=1), 12),
    "no_edges": (torch.empty(2, 0, dtype=torch.long), 4),
}


def dense_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """A[i, j] = number of edges j → i (plain loop)."""
    a = torch.zeros(num_nodes, num_nodes, dtype=F64)
    for j, i in edge_index.T.tolist():
        a[i, j] += 1.0
    return a


def reference_gcn_norm(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """A' = D^-1/2 (A + I) D^-1/2 densely: self-loops replaced by one, D the row sums."""
    a = dense_adjacency(edge_index, num_nodes)
    a.fill_diagonal_(1.0)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def assert_same_and_same_grads(out, ref, inputs):
    """``out`` equals ``ref`` and, for one random cotangent, so do their gradients wrt ``inputs``."""
    torch.testing.assert_close(out, ref)
    dout = torch.randn_like(out)
    got, want = torch.autograd.grad(out, inputs, dout), torch.autograd.grad(ref, inputs, dout)
    for i, (a, b) in enumerate(zip(got, want)):
        torch.testing.assert_close(a, b, msg=lambda m, i=i: f"gradient wrt input {i}: {m}")


def reference_gcn(x, weight, bias, a_norm):
    return a_norm @ (x @ weight) + bias


# --- normalized_adjacency and the aggregation ------------------------------------------------------------


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


# --- GCNConv ---------------------------------------------------------------------------------


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


def test_cached_layers_can_be_copied_and_pickled():
    import copy
    import pickle

    edge_index, n = directed_graph()
    x = torch.randn(n, 3)
    for conv in (GCNConv(3, 2, cached=True), GATConv(3, 2, heads=2, cached=True)):
        y = conv(x, edge_index)
        for clone in (copy.deepcopy(conv), pickle.loads(pickle.dumps(conv))):
            torch.testing.assert_close(clone(x, edge_index), y)


def test_gcn_conv_float32_converts_prebuilt_float64_adjacency():
    edge_index, n = directed_graph()
    adj = normalized_adjacency(edge_index, n, dtype=F64)
    conv = GCNConv(3, 2)
    y = conv(torch.randn(n, 3), adj)
    assert y.dtype == torch.float32


# --- DenseGCNConv ----------------------------------------------------------------------------


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


# --- GATConv ---------------------------------------------------------------------------------


def reference_gat_aggregate(h, a_src, a_dst, graph, negative_slope, mask=None, scale=1.0):
    """Dense per-head attention restricted to the edges: scores [H, N, N] with -inf off the
    edges, row softmax (rows without in-edges give 0), optional dense dropout mask."""
    heads, n, _ = h.shape
    on_edge = torch.zeros(n, n, dtype=torch.bool)
    on_edge[graph.dst, graph.src] = True
    assert int(on_edge.sum()) == graph.num_edges, "reference needs a graph without duplicate edges"
    scores = a_dst[:, :, None] + a_src[:, None, :]  # [H, i, j]
    scores = torch.nn.functional.leaky_relu(scores, negative_slope).masked_fill(~on_edge, -math.inf)
    alpha = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    if mask is not None:
        dense_mask = torch.zeros(heads, n, n, dtype=F64)
        dense_mask[:, graph.dst, graph.src] = mask.to(F64)
        alpha = alpha * dense_mask * scale
    return alpha @ h


def gat_inputs(n, heads=2, channels=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(*shape, dtype=F64, generator=g).requires_grad_()
        for shape in ((heads, n, channels), (heads, n), (heads, n))
    )


GAT_GRAPHS = {
    # directed, a self-loop, no duplicate edge (the dense reference needs that); nodes 5, 6 isolated
    "directed": (torch.tensor([[0, 1, 2, 3, 3, 4, 1, 2], [1, 2, 0, 4, 3, 1, 0, 3]]), 7),
    "random": (torch.unique(random_graph(10, 30, seed=2), dim=1), 10),
}


@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("name", GAT_GRAPHS)
def test_gat_aggregate_gradcheck_and_reference(name, self_loops):
    edge_index, n = GAT_GRAPHS[name]
    graph = gat_graph(edge_index, n, add_self_loops=self_loops)
    h, a_src, a_dst = gat_inputs(n)
    assert torch.autograd.gradcheck(lambda *t: GATAggregate.apply(*t, None, graph, 0.2, None, 1.0), (h, a_src, a_dst))
    out = GATAggregate.apply(h, a_src, a_dst, None, graph, 0.2, None, 1.0)
    assert_same_and_same_grads(out, reference_gat_aggregate(h, a_src, a_dst, graph, 0.2), (h, a_src, a_dst))


@pytest.mark.parametrize("name", GAT_GRAPHS)
def test_gat_aggregate_with_dropout_mask(name):
    """The injected dropout mask enters forward and backward: gradcheck with the mask fixed,
    and the same gradients as autograd through the dense reference with the same mask."""
    edge_index, n = GAT_GRAPHS[name]
    graph = gat_graph(edge_index, n)
    h, a_src, a_dst = gat_inputs(n, seed=4)
    mask = torch.rand(2, graph.num_edges, generator=torch.Generator().manual_seed(5)) >= 0.4
    scale = 1.0 / 0.6
    assert torch.autograd.gradcheck(lambda *t: GATAggregate.apply(*t, None, graph, 0.2, mask, scale), (h, a_src, a_dst))
    out = GATAggregate.apply(h, a_src, a_dst, None, graph, 0.2, mask, scale)
    ref = reference_gat_aggregate(h, a_src, a_dst, graph, 0.2, mask, scale)
    assert_same_and_same_grads(out, ref, (h, a_src, a_dst))


def test_gat_conv_dropout_uses_the_seeded_mask_and_only_in_training():
    edge_index, n = GAT_GRAPHS["random"]
    conv = GATConv(4, 3, heads=2, dropout=0.5).double()
    x = torch.randn(n, 4, dtype=F64, requires_grad=True)
    torch.manual_seed(11)
    y = conv(x, edge_index)
    # the same mask, drawn again from the same seed, through the explicit function and the reference
    graph = conv.graph(edge_index, x)
    torch.manual_seed(11)
    mask = conv.dropout_mask(graph.num_edges, x.device)
    assert 0 < int(mask.sum()) < mask.numel()
    h = (x @ conv.lin.weight.T).view(n, 2, 3)
    a_src, a_dst = (h * conv.att_src).sum(-1).T, (h * conv.att_dst).sum(-1).T
    ref = reference_gat_aggregate(h.transpose(0, 1), a_src, a_dst, graph, 0.2, mask, 2.0)
    ref = ref.transpose(0, 1).reshape(n, 6) + conv.bias
    assert_same_and_same_grads(y, ref, (x, conv.lin.weight, conv.att_src, conv.att_dst))
    conv.eval()
    torch.testing.assert_close(conv(x, edge_index), conv(x, edge_index))  # no dropout in eval


def test_gat_conv_saves_no_edge_by_feature_tensor():
    """Memory O(E H + N H C): nothing the backward keeps has E x H x C entries (E = 20 N here)."""
    n, heads, c = 50, 4, 32
    edge_index = random_graph(n, 20 * n, seed=9)
    conv = GATConv(16, c, heads=heads, dropout=0.5)
    graph = gat_graph(edge_index, n)
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = conv(torch.randn(n, 16, requires_grad=True), graph)
    out.sum().backward()
    e = graph.num_edges
    assert max(sizes) <= max(e * heads, n * heads * c, n * 16)
    assert sum(sizes) < e * heads * c / 2


def test_gat_conv_graph_reuse_and_float32():
    edge_index, n = GAT_GRAPHS["directed"]
    conv = GATConv(4, 3, heads=2, concat=False, cached=True)
    x = torch.randn(n, 4)
    y = conv(x, edge_index)
    assert y.shape == (n, 3) and y.dtype == torch.float32
    assert conv.graph(edge_index, x) is conv.graph(edge_index, x)
    torch.testing.assert_close(conv(x, gat_graph(edge_index, n)), y)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        GATConv(4, 3, dropout=1.0)


# --- SelfAttention ---------------------------------------------------------------------------


def test_self_attention_function_gradcheck():
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 6, 3, dtype=F64, generator=g).requires_grad_() for _ in range(3))
    assert torch.autograd.gradcheck(SelfAttentionFunction.apply, (q, k, v))


def test_self_attention_matches_scaled_dot_product_attention_with_autograd():
    g = torch.Generator().manual_seed(8)
    q, k, v = (torch.randn(3, 9, 4, dtype=F64, generator=g).requires_grad_() for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert_same_and_same_grads(self_attention(q, k, v), ref, (q, k, v))
    # and the textbook formula written out
    ref2 = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1) @ v
    assert_same_and_same_grads(self_attention(q, k, v), ref2, (q, k, v))


@pytest.mark.parametrize("concat", [True, False])
def test_self_attention_layer_against_reference(concat):
    n, heads, d = 8, 2, 3
    layer = SelfAttention(4, d, heads=heads, concat=concat).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(n, 4, dtype=F64, requires_grad=True)
    edge_index, _ = directed_graph()
    edge_index = edge_index[:, edge_index.max(0).values < n]
    out = layer(x, edge_index)
    torch.testing.assert_close(layer(x), out)  # edge_index does not change dense attention

    def split(w):
        return (x @ w.T).view(n, heads, d).transpose(0, 1)

    ref = torch.nn.functional.scaled_dot_product_attention(
        split(layer.lin_query.weight), split(layer.lin_key.weight), split(layer.lin_value.weight)
    ).transpose(0, 1)
    ref = (ref.reshape(n, heads * d) if concat else ref.mean(1)) + layer.bias
    params = (x, layer.lin_query.weight, layer.lin_key.weight, layer.lin_value.weight, layer.bias)
    assert_same_and_same_grads(out, ref, params)


def test_self_attention_is_stable_for_large_scores():
    q = torch.full((1, 4, 2), 300.0, dtype=F64, requires_grad=True)
    out = self_attention(q, q, torch.randn(1, 4, 2, dtype=F64))
    out.sum().backward()
    assert bool(torch.isfinite(out).all()) and bool(torch.isfinite(q.grad).all())


# --- bad input -------------------------------------------------------------------------------


def _bad_input_cases():
    edge_index, n = directed_graph()
    x = torch.randn(n, 3)
    return {
        "source out of range": (x, torch.tensor([[0, 7], [1, 2]]), r"edge_index\[0, 1\] = 7 .*num_nodes=7"),
        "target negative": (x, torch.tensor([[0, 1], [1, -1]]), r"edge_index\[1, 1\] = -1 .*num_nodes=7"),
        "float edge_index": (x, edge_index.float(), r"dtype torch.int64"),
        "edge_index shape": (x, edge_index[:1], r"edge_index must have shape \[2, E\]"),
        "edge_index 1-D": (x, edge_index.reshape(-1), r"edge_index must have shape \[2, E\]"),
        "edge_index list": (x, edge_index.tolist(), r"edge_index must be a torch.Tensor"),
        "nan feature": (torch.where(torch.arange(n)[:, None] == 2, float("nan"), x), edge_index,
                        r"x has a non-finite value nan at \[2, 0\]"),
        "inf feature": (x.index_fill(1, torch.tensor([1]), float("inf")), edge_index, r"x has a non-finite value inf"),
        "empty graph": (torch.randn(0, 3), torch.empty(2, 0, dtype=torch.long), r"empty graph"),
        "1-D x": (torch.randn(n), edge_index, r"x must be 2-D"),
        "integer x": (torch.ones(n, 3, dtype=torch.long), edge_index, r"x must be a floating-point tensor"),
    }


# what differs by layer: a float [2, E] tensor is a dense adjacency to DenseGCNConv (PyG's), and
# GCNConv and GATConv take a graph without nodes as PyG does (an empty output)
LAYER_MESSAGES = {("dense_gcn", "float edge_index"): r"adj must be a dense \[B, N, N\] or \[N, N\]"}
EMPTY_OK = {"gcn", "gat"}


@pytest.mark.parametrize("case", list(_bad_input_cases()))
@pytest.mark.parametrize("layer", ["gcn", "dense_gcn", "gat", "attention"])
def test_bad_input_is_a_clear_value_error(layer, case):
    if case == "empty graph" and layer in EMPTY_OK:
        pytest.skip("an empty graph is valid input here (test_empty_graph_gives_an_empty_output)")
    x, edge_index, message = _bad_input_cases()[case]
    message = LAYER_MESSAGES.get((layer, case), message)
    conv = {"gcn": GCNConv, "dense_gcn": DenseGCNConv, "gat": GATConv, "attention": SelfAttention}[layer](3, 2)
    with pytest.raises(ValueError, match=message):
        conv(x, edge_index)


@pytest.mark.parametrize("layer", sorted(EMPTY_OK))
def test_empty_graph_gives_an_empty_output(layer):
    conv = {"gcn": GCNConv(3, 2), "gat": GATConv(3, 2, heads=2)}[layer]
    x = torch.randn(0, 3, requires_grad=True)
    out = conv(x, torch.empty(2, 0, dtype=torch.long))
    assert out.shape == (0, 2 if layer == "gcn" else 4)
    out.sum().backward()  # connected to the parameters, with zero gradients
    assert x.grad.shape == (0, 3)


def test_mismatched_feature_rows_against_prebuilt_adjacency():
    edge_index, n = directed_graph()
    adj = normalized_adjacency(edge_index, n)
    with pytest.raises(ValueError, match=r"x has 6 rows but the graph has num_nodes=7"):
        GCNConv(3, 2)(torch.randn(6, 3), adj)


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


def test_large_finite_features_are_accepted_even_when_their_sum_overflows():
    x = torch.full((7, 3), 3e38)  # float32: finite entries, infinite sum
    assert GCNConv(3, 2)(x, directed_graph()[0]).shape == (7, 2)


def test_attention_functions_refuse_a_second_derivative():
    h, a_src, a_dst = gat_inputs(4)
    graph = gat_graph(torch.tensor([[0, 1], [1, 2]]), 4)
    out = GATAggregate.apply(h, a_src, a_dst, None, graph, 0.2, None, 1.0)
    (g,) = torch.autograd.grad(out.sum(), h, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()
