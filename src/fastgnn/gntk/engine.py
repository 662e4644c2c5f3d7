"""Batched engine: the whole Gram matrix as tiled tensor work (CPU or CUDA).

Per-pair loops spend their time in Python and in small matrix products.  The
engine instead takes a *tile*: a batch of graphs I against a batch J.  Their
node rows are stacked (M_I and M_J nodes), and the recursion of
:mod:`fastgnn.gntk.recursion` runs once on the whole ``[M_I, M_J]`` tile:

* Σ⁽⁰⁾ = X_I X_Jᵀ;
* Aggregate = ``B_I Σ B_Jᵀ`` with B = blockdiag(C_g A_g) as a sparse CSR matrix,
  O(nnz(B_I) M_J + M_I nnz(B_J)); sketched: ``P_I (S_I Σ S_Jᵀ) P_Jᵀ`` with
  S = blockdiag(S_g), P = blockdiag(C_g A_g S_gᵀ);
* the ReLU maps elementwise on the tile, O(M_I M_J), with each graph's self
  diagonals computed once (in :func:`fastgnn.gntk.pairwise.prepare`);
* the readout is a segment sum ``R_I Θ R_Jᵀ`` with R the ``[n, M]`` membership
  matrix, giving every graph pair of the tile at once.

Only tiles with I <= J are computed for a symmetric Gram.  The tile loop
(:func:`gram_readouts`) is separate from the tile computation
(:func:`tile_readouts`), so another executor can run the tiles unchanged.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.recursion import readouts

__all__ = ["Stack", "stack_operands", "tile_readouts", "plan_chunks", "gram_readouts"]


@dataclass
class Stack:
    """A batch of prepared graphs, stacked.

    Attributes:
        x: ``[M, d]`` node features of all graphs.
        factors: aggregation factors applied in order: ``[B]`` (exact, ``[M, M]`` CSR)
            or ``[S, P]`` (sketched: S ``[b_total, M]``, P ``[M, b_total]``, CSR).
        diags: per ReLU layer, ``[M]`` self standard deviations.
        membership: ``[n, M]`` CSR, row g has ones at graph g's nodes.
    """

    x: torch.Tensor
    factors: list
    diags: list
    membership: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_graphs(self) -> int:
        return int(self.membership.shape[0])


def stack_operands(ops: Sequence[Operand], sketched: bool) -> Stack:
    """Stack prepared graphs into block-diagonal form.  Cost O(Σ N_g²)."""
    x = torch.cat([op.x for op in ops])
    device, dtype = x.device, x.dtype
    sizes = [op.num_nodes for op in ops]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    if sketched:
        b_sizes = [op.sketch.shape[0] for op in ops]
        b_offsets = np.concatenate([[0], np.cumsum(b_sizes)])
        s = _block_diag_csr([op.sketch for op in ops], b_offsets, offsets)
        p = _block_diag_csr([op.sketched_a for op in ops], offsets, b_offsets)
        factors = [s, p]
    else:
        factors = [_block_diag_csr([op.a for op in ops], offsets, offsets)]
    diags = [torch.cat([op.diags[k] for op in ops]) for k in range(len(ops[0].diags))]
    membership = _block_diag_csr(
        [torch.ones(1, n, dtype=dtype, device=device) for n in sizes],
        np.arange(len(ops) + 1), offsets,
    )
    return Stack(x=x, factors=factors, diags=diags, membership=membership)


def tile_readouts(left: Stack, right: Stack, num_blocks: int, num_mlp_layers: int) -> torch.Tensor:
    """All readouts of one tile: ``[num_blocks + 1, n_left, n_right]``.

    Memory: about six ``[M_left, M_right]`` tensors.
    """

    def aggregate(sigma: torch.Tensor) -> torch.Tensor:
        for f_left, f_right in zip(left.factors, right.factors):
            # f_L Σ f_Rᵀ = (f_R (f_L Σ)ᵀ)ᵀ : two sparse-dense products.
            sigma = (f_right @ (f_left @ sigma).T.contiguous()).T.contiguous()
        return sigma

    def readout(theta: torch.Tensor) -> torch.Tensor:
        return (right.membership @ (left.membership @ theta).T.contiguous()).T

    out = readouts(
        left.x @ right.x.T, aggregate, left.diags, right.diags, num_blocks, num_mlp_layers, readout
    )
    return torch.stack(out)


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


def _block_diag_csr(blocks, row_offsets, col_offsets) -> torch.Tensor:
    """Sparse CSR block-diagonal matrix of dense ``blocks`` (zeros dropped)."""
    idx, vals = [], []
    for blk, r0, c0 in zip(blocks, row_offsets, col_offsets):
        nz = torch.nonzero(blk, as_tuple=False)
        vals.append(blk[nz[:, 0], nz[:, 1]])
        idx.append(nz.T + torch.tensor([[int(r0)], [int(c0)]], device=blk.device))
    shape = (int(row_offsets[-1]), int(col_offsets[-1]))
    coo = torch.sparse_coo_tensor(
        torch.cat(idx, 1), torch.cat(vals), shape, check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr()


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=" node pairs", unit_scale=True, leave=False)
