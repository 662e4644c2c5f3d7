"""numba kernels of :mod:`fastgnn.gntk.fused` (imported on first use: importing numba takes a while).

``ntk_step_kernel(sigma, theta, inv_left, inv_right, left_pi, right, snap)``: one
ReLU layer in place over ``[M, P]`` arrays, rows in parallel; see
:func:`fastgnn.gntk.fused.ntk_step_fused`, which prepares the per-row and
per-column vectors exactly as :func:`fastgnn.gntk.relu.relu_maps_` does.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["acos", "ntk_step_kernel", "numba", "tile_recursion_kernel"]

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

@numba.njit(parallel=True, fastmath=False, cache=True, error_model="numpy", nogil=True)
def ntk_step_kernel(sigma, theta, inv_left, inv_right, left_pi, right, snap):
    m, p = sigma.shape
    for i in numba.prange(m):
        il = inv_left[i]
        lp = left_pi[i]
        for j in range(p):
            # ρ = Σ / (d d'), clamped to [−1, 1], snapped to ±1 within ``snap``
            rho = sigma[i, j] * il * inv_right[j]
            rho = min(max(rho, -1.0), 1.0)
            rho = 1.0 if rho > 1.0 - snap else rho
            rho = -1.0 if rho < -1.0 + snap else rho
            dot = _PI - acos(rho)  # π − θ
            sq = 1.0 - rho * rho
            sq = math.sqrt(max(sq, 0.0))
            nxt = (rho * dot + sq) * lp * right[j]  # Σ'
            theta[i, j] = theta[i, j] * (dot / _PI) + nxt  # Θ ⊙ Σ̇ + Σ'
            sigma[i, j] = nxt




# --------------------------------------------------------------------------- the whole recursion of a tile


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _relu_rows(s, t, inv_left, left_pi, inv_right, right, snap):
    """:func:`ntk_step_kernel`'s loop body on a ``[p, w]`` block (no parallelism: the caller's)."""
    p, w = s.shape
    for i in range(p):
        il = inv_left[i]
        lp = left_pi[i]
        for j in range(w):
            rho = s[i, j] * il * inv_right[j]
            rho = min(max(rho, -1.0), 1.0)
            rho = 1.0 if rho > 1.0 - snap else rho
            rho = -1.0 if rho < -1.0 + snap else rho
            dot = _PI - acos(rho)
            sq = 1.0 - rho * rho
            sq = math.sqrt(max(sq, 0.0))
            nxt = (rho * dot + sq) * lp * right[j]
            t[i, j] = t[i, j] * (dot / _PI) + nxt
            s[i, j] = nxt


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _aggregate_block(s, tmp, l_ptr, l_idx, l_val, r0, r_ptr, r_idx, r_val, c0):
    """``s ← A_g s B_Cᵀ`` in place for a ``[p, w]`` block: rows of graph g (from row ``r0`` of the
    left CSR), columns ``c0 .. c0 + w`` of the right CSR (whole graphs); ``tmp`` a ``[p, w]`` buffer.

    Left: row axpys over the block's width (vectorised).  Right: per entry, a gather
    from the same row of ``tmp`` (in cache).
    """
    p, w = s.shape
    for a in range(p):
        for c in range(w):
            tmp[a, c] = 0.0
        for e in range(l_ptr[r0 + a], l_ptr[r0 + a + 1]):
            b = l_idx[e] - r0
            v = l_val[e]
            for c in range(w):
                tmp[a, c] += v * s[b, c]
    for a in range(p):
        for c in range(w):
            acc = 0.0
            for e in range(r_ptr[c0 + c], r_ptr[c0 + c + 1]):
                acc += r_val[e] * tmp[a, r_idx[e] - c0]
            s[a, c] = acc


@numba.njit(inline="always", fastmath=False, error_model="numpy")
def _readout_block(t, r_off, h0, h1, c0, out, k, g):
    """``out[k, g, h] = Σ`` of ``t``'s columns of graph h, for h in ``h0 .. h1``."""
    p = t.shape[0]
    for h in range(h0, h1):
        acc = 0.0
        for a in range(p):
            for c in range(r_off[h] - c0, r_off[h + 1] - c0):
                acc += t[a, c]
        out[k, g, h] = acc


@numba.njit(parallel=True, fastmath=False, cache=True, error_model="numpy", nogil=True)
def tile_recursion_kernel(sigma0, l_ptr, l_idx, l_val, l_off, r_ptr, r_idx, r_val, r_off,
                          inv_left, left_pi, inv_right, right, num_blocks, num_mlp_layers, upper,
                          chunk_nodes, snap, out):
    """The whole GNTK recursion of one tile, graph by graph of the left side (in parallel).

    ``sigma0``: ``[M_I, M_J]`` X_I X_Jᵀ.  ``l_*``/``r_*``: the block-diagonal aggregation
    CSR (indptr, indices, values) and the graphs' node offsets of each side.
    ``inv_left``/``left_pi``: ``[K, M_I]`` 1/d (0 where d = 0) and d/π of the row nodes
    for each ReLU layer; ``inv_right``/``right``: ``[K, M_J]`` 1/d and d of the column
    nodes.  ``upper``: only graph pairs h >= g (a diagonal tile of a symmetric Gram).
    Writes ``out[num_blocks + 1, n_I, n_J]``.

    For a left graph g, its rows of every tile array depend on its rows only (the
    aggregation is block diagonal, the ReLU maps elementwise, the readout a segment
    sum), so the recursion runs on a ``[N_g, ≤ chunk_nodes]`` block at a time, in
    cache: the tile-sized arrays are never formed.
    """
    n_i = l_off.shape[0] - 1
    n_j = r_off.shape[0] - 1
    for gg in numba.prange(n_i):
        g = np.int64(gg)  # prange's index may be unsigned: mixed with signed ints it would become a float
        r0 = l_off[g]
        p = l_off[g + 1] - r0
        h = g if upper else np.int64(0)
        while h < n_j:
            c0 = r_off[h]
            h1 = h + 1
            while h1 < n_j and r_off[h1 + 1] - c0 <= chunk_nodes:
                h1 += 1
            w = r_off[h1] - c0
            s = np.empty((p, w), dtype=sigma0.dtype)
            t = np.empty((p, w), dtype=sigma0.dtype)
            tmp = np.empty((p, w), dtype=sigma0.dtype)
            for a in range(p):
                for c in range(w):
                    s[a, c] = sigma0[r0 + a, c0 + c]
            _readout_block(s, r_off, h, h1, c0, out, 0, g)
            _aggregate_block(s, tmp, l_ptr, l_idx, l_val, r0, r_ptr, r_idx, r_val, c0)
            for a in range(p):
                for c in range(w):
                    t[a, c] = s[a, c]
            for blk in range(num_blocks):
                for rr in range(num_mlp_layers):
                    k = blk * num_mlp_layers + rr
                    _relu_rows(s, t, inv_left[k, r0:r0 + p], left_pi[k, r0:r0 + p],
                               inv_right[k, c0:c0 + w], right[k, c0:c0 + w], snap)
                _readout_block(t, r_off, h, h1, c0, out, blk + 1, g)
                if blk < num_blocks - 1:
                    _aggregate_block(s, tmp, l_ptr, l_idx, l_val, r0, r_ptr, r_idx, r_val, c0)
                    _aggregate_block(t, tmp, l_ptr, l_idx, l_val, r0, r_ptr, r_idx, r_val, c0)
            h = h1
