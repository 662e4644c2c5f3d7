"""How a layer reads PyTorch Geometric's inputs: the graph argument, lazy channels, the cache.

* :func:`read_edges` — a graph given as PyG gives it, turned into source/target index vectors:
  ``edge_index [2, E]`` (row 0 source j, row 1 target i; ``flow="target_to_source"`` reads the
  rows the other way), a ``torch.sparse`` adjacency ``adj_t [N_dst, N_src]`` (COO, CSR or CSC;
  ``adj_t[i, j]`` is the weight of edge j → i, its values the edge weights) or, when
  ``torch_sparse`` is installed, a ``SparseTensor`` ``adj_t``. O(E) (O(E log E) for an
  uncoalesced COO).
* :func:`linear` / :func:`materialize` — ``nn.Linear(in, out, bias=False)`` with Glorot
  weights, or a lazy one for ``in_channels=-1`` whose width is read from the first input.
* :class:`GraphCache` — the operator built from one graph tensor, kept while the same
  unmodified tensor comes back (``cached=True``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn

from fastgnn.nn.validation import check_edge_index, check_edge_values

__all__ = ["Edges", "read_edges", "is_sparse_adjacency", "linear", "materialize", "GraphCache", "FLOWS"]

FLOWS = ("source_to_target", "target_to_source")


@dataclass
class Edges:
    """Edges j → i as index vectors, in the order the input gave them.

    Attributes:
        src, dst: ``[E]`` int64 sources j and targets i.
        weight: ``[E]`` edge weights (a sparse adjacency's values), or None for unit weights.
        num_src, num_dst: node counts on each side (equal for a non-bipartite graph).
        layout: ``"edge_index"``, ``torch.sparse_coo``, ``torch.sparse_csr``,
            ``torch.sparse_csc`` or ``"SparseTensor"``: how the graph came in.
    """

    src: torch.Tensor
    dst: torch.Tensor
    weight: torch.Tensor | None
    num_src: int
    num_dst: int
    layout: object = "edge_index"


def is_sparse_adjacency(graph) -> bool:
    """True for a ``torch.sparse`` tensor or a ``torch_sparse.SparseTensor``."""
    if isinstance(graph, torch.Tensor):
        return graph.layout in (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)
    return _is_sparse_tensor(graph)


def _is_sparse_tensor(graph) -> bool:
    return type(graph).__name__ == "SparseTensor" and type(graph).__module__.startswith("torch_sparse")


def read_edges(graph, num_src: int, num_dst: int | None = None, flow: str = "source_to_target") -> Edges:
    """The edges of ``graph`` (see the module docstring), validated against the node counts.

    ``num_dst`` defaults to ``num_src``. A sparse adjacency must have shape ``[num_dst, num_src]``.
    ``ValueError`` names the argument for anything else.
    """
    num_dst = num_src if num_dst is None else num_dst
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
    if is_sparse_adjacency(graph):
        if flow != "source_to_target":
            raise ValueError("flow='target_to_source' needs an edge_index [2, E], not a sparse adjacency")
        return _read_sparse(graph, num_src, num_dst)
    if isinstance(graph, torch.Tensor) and flow == "target_to_source" and graph.dim() == 2 and graph.shape[0] == 2:
        graph = graph.flip(0)
    check_edge_index(graph, num_src, num_dst)
    return Edges(graph[0], graph[1], None, num_src, num_dst)


def _read_sparse(adj, num_src: int, num_dst: int) -> Edges:
    if _is_sparse_tensor(adj):
        shape, layout = tuple(adj.sparse_sizes()), "SparseTensor"
    else:
        shape, layout = tuple(adj.shape), adj.layout
    if len(shape) != 2 or shape != (num_dst, num_src):
        raise ValueError(
            f"a sparse adjacency adj_t must have shape [num_targets, num_sources] = "
            f"[{num_dst}, {num_src}] (rows are targets: pass adj.t()), got {list(shape)}"
        )
    if layout == "SparseTensor":
        dst, src, weight = adj.coo()
    elif layout == torch.sparse_coo:
        adj = adj if adj.is_coalesced() else adj.coalesce()
        (dst, src), weight = adj.indices(), adj.values()
    else:
        if layout == torch.sparse_csc:
            adj = adj.to_sparse_csr()
        crow, src, weight = adj.crow_indices(), adj.col_indices(), adj.values()
        dst = torch.repeat_interleave(torch.arange(num_dst, device=crow.device), crow.diff())
    if weight is not None:
        check_edge_values(weight, src.numel(), name="adj_t values")
    return Edges(src.long(), dst.long(), weight, num_src, num_dst, layout)


# --- lazy linear maps ------------------------------------------------------------------------


def linear(in_channels: int, out_channels: int) -> nn.Module:
    """``nn.Linear(in, out, bias=False)`` (weight ``[out, in]``, PyG's ``lin``), lazy when
    ``in_channels`` is -1 (PyG's convention); the caller initialises the weight."""
    if in_channels == -1:
        return nn.LazyLinear(out_channels, bias=False)
    if not isinstance(in_channels, int) or in_channels <= 0:
        raise ValueError(f"in_channels must be a positive int or -1 (lazy), got {in_channels!r}")
    return nn.Linear(in_channels, out_channels, bias=False)


def materialize(lin: nn.Module, x: torch.Tensor) -> bool:
    """Give a lazy ``lin`` its input width ``x.shape[-1]`` and Glorot weights; True if it was lazy.
    O(F_in F_out) once."""
    if not isinstance(lin, nn.LazyLinear) or not lin.has_uninitialized_params():
        return False
    with torch.no_grad():
        lin(torch.zeros(1, x.shape[-1], dtype=lin.weight.dtype, device=lin.weight.device))
        nn.init.xavier_uniform_(lin.weight)
    return True


def glorot(lin: nn.Module | None) -> None:
    """Glorot-uniform weight of ``lin`` (nothing for None or a still-lazy ``lin``)."""
    if lin is None or isinstance(lin, nn.LazyLinear) and lin.has_uninitialized_params():
        return
    nn.init.xavier_uniform_(lin.weight)


# --- the cache --------------------------------------------------------------------------------


class GraphCache:
    """The operator built from one graph tensor, kept while the same unmodified tensor returns.

    Keyed by the identity of the graph tensor and of the edge values (weak references: a freed
    tensor never matches a new one at the same address), their in-place version counters and the
    node counts. Unlike PyG's ``cached=True``, which reuses the first graph whatever comes next,
    another graph is never answered with the cached one.
    """

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self._refs, self._key, self.value = (), None, None

    def __getstate__(self) -> dict:  # pickling / deepcopy of a layer drops the cache
        return {}

    def __setstate__(self, state: dict) -> None:
        self.clear()

    def get(self, tensors: tuple, sizes: tuple, build, cached: bool):
        """``build()``, or the value kept for the same ``tensors`` (None entries allowed) and
        ``sizes``. Values that need a gradient are never kept (they would hold an autograd graph)."""
        if not cached or any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors):
            return build()
        key = tuple(None if t is None else _version(t) for t in tensors) + tuple(sizes)
        if self._key == key and len(self._refs) == len(tensors) and all(
            (r is None and t is None) or (r is not None and r() is t) for r, t in zip(self._refs, tensors)
        ):
            return self.value
        value = build()
        self._refs = tuple(None if t is None else weakref.ref(t) for t in tensors)
        self._key, self.value = key, value
        return value


def _version(t) -> int:
    """The in-place version counter (-1 where there is none: some sparse layouts, SparseTensor)."""
    try:
        return t._version
    except (RuntimeError, AttributeError):
        return -1
