"""The GNTK on the dataset's colour pairs: a Weisfeiler-Lehman kernel with a colour-similarity matrix.

Σ⁽ˡ⁾(u, v) and Θ⁽ˡ⁾(u, v) between a node u of G and a node v of H depend only on the depth-l
computation trees of u and v (Du et al. 2019, "Graph Neural Tangent Kernel"): the input features
at depth 0; at depth l the multiset of depth-(l−1) colours over u's closed neighbourhood, each
weighted by Ã's entry (a self-loop's weight included), which also fixes the scale c_u.  That is
u's colour after l rounds of WL refinement run on the *union* of all graphs.  With C_l the number
of distinct depth-l colours in the dataset,

* ``M_l`` (``C_l × C_{l−1}``, sparse): row c holds, for any node u of colour c,
  ``c_u Σ_w Ã[u, w]`` over its neighbours w of each depth-(l−1) colour;
* ``H_l`` (``n × C_l``, sparse): each graph's colour histogram at depth l;
* ``Σ_0 = X̃ X̃ᵀ`` on the distinct feature rows X̃ (after the dtype cast);
* ``Σ_l = M_l Σ_{l−1} M_lᵀ`` (the same for Θ), the ReLU maps elementwise on the ``C_l × C_l``
  colour pairs with the diagonal as the self covariances;
* readout ``K_l = H_l Θ_l H_lᵀ`` (``H_0 Σ_0 H_0ᵀ`` for the input layer): the WL subtree kernel's
  histogram product ``Σ_l H_l H_lᵀ``, with Θ_l as the similarity of colours.

Exact, no approximation; the numbers agree with the node-pair engine to rounding (the sums run
in another order).

**Colours are identified exactly.**  A node's depth-l signature is its sorted list of
(neighbour colour, summed Ã weight) pairs.  Nodes are grouped by a 64-bit hash of the
signature, then every node's signature is compared entry by entry with its group
representative's; a collision (two signatures, one hash) is detected and the refinement is
redone with other random words, so two colours are never merged.

Cost, with N nodes and nnz entries of Ã over the dataset, D depths: refinement
O(D (nnz log nnz)); the recursion O(R Σ_l C_l²) elementwise plus O(Σ_l nnz(M_l) C_{l−1} + nnz(M_l)
C_l) for the sparse products; the readouts O(Σ_l (N C_l + N n)).  Memory: about four dense
``C_l × C_l`` matrices at the largest depth, and ``n × C_l`` for a readout.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk import compiled_tile
from fastgnn.gntk.adjacency import DEFAULT_LOOP_WEIGHT, union_adjacency
from fastgnn.gntk.colour_blocks import (
    MIN_BLOCK_ROWS,
    block_bytes,
    block_rows,
    blocked_gram,
    blocked_readouts,
    held_bytes,
    plan_held,
    readout_bytes,
    recomputed_pairs,
    renumbered_counts,
)
from fastgnn.gntk.colour_rectangle import rectangle_readouts
from fastgnn.gntk.relu import ntk_step
from fastgnn.gntk.scale import REGISTRY

__all__ = ["DatasetColours", "dataset_colours", "colour_pair_readouts", "colour_pair_gram", "colour_pair_bytes",
           "colour_pair_flops", "node_pair_flops", "NODE_ENGINE_SPEEDUP", "uses_compiled_path"]

_MAX_TRIES = 4

#: How many times faster the node-pair engine does one counted multiply-add than this module: its
#: per-graph blocks are dense BLAS-friendly products, the colour pairs' aggregations are gathers.
#: Measured on the 2-core development machine at L=4, R=2 (counted work / seconds): colour pairs
#: 2.3-4.3e9 per s, node pairs 1.2-1.8e10 per s on MUTAG, PTC, IMDB-B, IMDB-M and NCI1.
NODE_ENGINE_SPEEDUP = 5.0


@dataclass(frozen=True)
class DatasetColours:
    """The WL colours of a dataset at depths 0..D, and the matrices of the colour-pair recursion.

    Attributes:
        features: ``[C_0, d]`` the distinct feature rows (in the kernel's dtype, as a float64 copy).
        labels: per depth l, ``[N]`` int64 the colour of every node (graphs stacked in order).
        counts: per depth l >= 1, ``(indptr, indices, values)`` of ``M_l`` (CSR, ``C_l × C_{l−1}``,
            float64, already scaled by c_u); ``counts[0]`` is None.
        graph_of: ``[N]`` int64 the graph of every node.
        num_graphs: n.
        entries: ``[n]`` float64 the non-zeros of each graph's Ã (for the engines' counted work).
    """

    features: np.ndarray
    labels: list
    counts: list
    graph_of: np.ndarray
    num_graphs: int
    entries: np.ndarray | None = None

    @property
    def sizes(self) -> list[int]:
        """``C_l`` for every depth."""
        return [int(lab.max()) + 1 if lab.size else 0 for lab in self.labels]

    def node_pairs(self) -> int:
        """Σ_{i<=j} N_i N_j over graph pairs (what a node-pair engine covers, per depth)."""
        n = np.bincount(self.graph_of, minlength=self.num_graphs).astype(np.float64)
        return int((n.sum() ** 2 + (n * n).sum()) // 2)


def dataset_colours(graphs: Sequence, depth: int, scale: str, dtype: torch.dtype = torch.float64,
                    seed: int = 0, loop_weight: int = DEFAULT_LOOP_WEIGHT) -> DatasetColours:
    """WL-refine the union of ``graphs`` for ``depth`` rounds (exactly; see the module docstring).

    ``scale``: the GNTK's neighbour scaling (``"uniform"``: c_u = 1; ``"degree"``: c_u = 1/Σ_w Ã[u, w]).
    ``loop_weight``: Ã's diagonal entry where a graph lists a self-loop (:mod:`fastgnn.gntk.adjacency`).
    Cost: O(depth · nnz log nnz) over the dataset's Ã.
    """
    if scale not in REGISTRY:
        raise ValueError(f"scale must be one of {tuple(REGISTRY)}, got {scale!r}")
    graphs = list(graphs)
    offsets, (rows, cols, weights) = union_adjacency(graphs, loop_weight)
    total = int(offsets[-1])
    # depth 0: the distinct feature rows, as the kernel sees them (after the dtype cast; -0.0 is 0.0)
    x = torch.cat([g.x.detach().cpu().to(dtype) for g in graphs]).numpy()
    x += 0.0  # -0.0 -> 0.0, in place (torch.cat made a fresh contiguous array)
    first, label = _distinct_rows(x)
    labels = [label]
    features = x[first].astype(np.float64)
    counts = [None]
    rng = np.random.default_rng(seed)
    for _ in range(depth):
        label, m = _refine_once(labels[-1], rows, cols, weights, total, scale, rng)
        labels.append(label)
        counts.append(m)
    graph_of = np.repeat(np.arange(len(graphs), dtype=np.int64), np.diff(offsets))
    entries = np.bincount(graph_of[rows], minlength=len(graphs)).astype(np.float64)
    return DatasetColours(features=features, labels=labels, counts=counts, graph_of=graph_of,
                          num_graphs=len(graphs), entries=entries)


def colour_pair_bytes(colours: DatasetColours, itemsize: int, num_blocks: int | None = None, *,
                      blocked: bool = True, max_bytes: float | None = None, in_memory: bool = True) -> int:
    """Bytes :func:`colour_pair_readouts` needs.  ``blocked`` (the compiled path,
    :mod:`fastgnn.gntk.colour_blocks`): the depths held whole by the plan for ``max_bytes`` (without
    it, only the input covariance: the least that works), the largest block of
    :data:`~fastgnn.gntk.colour_blocks.MIN_BLOCK_ROWS` rows with its support rows, and the readouts;
    otherwise (the dense torch path) every depth whole, the top one included.  ``in_memory`` False: the
    readouts live outside the budget (on disk: :func:`colour_pair_readouts` with ``out``, or
    :func:`colour_pair_gram`)."""
    c = colours.sizes
    top = len(c) - 1 if num_blocks is None else num_blocks
    n = colours.num_graphs
    if blocked:
        held = 0 if max_bytes is None else plan_held(c, top, itemsize, max_bytes, n, in_memory=in_memory)
        block = max([block_bytes(c, depth, held, min(MIN_BLOCK_ROWS, c[depth]), itemsize, n)
                     for depth in range(held + 1, top + 1)] or [0])
        blocks = 2 * itemsize * c[held] ** 2 + block  # the held Σ̃, Θ̃ beside a block
        return int(max(held_bytes(c, held, itemsize), blocks) + readout_bytes(top, n, in_memory=in_memory))
    whole = max([4 * c[l] ** 2 + c[l] * (c[l - 1] if l else 0) + n * c[l] for l in range(top + 1)] or [0])
    return int((whole + 2 * (c[top - 1] ** 2 if top else 0)) * itemsize + (top + 3) * n * n * 8)


def uses_compiled_path(device) -> bool:
    """Whether :func:`colour_pair_readouts` takes the compiled, blocked path on ``device``."""
    return torch.device(device).type == "cpu" and compiled_tile.available()


def colour_pair_flops(colours: DatasetColours, num_blocks: int, num_mlp_layers: int, relu_cost: float, *,
                      itemsize: int = 8, max_bytes: float | None = None, in_memory: bool = True) -> float:
    """Counted work of :func:`colour_pair_readouts`, in multiply-adds (a ReLU step on one pair counts
    ``relu_cost``): per depth l, the aggregation of Σ and Θ (``2 · 2 nnz(M_l) (C_{l−1} + C_l)``), R ReLU
    steps on ``C_l²`` pairs (half of them on the blocked depths, upper triangle), and the readout
    (``C_l²`` times the graphs a colour is in, on average).  With ``max_bytes``, the compiled path's
    plan for that budget: its blocked depths, and the support rows they recompute
    (:func:`~fastgnn.gntk.colour_blocks.recomputed_pairs`); without, the depths below the top held."""
    c = colours.sizes
    n = colours.num_graphs
    held = num_blocks - 1 if max_bytes is None else plan_held(c, num_blocks, itemsize, max_bytes, n,
                                                              in_memory=in_memory)
    total = 0.0
    if held < num_blocks - 1:
        counts, _ = renumbered_counts(colours, held, num_blocks)
        total += recomputed_pairs(counts, c, num_blocks, held,
                                  lambda depth: block_rows(c, depth, held, itemsize, n, max_bytes,
                                                           in_memory=in_memory)
                                  ) * (num_mlp_layers * relu_cost + 16)
    for depth in range(1, num_blocks + 1):
        nnz = float(colours.counts[depth][0][-1])
        pairs = c[depth] ** 2 / (2 if depth > held else 1)
        in_graphs = len(np.unique(colours.labels[depth] * colours.num_graphs + colours.graph_of)) / max(c[depth], 1)
        total += 4 * nnz * (c[depth - 1] + c[depth]) + pairs * (num_mlp_layers * relu_cost + in_graphs)
    return total


def node_pair_flops(rows: np.ndarray, row_nnz: np.ndarray, num_blocks: int, num_mlp_layers: int,
                    relu_cost: float, split: int | None = None) -> float:
    """Counted work of the node-pair engine on graphs of ``rows`` rows (nodes or colour classes) whose
    aggregation matrices hold ``row_nnz`` non-zeros per row on average: per depth, every row pair of
    every graph pair (i <= j; with ``split``, graphs ``split..`` against ``..split−1``) gets R ReLU
    steps and its share of two aggregations of Σ and Θ."""
    rows = np.asarray(rows, dtype=np.float64)
    if split is None:
        pairs = (rows.sum() ** 2 + (rows * rows).sum()) / 2
    else:
        pairs = rows[split:].sum() * rows[:split].sum()
    mean_nnz = float(np.sum(row_nnz * rows) / max(rows.sum(), 1.0))
    return num_blocks * pairs * (num_mlp_layers * relu_cost + 8 * mean_nnz)


def colour_pair_readouts(colours: DatasetColours, num_blocks: int, num_mlp_layers: int, *,
                         device="cpu", dtype: torch.dtype = torch.float64, max_bytes: float = 2**30,
                         progress: bool = False, split: int | None = None, checkpoint_dir=None,
                         out: np.ndarray | None = None, diagonals: list | None = None) -> np.ndarray:
    """``[num_blocks + 1, n, n]`` float64: the readouts of the GNTK on the dataset's colour pairs.

    ``colours`` must hold at least ``num_blocks`` depths.  The recursion of
    :func:`fastgnn.gntk.recursion.readouts` runs on ``C_l × C_l`` colour pairs (the ReLU step is
    :func:`fastgnn.gntk.relu.ntk_step`, the node engine's), each readout a histogram product.
    On a CPU with numba, the compiled path (:mod:`fastgnn.gntk.colour_blocks`) holds the depths that
    fit whole and computes the deeper ones by blocks of rows (the upper triangle only) within
    ``max_bytes``, recomputing the rows below a block that it needs, with a progress bar over the
    blocks when ``progress``; otherwise (CUDA, or without numba) every depth is a dense torch matrix.

    ``split``: the readouts of graphs ``split..n−1`` (rows) against graphs ``0..split−1`` (columns),
    ``[num_blocks + 1, n − split, split]``, instead of the symmetric ``[num_blocks + 1, n, n]``: what
    ``transform`` needs when the colours were refined on the fitted graphs followed by the new ones.  With
    ``diagonals`` (every colour's self standard deviation per depth,
    :func:`~fastgnn.gntk.colour_rectangle.diagonals_from_operands`) the compiled path computes only the
    rectangle of new colours against fitted ones (:mod:`fastgnn.gntk.colour_rectangle`); without, the union's
    triangle, read out as a rectangle.

    ``checkpoint_dir`` (the compiled path only; ``ValueError`` on the dense one): save the blocked
    depths' state under it and resume a killed run from it (:mod:`fastgnn.gntk.colour_resume`).

    ``out`` (the compiled path only): a zero-filled float64 array of the readouts' shape to accumulate them
    in (a memory map, say), which lives outside ``max_bytes``; returned.
    """
    if len(colours.labels) < num_blocks + 1:
        raise ValueError(f"colours hold {len(colours.labels) - 1} depths, the recursion needs {num_blocks}")
    device = torch.device(device)
    if uses_compiled_path(device):
        if split is not None and diagonals is not None:
            return rectangle_readouts(colours, split, diagonals, num_blocks, num_mlp_layers, dtype, max_bytes,
                                      progress, checkpoint_dir=checkpoint_dir, out=out)
        return blocked_readouts(colours, num_blocks, num_mlp_layers, dtype, max_bytes, progress, split,
                                checkpoint_dir=checkpoint_dir, out=out)
    if checkpoint_dir is not None or out is not None:
        raise ValueError("colour pairs: checkpoint_dir and out need the compiled path (a CPU with numba)")
    n = colours.num_graphs
    shape = (n, n) if split is None else (n - split, split)
    out = np.empty((num_blocks + 1, *shape))
    x = torch.from_numpy(colours.features).to(device=device, dtype=dtype)
    sigma = x @ x.T
    out[0] = _readout(colours, 0, sigma, split)
    sigma = _aggregate(colours, 1, sigma)
    theta = sigma.clone()
    for block in range(num_blocks):
        depth = block + 1
        for _ in range(num_mlp_layers):
            d = torch.sqrt(torch.clamp(torch.diagonal(sigma), min=0.0))
            sigma, theta = ntk_step(sigma, theta, d, d)
        out[depth] = _readout(colours, depth, theta, split)
        if block < num_blocks - 1:
            sigma = _aggregate(colours, depth + 1, sigma)
            theta = _aggregate(colours, depth + 1, theta)
    return out


def colour_pair_gram(colours: DatasetColours, num_blocks: int, num_mlp_layers: int, into: np.ndarray, depths, *,
                     dtype: torch.dtype = torch.float64, max_bytes: float = 2**30,
                     progress: bool = False, upper: bool = False) -> np.ndarray:
    """``into += Σ_{l in depths} K_l`` (``into``: a zero-filled ``n × n`` float64 array, or float32 to sum in
    single precision, outside ``max_bytes``; a memory map works, but its random row writes keep the OS
    writing its pages back): the Gram accumulated straight from the colour pairs, with no per-depth
    ``n × n`` readouts anywhere.  Returns the diagonals ``[num_blocks + 1, n]`` of every readout K_l.
    ``upper``: into its upper triangle only (the lower one never written).
    The compiled path only (:func:`uses_compiled_path`); see
    :func:`~fastgnn.gntk.colour_blocks.blocked_gram`."""
    if len(colours.labels) < num_blocks + 1:
        raise ValueError(f"colours hold {len(colours.labels) - 1} depths, the recursion needs {num_blocks}")
    if not compiled_tile.available():
        raise RuntimeError("colour_pair_gram needs numba (the compiled path)")
    return blocked_gram(colours, num_blocks, num_mlp_layers, dtype, max_bytes, into, depths, progress, upper)


# --------------------------------------------------------------------------- helpers


def _distinct_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, label)``: each distinct row of ``x`` (``[N, d]``) by its first index, and every row's label.

    Rows are grouped by a random projection (O(N d)), then every row is compared exactly with its group's
    first row; only if two different rows met in a group (a coincidence of the projection) are the rows
    grouped by their bytes (a sort of N rows of d values: ogbg-molhiv's 1.05 M atoms x 174 one-hot columns
    took 30 s that way, the projection 1 s).  The distinct rows are numbered in the order of their bytes."""
    r = _projection_vector(x.shape[1])
    chunk = 1 << 16  # rows at a time: a fresh N x d array costs more in page faults than the arithmetic
    # a row's projection must not depend on where the row is (BLAS may sum a row differently by position):
    # each row summed by numpy's own reduction
    small = 1 << 12  # (a few MB: the allocator reuses them)
    proj = np.concatenate([(x[i:i + small] * r).sum(axis=1) for i in range(0, x.shape[0], small)] or [r[:0]])
    _, first, label = np.unique(proj, return_index=True, return_inverse=True)
    label = label.astype(np.int64).ravel()
    if not all(np.array_equal(x[i:i + chunk], x[first[label[i:i + chunk]]]) for i in range(0, x.shape[0], chunk)):
        return _by_bytes(x)
    # number the distinct rows in the order of their bytes, as grouping by bytes would (the same colours, so
    # the same sums in the same order as before); two groups of one row, were there any, become one
    rank = _by_bytes(np.ascontiguousarray(x[first]))[1]
    by_bytes = np.full(int(rank.max()) + 1 if rank.size else 0, x.shape[0], dtype=np.int64)
    np.minimum.at(by_bytes, rank, first)
    return by_bytes, rank[label]


def _projection_vector(d: int) -> np.ndarray:
    """The fixed random direction :func:`_distinct_rows` projects on (its own generator, seeded)."""
    return np.random.Generator(np.random.PCG64(12345)).standard_normal(d)


def _by_bytes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_distinct_rows` by sorting the rows' bytes (O(N d log N))."""
    keyed = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, first, label = np.unique(keyed, return_index=True, return_inverse=True)
    return first, label.astype(np.int64).ravel()


def _refine_once(label: np.ndarray, rows, cols, weights, total: int, scale: str, rng):
    """One exact WL round: ``(new labels [N], M as CSR (indptr, indices, values))``."""
    num_prev = int(label.max()) + 1 if label.size else 0
    key = rows * num_prev + label[cols]
    order = np.argsort(key, kind="stable")
    key = key[order]
    head = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if key.size else key
    ukey = key[head]
    w = np.add.reduceat(weights[order], head) if key.size else weights
    node, colour = np.divmod(ukey, max(num_prev, 1))
    indptr = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=total), out=indptr[1:])
    nnz = np.diff(indptr)
    for _ in range(_MAX_TRIES):
        words = rng.integers(0, 2**63, size=num_prev, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        mixed = words[colour] * (w.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1))
        h = np.add.reduceat(mixed, indptr[:-1]) if total else mixed  # wraps mod 2⁶⁴; no node is empty (Ã ⊇ I)
        h = h ^ (nnz.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
        _, first, new = np.unique(h, return_index=True, return_inverse=True)
        new = new.astype(np.int64).ravel()
        rep = first[new]  # every node's group representative
        same = np.array_equal(nnz[rep], nnz)
        if same:
            # entry e of node u against the entry at the same position of u's representative
            pos = np.arange(node.shape[0]) - indptr[node]
            at = indptr[rep[node]] + pos
            same = np.array_equal(colour[at], colour) and np.array_equal(w[at], w)
        if same:
            break
    else:
        raise RuntimeError(f"WL refinement: hash collisions in {_MAX_TRIES} tries")
    # M: the representatives' rows, scaled
    reps = first
    starts, ends = indptr[reps], indptr[reps + 1]
    lengths = ends - starts
    m_indptr = np.concatenate([[0], np.cumsum(lengths)])
    take = np.repeat(starts - m_indptr[:-1], lengths) + np.arange(m_indptr[-1])
    m_indices = colour[take]
    m_values = w[take].astype(np.float64)
    if scale == "degree":
        m_values = m_values / np.repeat(np.add.reduceat(m_values, m_indptr[:-1]), lengths)
    return new, (m_indptr, m_indices, m_values)


def _csr(indptr, indices, values, shape, device, dtype) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(torch.from_numpy(indptr), torch.from_numpy(indices),
                                       torch.from_numpy(values).to(dtype), size=shape, device=device)


def _aggregate(colours: DatasetColours, depth: int, s: torch.Tensor) -> torch.Tensor:
    """``M_l S M_lᵀ`` (``C_l × C_l``) from the ``C_{l−1} × C_{l−1}`` matrix S."""
    c = colours.sizes
    m = _csr(*colours.counts[depth], (c[depth], c[depth - 1]), s.device, s.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        half = torch.sparse.mm(m, s)  # M S: C_l × C_{l−1}
        return torch.sparse.mm(m, half.T.contiguous()).T.contiguous()


def _readout(colours: DatasetColours, depth: int, t: torch.Tensor, split: int | None = None) -> np.ndarray:
    """``H_l T H_lᵀ`` (``n × n`` float64, symmetrised), or with ``split`` the rows of graphs ``split..``
    against the columns of graphs ``..split−1``."""
    n = colours.num_graphs
    if split is None:
        h = _histogram_rows(colours, depth, 0, n, t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ht = torch.sparse.mm(h, t)  # n × C
            k = torch.sparse.mm(h, ht.T.contiguous()).T.cpu().numpy().astype(np.float64)
        return 0.5 * (k + k.T)
    h_r, h_c = _histogram_rows(colours, depth, split, n, t), _histogram_rows(colours, depth, 0, split, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ht = torch.sparse.mm(h_c, t)  # n_c × C (T symmetric)
        return torch.sparse.mm(h_r, ht.T.contiguous()).cpu().numpy().astype(np.float64)


def _histogram_rows(colours: DatasetColours, depth: int, lo: int, hi: int, t: torch.Tensor) -> torch.Tensor:
    """H_l of graphs ``lo..hi−1`` as a sparse CSR ``(hi − lo) × C_l`` tensor on ``t``'s device."""
    lab = colours.labels[depth]
    c = t.shape[0]
    keep = (colours.graph_of >= lo) & (colours.graph_of < hi)
    uniq, cnt = np.unique((colours.graph_of[keep] - lo) * c + lab[keep], return_counts=True)
    g, col = np.divmod(uniq, c)
    indptr = np.zeros(hi - lo + 1, dtype=np.int64)
    np.cumsum(np.bincount(g, minlength=hi - lo), out=indptr[1:])
    return _csr(indptr, col, cnt.astype(np.float64), (hi - lo, c), t.device, t.dtype)
