"""One tile of the batched GNTK: a batch of graphs I against a batch J.

Their node rows are stacked (M_I and M_J nodes) and the recursion of
:mod:`fastgnn.gntk.recursion` runs once on the whole ``[M_I, M_J]`` tile:

* Σ⁽⁰⁾ = X_I X_Jᵀ;
* Aggregate = ``B_I Σ B_Jᵀ`` with B = blockdiag(C_g A_g) as a sparse CSR matrix,
  O(nnz(B_I) M_J + M_I nnz(B_J)); sketched: ``P_I (S_I Σ S_Jᵀ) P_Jᵀ`` with
  S = blockdiag(S_g), P = blockdiag(C_g A_g S_gᵀ);
* the ReLU maps elementwise on the tile, O(M_I M_J), with each graph's self
  diagonals computed once (in :func:`fastgnn.gntk.pairwise.prepare`);
* the readout is a weighted segment sum ``R_I Θ R_Jᵀ`` with R the ``[n, M]``
  membership matrix holding each row's weight (its class size, 1 for a node),
  giving every graph pair of the tile at once.

A graph's rows are its colour classes or its nodes (see :mod:`fastgnn.gntk.pairwise`):
the aggregation blocks ``C Q`` are then not symmetric, which every product here
allows (left ``A_g Σ``, right ``Σ B_hᵀ``).

On a CPU with numba installed, a tile takes the compiled path instead
(:func:`fastgnn.gntk.compiled_tile.tile_readouts_fused`), exact or sketched: the same
recursion, but one left graph's rows at a time against a few hundred right
columns, in cache, so no ``[M_I, M_J]`` array is ever formed (the torch path
below makes ~40 passes over eight of them per tile).  The torch path remains
for CUDA and installations without numba.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk import compiled_tile
from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.recursion import readouts

__all__ = ["Stack", "stack_operands", "tile_readouts"]


@dataclass
class Stack:
    """A batch of prepared graphs, stacked.

    Two layouts.  *Sparse*: the graphs' nodes are stacked back to back (M = Σ N_g)
    and aggregation multiplies by a CSR block-diagonal matrix.  *Padded dense*
    (for dense graphs): every graph takes P = max N_g rows (M = n·P, the padding
    rows all zero, which the recursion keeps at zero), and aggregation is one
    batched dense product ``blocks @ Σ.view(n, P, ·)`` at BLAS speed.

    Attributes:
        x: ``[M, d]`` node features of all graphs.
        offsets: sparse layout: ``[n + 1]`` graph g's first row (and the total).
        dense_blocks / block_offsets: sparse exact layout, where the compiled tile runs
            (:func:`fastgnn.gntk.compiled_tile.tile_usable`): every graph's dense ``C A``,
            row-major, back to back from ``block_offsets[g]``; else ``None``.
        factors: aggregation factors applied in order: ``[B]`` (exact, ``[M, M]`` CSR)
            or ``[S, P]`` (sketched: S ``[b_total, M]``, P ``[M, b_total]``, CSR);
            ``[]`` in the padded dense layout, and for a sketched stack of the compiled tile.
        sketch_blocks: sketched sparse layout, where the compiled tile runs: ``(S, S offsets, P,
            P offsets, sketch-row offsets)`` as NumPy arrays: graph g's S_g ``[b_g, N_g]`` row-major
            at ``S[S_off[g]:]`` (none, ``S_off[g] == S_off[g + 1]``, where b_g = N_g: its sketch
            is the identity), its ``P_g = C_g A_g S_gᵀ`` ``[N_g, b_g]`` at ``P[P_off[g]:]``
            (``C_g A_g`` itself when unsketched), b_g = ``b_off[g + 1] - b_off[g]``; else ``None``.
        diags: per ReLU layer, ``[M]`` self standard deviations.
        membership: ``[n, M]`` CSR, row g holds graph g's row weights (class sizes) at its rows.
        weights: ``[M]`` the row weights (class sizes; 1 for a node, 0 for padding).
        blocks: ``[n, P, P]`` padded C·A blocks (padded dense layout), else ``None``.
    """

    x: torch.Tensor
    factors: list
    diags: list
    membership: torch.Tensor
    weights: torch.Tensor
    blocks: torch.Tensor | None = None
    offsets: np.ndarray | None = None
    dense_blocks: torch.Tensor | None = None
    block_offsets: np.ndarray | None = None
    sketch_blocks: tuple | None = None
    _csr: tuple | None = None
    _x_csr: tuple | None = None
    _ax_csr: tuple | None = None
    _feature_sums: np.ndarray | None = None

    def x_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, values)`` of the features ``x`` as CSR NumPy arrays, cached."""
        if self._x_csr is None:
            xs = self.x.to_sparse_csr()
            self._x_csr = (xs.crow_indices().numpy().astype(np.int64), xs.col_indices().numpy().astype(np.int64),
                           xs.values().contiguous().numpy())
        return self._x_csr

    def ax_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The aggregated features ``Y = B x`` (B = blockdiag(C_g A_g)) as CSR NumPy arrays, cached.

        ``B Σ⁽⁰⁾ B'ᵀ = Y Y'ᵀ``: the compiled tile starts from it (exact sparse layout only).
        O(nnz(B) d) to form; ``[M, d]`` dense transiently, only the CSR is kept.
        """
        if self._ax_csr is None:
            if self.blocks is not None or len(self.factors) != 1 or self.offsets is None:
                raise ValueError("ax_csr() needs the exact sparse layout")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                ys = (self.factors[0] @ self.x).to_sparse_csr()
            self._ax_csr = (ys.crow_indices().numpy().astype(np.int64), ys.col_indices().numpy().astype(np.int64),
                            ys.values().contiguous().numpy())
        return self._ax_csr

    def feature_sums(self) -> np.ndarray:
        """``[n, d]`` float64: row g is ``1ᵀ X_g``, the sum of graph g's feature rows (cached), so that
        Σ⁽⁰⁾'s readout of a graph pair is one dot product."""
        if self._feature_sums is None:
            self._feature_sums = (self.membership.to(torch.float64) @ self.x.to(torch.float64)).numpy()
        return self._feature_sums

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, values, offsets)`` of the exact sparse layout's aggregation, as NumPy
        arrays (int64, int64, the dtype, int64; ``offsets[g]``: graph g's first row), cached."""
        if self._csr is None:
            if self.blocks is not None or len(self.factors) != 1 or self.offsets is None:
                raise ValueError("csr() needs the exact sparse layout")
            b = self.factors[0]
            self._csr = (b.crow_indices().numpy().astype(np.int64), b.col_indices().numpy().astype(np.int64),
                         b.values().contiguous().numpy(), np.asarray(self.offsets, dtype=np.int64))
        return self._csr

    @property
    def num_factors(self) -> int:
        return 1 if self.blocks is not None else len(self.factors)

    def factor_rows(self, k: int) -> int:
        return self.num_nodes if self.blocks is not None else int(self.factors[k].shape[0])

    def apply(self, k: int, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out = F_k @ dense`` for this stack's k-th aggregation factor, without allocating."""
        if self.blocks is not None:
            n, p, _ = self.blocks.shape
            torch.bmm(self.blocks, dense.view(n, p, -1), out=out.view(n, p, -1))
            return out
        return _mm_into(self.factors[k], dense, out)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_graphs(self) -> int:
        return int(self.membership.shape[0])


#: The padded dense layout is used when the padded blocks hold at most this many
#: times the non-zeros of the sparse ones (dense products run ~10-40x faster per
#: flop than sparse ones here) and padding adds at most ``MAX_PADDING`` rows.
DENSE_FILL_RATIO = 4.0
MAX_PADDING = 1.25


def choose_layout(ops: Sequence[Operand], sketched: bool) -> str:
    """``"dense"`` (padded) or ``"sparse"``, by the cost model above.

    Always ``"sparse"`` where the compiled tile of :mod:`fastgnn.gntk.compiled_tile` will run
    (exact kernel, CPU float tensors, numba installed): it works graph by graph on
    the sparse layout's CSR and is faster than either torch layout.
    """
    if sketched or not ops or compiled_tile.tile_usable(ops[0].x, *ops[0].diags[:1]):
        return "sparse"
    sizes = [op.num_rows for op in ops]
    p = max(sizes)
    nnz = sum(int(torch.count_nonzero(op.a)) for op in ops)
    padded = len(ops) * p
    if len(ops) * p * p <= DENSE_FILL_RATIO * nnz and padded <= MAX_PADDING * sum(sizes):
        return "dense"
    return "sparse"


def stack_operands(ops: Sequence[Operand], sketched: bool, layout: str = "auto") -> Stack:
    """Stack prepared graphs (``layout``: ``"sparse"``, ``"dense"`` or ``"auto"``).  Cost O(Σ N_g²)."""
    if layout == "auto":
        layout = choose_layout(ops, sketched)
    if layout == "dense":
        if sketched:
            raise ValueError("the padded dense layout is for the exact kernel only")
        return _stack_padded(ops)
    if layout != "sparse":
        raise ValueError(f"layout must be 'auto', 'sparse' or 'dense', got {layout!r}")
    x = torch.cat([op.x for op in ops])
    sizes = [op.num_rows for op in ops]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    dense_blocks = block_offsets = sketch_blocks = None
    diags = [torch.cat([op.diags[k] for op in ops]) for k in range(len(ops[0].diags))]
    compiled = (compiled_tile.sketched_tile_usable if sketched else compiled_tile.tile_usable)(x, *diags[:1])
    if sketched and compiled:  # the compiled tile reads each graph's dense S_g and P_g
        factors = []
        sketch_blocks = _sketch_blocks(ops)
    elif sketched:
        b_sizes = [op.sketch.shape[0] for op in ops]
        b_offsets = np.concatenate([[0], np.cumsum(b_sizes)])
        s = _block_diag_csr([op.sketch for op in ops], b_offsets, offsets)
        p = _block_diag_csr([op.sketched_a for op in ops], offsets, b_offsets)
        factors = [s, p]
    else:
        factors = [_block_diag_csr([op.a for op in ops], offsets, offsets)]
    if not sketched and compiled:  # only the compiled tile reads them
        dense_blocks = torch.cat([op.a.reshape(-1) for op in ops])
        block_offsets = np.concatenate([[0], np.cumsum([n * n for n in sizes])]).astype(np.int64)
    weights = torch.cat([op.sizes for op in ops])
    membership = _block_diag_csr([op.sizes[None, :] for op in ops], np.arange(len(ops) + 1), offsets)
    return Stack(x=x, factors=factors, diags=diags, membership=membership, weights=weights, offsets=offsets,
                 dense_blocks=dense_blocks, block_offsets=block_offsets, sketch_blocks=sketch_blocks)


def is_sketched(op: Operand) -> bool:
    """Whether a graph's sketch is a real one (b < N), not the identity that
    :func:`fastgnn.gntk.aggregate.sketch_factors` gives a graph of N <= b nodes (False unsketched)."""
    return op.sketch is not None and int(op.sketch.shape[0]) < op.num_rows


def _sketch_blocks(ops: Sequence[Operand]) -> tuple:
    """The ``sketch_blocks`` of :class:`Stack`: every graph's dense S_g (real sketches only) and P_g,
    row-major, back to back, with their offsets and the sketch-row offsets (int64)."""
    real = [is_sketched(op) for op in ops]
    s_parts = [op.sketch.reshape(-1) for op, r in zip(ops, real) if r]
    ref = ops[0].sketched_a
    s = torch.cat(s_parts) if s_parts else ref.new_zeros(0)
    p = torch.cat([op.sketched_a.reshape(-1) for op in ops])

    def offsets(sizes):
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    s_off = offsets([op.sketch.numel() if r else 0 for op, r in zip(ops, real)])
    p_off = offsets([op.sketched_a.numel() for op in ops])
    b_off = offsets([op.sketch.shape[0] for op in ops])
    return (s.contiguous().numpy(), s_off, p.contiguous().numpy(), p_off, b_off)


def _stack_padded(ops: Sequence[Operand]) -> Stack:
    """The padded dense layout: each graph in P = max N_g rows, zeros in the padding."""
    n, p = len(ops), max(op.num_rows for op in ops)
    ref = ops[0].x
    x = torch.zeros(n * p, ref.shape[1], dtype=ref.dtype, device=ref.device)
    blocks = torch.zeros(n, p, p, dtype=ref.dtype, device=ref.device)
    diags = [torch.zeros(n * p, dtype=ref.dtype, device=ref.device) for _ in ops[0].diags]
    weights = torch.zeros(n * p, dtype=ref.dtype, device=ref.device)
    for g, op in enumerate(ops):
        k = op.num_rows
        rows = slice(g * p, g * p + k)
        x[rows] = op.x
        blocks[g, :k, :k] = op.a
        weights[rows] = op.sizes
        for d, dg in zip(diags, op.diags):
            d[rows] = dg
    membership = _block_diag_csr([weights.view(n, 1, p)[g] for g in range(n)], np.arange(n + 1),
                                 np.arange(n + 1) * p)
    return Stack(x=x, factors=[], diags=diags, membership=membership, weights=weights, blocks=blocks)


def tile_readouts(
    left: Stack, right: Stack, num_blocks: int, num_mlp_layers: int, upper: bool = False
) -> torch.Tensor:
    """All readouts of one tile: ``[num_blocks + 1, n_left, n_right]``.

    Two stacks in the sparse layout on the CPU (exact, or sketched with their
    ``sketch_blocks``) go through the compiled
    :func:`fastgnn.gntk.compiled_tile.tile_readouts_fused` (graph by graph, in cache; with
    ``upper``, a diagonal tile of a symmetric Gram, only the pairs on or above the
    diagonal are computed, then mirrored).  Everything else (CUDA, the padded dense
    layout, no numba) runs the torch tile below, ``upper`` ignored.

    Memory: eight ``[M_left, M_right]`` tensors at the peak: Σ, Θ, two ReLU
    scratch buffers, three aggregation buffers, and Σ⁽⁰⁾'s readout input (which
    becomes Σ).  Every one is allocated once per tile and reused: on a CPU a
    fresh large tensor costs page faults that take longer than the arithmetic.
    """
    sketched = left.sketch_blocks is not None
    usable = compiled_tile.sketched_tile_usable if sketched else compiled_tile.tile_usable
    compiled = left.offsets is not None and right.offsets is not None and (len(left.factors) == 1 or sketched)
    if compiled and usable(left.x, right.x, *left.diags[:1], *right.diags[:1]):
        return compiled_tile.tile_readouts_fused(left, right, num_blocks, num_mlp_layers, upper=upper)
    if left.sketch_blocks is not None or right.sketch_blocks is not None:
        raise ValueError("these stacks were made for the compiled sketched tile (no CSR factors), which cannot "
                         "run now (numba disabled or unavailable?); stack the operands again")
    buffers: dict = {}

    def buffer(key, shape, like: torch.Tensor) -> torch.Tensor:
        b = buffers.get(key)
        if b is None or b.shape != shape:
            b = buffers[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return b

    def aggregate(sigma: torch.Tensor) -> torch.Tensor:
        """f_L Σ f_Rᵀ = (f_R (f_L Σ)ᵀ)ᵀ for each factor pair, written back into ``sigma``."""
        cur = sigma
        for k in range(left.num_factors):
            a = left.apply(k, cur, buffer(("a", k), (left.factor_rows(k), cur.shape[1]), cur))
            t = buffer(("t", k), (a.shape[1], a.shape[0]), cur)
            t.copy_(a.T)
            b = right.apply(k, t, buffer(("b", k), (right.factor_rows(k), t.shape[1]), cur))
            last = k == left.num_factors - 1
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
    """Sparse CSR block-diagonal matrix of dense ``blocks`` (zeros dropped).

    One vectorised pass over the blocks' concatenated values (no call per block): the
    blocks' non-zeros, taken row-major block after block, are already in CSR order, so
    the row pointers are a cumulative count: no COO sort (``coalesce``).
    """
    shape = (int(row_offsets[-1]), int(col_offsets[-1]))
    device = blocks[0].device if len(blocks) else torch.device("cpu")
    rows_per = torch.tensor([b.shape[0] for b in blocks], dtype=torch.long)
    cols_per = torch.tensor([b.shape[1] for b in blocks], dtype=torch.long)
    flat = torch.cat([b.reshape(-1) for b in blocks]) if len(blocks) else torch.zeros(0)
    nz = torch.nonzero(flat, as_tuple=True)[0]
    sizes = rows_per * cols_per
    start = torch.cumsum(sizes, 0) - sizes
    block = torch.repeat_interleave(torch.arange(len(blocks)), sizes).to(flat.device)[nz]
    local = nz - start.to(flat.device)[block]
    width = cols_per.to(flat.device)[block]
    row = torch.as_tensor(np.asarray(row_offsets[:-1], dtype=np.int64), device=flat.device)[block] + local // width
    col = torch.as_tensor(np.asarray(col_offsets[:-1], dtype=np.int64), device=flat.device)[block] + local % width
    counts = torch.bincount(row, minlength=shape[0])
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=device)
    torch.cumsum(counts, 0, out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col.contiguous(), flat[nz], shape, check_invariants=False)
