"""DenseGCNConv: the GCN layer on a dense adjacency, called as PyTorch Geometric's ``DenseGCNConv``.

Y = A' X W + b with A' = D^-1/2 (A + I) D^-1/2 dense ``[B, N, N]``: the note's O(N² F) variant.
The layer runs on :class:`~fastgnn.nn.gcn_conv.GCNFunction` (the backward written out: dX = A'ᵀ
dY Wᵀ, dW = Σ_b X_bᵀ A'_bᵀ dY_b, db, and dA' = dY Zᵀ when the adjacency needs a gradient, as in
DiffPool's learned ``S ᵀ A S``), with autograd carrying dA' through the normalisation.
"""

from __future__ import annotations

import torch

from fastgnn.nn.adjacency import DenseAdjacency, NormalizedAdjacency, dense_gcn_norm, normalized_adjacency
from fastgnn.nn.gcn_conv import GCNLayer, gcn
from fastgnn.nn.inputs import materialize
from fastgnn.nn.validation import check_features, check_finite

__all__ = ["DenseGCNConv"]


class DenseGCNConv(GCNLayer):
    """GCN with a dense A'.

    Args:
        in_channels: F_in, or -1 (lazy).
        out_channels: F_out.
        improved: self-loops of weight 2.
        bias: learnable bias ``[F_out]``.
        cached: (keyword, not in PyG) keep A' built from an ``edge_index`` while the same
            unmodified tensor is passed again.

    ``forward(x, adj, mask=None, add_loop=True)`` takes the graph as one of:

    * a dense float adjacency ``adj [B, N, N]`` or ``[N, N]`` (shared by the batch) with
      ``adj[b, i, j]`` the weight of edge j → i, and ``x [B, N, F_in]`` or ``[N, F_in]`` — PyG's
      convention: the diagonal is set to 1 (2 with ``improved``; left alone with
      ``add_loop=False``), A' = D^-1/2 A D^-1/2 with D the row sums clamped to >= 1, and the
      output is always batched ``[B, N, F_out]``; ``mask [B, N]`` (bool or 0/1) zeroes the rows
      of padding nodes. Gradients reach ``adj``.
    * ``edge_index [2, E]`` int64 (A' as :func:`~fastgnn.nn.normalized_adjacency` builds it, densified),
      or a prebuilt :class:`~fastgnn.nn.adjacency.NormalizedAdjacency` /
      :class:`~fastgnn.nn.adjacency.DenseAdjacency`, with ``x [N, F_in]`` → ``[N, F_out]``.

    Shapes: ``x [B, N, F_in]`` or ``[N, F_in]``, ``adj [B, N, N]`` or ``[N, N]``, ``mask [B, N]`` →
    ``[B, N, F_out]``; ``x [N, F_in]`` with ``edge_index [2, E]`` → ``[N, F_out]``.

    Cost O(B N F_in F_out + B N² F_out) per forward and per backward; memory O(B N²).
    Parameters ``lin.weight [F_out, F_in]`` and ``bias`` (PyG's names).
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False, bias: bool = True,
                 *, cached: bool = False):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self._init_parameters(in_channels, out_channels, bias)

    def forward(self, x: torch.Tensor, adj, mask: torch.Tensor | None = None, add_loop: bool = True) -> torch.Tensor:
        if isinstance(adj, torch.Tensor) and adj.layout == torch.strided and torch.is_floating_point(adj):
            return self._batched(x, adj, mask, add_loop)
        if mask is not None:
            raise ValueError("mask needs a dense float adjacency [B, N, N] (the batched form)")
        check_features(x)
        materialize(self.lin, x)
        return _dense_forward(self, x, adj)

    def _batched(self, x, adj, mask, add_loop):
        """PyG's batched form: ``x [B, N, F]`` or ``[N, F]``, ``adj [B, N, N]`` or ``[N, N]``."""
        if adj.dim() not in (2, 3) or adj.shape[-1] != adj.shape[-2]:
            raise ValueError(f"adj must be a dense [B, N, N] or [N, N] adjacency, got shape {tuple(adj.shape)}")
        if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be [B, N, F] or [N, F] with a dense adjacency, got {shape}")
        check_features(x, adj.shape[-1], allow_empty=True, batched=True)
        x = x.unsqueeze(0) if x.dim() == 2 else x
        adj = adj.unsqueeze(0) if adj.dim() == 2 else adj
        batch = torch.broadcast_shapes(x.shape[:1], adj.shape[:1])[0]
        check_finite(adj, "adj")
        materialize(self.lin, x)
        op = dense_gcn_norm(adj.to(x.dtype), add_self_loops=add_loop, improved=self.improved)
        out = gcn(x, self.lin.weight.T, self.bias, op, "dense")
        if mask is not None:
            n = adj.shape[-1]
            if not isinstance(mask, torch.Tensor) or mask.numel() != batch * n and mask.numel() != n:
                raise ValueError(f"mask must be [B, N] = [{batch}, {n}] (or [N]), got "
                                 f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}")
            out = out * mask.reshape(-1, n, 1).to(out.dtype)
        return out

    def adjacency(self, adj, x: torch.Tensor) -> DenseAdjacency:
        """Dense A' ``[N, N]`` in ``x``'s dtype and device from an ``edge_index`` or a prebuilt operator."""
        if isinstance(adj, (NormalizedAdjacency, DenseAdjacency)):
            if adj.num_nodes != x.shape[0]:
                raise ValueError(f"x has {x.shape[0]} rows but the graph has num_nodes={adj.num_nodes}")
            if isinstance(adj, NormalizedAdjacency):  # densified once, kept with the operator
                adj = adj.to(x.dtype, x.device).dense()
            return adj.to(x.dtype, x.device)

        def build():
            sparse = normalized_adjacency(adj, x.shape[0], dtype=x.dtype, device=x.device, improved=self.improved)
            return DenseAdjacency(sparse.to_dense())

        return self._cache.get((adj,), (x.shape[0], self.improved), build, self.cached).to(x.dtype, x.device)


@torch.compiler.disable  # a graph break: the operator objects are not traced
def _dense_forward(conv: DenseGCNConv, x, adj):
    op = conv.adjacency(adj, x)
    return gcn(x, conv.lin.weight.T, conv.bias, op, "dense")
