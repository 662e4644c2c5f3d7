"""GATConv: every behaviour PyTorch Geometric 2.8's ``test/nn/conv/test_gat_conv.py`` checks, written
here against independent references (a dense masked softmax per head), and the explicit backward
extended to edge features and bipartite graphs, gradchecked in float64; the memory bound holds
with edge features.  ``GATAggregate`` against autograd through a dense reference, with and without
the dropout mask; no E x H x C tensor saved; the graph reused.  Against PyG itself:
``test_gat_conv_pyg.py``."""

from __future__ import annotations

import math

import pytest
import torch
from nn_references import GAT_GRAPHS, assert_same_and_same_grads, gat_inputs, random_graph, reference_gat_aggregate

from fastgnn.nn import GATConv, gat_graph
from fastgnn.nn.gat_conv import GATAggregate

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64
EDGES = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])  # PyG's test graph: 4 sources, targets 0 and 1


def csc_t(edge_index, size):
    """PyG's ``to_torch_csc_tensor(edge_index, size=size).t()``: CSR adj_t ``[N_dst, N_src]``."""
    value = torch.ones(edge_index.shape[1])
    return torch.sparse_coo_tensor(edge_index, value, size, check_invariants=True).coalesce().to_sparse_csc().t()


def dense_attention(h_src, a_src, a_dst, src, dst, n_dst, negative_slope=0.2, a_edge=None):
    """out [N_dst, H, C] and α [E, H] by a dense masked softmax per head (no duplicate edges)."""
    heads = h_src.shape[1]
    scores = torch.full((heads, n_dst, h_src.shape[0]), -math.inf, dtype=h_src.dtype)
    s = a_src[src].T + (0 if a_dst is None else a_dst[dst].T) + (0 if a_edge is None else a_edge.T)  # [H, E]
    scores[:, dst, src] = torch.nn.functional.leaky_relu(s, negative_slope)
    alpha = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    out = torch.einsum("hij,jhc->ihc", alpha, h_src)
    return out, alpha[:, dst, src].T


@pytest.mark.parametrize("residual", [False, True])
def test_gat_conv_forms_of_the_graph_and_attention_weights(residual):
    torch.manual_seed(0)
    x1 = torch.randn(4, 8, dtype=F64)
    conv = GATConv(8, 32, heads=2, residual=residual).double()
    assert str(conv) == "GATConv(8, 32, heads=2)"
    out = conv(x1, EDGES)
    assert out.shape == (4, 64)
    # the reference: loops added to the edges, dense softmax
    loops = torch.arange(4)
    src, dst = torch.cat([EDGES[0][EDGES[0] != EDGES[1]], loops]), torch.cat([EDGES[1][EDGES[0] != EDGES[1]], loops])
    h = (x1 @ conv.lin.weight.T).view(4, 2, 32)
    ref, ref_alpha = dense_attention(h, (h * conv.att_src).sum(-1), (h * conv.att_dst).sum(-1), src, dst, 4)
    ref = ref.reshape(4, 64) + conv.bias + (x1 @ conv.res.weight.T if residual else 0)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(conv(x1, EDGES, size=(4, 4)), out)
    torch.testing.assert_close(conv(x1, csc_t(EDGES, (4, 4)).double()), out)

    out2, (edge_index, alpha) = conv(x1, EDGES, return_attention_weights=True)
    torch.testing.assert_close(out2, out)
    assert edge_index.shape == (2, 7) and alpha.shape == (7, 2)
    assert torch.equal(edge_index, torch.stack([src, dst]))  # PyG's order: loops appended
    torch.testing.assert_close(alpha, ref_alpha)
    assert float(alpha.min()) >= 0 and float(alpha.max()) <= 1
    torch.testing.assert_close(torch.zeros(4, 2, dtype=F64).index_add_(0, dst, alpha), torch.ones(4, 2, dtype=F64))

    out3, (adj, alpha3) = conv(x1, csc_t(EDGES, (4, 4)).double(), return_attention_weights=True)
    torch.testing.assert_close(out3, out)
    assert adj.layout == torch.sparse_csr and adj.shape == (4, 4, 2) and adj._nnz() == 7
    dense = torch.zeros(4, 4, 2, dtype=F64)
    dense[dst, src] = ref_alpha
    torch.testing.assert_close(adj.to_dense(), dense)


@pytest.mark.parametrize("residual", [False, True])
def test_bipartite(residual):
    torch.manual_seed(1)
    x1, x2 = torch.randn(4, 8, dtype=F64), torch.randn(2, 16, dtype=F64)
    conv = GATConv((8, 16), 32, heads=2, residual=residual).double()
    assert str(conv) == "GATConv((8, 16), 32, heads=2)"
    out1 = conv((x1, x2), EDGES)
    assert out1.shape == (2, 64)
    loops = torch.arange(2)
    keep = EDGES[0] != EDGES[1]
    src, dst = torch.cat([EDGES[0][keep], loops]), torch.cat([EDGES[1][keep], loops])
    h_src = (x1 @ conv.lin_src.weight.T).view(4, 2, 32)
    h_dst = (x2 @ conv.lin_dst.weight.T).view(2, 2, 32)
    ref, _ = dense_attention(h_src, (h_src * conv.att_src).sum(-1), (h_dst * conv.att_dst).sum(-1), src, dst, 2)
    ref = ref.reshape(2, 64) + conv.bias + (x2 @ conv.res.weight.T if residual else 0)
    torch.testing.assert_close(out1, ref)
    torch.testing.assert_close(conv((x1, x2), EDGES, size=(4, 2)), out1)
    torch.testing.assert_close(conv((x1, x2), csc_t(EDGES, (4, 2)).double()), out1)

    out2 = conv((x1, None), EDGES, size=(4, 2))  # no target features: no a_dst term, no residual
    assert out2.shape == (2, 64)
    ref2, _ = dense_attention(h_src, (h_src * conv.att_src).sum(-1), None, src, dst, 2)
    torch.testing.assert_close(out2, ref2.reshape(2, 64) + conv.bias)
    torch.testing.assert_close(conv((x1, None), csc_t(EDGES, (4, 2)).double()), out2)


def test_edge_features():
    torch.manual_seed(2)
    x = torch.randn(4, 8, dtype=F64)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 1, 1]])
    edge_weight, edge_attr = torch.randn(4, dtype=F64), torch.randn(4, 4, dtype=F64)
    for edge_dim, attr in ((1, edge_weight), (4, edge_attr)):
        for fill_value in (0.5, "mean"):
            conv = GATConv(8, 32, heads=2, edge_dim=edge_dim, fill_value=fill_value).double()
            out = conv(x, edge_index, attr)
            assert out.shape == (4, 64)
            attr2 = attr.view(4, -1)
            loop_attr = torch.full((4, edge_dim), 0.5, dtype=F64)
            if fill_value == "mean":  # the mean of each node's incoming features (0 without any)
                loop_attr = torch.stack([attr2[edge_index[1] == i].mean(0) if (edge_index[1] == i).any()
                                         else torch.zeros(edge_dim, dtype=F64) for i in range(4)])
            all_attr = torch.cat([attr2, loop_attr])
            e = (all_attr @ conv.lin_edge.weight.T).view(-1, 2, 32)
            h = (x @ conv.lin.weight.T).view(4, 2, 32)
            src, dst = torch.cat([edge_index[0], torch.arange(4)]), torch.cat([edge_index[1], torch.arange(4)])
            ref, _ = dense_attention(h, (h * conv.att_src).sum(-1), (h * conv.att_dst).sum(-1), src, dst, 4,
                                     a_edge=(e * conv.att_edge).sum(-1))
            torch.testing.assert_close(out, ref.reshape(4, 64) + conv.bias)
            with pytest.raises(NotImplementedError, match="edge_attr together with a sparse adjacency"):
                conv(x, csc_t(edge_index, (4, 4)).double(), attr)


def test_empty_graph():
    conv = GATConv(8, 32, heads=2)
    out = conv(torch.randn(0, 8), torch.empty(2, 0, dtype=torch.long))
    assert out.shape == (0, 64)


# --- beyond PyG's file: the explicit backward with edge scores and bipartite graphs ---------


@pytest.mark.parametrize("dropout", [False, True])
def test_aggregate_backward_with_edge_scores_and_bipartite_gradcheck(dropout):
    """GATAggregate's gradients wrt h, a_src, a_dst and a_edge (bipartite, a duplicate edge, a
    target without in-edges) by gradcheck, and against autograd through the dense reference."""
    src = torch.tensor([0, 1, 2, 3, 4, 0, 2, 2])
    dst = torch.tensor([0, 0, 1, 1, 2, 2, 0, 0])  # (2 -> 0) twice; target 3 has no in-edge
    graph = gat_graph(torch.stack([src, dst]), 5, add_self_loops=False, num_targets=4)
    g = torch.Generator().manual_seed(3)
    h = torch.randn(2, 5, 3, dtype=F64, generator=g).requires_grad_()
    a_src = torch.randn(2, 5, dtype=F64, generator=g).requires_grad_()
    a_dst = torch.randn(2, 4, dtype=F64, generator=g).requires_grad_()
    a_edge = torch.randn(2, 8, dtype=F64, generator=g).requires_grad_()
    mask = torch.rand(2, 8, generator=g) >= 0.3 if dropout else None
    scale = 1 / 0.7 if dropout else 1.0
    assert torch.autograd.gradcheck(
        lambda *t: GATAggregate.apply(*t, graph, 0.2, mask, scale), (h, a_src, a_dst, a_edge))
    if not dropout:  # the dense reference needs distinct edges: drop the duplicate
        sel = torch.arange(7)
        graph2 = gat_graph(torch.stack([src[sel], dst[sel]]), 5, add_self_loops=False, num_targets=4)
        a_e = a_edge[:, sel][:, graph2.order]  # in the graph's sorted order
        out = GATAggregate.apply(h, a_src, a_dst, a_e, graph2, 0.2, None, 1.0)
        ref, _ = dense_attention(h.transpose(0, 1), a_src.T, a_dst.T, graph2.src, graph2.dst, 4, a_edge=a_e.T)
        dout = torch.randn_like(out)
        got = torch.autograd.grad(out, (h, a_src, a_dst, a_edge), dout, retain_graph=True)
        want = torch.autograd.grad(ref.transpose(0, 1), (h, a_src, a_dst, a_edge), dout)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)


def test_layer_gradcheck_with_edge_attr_bipartite_and_residual():
    torch.manual_seed(4)
    conv = GATConv((3, 2), 2, heads=2, edge_dim=2, fill_value="max", residual=True).double()
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0], [0, 0, 1, 1, 2, 2]])
    x_src = torch.randn(5, 3, dtype=F64, requires_grad=True)
    x_dst = torch.randn(3, 2, dtype=F64, requires_grad=True)
    attr = torch.randn(6, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: conv((a, b), edge_index, c), (x_src, x_dst, attr))


def test_no_edge_by_feature_tensor_is_saved_with_edge_features():
    """Memory O(E H + E D + N H C): nothing the backward keeps has E x H x C entries."""
    n, heads, c, d = 50, 4, 32, 3
    edge_index = torch.randint(0, n, (2, 20 * n), generator=torch.Generator().manual_seed(5))
    conv = GATConv(16, c, heads=heads, dropout=0.5, edge_dim=d)
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = conv(torch.randn(n, 16, requires_grad=True), edge_index, torch.randn(20 * n, d))
    out.sum().backward()
    e = 20 * n + n
    assert max(sizes) <= max(e * heads, e * d, n * heads * c, n * 16)
    assert sum(sizes) < e * heads * c / 2


def test_lazy_channels_and_bad_arguments():
    conv = GATConv((-1, -1), 4, heads=2)
    out = conv((torch.randn(5, 3), torch.randn(3, 2)), torch.tensor([[0, 4], [1, 2]]))
    assert out.shape == (3, 8) and conv.lin_src.weight.shape == (8, 3) and conv.lin_dst.weight.shape == (8, 2)
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match="edge_dim=None"):
        GATConv(8, 4)(x, EDGES, torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"edge_attr must have shape \[E\] or \[E, D\] with E = 4"):
        GATConv(8, 4, edge_dim=2)(x, EDGES, torch.randn(3, 2))
    with pytest.raises(ValueError, match="fill_value must be"):
        GATConv(8, 4, edge_dim=2, fill_value="median")
    with pytest.raises(ValueError, match=r"x_dst has 3 rows but the graph has 2 target nodes"):
        GATConv((8, 8), 4)((x, torch.randn(3, 8)), EDGES, size=(4, 2))
    with pytest.raises(ValueError, match=r"size must be \(N_src, N_dst\)"):
        GATConv(8, 4)(x, EDGES, size=(5, 4))
    with pytest.raises(ValueError, match=r"edge_index\[1, 0\] = 2 \(target node\) is out of range for num_targets=2"):
        GATConv((8, 8), 4)((x, torch.randn(2, 8)), torch.tensor([[0], [2]]))


# --- GATAggregate against the dense reference, dropout, memory, reuse -------------------------------


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


def test_attention_functions_refuse_a_second_derivative():
    h, a_src, a_dst = gat_inputs(4)
    graph = gat_graph(torch.tensor([[0, 1], [1, 2]]), 4)
    out = GATAggregate.apply(h, a_src, a_dst, None, graph, 0.2, None, 1.0)
    (g,) = torch.autograd.grad(out.sum(), h, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()
