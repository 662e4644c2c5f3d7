"""The GCN operator A' = D^-1/2 (A+I) D^-1/2, sparse and dense, and its aggregation Y = A'Z.

Notation (the GCN complexity note: Blakely, Lanchantin and Qi, "Time and Space Complexity of
Graph Convolutional Networks"): N nodes, E edges, Z ``[N, F]``, A' the normalised adjacency with
A'[i, j] != 0 for each edge j → i (row i sums over i's in-edges, PyTorch Geometric's
``source_to_target`` flow). On a directed graph A' != A'ᵀ: the backward needs A'ᵀ, which
:class:`NormalizedAdjacency` keeps as a permutation.

* :func:`normalized_adjacency` — A' from an ``edge_index`` (with optional ``edge_weight``) or a
  sparse ``adj_t``, exactly as PyG's ``gcn_norm`` computes it, as a :class:`NormalizedAdjacency`.
  O(E log E) once (two sorts); the normalisation itself is plain tensor code, so a gradient
  reaches ``edge_weight`` (or the sparse values) through autograd.
* :func:`gcn_norm` — PyG's functional form of the same numbers, with PyG's signature and
  return: ``(edge_index, edge_weight)``, ``(adj_t, None)`` or a ``SparseTensor``.
* :class:`NormalizedAdjacency` — the CSR structure of A' and of A'ᵀ plus the values; products
  take the values as an argument so that the autograd Functions can return their gradient.
* :class:`DenseAdjacency` — the same interface over a dense ``[N, N]`` (or batched ``[B, N, N]``)
  matrix: O(N² F) products.
* :func:`dense_gcn_norm` — PyG ``DenseGCNConv``'s normalisation of a dense adjacency.
* :func:`aggregate` / :class:`SparseAggregate` — Y = A'Z with the explicit backward
  dZ = A'ᵀ dY (eq. 10), O(E F) each way, by SpMM (``impl="spmm"``) or by gathering messages
  and ``index_add`` (``impl="scatter"``, O(E F) memory).
* :func:`rowptr` / :func:`csr_from_rowptr` — CSR row pointers and the CSR tensor built from
  them, shared with :class:`~fastgnn.nn.gat_conv.GATGraph`.
"""

from __future__ import annotations

import warnings

import torch

from fastgnn.nn.inputs import Edges, is_sparse_adjacency, read_edges
from fastgnn.nn.validation import check_edge_index, check_edge_values, check_impl, check_num_nodes

__all__ = [
    "NormalizedAdjacency",
    "DenseAdjacency",
    "normalized_adjacency",
    "gcn_norm",
    "dense_gcn_norm",
    "aggregate",
    "SparseAggregate",
    "message",
    "scatter_sum",
    "rowptr",
    "csr_from_rowptr",
]


class _Operator:
    """What both adjacency operators share: dtype/device and a cached :meth:`to`."""

    _converted: dict

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    @property
    def device(self) -> torch.device:
        return self.values.device

    def to(self, dtype: torch.dtype | None = None, device=None):
        """This operator in ``dtype`` on ``device`` (self when nothing changes; conversions of
        values that need no gradient are cached)."""
        dtype = dtype or self.dtype
        device = torch.device(device) if device is not None else self.device
        if dtype == self.dtype and device == self.device:
            return self
        if self.values.requires_grad:
            return self._convert(dtype, device)
        key = (dtype, str(device))
        if key not in self._converted:
            self._converted[key] = self._convert(dtype, device)
        return self._converted[key]


class NormalizedAdjacency(_Operator):
    """A sparse N × N operator A' (rows = targets i, columns = sources j) with its transpose.

    Args:
        row, col: ``[nnz]`` targets i and sources j of the nonzeros, in any order (duplicates
            are kept as separate entries and summed by every product).
        weight: ``[nnz]`` A'[i, j]; may require a gradient.
        num_nodes: N.

    Attributes:
        row, col, weight: the nonzeros sorted by (row, col) (stable), so the values are in CSR
            order; ``values`` is ``weight``.
        crow: ``[N + 1]`` CSR row pointers of A'.
        perm_t, crow_t, row_t: A'ᵀ's CSR: the entries' permutation into (col, row) order, its
            row pointers and its column indices.
        csr, csr_t: A' and A'ᵀ as ``torch.sparse_csr`` tensors (built from the above).

    Memory O(N + nnz) integers and nnz values; built in O(nnz log nnz). :meth:`to` converts to
    another dtype/device once and remembers the result, so a layer can call it every forward.
    """

    def __init__(self, row: torch.Tensor, col: torch.Tensor, weight: torch.Tensor, num_nodes: int):
        self.num_nodes = n = int(num_nodes)
        order = torch.argsort(row * n + col, stable=True)
        self.row, self.col, self.weight = row[order], col[order], weight[order]
        self._structure(n)
        self._converted = {}

    def _structure(self, n: int) -> None:
        self.crow = rowptr(self.row, n)
        self.perm_t = torch.argsort(self.col * n + self.row, stable=True)
        self.crow_t = rowptr(self.col, n)
        self.row_t = self.row[self.perm_t]

    @classmethod
    def _from_sorted(cls, source: NormalizedAdjacency, weight: torch.Tensor) -> NormalizedAdjacency:
        """The same structure with other values (``weight`` in ``source``'s CSR order): O(1)."""
        new = cls.__new__(cls)
        new.num_nodes = source.num_nodes
        new.row, new.col, new.weight = source.row, source.col, weight
        new.crow, new.perm_t, new.crow_t, new.row_t = source.crow, source.perm_t, source.crow_t, source.row_t
        new._converted = {}
        return new

    @property
    def values(self) -> torch.Tensor:
        return self.weight

    @property
    def nnz(self) -> int:
        return int(self.weight.numel())

    def _convert(self, dtype, device) -> NormalizedAdjacency:
        device = torch.device(device)
        if device == self.device:
            return self._from_sorted(self, self.weight.to(dtype=dtype))
        return NormalizedAdjacency(self.row.to(device), self.col.to(device), self.weight.to(device, dtype),
                                   self.num_nodes)

    @property
    def csr(self) -> torch.Tensor:
        return self.matrix(self.weight)

    @property
    def csr_t(self) -> torch.Tensor:
        return self.matrix_t(self.weight)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """A' as CSR ``[N, N]`` with ``values`` (in this operator's order)."""
        return csr_from_rowptr(self.crow, self.col, values, self.num_nodes, self.num_nodes)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """A'ᵀ as CSR ``[N, N]`` with ``values`` given in A''s order (permuted here, O(nnz); for
        this operator's own values, which need no gradient, once and kept)."""
        return csr_from_rowptr(self.crow_t, self.row_t, self._values_t(values), self.num_nodes, self.num_nodes)

    def _values_t(self, values: torch.Tensor) -> torch.Tensor:
        w = self.weight  # the Function's saved copy of it is another Python object on the same storage
        own = values is w or (values.data_ptr() == w.data_ptr() and values.shape == w.shape and values.dtype == w.dtype)
        if not own or self.weight.requires_grad:
            return values[self.perm_t]
        if self._converted.get("values_t") is None:
            self._converted["values_t"] = values[self.perm_t]
        return self._converted["values_t"]

    def matmul(self, z: torch.Tensor, impl: str = "spmm", values: torch.Tensor | None = None) -> torch.Tensor:
        """Y = A' Z for Z ``[..., N, F]`` (node dimension -2): O(nnz · F) per leading index."""
        values = self.weight if values is None else values
        if impl == "spmm":
            return _along_nodes(lambda t: self.matrix(values) @ t, z)
        return _along_nodes(lambda t: scatter_sum(message(t, self.col, values), self.row, self.num_nodes), z)

    def matmul_t(self, dy: torch.Tensor, impl: str = "spmm", values: torch.Tensor | None = None) -> torch.Tensor:
        """A'ᵀ dY for dY ``[..., N, F]`` (the backward of :meth:`matmul`, eq. 10): O(nnz · F)."""
        values = self.weight if values is None else values
        if impl == "spmm":
            return _along_nodes(lambda t: self.matrix_t(values) @ t, dy)
        return _along_nodes(lambda t: scatter_sum(message(t, self.row, values), self.col, self.num_nodes), dy)

    def sampled_dot(self, dy: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``[nnz]``: <dY_i, Z_j> for each entry (i, j) (summed over leading dimensions), the
        gradient of <dY, A'Z> wrt A''s values: a sampled dense-dense product, O(nnz · F) time and
        O(nnz) memory (no nnz × F tensor)."""
        dy2, z2 = _nodes_first(dy), _nodes_first(z)
        if self.nnz == 0:
            return dy2.new_zeros(0)
        ones = torch.ones(self.nnz, dtype=dy2.dtype, device=dy2.device)
        return torch.sparse.sampled_addmm(self.matrix(ones), dy2.contiguous(), z2.T.contiguous(), beta=0.0).values()

    def to_dense(self) -> torch.Tensor:
        """A' as a dense ``[N, N]`` tensor (duplicate entries summed; O(N²) memory)."""
        out = self.weight.new_zeros(self.num_nodes, self.num_nodes)
        return out.index_put_((self.row, self.col), self.weight, accumulate=True)

    def dense(self) -> DenseAdjacency:
        """The same operator as a :class:`DenseAdjacency`, built once and kept with this one."""
        if self.weight.requires_grad:
            return DenseAdjacency(self.to_dense())
        if "dense" not in self._converted:
            self._converted["dense"] = DenseAdjacency(self.to_dense())
        return self._converted["dense"]

    def __repr__(self) -> str:
        return f"NormalizedAdjacency(num_nodes={self.num_nodes}, nnz={self.nnz}, dtype={self.dtype})"


class DenseAdjacency(_Operator):
    """A dense operator with the :class:`NormalizedAdjacency` interface: ``matrix [N, N]`` or
    batched ``[B, N, N]`` (broadcast against ``[B, N, F]`` features). O(N² F) products."""

    def __init__(self, matrix: torch.Tensor):
        self.matrix = matrix
        self.num_nodes = int(matrix.shape[-1])
        self._converted = {}

    @property
    def values(self) -> torch.Tensor:
        return self.matrix

    def _convert(self, dtype, device) -> DenseAdjacency:
        return DenseAdjacency(self.matrix.to(device=device, dtype=dtype))

    def matmul(self, z: torch.Tensor, impl: str = "dense", values: torch.Tensor | None = None) -> torch.Tensor:
        return (self.matrix if values is None else values) @ z

    def matmul_t(self, dy: torch.Tensor, impl: str = "dense", values: torch.Tensor | None = None) -> torch.Tensor:
        return (self.matrix if values is None else values).transpose(-1, -2) @ dy

    def sampled_dot(self, dy: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """dY Zᵀ reduced to the matrix's shape: the gradient of <dY, M Z> wrt M. O(N² F)."""
        return (dy @ z.transpose(-1, -2)).sum_to_size(self.matrix.shape)

    def to_dense(self) -> torch.Tensor:
        return self.matrix

    def __repr__(self) -> str:
        return f"DenseAdjacency(shape={list(self.matrix.shape)}, dtype={self.dtype})"


def normalized_adjacency(
    edge_index,
    num_nodes: int | None = None,
    add_self_loops: bool = True,
    normalize: bool = True,
    dtype: torch.dtype | None = None,
    device=None,
    *,
    edge_weight: torch.Tensor | None = None,
    improved: bool = False,
    flow: str = "source_to_target",
) -> NormalizedAdjacency:
    """A' = D^-1/2 (A + I) D^-1/2 of the note's eq. (1), as PyG's ``gcn_norm`` computes it, as
    the operator every layer and epoch can reuse (PyG's functional form, which returns
    ``(edge_index, edge_weight)``, is :func:`gcn_norm`).

    Args:
        edge_index: ``[2, E]`` int64 (row 0 source j, row 1 target i), or a sparse ``adj_t``
            ``[N, N]`` (``torch.sparse`` COO/CSR/CSC or ``SparseTensor``; rows are targets, the
            values are the edge weights).
        num_nodes: N > 0 (read from a sparse ``adj_t`` when None).
        add_self_loops: A + I (A + 2I with ``improved``). For an ``edge_index`` existing
            self-loops are replaced by one per node, an existing loop's weight kept when
            ``edge_weight`` is given (PyG's ``add_remaining_self_loops``); a ``torch.sparse``
            ``adj_t`` gets the loops added on top and a ``SparseTensor`` its diagonal set, as
            PyG does for each.
        normalize: scale by D^-1/2 on both sides, D the weighted in-degree (target side) of
            A + I, d^-1/2 taken as 0 where d = 0; ``False`` keeps the raw weights.
        dtype, device: of the values (default: ``edge_weight``'s dtype, else the default
            dtype; ``edge_index``'s device).
        edge_weight: ``[E]`` weights of the edges (default 1); gradients flow back to it.
        improved: self-loops of weight 2 (PyG's ``improved=True``).
        flow: ``"target_to_source"`` reads ``edge_index`` the other way round (as PyG).

    Returns:
        :class:`NormalizedAdjacency` with ``A'[i, j] = d_i^-1/2 w_ji d_j^-1/2`` for each edge
        j → i (duplicate edges are separate entries, summed by the products). O(E log E) time,
        O(N + E) memory.
    """
    if num_nodes is None:
        if not is_sparse_adjacency(edge_index):
            raise ValueError("num_nodes is required with an edge_index [2, E]")
        num_nodes = edge_index.size(0)
    num_nodes = check_num_nodes(num_nodes)
    edges = _read_weighted(edge_index, num_nodes, edge_weight, flow)
    if dtype is None:
        dtype = edges.weight.dtype if edges.weight is not None else torch.get_default_dtype()
    device = torch.device(device) if device is not None else edges.src.device
    src, dst, weight = _normalized_edges(edges, add_self_loops, normalize, improved, dtype, device)
    return NormalizedAdjacency(dst, src, weight, num_nodes)


def gcn_norm(
    edge_index,
    edge_weight: torch.Tensor | None = None,
    num_nodes: int | None = None,
    improved: bool = False,
    add_self_loops: bool = True,
    flow: str = "source_to_target",
    dtype: torch.dtype | None = None,
):
    """PyG's functional ``torch_geometric.nn.conv.gcn_conv.gcn_norm``: the entries of
    A' = D^-1/2 (A + I) D^-1/2 in the layout the graph came in, same signature and return.

    The same numbers as :func:`normalized_adjacency` (which builds the reusable operator the
    layers use; see it for the self-loop rules of each layout), returned as PyG returns them:

    * ``edge_index [2, E]`` → ``(edge_index [2, E'], edge_weight [E'])``: the non-loop edges in
      their given order, then one self-loop per node (``add_remaining_self_loops``), in the
      given ``flow``'s orientation; the weights are ``d_i^-1/2 w_ji d_j^-1/2``.
    * ``torch.sparse`` ``adj_t`` (COO, CSR, CSC) → ``(adj_t', None)``, coalesced, same layout.
    * ``SparseTensor`` ``adj_t`` → ``adj_t'`` (a ``SparseTensor``, not a tuple, as PyG).

    Args:
        edge_index: ``[2, E]`` int64 or a square sparse ``adj_t`` (rows are targets).
        edge_weight: ``[E]`` floating weights (default 1), only with an ``edge_index`` (a
            sparse ``adj_t``'s values are its weights; PyG ignores ``edge_weight`` there,
            fastgnn refuses it).
        num_nodes: N (default: ``edge_index.max() + 1``, or the sparse ``adj_t``'s size).
        improved: self-loops of weight 2. Unlike PyG 2.8, which makes the loops 1 when
            ``edge_weight`` is None, this is A + 2I in every case (as fastgnn's ``GCNConv``).
        add_self_loops: add them (see above).
        flow: ``"source_to_target"`` (D from the targets, row 1) or ``"target_to_source"``.
        dtype: of the unit weights when there are none given (default dtype if None).

    Gradients flow into ``edge_weight`` / the sparse values (plain tensor code). O(E log E)
    time for a sparse ``adj_t`` (coalescing), O(E) for an ``edge_index``; O(N + E) memory.
    """
    if edge_weight is not None and not isinstance(edge_weight, torch.Tensor):
        raise ValueError(
            f"edge_weight must be a tensor [E] or None, got {type(edge_weight).__name__} {edge_weight!r}. "
            "gcn_norm has PyG's signature gcn_norm(edge_index, edge_weight=None, num_nodes=None, ...) and "
            "returns (edge_index, edge_weight); fastgnn's operator builder, formerly "
            "gcn_norm(edge_index, num_nodes), is normalized_adjacency(edge_index, num_nodes)"
        )
    if num_nodes is None:
        num_nodes = _infer_num_nodes(edge_index)
    num_nodes = check_num_nodes(num_nodes, allow_empty=True)
    edges = _read_weighted(edge_index, num_nodes, edge_weight, flow)
    if edges.weight is not None:
        dtype = edges.weight.dtype
    elif dtype is None:
        dtype = torch.get_default_dtype()
    src, dst, weight = _normalized_edges(edges, add_self_loops, True, improved, dtype, edges.src.device)
    if edges.layout == "edge_index":
        out = torch.stack([src, dst] if flow == "source_to_target" else [dst, src])
        return out, weight
    row, col, weight = _coalesce(dst, src, weight, num_nodes, by_column=edges.layout == torch.sparse_csc)
    if edges.layout == "SparseTensor":
        return type(edge_index)(row=row, col=col, value=weight, sparse_sizes=(num_nodes, num_nodes))
    size = (num_nodes, num_nodes)
    if edges.layout == torch.sparse_coo:
        return torch.sparse_coo_tensor(torch.stack([row, col]), weight, size, is_coalesced=True), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        if edges.layout == torch.sparse_csr:
            return torch.sparse_csr_tensor(rowptr(row, num_nodes), col, weight, size), None
        return torch.sparse_csc_tensor(rowptr(col, num_nodes), row, weight, size), None


def _infer_num_nodes(edge_index) -> int:
    """PyG's ``maybe_num_nodes``: a sparse adjacency's size, else ``edge_index.max() + 1``."""
    if is_sparse_adjacency(edge_index):
        return int(edge_index.size(0))
    if isinstance(edge_index, torch.Tensor) and edge_index.dim() == 2 and edge_index.shape[0] == 2:
        return int(edge_index.max()) + 1 if edge_index.numel() else 0
    check_edge_index(edge_index, 0)  # raises the argument's error
    raise AssertionError("unreachable")


def _read_weighted(edge_index, num_nodes: int, edge_weight, flow: str) -> Edges:
    """:func:`read_edges` plus the checked ``edge_weight`` (refused with a sparse adjacency)."""
    edges = read_edges(edge_index, num_nodes, flow=flow)
    if edge_weight is not None:
        if edges.weight is not None:
            raise ValueError("edge_weight must be None with a sparse adjacency (its values are the weights)")
        edges.weight = check_edge_values(edge_weight, edges.src.numel())
    return edges


def _normalized_edges(edges: Edges, add_self_loops: bool, normalize: bool, improved: bool, dtype, device):
    """``(src, dst, weight)`` of A' (see :func:`normalized_adjacency`): O(E + N), plain tensor
    code so that a gradient reaches the given weights."""
    num_nodes = edges.num_dst
    src, dst = edges.src.to(device), edges.dst.to(device)
    weight = None if edges.weight is None else edges.weight.to(device=device, dtype=dtype)
    if add_self_loops:
        given = weight is not None  # only given weights are kept on existing loops
        if improved and weight is None:
            weight = torch.ones(src.numel(), dtype=dtype, device=device)
        src, dst, weight = _self_loops(src, dst, weight, edges, 2.0 if improved else 1.0, given)
    if weight is None:
        weight = torch.ones(src.numel(), dtype=dtype, device=device)
    if normalize:
        deg = torch.zeros(num_nodes, dtype=dtype, device=device).index_add(0, dst, weight)
        inv_sqrt = deg.pow(-0.5)
        inv_sqrt = inv_sqrt.masked_fill(inv_sqrt == float("inf"), 0.0)
        weight = inv_sqrt[src] * weight * inv_sqrt[dst]
    return src, dst, weight


def _coalesce(row, col, weight, n: int, by_column: bool = False):
    """The entries sorted by (row, col) (by (col, row) with ``by_column``), duplicates summed:
    ``(row, col, weight)``, O(nnz log nnz); differentiable in ``weight``."""
    key = col * n + row if by_column else row * n + col
    key, inverse = torch.unique(key, sorted=True, return_inverse=True)
    summed = weight.new_zeros(key.numel()).index_add(0, inverse, weight)
    major, minor = key // max(n, 1), key % max(n, 1)
    return (minor, major, summed) if by_column else (major, minor, summed)


def _self_loops(src, dst, weight, edges: Edges, fill: float, given: bool):
    """Self-loops as PyG adds them for this input layout (see :func:`normalized_adjacency`)."""
    n = edges.num_dst
    loop = torch.arange(n, device=src.device)
    loop_weight = None if weight is None else torch.full((n,), fill, dtype=weight.dtype, device=src.device)
    if edges.layout == torch.sparse_coo or edges.layout in (torch.sparse_csr, torch.sparse_csc):
        keep = torch.ones_like(src, dtype=torch.bool)  # torch.sparse: loops added on top (add_self_loops)
    else:
        keep = src != dst
        if given and edges.layout == "edge_index":  # existing loops keep their given weight
            loop_weight = loop_weight.index_put((src[~keep],), weight[~keep])
    src, dst = torch.cat([src[keep], loop]), torch.cat([dst[keep], loop])
    if weight is not None:
        weight = torch.cat([weight[keep], loop_weight])
    return src, dst, weight


def dense_gcn_norm(adj: torch.Tensor, add_self_loops: bool = True, improved: bool = False) -> DenseAdjacency:
    """A' from a dense adjacency ``adj [N, N]`` or ``[B, N, N]`` with ``adj[..., i, j]`` the
    weight of edge j → i (PyG's ``DenseGCNConv``: out = adj @ x): diagonal set to 1 (2 with
    ``improved``), then D^-1/2 A D^-1/2 with D the row sums clamped to >= 1. O(B N²); plain tensor
    code, so a gradient reaches ``adj``."""
    if not isinstance(adj, torch.Tensor) or adj.dim() not in (2, 3) or adj.shape[-1] != adj.shape[-2]:
        shape = tuple(adj.shape) if isinstance(adj, torch.Tensor) else type(adj).__name__
        raise ValueError(f"adj must be a square [N, N] or [B, N, N] tensor, got {shape}")
    if not torch.is_floating_point(adj):
        adj = adj.to(torch.get_default_dtype())
    if add_self_loops:
        n = adj.shape[-1]
        eye = torch.eye(n, dtype=torch.bool, device=adj.device)
        adj = adj.masked_fill(eye, 2.0 if improved else 1.0)
    inv_sqrt = adj.sum(dim=-1).clamp(min=1.0).pow(-0.5)
    return DenseAdjacency(inv_sqrt.unsqueeze(-1) * adj * inv_sqrt.unsqueeze(-2))


def aggregate(z: torch.Tensor, adj: NormalizedAdjacency, impl: str = "spmm") -> torch.Tensor:
    """Y = A' Z (``[N, F]``) with the explicit backward dZ = A'ᵀ dY; ``impl`` "spmm" or "scatter"."""
    check_impl(impl)
    adj = adj.to(z.dtype, z.device)
    return SparseAggregate.apply(z, adj.values, adj, impl)


class SparseAggregate(torch.autograd.Function):
    """Neighbourhood aggregation Y = A'Z (eq. 4 without σ); backward dZ = A'ᵀ dY (eq. 10) and,
    when A''s values need it, dA'_ij = <dY_i, Z_j> on the nonzeros only.

    Both directions cost O(nnz · F) time; the backward keeps Z only when the values need a gradient.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, values: torch.Tensor, adj: NormalizedAdjacency, impl: str) -> torch.Tensor:
        ctx.adj, ctx.impl = adj, impl
        ctx.save_for_backward(z if ctx.needs_input_grad[1] else None, values)
        return adj.matmul(z, impl, values)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        z, values = ctx.saved_tensors
        dy = dy.contiguous()
        dz = ctx.adj.matmul_t(dy, ctx.impl, values) if ctx.needs_input_grad[0] else None
        dv = ctx.adj.sampled_dot(dy, z) if ctx.needs_input_grad[1] else None
        return dz, dv, None, None


# --- the scatter path's two phases ----------------------------------------------------------


def message(z: torch.Tensor, src: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Messages ``weight[e] · z[src[e]]``, ``[nnz, F]``: O(nnz · F) time and memory."""
    return z.index_select(0, src) * weight.unsqueeze(1)


def scatter_sum(messages: torch.Tensor, dst: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Sum the messages into their targets: ``out[dst[e]] += messages[e]``, ``[N, F]``."""
    out = messages.new_zeros((num_nodes,) + tuple(messages.shape[1:]))
    return out.index_add_(0, dst, messages)


# --- CSR construction (the adjacency operators here and GATGraph share it) ---------------------


def rowptr(row: torch.Tensor, num_rows: int) -> torch.Tensor:
    """CSR row pointers ``[num_rows + 1]`` of the row indices ``row`` (in any order): entry ``i``
    counts the indices below ``i``.  O(nnz + num_rows)."""
    crow = torch.zeros(num_rows + 1, dtype=torch.long, device=row.device)
    crow[1:] = torch.cumsum(torch.bincount(row, minlength=num_rows), 0)
    return crow


def csr_from_rowptr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, num_rows: int,
                    num_cols: int) -> torch.Tensor:
    """The sparse CSR tensor ``[num_rows, num_cols, *values.shape[1:]]`` of row pointers ``crow``
    (:func:`rowptr`), column indices ``col`` sorted by row, and ``values`` (hybrid when they have
    trailing dimensions, e.g. one value per attention head).  No copy and no invariant check
    (the callers build ``crow`` and ``col`` themselves); torch's "CSR support is in beta" warning
    is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, (num_rows, num_cols) + tuple(values.shape[1:]),
                                       check_invariants=False)


# --- helpers ---------------------------------------------------------------------------------


def _nodes_first(z: torch.Tensor) -> torch.Tensor:
    """``[..., N, F]`` as ``[N, (...) F]`` (a view-free reshape for 2-D input)."""
    if z.dim() == 2:
        return z
    return z.movedim(-2, 0).reshape(z.shape[-2], -1)


def _along_nodes(op, z: torch.Tensor) -> torch.Tensor:
    """Apply an ``[N, F] -> [N, F]`` node operator to ``z [..., N, F]``."""
    if z.dim() == 2:
        return op(z)
    lead = z.movedim(-2, 0).shape
    return op(_nodes_first(z).contiguous()).reshape(lead).movedim(0, -2)


