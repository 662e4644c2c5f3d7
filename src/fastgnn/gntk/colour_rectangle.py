"""``transform`` on colour pairs: new graphs against fitted ones, a rectangle of colours, not the union's triangle.

When the colours are refined on the fitted graphs followed by the new ones (graphs ``split..n−1``), the
kernel ``K(new, fitted)`` needs Σ_l and Θ_l only between the colours the new graphs hold, ``R_l``, and
the colours the fitted graphs hold, ``F_l``.  Both sets are closed downwards (a colour's children, the
depth-(l−1) colours of its neighbours, lie in the same graph), so with ``M^R_l`` the rows ``R_l`` of
``M_l`` on the columns ``R_{l−1}`` and ``M^F_l`` the rows ``F_l`` on ``F_{l−1}``,

* ``Σ^{RF}_0 = X̃[R_0] X̃[F_0]ᵀ``, ``Σ^{RF}_l = M^R_l Σ̃^{RF}_{l−1} (M^F_l)ᵀ`` (the same for Θ),
* the R ReLU steps elementwise with the self standard deviations ``d_l[R_l]`` on the left and
  ``d_l[F_l]`` on the right, and
* the readout ``K_l(new, fitted) = H^R_l Θ̃^{RF}_l (H^F_l)ᵀ``.

The rectangle has no diagonal of its own, so the d's come from a pass of their own
(:func:`colour_diagonals`): Σ_l(c, c) needs Σ̃_{l−1} only on the pairs of c's children, those on the
pairs of their children, and so on down; the lower depths, where the colours are few, are held whole
(Σ alone).  On ogbg-molhiv that is a few million pairs against the rectangle's billions.  Every
colour's d is also that of any of its nodes, which each graph's own preparation computes
(:func:`diagonals_from_operands`, from :attr:`fastgnn.gntk.pairwise.Operand.diags`): the tests hold the
two against each other.  Cost: ``Σ_l |R_l| |F_l|`` colour pairs of R ReLU steps instead of the union's ``Σ_l C_l² / 2``:
ogbg-molhiv's 41,127 graphs against 2,000 landmark graphs hold 266,589 × 26,369 depth-3 colour pairs,
a quarter of the triangle, and no recomputed rows above the held depth go past the fitted columns.

Memory (within ``max_bytes``, :func:`rectangle_plan`): the depths ``0..W`` whose rectangles fit half the
budget are held whole; each deeper depth runs by blocks of rows, recomputing the support rows below a
block (all of ``F`` wide) down to W, as :mod:`fastgnn.gntk.colour_blocks` does on the triangle.  Rows at
every depth are ordered by their smallest parent, so a block's support stays narrow.  The readouts
``[num_blocks + 1, n − split, split]`` float64 (the result) come on top of the budget.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from fastgnn.gntk.colour_blocks import MIN_BLOCK_ROWS, ROW_SHARE, histogram_by_colour, row_positions
from fastgnn.gntk.colour_resume import ColourCheckpoint, colours_fingerprint
from fastgnn.gntk.relu import ntk_step
from fastgnn.io import digest

__all__ = ["RectangleColours", "rectangle_colours", "rectangle_plan", "rectangle_flops", "rectangle_bytes",
           "rectangle_readouts", "rectangle_pass", "rectangle_histograms", "colour_diagonals",
           "diagonals_from_operands"]


class RectangleColours:
    """The row and column colours of each depth and their count matrices, in local numbering.

    ``rows`` / ``cols``: the graph ranges ``(lo, hi)`` of the rows (the new graphs) and the columns (the
    fitted ones); they may overlap (a band of the Gram against itself and the graphs after it).

    Attributes:
        rows: per depth, ``[|R_l|]`` the global colours the new graphs hold, in row order (by smallest
            parent row, then colour).
        cols: per depth, ``[|F_l|]`` the global colours the fitted graphs hold, ascending.
        m_rows / m_cols: per depth l >= 1, ``M^R_l`` / ``M^F_l`` as CSR ``(indptr, indices, values)`` on the
            local numbering one depth down (``None`` at depth 0).
        row_labels / col_labels: per depth, ``[N]`` every node's local row / column colour (−1 where absent).
    """

    def __init__(self, colours, num_blocks: int, rows: tuple[int, int], cols: tuple[int, int]):
        self.num_blocks = num_blocks
        self.row_graphs, self.col_graphs = (int(rows[0]), int(rows[1])), (int(cols[0]), int(cols[1]))
        self.num_rows_graphs = self.row_graphs[1] - self.row_graphs[0]
        self.num_cols_graphs = self.col_graphs[1] - self.col_graphs[0]
        g = colours.graph_of
        in_cols = (g >= self.col_graphs[0]) & (g < self.col_graphs[1])
        in_rows = (g >= self.row_graphs[0]) & (g < self.row_graphs[1])
        self.rows, self.cols, self.m_rows, self.m_cols, self.row_labels, self.col_labels = [], [], [], [], [], []
        row_pos = col_pos = None  # global colour -> local row / column, one depth down
        for depth in range(num_blocks + 1):
            lab = colours.labels[depth]
            size = int(lab.max()) + 1 if lab.size else 0
            cols = np.unique(lab[in_cols])
            rows = np.unique(lab[in_rows])
            if depth == 0:
                self.m_rows.append(None)
                self.m_cols.append(None)
            else:
                m = colours.counts[depth]
                rows = rows[np.lexsort((rows, _smallest(_local_csr(m, rows, row_pos))))]
                self.m_rows.append(_local_csr(m, rows, row_pos))
                self.m_cols.append(_local_csr(m, cols, col_pos))
            row_pos, col_pos = _position(rows, size), _position(cols, size)
            self.rows.append(rows)
            self.cols.append(cols)
            self.row_labels.append(row_pos[lab])
            self.col_labels.append(col_pos[lab])

    @property
    def shape(self) -> list[tuple[int, int]]:
        """``(|R_l|, |F_l|)`` per depth."""
        return [(r.shape[0], c.shape[0]) for r, c in zip(self.rows, self.cols, strict=True)]


def rectangle_colours(colours, split: int, num_blocks: int) -> RectangleColours:
    """The rectangle's colours of ``colours`` (refined on fitted graphs ``0..split−1`` then new ones)."""
    if not 0 < split < colours.num_graphs:
        raise ValueError(f"split must leave fitted and new graphs, got {split} of {colours.num_graphs}")
    return RectangleColours(colours, num_blocks, rows=(split, colours.num_graphs), cols=(0, split))


def rectangle_plan(rect: RectangleColours, itemsize: int, max_bytes: float):
    """``(W, rows_at)``: the deepest depth held whole, and the rows per block of each deeper depth.

    W: the deepest depth whose held rectangles (at depth l the previous Σ̃ and Θ̃, the gather and the new
    Σ and Θ: ``2 r_{l−1} f_{l−1} + r_l f_{l−1} + 2 r_l f_l`` entries) fit half the budget (all of it for
    the top depth, when everything fits).  The readouts, the result, come on top of the budget.  Rows per
    block: a quarter of what the held depth leaves, per block with its support rows (taken as twice the
    rows above, at most ``r``), at least :data:`~fastgnn.gntk.colour_blocks.MIN_BLOCK_ROWS` (or a quarter of
    the rows, when fewer)."""
    shape = rect.shape
    top = rect.num_blocks
    w = next((depth for depth in range(top, 0, -1)
              if _held_bytes(shape, depth, itemsize) <= (max_bytes if depth == top else max_bytes / 2)), 0)
    room = max(max_bytes - 2 * itemsize * shape[w][0] * shape[w][1], 0) / ROW_SHARE

    def rows_at(depth):
        r = shape[depth][0]
        lo, hi = 1, r
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _block_bytes(rect, depth, w, mid, itemsize) <= room:
                lo = mid
            else:
                hi = mid - 1
        return int(max(1, min(r, max(lo, _fewest_rows(r)))))

    return w, rows_at


def rectangle_bytes(rect: RectangleColours, itemsize: int, max_bytes: float) -> int:
    """Bytes of colour-pair matrices :func:`rectangle_readouts` needs under ``max_bytes``: the held depths,
    or the held rectangle beside a block of the fewest rows (the readouts, ``8 (num_blocks + 1) (n − split)
    split`` bytes, come on top)."""
    w, _ = rectangle_plan(rect, itemsize, max_bytes)
    shape = rect.shape
    held = 2 * shape[w][0] * shape[w][1] * itemsize
    blocks = [held + _block_bytes(rect, d, w, _fewest_rows(shape[d][0]), itemsize)
              for d in range(w + 1, rect.num_blocks + 1)]
    return int(max([_held_bytes(shape, w, itemsize), *blocks]))


def _held_bytes(shape, w: int, itemsize: int) -> int:
    """Peak bytes of holding the rectangles of depths ``0..w`` one after the other."""
    peak = shape[0][0] * shape[0][1]
    for d in range(1, w + 1):
        (r0, f0), (r1, f1) = shape[d - 1], shape[d]
        peak = max(peak, 2 * r0 * f0 + r1 * f0 + 2 * r1 * f1)
    return peak * itemsize


def _block_bytes(rect: RectangleColours, depth: int, w: int, rows: int, itemsize: int) -> int:
    """One block of ``rows`` rows at ``depth``: its Σ̃, Θ̃ and gather, its readout product (``split``
    float64 per row), and the support rows below it down to ``w`` (twice the rows above, at most r)."""
    shape = rect.shape
    total, support = 8 * rows * rect.num_cols_graphs, rows
    for d in range(depth, w, -1):
        support = min(shape[d][0], support if d == depth else 2 * support)
        total += support * itemsize * (2 * shape[d][1] + shape[d - 1][1])
    return total


def _fewest_rows(r: int) -> int:
    return min(MIN_BLOCK_ROWS, -(-r // 4))


def rectangle_flops(rect: RectangleColours, num_mlp_layers: int, relu_cost: float, itemsize: int,
                    max_bytes: float) -> float:
    """Counted work of :func:`rectangle_readouts`: per depth the ``r_l f_l`` pairs' R ReLU steps, their
    gathers (``2 · nnz`` per entry) and readout, plus the support rows that blocked depths recompute
    (their entries, each the same work).  O(nnz) per depth and level."""
    w, rows_at = rectangle_plan(rect, itemsize, max_bytes)
    per_pair = num_mlp_layers * relu_cost + 16
    total = 0.0
    for depth in range(1, rect.num_blocks + 1):
        r, f = rect.shape[depth]
        total += r * f * (per_pair + 1)
    for depth in range(w + 2, rect.num_blocks + 1):
        rows = rows_at(depth)
        for i0 in range(0, rect.shape[depth][0], rows):
            sel = np.arange(i0, min(rect.shape[depth][0], i0 + rows))
            for below in range(depth - 1, w, -1):
                indptr, indices, _ = rect.m_rows[below + 1]
                sel = np.unique(indices[row_positions(indptr, sel)])
                total += sel.shape[0] * rect.shape[below][1] * per_pair
    return total


def colour_diagonals(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float) -> list:
    """Every colour's self standard deviation ``d_l = sqrt(Σ_l(c, c))`` (``[C_l]`` float64, depths
    1..num_blocks; None at depth 0), on colour pairs alone.

    Σ_l(c, c) = Σ_{a, b} M_l[c, a] M_l[c, b] Σ̃_{l−1}(a, b) reads Σ̃_{l−1} on the pairs of c's children; those
    read Σ̃_{l−2} on the pairs of their children, and so on.  The depths ``0..W`` whose ``C_l × C_l`` Σ fits
    a quarter of ``max_bytes`` (three such matrices at a time) are held whole; above W each depth is
    computed on its pair set only (``P_{l−1} = ∪_{(c, e) in P_l} ch(c) × ch(e)``, with every colour's own
    pair, whose d the ReLU needs), sorted keys, each entry a sum over its children's pairs found by
    binary search (:func:`~fastgnn.gntk._colour_kernels.pair_values_sparse`).  Cost: O(Σ_l |P_l| k²
    log |P_{l−1}|) for k children per colour, plus the held depths' O(nnz(M) C²)."""
    from fastgnn.gntk import _colour_kernels as ck
    from fastgnn.gntk.relu import relu_maps

    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    itemsize = np.dtype(np_dtype).itemsize
    sizes = colours.sizes
    top = num_blocks
    m = [None] + [(ip, ind, val.astype(np_dtype)) for ip, ind, val in colours.counts[1:top + 1]]
    held = max([w for w in range(top) if 3 * itemsize * sizes[w] ** 2 <= max_bytes / 4] or [0])
    # the pair sets, top down: P_{T−1} the pairs of each depth-T colour's children; below, their children's
    pairs = {}
    for depth in range(top - 1, held, -1):
        if depth == top - 1:
            above = np.arange(sizes[top], dtype=np.int64)
            parents = (above, above)
        else:
            parents = np.divmod(pairs[depth + 1], sizes[depth + 1])
        pairs[depth] = _children_pairs(m[depth + 1], *parents, sizes[depth])
    # bottom up: the held depths whole (Σ only), then the pair sets, then the top depth's own pairs
    x = colours.features.astype(np_dtype)
    s = torch.from_numpy(x) @ torch.from_numpy(x).T
    out = [None]
    for depth in range(1, held + 1):
        s = torch.from_numpy(ck.gather_cols(ck.gather_rows(s.numpy(), *m[depth], 0, sizes[depth]), *m[depth], 0))
        d = torch.sqrt(torch.clamp(torch.diagonal(s), min=0.0)).contiguous()
        out.append(d.double().numpy())
        for _ in range(num_mlp_layers):
            s, _ = relu_maps(s, d, d)
    below = s.numpy()  # Σ̃ one depth down: dense, or (keys, values) of a pair set
    for depth in range(held + 1, top + 1):
        if depth < top:
            left, right = np.divmod(pairs[depth], sizes[depth])
        else:
            left = right = np.arange(sizes[top], dtype=np.int64)
        if isinstance(below, tuple):
            values = ck.pair_values_sparse(left, right, *m[depth], *below, sizes[depth - 1])
        else:
            values = ck.pair_values_dense(left, right, *m[depth], np.ascontiguousarray(below))
        own = np.arange(sizes[depth], dtype=np.int64)
        at = own if depth == top else np.searchsorted(pairs[depth], own * sizes[depth] + own)
        d = np.sqrt(np.clip(values[at], 0.0, None))
        out.append(d.astype(np.float64))
        if depth < top:
            sig = torch.from_numpy(values).view(-1, 1, 1)
            dl, dr = torch.from_numpy(d[left]).view(-1, 1), torch.from_numpy(d[right]).view(-1, 1)
            for _ in range(num_mlp_layers):
                sig, _ = relu_maps(sig, dl, dr)
            below = (pairs[depth], np.ascontiguousarray(sig.reshape(-1).numpy()))
    return out


def _children_pairs(m, left: np.ndarray, right: np.ndarray, width: int, chunk: int = 1 << 22) -> np.ndarray:
    """The sorted keys ``a · width + b`` (a <= b) of every pair (a, b) with a a child of ``left[k]`` and b a
    child of ``right[k]`` in ``m``, and of every colour's own pair (a, a), a < width.  By chunks of about
    ``chunk`` terms (each made unique before the next)."""
    indptr, indices, _ = m
    own = np.arange(width, dtype=np.int64)
    found = [own * width + own]
    la, lb = indptr[left + 1] - indptr[left], indptr[right + 1] - indptr[right]
    cnt = la * lb
    ends = np.cumsum(cnt)
    k0 = 0
    while k0 < left.shape[0]:
        k1 = int(np.searchsorted(ends, (ends[k0 - 1] if k0 else 0) + chunk, side="right"))
        k1 = max(k1, k0 + 1)
        c = cnt[k0:k1]
        kk = np.repeat(np.arange(k0, k1), c)
        off = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        i, j = np.divmod(off, lb[kk])
        a, b = indices[indptr[left[kk]] + i], indices[indptr[right[kk]] + j]
        found.append(np.unique(np.minimum(a, b) * width + np.maximum(a, b)))
        k0 = k1
    return np.unique(np.concatenate(found))


def diagonals_from_operands(colours, ops, num_blocks: int, num_mlp_layers: int) -> list:
    """Every colour's self standard deviation ``d_l`` (``[C_l]``, depths 1..num_blocks; None at depth 0),
    read off one node of the colour in its graph's prepared operand (``ops[g].diags[(l − 1) R]``, on the
    graph's colour classes or nodes): the d of a node depends only on its computation tree, that is on
    its colour.  ``ops``: one :class:`~fastgnn.gntk.pairwise.Operand` per graph of ``colours``, in order.
    O(Σ_l C_l) plus a lookup per graph holding a colour's first node."""
    sizes = np.array([op.num_nodes for op in ops], dtype=np.int64)
    if sizes.sum() != colours.graph_of.shape[0] or len(ops) != colours.num_graphs:
        raise ValueError("ops must be the prepared operands of the coloured graphs, in order")
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = [None]
    for depth in range(1, num_blocks + 1):
        _, first = np.unique(colours.labels[depth], return_index=True)
        graph = colours.graph_of[first]
        local = first - offsets[graph]
        d = np.empty(first.shape[0])
        order = np.argsort(graph, kind="stable")
        bounds = np.flatnonzero(np.diff(graph[order])) + 1
        for idx in np.split(order, bounds):
            if not idx.size:
                continue
            op = ops[int(graph[idx[0]])]
            rows = local[idx] if op.colouring is None else op.colouring.labels[local[idx]]
            d[idx] = op.diags[(depth - 1) * num_mlp_layers][torch.from_numpy(rows)].double().cpu().numpy()
        out.append(d)
    return out


def rectangle_readouts(colours, split: int, diagonals: list, num_blocks: int, num_mlp_layers: int, dtype,
                       max_bytes: float, progress: bool = False, checkpoint_dir=None,
                       checkpoint_every: float = 60.0, out: np.ndarray | None = None) -> np.ndarray:
    """The readouts of graphs ``split..n−1`` (rows) against graphs ``0..split−1`` (columns),
    ``[num_blocks + 1, n − split, split]`` float64, on the rectangle of colour pairs (module docstring).

    ``diagonals``: every colour's d per depth (:func:`colour_diagonals`, or :func:`diagonals_from_operands`).
    ``checkpoint_dir``: save the blocked depths' state there and resume from it
    (:mod:`fastgnn.gntk.colour_resume`), bitwise.  ``out``: a zero-filled float64 array of that shape to
    accumulate in.  The readouts are outside ``max_bytes``.  The compiled path (numba)."""
    from fastgnn.gntk import _colour_kernels as ck

    rect = rectangle_colours(colours, split, num_blocks)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    itemsize = np.dtype(np_dtype).itemsize
    shape = (num_blocks + 1, colours.num_graphs - split, split)
    if out is not None and tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, the readouts {shape}")
    held, rows_at = rectangle_plan(rect, itemsize, max_bytes)
    out = np.zeros(shape) if out is None else out
    hist_r, hist_c = rectangle_histograms(colours, rect)

    def read_out(depth, t, row0):
        p = ck.histogram_product(t, 0, *hist_c[depth], split)
        ck.add_rows(out[depth], p, row0, *hist_r[depth], 1.0)

    key = {"rectangle": True, "colours": colours_fingerprint(colours, num_blocks), "num_blocks": num_blocks,
           "num_mlp_layers": num_mlp_layers, "dtype": str(dtype), "split": split, "held": held,
           "rows": [rows_at(d) for d in range(held + 1, num_blocks + 1)],
           "diagonals": digest(["diagonals"], *[np.asarray(d) for d in diagonals[1:]])}
    with _store(checkpoint_dir, key, checkpoint_every) as store:
        saved = store.load() if store is not None else None
        start = (int(saved["depth"]), int(saved["next_row"])) if saved is not None else (0, 0)
        if saved is not None:
            upto = start[0] + 1 if start[1] else start[0]
            out[:upto] = saved["out"][:upto]

        def save(depth, next_row, end_of_depth):
            if store is not None and (end_of_depth or store.due(False)):
                store.save({"depth": depth, "next_row": next_row, "out": out[:depth + (1 if next_row else 0)]})

        rectangle_pass(colours, rect, diagonals, num_mlp_layers, np_dtype, max_bytes, read_out,
                       progress=progress, start=start, save=save)
    return out


def rectangle_pass(colours, rect: RectangleColours, diagonals: list, num_mlp_layers: int, np_dtype,
                   max_bytes: float, read_out, *, progress: bool = False, start: tuple[int, int] = (0, 0),
                   save=None) -> None:
    """The recursion on the rectangle ``rect``, every depth's Θ̃ handed to ``read_out(depth, t, row0)`` by
    row blocks (``t``: rows ``row0..`` of the depth's rectangle, all its columns, ``np_dtype``) within
    ``max_bytes`` (:func:`rectangle_plan`).  ``start``: ``(depth, next_row)`` to resume at (the depths below
    ``depth``, and the rows before ``next_row``, already read out); ``save(depth, next_row, end_of_depth)``:
    called after each block (a checkpoint's hook).  The compiled path (numba)."""
    from fastgnn.gntk import _colour_kernels as ck

    num_blocks = rect.num_blocks
    itemsize = np.dtype(np_dtype).itemsize
    held, rows_at = rectangle_plan(rect, itemsize, max_bytes)
    m_r = [None] + [(ip, ind, val.astype(np_dtype)) for ip, ind, val in rect.m_rows[1:]]
    m_c = [None] + [(ip, ind, val.astype(np_dtype)) for ip, ind, val in rect.m_cols[1:]]
    d_r = [None] + [_in_dtype(diagonals[d][rect.rows[d]], np_dtype) for d in range(1, num_blocks + 1)]
    d_c = [None] + [_in_dtype(diagonals[d][rect.cols[d]], np_dtype) for d in range(1, num_blocks + 1)]
    chunk = max(1, int(max_bytes // ROW_SHARE // max(8 * rect.num_cols_graphs, 1)))
    start_depth, first_row = start

    def steps(sb, tb, left, right):
        for _ in range(num_mlp_layers):
            ntk_step(torch.from_numpy(sb), torch.from_numpy(tb), left, right)

    x = colours.features.astype(np_dtype)
    xr, xc = torch.from_numpy(np.ascontiguousarray(x[rect.rows[0]])), torch.from_numpy(np.ascontiguousarray(
        x[rect.cols[0]]))
    s = np.ascontiguousarray((xr @ xc.T).numpy())
    theta = None
    for depth in range(held + 1):
        if depth:
            ip, ind, val = m_r[depth]
            s_new = ck.gather_cols(ck.gather_rows(s, ip, ind, val, 0, ip.shape[0] - 1), *m_c[depth], 0)
            theta = s_new.copy() if theta is None else ck.gather_cols(
                ck.gather_rows(theta, ip, ind, val, 0, ip.shape[0] - 1), *m_c[depth], 0)
            s = s_new
            steps(s, theta, d_r[depth], d_c[depth])
        if depth >= start_depth:
            t = s if depth == 0 else theta
            for r0 in range(0, t.shape[0], chunk):
                read_out(depth, t[r0:r0 + chunk], r0)
            if save is not None:
                save(depth + 1, 0, True)

    def rows_of(depth, sel):
        """Σ̃, Θ̃ of the row colours ``sel`` (sorted positions) against every column colour."""
        indptr, indices, values = m_r[depth]
        pos = row_positions(indptr, sel)
        sub_indptr = np.concatenate([[0], np.cumsum(np.diff(indptr)[sel])]).astype(np.int64)
        if depth - 1 == held:
            ps, pt, local = s, theta, indices[pos]
        else:
            parents = np.unique(indices[pos])
            ps, pt = rows_of(depth - 1, parents)
            local = np.searchsorted(parents, indices[pos])
        sub = (sub_indptr, local, values[pos])
        sb = ck.gather_cols(ck.gather_rows(ps, *sub, 0, sel.shape[0]), *m_c[depth], 0)
        tb = sb.copy() if pt is None else ck.gather_cols(ck.gather_rows(pt, *sub, 0, sel.shape[0]), *m_c[depth], 0)
        steps(sb, tb, d_r[depth][torch.from_numpy(sel)].contiguous(), d_c[depth])
        return sb, tb

    for depth in range(max(held + 1, start_depth), num_blocks + 1):
        r, f = rect.shape[depth]
        rows = rows_at(depth)
        first = first_row if depth == start_depth else 0
        bar = _bar(progress, depth, r, f, first)
        for i0 in range(first, r, rows):
            i1 = min(r, i0 + rows)
            _, tb = rows_of(depth, np.arange(i0, i1))
            read_out(depth, tb, i0)
            if bar is not None:
                bar.update((i1 - i0) * f)
            if save is not None and i1 < r:
                save(depth, i1, False)
        if bar is not None:
            bar.close()
        if save is not None:
            save(depth + 1, 0, True)
    # rows_of calls itself, so it is a reference cycle holding the held rectangles until the garbage collector
    # runs: break it (8 bands of 5,000 molecules kept 0.5 GB each, 1.9 -> 5.8 GB resident, before this line)
    rows_of = None  # noqa: F841 (the cell rebound: the cycle is gone)


def rectangle_histograms(colours, rect: RectangleColours) -> tuple[list, list]:
    """H^R_l and H^F_l by columns for every depth: the row graphs' and the column graphs' colour counts, each
    side's graphs numbered from 0."""
    n = colours.num_graphs
    hist_r = [histogram_by_colour(rect.row_labels[d], colours.graph_of, n, *rect.row_graphs)
              for d in range(rect.num_blocks + 1)]
    hist_c = [histogram_by_colour(rect.col_labels[d], colours.graph_of, n, *rect.col_graphs)
              for d in range(rect.num_blocks + 1)]
    return hist_r, hist_c


@contextlib.contextmanager
def _store(checkpoint_dir, key, every):
    if checkpoint_dir is None:
        yield None
        return
    with ColourCheckpoint(checkpoint_dir, key, every) as store:
        yield store


def _bar(progress, depth, r, f, first):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=r * f, initial=first * f, desc=f"GNTK colour pairs (depth {depth}, {r} x {f} colours)",
                unit="pair", unit_scale=True)


def _in_dtype(d: np.ndarray, np_dtype) -> torch.Tensor:
    """The d's (standard deviations already) in the kernel's dtype, contiguous."""
    return torch.from_numpy(np.ascontiguousarray(d, dtype=np_dtype))


def _position(colours: np.ndarray, size: int) -> np.ndarray:
    """``[size]``: each global colour's position in ``colours`` (−1 where absent)."""
    pos = np.full(size, -1, dtype=np.int64)
    pos[colours] = np.arange(colours.shape[0])
    return pos


def _local_csr(m, rows: np.ndarray, position: np.ndarray):
    """Rows ``rows`` of the CSR ``m`` with their column indices renumbered by ``position`` (all present: the
    colour sets are closed downwards)."""
    indptr, indices, values = m
    pos = row_positions(indptr, rows)
    local = position[indices[pos]]
    if local.size and local.min() < 0:
        raise AssertionError("a colour's child is missing from the rectangle's colours one depth down")
    lengths = indptr[rows + 1] - indptr[rows]
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), local.astype(np.int64), values[pos]


def _smallest(m) -> np.ndarray:
    """Each row's smallest column index (rows with none: −1)."""
    indptr, indices, _ = m
    out = np.full(indptr.shape[0] - 1, -1, dtype=np.int64)
    has = np.diff(indptr) > 0
    if has.any():
        out[has] = np.minimum.reduceat(indices, indptr[:-1][has])
    return out
