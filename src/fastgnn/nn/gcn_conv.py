"""GCNConv (Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks")
and its autograd Function with the backward written out.

Matrix form: Y = A' X W + b with A' = D^-1/2 (A + I) D^-1/2 (:func:`~fastgnn.nn.normalized_adjacency`).
Node-wise: y_i = Wᵀ Σ_{j ∈ N(i) ∪ {i}} e_ji / sqrt(d_j d_i) x_j + b, d_i = 1 + Σ_j e_ji.

:class:`GCNFunction` runs the note's phases — transform Z = XW, message + scatter Y = A'Z, update
Y + b — and its backward (eqs. 10-17, 28-29 of the GCN complexity note):
D = A'ᵀ dY, dW = Xᵀ D, dX = D Wᵀ, db = Σ_rows dY, and, for learned or weighted edges,
dA'_ij = <dY_i, Z_j> on the nonzeros only (a sampled product, O(E F_out) time, O(E) memory);
autograd carries that last gradient through the normalisation back to ``edge_weight``.
"""

from __future__ import annotations

import torch
from torch import nn

from fastgnn.nn.adjacency import NormalizedAdjacency, gcn_norm, normalized_adjacency
from fastgnn.nn.inputs import FLOWS, GraphCache, glorot, linear, materialize
from fastgnn.nn.validation import check_features, check_impl

__all__ = ["GCNConv", "GCNFunction", "GCNLayer", "gcn", "gcn_norm"]  # gcn_norm: PyG's import path


class GCNFunction(torch.autograd.Function):
    """One GCN layer Y = A'(XW) + b with its backward.

    Inputs: x ``[N, F_in]`` (or ``[..., N, F_in]``, or sparse COO ``[N, F_in]``), weight
    ``[F_in, F_out]``, bias ``[F_out]`` or None, values (A''s values, in ``adj``'s order; a dense
    operator's matrix), adj (:class:`~fastgnn.nn.adjacency.NormalizedAdjacency` or
    :class:`~fastgnn.nn.adjacency.DenseAdjacency`), impl.

    Forward: Z = XW (O(N F_in F_out)); Y = A'Z (O(E F_out) sparse, O(N² F_out) dense); Y + b.
    Backward: D = A'ᵀ dY (O(E F_out)); dW = Xᵀ D and dX = D Wᵀ (O(N F_in F_out) each);
    db = Σ_i dY_i; dvalues = <dY_i, Z_j> per nonzero, with Z recomputed (only when the values
    need a gradient). Saved: X, W and the values: memory O(N F_in + F_in F_out + E).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, values, adj, impl):
        z = x @ weight  # transform (eq. 3); a sparse x gives a dense z
        y = adj.matmul(z, impl, values)  # message (scale by A'[i, j]) + scatter (sum into target i): eq. 4
        if bias is not None:
            y = y + bias  # update (broadcast over any batch dimensions)
        ctx.save_for_backward(x, weight, values)
        ctx.adj, ctx.impl, ctx.has_bias = adj, impl, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight, values = ctx.saved_tensors
        dy = dy.contiguous()
        d = ctx.adj.matmul_t(dy, ctx.impl, values)  # eq. 10: D = A'ᵀ dL/dY
        dx = dw = db = dv = None
        if ctx.needs_input_grad[0]:  # eqs. 17, 28: dX = A'ᵀ dY Wᵀ
            dx = (d @ weight.T).sum_to_size(x.shape)
        if ctx.needs_input_grad[1]:  # eqs. 12-13, 29: dW = Xᵀ A'ᵀ dY
            f_in = x.shape[-1]
            if x.layout == torch.sparse_coo:
                dw = torch.sparse.mm(x.t(), d)
            else:
                dw = x.expand(d.shape[:-1] + (f_in,)).reshape(-1, f_in).T @ d.reshape(-1, d.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy.reshape(-1, dy.shape[-1]).sum(0)
        if ctx.needs_input_grad[3]:  # dA'_ij = <dY_i, Z_j>
            dv = ctx.adj.sampled_dot(dy, x @ weight)
        return dx, dw, db, dv, None, None


def gcn(x, weight, bias, adj, impl: str = "spmm") -> torch.Tensor:
    """Y = A'(XW) + b by :class:`GCNFunction` (``weight [F_in, F_out]``); ``adj`` already in x's
    dtype and device."""
    if x.layout == torch.sparse_coo and x.requires_grad:
        raise ValueError("a sparse x cannot require a gradient (pass x.to_dense())")
    return GCNFunction.apply(x, weight, bias, adj.values, adj, impl)


class GCNLayer(nn.Module):
    """What GCNConv and DenseGCNConv share: ``lin`` (no bias) and ``bias``, PyG's initialisation,
    the graph cache and PyG's ``repr``."""

    def _init_parameters(self, in_channels: int, out_channels: int, bias: bool) -> None:
        self.lin = linear(in_channels, out_channels)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._cache = GraphCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weight, zero bias (PyG's initialisation); forgets the cached A'."""
        glorot(self.lin)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class GCNConv(GCNLayer):
    r"""Graph convolution of Kipf & Welling, called as PyTorch Geometric's ``GCNConv``.

    .. math::
        Y = \hat D^{-1/2} \hat A \hat D^{-1/2} X W + b,\qquad \hat A = A + I

    Args:
        in_channels: F_in, or -1 to read it from the first input (lazy).
        out_channels: F_out.
        improved: \hat A = A + 2I.
        cached: keep A' built from a graph while the same unmodified graph tensor (and
            ``edge_weight``) is passed again (transductive training). Unlike PyG, another graph
            is never answered with the cached A'; weights that need a gradient are not cached.
        add_self_loops: add \hat A's self-loops (default: ``normalize``); ``True`` with
            ``normalize=False`` is refused, as in PyG.
        normalize: symmetric normalisation; ``False`` aggregates with the raw weights.
        bias: learnable bias ``[F_out]``.
        flow: ``"source_to_target"`` (row 0 of ``edge_index`` is the source) or
            ``"target_to_source"``; an attribute, as in PyG.
        aggr_impl: ``"spmm"`` (CSR sparse-dense product, the default) or ``"scatter"``
            (gather messages, ``index_add`` into targets; O(E F_out) extra memory).

    ``forward(x, edge_index, edge_weight=None)``:

    * ``x [N, F_in]``, or ``[..., N, F_in]`` (the same graph for every leading index), or a
      sparse COO ``[N, F_in]``;
    * ``edge_index [2, E]`` int64, a sparse ``adj_t [N, N]`` (``torch.sparse`` COO/CSR/CSC or a
      ``torch_sparse.SparseTensor``; rows are targets, values are weights), or a prebuilt
      :class:`~fastgnn.nn.adjacency.NormalizedAdjacency` (reused by layers and epochs);
    * ``edge_weight [E]`` (with an ``edge_index``): gradients flow back to it.

    Shapes: ``x [N, F_in]`` (or ``[..., N, F_in]``), ``edge_index [2, E]`` or ``adj_t [N, N]``,
    ``edge_weight [E]`` → ``[..., N, F_out]``.

    Cost per forward and per backward O(N F_in F_out + E F_out);
    memory O(N F_in + E) saved for the backward (Z = XW is recomputed, not kept).
    Parameters ``lin.weight [F_out, F_in]`` and ``bias``, so a PyG ``state_dict`` loads unchanged.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = None,
        normalize: bool = True,
        bias: bool = True,
        *,
        flow: str = "source_to_target",
        aggr: str = "add",
        aggr_impl: str = "spmm",
    ):
        super().__init__()
        check_impl(aggr_impl)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(f"'{type(self).__name__}' does not support adding self-loops to the graph when no "
                             "on-the-fly normalization is applied (add_self_loops=True, normalize=False)")
        if aggr != "add":
            raise ValueError(f"GCNConv aggregates by a weighted sum: aggr must be 'add', got {aggr!r}")
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.flow, self.aggr, self.aggr_impl = flow, aggr, aggr_impl
        self._init_parameters(in_channels, out_channels, bias)

    @property
    def _cached_edge_index(self):
        """The cached A' (PyG's attribute name), or None."""
        return self._cache.value

    def forward(self, x: torch.Tensor, edge_index, edge_weight: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(x, (tuple, list)):
            raise ValueError(f"'{type(self).__name__}' received a tuple of node features as input while this layer "
                             "does not support bipartite message passing (use GATConv)")
        check_features(x, allow_empty=True, batched=True)
        materialize(self.lin, x)
        if x.shape[-2] == 0:  # no nodes: nothing to aggregate, PyG returns an empty output
            return _linear(x, self.lin.weight.T, self.bias)
        return _gcn_forward(self, x, edge_index, edge_weight)

    def adjacency(self, edge_index, x: torch.Tensor, edge_weight: torch.Tensor | None = None) -> NormalizedAdjacency:
        """A' for this layer's settings, validated against ``x``, in ``x``'s dtype and device."""
        num_nodes = x.shape[-2]
        if isinstance(edge_index, NormalizedAdjacency):
            if edge_weight is not None:
                raise ValueError("edge_weight must be None with a prebuilt NormalizedAdjacency (its values are A')")
            if edge_index.num_nodes != num_nodes:
                raise ValueError(f"x has {num_nodes} rows but the graph has num_nodes={edge_index.num_nodes}")
            return edge_index.to(x.dtype, x.device)

        def build():
            return normalized_adjacency(
                edge_index, num_nodes, add_self_loops=self.add_self_loops, normalize=self.normalize,
                dtype=x.dtype, device=x.device, edge_weight=edge_weight, improved=self.improved, flow=self.flow,
            )

        key = (edge_index, edge_weight)
        sizes = (num_nodes, self.flow, self.improved, self.add_self_loops, self.normalize)
        return self._cache.get(key, sizes, build, self.cached).to(x.dtype, x.device)


@torch.compiler.disable  # a graph break: dynamo cannot trace the sparse operator objects
def _gcn_forward(conv: GCNConv, x, edge_index, edge_weight):
    adj = conv.adjacency(edge_index, x, edge_weight)
    return gcn(x, conv.lin.weight.T, conv.bias, adj, conv.aggr_impl)


def _linear(x, weight, bias):
    out = x @ weight
    return out + bias if bias is not None else out
