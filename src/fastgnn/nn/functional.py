"""The operators and autograd Functions behind fastgnn.nn, each with its explicit backward.

Notation (``../shared/papers/gcn-complexity.txt``): N nodes, E edges, X ``[N, F_in]``,
W ``[F_in, F_out]``, Z = XW, A' = D^-1/2 (A+I) D^-1/2 and Y = A'Z (+ b).

Graphs follow PyTorch Geometric: ``edge_index [2, E]`` int64 with row 0 the source j and row 1
the target i; a message flows j → i, so A'[i, j] != 0 and row i of A' sums over i's in-edges.
For a directed graph A' != A'ᵀ, which is why :class:`NormalizedAdjacency` keeps both.

* :func:`gcn_norm` — A' (degrees counted on the target side, like PyG), as a
  :class:`NormalizedAdjacency` holding the CSR of A' and of A'ᵀ. O(E log E) once; every layer
  and epoch reuses it (the note's "precomputed and reused").
* :func:`aggregate` / :class:`SparseAggregate` — Y = A'Z with backward dZ = A'ᵀ dY (eq. 10),
  O(E F) each way, by SpMM on the CSR (``impl="spmm"``) or by a gather + ``index_add`` over the
  edges (``impl="scatter"``: explicit messages, the note's message/scatter phases, O(E F) memory).
* :class:`GCNFunction` — the whole layer Y = A'(XW) + b with the note's backward written out:
  D = A'ᵀ dY (eq. 10), dW = Xᵀ D (eqs. 12-13, 29), dX = D Wᵀ (eqs. 17, 28), db = Σ_rows dY.
* :class:`DenseAdjacency` — the same operator as a dense ``[N, N]`` matrix (O(N² F) products).
* :func:`gat_graph` / :class:`GATGraph` / :class:`GATAggregate` — graph attention's edge softmax
  and aggregation per head, O(E H C) each way with O(E H + N H C) memory; the backward is
  derived in ``docs/attention-backward.md``.
* ``check_*`` — input validation shared by all layers: a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch.autograd.function import once_differentiable

__all__ = [
    "NormalizedAdjacency",
    "DenseAdjacency",
    "gcn_norm",
    "dense_gcn_norm",
    "aggregate",
    "SparseAggregate",
    "GCNFunction",
    "GATGraph",
    "gat_graph",
    "GATAggregate",
    "edge_softmax",
    "check_edge_index",
    "check_features",
    "check_num_nodes",
    "AGGR_IMPLS",
]

AGGR_IMPLS = ("spmm", "scatter")


class _Operator:
    """What both adjacency operators share: dtype/device and a cached :meth:`to`."""

    _converted: dict

    @property
    def dtype(self) -> torch.dtype:
        return self._values().dtype

    @property
    def device(self) -> torch.device:
        return self._values().device

    def to(self, dtype: torch.dtype | None = None, device=None):
        """This operator in ``dtype`` on ``device`` (self when nothing changes; conversions cached)."""
        dtype = dtype or self.dtype
        device = torch.device(device) if device is not None else self.device
        if dtype == self.dtype and device == self.device:
            return self
        key = (dtype, str(device))
        if key not in self._converted:
            self._converted[key] = self._convert(dtype, device)
        return self._converted[key]


class NormalizedAdjacency(_Operator):
    """A sparse N × N operator A' (rows = targets) with its transpose, both as CSR.

    Attributes:
        num_nodes: N.
        csr: A' as a ``torch.sparse_csr`` tensor ``[N, N]`` (duplicate edges summed).
        csr_t: A'ᵀ as CSR, for the backward dZ = A'ᵀ dY (no transpose is formed per step).
        row, col, weight: the same nonzeros in COO form, ``[nnz]`` each (row = target i,
            col = source j, weight = A'[i, j]), for the scatter path.

    Memory O(N + nnz) for each of the two CSRs and the COO arrays. :meth:`to` converts to another
    dtype/device once and remembers the result, so a layer can call it on every forward.
    """

    def __init__(self, row: torch.Tensor, col: torch.Tensor, weight: torch.Tensor, num_nodes: int):
        self.num_nodes = int(num_nodes)
        self.row, self.col, self.weight = row, col, weight
        self.csr = _csr(row, col, weight, self.num_nodes)
        self.csr_t = _csr(col, row, weight, self.num_nodes)
        self._converted = {}

    @property
    def nnz(self) -> int:
        return int(self.weight.numel())

    def _values(self) -> torch.Tensor:
        return self.weight

    def _convert(self, dtype, device) -> NormalizedAdjacency:
        weight = self.weight.to(device=device, dtype=dtype)
        return NormalizedAdjacency(self.row.to(device), self.col.to(device), weight, self.num_nodes)

    def matmul(self, z: torch.Tensor, impl: str = "spmm") -> torch.Tensor:
        """Y = A' Z for Z ``[N, F]``: O(nnz · F)."""
        if impl == "spmm":
            return self.csr @ z
        return scatter_sum(message(z, self.col, self.weight), self.row, self.num_nodes)

    def matmul_t(self, dy: torch.Tensor, impl: str = "spmm") -> torch.Tensor:
        """A'ᵀ dY for dY ``[N, F]`` (the backward of :meth:`matmul`, eq. 10): O(nnz · F)."""
        if impl == "spmm":
            return self.csr_t @ dy
        return scatter_sum(message(dy, self.row, self.weight), self.col, self.num_nodes)

    def to_dense(self) -> torch.Tensor:
        """A' as a dense ``[N, N]`` tensor (O(N²) memory)."""
        return self.csr.to_dense()

    def dense(self) -> DenseAdjacency:
        """The same operator as a :class:`DenseAdjacency`, built once and kept with this one."""
        if "dense" not in self._converted:
            self._converted["dense"] = DenseAdjacency(self.to_dense())
        return self._converted["dense"]

    def __repr__(self) -> str:
        return f"NormalizedAdjacency(num_nodes={self.num_nodes}, nnz={self.nnz}, dtype={self.dtype})"


class DenseAdjacency(_Operator):
    """A dense ``[N, N]`` operator with the :class:`NormalizedAdjacency` interface: O(N² F) products."""

    def __init__(self, matrix: torch.Tensor):
        self.matrix = matrix
        self.num_nodes = int(matrix.shape[0])
        self._converted = {}

    def _values(self) -> torch.Tensor:
        return self.matrix

    def _convert(self, dtype, device) -> DenseAdjacency:
        return DenseAdjacency(self.matrix.to(device=device, dtype=dtype))

    def matmul(self, z: torch.Tensor, impl: str = "dense") -> torch.Tensor:
        return self.matrix @ z

    def matmul_t(self, dy: torch.Tensor, impl: str = "dense") -> torch.Tensor:
        return self.matrix.T @ dy

    def to_dense(self) -> torch.Tensor:
        return self.matrix

    def __repr__(self) -> str:
        return f"DenseAdjacency(num_nodes={self.num_nodes}, dtype={self.dtype})"


def gcn_norm(
    edge_index: torch.Tensor,
    num_nodes: int,
    add_self_loops: bool = True,
    normalize: bool = True,
    dtype: torch.dtype | None = None,
    device=None,
) -> NormalizedAdjacency:
    """A' = D^-1/2 (A+I) D^-1/2 of the note's eq. (1), as PyG's ``gcn_norm`` computes it.

    Args:
        edge_index: ``[2, E]`` int64, row 0 = source j, row 1 = target i.
        num_nodes: N > 0 (nodes without edges are allowed).
        add_self_loops: replace existing self-loops by exactly one per node (PyG's
            ``add_remaining_self_loops``), i.e. A + I.
        normalize: scale by D^-1/2 on both sides, D the in-degree (target side) of A + I;
            ``False`` keeps the 0/1 weights.
        dtype, device: of the weights (default: the default dtype, edge_index's device).

    Returns:
        :class:`NormalizedAdjacency` with ``A'[i, j] = d_i^-1/2 d_j^-1/2`` for each edge j → i
        (duplicate edges summed). A node of in-degree 0 (possible only without self-loops) gets
        weight 0 rather than inf. O(E log E) time (one sort per CSR), O(N + E) memory.
    """
    num_nodes = check_num_nodes(num_nodes)
    src, dst = _edges(edge_index, num_nodes, add_self_loops, device)
    device = src.device
    dtype = dtype or torch.get_default_dtype()
    weight = torch.ones(src.numel(), dtype=dtype, device=device)
    if normalize:
        deg = torch.zeros(num_nodes, dtype=dtype, device=device).index_add_(0, dst, weight)
        inv_sqrt = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
        weight = inv_sqrt[src] * inv_sqrt[dst]
    row, col, weight = _coalesce(dst, src, weight, num_nodes)
    return NormalizedAdjacency(row, col, weight, num_nodes)


def dense_gcn_norm(adj: torch.Tensor, add_self_loops: bool = True) -> DenseAdjacency:
    """A' from a dense adjacency ``adj [N, N]`` with ``adj[i, j]`` the weight of edge j → i
    (PyG's ``DenseGCNConv`` convention: out = adj @ x): diagonal set to 1, then
    D^-1/2 A D^-1/2 with D the row sums. O(N²)."""
    if not isinstance(adj, torch.Tensor) or adj.dim() != 2 or adj.shape[0] != adj.shape[1]:
        shape = tuple(adj.shape) if isinstance(adj, torch.Tensor) else type(adj).__name__
        raise ValueError(f"adj must be a square [N, N] tensor, got {shape}")
    check_num_nodes(adj.shape[0])
    adj = adj.clone() if torch.is_floating_point(adj) else adj.to(torch.get_default_dtype())
    if add_self_loops:
        adj.fill_diagonal_(1.0)
    deg = adj.sum(dim=1)
    inv_sqrt = deg.clamp(min=1.0).pow(-0.5)
    return DenseAdjacency(inv_sqrt[:, None] * adj * inv_sqrt[None, :])


def aggregate(z: torch.Tensor, adj: NormalizedAdjacency, impl: str = "spmm") -> torch.Tensor:
    """Y = A' Z (``[N, F]``) with the explicit backward dZ = A'ᵀ dY; ``impl`` "spmm" or "scatter"."""
    _check_impl(impl)
    return SparseAggregate.apply(z, adj.to(z.dtype, z.device), impl)


class SparseAggregate(torch.autograd.Function):
    """Neighbourhood aggregation Y = A'Z (eq. 4 without σ); backward dZ = A'ᵀ dY (eq. 10).

    Both directions cost O(nnz · F) time; the backward needs no saved tensor beyond A'.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, adj: NormalizedAdjacency, impl: str) -> torch.Tensor:
        ctx.adj, ctx.impl = adj, impl
        return adj.matmul(z, impl)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        return ctx.adj.matmul_t(dy.contiguous(), ctx.impl), None, None


class GCNFunction(torch.autograd.Function):
    """One GCN layer Y = A'(XW) + b in the note's phases, with its backward (eqs. 10-17, 28-29).

    Inputs: x ``[N, F_in]``, weight ``[F_in, F_out]``, bias ``[F_out]`` or None, adj
    (:class:`NormalizedAdjacency` or :class:`DenseAdjacency`), impl.

    Forward: transform Z = XW (O(N F_in F_out)); message + scatter Y = A'Z (O(E F_out) sparse,
    O(N² F_out) dense); update Y + b (O(N F_out)).
    Backward: D = A'ᵀ dY (O(E F_out)); dW = Xᵀ D (O(N F_in F_out)); dX = D Wᵀ (O(N F_in F_out));
    db = Σ_i dY_i. Saved: X and W only (Z is not kept): memory O(N F_in + F_in F_out).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, adj, impl):
        z = x @ weight  # transform (eq. 3)
        y = adj.matmul(z, impl)  # message (normalise by A'[i, j]) + scatter (sum into target i): eq. 4
        if bias is not None:
            y.add_(bias)  # update (y is a fresh tensor, not saved)
        ctx.save_for_backward(x, weight)
        ctx.adj, ctx.impl, ctx.has_bias = adj, impl, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        d = ctx.adj.matmul_t(dy.contiguous(), ctx.impl)  # eq. 10: D = A'ᵀ dL/dY
        dx = d @ weight.T if ctx.needs_input_grad[0] else None  # eqs. 17, 28: dX = A'ᵀ dY Wᵀ
        dw = x.T @ d if ctx.needs_input_grad[1] else None  # eqs. 12-13, 29: dW = Xᵀ A'ᵀ dY
        db = dy.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db, None, None


# --- graph attention (GAT) ------------------------------------------------------------------


class GATGraph:
    """The edges of a graph for edge-wise attention, sorted by target, with the by-source order.

    Attributes:
        num_nodes: N.
        src, dst: ``[E]`` sources j and targets i, sorted by (i, j); duplicate edges are kept
            (each is one softmax entry, as in PyG).
        crow: ``[N + 1]`` CSR row pointers of the targets: edges ``crow[i]:crow[i+1]`` enter i.
        perm_t: ``[E]`` the edges in (j, i) order, for the transposed products of the backward.
        crow_t, dst_t: CSR row pointers of the sources and the targets in that order.

    Memory O(N + E) integers; built once (O(E log E)) and reused by every head, layer and epoch.
    """

    def __init__(self, src: torch.Tensor, dst: torch.Tensor, num_nodes: int):
        self.num_nodes = n = int(num_nodes)
        order = torch.argsort(dst * n + src, stable=True)
        self.src, self.dst = src[order], dst[order]
        self.crow = _rowptr(self.dst, n)
        self.perm_t = torch.argsort(self.src * n + self.dst, stable=True)
        self.crow_t = _rowptr(self.src, n)
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
        return GATGraph(self.src.to(device), self.dst.to(device), self.num_nodes)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """CSR ``[N, N]`` with ``values [E]`` at (dst, src): the operator out_i = Σ_j v_ij z_j."""
        return _csr_from_rowptr(self.crow, self.src, values, self.num_nodes)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """The transpose of :meth:`matrix` as CSR (``values`` in this graph's edge order)."""
        return _csr_from_rowptr(self.crow_t, self.dst_t, values[self.perm_t], self.num_nodes)

    def __repr__(self) -> str:
        return f"GATGraph(num_nodes={self.num_nodes}, num_edges={self.num_edges})"


def gat_graph(edge_index: torch.Tensor, num_nodes: int, add_self_loops: bool = True, device=None) -> GATGraph:
    """The edge structure :class:`GATConv` attends over: existing self-loops removed and one added
    per node when ``add_self_loops`` (PyG's GATConv), sorted by target. O(E log E)."""
    num_nodes = check_num_nodes(num_nodes)
    return GATGraph(*_edges(edge_index, num_nodes, add_self_loops, device), num_nodes)


class GATAggregate(torch.autograd.Function):
    """Edge softmax and aggregation of GAT, per head k, with the backward of docs/attention-backward.md.

    Inputs (head-major): h ``[H, N, C]`` (the transformed features Wx), a_src and a_dst ``[H, N]``
    (a_srcᵀ W x_j and a_dstᵀ W x_i), graph (:class:`GATGraph`), negative_slope, mask (None, or
    ``[H, E]`` bool dropout mask in the graph's edge order: True keeps) and scale (1 / (1 - p)).

    Forward, for each edge j → i:  s_ij = a_src,j + a_dst,i;  e_ij = LeakyReLU(s_ij);
    α_ij = exp(e_ij − m_i) / Σ_j' exp(e_ij' − m_i) with m_i = max_j e_ij (scatter_reduce amax);
    β_ij = α_ij · mask_ij · scale;  out_i = Σ_j β_ij h_j (one CSR product per head).
    O(E H) for the scores and softmax, O(E H C) for the products; memory O(E H + N H C): no
    E × H × C message tensor is formed.

    Backward (dout ``[H, N, C]``):  dh_j = Σ_i β_ij dout_i (CSR of the transpose, O(E H C));
    dβ_ij = <dout_i, h_j> (sampled dense-dense product on the edges, O(E H C), memory O(E H));
    dα = dβ · mask · scale;  de_ij = α_ij (dα_ij − δ_i) with δ_i = Σ_j α_ij dα_ij = <dout_i, out_i>
    (O(N H C), no pass over the edges);  ds = de · (1 if s > 0 else negative_slope);
    da_src,j = Σ_i ds_ij,  da_dst,i = Σ_j ds_ij. Saved: h, out, α, the kept-and-scaled mask
    and the sign of s: O(N H C + E H).
    """

    @staticmethod
    def forward(ctx, h, a_src, a_dst, graph, negative_slope, mask, scale):
        h = h.contiguous()
        s = a_src.index_select(1, graph.src).add_(a_dst.index_select(1, graph.dst))  # [H, E]
        positive = s > 0
        alpha = edge_softmax(torch.nn.functional.leaky_relu_(s, negative_slope), graph)  # in place of s
        keep = None if mask is None else mask.to(alpha.dtype) * scale  # 0 or 1/(1-p)
        beta = alpha if keep is None else alpha * keep
        out = torch.stack([graph.matrix(beta[k]) @ h[k] for k in range(h.shape[0])])
        ctx.save_for_backward(h, out, alpha, keep, positive)
        ctx.graph, ctx.negative_slope = graph, negative_slope
        return out

    @staticmethod
    @once_differentiable  # the saved α carries no history: a second derivative would be wrong
    def backward(ctx, dout):
        h, out, alpha, keep, positive = ctx.saved_tensors
        graph = ctx.graph
        dout = dout.contiguous()
        heads = h.shape[0]
        dh = None
        if ctx.needs_input_grad[0]:  # dh_j = Σ_i β_ij dout_i
            beta = alpha if keep is None else alpha * keep
            dh = torch.stack([graph.matrix_t(beta[k]) @ dout[k] for k in range(heads)])
            del beta
        # dβ_ij = <dout_i, h_j>, sampled at the edges only (SDDMM); values in the graph's edge order
        dalpha = torch.stack([
            torch.sparse.sampled_addmm(graph.matrix(alpha[k]), dout[k], h[k].T, beta=0.0).values()
            for k in range(heads)
        ])
        if keep is not None:
            dalpha.mul_(keep)  # dα = dβ · mask / (1 - p)
        # softmax backward per target: de = α ⊙ (dα − δ), δ_i = Σ_j α_ij dα_ij = Σ_j β_ij dβ_ij = <dout_i, out_i>
        delta = (dout * out).sum(-1)  # [H, N]
        de = dalpha.sub_(delta.index_select(1, graph.dst)).mul_(alpha)
        ds = torch.where(positive, de, de * ctx.negative_slope)  # LeakyReLU'
        del de
        da_src = torch.zeros_like(delta).index_add_(1, graph.src, ds) if ctx.needs_input_grad[1] else None
        da_dst = torch.zeros_like(delta).index_add_(1, graph.dst, ds) if ctx.needs_input_grad[2] else None
        return dh, da_src, da_dst, None, None, None, None


def edge_softmax(e: torch.Tensor, graph: GATGraph) -> torch.Tensor:
    """Softmax of ``e [H, E]`` over each target's in-edges, stabilised by the per-target max;
    overwrites ``e``. O(E H) time. Targets without in-edges are not touched (no 0/0)."""
    index = graph.dst.expand_as(e)
    e_max = e.new_full((e.shape[0], graph.num_nodes), -math.inf)
    e_max.scatter_reduce_(1, index, e, reduce="amax", include_self=True)
    p = e.sub_(e_max.index_select(1, graph.dst)).exp_()
    denom = torch.zeros_like(e_max).index_add_(1, graph.dst, p)
    return p.div_(denom.index_select(1, graph.dst))


# --- the scatter path's two phases ----------------------------------------------------------


def message(z: torch.Tensor, src: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Messages ``weight[e] · z[src[e]]``, ``[nnz, F]``: O(nnz · F) time and memory."""
    return z.index_select(0, src) * weight.unsqueeze(1)


def scatter_sum(messages: torch.Tensor, dst: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Sum the messages into their targets: ``out[dst[e]] += messages[e]``, ``[N, F]``."""
    out = messages.new_zeros((num_nodes,) + tuple(messages.shape[1:]))
    return out.index_add_(0, dst, messages)


# --- validation ------------------------------------------------------------------------------


def check_num_nodes(num_nodes) -> int:
    """``num_nodes`` as a positive int; ``ValueError`` for an empty graph or a non-integer."""
    if isinstance(num_nodes, torch.Tensor):
        num_nodes = num_nodes.item()
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) and not hasattr(num_nodes, "__index__"):
        raise ValueError(f"num_nodes must be an int, got {type(num_nodes).__name__}")
    num_nodes = int(num_nodes)
    if num_nodes <= 0:
        raise ValueError(f"empty graph: num_nodes must be > 0, got {num_nodes}")
    return num_nodes


def check_edge_index(edge_index, num_nodes: int) -> None:
    """``ValueError`` unless ``edge_index`` is an int64 ``[2, E]`` tensor with entries in ``[0, num_nodes)``."""
    if not isinstance(edge_index, torch.Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor of shape [2, E], got {type(edge_index).__name__}")
    if edge_index.dtype != torch.long:
        raise ValueError(f"edge_index must have dtype torch.int64 (long), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.numel() == 0:
        return
    low, high = torch.aminmax(edge_index)  # one pass, no E-sized temporary
    if int(low) < 0 or int(high) >= num_nodes:
        r, c = (int(v) for v in torch.nonzero((edge_index < 0) | (edge_index >= num_nodes))[0])
        side = "source" if r == 0 else "target"
        raise ValueError(
            f"edge_index[{r}, {c}] = {int(edge_index[r, c])} ({side} node) is out of range for "
            f"num_nodes={num_nodes}: indices must lie in [0, {num_nodes - 1}]"
        )


def check_features(x, num_nodes: int | None = None, name: str = "x") -> torch.Tensor:
    """``ValueError`` unless ``x`` is a finite floating ``[N, F]`` tensor with N > 0 (= num_nodes if given)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [num_nodes, num_features], got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D [num_nodes, num_features], got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"empty graph: {name} has 0 rows (num_nodes=0)")
    if num_nodes is not None and x.shape[0] != num_nodes:
        raise ValueError(f"{name} has {x.shape[0]} rows but the graph has num_nodes={num_nodes}")
    # a NaN or ±inf anywhere makes the sum non-finite: one reduction, no N x F temporary; only
    # then (or when finite values overflow the sum) is the elementwise test run
    if not bool(torch.isfinite(x.detach().sum())):
        bad = torch.nonzero(~torch.isfinite(x.detach()))
        if bad.numel():
            r, c = (int(v) for v in bad[0])
            raise ValueError(f"{name} has a non-finite value {float(x[r, c])} at [{r}, {c}]")
    return x


def _check_impl(impl: str) -> None:
    if impl not in AGGR_IMPLS:
        raise ValueError(f"aggr_impl must be one of {AGGR_IMPLS}, got {impl!r}")


# --- helpers ---------------------------------------------------------------------------------


def _edges(edge_index, num_nodes: int, add_self_loops: bool, device):
    """Validated (src, dst) on ``device``; with ``add_self_loops`` existing self-loops are
    replaced by exactly one per node (PyG's ``add_remaining_self_loops`` for unit weights)."""
    check_edge_index(edge_index, num_nodes)
    device = torch.device(device) if device is not None else edge_index.device
    src, dst = edge_index[0].to(device), edge_index[1].to(device)
    if add_self_loops:
        keep = src != dst
        loop = torch.arange(num_nodes, device=device)
        src, dst = torch.cat([src[keep], loop]), torch.cat([dst[keep], loop])
    return src, dst


def _coalesce(row, col, weight, num_nodes):
    """Sort (row, col) pairs row-major and sum duplicates: O(nnz log nnz)."""
    coo = torch.sparse_coo_tensor(
        torch.stack([row, col]), weight, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()
    idx = coo.indices()
    return idx[0], idx[1], coo.values()


def _csr(row, col, weight, num_nodes) -> torch.Tensor:
    """CSR ``[N, N]`` from COO (row, col, weight), sorted by (row, col) inside (stable on ties)."""
    order = torch.argsort(row * num_nodes + col, stable=True)
    return _csr_from_rowptr(_rowptr(row, num_nodes), col[order], weight[order], num_nodes)


def _rowptr(row: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """CSR row pointers ``[N + 1]`` of the row indices ``row`` (in any order)."""
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=row.device)
    crow[1:] = torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)
    return crow


def _csr_from_rowptr(crow, col, values, num_nodes) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, (num_nodes, num_nodes), check_invariants=False)
