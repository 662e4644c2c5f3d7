"""Ã, the adjacency the GNTK aggregates with, and its self-loop convention: defined once here.

Du et al.'s public code (KangchengHou/gntk, ``gram.py``) builds, per graph, ``A = E + Eᵀ + I`` from
the networkx edge list, which holds each undirected edge once (duplicates merged).  So an edge
u–v gives ``Ã_uv = Ã_vu = 1``, every node gets 1 on the diagonal, and a *listed* self-loop (u, u)
is counted twice more: ``Ã_uu = 3``.  That entry also enters the degree scale
``c_u = 1 / Σ_w Ã_uw`` and (through the neighbourhood sums) every layer.

``loop_weight`` is ``Ã_uu`` for a node whose edge list holds a self-loop (every other node has 1):

* ``3`` -- Du et al.'s code, the default (:data:`DEFAULT_LOOP_WEIGHT`): their numbers, on the
  datasets they published (COLLAB lists 2,837 self-loops; MUTAG, PTC, NCI1, PROTEINS, IMDB-BINARY
  and IMDB-MULTI none, so their kernels do not depend on it);
* ``2`` -- fastgnn 0.1 (a listed loop counted once on top of I);
* ``1`` -- the set reading ``N(u) ∪ {u}``: a listed loop changes nothing.  This is the one for a
  graph in PyG's convention after ``torch_geometric.utils.add_self_loops``, which lists *every*
  node's loop: with weight 1 the kernel sees ``Ã = A + I`` exactly as if the loops were not there.

Edge weights are not used (the GNTK aggregates over neighbourhoods); edges are symmetrised.
Cost: O(E log E) per graph (a sort of the entries).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["LOOP_WEIGHTS", "DEFAULT_LOOP_WEIGHT", "adjacency_entries", "union_adjacency", "dense_adjacency"]

#: the allowed ``loop_weight`` values (see the module docstring), the default first
LOOP_WEIGHTS = (3, 2, 1)
#: Du et al.'s ``A = E + Eᵀ + I``: a listed self-loop gives ``Ã_uu = 3``
DEFAULT_LOOP_WEIGHT = 3


def adjacency_entries(edge_index, num_nodes: int, loop_weight: int = DEFAULT_LOOP_WEIGHT
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zeros of Ã as ``(rows, cols, weights)`` int64, sorted by row then column (CSR order).

    Off-diagonal entries are 1 (edges symmetrised, duplicates dropped); a diagonal entry is 1, or
    ``loop_weight`` where ``edge_index`` (``[2, E]``) holds a self-loop.  O(E log E)."""
    loop_weight = check_loop_weight(loop_weight)
    n = int(num_nodes)
    ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    src, dst = ei
    loops = np.zeros(n, dtype=np.int64)
    loops[src[src == dst]] = loop_weight - 1
    off = src != dst
    keys = np.sort(np.concatenate([src[off] * n + dst[off], dst[off] * n + src[off],
                                   np.arange(n, dtype=np.int64) * (n + 1)]))
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if keys.size else keys
    rows, cols = np.divmod(keys, n) if n else (keys, keys)
    weights = np.ones(keys.shape[0], dtype=np.int64)
    diag = rows == cols
    weights[diag] += loops[rows[diag]]
    return rows, cols, weights


def union_adjacency(graphs: Sequence, loop_weight: int = DEFAULT_LOOP_WEIGHT
                    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The disjoint union of ``graphs``: ``(offsets [n + 1], (rows, cols, weights))``, graph g's nodes
    numbered ``offsets[g]..offsets[g + 1] − 1`` and the entries those of :func:`adjacency_entries`."""
    sizes = np.array([int(g.num_nodes) for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    if not graphs:
        return offsets, adjacency_entries(np.zeros((2, 0), dtype=np.int64), 0, loop_weight)
    shift = np.repeat(offsets[:-1], [int(g.edge_index.shape[1]) for g in graphs])
    edges = torch.cat([g.edge_index for g in graphs], 1).cpu().numpy() + shift
    return offsets, adjacency_entries(edges, int(offsets[-1]), loop_weight)


def dense_adjacency(graph, loop_weight: int = DEFAULT_LOOP_WEIGHT, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Ã of one graph as a dense ``[N, N]`` tensor (the entries of :func:`adjacency_entries`).  O(N²) memory."""
    n = int(graph.num_nodes)
    rows, cols, weights = adjacency_entries(graph.edge_index.cpu().numpy(), n, loop_weight)
    a = torch.zeros(n, n, dtype=dtype)
    a[torch.from_numpy(rows), torch.from_numpy(cols)] = torch.from_numpy(weights).to(dtype)
    return a.to(device)


def check_loop_weight(loop_weight) -> int:
    """``loop_weight`` as an int, or ValueError naming the allowed values."""
    if isinstance(loop_weight, bool) or loop_weight not in LOOP_WEIGHTS:
        raise ValueError(f"self_loop_weight must be one of {LOOP_WEIGHTS} (3: Du et al.'s A = E + Eᵀ + I; "
                         f"1: a listed self-loop ignored, Ã = A + I), got {loop_weight!r}")
    return int(loop_weight)
