"""One tile of the batched GNTK: a batch of graphs I against a batch J.

Their node rows are stacked (M_I and M_J nodes) and the recursion of
:mod:`fastgnn.gntk.recursion` runs once on the whole ``[M_I, M_J]`` tile:

* Σ⁽⁰⁾ = X_I X_Jᵀ;
* Aggregate = ``B_I Σ B_Jᵀ`` with B = blockdiag(C_g A_g) as a sparse CSR matrix,
  O(nnz(B_I) M_J + M_I nnz(B_J)); sketched: ``P_I (S_I Σ S_Jᵀ) P_Jᵀ`` with
  S = blockdiag(S_g), P = blockdiag(C_g A_g S_gᵀ);
* the ReLU maps elementwise on the tile, O(M_I M_J), with each graph's self
  diagonals computed once (in :func:`fastgnn.gntk.pairwise.prepare`);
* the readout is a segment sum ``R_I Θ R_Jᵀ`` with R the ``[n, M]`` membership
  matrix, giving every graph pair of the tile at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.recursion import readouts

__all__ = ["Stack", "stack_operands", "tile_readouts"]


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

    Memory: eight ``[M_left, M_right]`` tensors at the peak: Σ, Θ, two ReLU
    scratch buffers, three aggregation buffers, and Σ⁽⁰⁾'s readout input (which
    becomes Σ).  Every one is allocated once per tile and reused: on a CPU a
    fresh large tensor costs page faults that take longer than the arithmetic.
    """
    buffers: dict = {}

    def buffer(key, shape, like: torch.Tensor) -> torch.Tensor:
        b = buffers.get(key)
        if b is None or b.shape != shape:
            b = buffers[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return b

    def aggregate(sigma: torch.Tensor) -> torch.Tensor:
        """f_L Σ f_Rᵀ = (f_R (f_L Σ)ᵀ)ᵀ for each factor pair, written back into ``sigma``."""
        cur = sigma
        for k, (f_left, f_right) in enumerate(zip(left.factors, right.factors)):
            a = _mm_into(f_left, cur, buffer(("a", k), (f_left.shape[0], cur.shape[1]), cur))
            t = buffer(("t", k), (a.shape[1], a.shape[0]), cur)
            t.copy_(a.T)
            b = _mm_into(f_right, t, buffer(("b", k), (f_right.shape[0], t.shape[1]), cur))
            last = k == len(left.factors) - 1
            dst = sigma if last else buffer(("c", k), (b.shape[1], b.shape[0]), cur)
            dst.copy_(b.T)
            cur = dst
        return sigma

    def readout(theta: torch.Tensor) -> torch.Tensor:
        return (right.membership @ (left.membership @ theta).T.contiguous()).T

    out = readouts(
        left.x @ right.x.T, aggregate, left.diags, right.diags, num_blocks, num_mlp_layers, readout
    )
    return torch.stack(out)


def _mm_into(sparse: torch.Tensor, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = sparse @ dense`` without allocating (falls back to a copy where unsupported)."""
    try:
        return torch.mm(sparse, dense, out=out)
    except RuntimeError:
        out.copy_(sparse @ dense)
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
