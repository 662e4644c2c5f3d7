"""numba kernels of :mod:`fastgnn.gntk.compiled_tile` (imported on first use: importing numba takes a while).

``ntk_step_kernel(sigma, theta, inv_left, inv_right, left_pi, right, snap)``: one
ReLU layer in place over ``[M, P]`` arrays, rows in parallel; see
:func:`fastgnn.gntk.compiled_tile.ntk_step_fused`, which prepares the per-row and
per-column vectors exactly as :func:`fastgnn.gntk.relu.relu_maps_` does.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload
from numba.np.linalg import _BLAS, get_blas_kind

__all__ = ["acos", "gemm", "ntk_step_kernel", "numba", "relu_maps_kernel", "relu_pair", "tile_aggregation_kernel",
           "tile_recursion_kernel"]

_PI = math.pi
# fdlibm e_acos.c: acos(x) = π/2 − (x + x·p(z)/q(z)) with z = x² for |x| < 1/2, and
# 2·asin(sqrt((1 − |x|)/2)) reflected for |x| >= 1/2, asin(s) = s + s·p(z)/q(z), z = s².
_PIO2_HI = 1.57079632679489655800e00
_PIO2_LO = 6.12323399573676603587e-17
_PS0 = 1.66666666666666657415e-01
_PS1 = -3.25565818622400915405e-01
_PS2 = 2.01212532134862925881e-01
_PS3 = -4.00555345006794114027e-02
_PS4 = 7.91534994289814532176e-04
_PS5 = 3.47933107596021167570e-05
_QS1 = -2.40339491173441421878e00
_QS2 = 2.02094576023350569471e00
_QS3 = -6.88283971605453293030e-01
_QS4 = 7.70381505559019352791e-02


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def acos(x):
    """arccos(x) for x in [-1, 1], branch-free (selects), so a loop of it vectorises."""
    ax = abs(x)
    small = ax < 0.5
    z = x * x if small else (1.0 - ax) * 0.5
    p = z * (_PS0 + z * (_PS1 + z * (_PS2 + z * (_PS3 + z * (_PS4 + z * _PS5)))))
    q = 1.0 + z * (_QS1 + z * (_QS2 + z * (_QS3 + z * _QS4)))
    r = p / q
    s = math.sqrt(z)
    big = 2.0 * (s + s * r)  # 2·asin(sqrt((1 − |x|)/2)) = acos(|x|)
    near = _PIO2_HI - (x - (_PIO2_LO - x * r))
    far = big if x > 0.0 else _PI - big
    return near if small else far

@numba.njit(inline="always", fastmath=False, error_model="numpy")
def relu_pair(sig, inv_l, left_pi, inv_r, right, snap):
    """``(Σ', Σ̇)`` of one node pair, in :func:`fastgnn.gntk.relu.relu_maps_`'s order of operations.

    ``inv_l``, ``inv_r``: 1/d (0 where d = 0); ``left_pi``: d_left/π; ``right``: d_right.
    """
    rho = sig * inv_l * inv_r  # ρ = Σ / (d d'), clamped to [−1, 1], snapped to ±1 within ``snap``
    rho = min(max(rho, -1.0), 1.0)
    rho = 1.0 if rho > 1.0 - snap else rho
    rho = -1.0 if rho < -1.0 + snap else rho
    dot = _PI - acos(rho)  # π − θ
    sq = 1.0 - rho * rho
    sq = math.sqrt(max(sq, 0.0))
    return (rho * dot + sq) * left_pi * right, dot / _PI


def gemm(trans_a, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
    """Column-major BLAS ``C[m, n] = op(A) B`` on flat arrays from element offsets (``op``: Aᵀ if
    ``trans_a``), with leading dimensions, so that a product can read and write a column range of
    a row-major block in place.  Callable from the kernels only (an ``overload``).

    A row-major ``[r, c]`` buffer is the column-major ``[c, r]`` transpose, so the row-major
    ``Y = X W`` is ``gemm(False, cols(Y), rows(Y), rows(W), W, ..., X, ..., Y, ...)``.
    numba's own ``np.dot`` needs contiguous operands; this calls the same BLAS (SciPy's, through
    numba's ``numba_xxgemm`` helper, so the kernels stay cacheable).
    """
    raise NotImplementedError("gemm is called from numba kernels only")


@overload(gemm, jit_options={"error_model": "numpy"})
def _gemm_overload(trans_a, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
    xxgemm = _BLAS().numba_xxgemm(c.dtype)
    kind = ord(get_blas_kind(c.dtype))
    dtype = c.dtype

    def impl(trans_a, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
        scalars = np.empty(2, dtype=dtype)  # alpha = 1, beta = 0
        scalars[0] = 1.0
        scalars[1] = 0.0
        status = xxgemm(kind, 84 if trans_a else 78, 78, m, n, k, scalars[0:].ctypes, a[a_off:].ctypes, lda,
                        b[b_off:].ctypes, ldb, scalars[1:].ctypes, c[c_off:].ctypes, ldc)
        return status + 0 * scalars.size  # keeps ``scalars`` alive until BLAS returns

    return impl


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def inverse(d):
    """1/d, and 0 where d = 0 (an all-zero node), as ``torch.where(d > 0, 1.0 / d, 0)``."""
    return 1.0 / d if d > 0 else 0.0


@numba.njit(fastmath=False, error_model="numpy")
def _inverses(d):
    out = np.empty(d.shape[0], dtype=np.float64)
    for j in range(d.shape[0]):
        out[j] = inverse(d[j])
    return out


@numba.njit(parallel=True, fastmath=False, cache=True, error_model="numpy", nogil=True)
def ntk_step_kernel(sigma, theta, diag_left, diag_right, snap):
    """In place over ``[M, P]``: ``sigma ← Σ'``, ``theta ← Θ ⊙ Σ̇ + Σ'``; rows in parallel.

    ``diag_left``/``diag_right``: the standard deviations d of the row and column nodes.
    """
    m, p = sigma.shape
    inv_right = _inverses(diag_right)
    for i in numba.prange(m):
        il = inverse(diag_left[i])
        lp = diag_left[i] / _PI
        for j in range(p):
            nxt, dot = relu_pair(sigma[i, j], il, lp, inv_right[j], diag_right[j], snap)
            theta[i, j] = theta[i, j] * dot + nxt
            sigma[i, j] = nxt


@numba.njit(fastmath=False, cache=True, error_model="numpy", nogil=True)
def relu_maps_kernel(sigma, sigma_next, dot_out, diag_left, diag_right, snap):
    """``sigma_next ← Σ'``, ``dot_out ← Σ̇`` over ``[M, P]`` (one thread: used for single graphs)."""
    m, p = sigma.shape
    inv_right = _inverses(diag_right)
    for i in range(m):
        il = inverse(diag_left[i])
        lp = diag_left[i] / _PI
        for j in range(p):
            sigma_next[i, j], dot_out[i, j] = relu_pair(sigma[i, j], il, lp, inv_right[j], diag_right[j], snap)


# --------------------------------------------------------------------------- the whole recursion of a tile


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _relu_rows(s, t, inv_left, left_pi, inv_right, right, k, r0, c0, snap):
    """:func:`ntk_step_kernel`'s loop body on a ``[p, w]`` block whose row i is node ``r0 + i`` of
    the left side and column j node ``c0 + j`` of the right side, ReLU layer ``k``.  The per-node
    vectors are indexed whole (``[k, c0 + j]``), not sliced: a slice would be typed with an
    unknown stride and the loop would not vectorise."""
    p, w = s.shape
    for i in range(p):
        il = inv_left[k, r0 + i]
        lp = left_pi[k, r0 + i]
        for j in range(w):
            nxt, dot = relu_pair(s[i, j], il, lp, inv_right[k, c0 + j], right[k, c0 + j], snap)
            t[i, j] = t[i, j] * dot + nxt
            s[i, j] = nxt


#: Side of the square blocks :func:`_transpose` copies: both blocks' cache lines stay in L1 (16 rows of
#: 128 bytes each way), where a row-by-row transpose of a ``[p, 512]`` block misses on every write
#: once p is in the hundreds (DD's proteins: 10 % of the sparse aggregation's time).
TRANSPOSE_BLOCK = 16


@numba.njit(inline="always", error_model="numpy")
def _transpose(src, dst):
    """``dst[:n, :m] = src[:m, :n]ᵀ`` (``src`` ``[m, n]``), square block by square block (exact: a copy)."""
    m, n = src.shape
    for a0 in range(0, m, TRANSPOSE_BLOCK):
        a1 = min(a0 + TRANSPOSE_BLOCK, m)
        for c0 in range(0, n, TRANSPOSE_BLOCK):
            c1 = min(c0 + TRANSPOSE_BLOCK, n)
            for a in range(a0, a1):
                for c in range(c0, c1):
                    dst[c, a] = src[a, c]


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate_block(s, tmp, tmp_t, left, g, r0, right, h0, h1, c0):
    """``s ← A_g s B_Cᵀ`` in place for a ``[p, w]`` block: the rows of left graph g (from row
    ``r0``), the columns of right graphs ``h0 .. h1`` (from column ``c0``).  ``tmp``, ``tmp_t``:
    buffers of ``p·w`` elements (``[p, w]`` and ``[w, p]``).

    ``left``/``right``: ``(dense, blocks, block_offsets, indptr, indices, values, offsets)``
    of a side (see :func:`tile_recursion_kernel`).  Either side is a row-axpy loop over
    the CSR (vectorised, no gathers: the right side on the transposed block) or, for
    dense graphs, BLAS products with the dense blocks.
    """
    p, w = s.shape
    l_dense, l_blk, l_boff, l_ptr, l_idx, l_val, _ = left
    r_dense, r_blk, r_boff, r_ptr, r_idx, r_val, r_off = right
    if l_dense:  # tmp = A_g s
        np.dot(l_blk[l_boff[g]:l_boff[g] + p * p].reshape((p, p)), s, tmp)
    else:
        for a in range(p):
            for c in range(w):
                tmp[a, c] = 0.0
            for e in range(l_ptr[r0 + a], l_ptr[r0 + a + 1]):
                b = l_idx[e] - r0
                v = l_val[e]
                for c in range(w):
                    tmp[a, c] += v * s[b, c]
    _transpose(tmp, tmp_t)  # tmp_t = tmpᵀ
    u = tmp.reshape((w, p))  # u = B_C tmp_t = (tmp B_Cᵀ)ᵀ, in tmp's storage
    if r_dense:
        for h in range(h0, h1):
            q = r_off[h + 1] - r_off[h]
            lo = r_off[h] - c0
            np.dot(r_blk[r_boff[h]:r_boff[h] + q * q].reshape((q, q)), tmp_t[lo:lo + q], u[lo:lo + q])
    else:
        for c in range(w):
            for a in range(p):
                u[c, a] = 0.0
            for e in range(r_ptr[c0 + c], r_ptr[c0 + c + 1]):
                b = r_idx[e] - c0
                v = r_val[e]
                for a in range(p):
                    u[c, a] += v * tmp_t[b, a]
    _transpose(u, s)  # s = uᵀ


#: Dense ``C Q`` blocks with fewer rows than this are multiplied by loops in the kernel, not BLAS: a
#: compressed graph has a few classes (IMDB-BINARY: 4.9 on average), and a BLAS call per right graph
#: per aggregation cost more than its q² multiply-adds.
BLAS_MIN_ROWS = 16


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate_dense(st, work, count, left, g, right, h0, h1, c0):
    """``st[i] ← A_g st[i] B_Cᵀ`` for ``i < count`` (Σ, or Σ and Θ) when both sides are dense:
    BLAS products straight from and into the ``[p, w]`` blocks, no transposes; blocks of fewer than
    :data:`BLAS_MIN_ROWS` rows by loops instead (their products are too small for a call each).

    ``st``/``work``: ``[2, p, w]`` (Σ, Θ and their buffers).  One left product
    ``A_g st[i]`` per array; one right product per right graph h covering the
    ``count·p`` rows of both arrays at once (their rows are consecutive, stride w).
    """
    _, p, w = st.shape
    _, l_blk, l_boff, _, _, _, _ = left
    _, r_blk, r_boff, _, _, _, r_off = right
    flat, buf = st.reshape(-1), work.reshape(-1)
    for i in range(count):  # work[i] = A_g st[i]
        if p >= BLAS_MIN_ROWS:
            gemm(False, w, p, p, flat, i * p * w, w, l_blk, l_boff[g], p, buf, i * p * w, w)
        else:  # a small block: row axpys over the w columns (vectorised), no call
            for a in range(p):
                for c in range(w):
                    work[i, a, c] = 0.0
                for b in range(p):
                    v = l_blk[l_boff[g] + a * p + b]
                    if v != 0.0:
                        for c in range(w):
                            work[i, a, c] += v * st[i, b, c]
    for h in range(h0, h1):  # st[:, :, cols of h] = work[:, :, cols of h] B_hᵀ
        q = r_off[h + 1] - r_off[h]
        lo = r_off[h] - c0
        if q >= BLAS_MIN_ROWS:
            gemm(True, q, count * p, q, r_blk, r_boff[h], q, buf, lo, w, flat, lo, w)
        else:  # a small block: q x q dot products per row, in place of a BLAS call per right graph
            b0 = r_boff[h]
            for i in range(count):
                for a in range(p):
                    for c in range(q):
                        acc = 0.0
                        for b in range(q):
                            acc += work[i, a, lo + b] * r_blk[b0 + c * q + b]
                        st[i, a, lo + c] = acc


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate_exact(st, work, tmp_t, count, both_dense, left, g, r0, right, h0, h1, c0):
    """The exact branch of :func:`_aggregate` (for :func:`tile_aggregation_kernel`)."""
    if both_dense:
        _aggregate_dense(st, work, count, left, g, right, h0, h1, c0)
    else:
        for i in range(count):
            _aggregate_block(st[i], work[0], tmp_t, left, g, r0, right, h0, h1, c0)


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate(st, work, tmp_t, abuf, cbuf, count, both_dense, sketched, left, g, r0, right, h0, h1, c0, left_sk,
               right_sk):
    """``st[i] ← A_g st[i] B_Cᵀ`` for ``i < count``: :func:`_aggregate_sketched` for the sketched kernel,
    :func:`_aggregate_dense` when both sides are dense, else :func:`_aggregate_block` per array
    (``tmp_t``: its ``[w, p]`` buffer)."""
    if sketched:
        _aggregate_sketched(st, work, abuf, cbuf, count, left_sk, g, right_sk, h0, h1, c0)
    else:
        _aggregate_exact(st, work, tmp_t, count, both_dense, left, g, r0, right, h0, h1, c0)


#: Products of fewer multiply-adds than this (or with a side under 4) run as loops in the kernel, not BLAS
#: calls: a call costs about a microsecond before any arithmetic.
SMALL_PRODUCT = 4096


@numba.njit(fastmath=False, error_model="numpy")
def _product(trans_a, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc):
    """:func:`gemm`'s product ``C[m, n] = op(A) B`` (column-major, flat arrays, element offsets), by BLAS
    when it is large enough, else by loops (the same arithmetic, another order of summation)."""
    if m * n * k >= SMALL_PRODUCT and min(m, n, k) >= 4:
        gemm(trans_a, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc)
        return
    if trans_a:  # op(A)[i, kk] = a[a_off + i lda + kk]: dot products along kk
        for j in range(n):
            for i in range(m):
                acc = 0.0
                for kk in range(k):
                    acc += a[a_off + i * lda + kk] * b[b_off + j * ldb + kk]
                c[c_off + j * ldc + i] = acc
    else:  # A[i, kk] = a[a_off + kk lda + i]: axpys along i
        for j in range(n):
            for i in range(m):
                c[c_off + j * ldc + i] = 0.0
            for kk in range(k):
                v = b[b_off + j * ldb + kk]
                if v != 0.0:
                    for i in range(m):
                        c[c_off + j * ldc + i] += v * a[a_off + kk * lda + i]


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate_sketched(st, work, abuf, cbuf, count, left, g, right, h0, h1, c0):
    """``st[i] ← P_g S_g st[i] S_Cᵀ P_Cᵀ`` for ``i < count`` (Σ, or Σ and Θ): the sketched Aggregate of
    :func:`fastgnn.gntk.aggregate.aggregate_sketch` on a ``[p, w]`` block (left graph g, right graphs
    ``h0 .. h1`` from column ``c0``), in the paper's order of Section 4.3:

    1. ``A = S_g st[i]`` ``[b_g, w]`` (b_g p w multiply-adds);
    2. ``C[:, h] = A[:, cols of h] S_hᵀ`` ``[b_g, b_h]`` per right graph (b_g q b_h);
    3. ``D = P_g C`` ``[p, Σ b_h]`` (p b_g Σ b_h);
    4. ``st[:, cols of h] = D[:, h] P_hᵀ`` ``[p, q]`` per right graph (p b_h q);

    so O(b p w) per array instead of the exact O(p² w + p w q).  A graph whose sketch is the
    identity (N <= b) skips its S product (step 1, or a copy in step 2) and its P is ``C A``: it
    is aggregated exactly, as in the torch tile.  Steps 2 and 4 take the rows of both arrays at
    once (consecutive, stride w).

    ``left``/``right``: ``(S, S offsets, P, P offsets, sketch-row offsets, node offsets)`` of a
    side (see :class:`fastgnn.gntk.tiles.Stack` ``sketch_blocks``).  ``work``, ``abuf``,
    ``cbuf``: ``[2, p, w]`` buffers (D, A, C).
    """
    _, p, w = st.shape
    l_s, l_soff, l_p, l_poff, l_boff, _ = left
    r_s, r_soff, r_p, r_poff, r_boff, r_off = right
    flat, d_flat, a_flat, c_flat = st.reshape(-1), work.reshape(-1), abuf.reshape(-1), cbuf.reshape(-1)
    bg = l_boff[g + 1] - l_boff[g]
    if l_soff[g + 1] > l_soff[g]:  # 1. A = S_g st[i]
        for i in range(count):
            _product(False, w, bg, p, flat, i * p * w, w, l_s, l_soff[g], p, a_flat, i * bg * w, w)
        src = a_flat
    else:  # the identity: A is the block itself (bg = p)
        src = flat
    b0 = r_boff[h0]
    wb = r_boff[h1] - b0
    for h in range(h0, h1):  # 2. C[:, cols of h's sketch] = A[:, cols of h] S_hᵀ
        q = r_off[h + 1] - r_off[h]
        lo = r_off[h] - c0
        blo = r_boff[h] - b0
        bh = r_boff[h + 1] - r_boff[h]
        if r_soff[h + 1] > r_soff[h]:
            _product(True, bh, count * bg, q, r_s, r_soff[h], q, src, lo, w, c_flat, blo, wb)
        else:
            for r in range(count * bg):
                for c in range(q):
                    c_flat[r * wb + blo + c] = src[r * w + lo + c]
    for i in range(count):  # 3. D = P_g C
        _product(False, wb, p, bg, c_flat, i * bg * wb, wb, l_p, l_poff[g], bg, d_flat, i * p * wb, wb)
    for h in range(h0, h1):  # 4. st[:, cols of h] = D[:, cols of h's sketch] P_hᵀ
        q = r_off[h + 1] - r_off[h]
        lo = r_off[h] - c0
        blo = r_boff[h] - b0
        bh = r_boff[h + 1] - r_boff[h]
        _product(True, q, count * p, bh, r_p, r_poff[h], bh, d_flat, blo, wb, flat, lo, w)


@numba.njit(inline="always", error_model="numpy")
def _chunk_end(r_off, h, chunk_nodes):
    """The right graph after the column block that starts at graph h: whole graphs, at most
    ``chunk_nodes`` columns (at least one graph)."""
    n_j = r_off.shape[0] - 1
    c0 = r_off[h]
    h1 = h + 1
    while h1 < n_j and r_off[h1 + 1] - c0 <= chunk_nodes:
        h1 += 1
    return h1


@numba.njit(fastmath=False, error_model="numpy")
def _dense_rows(ptr, idx, val, r0, p, d, dtype):
    """Rows ``r0 .. r0 + p`` of a CSR matrix with d columns as ``(features, dense)``: the k columns
    they use (in order of first use) and the ``[p, max(k, 1)]`` dense block over those columns."""
    slot = np.full(d, -1, dtype=np.int64)
    feats = np.empty(d, dtype=np.int64)
    k = 0
    for e in range(ptr[r0], ptr[r0 + p]):
        f = idx[e]
        if slot[f] < 0:
            slot[f] = k
            feats[k] = f
            k += 1
    dense = np.zeros((p, max(k, 1)), dtype=dtype)
    for a in range(p):
        for e in range(ptr[r0 + a], ptr[r0 + a + 1]):
            dense[a, slot[idx[e]]] += val[e]
    return feats[:k].copy(), dense


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _readout_block(t, colsum, w_left, w_right, r0, r_off, h0, h1, c0, out, k, g):
    """``out[k, g, h] = s_gᵀ t s_h`` over ``t``'s columns of graph h, for h in ``h0 .. h1``: the rows'
    and columns' weights (class sizes; 1 for nodes) from ``w_left[r0:]`` and ``w_right[c0:]``
    (``colsum``: a ``[w]`` buffer; weighted column sums first, so the long loop vectorises)."""
    p, w = t.shape
    for c in range(w):
        colsum[c] = 0.0
    for a in range(p):
        wa = w_left[r0 + a]
        for c in range(w):
            colsum[c] += wa * t[a, c]
    for h in range(h0, h1):
        acc = 0.0
        for c in range(r_off[h] - c0, r_off[h + 1] - c0):
            acc += w_right[c0 + c] * colsum[c]
        out[k, g, h] = acc


@numba.njit(parallel=True, fastmath=False, cache=True, error_model="numpy", nogil=True)
def tile_recursion_kernel(x_ptr, x_idx, x_val, xt_right, left, right,
                          inv_left, left_pi, inv_right, d_right, w_left, w_right, num_blocks, num_mlp_layers, upper,
                          chunk_nodes, snap, order, bin_ptr, aggregated, sketched, left_sk, right_sk, out):
    """The whole GNTK recursion of one tile, graph by graph of the left side (in parallel).

    ``x_*``: the left features X_I as CSR; ``xt_right``: ``[d, M_J]`` X_Jᵀ (Σ⁽⁰⁾ = X_I X_Jᵀ is
    formed block by block: one row axpy per non-zero feature, one for one-hot labels).
    ``aggregated``: they are the aggregated features Y = (C A) X of both sides instead, so
    the block starts from the first aggregation's result ``A_g Σ⁽⁰⁾ B_Cᵀ = Y_g Y_Cᵀ``,
    which skips that aggregation; ``out[0]`` (the readout of Σ⁽⁰⁾) is then left to the caller.
    ``left``/``right``: each side's aggregation as a tuple ``(dense, blocks, block_offsets,
    indptr, indices, values, offsets)``: ``dense`` whether to use the dense blocks (graph g's
    ``C A`` row-major at ``blocks[block_offsets[g]:]``) or the block-diagonal CSR (indptr,
    indices, values); ``offsets[g]``: graph g's first node.
    ``inv_left``/``left_pi``: ``[K, M_I]`` 1/d (0 where d = 0) and d/π of the row nodes
    for each ReLU layer; ``inv_right``/``d_right``: ``[K, M_J]`` 1/d and d of the column
    nodes.  ``upper``: only graph pairs h >= g (a diagonal tile of a symmetric Gram).
    ``sketched``: the sketched kernel: every Aggregate is :func:`_aggregate_sketched` with the
    sides' ``left_sk``/``right_sk`` = ``(S, S offsets, P, P offsets, sketch-row offsets, node
    offsets)`` (``left``/``right`` then only give the node offsets); else they are unused.
    ``order``/``bin_ptr``: the left graphs split into one bin per thread, bin b being
    ``order[bin_ptr[b]:bin_ptr[b + 1]]`` (numba's OpenMP layer schedules a ``prange``
    statically, so the balance is planned beforehand: :func:`fastgnn.gntk.compiled_tile.balanced_bins`).
    Writes ``out[num_blocks + 1, n_I, n_J]``.

    For a left graph g, its rows of every tile array depend on its rows only (the
    aggregation is block diagonal, the ReLU maps elementwise, the readout a segment
    sum), so the recursion runs on a ``[N_g, ≤ chunk_nodes]`` block at a time, in
    cache: the tile-sized arrays are never formed.
    """
    both_dense = left[0] and right[0]
    for b in numba.prange(bin_ptr.shape[0] - 1):
        for gg in range(bin_ptr[b], bin_ptr[b + 1]):
            g = np.int64(order[gg])  # prange's index may be unsigned: mixed with signed ints it would be a float
            _left_graph(g, x_ptr, x_idx, x_val, xt_right, left, right, inv_left, left_pi, inv_right, d_right,
                        w_left, w_right, num_blocks, num_mlp_layers, upper, chunk_nodes, snap, both_dense, aggregated,
                        sketched, left_sk, right_sk, out)


@numba.njit(fastmath=False, error_model="numpy", nogil=True)
def _left_graph(g, x_ptr, x_idx, x_val, xt_right, left, right, inv_left, left_pi, inv_right, d_right,
                w_left, w_right, num_blocks, num_mlp_layers, upper, chunk_nodes, snap, both_dense, aggregated,
                sketched, left_sk, right_sk, out):
    """Row block g of :func:`tile_recursion_kernel`: the whole recursion of left graph g against every
    column (h >= g when ``upper``), ``chunk_nodes`` columns at a time."""
    l_off = left[6]
    r_off = right[6]
    n_j = r_off.shape[0] - 1
    r0 = l_off[g]
    p = l_off[g + 1] - r0
    if aggregated:  # graph g's feature rows as a dense [p, k] over the k features it uses
        feats, y_g = _dense_rows(x_ptr, x_idx, x_val, r0, p, xt_right.shape[0], xt_right.dtype)
    h = g if upper else np.int64(0)
    while h < n_j:
        c0 = r_off[h]
        h1 = _chunk_end(r_off, h, chunk_nodes)
        w = r_off[h1] - c0
        st = np.empty((2, p, w), dtype=xt_right.dtype)  # Σ and Θ, rows consecutive for one right product
        work = np.empty((2, p, w), dtype=xt_right.dtype)
        s = st[0]
        t = st[1]
        tmp_t = np.empty((0, 0) if both_dense or sketched else (w, p), dtype=xt_right.dtype)
        abuf = np.empty((2, p, w) if sketched else (0, 0, 0), dtype=xt_right.dtype)  # sketched: A and C
        cbuf = np.empty((2, p, w) if sketched else (0, 0, 0), dtype=xt_right.dtype)
        colsum = np.empty(w, dtype=np.float64)
        if aggregated:  # s = Y_g Y_Cᵀ: one product over g's k features (the rows of Y_Cᵀ it needs, gathered)
            k = feats.shape[0]
            gathered = np.empty((k, w), dtype=xt_right.dtype)
            for i in range(k):
                for c in range(w):
                    gathered[i, c] = xt_right[feats[i], c0 + c]
            gemm(False, w, p, k, gathered.reshape(-1), 0, w, y_g.reshape(-1), 0, max(k, 1), st.reshape(-1), 0, w)
        else:
            for a in range(p):  # Σ⁽⁰⁾ = X_g X_Cᵀ
                for c in range(w):
                    s[a, c] = 0.0
                for e in range(x_ptr[r0 + a], x_ptr[r0 + a + 1]):
                    f = x_idx[e]
                    v = x_val[e]
                    for c in range(w):
                        s[a, c] += v * xt_right[f, c0 + c]
            _readout_block(s, colsum, w_left, w_right, r0, r_off, h, h1, c0, out, 0, g)  # Σ⁽⁰⁾ read out, aggregated
            _aggregate(st, work, tmp_t, abuf, cbuf, 1, both_dense, sketched, left, g, r0, right, h, h1, c0, left_sk,
                       right_sk)
        for a in range(p):
            for c in range(w):
                t[a, c] = s[a, c]
        for blk in range(num_blocks):
            for rr in range(num_mlp_layers):
                k = blk * num_mlp_layers + rr
                _relu_rows(s, t, inv_left, left_pi, inv_right, d_right, k, r0, c0, snap)
            _readout_block(t, colsum, w_left, w_right, r0, r_off, h, h1, c0, out, blk + 1, g)
            if blk < num_blocks - 1:
                _aggregate(st, work, tmp_t, abuf, cbuf, 2, both_dense, sketched, left, g, r0, right, h, h1, c0,
                           left_sk, right_sk)
        h = h1


@numba.njit(parallel=True, fastmath=False, cache=True, error_model="numpy", nogil=True)
def tile_aggregation_kernel(left, right, upper, chunk_nodes, order, bin_ptr, like):
    """Only the aggregations of :func:`tile_recursion_kernel`: Σ and Θ of every ``[p, w]`` block of
    the tile aggregated once, by the same code and blocks as between the recursion's layers (filled
    with ones; ``like``: an array of the dtype).  For the benchmark's aggregation GFLOP/s."""
    l_off = left[6]
    r_off = right[6]
    n_j = r_off.shape[0] - 1
    both_dense = left[0] and right[0]
    for b in numba.prange(bin_ptr.shape[0] - 1):
        for gg in range(bin_ptr[b], bin_ptr[b + 1]):
            g = np.int64(order[gg])
            r0 = l_off[g]
            p = l_off[g + 1] - r0
            h = g if upper else np.int64(0)
            while h < n_j:
                c0 = r_off[h]
                h1 = _chunk_end(r_off, h, chunk_nodes)
                w = r_off[h1] - c0
                st = np.ones((2, p, w), dtype=like.dtype)
                work = np.empty((2, p, w), dtype=like.dtype)
                tmp_t = np.empty((0, 0) if both_dense else (w, p), dtype=like.dtype)
                _aggregate_exact(st, work, tmp_t, 2, both_dense, left, g, r0, right, h, h1, c0)
                h = h1
