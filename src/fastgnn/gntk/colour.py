"""Each graph's colour classes: the coarsest equitable partition of Ã that refines the feature classes.

The GNTK value of a node pair depends only on the two nodes' rooted computation
trees (Du et al. 2019, "Graph Neural Tangent Kernel": Σ⁽⁰⁾ = X_G X_Hᵀ, then sums
over neighbourhoods and elementwise maps).  Nodes that 1-WL colour refinement,
started from the node features, never separates therefore have identical rows
of Σ and Θ at every depth, and the recursion can run on classes instead of nodes
(:mod:`fastgnn.gntk.pairwise`, :mod:`fastgnn.gntk.engine`).

The partition is taken for Ã of :mod:`fastgnn.gntk.adjacency` (symmetrised, duplicate
edges dropped, 1 on the diagonal, ``loop_weight`` where the edge list holds a
self-loop): it is *equitable* when Σ_{a ∈ K} Ã[u, a] is the
same for every u in class I, for all classes I, K.  Its quotient is

    s[I]    = |I|                                  (class sizes, ``[k]``)
    Q[I, K] = Σ_{a ∈ K} Ã[u, a]  for any u ∈ I     (count matrix, ``[k, k]``, not symmetric)

and for both scales c_u = 1 or 1/Σ_a Ã[u, a] = 1/Σ_K Q[I, K] is constant on a class.

**Algorithm.**  Vectorised colour refinement over a batch of graphs at once
(their disjoint union, the graph's index part of the starting colour, so classes
never mix graphs): each round a node's new colour is its colour together with
h(u) = Σ_a Ã[u, a] r[colour(a)] mod 2⁶⁴, r a random 64-bit word per colour,
until the number of classes stops growing.  A round is O(nnz(Ã)) plus a sort
of the nodes; rounds are at most the number of classes, in practice a few.
Equal multisets of neighbour colours give equal h, so a round never splits a
class it should not; a hash collision could only leave a class unsplit, which
the final exact check of equitability catches (then the refinement is redone
with other words r).  An equitable partition that refines the feature classes
and is no finer than the rounds of true refinement is the coarsest such
partition, so the result is exact.

Cost: O(R (nnz + N log N)) for R rounds over the batch's N nodes, numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk.adjacency import DEFAULT_LOOP_WEIGHT, adjacency_entries, union_adjacency

__all__ = ["Colouring", "colour_classes", "colour_classes_many", "adjacency_entries", "union_adjacency"]

_MAX_TRIES = 4


@dataclass(frozen=True)
class Colouring:
    """One graph's colour classes and their quotient.

    Attributes:
        labels: ``[N]`` int64, the class of each node; classes are numbered
            ``0..k-1`` in order of their first node.
        sizes: ``[k]`` int64 class sizes s.
        counts: ``[k, k]`` float64 count matrix Q (see the module docstring).
        firsts: ``[k]`` int64, each class's first node (increasing).
    """

    labels: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray
    firsts: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.labels.shape[0])


def colour_classes(graph, loop_weight: int = DEFAULT_LOOP_WEIGHT) -> Colouring:
    """The colour classes of one :class:`fastgnn.graph.Graph` (see :func:`colour_classes_many`)."""
    return colour_classes_many([graph], loop_weight=loop_weight)[0]


def colour_classes_many(graphs: Sequence, seed: int = 0, loop_weight: int = DEFAULT_LOOP_WEIGHT) -> list[Colouring]:
    """The colour classes of every graph, refined together on their disjoint union (in batches of at
    most :data:`BATCH_EDGES` edges).

    Args:
        graphs: :class:`fastgnn.graph.Graph` objects (``edge_index``, ``num_nodes``, ``x``).
        seed: seeds the random words of the hash (the result does not depend on it).
        loop_weight: Ã's diagonal entry where a graph lists a self-loop (:mod:`fastgnn.gntk.adjacency`).

    Returns:
        One :class:`Colouring` per graph.  Cost: see the module docstring.
    """
    graphs = list(graphs)
    if not graphs:
        return []
    dims = sorted({int(g.x.shape[1]) for g in graphs})
    if len(dims) > 1:
        raise ValueError(f"graphs: different feature dimensions {dims}")
    # batches of at most BATCH_EDGES edges (a larger graph alone): the transient arrays of a round are
    # a few int64 per edge, and the union of COLLAB-sized graphs (25M edges) made them gigabytes
    edges = np.cumsum([int(g.edge_index.shape[1]) + int(g.num_nodes) for g in graphs])
    out, start = [], 0
    while start < len(graphs):
        done = int(edges[start - 1]) if start else 0
        end = max(start + 1, int(np.searchsorted(edges, done + BATCH_EDGES, side="right")))
        out += _colour_union(graphs[start:end], seed, loop_weight)
        start = end
    return out


#: Most edges (plus nodes) refined together by :func:`colour_classes_many`.
BATCH_EDGES = 2**22


def _colour_union(graphs: list, seed: int, loop_weight: int) -> list[Colouring]:
    """:func:`colour_classes_many` on one batch: the refinement of the graphs' disjoint union."""
    offsets, (rows, cols, weights) = union_adjacency(graphs, loop_weight)
    sizes = np.diff(offsets)
    indptr = np.zeros(int(offsets[-1]) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=int(offsets[-1])), out=indptr[1:])
    start = _feature_classes(graphs, sizes)
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_TRIES):
        colour = _refine(start, indptr, cols, weights, rng)
        split = _split(colour, rows, cols, weights, offsets)
        if split is not None:
            return split
    raise RuntimeError(f"colour refinement: no equitable partition after {_MAX_TRIES} tries (hash collisions?)")


def _feature_classes(graphs, sizes: np.ndarray) -> np.ndarray:
    """``[N]`` int64: nodes with the same graph and the same feature row share a colour.

    Rows are grouped by a random projection, then every row is compared exactly with its group's
    first row; only if two different rows met in a group (a coincidence of the projection) are the
    rows grouped by sorting their bytes.  O(N d).
    """
    graph_of = np.repeat(np.arange(len(graphs), dtype=np.int64), sizes)
    x = torch.cat([g.x.detach().cpu().to(torch.float64) for g in graphs]).numpy() + 0.0  # -0.0 -> 0.0
    proj = x @ np.random.default_rng(12345).standard_normal(x.shape[1])
    order = np.lexsort((proj, graph_of))
    step = np.ones(x.shape[0], dtype=np.int64)
    step[0] = 0
    step[1:] = (graph_of[order[1:]] != graph_of[order[:-1]]) | (proj[order[1:]] != proj[order[:-1]])
    colour = np.empty(x.shape[0], dtype=np.int64)
    colour[order] = np.cumsum(step)
    first = np.empty(int(colour.max()) + 1, dtype=np.int64)
    first[colour[order[::-1]]] = order[::-1]
    if np.array_equal(x, x[first[colour]]):
        return colour
    keyed = np.ascontiguousarray(np.column_stack([graph_of.astype(np.float64), x]))
    rows = keyed.view(np.dtype((np.void, keyed.dtype.itemsize * keyed.shape[1]))).ravel()
    return np.unique(rows, return_inverse=True)[1].astype(np.int64).ravel()


def _refine(colour: np.ndarray, indptr, cols, weights, rng) -> np.ndarray:
    """Rounds of hashed refinement until the number of colours stops growing."""
    num = int(colour.max()) + 1
    w = weights.astype(np.uint64)
    while True:
        words = rng.integers(0, 2**63, size=num, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        h = np.add.reduceat(w * words[colour[cols]], indptr[:-1])  # wraps mod 2⁶⁴; no row is empty (Ã ⊇ I)
        order = np.lexsort((h, colour))
        step = np.ones(colour.shape[0], dtype=np.int64)
        step[0] = 0
        step[1:] = (colour[order[1:]] != colour[order[:-1]]) | (h[order[1:]] != h[order[:-1]])
        colour = np.empty_like(colour)
        colour[order] = np.cumsum(step)
        count = int(colour[order[-1]]) + 1
        if count == num:
            return colour
        num = count


def _split(colour: np.ndarray, rows, cols, weights, offsets) -> list[Colouring] | None:
    """Per graph: classes renumbered by first node, sizes, Q; None if the partition is not equitable."""
    total = colour.shape[0]
    k = int(colour.max()) + 1
    first = np.empty(k, dtype=np.int64)
    first[colour[::-1]] = np.arange(total)[::-1]  # each colour's first node (the last write wins)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(k)
    cls = rank[colour]  # classes in order of first node, so each graph's classes are consecutive
    first = np.sort(first)  # first[I]: class I's first node, its representative
    # W[u, K] = Σ_{a ∈ K} Ã[u, a], coalesced to entries (u, K) in sorted order
    key = rows * k + cls[cols]
    order = np.argsort(key, kind="stable")
    key = key[order]
    head = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    uniq, counts = key[head], np.add.reduceat(weights[order], head).astype(np.float64)
    u, kk = np.divmod(uniq, k)
    # equitable: every node's entries (K, W[u, K]) are its representative's
    rep = first[cls[u]] == u
    class_key = cls[u] * k + kk
    rep_key, rep_counts = class_key[rep], counts[rep]  # sorted, since (u, K) is and classes follow nodes
    at = np.minimum(np.searchsorted(rep_key, class_key), rep_key.shape[0] - 1)
    nnz = np.bincount(u, minlength=total)
    if not (np.array_equal(rep_key[at], class_key) and np.array_equal(rep_counts[at], counts)
            and np.array_equal(nnz, nnz[first][cls])):
        return None
    # per graph: labels, sizes and Q as slices of flat arrays
    class_off = np.searchsorted(first, offsets)  # graph g's classes: class_off[g] .. class_off[g + 1]
    k_g = np.diff(class_off)
    graph_of_class = np.repeat(np.arange(k_g.shape[0]), k_g)
    q_off = np.concatenate([[0], np.cumsum(k_g * k_g)])
    i_cls, k_cls = rep_key // k, rep_key % k
    g_e = graph_of_class[i_cls]
    flat = np.zeros(int(q_off[-1]))
    flat[q_off[g_e] + (i_cls - class_off[g_e]) * k_g[g_e] + (k_cls - class_off[g_e])] = rep_counts
    sizes = np.bincount(cls, minlength=k)
    local = cls - np.repeat(class_off[:-1], np.diff(offsets))
    firsts = first - np.repeat(offsets[:-1], k_g)
    return [Colouring(labels=local[offsets[g]:offsets[g + 1]], sizes=sizes[class_off[g]:class_off[g + 1]],
                      counts=flat[q_off[g]:q_off[g + 1]].reshape(k_g[g], k_g[g]),
                      firsts=firsts[class_off[g]:class_off[g + 1]])
            for g in range(k_g.shape[0])]
