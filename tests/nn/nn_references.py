"""Shared by the layer tests of tests/nn: small test graphs and dense references written here
independently of fastgnn (A' by a loop over the edges, GAT's masked per-head softmax), and a check
of an output and its gradients against a reference's."""

from __future__ import annotations

import math

import torch

F64 = torch.float64


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
