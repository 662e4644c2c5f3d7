"""The tile plan of a Gram and its cost model: how many nodes a tile stacks, and which tiles there are.

The engine (:mod:`fastgnn.gntk.engine`) computes a Gram as *tiles*: a chunk of graphs I against a
chunk J (:mod:`fastgnn.gntk.tiles`), only I <= J for a symmetric Gram.  This module decides them:

* **Tile size.**  :func:`plan_tile_nodes` sizes the tiles within a memory budget
  (:func:`fastgnn.budget.tile_budget`), after setting aside what lives outside them
  (:func:`reserved_bytes`: the output readouts, unless they are on disk, and the stacked
  operands).  The torch tile holds :data:`LIVE_TILES` ``[M_I, M_J]`` arrays at its peak
  (:func:`tile_nodes_for_budget`: M = sqrt(free / (10 · itemsize))); the compiled tile holds none,
  only the right side's dense features and the tile's readouts (:func:`compiled_tile_nodes`:
  ``b M + a M² <= free``), so its tiles are as large as those allow, up to
  :data:`COMPILED_MAX_TILE_NODES`.
* **Below what the work needs.**  :func:`minimum_budget` is the least budget the work fits in at all:
  the reserve, one tile of the smallest size and the preparation of the largest graph
  (:func:`preparation_bytes`).  Below it the tiles fall back to 64 nodes and the budget is exceeded
  anyway, with many more tiles (NCI1 under 500 MB: 2.07 million tiles, an hour, against 28 at 1 GB):
  :func:`plan_tile_nodes` then warns (:class:`BudgetWarning`) with the minimum and a budget that
  gives useful tiles (:func:`useful_budget`), never silently.
* **Chunks and tiles.**  :func:`plan_chunks` groups graphs of similar size (a stable sort) into
  chunks of at most that many nodes; :func:`plan_tiles` pairs them into a :class:`TilePlan`.
  O(n log n) for n graphs.
* **Cost model.**  :func:`sketch_cost_ratio` predicts the sketched Gram's time over the exact one's
  (O(n)), behind ``GNTK(sketch_size=b)``'s warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from fastgnn.gntk import compiled_tile
from fastgnn.gntk.pairwise import Operand

__all__ = [
    "BudgetWarning",
    "PREPARATION_ARRAYS",
    "USEFUL_TILE_NODES",
    "minimum_budget",
    "preparation_bytes",
    "useful_budget",
    "LIVE_TILES",
    "COMPILED_MAX_TILE_NODES",
    "RELU_PAIR_COST",
    "SKETCH_PAYS_BELOW",
    "TilePlan",
    "compiled_csr_bytes",
    "compiled_tile_nodes",
    "compiled_tile_runs",
    "plan_chunks",
    "plan_tile_nodes",
    "plan_tiles",
    "reserved_bytes",
    "sketch_cost_ratio",
    "tile_nodes_for_budget",
]

#: ``[M_I, M_J]`` arrays of the compute dtype live at the peak of one tile.
#:
#: Counted in :func:`fastgnn.gntk.tiles.tile_readouts` with the recursion of
#: :mod:`fastgnn.gntk.recursion` and the maps of :mod:`fastgnn.gntk.relu`:
#:
#: * Σ (Σ⁽⁰⁾ = X_I X_Jᵀ, aggregated in place) and Θ, held through the recursion: 2;
#: * the two ReLU scratch buffers (Σ̇ and ``1 − ρ²``), kept for the tile: 2, plus two
#:   boolean masks while ρ is snapped to ±1 (1/8 each in float64);
#: * the Aggregate's buffers: ``f_L @ Σ``, its ``.T`` copy and ``f_R @ (·)``: 3
#:   (sketched: ``[b_I, M_J]``-sized and smaller, plus one ``[M_J, b_I]``-sized);
#: * the sparse × dense product's own workspace (CSR @ dense on a CPU allocates
#:   besides its output; measured: one more tile): 1;
#:
#: so 8, plus allocator slack: arrays of 128 KB–32 MB come from the glibc heap,
#: whose freed blocks the next tile's shapes do not always reuse.  The loop calls
#: ``malloc_trim`` after each tile; measured over whole runs the peak resident
#: growth is 8–9.4 tiles (with the earlier, allocating ReLU maps, 7 live arrays).
#: Hence 10.  ``tests/gntk/test_engine.py`` checks a child process's peak RSS against
#: the budget.
LIVE_TILES = 10

_MIN_TILE_NODES = 64
_FIXED_OVERHEAD = 16 * 2**20

#: dense ``[N, N]`` float64 arrays alive at the peak of preparing one graph of N nodes (its aggregation
#: matrix, colour refinement and self-diagonals: :func:`fastgnn.gntk.pairwise.prepare_many`).  Measured as the
#: peak resident growth of ``GNTK.fit`` on one graph: 5.0 N² · 8 bytes at N = 2000-4000 (synthetic graphs),
#: 6.6 at N = 3000 in the audit of issue 24 (477 MB); hence 7.  ``tests/gntk/test_plan.py`` checks it.
PREPARATION_ARRAYS = 7
#: the tile size below which the per-tile cost dominates: :func:`useful_budget` gives tiles of at least this
USEFUL_TILE_NODES = 1024


class BudgetWarning(RuntimeWarning):
    """``max_memory`` is below what the work needs (:func:`minimum_budget`): it will be exceeded, in many small
    tiles."""


# --------------------------------------------------------------------------- memory


def tile_nodes_for_budget(
    max_memory_bytes: float, itemsize: int, live_tiles: int = LIVE_TILES, reserved: float = 0.0
) -> int:
    """Largest M with ``live_tiles`` ``[M, M]`` arrays inside the budget less ``reserved`` bytes.

    At least 64 nodes (a budget too small for that is exceeded, not refused).
    """
    free = max(float(max_memory_bytes) - float(reserved), 0.0)
    return max(_MIN_TILE_NODES, int(math.sqrt(free / (live_tiles * itemsize))))


#: Most nodes per side of a compiled tile: tiles stay numerous enough for the progress bar, the
#: checkpoints and the split of left graphs over threads (a COLLAB-sized Gram: 276 tiles).
COMPILED_MAX_TILE_NODES = 16384


def compiled_tile_nodes(free_bytes: float, itemsize: int, num_features: int, num_blocks: int,
                        mean_nodes: float) -> int:
    """Largest M whose compiled tile fits in ``free_bytes``: ``b M + a M² <= free``, at least 64 and at
    most :data:`COMPILED_MAX_TILE_NODES`.

    b: the right side's features, dense and transposed (``[d, M_J]``), and the
    left side's transient dense ``(C A) X`` when its CSR is first made: ``2 d``
    values per node.  a: the tile's readouts ``[num_blocks + 1, n_I, n_J]``
    float64 and their copy in the dtype, with ``n = M / mean_nodes`` graphs per
    side.  The per-thread blocks (``[2, N_g, ≤ 512]`` and companions) are within
    the fixed overhead.
    """
    b = 2.0 * num_features * itemsize
    a = (num_blocks + 1) * (8 + itemsize) / max(mean_nodes, 1.0) ** 2
    free = max(float(free_bytes), 0.0)
    m = (math.sqrt(b * b + 4 * a * free) - b) / (2 * a)
    return int(min(COMPILED_MAX_TILE_NODES, max(_MIN_TILE_NODES, m)))


def plan_tile_nodes(rows: Sequence[Operand], cols: Sequence[Operand] | None, max_memory_bytes: float,
                    itemsize: int, num_blocks: int, sketched: bool, *, readouts_outside: bool = False) -> int:
    """Nodes per side of the tiles of this Gram within ``max_memory_bytes``: the compiled tile's rule
    where it runs (:func:`fastgnn.gntk.compiled_tile.tile_usable`), else the torch tile's.

    ``readouts_outside``: the output readouts live outside the budget (a memory map on disk, the
    out-of-core Gram), so they are not set aside from it (:func:`reserved_bytes` with
    ``readouts=False``); the tiles then get the whole budget less the stacked operands.
    """
    reserved = reserved_bytes(rows, cols, num_blocks, readouts=not readouts_outside)
    nodes = _tile_nodes(rows, cols, float(max_memory_bytes) - reserved, itemsize, num_blocks, sketched)
    least = minimum_budget(rows, cols, itemsize, num_blocks, sketched, readouts_outside=readouts_outside)
    if max_memory_bytes < least:
        _warn_below_minimum(rows, cols, max_memory_bytes, least, nodes, reserved, itemsize, num_blocks, sketched,
                            readouts_outside)
    return nodes


def preparation_bytes(ops_or_nodes) -> int:
    """Peak bytes of preparing the largest of these graphs (operands, or node counts):
    :data:`PREPARATION_ARRAYS` dense ``[N, N]`` float64 arrays."""
    sizes = [o if isinstance(o, int | np.integer) else _nodes(o) for o in ops_or_nodes]
    return int(PREPARATION_ARRAYS * 8 * max(sizes, default=0) ** 2)


def minimum_budget(rows: Sequence[Operand], cols: Sequence[Operand] | None, itemsize: int, num_blocks: int,
                   sketched: bool, *, readouts_outside: bool = False) -> int:
    """The least ``max_memory`` this Gram fits in at all: the larger of preparing its largest graph
    (:func:`preparation_bytes`) and the reserve (:func:`reserved_bytes`: readouts unless ``readouts_outside``,
    stacked operands, fixed) plus one tile of the smallest size (64 nodes, or the largest graph's rows)."""
    reserved = reserved_bytes(rows, cols, num_blocks, readouts=not readouts_outside)
    everything = list(rows) + ([] if cols is None else list(cols))
    smallest = max(_MIN_TILE_NODES, max(o.num_rows for o in everything))
    return int(max(preparation_bytes(everything),
                   reserved + _tile_bytes(rows, cols, smallest, itemsize, num_blocks, sketched)))


def useful_budget(rows: Sequence[Operand], cols: Sequence[Operand] | None, itemsize: int, num_blocks: int,
                  sketched: bool, *, readouts_outside: bool = False) -> int:
    """A budget whose tiles hold :data:`USEFUL_TILE_NODES` nodes (or the largest graph): the least at which the
    per-tile cost stops dominating."""
    reserved = reserved_bytes(rows, cols, num_blocks, readouts=not readouts_outside)
    everything = list(rows) + ([] if cols is None else list(cols))
    useful = max(USEFUL_TILE_NODES, max(o.num_rows for o in everything))
    least = minimum_budget(rows, cols, itemsize, num_blocks, sketched, readouts_outside=readouts_outside)
    return int(max(least, reserved + _tile_bytes(rows, cols, useful + 1, itemsize, num_blocks, sketched)))


def _tile_nodes(rows, cols, free: float, itemsize: int, num_blocks: int, sketched: bool) -> int:
    if compiled_tile_runs(rows[0], sketched):
        everything = list(rows) + ([] if cols is None else list(cols))
        mean_nodes = sum(o.num_rows for o in everything) / len(everything)
        return compiled_tile_nodes(free, itemsize, int(rows[0].x.shape[1]), num_blocks, mean_nodes)
    return tile_nodes_for_budget(free, itemsize)


def _tile_bytes(rows, cols, nodes: int, itemsize: int, num_blocks: int, sketched: bool) -> float:
    """Bytes of one tile of ``nodes`` nodes per side (the inverse of :func:`_tile_nodes`'s rules)."""
    if compiled_tile_runs(rows[0], sketched):
        everything = list(rows) + ([] if cols is None else list(cols))
        mean_nodes = sum(o.num_rows for o in everything) / len(everything)
        b = 2.0 * int(rows[0].x.shape[1]) * itemsize
        a = (num_blocks + 1) * (8 + itemsize) / max(mean_nodes, 1.0) ** 2
        return b * nodes + a * nodes * nodes
    return float(LIVE_TILES * itemsize * nodes * nodes)


def _nodes(op: Operand) -> int:
    """The nodes of the graph behind an operand (its class sizes summed, or its rows)."""
    return int(round(float(op.sizes.sum()))) if op.sizes is not None else op.num_rows


def _warn_below_minimum(rows, cols, budget, least, nodes, reserved, itemsize, num_blocks, sketched, outside):
    useful = useful_budget(rows, cols, itemsize, num_blocks, sketched, readouts_outside=outside)
    useful_nodes = _tile_nodes(rows, cols, useful - reserved, itemsize, num_blocks, sketched)
    n_tiles, n_useful = (len(plan_tiles(rows, cols, t).tiles) for t in (nodes, useful_nodes))
    n_cols = len(rows) if cols is None else len(cols)
    readouts = 0 if outside else 8 * (num_blocks + 1) * len(rows) * n_cols
    everything = list(rows) + ([] if cols is None else list(cols))
    largest = max(_nodes(o) for o in everything)
    warnings.warn(
        f"max_memory={_mb(budget)} is below the {_mb(least)} this Gram needs at the least (readouts "
        f"{_mb(readouts)}, stacked operands and fixed {_mb(reserved - readouts)}, one tile; preparing its largest "
        f"graph, {largest} nodes: {_mb(preparation_bytes(everything))}): it will be exceeded, in {n_tiles:,} tiles "
        f"of {nodes} nodes; max_memory={_mb(useful)} gives {n_useful:,} tiles of {useful_nodes} nodes"
        + ("" if outside else "; fit_transform_to_disk keeps the readouts outside the budget"),
        BudgetWarning, stacklevel=4)


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e9 else f"{nbytes / 1e6:.1f} MB"


def compiled_tile_runs(op: Operand, sketched: bool) -> bool:
    """Whether tiles of such operands run on the compiled tile of :mod:`fastgnn.gntk.compiled_tile` (the exact
    kernel, or the sketched one): :func:`fastgnn.gntk.compiled_tile.tile_usable` for the graph's features and
    self-diagonals (CPU, plain float tensors, numba installed; sketched:
    :func:`fastgnn.gntk.compiled_tile.sketched_tile_usable`); else on the torch tile."""
    usable = compiled_tile.sketched_tile_usable if sketched else compiled_tile.tile_usable
    return usable(op.x, *op.diags[:1])


def sketch_cost_ratio(num_nodes: Sequence[int], b: int, *, num_blocks: int, num_mlp_layers: int,
                      entries: Sequence[int] | None = None) -> float:
    """Predicted seconds of the sketched Gram over the exact one's (on nodes), on the compiled tile, for
    graphs of these node counts (and ``entries``: non-zeros of each graph's Ã, self-loops included;
    default dense) and sketch size b: the cost model behind ``GNTK(sketch_size=b)``'s warning.

    Per node pair (g, h) the tile does, per Aggregate of an array, ``a_g + a_h`` units (a BLAS
    multiply-add each), with exact ``a = min(N, 4 nnz / N)`` (its dense ``C A``, or its CSR rows
    where sparser: :data:`fastgnn.gntk.compiled_tile.DENSE_RATIO`'s 4 units per non-zero) and sketched
    ``a = 2 b + 2 b² / N`` (its S and P, and the ``[b, b]`` cores), or ``a = N`` for a graph
    of N <= b nodes (aggregated exactly, dense).  Besides, each ReLU layer costs :data:`RELU_PAIR_COST`
    units per node pair in both.  Summed over the Gram each side's cost is its node-weighted mean,
    so this is O(n).  Checked against ``benchmarks/sketch_speed.py`` (COLLAB-sized set, MUTAG,
    PROTEINS, IMDB-BINARY): right to about 1.5x on large dense graphs; on small sparse ones it
    overstates the sketched kernel's cost (there both are dominated by the ReLU maps), on the side
    of warning.  It compares with the exact kernel on nodes: its colour classes (``compress``) can
    make the exact kernel faster still.
    """
    n = np.asarray(num_nodes, dtype=np.float64)
    if not (n > b).any():
        return 1.0  # nothing is sketched: the exact kernel
    nnz = n * n if entries is None else np.asarray(entries, dtype=np.float64)
    w = n / n.sum()
    a_exact = float(w @ np.minimum(n, 4.0 * nnz / n))
    a_sketch = float(w @ np.where(n > b, 2.0 * b + 2.0 * b * b / n, n))
    aggregations = 2 * num_blocks - 1  # Σ once, then Σ and Θ between blocks
    relu = RELU_PAIR_COST * num_blocks * num_mlp_layers
    return (2 * aggregations * a_sketch + relu) / (2 * aggregations * a_exact + relu)


#: One ReLU layer's cost per node pair on the compiled tile, in aggregation multiply-adds (measured on
#: COLLAB-sized tiles, as in :func:`fastgnn.gntk.compiled_tile._left_costs`: six layers cost about 300).
RELU_PAIR_COST = 50.0
#: ``GNTK(sketch_size=b)`` warns when :func:`sketch_cost_ratio` is at least this.
SKETCH_PAYS_BELOW = 0.9


def reserved_bytes(rows: Sequence[Operand], cols: Sequence[Operand] | None, num_blocks: int, *,
                   readouts: bool = True) -> int:
    """Memory of the engine outside the tiles: the output readouts, the stacked operands and
    a fixed 16 MiB (what a first run touches besides: library code, the plan, the Python objects).

    The output is ``[num_blocks + 1, n_rows, n_cols]`` float64 (not counted with ``readouts=False``:
    it lives outside the budget, e.g. a memory map on disk).  Every chunk's
    stack stays cached for the run: its features, and its sparse aggregation
    factors at most 16 bytes (value and column index) per entry of the
    operands' dense factors; where the compiled tile of :mod:`fastgnn.gntk.compiled_tile`
    runs (:func:`fastgnn.gntk.compiled_tile.tile_usable`: CPU, numba) instead: exact, the
    CSR's non-zeros (16 bytes each: the sparse layout, never the padded one), and the dense
    ``C A`` blocks and the features as CSR (at most 16 bytes per entry) that only it reads;
    sketched, the dense S_g and P_g (no CSR) and the features as CSR.
    """
    n_cols = len(rows) if cols is None else len(cols)
    out = 8 * (num_blocks + 1) * len(rows) * n_cols if readouts else 0

    def stacks(ops):
        total = 0
        for op in ops:
            total += op.x.numel() * op.x.element_size()
            factors = [op.a] if op.sketch is None else [op.sketch, op.sketched_a]
            compiled = compiled_tile_runs(op, sketched=op.sketch is not None)
            if op.sketch is not None and compiled:  # dense blocks, as the stack keeps them
                total += sum(f.numel() * f.element_size() for f in factors) + 16 * int(torch.count_nonzero(op.x))
            elif compiled:  # the sparse layout only: the CSR's non-zeros (value, column) and row pointers
                total += 16 * int(torch.count_nonzero(op.a)) + 8 * (op.num_rows + 1)
            else:
                total += sum(2 * f.numel() * 8 for f in factors)
            if op.sketch is None and compiled:
                total += op.a.numel() * op.a.element_size() + compiled_csr_bytes(op)
            total += sum(d.numel() * d.element_size() for d in op.diags)
        return total

    return int(_FIXED_OVERHEAD + out + stacks(rows) + (0 if cols is None else stacks(cols)))


def compiled_csr_bytes(op: Operand) -> int:
    """Bytes of the CSRs only the compiled tile keeps for a graph: its features X and its aggregated
    features (C A) X (:meth:`fastgnn.gntk.tiles.Stack.ax_csr`), 16 bytes (value, column) per entry.

    nnz(X) is counted; nnz((C A) X) is bounded by ``min(N d, nnz(C A) · k)``, k the most
    non-zeros in a row of X (one-hot labels: k = 1, so at most nnz(C A)).
    """
    nnz_row = torch.count_nonzero(op.x, dim=1) if op.x.numel() else torch.zeros(1)
    nnz_x = int(nnz_row.sum())
    k = int(nnz_row.max())
    nnz_y = min(op.x.numel(), int(torch.count_nonzero(op.a)) * k)
    return 16 * (nnz_x + nnz_y)


# --------------------------------------------------------------------------- plan


def plan_chunks(sizes: Sequence[int], limit: int) -> list[np.ndarray]:
    """Split items into chunks whose sizes sum to at most ``limit``, in order of size.

    ``sizes`` may be in any unit: nodes per graph for the tiles of
    :func:`plan_tiles` (``limit`` is then the tile's stacked nodes per side), or
    N² entries for the kernel-time stage's preparation
    (:func:`fastgnn.reproduce.kernel_time._prepare`).  Graphs of similar size
    share a chunk, so the padded dense layout of :mod:`fastgnn.gntk.tiles`
    wastes little.  An item larger than ``limit`` gets a chunk of its own.
    Deterministic: a stable sort of ``sizes``; O(n log n) for n items.

    Returns:
        the chunks, each an int array of indices into ``sizes``, smallest items first.
    """
    chunks, current, total = [], [], 0
    for i in np.argsort(np.asarray(sizes), kind="stable"):
        n = sizes[i]
        if current and total + n > limit:
            chunks.append(np.array(current))
            current, total = [], 0
        current.append(int(i))
        total += n
    if current:
        chunks.append(np.array(current))
    return chunks


@dataclass
class TilePlan:
    """The tiles of one Gram: chunks of graphs (in order of size) on each side, and the (I, J) pairs.

    ``tiles`` is the work list, in the order the loop runs it; a symmetric plan
    has only I <= J (the rest is mirrored).
    """

    row_chunks: list[np.ndarray]
    col_chunks: list[np.ndarray]
    symmetric: bool
    tile_nodes: int
    tiles: list[tuple[int, int]] = field(default_factory=list)
    row_nodes: list[int] = field(default_factory=list)
    col_nodes: list[int] = field(default_factory=list)

    def pairs(self, tile: tuple[int, int]) -> int:
        """Node pairs of a tile (the unit of the progress bar)."""
        return self.row_nodes[tile[0]] * self.col_nodes[tile[1]]

    def name(self, tile: tuple[int, int]) -> str:
        """``r{first}-{last}_c{first}-{last}``: first and last graph of each chunk (unique: a graph is in one chunk)."""
        ri, cj = self.row_chunks[tile[0]], self.col_chunks[tile[1]]
        return f"r{ri[0]:06d}-{ri[-1]:06d}_c{cj[0]:06d}-{cj[-1]:06d}"


def plan_tiles(rows: Sequence[Operand], cols: Sequence[Operand] | None, tile_nodes: int) -> TilePlan:
    """The tile plan of ``rows`` × ``cols`` (``cols=None``: the symmetric Gram of ``rows``)."""
    symmetric = cols is None
    row_chunks = plan_chunks([op.num_rows for op in rows], tile_nodes)
    col_chunks = row_chunks if symmetric else plan_chunks([op.num_rows for op in cols], tile_nodes)
    cols = rows if symmetric else cols
    tiles = [(i, j) for i in range(len(row_chunks)) for j in range(len(col_chunks)) if not symmetric or i <= j]
    return TilePlan(
        row_chunks=row_chunks,
        col_chunks=col_chunks,
        symmetric=symmetric,
        tile_nodes=int(tile_nodes),
        tiles=tiles,
        row_nodes=[sum(rows[t].num_rows for t in c) for c in row_chunks],
        col_nodes=[sum(cols[t].num_rows for t in c) for c in col_chunks],
    )
