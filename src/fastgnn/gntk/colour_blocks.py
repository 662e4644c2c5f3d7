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
block with its support rows, and the ``n × n`` readouts.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from fastgnn.gntk.colour_resume import ColourCheckpoint, colours_fingerprint
from fastgnn.gntk.relu import ntk_step

__all__ = ["plan_held", "held_bytes", "block_bytes", "recomputed_pairs", "blocked_readouts"]

#: A block right above the held depth takes at most 1/ROW_SHARE of the budget.
ROW_SHARE = 4
#: Fewest rows of a block (the blocks' count stays small: each costs some fixed work per depth).
MIN_BLOCK_ROWS = 64


def plan_held(sizes, num_blocks: int, itemsize: int, max_bytes: float, num_graphs: int) -> int:
    """W: the deepest depth below the top held whole.  ``num_blocks − 1`` where it fits ``max_bytes``
    with the readouts and a block of :data:`MIN_BLOCK_ROWS` rows of the top depth; else the deepest W
    whose held matrices take at most half of ``max_bytes``; 0 (the input covariance) at the least."""
    top = num_blocks
    if top == 0:
        return 0
    fixed = readout_bytes(num_blocks, num_graphs)
    if held_bytes(sizes, top - 1, itemsize) + fixed + block_bytes(sizes, top, top - 1, MIN_BLOCK_ROWS, itemsize,
                                                                   num_graphs) <= max_bytes:
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


def readout_bytes(num_blocks: int, num_graphs: int) -> int:
    """The readouts (``[num_blocks + 1, n, n]``) and the three ``n × n`` accumulators of a blocked depth."""
    return int((num_blocks + 4) * num_graphs * num_graphs * 8)


def block_bytes(sizes, depth: int, held: int, rows: int, itemsize: int, num_graphs: int) -> int:
    """Bytes of one block of ``rows`` rows at ``depth``: its Σ̃ and Θ̃ rows (``2 C_l``), their gather
    (``C_{l−1}``) and readout product (``n``, float64), plus, for each blocked depth below it, support
    rows (taken as at most twice the rows above, and at most ``C``) and their own gathers; the held
    depth's ``2 C_W²``."""
    total = rows * (itemsize * (2 * sizes[depth] + sizes[depth - 1]) + 8 * num_graphs)
    support = rows
    for below in range(depth - 1, held, -1):
        support = min(sizes[below], 2 * support)
        total += support * itemsize * (2 * sizes[below] + sizes[below - 1])
    return int(total + 2 * itemsize * sizes[held] ** 2)


def block_rows(sizes, depth: int, held: int, itemsize: int, num_graphs: int, max_bytes: float) -> int:
    """Rows per block at ``depth``: the most that fit a quarter of ``max_bytes`` (below the held depth),
    or half of what the readouts and the held matrices leave (deeper, with support rows), at most an
    eighth of the colours (one block would compute the whole square, eight compute 56 % of it),
    at least :data:`MIN_BLOCK_ROWS`."""
    c = sizes[depth]
    if held == depth - 1:  # no recursion: a quarter of the budget
        by_budget = max_bytes / ROW_SHARE // max(itemsize * (2 * c + sizes[depth - 1]) + 8 * num_graphs, 1)
    else:  # half of what the readouts and the held depth leave
        room = (max_bytes - readout_bytes(depth, num_graphs) - held_bytes(sizes, held, itemsize)) / 2
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
    """Entries of the support rows recomputed over every block of every blocked depth (full width):
    ``Σ_l Σ_I Σ_k |S_k(I)| C_{l−k}``, for row blocks of ``rows_at(depth)`` rows, after renumbering
    (:func:`renumbered_counts`).  O(nnz) per depth and level."""
    total = 0.0
    for depth in range(held + 2, num_blocks + 1):
        rows = rows_at(depth)
        for i0 in range(0, sizes[depth], rows):
            sel = np.arange(i0, min(sizes[depth], i0 + rows))
            for below in range(depth - 1, held, -1):
                indptr, indices, _ = counts[below + 1]
                sel = np.unique(indices[_row_positions(indptr, sel)])
                total += sel.shape[0] * sizes[below]
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
        take = _row_positions(indptr, order)
        counts[depth] = (new_indptr, indices[take], values[take])
        labels[depth] = rank[labels[depth]]
        if depth + 1 < len(counts):
            up_indptr, up_indices, up_values = counts[depth + 1]
            counts[depth + 1] = (up_indptr, rank[up_indices], up_values)
    return counts, labels


def blocked_readouts(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float,
                     progress: bool = False, split: int | None = None, checkpoint_dir=None,
                     checkpoint_every: float = 60.0) -> np.ndarray:
    """The readouts on colour pairs by the plan of the module docstring: ``[num_blocks + 1, n, n]`` (the
    graphs against themselves, ``split`` None, symmetrised), or graphs ``split..n−1`` (rows) against
    ``0..split−1`` (columns).  ``colours``: a :class:`~fastgnn.gntk.colour_pairs.DatasetColours`.

    ``checkpoint_dir``: save the blocked depths' state there (:mod:`fastgnn.gntk.colour_resume`, at most
    every ``checkpoint_every`` seconds and after each depth) and resume from it: bitwise the
    uninterrupted result."""
    from fastgnn.gntk import _colour_kernels as ck

    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    itemsize = np.dtype(np_dtype).itemsize
    n = colours.num_graphs
    sizes = colours.sizes
    held = plan_held(sizes, num_blocks, itemsize, max_bytes, n)
    counts, labels = renumbered_counts(colours, held, num_blocks)
    symmetric = split is None
    r_lo, c_hi = (0, n) if symmetric else (split, split)
    n_r, n_c = n - r_lo, c_hi
    out = np.empty((num_blocks + 1, n_r, n_c))
    x = colours.features.astype(np_dtype)
    s = np.ascontiguousarray(torch.from_numpy(x) @ torch.from_numpy(x).T)  # Σ_0 = X̃ X̃ᵀ, as torch multiplies
    h_r = [_histogram_by_colour(labels[d], colours.graph_of, n, r_lo, n) for d in range(num_blocks + 1)]
    h_c = h_r if symmetric else [_histogram_by_colour(labels[d], colours.graph_of, n, 0, c_hi)
                                 for d in range(num_blocks + 1)]
    m = [None] + [(ip, ind, val.astype(np_dtype)) for ip, ind, val in counts[1:num_blocks + 1]]

    def whole(t, depth):  # H_r T H_cᵀ of a whole C × C matrix
        k = np.zeros((n_r, n_c))
        ck.add_rows(k, ck.histogram_product(t, 0, *h_c[depth], n_c), 0, *h_r[depth])
        return 0.5 * (k + k.T) if symmetric else k

    out[0] = whole(s, 0)
    theta = None
    for depth in range(1, held + 1):
        s, theta = _whole_depth(s, theta, m[depth], num_mlp_layers)
        out[depth] = whole(theta, depth)
    if num_blocks == held:
        return out
    # the ReLU keeps the diagonal, Σ'_cc = d_c², so the d of every step is the aggregated diagonal's
    diags = {held + 1: _sqrt(ck.diag_of_product(s, *m[held + 1]))}
    plan = {"held": held, "rows": [block_rows(sizes, d, held, itemsize, n, max_bytes)
                                   for d in range(held + 1, num_blocks + 1)]}
    with _resumable(colours, num_blocks, num_mlp_layers, dtype, plan, split, checkpoint_dir,
                    checkpoint_every) as store:
        _blocked_depths(ck, out, colours, counts, sizes, m, h_r, h_c, s, theta, diags, held, num_blocks,
                        num_mlp_layers, itemsize, np_dtype, max_bytes, progress, symmetric, store)
    return out


@contextlib.contextmanager
def _resumable(colours, num_blocks, num_mlp_layers, dtype, plan, split, checkpoint_dir, every):
    """A :class:`~fastgnn.gntk.colour_resume.ColourCheckpoint` for this run (entered), or None."""
    if checkpoint_dir is None:
        yield None
        return
    key = {"colours": colours_fingerprint(colours, num_blocks), "num_blocks": num_blocks,
           "num_mlp_layers": num_mlp_layers, "dtype": str(dtype), "plan": plan, "split": split}
    with ColourCheckpoint(checkpoint_dir, key, every) as store:
        yield store


def _blocked_depths(ck, out, colours, counts, sizes, m, h_r, h_c, s, theta, diags, held, num_blocks,
                    num_mlp_layers, itemsize, np_dtype, max_bytes, progress, symmetric, store):
    """The depths ``held + 1 .. num_blocks`` by row blocks, into ``out`` (resumed from ``store``'s state)."""
    n = colours.num_graphs
    n_r, n_c = out.shape[1:]

    def rows_of(depth, sel, col0=0):
        """Σ̃, Θ̃ of the colours ``sel`` (sorted) at a blocked depth, against the columns ``col0..C−1``: gathered
        from the held matrices one depth down, or from the support rows there, recomputed full width."""
        indptr, indices, values = m[depth]
        pos = _row_positions(indptr, sel)
        sub_indptr = np.concatenate([[0], np.cumsum(np.diff(indptr)[sel])]).astype(np.int64)
        if depth - 1 == held:
            ps, pt, local = s, theta, indices[pos]
        else:
            parents = np.unique(indices[pos])
            ps, pt = rows_of(depth - 1, parents)
            local = np.searchsorted(parents, indices[pos])
        sub = (sub_indptr, local, values[pos])
        sb = ck.gather_cols(ck.gather_rows(ps, *sub, 0, sel.shape[0]), *m[depth], col0)
        tb = sb.copy() if pt is None else ck.gather_cols(ck.gather_rows(pt, *sub, 0, sel.shape[0]), *m[depth], col0)
        left, right = diags[depth][torch.from_numpy(sel)].contiguous(), diags[depth][col0:].contiguous()
        for _ in range(num_mlp_layers):
            ntk_step(torch.from_numpy(sb), torch.from_numpy(tb), left, right)
        return sb, tb

    saved = store.load() if store is not None else None
    start, start_row = held + 1, 0
    if saved is not None:
        start, start_row = int(saved["depth"]), int(saved["next_row"])
        out[held + 1:start] = saved["out"][held + 1:start]
        diags.update({d: torch.from_numpy(saved[f"diag{d}"]) for d in range(held + 2, min(start, num_blocks) + 1)})

    def state(depth, next_row, k_diag, k_off, k_mirror, nxt):
        """What a resumed run needs: the readouts done, and within a depth its accumulators."""
        st = {"depth": depth, "next_row": next_row, "out": out[:depth],
              **{f"diag{d}": v.numpy() for d, v in diags.items()}}
        if next_row:
            st.update(k_diag=k_diag, k_off=k_off)
            if not symmetric:
                st["k_mirror"] = k_mirror
            if nxt is not None:
                st["nxt"] = nxt
        return st

    for depth in range(start, num_blocks + 1):
        c = sizes[depth]
        rows = block_rows(sizes, depth, held, itemsize, n, max_bytes)
        nxt = np.zeros(sizes[depth + 1]) if depth < num_blocks else None
        # H_r[:, I] Θ[I, I] H_c[:, I]ᵀ, H_r[:, I] Θ[I, past] H_c[:, past]ᵀ, and (rows ≠ columns) the mirrored
        # H_c[:, I] Θ[I, past] H_r[:, past]ᵀ, transposed at the end
        k_diag, k_off = np.zeros((n_r, n_c)), np.zeros((n_r, n_c))
        k_mirror = k_off if symmetric else np.zeros((n_c, n_r))
        first = 0
        if saved is not None and depth == start and start_row > 0:
            first = start_row
            k_diag[...], k_off[...] = saved["k_diag"], saved["k_off"]
            if not symmetric:
                k_mirror[...] = saved["k_mirror"]
            if nxt is not None:
                nxt[...] = saved["nxt"]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=c * (c + 1) // 2, desc=f"GNTK colour pairs (depth {depth}, {c} colours)",
                       unit="pair", unit_scale=True, initial=first * (2 * c - first + 1) // 2)
        for i0 in range(first, c, rows):
            i1 = min(c, i0 + rows)
            sb, tb = rows_of(depth, np.arange(i0, i1), i0)  # the block's upper triangle
            ck.add_rows(k_diag, ck.histogram_product(tb[:, : i1 - i0], i0, *h_c[depth], n_c), i0, *h_r[depth])
            if i1 < c:
                ck.add_rows(k_off, ck.histogram_product(tb[:, i1 - i0:], i1, *h_c[depth], n_c), i0, *h_r[depth])
                if not symmetric:
                    ck.add_rows(k_mirror, ck.histogram_product(tb[:, i1 - i0:], i1, *h_r[depth], n_r), i0,
                                *h_c[depth])
            if nxt is not None:
                ck.accumulate_diag(sb, i0, i1, nxt, *counts[depth + 1][:2], counts[depth + 1][2])
            if bar is not None:
                bar.update((i1 - i0) * (2 * c - i0 - i1 + 1) // 2)
            if store is not None and i1 < c and store.due(False):
                store.save(state(depth, i1, k_diag, k_off, k_mirror, nxt))
        if bar is not None:
            bar.close()
        k = k_diag + k_off + k_mirror.T
        out[depth] = 0.5 * (k + k.T) if symmetric else k
        if nxt is not None:
            diags[depth + 1] = _sqrt(nxt.astype(np_dtype))
        if store is not None:
            store.save(state(depth + 1, 0, k_diag, k_off, k_mirror, None))


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


def _row_positions(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The positions in a CSR's ``indices`` of the entries of ``rows``, row after row."""
    lengths = indptr[rows + 1] - indptr[rows]
    starts = np.repeat(indptr[rows] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return (starts + np.arange(int(lengths.sum()))).astype(np.int64)


def _histogram_by_colour(label: np.ndarray, graph_of: np.ndarray, n: int, lo: int = 0, hi: int | None = None):
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
