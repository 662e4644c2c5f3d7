"""numba kernels of :mod:`fastgnn.gntk.colour_pairs` (imported on first use: importing numba takes a while).

``M`` is held in CSR form (``indptr``, ``indices``, ``values``).  Rows of M have a handful of non-zeros
``M S Mᵀ`` is two gathers: rows of S weighted into ``T = M S``, then entries of each row of T (in cache)
weighted into ``T Mᵀ``, O(k C_l C_{l−1} + k C_l²) for k non-zeros per row, both parallel over rows.
The histogram products of the readout run over H's columns (colour -> graphs).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def gather_rows(s, indptr, indices, values, row0, row1):
    """``(M S)[row0:row1]``: ``out[r] = Σ_e values[e] · s[indices[e]]`` over row ``row0 + r``'s entries."""
    out = np.zeros((row1 - row0, s.shape[1]), dtype=s.dtype)
    for r in numba.prange(row1 - row0):
        for e in range(indptr[row0 + r], indptr[row0 + r + 1]):
            v = values[e]
            a = indices[e]
            for j in range(s.shape[1]):
                out[r, j] += v * s[a, j]
    return out


@numba.njit(parallel=True, cache=True)
def gather_cols(t_rows, indptr, indices, values, col0, src0=0):
    """``(T Mᵀ)[:, col0:]``: ``out[r, j − col0] = Σ_e values[e] · t_rows[r, indices[e] − src0]`` over row j's
    entries (``t_rows`` holds T's columns from ``src0`` on; every index the rows ``col0..`` of M read is)."""
    n_cols = indptr.shape[0] - 1 - col0
    out = np.empty((t_rows.shape[0], n_cols), dtype=t_rows.dtype)
    for r in numba.prange(t_rows.shape[0]):
        for j in range(n_cols):
            acc = 0.0
            for e in range(indptr[col0 + j], indptr[col0 + j + 1]):
                acc += values[e] * t_rows[r, indices[e] - src0]
            out[r, j] = acc
    return out


@numba.njit(parallel=True, cache=True)
def diag_of_product(s, indptr, indices, values):
    """``diag(M S Mᵀ)``: ``Σ_{e, f in row c} values[e] values[f] s[indices[e], indices[f]]`` per row c."""
    out = np.empty(indptr.shape[0] - 1, dtype=s.dtype)
    for c in numba.prange(indptr.shape[0] - 1):
        acc = 0.0
        for e in range(indptr[c], indptr[c + 1]):
            row = 0.0
            for f in range(indptr[c], indptr[c + 1]):
                row += values[f] * s[indices[e], indices[f]]
            acc += values[e] * row
        out[c] = acc
    return out


@numba.njit(parallel=True, cache=True)
def histogram_product(theta, col0, h_indptr, h_graphs, h_counts, num_graphs):
    """``P = theta · H[:, col0:col0 + w]ᵀ`` (``rows × n``, float64) with H by columns (colour c: graphs
    ``h_graphs[h_indptr[c]:h_indptr[c + 1]]`` with counts ``h_counts``)."""
    out = np.zeros((theta.shape[0], num_graphs))
    for r in numba.prange(theta.shape[0]):
        for j in range(theta.shape[1]):
            v = theta[r, j]
            c = col0 + j
            for e in range(h_indptr[c], h_indptr[c + 1]):
                out[r, h_graphs[e]] += h_counts[e] * v
    return out


#: columns of K per parallel task of :func:`add_rows`
_COLUMN_CHUNK = 512


@numba.njit(parallel=True, cache=True)
def add_rows(k, p, row0, h_indptr, h_graphs, h_counts, weight):
    """``K += weight · H[:, row0:row0 + rows] · P``: for colour ``row0 + r``, each graph g holding it gets
    ``weight · count · P[r]`` added to its row of K.  Parallel over chunks of K's columns (each entry of K
    sums its terms in the same order whatever the chunks: colour after colour)."""
    n_cols = p.shape[1]
    for q in numba.prange((n_cols + _COLUMN_CHUNK - 1) // _COLUMN_CHUNK):
        j0 = q * _COLUMN_CHUNK
        j1 = min(n_cols, j0 + _COLUMN_CHUNK)
        for r in range(p.shape[0]):
            c = row0 + r
            for e in range(h_indptr[c], h_indptr[c + 1]):
                g = h_graphs[e]
                w = weight * h_counts[e]
                for j in range(j0, j1):
                    k[g, j] += w * p[r, j]


@numba.njit(cache=True)
def add_diagonal(d, p, row0, h_indptr, h_graphs, h_counts, weight):
    """``d[g] += weight · Σ_r H[g, row0 + r] · P[r, g]``: the diagonal of what :func:`add_rows` adds to a
    square K, alone (O(nnz) of H's columns)."""
    for r in range(p.shape[0]):
        c = row0 + r
        for e in range(h_indptr[c], h_indptr[c + 1]):
            g = h_graphs[e]
            d[g] += weight * h_counts[e] * p[r, g]


@numba.njit(parallel=True, cache=True)
def symmetrize(a):
    """``A ← A + Aᵀ`` in place (square A, a memory map too), by 64 × 64 tiles of the upper triangle, parallel
    over tile rows (a tile row writes its tiles and their mirrors, which no other tile row touches)."""
    n = a.shape[0]
    t = 64
    tiles = (n + t - 1) // t
    for bi in numba.prange(tiles):
        i0 = bi * t
        i1 = min(n, i0 + t)
        for bj in range(bi, tiles):
            j0 = bj * t
            j1 = min(n, j0 + t)
            for i in range(i0, i1):
                for j in range(max(j0, i), j1):
                    s = a[i, j] + a[j, i]
                    a[i, j] = s
                    a[j, i] = s


@numba.njit(parallel=True, cache=True)
def accumulate_diag(block, row0, row1, out, indptr, indices, values):
    """``out[c] += Σ_{e, f in row c, row0 <= a_e < row1, a_f >= a_e} w · values[e] values[f] block[a_e − row0,
    a_f − row0]`` (w = 2 off the diagonal): the diagonal of ``M S Mᵀ`` gathered from the rows
    ``row0..row1−1`` of the upper triangle of a symmetric S (``block`` holds its columns from ``row0`` on).
    Over all row blocks it sums to ``diag(M S Mᵀ)``.  Parallel over M's rows."""
    for c in numba.prange(indptr.shape[0] - 1):
        acc = 0.0
        for e in range(indptr[c], indptr[c + 1]):
            a = indices[e]
            if a < row0 or a >= row1:
                continue
            for f in range(indptr[c], indptr[c + 1]):
                b = indices[f]
                if b < a:
                    continue
                w = values[e] * values[f] * (1.0 if a == b else 2.0)
                acc += w * block[a - row0, b - row0]
        out[c] += acc


@numba.njit(parallel=True, cache=True)
def pair_values_dense(left, right, indptr, indices, values, s):
    """``out[k] = Σ_{e in row left[k], f in row right[k]} values[e] values[f] s[indices[e], indices[f]]``: the
    entries ``(M S Mᵀ)[left[k], right[k]]`` of a list of colour pairs, S dense.  Parallel over the pairs."""
    out = np.empty(left.shape[0], dtype=s.dtype)
    for k in numba.prange(left.shape[0]):
        acc = 0.0
        for e in range(indptr[left[k]], indptr[left[k] + 1]):
            row = 0.0
            a = indices[e]
            for f in range(indptr[right[k]], indptr[right[k] + 1]):
                row += values[f] * s[a, indices[f]]
            acc += values[e] * row
        out[k] = acc
    return out


@numba.njit(parallel=True, cache=True)
def pair_values_sparse(left, right, indptr, indices, values, keys, s_values, width):
    """:func:`pair_values_dense` with S given on a sorted list of its upper-triangle entries: ``keys`` (``a ·
    width + b``, a <= b, ascending) and their values ``s_values`` (S symmetric).  Every entry the pairs read
    must be listed (binary search, O(log K) per term): the caller's pair sets are closed downwards."""
    out = np.empty(left.shape[0], dtype=s_values.dtype)
    for k in numba.prange(left.shape[0]):
        acc = 0.0
        for e in range(indptr[left[k]], indptr[left[k] + 1]):
            row = 0.0
            a = indices[e]
            for f in range(indptr[right[k]], indptr[right[k] + 1]):
                b = indices[f]
                key = a * width + b if a <= b else b * width + a
                lo, hi = 0, keys.shape[0]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if keys[mid] < key:
                        lo = mid + 1
                    else:
                        hi = mid
                row += values[f] * s_values[lo]
            acc += values[e] * row
        out[k] = acc
    return out


@numba.njit(parallel=True, cache=True)
def add_rows_upper(k, p, row0, h_indptr, h_graphs, h_counts, weight):
    """:func:`add_rows` folded onto the upper triangle: each term for ``K[g, j]`` goes to ``K[min(g, j), max(g,
    j)]``, so that with K summed as half forms (``K = A + Aᵀ``) the upper triangle holds K off the diagonal and
    half of it on the diagonal, and the lower triangle is never touched (its pages never mapped).  Two passes,
    each parallel over chunks of j: the row part ``K[g, j ≥ g]``, then the column part ``K[j < g, g]`` (a chunk
    owns its rows j), so no two tasks write one entry."""
    n_cols = p.shape[1]
    chunks = (n_cols + _COLUMN_CHUNK - 1) // _COLUMN_CHUNK
    for q in numba.prange(chunks):
        j0 = q * _COLUMN_CHUNK
        j1 = min(n_cols, j0 + _COLUMN_CHUNK)
        for r in range(p.shape[0]):
            c = row0 + r
            for e in range(h_indptr[c], h_indptr[c + 1]):
                g = h_graphs[e]
                w = weight * h_counts[e]
                for j in range(max(j0, g), j1):
                    k[g, j] += w * p[r, j]
    for q in numba.prange(chunks):
        j0 = q * _COLUMN_CHUNK
        j1 = min(n_cols, j0 + _COLUMN_CHUNK)
        for r in range(p.shape[0]):
            c = row0 + r
            for e in range(h_indptr[c], h_indptr[c + 1]):
                g = h_graphs[e]
                w = weight * h_counts[e]
                for j in range(j0, min(j1, g)):
                    k[j, g] += w * p[r, j]


@numba.njit(cache=True)
def add_self_pairs(diag, t, row0, h_indptr, h_graphs, h_counts, g_indptr, g_cols, g_counts):
    """``diag[g] += Σ_{c, e} H[g, row0 + r] H[g, e] t[r, e]`` over the rows r of ``t``: each graph's readout
    against itself, from the rows of a rectangle whose row graphs are also its column graphs (a band of the
    Gram).  H by columns on the rows (colour -> graphs ``h_graphs`` with ``h_counts``), by graphs on the
    columns (graph g: column colours ``g_cols[g_indptr[g]:g_indptr[g + 1]]`` with ``g_counts``).  Serial:
    O(Σ_g N_g²) per depth."""
    for r in range(t.shape[0]):
        c = row0 + r
        for e in range(h_indptr[c], h_indptr[c + 1]):
            g = h_graphs[e]
            acc = 0.0
            for f in range(g_indptr[g], g_indptr[g + 1]):
                acc += g_counts[f] * t[r, g_cols[f]]
            diag[g] += h_counts[e] * acc
