"""GATConv (Veličković et al., "Graph Attention Networks"), called as PyTorch Geometric's
``GATConv``, with its edge softmax and aggregation as an autograd Function with the backward
written out (derived in ``docs/attention-backward.md``).

Matrix/node-wise form, for each head k and each edge j → i (sources j, targets i):

    s_ij = a_srcᵀ W_s x_j + a_dstᵀ W_t x_i (+ a_edgeᵀ W_e e_ij),   e_ij = LeakyReLU(s_ij),
    α_ij = softmax of e_ij over i's in-edges,   out_i = Σ_j α_ij W_s x_j,

heads concatenated ``[N_dst, H C]`` or averaged ``[N_dst, C]``, plus an optional residual
``R x_i`` and a bias. W_s = W_t unless the layer is bipartite.

Memory is the point of this file: the scores and α are ``[H, E]``, the features ``[H, N, C]``,
and no ``E × H × C`` message tensor is formed, forward or backward (PyG's gather-scatter
forms one). Edge features enter the score through a_edgeᵀ W_e e_ij = e_ij · (W_eᵀ a_edge),
an ``[E, D] × [D, H]`` product, so no ``E × H × C`` projection of the edge features either.

* :class:`GATGraph` / :func:`gat_graph` — the edges sorted by target, with the by-source order.
* :class:`GATAggregate` — the Function; :func:`edge_softmax` — the per-target softmax.
* :class:`GATConv` — the layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from fastgnn.nn.adjacency import csr_from_rowptr, rowptr
from fastgnn.nn.inputs import GraphCache, glorot, is_sparse_adjacency, linear, materialize, read_edges
from fastgnn.nn.validation import check_edge_values, check_features, check_num_nodes

__all__ = ["GATConv", "GATGraph", "gat_graph", "GATAggregate", "edge_softmax"]

LOOP_REDUCES = {"add": "sum", "sum": "sum", "mean": "mean", "min": "amin", "max": "amax", "mul": "prod"}


class GATGraph:
    """The edges of a (possibly bipartite) graph for edge-wise attention, sorted by target.

    Args:
        src, dst: ``[E]`` sources j and targets i, in the caller's order.
        num_nodes: number of source nodes N_src.
        num_targets: number of target nodes N_dst (default N_src).

    Attributes:
        src, dst: sorted by (i, j), stably; duplicate edges are kept (each is one softmax
            entry, as in PyG).
        order: ``[E]`` the caller's position of each sorted edge (for edge features and for
            returning attention weights in the caller's order).
        crow: ``[N_dst + 1]`` CSR row pointers: edges ``crow[i]:crow[i+1]`` enter i.
        perm_t, crow_t, dst_t: the edges in (j, i) order, for the transposed products.

    Memory O(N + E) integers; built once (O(E log E)) and reused by every head, layer and epoch.
    """

    def __init__(self, src: torch.Tensor, dst: torch.Tensor, num_nodes: int, num_targets: int | None = None):
        self.num_nodes = n_src = int(num_nodes)
        self.num_targets = n_dst = n_src if num_targets is None else int(num_targets)
        self.order = torch.argsort(dst * n_src + src, stable=True)
        self.src, self.dst = src[self.order], dst[self.order]
        self.crow = rowptr(self.dst, n_dst)
        self.perm_t = torch.argsort(self.src * n_dst + self.dst, stable=True)
        self.crow_t = rowptr(self.src, n_src)
        self.dst_t = self.dst[self.perm_t]

    @property
    def num_edges(self) -> int:
        return int(self.src.numel())

    @property
    def device(self) -> torch.device:
        return self.src.device

    def to(self, device) -> GATGraph:
        """This graph on ``device`` (self when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        return GATGraph(*(t.to(device) for t in self.edge_index()), self.num_nodes, self.num_targets)

    def edge_index(self) -> torch.Tensor:
        """``[2, E]`` the edges in the caller's order (self-loops included where added)."""
        out = torch.empty(2, self.num_edges, dtype=torch.long, device=self.device)
        out[:, self.order] = torch.stack([self.src, self.dst])
        return out

    def to_input_order(self, values: torch.Tensor) -> torch.Tensor:
        """``values [E, ...]`` given in sorted order, returned in the caller's order."""
        return values.new_empty(values.shape).index_put_((self.order,), values)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """CSR ``[N_dst, N_src]`` with ``values [E]`` at (dst, src): out_i = Σ_j v_ij z_j."""
        return csr_from_rowptr(self.crow, self.src, values, self.num_targets, self.num_nodes)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """The transpose of :meth:`matrix`, CSR ``[N_src, N_dst]`` (``values`` in sorted order)."""
        return csr_from_rowptr(self.crow_t, self.dst_t, values[self.perm_t], self.num_nodes, self.num_targets)

    def __repr__(self) -> str:
        bip = f", num_targets={self.num_targets}" if self.num_targets != self.num_nodes else ""
        return f"GATGraph(num_nodes={self.num_nodes}{bip}, num_edges={self.num_edges})"


def gat_graph(edge_index, num_nodes: int, add_self_loops: bool = True, device=None, *,
              num_targets: int | None = None) -> GATGraph:
    """The edge structure :class:`GATConv` attends over: existing self-loops removed and one added
    per node (``min(N_src, N_dst)`` of them) when ``add_self_loops`` (PyG's GATConv), sorted by
    target. ``edge_index`` may also be a sparse ``adj_t [N_dst, N_src]``. O(E log E)."""
    num_nodes = check_num_nodes(num_nodes)
    num_targets = num_nodes if num_targets is None else check_num_nodes(num_targets)
    edges = read_edges(edge_index, num_nodes, num_targets)
    device = torch.device(device) if device is not None else edges.src.device
    src, dst = edges.src.to(device), edges.dst.to(device)
    if add_self_loops:
        src, dst, _ = _with_self_loops(src, dst, None, min(num_nodes, num_targets), "mean")
    return GATGraph(src, dst, num_nodes, num_targets)


def _with_self_loops(src, dst, edge_attr, num_loops: int, fill_value):
    """Remove existing self-loops, append one per node < ``num_loops`` (PyG's
    ``remove_self_loops`` then ``add_self_loops``), with the loops' edge features from
    ``fill_value`` (a number, a tensor, or a reduction of the node's incoming features)."""
    keep = src != dst
    loop = torch.arange(num_loops, device=src.device)
    src, dst = torch.cat([src[keep], loop]), torch.cat([dst[keep], loop])
    if edge_attr is not None:
        edge_attr = edge_attr[keep]
        edge_attr = torch.cat([edge_attr, _loop_attr(edge_attr, dst[: edge_attr.shape[0]], num_loops, fill_value)])
    return src, dst, edge_attr


def _loop_attr(edge_attr, dst, num_loops: int, fill_value) -> torch.Tensor:
    shape = (num_loops,) + tuple(edge_attr.shape[1:])
    if isinstance(fill_value, str):
        # a node without in-edges gets 0, as PyG's scatter
        index = dst.view((-1,) + (1,) * (edge_attr.dim() - 1)).expand_as(edge_attr)
        inside = dst < num_loops
        out = edge_attr.new_zeros(shape)
        return out.scatter_reduce(0, index[inside], edge_attr[inside], LOOP_REDUCES[fill_value], include_self=False)
    if isinstance(fill_value, torch.Tensor):
        fill = fill_value.to(edge_attr.device, edge_attr.dtype)
        if fill.dim() != edge_attr.dim():
            fill = fill.unsqueeze(0)
        return fill.expand(shape).contiguous()
    return edge_attr.new_full(shape, float(fill_value))


class GATAggregate(torch.autograd.Function):
    """Edge softmax and aggregation of GAT, per head k, with the backward of docs/attention-backward.md.

    Inputs (head-major): h ``[H, N_src, C]`` (the transformed source features), a_src
    ``[H, N_src]`` and a_dst ``[H, N_dst]`` or None (a_srcᵀ W x_j and a_dstᵀ W x_i), a_edge
    ``[H, E]`` or None (the edge-feature score, in the graph's sorted order), graph
    (:class:`GATGraph`), negative_slope, mask (None, or ``[H, E]`` bool dropout mask in sorted
    order: True keeps), scale (1 / (1 - p)) and with_alpha.

    Forward, for each edge j → i:  s_ij = a_src,j + a_dst,i + a_edge,ij;  e_ij = LeakyReLU(s_ij);
    α_ij = exp(e_ij − m_i) / Σ_j' exp(e_ij' − m_i) with m_i = max_j e_ij (scatter_reduce amax);
    β_ij = α_ij · mask_ij · scale;  out_i = Σ_j β_ij h_j (one CSR product per head).
    O(E H) for the scores and softmax, O(E H C) for the products; memory O(E H + N H C).
    Returns out ``[H, N_dst, C]``, and β ``[H, E]`` (no gradient) when ``with_alpha``.

    Backward (dout ``[H, N_dst, C]``):  dh_j = Σ_i β_ij dout_i (CSR of the transpose, O(E H C));
    dβ_ij = <dout_i, h_j> (sampled dense-dense product on the edges, O(E H C), memory O(E H));
    dα = dβ · mask · scale;  de_ij = α_ij (dα_ij − δ_i) with δ_i = Σ_j α_ij dα_ij = <dout_i, out_i>
    (O(N H C), no pass over the edges);  ds = de · (1 if s > 0 else negative_slope);
    da_src,j = Σ_i ds_ij,  da_dst,i = Σ_j ds_ij,  da_edge,ij = ds_ij. Saved: h, out, α, the
    kept-and-scaled mask and the sign of s: O(N H C + E H).
    """

    @staticmethod
    def forward(ctx, h, a_src, a_dst, a_edge, graph, negative_slope, mask, scale, with_alpha=False):
        h = h.contiguous()
        s = a_src.index_select(1, graph.src)  # [H, E]
        if a_dst is not None:
            s.add_(a_dst.index_select(1, graph.dst))
        if a_edge is not None:
            s.add_(a_edge)
        positive = s > 0
        alpha = edge_softmax(torch.nn.functional.leaky_relu_(s, negative_slope), graph)  # in place of s
        keep = None if mask is None else mask.to(alpha.dtype) * scale  # 0 or 1/(1-p)
        beta = alpha if keep is None else alpha * keep
        out = torch.stack([graph.matrix(beta[k]) @ h[k] for k in range(h.shape[0])])
        ctx.save_for_backward(h, out, alpha, keep, positive)
        ctx.graph, ctx.negative_slope = graph, negative_slope
        ctx.has_dst, ctx.has_edge = a_dst is not None, a_edge is not None
        if not with_alpha:
            return out
        beta = beta.clone() if keep is None else beta
        ctx.mark_non_differentiable(beta)
        return out, beta

    @staticmethod
    @once_differentiable  # the saved α carries no history: a second derivative would be wrong
    def backward(ctx, dout, *_unused):
        h, out, alpha, keep, positive = ctx.saved_tensors
        graph = ctx.graph
        dout = dout.contiguous()
        heads = h.shape[0]
        dh = None
        if ctx.needs_input_grad[0]:  # dh_j = Σ_i β_ij dout_i
            beta = alpha if keep is None else alpha * keep
            dh = torch.stack([graph.matrix_t(beta[k]) @ dout[k] for k in range(heads)])
            del beta
        if graph.num_edges == 0:
            ds = alpha.new_zeros(alpha.shape)
        else:
            # dβ_ij = <dout_i, h_j>, sampled at the edges only (SDDMM); values in the graph's edge order
            dalpha = torch.stack([
                torch.sparse.sampled_addmm(graph.matrix(alpha[k]), dout[k], h[k].T, beta=0.0).values()
                for k in range(heads)
            ])
            if keep is not None:
                dalpha.mul_(keep)  # dα = dβ · mask / (1 - p)
            # softmax backward per target: de = α ⊙ (dα − δ), δ_i = Σ_j β_ij dβ_ij = <dout_i, out_i>
            delta = (dout * out).sum(-1)  # [H, N_dst]
            de = dalpha.sub_(delta.index_select(1, graph.dst)).mul_(alpha)
            ds = torch.where(positive, de, de * ctx.negative_slope)  # LeakyReLU'
            del de
        da_src = da_dst = da_edge = None
        if ctx.needs_input_grad[1]:
            da_src = ds.new_zeros(heads, graph.num_nodes).index_add_(1, graph.src, ds)
        if ctx.has_dst and ctx.needs_input_grad[2]:
            da_dst = ds.new_zeros(heads, graph.num_targets).index_add_(1, graph.dst, ds)
        if ctx.has_edge and ctx.needs_input_grad[3]:
            da_edge = ds
        return dh, da_src, da_dst, da_edge, None, None, None, None, None


def edge_softmax(e: torch.Tensor, graph: GATGraph) -> torch.Tensor:
    """Softmax of ``e [H, E]`` over each target's in-edges, stabilised by the per-target max;
    overwrites ``e``. O(E H) time. Targets without in-edges are not touched (no 0/0)."""
    index = graph.dst.expand_as(e)
    e_max = e.new_full((e.shape[0], graph.num_targets), -math.inf)
    e_max.scatter_reduce_(1, index, e, reduce="amax", include_self=True)
    p = e.sub_(e_max.index_select(1, graph.dst)).exp_()
    denom = torch.zeros_like(e_max).index_add_(1, graph.dst, p)
    return p.div_(denom.index_select(1, graph.dst))


class GATConv(nn.Module):
    """Graph attention, called as PyTorch Geometric's ``GATConv``.

    Args:
        in_channels: F_in, or ``(F_src, F_dst)`` for a bipartite layer (separate ``lin_src``
            and ``lin_dst``); -1 (or -1 in the pair) reads the width from the first input.
        out_channels: C, per head.
        heads: H.
        concat: concatenate the heads (else average them).
        negative_slope: of the LeakyReLU.
        dropout: probability of dropping an attention coefficient α_ij (training only).
        add_self_loops: remove self-loops and add one per node (``min(N_src, N_dst)`` of them).
        edge_dim: width D of the edge features ``edge_attr`` (None: the layer takes none).
        fill_value: the self-loops' edge features: a number, a tensor ``[D]``, or
            ``"add"``/``"mean"``/``"min"``/``"max"``/``"mul"`` of the node's incoming features.
        bias: learnable bias ``[H C]`` (concat) or ``[C]``.
        residual: add a learnable skip connection ``res(x_dst)`` (no bias).
        cached: (keyword, not in PyG) keep the edge structure built from an ``edge_index`` while
            the same unmodified tensor is passed again (not with ``edge_attr``).

    ``forward(x, edge_index, edge_attr=None, size=None, return_attention_weights=None)``:

    * ``x [N, F_in]``, or ``(x_src [N_src, F_src], x_dst [N_dst, F_dst] or None)``;
    * ``edge_index [2, E]`` int64, a sparse ``adj_t [N_dst, N_src]`` (``torch.sparse`` or
      ``SparseTensor``; its values are ignored), or a prebuilt :class:`GATGraph`;
    * ``edge_attr [E, D]`` or ``[E]`` (with ``edge_dim``); ``size = (N_src, N_dst)``.

    Shapes: ``x [N, F_in]`` or ``([N_src, F_src], [N_dst, F_dst] or None)``, ``edge_index [2, E]``
    or ``adj_t [N_dst, N_src]``, ``edge_attr [E, D]`` → ``[N_dst, H C]`` (or ``[N_dst, C]``).

    Returns ``[N_dst, H C]`` (or ``[N_dst, C]``); with ``return_attention_weights=True`` also
    ``(edge_index, alpha [E', H])`` with the self-loops, in PyG's edge order (for a sparse
    ``adj_t``: ``(adj [N_dst, N_src, H], alpha)``; for a ``SparseTensor``: the ``SparseTensor``
    of α). The returned α carries no gradient.

    Cost per forward and per backward O(N F_in H C + E H C + E D H); memory O(E H + N H C)
    (no per-edge message tensor, unlike a gather-scatter implementation's O(E H C)).
    Parameters ``lin`` (or ``lin_src``/``lin_dst``), ``att_src``, ``att_dst`` ``[1, H, C]``,
    ``lin_edge``, ``att_edge``, ``res``, ``bias``: PyG's names, so a PyG ``state_dict`` loads.
    """

    def __init__(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value: float | torch.Tensor | str = "mean",
        bias: bool = True,
        residual: bool = False,
        *,
        cached: bool = False,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}")
        if isinstance(fill_value, str) and fill_value not in LOOP_REDUCES:
            raise ValueError(f"fill_value must be a number, a tensor or one of {sorted(LOOP_REDUCES)}, "
                             f"got {fill_value!r}")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value
        self.residual, self.cached = residual, cached
        self.lin = self.lin_src = self.lin_dst = None
        if isinstance(in_channels, int):
            self.lin = linear(in_channels, heads * out_channels)
        else:
            self.lin_src = linear(in_channels[0], heads * out_channels)
            self.lin_dst = linear(in_channels[1], heads * out_channels)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = linear(edge_dim, heads * out_channels)
            self.att_edge = nn.Parameter(torch.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        total = heads * out_channels if concat else out_channels
        if residual:
            self.res = linear(in_channels if isinstance(in_channels, int) else in_channels[1], total)
        else:
            self.register_parameter("res", None)
        self.bias = nn.Parameter(torch.empty(total)) if bias else None
        self._cache = GraphCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and attention vectors, zero bias (PyG's initialisation)."""
        for lin in (self.lin, self.lin_src, self.lin_dst, self.lin_edge, self.res):
            glorot(lin)
        for att in (self.att_src, self.att_dst, self.att_edge):
            if att is not None:  # PyG's glorot on [1, H, C] uses fan = (H, C)
                bound = (6.0 / (att.shape[-2] + att.shape[-1])) ** 0.5
                nn.init.uniform_(att, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def forward(self, x, edge_index, edge_attr: torch.Tensor | None = None, size=None,
                return_attention_weights: bool | None = None):
        heads, c = self.heads, self.out_channels
        x_src, x_dst = (x, x) if isinstance(x, torch.Tensor) else _pair(x)
        check_features(x_src, allow_empty=True, name="x" if x_src is x_dst else "x_src")
        if x_dst is not None and x_dst is not x_src:
            check_features(x_dst, allow_empty=True, name="x_dst")
        res = None
        if self.res is not None and x_dst is not None:
            materialize(self.res, x_dst)
            res = self.res(x_dst)
        if self.lin is not None:
            materialize(self.lin, x_src)
            h_src = self.lin(x_src).view(-1, heads, c)
            h_dst = h_src if x_dst is x_src else None if x_dst is None else self.lin(x_dst).view(-1, heads, c)
        else:
            materialize(self.lin_src, x_src)
            h_src = self.lin_src(x_src).view(-1, heads, c)
            h_dst = None
            if x_dst is not None:
                materialize(self.lin_dst, x_dst)
                h_dst = self.lin_dst(x_dst).view(-1, heads, c)
        a_src = (h_src * self.att_src).sum(-1)  # [N_src, H]: a_srcᵀ W x_j
        a_dst = None if h_dst is None else (h_dst * self.att_dst).sum(-1)  # [N_dst, H]
        out, alpha, graph = _attend(self, h_src, a_src, a_dst, x_dst, edge_index, edge_attr, size,
                                    bool(return_attention_weights))
        out = out.reshape(out.shape[0], heads * c) if self.concat else out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            return out, _attention_output(graph, alpha, edge_index)
        return out

    def dropout_mask(self, num_edges: int, device) -> torch.Tensor:
        """Bool ``[H, E]``: True keeps α_ij (probability 1 - dropout); drawn from torch's RNG."""
        return torch.rand(self.heads, num_edges, device=device) >= self.dropout

    def graph(self, edge_index, x: torch.Tensor) -> GATGraph:
        """The attention edges of a non-bipartite ``edge_index`` (or a prebuilt :class:`GATGraph`)
        for ``x [N, F]``, on ``x``'s device."""
        n = x.shape[0]
        return self._graph_and_attr(edge_index, None, n, n, n, x.device)[0]

    def _graph_and_attr(self, edge_index, edge_attr, n_src, n_dst, num_loops, device):
        """(:class:`GATGraph`, edge features with the loops', sorted) for this layer's settings."""
        if isinstance(edge_index, GATGraph):
            if edge_attr is not None:
                raise ValueError("edge_attr cannot be used with a prebuilt GATGraph (pass edge_index instead)")
            if edge_index.num_nodes != n_src or edge_index.num_targets != n_dst:
                raise ValueError(f"x has {n_src} rows but the graph has num_nodes={edge_index.num_nodes}"
                                 if edge_index.num_nodes != n_src else
                                 f"the graph has {edge_index.num_targets} targets, expected {n_dst}")
            return edge_index.to(device), None
        if edge_attr is not None and is_sparse_adjacency(edge_index):
            raise NotImplementedError("edge_attr together with a sparse adjacency is not supported (as in PyG): "
                                      "pass edge_index [2, E]")

        def build():
            edges = read_edges(edge_index, n_src, n_dst)
            src, dst = edges.src.to(device), edges.dst.to(device)
            attr = edge_attr
            if attr is not None:
                check_edge_values(attr, src.numel(), name="edge_attr", dims=(1, 2))
                attr = attr.view(-1, 1) if attr.dim() == 1 else attr
            if self.add_self_loops:
                src, dst, attr = _with_self_loops(src, dst, attr, num_loops, self.fill_value)
            graph = GATGraph(src, dst, n_src, n_dst)
            return graph, None if attr is None else attr[graph.order]

        if edge_attr is not None:
            return build()
        return self._cache.get((edge_index,), (n_src, n_dst, num_loops, self.add_self_loops), build, self.cached)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


def _pair(x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"x must be a tensor [N, F] or a pair (x_src, x_dst), got {type(x).__name__}")
    if not isinstance(x[0], torch.Tensor):
        raise ValueError(f"x_src must be a torch.Tensor [N_src, F_src], got {type(x[0]).__name__}")
    return x[0], x[1]


@torch.compiler.disable  # a graph break: dynamo does not trace the graph objects and the Function
def _attend(conv: GATConv, h_src, a_src, a_dst, x_dst, edge_index, edge_attr, size, with_alpha: bool):
    """The attention part of :meth:`GATConv.forward`: ``[N_dst, H, C]``, β ``[H, E]`` (None unless
    ``with_alpha``: it costs an ``[H, E]`` copy) and the graph."""
    n_src = h_src.shape[0]
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or size[0] != n_src:
            raise ValueError(f"size must be (N_src, N_dst) with N_src = {n_src} (rows of x_src), got {size}")
    if is_sparse_adjacency(edge_index):
        n_dst = int(edge_index.size(0))
    elif isinstance(edge_index, GATGraph):
        n_dst = edge_index.num_targets
    else:
        n_dst = size[1] if size is not None else x_dst.shape[0] if x_dst is not None else n_src
    if x_dst is not None and x_dst.shape[0] != n_dst:
        raise ValueError(f"x_dst has {x_dst.shape[0]} rows but the graph has {n_dst} target nodes")
    if is_sparse_adjacency(edge_index):  # PyG: one loop per node of the smaller side of adj_t
        num_loops = min(n_src, n_dst)
    else:
        num_loops = min(size) if size is not None else n_src if x_dst is None else min(n_src, x_dst.shape[0])
    if edge_attr is not None:
        if conv.lin_edge is None:
            raise ValueError("edge_attr was given but the layer has edge_dim=None: build it with edge_dim=D")
        if isinstance(edge_attr, torch.Tensor) and torch.is_floating_point(edge_attr):
            edge_attr = edge_attr.to(h_src.dtype)
    graph, attr = conv._graph_and_attr(edge_index, edge_attr, n_src, n_dst, num_loops, h_src.device)
    heads, c = conv.heads, conv.out_channels
    if n_src == 0 or n_dst == 0:
        out = h_src.sum(0, keepdim=True).expand(n_dst, heads, c) if n_src == 0 else h_src[:0]
        return out, a_src.new_zeros(heads, graph.num_edges), graph
    a_edge = None
    if attr is not None:
        materialize(conv.lin_edge, attr)
        w = conv.lin_edge.weight.view(heads, c, -1)  # [H, C, D]
        a_edge = attr @ (w * conv.att_edge.view(heads, c, 1)).sum(1).T  # [E, H]: a_edgeᵀ W_e e_ij
        a_edge = a_edge.T.contiguous()
    mask = conv.dropout_mask(graph.num_edges, h_src.device) if conv.training and conv.dropout > 0 else None
    out = GATAggregate.apply(
        h_src.transpose(0, 1).contiguous(), a_src.T.contiguous(),
        None if a_dst is None else a_dst.T.contiguous(), a_edge, graph,
        conv.negative_slope, mask, 1.0 / (1.0 - conv.dropout), with_alpha,
    )
    out, beta = out if with_alpha else (out, None)
    return out.transpose(0, 1), beta, graph


def _attention_output(graph: GATGraph, beta: torch.Tensor, edge_index):
    """PyG's second output of ``return_attention_weights=True`` for this input layout."""
    alpha = beta.T  # [E, H] in sorted (dst, src) order = CSR order of adj_t
    size = (graph.num_targets, graph.num_nodes, alpha.shape[1])
    if isinstance(edge_index, torch.Tensor) and edge_index.layout != torch.strided:
        adj = csr_from_rowptr(graph.crow, graph.src, alpha, graph.num_targets, graph.num_nodes)
        if edge_index.layout == torch.sparse_coo:
            adj = torch.sparse_coo_tensor(torch.stack([graph.dst, graph.src]), alpha, size, is_coalesced=True)
        elif edge_index.layout == torch.sparse_csc:
            adj = adj.to_sparse_csc()
        return adj, alpha
    if is_sparse_adjacency(edge_index):  # torch_sparse.SparseTensor
        return type(edge_index)(row=graph.dst, col=graph.src, value=alpha, sparse_sizes=size[:2])
    return graph.edge_index(), graph.to_input_order(alpha)
