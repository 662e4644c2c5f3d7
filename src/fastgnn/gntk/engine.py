"""Batched engine: the whole Gram matrix as tiled tensor work (CPU or CUDA), the tile loop.

Per-pair loops spend their time in Python and in small matrix products.  The
engine instead runs *tiles* (a batch of graphs I against a batch J, see
:mod:`fastgnn.gntk.tiles`) planned under a memory budget by :mod:`fastgnn.gntk.plan`;
only tiles with I <= J are computed for a symmetric Gram.

**Executors.**  :func:`gram_readouts` is a plain loop over the list
``plan.tiles`` of :func:`~fastgnn.gntk.plan.plan_tiles`; each tile goes through one function,
:func:`compute_tile`, which depends only on the operands, the plan and the tile
(it calls :func:`fastgnn.gntk.tiles.tile_readouts`) and returns a NumPy block.
Another executor (Dask, a process pool, a job array) can therefore map
:func:`compute_tile` over ``plan.tiles`` unchanged and place the blocks with
:func:`place_tile`.  :func:`gram_readouts` takes such an executor (``executor=``,
same signature as :func:`run_in_process`, the default: it yields ``(tile, block)``
pairs in any order; :func:`fastgnn.executors.lookup` finds one by name) and an
``out=`` array to place the blocks in (a memory map for a Gram larger than RAM);
the checkpoints (:mod:`fastgnn.gntk.checkpoints`), the progress bar and the
placing stay in the loop, whatever runs the tiles.

**Memory.**  After each tile the loop gives the freed heap back to the OS
(:func:`release_freed_memory`), so the resident size stays near one tile's peak
(:data:`fastgnn.gntk.plan.LIVE_TILES`).  Cost: the tiles' (see :mod:`fastgnn.gntk.tiles`),
plus placing each block, O(block) per tile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from fastgnn.deprecation import moved
from fastgnn.gntk.checkpoints import FORMAT, Checkpoint, fingerprint
from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.plan import TilePlan, plan_tiles
from fastgnn.gntk.tiles import is_sketched, stack_operands, tile_readouts

__all__ = [
    "compute_tile",
    "gram_readouts",
    "place_tile",
    "release_freed_memory",
    "run_in_process",
]


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
        tile_nodes: most stacked nodes per side of a tile (see :func:`fastgnn.gntk.plan.plan_tile_nodes`).
        checkpoint_dir: save each finished tile under this folder, and load the
            tiles a previous run with the same inputs finished (see
            :mod:`fastgnn.gntk.checkpoints`).  ``None``: no checkpoint.
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
            tile_nodes = store.resumed_tile_nodes(tile_nodes)
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
            format=FORMAT, created=(store.previous or {}).get("created", time.strftime("%Y-%m-%dT%H:%M:%S")),
            symmetric=plan.symmetric, n_rows=len(rows), n_cols=n_cols, num_blocks=num_blocks,
            num_mlp_layers=num_mlp_layers, sketched=sketched, config=config or {}, tile_nodes=plan.tile_nodes,
            num_tiles=len(plan.tiles), complete=False,
        )
    counted = {t for t in plan.tiles if plan.name(t) in done}
    bar = _progress(sum(plan.pairs(t) for t in plan.tiles), desc, progress,
                    initial=sum(plan.pairs(t) for t in counted), unit=_pair_unit([*rows, *(cols or [])]))
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
    last = time.perf_counter()  # a tile's seconds: since the one before came (whose saving and placing they include)
    for k, (tile, block) in enumerate(run(rows, cols, plan, todo, tile_fn=tile_fn, num_blocks=num_blocks,
                                          num_mlp_layers=num_mlp_layers, sketched=sketched)):
        now = time.perf_counter()
        if store is not None:
            store.save(plan.name(tile), block, seconds=now - last)
        last = now
        if bar is not None:
            if tile not in counted:
                bar.update(plan.pairs(tile))
            bar.set_postfix_str(f"{len(plan.tiles) - len(todo) + k + 1}/{len(plan.tiles)} tiles", refresh=False)
        place_tile(out, plan, tile, block)
        release_freed_memory()
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


def release_freed_memory() -> None:
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


def _progress(total: int, desc: str, enabled: bool, initial: int = 0, unit: str = " node pairs"):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=True, leave=False)


def _pair_unit(ops) -> str:
    """What the progress bar counts: the operands' rows are nodes, colour classes (compressed), or both."""
    compressed = {op.colouring is not None for op in ops}
    return {frozenset({False}): " node pairs", frozenset({True}): " class pairs"}.get(frozenset(compressed),
                                                                                        " node/class pairs")


#: deprecated aliases (one release): the plan and cost model moved to :mod:`fastgnn.gntk.plan`, the
#: checkpoints to :mod:`fastgnn.gntk.checkpoints`, the memory budget to :mod:`fastgnn.budget`
#: (``TilePlan``, ``plan_tiles``, ``Checkpoint`` and ``fingerprint`` are used here, so they still
#: import from this module without a warning)
__getattr__ = moved(__name__, {
    **{name: f"fastgnn.gntk.plan:{name}" for name in (
        "LIVE_TILES", "COMPILED_MAX_TILE_NODES", "RELU_PAIR_COST", "SKETCH_PAYS_BELOW", "compiled_csr_bytes",
        "compiled_tile_nodes", "compiled_tile_runs", "plan_chunks", "plan_tile_nodes", "reserved_bytes",
        "sketch_cost_ratio", "tile_nodes_for_budget")},
    "_digest": "fastgnn.gntk.checkpoints:block_digest",
    "_FORMAT": "fastgnn.gntk.checkpoints:FORMAT",
    "_release_freed_memory": "fastgnn.gntk.engine:release_freed_memory",
    "default_max_memory": "fastgnn.budget:default_max_memory",
    "_available_ram": "fastgnn.budget:available_ram",
})
