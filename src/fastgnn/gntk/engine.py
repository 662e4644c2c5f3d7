"""Batched engine: the whole Gram matrix as tiled tensor work (CPU or CUDA).

Per-pair loops spend their time in Python and in small matrix products.  The
engine instead plans *tiles* (a batch of graphs I against a batch J, see
:mod:`fastgnn.gntk.tiles`) under a memory budget and runs them; only tiles with
I <= J are computed for a symmetric Gram.

**Executors.**  :func:`gram_readouts` is a plain loop over the list
``plan.tiles`` of :func:`plan_tiles`; each tile goes through one function,
:func:`compute_tile`, which depends only on the operands, the plan and the tile
(it calls :func:`fastgnn.gntk.tiles.tile_readouts`) and returns a NumPy block.
Another executor (Dask, a process pool, a job array) can therefore map
:func:`compute_tile` over ``plan.tiles`` unchanged and place the blocks with
:func:`place_tile`; a :class:`Checkpoint` can be shared between workers, since
each tile is one file written atomically.  :func:`gram_readouts` takes such an
executor (``executor=``, same signature as :func:`run_in_process`, the default:
it yields ``(tile, block)`` pairs in any order) and an ``out=`` array to place
the blocks in (a memory map for a Gram larger than RAM); the checkpoints, the
progress bar and the placing stay in the loop, whatever runs the tiles.

**Checkpoints.**  With ``checkpoint_dir`` every finished tile is saved as it
completes (``fastgnn.io.save_npy``: temporary file, then rename) in a folder
named by a :func:`fingerprint` of everything that determines the result (the
operands' tensors, the depth, the dtype and device, rows vs columns...).  A run
restarted with the same arguments loads the finished tiles and computes the
rest; the result is bitwise the same as an uninterrupted run's.  A tile file is
named by the graph ranges it holds and carries a digest of its contents: a
damaged file is detected and recomputed, never used.  The folder stays after
the run (a finished run is then read back, not recomputed); delete it to free
the space.

**Memory.**  :func:`plan_tile_nodes` sizes the tiles, after setting aside the
output readouts and the stacked operands (:func:`reserved_bytes`).  The torch
tile holds :data:`LIVE_TILES` ``[M_I, M_J]`` arrays at its peak
(:func:`tile_nodes_for_budget`); the compiled tile holds none, only the right
side's dense features and the tile's readouts (:func:`compiled_tile_nodes`), so
its tiles are as large as those allow, up to :data:`COMPILED_MAX_TILE_NODES`.
:func:`fastgnn.budget.default_max_memory` is the default budget.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fastgnn.deprecation import moved
from fastgnn.gntk import fused
from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.tiles import is_sketched, stack_operands, tile_readouts
from fastgnn.io import save_json, save_npy

__all__ = [
    "LIVE_TILES",
    "Checkpoint",
    "TilePlan",
    "compute_tile",
    "fingerprint",
    "gram_readouts",
    "place_tile",
    "plan_chunks",
    "plan_tiles",
    "run_in_process",
    "SKETCH_PAYS_BELOW",
    "sketch_cost_ratio",
    "compiled_tile_nodes",
    "compiled_tile_runs",
    "plan_tile_nodes",
    "reserved_bytes",
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
#: Hence 10.  ``tests/test_engine.py`` checks a child process's peak RSS against
#: the budget.
LIVE_TILES = 10

_MIN_TILE_NODES = 64
_FIXED_OVERHEAD = 16 * 2**20
_FORMAT = 2  # 2: operands' row weights (class sizes) in the fingerprint


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
                    itemsize: int, num_blocks: int, sketched: bool) -> int:
    """Nodes per side of the tiles of this Gram within ``max_memory_bytes``: the compiled tile's rule
    where it runs (:func:`fastgnn.gntk.fused.tile_usable`), else the torch tile's."""
    free = float(max_memory_bytes) - reserved_bytes(rows, cols, num_blocks)
    if compiled_tile_runs(rows[0], sketched):
        everything = list(rows) + ([] if cols is None else list(cols))
        mean_nodes = sum(o.num_rows for o in everything) / len(everything)
        return compiled_tile_nodes(free, itemsize, int(rows[0].x.shape[1]), num_blocks, mean_nodes)
    return tile_nodes_for_budget(free, itemsize)


def compiled_tile_runs(op: Operand, sketched: bool) -> bool:
    """Whether tiles of such operands run on the compiled tile of :mod:`fastgnn.gntk.fused` (the exact
    kernel, or the sketched one): :func:`fastgnn.gntk.fused.tile_usable` for the graph's features and
    self-diagonals (CPU, plain float tensors, numba installed; sketched:
    :func:`fastgnn.gntk.fused.sketched_tile_usable`); else on the torch tile."""
    usable = fused.sketched_tile_usable if sketched else fused.tile_usable
    return usable(op.x, *op.diags[:1])


def sketch_cost_ratio(num_nodes: Sequence[int], b: int, *, num_blocks: int, num_mlp_layers: int,
                      entries: Sequence[int] | None = None) -> float:
    """Predicted seconds of the sketched Gram over the exact one's (on nodes), on the compiled tile, for
    graphs of these node counts (and ``entries``: non-zeros of each graph's Ã, self-loops included;
    default dense) and sketch size b: the cost model behind ``GNTK(sketch_size=b)``'s warning.

    Per node pair (g, h) the tile does, per Aggregate of an array, ``a_g + a_h`` units (a BLAS
    multiply-add each), with exact ``a = min(N, 4 nnz / N)`` (its dense ``C A``, or its CSR rows
    where sparser: :data:`fastgnn.gntk.fused.DENSE_RATIO`'s 4 units per non-zero) and sketched
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
#: COLLAB-sized tiles, as in :func:`fastgnn.gntk.fused._left_costs`: six layers cost about 300).
RELU_PAIR_COST = 50.0
#: ``GNTK(sketch_size=b)`` warns when :func:`sketch_cost_ratio` is at least this.
SKETCH_PAYS_BELOW = 0.9


def reserved_bytes(rows: Sequence[Operand], cols: Sequence[Operand] | None, num_blocks: int) -> int:
    """Memory of the engine outside the tiles: the output readouts, the stacked operands and
    a fixed 16 MiB (what a first run touches besides: library code, the plan, the Python objects).

    The output is ``[num_blocks + 1, n_rows, n_cols]`` float64.  Every chunk's
    stack stays cached for the run: its features, and its sparse aggregation
    factors at most 16 bytes (value and column index) per entry of the
    operands' dense factors; where the compiled tile of :mod:`fastgnn.gntk.fused`
    runs (:func:`fastgnn.gntk.fused.tile_usable`: CPU, numba) instead: exact, the
    dense ``C A`` blocks besides and the features as CSR (at most 16 bytes per
    entry) that only it reads; sketched, the dense S_g and P_g (no CSR) and the
    features as CSR.
    """
    n_cols = len(rows) if cols is None else len(cols)
    out = 8 * (num_blocks + 1) * len(rows) * n_cols

    def stacks(ops):
        total = 0
        for op in ops:
            total += op.x.numel() * op.x.element_size()
            factors = [op.a] if op.sketch is None else [op.sketch, op.sketched_a]
            compiled = compiled_tile_runs(op, sketched=op.sketch is not None)
            if op.sketch is not None and compiled:  # dense blocks, as the stack keeps them
                total += sum(f.numel() * f.element_size() for f in factors) + 16 * int(torch.count_nonzero(op.x))
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


def plan_chunks(sizes: Sequence[int], tile_nodes: int) -> list[np.ndarray]:
    """Split graphs into chunks of at most ``tile_nodes`` stacked nodes, in order of size.

    Graphs of similar size share a chunk, so the padded dense layout of
    :mod:`fastgnn.gntk.tiles` wastes little.  A graph larger than ``tile_nodes``
    gets a chunk of its own.  Deterministic: a stable sort of ``sizes``.
    """
    chunks, current, total = [], [], 0
    for i in np.argsort(np.asarray(sizes), kind="stable"):
        n = sizes[i]
        if current and total + n > tile_nodes:
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


# --------------------------------------------------------------------------- one tile


def compute_tile(
    rows: Sequence[Operand],
    cols: Sequence[Operand] | None,
    plan: TilePlan,
    tile: tuple[int, int],
    *,
    num_blocks: int,
    num_mlp_layers: int,
    sketched: bool,
    stacks: dict | None = None,
) -> np.ndarray:
    """The readouts of one tile, ``[num_blocks + 1, |I|, |J|]`` on the CPU.

    A pure function of its arguments: any executor may call it for any tile, in
    any order.  ``stacks`` is an optional cache of stacked chunks (keyed by side
    and chunk) shared by the calls of one worker.
    """
    cols = rows if cols is None else cols
    stacks = {} if stacks is None else stacks
    i, j = tile
    side_j = "row" if plan.symmetric else "col"

    def get(side, ops, chunks, k):
        if (side, k) not in stacks:
            stacks[side, k] = stack_operands([ops[t] for t in chunks[k]], sketched)
        return stacks[side, k]

    left = get("row", rows, plan.row_chunks, i)
    right = get(side_j, cols, plan.col_chunks, j)
    upper = plan.symmetric and i == j  # a diagonal tile: the pairs on and above its diagonal suffice
    return tile_readouts(left, right, num_blocks, num_mlp_layers, upper=upper).cpu().numpy()


def place_tile(out: np.ndarray, plan: TilePlan, tile: tuple[int, int], block: np.ndarray) -> None:
    """Write a tile's block into the full readouts (and its mirror for a symmetric Gram)."""
    i, j = tile
    ri, cj = plan.row_chunks[i], plan.col_chunks[j]
    out[:, ri[:, None], cj[None, :]] = block
    if plan.symmetric and i != j:
        out[:, cj[:, None], ri[None, :]] = block.transpose(0, 2, 1)


# --------------------------------------------------------------------------- checkpoints


def fingerprint(
    rows: Sequence[Operand],
    cols: Sequence[Operand] | None,
    *,
    num_blocks: int,
    num_mlp_layers: int,
    sketched: bool,
    config: dict | None = None,
) -> str:
    """A hex digest of everything that determines the readouts.

    Every operand's tensors (features, aggregation matrix, sketch factors,
    self-diagonals: so the graphs, ``scale``, the sketch and its seed, and the
    dtype), their device type, the depth, rows vs columns (``cols=None``: the
    symmetric Gram), and ``config`` (any further settings, JSON-serialisable).
    The tile plan is not in it: tile files are named by their graph ranges.
    """
    h = hashlib.blake2b(digest_size=20)
    head = {
        "format": _FORMAT,
        "num_blocks": int(num_blocks),
        "num_mlp_layers": int(num_mlp_layers),
        "sketched": bool(sketched),
        "symmetric": cols is None,
        "n_rows": len(rows),
        "n_cols": None if cols is None else len(cols),
        "config": config or {},
    }
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for side in (rows, [] if cols is None else cols):
        h.update(b"|side|")
        for op in side:
            for t in (op.x, op.a, op.sizes, op.sketch, op.sketched_a, *op.diags):
                _hash_tensor(h, t)
    return h.hexdigest()


def _hash_tensor(h, t) -> None:
    if t is None:
        h.update(b"none;")
        return
    h.update(f"{tuple(t.shape)}{t.dtype}{t.device.type};".encode())
    h.update(np.ascontiguousarray(t.detach().cpu().numpy()).data)


def _digest(block: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{block.shape}{block.dtype.str}".encode())
    h.update(np.ascontiguousarray(block).data)
    return h.hexdigest()


class Checkpoint:
    """The folder of one run's finished tiles: ``{root}/{kind}-{fingerprint[:24]}/``.

    It holds ``manifest.json`` (the run: fingerprint, settings, plan, state) and
    one ``{tile name}.{digest}.npy`` per finished tile.  Files are written
    atomically; a tile whose file cannot be read, has the wrong shape or whose
    contents do not match its digest is reported (a warning), deleted and
    recomputed.
    """

    def __init__(self, root, key: str, *, symmetric: bool, manifest: dict | None = None):
        self.key = key
        self.folder = Path(root) / f"{'gram' if symmetric else 'cross'}-{key[:24]}"
        self.manifest_path = self.folder / "manifest.json"
        self.manifest = dict(manifest or {})
        self.manifest["fingerprint"] = key
        old = self.read_manifest()
        if old is not None and old.get("fingerprint") != key:
            raise RuntimeError(
                f"checkpoint {self.folder}: its manifest is for fingerprint {old.get('fingerprint')!r}, "
                f"not {key!r}; remove the folder or use another checkpoint_dir"
            )
        self.previous = old

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.exists():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"checkpoint {self.folder}: unreadable manifest.json ({exc})") from None

    def write_manifest(self, **updates) -> None:
        self.manifest.update(updates, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        save_json(self.manifest_path, self.manifest)

    def finished(self) -> set[str]:
        """Names of the tiles with a file (not yet verified)."""
        if not self.folder.is_dir():
            return set()
        return {p.name.split(".", 1)[0] for p in self.folder.glob("r*_c*.*.npy")}

    def load(self, name: str, shape: tuple) -> np.ndarray | None:
        """A finished tile's block, or None (absent, or damaged: then deleted, with a warning)."""
        for path in sorted(self.folder.glob(f"{name}.*.npy")):
            digest = path.name.split(".")[1]
            try:
                block = np.load(path, allow_pickle=False)
                ok = block.shape == tuple(shape) and _digest(block) == digest
                why = "wrong shape or contents"
            except Exception as exc:  # noqa: BLE001 (any unreadable file is recomputed)
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                return block
            warnings.warn(f"checkpoint tile {path} is damaged ({why}); recomputing it", RuntimeWarning,
                          stacklevel=3)
            path.unlink(missing_ok=True)
        return None

    def save(self, name: str, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block)
        save_npy(self.folder / f"{name}.{_digest(block)}.npy", block)


# --------------------------------------------------------------------------- the loop


def gram_readouts(
    rows: Sequence[Operand],
    cols: Sequence[Operand] | None,
    *,
    num_blocks: int,
    num_mlp_layers: int,
    sketched: bool,
    tile_nodes: int,
    progress: bool = False,
    desc: str = "GNTK",
    checkpoint_dir=None,
    config: dict | None = None,
    resume_plan: bool = False,
    tile_fn: Callable[..., np.ndarray] | None = None,
    executor: Callable[..., Iterator[tuple[tuple[int, int], np.ndarray]]] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Readouts of every (row, col) graph pair: ``[num_blocks + 1, n_rows, n_cols]``.

    ``cols=None`` means the symmetric Gram of ``rows``: only tiles I <= J are
    computed and mirrored.

    ``sketched`` with no graph's sketch more than the identity (every N <= b) runs the exact kernel's
    tiles: S = I and P = C A make it the same kernel, and the exact tile computes it faster.

    Args:
        tile_nodes: most stacked nodes per side of a tile (see :func:`tile_nodes_for_budget`).
        checkpoint_dir: save each finished tile under this folder, and load the
            tiles a previous run with the same inputs finished (see the module
            docstring).  ``None``: no checkpoint.
        config: further settings for the checkpoint's fingerprint and manifest.
        resume_plan: when a checkpoint of this computation exists, take its
            ``tile_nodes`` instead of the one given (for a budget that was
            chosen automatically and may differ between runs).
        tile_fn: computes one tile (default :func:`compute_tile`, same signature).
        executor: runs the tiles not yet finished and yields ``(tile, block)`` as they complete,
            in any order (default :func:`run_in_process`, same signature; e.g.
            :class:`fastgnn.distributed.DaskTiles`).
        out: a ``[num_blocks + 1, n_rows, n_cols]`` float array to place the blocks in and
            return (e.g. a ``.npy`` memory map); default a new array in memory.
    """
    tile_fn = compute_tile if tile_fn is None else tile_fn
    if sketched and not any(is_sketched(op) for op in (*rows, *(cols or ()))):
        sketched = False  # every sketch is the identity (N <= b): the same kernel, on the exact kernel's tile
    store = None
    if checkpoint_dir is not None:
        key = fingerprint(rows, cols, num_blocks=num_blocks, num_mlp_layers=num_mlp_layers,
                          sketched=sketched, config=config)
        store = Checkpoint(checkpoint_dir, key, symmetric=cols is None)
        if resume_plan and store.previous and store.previous.get("tile_nodes"):
            tile_nodes = int(store.previous["tile_nodes"])
    plan = plan_tiles(rows, cols, tile_nodes)
    n_cols = len(rows) if cols is None else len(cols)
    if out is None:
        out = np.zeros((num_blocks + 1, len(rows), n_cols))
    elif out.shape != (num_blocks + 1, len(rows), n_cols):
        raise ValueError(f"out has shape {out.shape}, the readouts need {(num_blocks + 1, len(rows), n_cols)}")
    done = set()
    if store is not None:
        done = store.finished() & {plan.name(t) for t in plan.tiles}
        store.write_manifest(
            format=_FORMAT, created=(store.previous or {}).get("created", time.strftime("%Y-%m-%dT%H:%M:%S")),
            symmetric=plan.symmetric, n_rows=len(rows), n_cols=n_cols, num_blocks=num_blocks,
            num_mlp_layers=num_mlp_layers, sketched=sketched, config=config or {}, tile_nodes=plan.tile_nodes,
            num_tiles=len(plan.tiles), complete=False,
        )
    counted = {t for t in plan.tiles if plan.name(t) in done}
    bar = _progress(sum(plan.pairs(t) for t in plan.tiles), desc, progress,
                    initial=sum(plan.pairs(t) for t in counted))
    todo = []
    for tile in plan.tiles:
        block = None
        if tile in counted:
            shape = (num_blocks + 1, len(plan.row_chunks[tile[0]]), len(plan.col_chunks[tile[1]]))
            block = store.load(plan.name(tile), shape)
        if block is None:
            todo.append(tile)
        else:
            place_tile(out, plan, tile, block)
    run = run_in_process if executor is None else executor
    for k, (tile, block) in enumerate(run(rows, cols, plan, todo, tile_fn=tile_fn, num_blocks=num_blocks,
                                          num_mlp_layers=num_mlp_layers, sketched=sketched)):
        if store is not None:
            store.save(plan.name(tile), block)
        if bar is not None:
            if tile not in counted:
                bar.update(plan.pairs(tile))
            bar.set_postfix_str(f"{len(plan.tiles) - len(todo) + k + 1}/{len(plan.tiles)} tiles", refresh=False)
        place_tile(out, plan, tile, block)
        _release_freed_memory()
    if store is not None:
        store.write_manifest(complete=True)
    if bar is not None:
        bar.close()
    return out


def run_in_process(rows, cols, plan: TilePlan, tiles: Sequence[tuple[int, int]], *,
                   tile_fn: Callable[..., np.ndarray], **kwargs) -> Iterator[tuple[tuple[int, int], np.ndarray]]:
    """The default executor of :func:`gram_readouts`: ``tiles`` one after another in this process,
    each ``(tile, tile_fn(rows, cols, plan, tile, **kwargs))``, the stacked chunks cached for the run."""
    stacks: dict = {}
    for tile in tiles:
        yield tile, tile_fn(rows, cols, plan, tile, stacks=stacks, **kwargs)


def _release_freed_memory() -> None:
    """Give the memory freed by a tile back to the OS (glibc ``malloc_trim``; elsewhere a no-op).

    A tile's ``[M_I, M_J]`` arrays below glibc's mmap threshold (up to 32 MB)
    come from the heap; freed, they stay resident, and the next tile's arrays of
    other shapes do not always fit in the holes, so without this the resident
    size grows over the tiles to well above one tile's peak.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            pass
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


def _progress(total: int, desc: str, enabled: bool, initial: int = 0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=" node pairs", unit_scale=True, leave=False)



#: deprecated aliases (one release): the memory budget's functions live in :mod:`fastgnn.budget`
__getattr__ = moved(__name__, {"default_max_memory": "fastgnn.budget:default_max_memory",
                               "_available_ram": "fastgnn.budget:available_ram"})
