"""Batched engine: the whole Gram matrix as tiled tensor work (CPU or CUDA).

Per-pair loops spend their time in Python and in small matrix products.  The
engine instead plans *tiles* (a batch of graphs I against a batch J, see
:mod:`fastgnn.gntk.tiles`) under a memory budget and runs them; only tiles with
I <= J are computed for a symmetric Gram.  The tile loop (:func:`gram_readouts`)
is separate from the tile computation (:func:`fastgnn.gntk.tiles.tile_readouts`),
so another executor can run the tiles unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.tiles import stack_operands, tile_readouts

__all__ = ["plan_chunks", "gram_readouts", "tile_nodes_for_budget"]


def plan_chunks(sizes: Sequence[int], tile_nodes: int) -> list[np.ndarray]:
    """Split graphs (in order) into chunks of at most ``tile_nodes`` stacked nodes.

    A graph larger than ``tile_nodes`` gets a chunk of its own.
    """
    chunks, current, total = [], [], 0
    for i, n in enumerate(sizes):
        if current and total + n > tile_nodes:
            chunks.append(np.array(current))
            current, total = [], 0
        current.append(i)
        total += n
    if current:
        chunks.append(np.array(current))
    return chunks


def tile_nodes_for_budget(max_memory_bytes: float, itemsize: int, live_tiles: int = 8) -> int:
    """Largest M with ``live_tiles`` ``[M, M]`` tensors inside the budget."""
    return max(64, int(math.sqrt(max_memory_bytes / (live_tiles * itemsize))))


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
) -> np.ndarray:
    """Readouts of every (row, col) graph pair: ``[num_blocks + 1, n_rows, n_cols]``.

    ``cols=None`` means the symmetric Gram of ``rows``: only tiles I <= J are
    computed and mirrored.
    """
    symmetric = cols is None
    cols = rows if symmetric else cols
    row_chunks = plan_chunks([op.num_nodes for op in rows], tile_nodes)
    col_chunks = row_chunks if symmetric else plan_chunks([op.num_nodes for op in cols], tile_nodes)
    tiles = [
        (i, j)
        for i in range(len(row_chunks))
        for j in range(len(col_chunks))
        if not symmetric or i <= j
    ]
    out = np.zeros((num_blocks + 1, len(rows), len(cols)))
    row_stacks: dict = {}
    col_stacks: dict = {}

    def get(cache, chunks, ops, k):
        if k not in cache:
            cache[k] = stack_operands([ops[t] for t in chunks[k]], sketched)
        return cache[k]

    row_nodes = [sum(rows[t].num_nodes for t in c) for c in row_chunks]
    col_nodes = [sum(cols[t].num_nodes for t in c) for c in col_chunks]
    total_pairs = sum(row_nodes[i] * col_nodes[j] for i, j in tiles)
    bar = _progress(total_pairs, desc, progress)
    for i, j in tiles:
        left = get(row_stacks, row_chunks, rows, i)
        right = get(col_stacks if not symmetric else row_stacks, col_chunks, cols, j)
        block = tile_readouts(left, right, num_blocks, num_mlp_layers).cpu().numpy()
        ri, cj = row_chunks[i], col_chunks[j]
        out[:, ri[:, None], cj[None, :]] = block
        if symmetric and i != j:
            out[:, cj[:, None], ri[None, :]] = block.transpose(0, 2, 1)
        if bar is not None:
            bar.update(row_nodes[i] * col_nodes[j])
    if bar is not None:
        bar.close()
    return out


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=" node pairs", unit_scale=True, leave=False)
