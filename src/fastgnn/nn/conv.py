"""Graph convolution layers: sparse GCN, dense GCN and edge-wise graph attention (GAT).

Every layer is called as ``layer(x, edge_index)`` (PyTorch Geometric's convention: ``x [N, F_in]``,
``edge_index [2, E]`` int64 with row 0 the source j and row 1 the target i) and returns
``[N, F_out]``. Parameter names follow PyG (``lin.weight [F_out, F_in]``, ``bias``, and for GAT
``att_src``/``att_dst [1, H, C]``), so a PyG state dict loads unchanged.

* :class:`GCNConv` — Y = A'XW + b by :class:`~fastgnn.nn.functional.GCNFunction`: O(N F_in F_out
  + E F_out) each way, A' sparse (SpMM or scatter).
* :class:`DenseGCNConv` — the same with a dense A' ``[N, N]``: O(N F_in F_out + N² F_out).
* :class:`GATConv` — multi-head attention over the in-edges, O(N F_in H C + E H C), with the edge
  softmax and aggregation by :class:`~fastgnn.nn.functional.GATAggregate` (explicit backward).

A layer accepts the graph as a raw ``edge_index`` or as a prebuilt operator (from
:func:`~fastgnn.nn.functional.gcn_norm` or :func:`~fastgnn.nn.functional.gat_graph`) shared by
layers and epochs. With ``cached=True`` a layer keeps the operator built from a raw
``edge_index`` and reuses it while the same tensor (same object, unmodified) comes back.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from fastgnn.nn.functional import (
    DenseAdjacency,
    GATAggregate,
    GATGraph,
    GCNFunction,
    NormalizedAdjacency,
    _check_impl,
    check_edge_index,
    check_features,
    dense_gcn_norm,
    gat_graph,
    gcn_norm,
)

__all__ = ["GCNConv", "DenseGCNConv", "GATConv"]


class GCNConv(nn.Module):
    """Graph convolution of Kipf & Welling: ``Y = D^-1/2 (A+I) D^-1/2 X W + b``.

    Args:
        in_channels: F_in.
        out_channels: F_out.
        bias: add a learnable bias ``[F_out]`` (the update phase).
        cached: keep A' built from a raw ``edge_index`` while the same tensor is passed again
            (transductive training); off by default, as in PyG.
        add_self_loops: A + I (one self-loop per node, existing ones replaced), as in PyG.
        normalize: symmetric normalisation; ``False`` aggregates with the raw 0/1 A and adds
            no self-loops (as PyG).
        aggr_impl: ``"spmm"`` (CSR sparse-dense product, the default) or ``"scatter"``
            (gather messages, ``index_add`` into targets; O(E F_out) extra memory).

    Shapes: ``x [N, F_in]``, ``edge_index [2, E]`` or a :class:`NormalizedAdjacency`
    → ``[N, F_out]``. Cost per forward and per backward O(N F_in F_out + E F_out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        cached: bool = False,
        add_self_loops: bool = True,
        normalize: bool = True,
        aggr_impl: str = "spmm",
    ):
        super().__init__()
        _check_impl(aggr_impl)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.cached, self.add_self_loops, self.normalize = cached, add_self_loops, normalize
        self.aggr_impl = aggr_impl
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._cache = _GraphCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weight, zero bias (PyG's initialisation)."""
        nn.init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def forward(self, x: torch.Tensor, edge_index) -> torch.Tensor:
        adj = self.adjacency(edge_index, x)
        return GCNFunction.apply(x, self.lin.weight.T, self.bias, adj, self.aggr_impl)

    def adjacency(self, edge_index, x: torch.Tensor) -> NormalizedAdjacency:
        """A' for this layer's settings, validated against ``x``, in ``x``'s dtype and device."""
        if isinstance(edge_index, NormalizedAdjacency):
            check_features(x, edge_index.num_nodes)
            return edge_index.to(x.dtype, x.device)
        check_features(x)

        def build():
            return gcn_norm(
                edge_index, x.shape[0], add_self_loops=self.add_self_loops and self.normalize,
                normalize=self.normalize, dtype=x.dtype, device=x.device,
            )

        return self._cache.get(edge_index, x, build, self.cached).to(x.dtype, x.device)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr_impl={self.aggr_impl!r}, cached={self.cached}"


class DenseGCNConv(nn.Module):
    """GCN with a dense A' ``[N, N]``: the note's O(N² F) variant, same result as :class:`GCNConv`.

    ``forward(x, adj)`` takes the graph as one of:

    * ``edge_index [2, E]`` int64 (PyG convention) → A' = D^-1/2 (A+I) D^-1/2 as in
      :func:`gcn_norm`, densified;
    * a dense float adjacency ``[N, N]`` with ``adj[i, j]`` the weight of edge j → i (PyG
      ``DenseGCNConv``'s convention, unbatched) → diagonal set to 1, then D^-1/2 A D^-1/2;
    * a prebuilt :class:`NormalizedAdjacency` or :class:`DenseAdjacency`.

    Cost O(N F_in F_out + N² F_out) per forward and per backward; memory O(N²).
    ``cached`` as in :class:`GCNConv`. Parameter names as :class:`GCNConv`.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, cached: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.cached = in_channels, out_channels, cached
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._cache = _GraphCache()
        self.reset_parameters()

    reset_parameters = GCNConv.reset_parameters

    def forward(self, x: torch.Tensor, adj) -> torch.Tensor:
        adj = self.adjacency(adj, x)
        return GCNFunction.apply(x, self.lin.weight.T, self.bias, adj, "dense")

    def adjacency(self, adj, x: torch.Tensor) -> DenseAdjacency:
        """Dense A' ``[N, N]`` in ``x``'s dtype and device."""
        if isinstance(adj, (NormalizedAdjacency, DenseAdjacency)):
            check_features(x, adj.num_nodes)
            if isinstance(adj, NormalizedAdjacency):  # densified once, kept with the operator
                adj = adj.to(x.dtype, x.device).dense()
            return adj.to(x.dtype, x.device)
        check_features(x)
        if isinstance(adj, torch.Tensor) and torch.is_floating_point(adj):
            if adj.dim() != 2 or adj.shape[0] != adj.shape[1]:
                raise ValueError(
                    "adj must be an edge_index [2, E] of dtype torch.int64 or a square [N, N] float "
                    f"adjacency, got a {adj.dtype} tensor of shape {tuple(adj.shape)}"
                )
            check_features(x, adj.shape[0])

            def build():
                return dense_gcn_norm(adj.to(device=x.device, dtype=x.dtype))
        else:
            check_edge_index(adj, x.shape[0])

            def build():
                sparse = gcn_norm(adj, x.shape[0], dtype=x.dtype, device=x.device)
                return DenseAdjacency(sparse.to_dense())

        return self._cache.get(adj, x, build, self.cached).to(x.dtype, x.device)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, cached={self.cached}"


class GATConv(nn.Module):
    """Graph attention of Veličković et al. (PyG's ``GATConv``): for each head k,

        e_ij = LeakyReLU(a_srcᵀ W x_j + a_dstᵀ W x_i),  α_ij = softmax over i's in-edges j,
        out_i = Σ_j α_ij W x_j,

    heads concatenated (``[N, heads · C]``) or averaged (``[N, C]``), plus a bias.

    Args:
        in_channels: F_in.
        out_channels: C, per head.
        heads: H.
        concat: concatenate the heads (else average them).
        negative_slope: of the LeakyReLU.
        dropout: probability of dropping an attention coefficient α_ij (training only); the
            mask is kept for the backward.
        add_self_loops: replace self-loops by one per node (as PyG).
        bias: learnable bias ``[H C]`` (concat) or ``[C]``.
        cached: keep the edge structure built from a raw ``edge_index`` while the same tensor
            is passed again (not in PyG).

    Shapes: ``x [N, F_in]``, ``edge_index [2, E]`` or a :class:`~fastgnn.nn.functional.GATGraph`
    → ``[N, H C]`` or ``[N, C]``. Cost per forward and per backward O(N F_in H C + E H C);
    memory O(E H + N H C) (no per-edge message tensor, unlike a gather-scatter implementation's
    O(E H C)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        cached: bool = False,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.add_self_loops, self.cached = add_self_loops, cached
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self._cache = _GraphCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and attention vectors, zero bias (PyG's initialisation)."""
        nn.init.xavier_uniform_(self.lin.weight)
        for att in (self.att_src, self.att_dst):
            # PyG's glorot on [1, H, C] uses fan = (H, C)
            bound = (6.0 / (att.shape[-2] + att.shape[-1])) ** 0.5
            nn.init.uniform_(att, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def forward(self, x: torch.Tensor, edge_index) -> torch.Tensor:
        graph = self.graph(edge_index, x)
        n, heads, c = x.shape[0], self.heads, self.out_channels
        h = self.lin(x).view(n, heads, c)  # transform: O(N F_in H C)
        a_src = (h * self.att_src).sum(-1)  # [N, H]: a_srcᵀ W x_j
        a_dst = (h * self.att_dst).sum(-1)  # [N, H]: a_dstᵀ W x_i
        mask = self.dropout_mask(graph.num_edges, x.device) if self.training and self.dropout > 0 else None
        out = GATAggregate.apply(
            h.transpose(0, 1).contiguous(), a_src.T.contiguous(), a_dst.T.contiguous(), graph,
            self.negative_slope, mask, 1.0 / (1.0 - self.dropout),
        ).transpose(0, 1)  # [N, H, C]
        out = out.reshape(n, heads * c) if self.concat else out.mean(dim=1)
        return out + self.bias if self.bias is not None else out

    def dropout_mask(self, num_edges: int, device) -> torch.Tensor:
        """Bool ``[H, E]``: True keeps α_ij (probability 1 - dropout); drawn from torch's RNG."""
        return torch.rand(self.heads, num_edges, device=device) >= self.dropout

    def graph(self, edge_index, x: torch.Tensor) -> GATGraph:
        """The attention edges for ``edge_index`` (or a prebuilt :class:`GATGraph`) on ``x``'s device."""
        if isinstance(edge_index, GATGraph):
            check_features(x, edge_index.num_nodes)
            return edge_index.to(x.device)
        check_features(x)

        def build():
            return gat_graph(edge_index, x.shape[0], add_self_loops=self.add_self_loops, device=x.device)

        return self._cache.get(edge_index, x, build, self.cached).to(x.device)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}"


class _GraphCache:
    """The operator built from one graph tensor, kept while the same unmodified tensor returns.

    Keyed by the tensor's identity (a weak reference: a freed tensor never matches a new one
    at the same address), its in-place version counter and the node count.
    """

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self._ref, self._key, self._value = None, None, None

    def __getstate__(self) -> dict:  # pickling / deepcopy of a layer drops the cache
        return {}

    def __setstate__(self, state: dict) -> None:
        self.clear()

    def get(self, graph, x: torch.Tensor, build, cached: bool):
        if not cached:
            return build()
        key = (graph._version, x.shape[0])
        if self._ref is not None and self._ref() is graph and self._key == key:
            return self._value
        value = build()
        self._ref, self._key, self._value = weakref.ref(graph), key, value
        return value
