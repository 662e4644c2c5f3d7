"""The colour-pair recursion by blocks of rows, within a memory budget: the compiled path of
:mod:`fastgnn.gntk.colour_pairs` (numba kernels in :mod:`fastgnn.gntk._colour_kernels`).

With ``C_l`` colours at depth l and the count matrices ``M_l`` (``C_l × C_{l−1}``, a handful of
non-zeros per row), depth l needs ``Σ_l = M_l Σ̃_{l−1} M_lᵀ`` and the same for Θ, then R ReLU
steps elementwise, then the readout ``H_l Θ̃_l H_lᵀ``.

**Held and blocked depths** (:func:`plan_held`).  The depths ``0..W`` whose dense ``C_l × C_l``
matrices fit half the budget are *held* whole, one after the other.  Each deeper depth
``l = W+1..T`` runs by blocks of rows I of its upper triangle (rows I against columns from
``min I`` on), never held whole: Σ̃_l[I, :] needs only the rows ``S(I)`` of Σ̃_{l−1} that M_l[I]
touches (its *support*), which are held (l − 1 = W) or are recomputed the same way from the rows
of their own support one depth down, full width (l − 1 > W).  The diagonal of each blocked depth,
which the ReLU steps normalise by, is gathered while the depth below it is computed
(:func:`~fastgnn.gntk._colour_kernels.accumulate_diag`: ``diag(M S Mᵀ)`` from S's upper triangle),
so every depth is computed once in its own pass, plus the recomputed support rows.  Blocked depths
below the top are renumbered so that colours with the same smallest parent colour are neighbours:
a block's support is then 1.5-2x its rows instead of 3x (NCI1, depth 4, 2,000-row blocks).

Cost: the held depths as in :mod:`fastgnn.gntk.colour_pairs`; a blocked depth l costs
``C_l²/2`` pairs of R ReLU steps, plus ``Σ_I |S(I)| C_{l−1}`` recomputed pairs (and so on down to
W), counted by :func:`recomputed_pairs`.  Memory: the held depth's Σ̃ and Θ̃ (``2 C_W²``), one
block with its support rows, and the ``n × n`` readouts (each accumulated in place, half of it, then
added to its transpose).  :func:`blocked_gram` sums the readouts straight into one ``n × n`` array
outside the budget (a memory map): what a dataset whose per-depth readouts do not fit needs
(ogbg-molhiv: 13.5 GB per ``n × n``).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from fastgnn.gntk.colour_resume import ColourCheckpoint, colours_fingerprint
from fastgnn.gntk.relu import ntk_step

__all__ = ["plan_held", "held_bytes", "block_bytes", "recomputed_pairs", "blocked_readouts", "blocked_gram",
           "row_positions", "histogram_by_colour"]

#: A block right above the held depth takes at most 1/ROW_SHARE of the budget.
ROW_SHARE = 4
#: Fewest rows of a block (the blocks' count stays small: each costs some fixed work per depth).
MIN_BLOCK_ROWS = 64


def plan_held(sizes, num_blocks: int, itemsize: int, max_bytes: float, num_graphs: int, *,
              in_memory: bool = True) -> int:
    """W: the deepest depth below the top held whole.  ``num_blocks − 1`` where it fits ``max_bytes``
    with the readouts and a block of :data:`MIN_BLOCK_ROWS` rows of the top depth; else the deepest W
    whose held matrices take at most half of ``max_bytes``; 0 (the input covariance) at the least.
    ``in_memory`` False: the readouts live outside the budget (:func:`blocked_gram`)."""
    top = num_blocks
    if top == 0:
        return 0
    fixed = readout_bytes(num_blocks, num_graphs, in_memory=in_memory)
    blocks = 2 * itemsize * sizes[top - 1] ** 2 + block_bytes(sizes, top, top - 1, MIN_BLOCK_ROWS, itemsize, num_graphs)
    if max(held_bytes(sizes, top - 1, itemsize), blocks) + fixed <= max_bytes:
        return top - 1
    for w in range(top - 2, 0, -1):
        if held_bytes(sizes, w, itemsize) + fixed <= max_bytes / 2:
            return w
    return 0


def held_bytes(sizes, held: int, itemsize: int) -> int:
    """Peak bytes of holding depths ``0..held`` whole, one after the other: at depth l the previous
    Σ̃ and Θ̃, the gather ``M_l Σ̃`` and the new Σ and Θ (``2 C_{l−1}² + C_l C_{l−1} + 2 C_l²``)."""
    peak = sizes[0] ** 2
    for depth in range(1, held + 1):
        peak = max(peak, 2 * sizes[depth - 1] ** 2 + sizes[depth] * sizes[depth - 1] + 2 * sizes[depth] ** 2)
    return int(peak * itemsize)


def readout_bytes(num_blocks: int, num_graphs: int, *, in_memory: bool = True) -> int:
    """The readouts (``[num_blocks + 1, n, n]``) and a rectangle's mirrored ``n × n`` (a symmetric run
    accumulates straight into its readouts); 0 when they live outside the budget (``in_memory`` False)."""
    return int((num_blocks + 2) * num_graphs * num_graphs * 8) if in_memory else 0


def block_bytes(sizes, depth: int, held: int, rows: int, itemsize: int, num_graphs: int) -> int:
    """Bytes of one block of ``rows`` rows at ``depth``: its Σ̃ and Θ̃ rows (``2 C_l``), their gather
    (``C_{l−1}``) and readout product (``n``, float64), plus, for each blocked depth below it, support
    rows (taken as at most twice the rows above, and at most ``C``) and their own gathers.  Beside it
    the held depth's Σ̃ and Θ̃ (``2 C_W²``) are in memory."""
    total = rows * (itemsize * (2 * sizes[depth] + sizes[depth - 1]) + 8 * num_graphs)
    support = rows
    for below in range(depth - 1, held, -1):
        support = min(sizes[below], 2 * support)
        total += support * itemsize * (2 * sizes[below] + sizes[below - 1])
    return int(total)


def block_rows(sizes, depth: int, held: int, itemsize: int, num_graphs: int, max_bytes: float, *,
               in_memory: bool = True) -> int:
    """Rows per block at ``depth``: the most that fit a quarter of ``max_bytes`` (below the held depth),
    or half of what the readouts and the held matrices leave (deeper, with support rows), at most an
    eighth of the colours (one block would compute the whole square, eight compute 56 % of it),
    at least :data:`MIN_BLOCK_ROWS`."""
    c = sizes[depth]
    if held == depth - 1:  # no recursion: a quarter of the budget
        by_budget = max_bytes / ROW_SHARE // max(itemsize * (2 * c + sizes[depth - 1]) + 8 * num_graphs, 1)
    else:  # half of what the readouts and the held depth's Σ̃ and Θ̃ leave
        room = (max_bytes - readout_bytes(depth, num_graphs, in_memory=in_memory)
                - 2 * itemsize * sizes[held] ** 2) / 2
        lo, hi = 1, c
        while lo < hi:  # the most rows whose block fits
            mid = (lo + hi + 1) // 2
            if block_bytes(sizes, depth, held, mid, itemsize, num_graphs) <= room:
                lo = mid
            else:
                hi = mid - 1
        by_budget = lo
    return int(max(1, min(c, by_budget, max(MIN_BLOCK_ROWS, -(-c // 8)))))


def recomputed_pairs(counts, sizes, num_blocks: int, held: int, rows_at) -> float:
    """Entries of the support rows recomputed over every block of every blocked depth:
    ``Σ_l Σ_I Σ_k |S_k(I)| (C_{l−k} − p_k(I))``, p_k(I) the first column the rows need (``rows_of`` in
    :func:`_blocked_depths`), for row blocks of ``rows_at(depth)`` rows, after renumbering
    (:func:`renumbered_counts`).  O(nnz) per depth and level."""
    total = 0.0
    for depth in range(held + 2, num_blocks + 1):
        rows = rows_at(depth)
        for i0 in range(0, sizes[depth], rows):
            sel, col0 = np.arange(i0, min(sizes[depth], i0 + rows)), i0
            for below in range(depth - 1, held, -1):
                indptr, indices, _ = counts[below + 1]
                sel = np.unique(indices[row_positions(indptr, sel)])
                col0 = _first_parent(indptr, indices, col0)  # the support rows' first column
                total += sel.shape[0] * (sizes[below] - col0)
    return total


def renumbered_counts(colours, held: int, num_blocks: int):
    """``(counts, labels)``: the colours' ``M_l`` and labels, with the blocked depths ``held + 2 ..
    num_blocks`` (those whose blocks recompute support rows) renumbered so that a colour's rows
    neighbour those with the same smallest parent colour (a content-derived order, so the result does
    not depend on the graphs' order)."""
    counts, labels = list(colours.counts), list(colours.labels)
    for depth in range(held + 2, num_blocks + 1):
        indptr, indices, values = counts[depth]
        c = indptr.shape[0] - 1
        first = np.minimum.reduceat(indices, indptr[:-1]) if c else indices[:0]
        order = np.lexsort((np.arange(c), first))  # new colour i is old colour order[i]
        rank = np.empty(c, dtype=np.int64)
        rank[order] = np.arange(c)
        lengths = np.diff(indptr)[order]
        new_indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        take = row_positions(indptr, order)
        counts[depth] = (new_indptr, indices[take], values[take])
        labels[depth] = rank[labels[depth]]
        if depth + 1 < len(counts):
            up_indptr, up_indices, up_values = counts[depth + 1]
            counts[depth + 1] = (up_indptr, rank[up_indices], up_values)
    return counts, labels


def blocked_readouts(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float,
                     progress: bool = False, split: int | None = None, checkpoint_dir=None,
                     checkpoint_every: float = 60.0, out: np.ndarray | None = None) -> np.ndarray:
    """The readouts on colour pairs by the plan of the module docstring: ``[num_blocks + 1, n, n]`` (the
    graphs against themselves, ``split`` None, symmetric), or graphs ``split..n−1`` (rows) against
    ``0..split−1`` (columns).  ``colours``: a :class:`~fastgnn.gntk.colour_pairs.DatasetColours`.

    ``checkpoint_dir``: save the blocked depths' state there (:mod:`fastgnn.gntk.colour_resume`, at most
    every ``checkpoint_every`` seconds and after each depth) and resume from it: bitwise the
    uninterrupted result.  ``out``: a zero-filled float64 array of that shape to accumulate them in (a
    memory map, say), outside ``max_bytes``."""
    n = colours.num_graphs
    shape = (num_blocks + 1, n, n) if split is None else (num_blocks + 1, n - split, split)
    if out is not None and tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, the readouts {shape}")
    plan = _Plan(colours, num_blocks, dtype, max_bytes, in_memory=out is None)
    out = np.zeros(shape) if out is None else out
    if split is None:
        sink = _Readouts(out, plan.histograms(0, n))
    else:
        sink = _Rectangle(out, plan.histograms(split, n), plan.histograms(0, split))
    with _resumable(colours, num_blocks, num_mlp_layers, dtype, plan.key(split), checkpoint_dir,
                    checkpoint_every) as store:
        _recursion(plan, num_mlp_layers, progress, sink, store)
    return out


def blocked_gram(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float, into: np.ndarray,
                 depths, progress: bool = False, upper: bool = False, *, share: tuple[int, int] | None = None,
                 diagonals: list | None = None) -> np.ndarray:
    """``into += Σ_{l in depths} K_l``, the readouts of the depths ``depths`` summed straight into one square
    ``n × n`` array (float64, or float32 to sum in single precision; it lives outside ``max_bytes``, and
    nothing else ``n × n`` is allocated), and returns the diagonals ``[num_blocks + 1, n]`` of every K_l
    (the self-readouts).

    For Grams too large for the per-depth readouts (ogbg-molhiv: 41,127 graphs, 13.5 GB per ``n × n``):
    memory is the plan's (held depths, one block), disk one ``n × n``.  ``into`` must start at zero.

    ``upper``: sum into the upper triangle only (``into[i, j]``, i <= j, holds the Gram; the lower triangle
    is never written, so a fresh ``np.zeros`` array maps only its upper half's pages: ogbg-molhiv's float32
    Gram in 3.4 GB of RAM instead of 6.8; read it with :func:`~fastgnn.gntk.outofcore.write_by_bands`'s
    ``upper``).

    ``share``: ``(k, K)``, only share k of K of the work (:mod:`fastgnn.gntk.colour_shares`): the row blocks
    ``j ≡ k (mod K)`` of each blocked depth (and, for k = 0, the held depths), their readouts summed into
    ``into`` and the returned diagonals; the K shares' sums add up to the whole.  It needs ``diagonals``,
    every colour's d (:func:`~fastgnn.gntk.colour_rectangle.colour_diagonals`, in the colours' own
    numbering), which a share cannot gather from blocks it does not compute."""
    n = colours.num_graphs
    if share is not None and (diagonals is None or not 0 <= share[0] < share[1]):
        raise ValueError(f"share (k, K) needs 0 <= k < K and the colours' diagonals, got share={share}")
    plan = _Plan(colours, num_blocks, dtype, max_bytes, in_memory=False)
    sink = _Summed(into, set(depths), num_blocks, plan.histograms(0, n), upper)
    _recursion(plan, num_mlp_layers, progress, sink, None, share=share, diagonals=diagonals)
    return sink.diagonals


class _Plan:
    """What a blocked run fixes before computing: the held depth, the rows per block, the renumbered
    count matrices and labels (in the kernel's dtype)."""

    def __init__(self, colours, num_blocks, dtype, max_bytes, in_memory):
        self.colours, self.num_blocks, self.max_bytes = colours, num_blocks, max_bytes
        self.np_dtype = np.float64 if dtype == torch.float64 else np.float32
        self.itemsize = np.dtype(self.np_dtype).itemsize
        self.n = colours.num_graphs
        self.sizes = colours.sizes
        self.in_memory = in_memory
        self.held = plan_held(self.sizes, num_blocks, self.itemsize, max_bytes, self.n, in_memory=in_memory)
        self.counts, self.labels = renumbered_counts(colours, self.held, num_blocks)
        self.m = [None] + [(ip, ind, val.astype(self.np_dtype)) for ip, ind, val in self.counts[1:num_blocks + 1]]

    def rows(self, depth) -> int:
        return block_rows(self.sizes, depth, self.held, self.itemsize, self.n, self.max_bytes,
                          in_memory=self.in_memory)

    def renumbered(self, depth, values: np.ndarray) -> np.ndarray:
        """``values`` (one per colour of ``depth``, in the colours' own numbering) in the plan's order
        (:func:`renumbered_counts`)."""
        out = np.empty_like(values)
        out[self.labels[depth]] = values[self.colours.labels[depth]]
        return out

    def histograms(self, lo, hi) -> list:
        """H_l by columns for every depth, of the graphs ``lo..hi−1``."""
        return [histogram_by_colour(self.labels[d], self.colours.graph_of, self.n, lo, hi)
                for d in range(self.num_blocks + 1)]

    def key(self, split) -> dict:
        """The plan's part of a checkpoint's key (it fixes the summation order)."""
        return {"held": self.held, "rows": [self.rows(d) for d in range(self.held + 1, self.num_blocks + 1)],
                "split": split}


# ------------------------------------------------------------------ where the readouts go (sinks)
#
# A sink receives blocks T of a depth's Θ̃ (colour rows ``row0..``, columns ``col0..``) and adds
# H_r[:, rows] T H_c[:, cols]ᵀ to that depth's readout; ``mirrored``: the block lies strictly above
# the diagonal and stands for its transpose below it too.  Symmetric sinks keep the half form
# A_l = Σ (½ diagonal parts + upper parts), K_l = A_l + A_lᵀ (:func:`~._colour_kernels.symmetrize`).


class _Readouts:
    """Every depth's ``n × n`` readout, symmetric, in ``out[depth]`` (zeros at the start)."""

    def __init__(self, out, hist):
        self.out, self.hist = out, hist
        self.n = out.shape[-1]

    def add(self, ck, depth, t, row0, col0, mirrored):
        p = ck.histogram_product(t, col0, *self.hist[depth], self.n)
        ck.add_rows(self.out[depth], p, row0, *self.hist[depth], 1.0 if mirrored else 0.5)

    def end(self, ck, depth):
        ck.symmetrize(self.out[depth])

    def state(self, depth) -> dict:
        return {"out": self.out[:depth + 1]}

    def restore(self, saved, depth, within):
        upto = depth + 1 if within else depth
        self.out[:upto] = saved["out"][:upto]


class _Rectangle:
    """Rows ``H_r`` (new graphs) against columns ``H_c`` (fitted ones): ``out[depth]`` plus the mirrored
    blocks' ``H_c[:, I] T H_r[:, past]ᵀ``, kept apart and added transposed at the end of the depth."""

    def __init__(self, out, hist_r, hist_c):
        self.out, self.hist_r, self.hist_c = out, hist_r, hist_c
        self.n_r, self.n_c = out.shape[1:]
        self.mirror = np.zeros((self.n_c, self.n_r))

    def add(self, ck, depth, t, row0, col0, mirrored):
        ck.add_rows(self.out[depth], ck.histogram_product(t, col0, *self.hist_c[depth], self.n_c), row0,
                    *self.hist_r[depth], 1.0)
        if mirrored:
            ck.add_rows(self.mirror, ck.histogram_product(t, col0, *self.hist_r[depth], self.n_r), row0,
                        *self.hist_c[depth], 1.0)

    def end(self, ck, depth):
        self.out[depth] += self.mirror.T
        self.mirror[...] = 0.0

    def state(self, depth) -> dict:
        return {"out": self.out[:depth + 1], "mirror": self.mirror}

    def restore(self, saved, depth, within):
        upto = depth + 1 if within else depth
        self.out[:upto] = saved["out"][:upto]
        if within:
            self.mirror[...] = saved["mirror"]


class _Summed:
    """``into += Σ_{l in depths} K_l`` (half forms summed, symmetrised once at the end; or with ``upper``
    folded onto the upper triangle as they come, its diagonal doubled at the end), and every depth's
    diagonal."""

    def __init__(self, into, depths, num_blocks, hist, upper=False):
        self.into, self.depths, self.hist, self.upper = into, depths, hist, upper
        self.n = into.shape[0]
        self.num_blocks = num_blocks
        self.diagonals = np.zeros((num_blocks + 1, self.n))

    def add(self, ck, depth, t, row0, col0, mirrored):
        p = ck.histogram_product(t, col0, *self.hist[depth], self.n)
        weight = 1.0 if mirrored else 0.5
        ck.add_diagonal(self.diagonals[depth], p, row0, *self.hist[depth], weight)
        if depth in self.depths:
            (ck.add_rows_upper if self.upper else ck.add_rows)(self.into, p, row0, *self.hist[depth], weight)

    def end(self, ck, depth):
        self.diagonals[depth] *= 2.0
        if depth == self.num_blocks:
            if self.upper:
                self.into[np.arange(self.n), np.arange(self.n)] *= 2.0
            else:
                ck.symmetrize(self.into)


# ------------------------------------------------------------------ the recursion


@contextlib.contextmanager
def _resumable(colours, num_blocks, num_mlp_layers, dtype, plan_key, checkpoint_dir, every):
    """A :class:`~fastgnn.gntk.colour_resume.ColourCheckpoint` for this run (entered), or None."""
    if checkpoint_dir is None:
        yield None
        return
    key = {"colours": colours_fingerprint(colours, num_blocks), "num_blocks": num_blocks,
           "num_mlp_layers": num_mlp_layers, "dtype": str(dtype), "plan": plan_key}
    with ColourCheckpoint(checkpoint_dir, key, every) as store:
        yield store


def _recursion(plan, num_mlp_layers, progress, sink, store, share=None, diagonals=None):
    """The depths held whole, then the blocked ones by row blocks, each block's Θ̃ handed to ``sink``
    (resumed from ``store``'s state when it has one); with ``share`` (k, K) only the blocks of share k
    (:func:`blocked_gram`), the blocked depths' d from ``diagonals`` (in the colours' own numbering)."""
    from fastgnn.gntk import _colour_kernels as ck

    held, num_blocks, m = plan.held, plan.num_blocks, plan.m
    # P = T H_cᵀ of a held depth, by chunks of rows within a quarter of the budget
    chunk = max(1, int(plan.max_bytes // ROW_SHARE // max(8 * plan.n, 1)))

    def whole(t, depth):
        for r0 in range(0, t.shape[0], chunk):
            sink.add(ck, depth, t[r0:r0 + chunk], r0, 0, False)
        sink.end(ck, depth)

    x = plan.colours.features.astype(plan.np_dtype)
    s = np.ascontiguousarray(torch.from_numpy(x) @ torch.from_numpy(x).T)  # Σ_0 = X̃ X̃ᵀ, as torch multiplies
    saved = store.load() if store is not None else None
    reads_held = saved is None and (share is None or share[0] == 0)  # a resumed run has them in its state
    if reads_held:
        whole(s, 0)
    theta = None
    for depth in range(1, held + 1):
        s, theta = _whole_depth(s, theta, m[depth], num_mlp_layers)
        if reads_held:
            whole(theta, depth)
    if num_blocks == held:
        return
    # the ReLU keeps the diagonal, Σ'_cc = d_c², so the d of every step is the aggregated diagonal's
    diags = {held + 1: _sqrt(ck.diag_of_product(s, *m[held + 1]))}
    if diagonals is not None:  # every blocked depth's d given: in the plan's (renumbered) order
        diags.update({d: torch.from_numpy(np.ascontiguousarray(plan.renumbered(d, diagonals[d]), plan.np_dtype))
                      for d in range(held + 2, num_blocks + 1)})
    _blocked_depths(ck, plan, s, theta, diags, num_mlp_layers, progress, sink, store, saved, share)


def _blocked_depths(ck, plan, s, theta, diags, num_mlp_layers, progress, sink, store, saved, share=None):
    """The depths ``held + 1 .. num_blocks`` by row blocks, into ``sink`` (resumed from ``saved``)."""
    sizes, held, num_blocks, m, counts = plan.sizes, plan.held, plan.num_blocks, plan.m, plan.counts

    def rows_of(depth, sel, col0=0):
        """Σ̃, Θ̃ of the colours ``sel`` (sorted) at a blocked depth, against the columns ``col0..C−1``: gathered
        from the held matrices one depth down, or from the support rows there, recomputed against the columns
        ``p0..`` where p0 is colour col0's smallest parent: the depth is ordered by smallest parent
        (:func:`renumbered_counts`), so every parent of a colour from col0 on is at least p0 (a block near
        the end of the triangle recomputes short rows; each entry is the same sum, bitwise)."""
        indptr, indices, values = m[depth]
        pos = row_positions(indptr, sel)
        sub_indptr = np.concatenate([[0], np.cumsum(np.diff(indptr)[sel])]).astype(np.int64)
        src0 = 0
        if depth - 1 == held:
            ps, pt, local = s, theta, indices[pos]
        else:
            parents = np.unique(indices[pos])
            src0 = _first_parent(indptr, indices, col0) if col0 < indptr.shape[0] - 1 else 0
            ps, pt = rows_of(depth - 1, parents, src0)
            local = np.searchsorted(parents, indices[pos])
        sub = (sub_indptr, local, values[pos])
        sb = ck.gather_cols(ck.gather_rows(ps, *sub, 0, sel.shape[0]), *m[depth], col0, src0)
        tb = sb.copy() if pt is None else ck.gather_cols(ck.gather_rows(pt, *sub, 0, sel.shape[0]), *m[depth], col0,
                                                         src0)
        left, right = diags[depth][torch.from_numpy(sel)].contiguous(), diags[depth][col0:].contiguous()
        for _ in range(num_mlp_layers):
            ntk_step(torch.from_numpy(sb), torch.from_numpy(tb), left, right)
        return sb, tb

    start, start_row = held + 1, 0
    if saved is not None:
        start, start_row = int(saved["depth"]), int(saved["next_row"])
        sink.restore(saved, start, within=start_row > 0)
        diags.update({d: torch.from_numpy(saved[f"diag{d}"]) for d in range(held + 2, min(start, num_blocks) + 1)})

    def state(depth, next_row, nxt):
        """What a resumed run needs: the readouts done, and within a depth its partial sums."""
        st = {"depth": depth, "next_row": next_row, **{f"diag{d}": v.numpy() for d, v in diags.items()}}
        st.update(sink.state(depth if next_row else depth - 1))
        if next_row and nxt is not None:
            st["nxt"] = nxt
        return st

    for depth in range(start, num_blocks + 1):
        c = sizes[depth]
        rows = plan.rows(depth)
        nxt = np.zeros(sizes[depth + 1]) if depth < num_blocks and depth + 1 not in diags else None
        first = 0
        if saved is not None and depth == start and start_row > 0:
            first = start_row
            if nxt is not None:
                nxt[...] = saved["nxt"]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=c * (c + 1) // 2, desc=f"GNTK colour pairs (depth {depth}, {c} colours)",
                       unit="pair", unit_scale=True, initial=first * (2 * c - first + 1) // 2)
        for i0 in range(first, c, rows):
            i1 = min(c, i0 + rows)
            if share is not None and (i0 // rows) % share[1] != share[0]:
                continue
            sb, tb = rows_of(depth, np.arange(i0, i1), i0)  # the block's upper triangle
            sink.add(ck, depth, tb[:, : i1 - i0], i0, i0, False)
            if i1 < c:
                sink.add(ck, depth, tb[:, i1 - i0:], i0, i1, True)
            if nxt is not None:
                ck.accumulate_diag(sb, i0, i1, nxt, *counts[depth + 1][:2], counts[depth + 1][2])
            if bar is not None:
                bar.update((i1 - i0) * (2 * c - i0 - i1 + 1) // 2)
            if store is not None and i1 < c and store.due(False):
                store.save(state(depth, i1, nxt))
        if bar is not None:
            bar.close()
        sink.end(ck, depth)
        if nxt is not None:
            diags[depth + 1] = _sqrt(nxt.astype(plan.np_dtype))
        if store is not None:
            store.save(state(depth + 1, 0, None))
    # rows_of calls itself, so it is a reference cycle holding the held depth's Σ̃ and Θ̃ (C_W² each) until the
    # garbage collector runs: break it, or they stay resident through whatever the caller does next
    rows_of = None  # noqa: F841 (the cell rebound: the cycle is gone)


def _whole_depth(s, theta, m, num_mlp_layers):
    """One depth held whole: ``Σ = M S Mᵀ``, ``Θ = M Θ Mᵀ`` (Θ = Σ at the first aggregation, ``theta``
    None), then the R ReLU steps with the diagonal's d.  Returns the new ``(Σ, Θ)``."""
    from fastgnn.gntk import _colour_kernels as ck

    c = m[0].shape[0] - 1
    s_new = ck.gather_cols(ck.gather_rows(s, *m, 0, c), *m, 0)
    theta = s_new.copy() if theta is None else ck.gather_cols(ck.gather_rows(theta, *m, 0, c), *m, 0)
    for _ in range(num_mlp_layers):
        d = torch.sqrt(torch.clamp(torch.diagonal(torch.from_numpy(s_new)), min=0.0)).contiguous()
        ntk_step(torch.from_numpy(s_new), torch.from_numpy(theta), d, d)
    return s_new, theta


def _sqrt(diagonal: np.ndarray) -> torch.Tensor:
    return torch.sqrt(torch.clamp(torch.from_numpy(diagonal), min=0.0)).contiguous()


def _first_parent(indptr: np.ndarray, indices: np.ndarray, colour: int) -> int:
    """The smallest parent (column of M) of ``colour``: on a depth ordered by smallest parent
    (:func:`renumbered_counts`), the first column one depth down that rows from ``colour`` on read."""
    return int(indices[indptr[colour]:indptr[colour + 1]].min())


def row_positions(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The positions in a CSR's ``indices`` of the entries of ``rows``, row after row."""
    lengths = indptr[rows + 1] - indptr[rows]
    starts = np.repeat(indptr[rows] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return (starts + np.arange(int(lengths.sum()))).astype(np.int64)


def histogram_by_colour(label: np.ndarray, graph_of: np.ndarray, n: int, lo: int = 0, hi: int | None = None):
    """H_l by columns: ``(indptr [C_l + 1], graphs, counts float64)``, colour c's graphs in order; with
    ``lo``/``hi``, of the graphs ``lo..hi−1`` only, numbered from 0."""
    c = int(label.max()) + 1 if label.size else 0
    hi = n if hi is None else hi
    keep = (graph_of >= lo) & (graph_of < hi)
    uniq, cnt = np.unique(label[keep] * n + (graph_of[keep] - lo), return_counts=True)
    col, g = np.divmod(uniq, n)
    indptr = np.zeros(c + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=c), out=indptr[1:])
    return indptr, g.astype(np.int64), cnt.astype(np.float64)
