"""numba kernels of :mod:`fastgnn.gntk.fused` (imported on first use: importing numba takes a while).

``ntk_step_kernel(sigma, theta, inv_left, inv_right, left_pi, right, snap)``: one
ReLU layer in place over ``[M, P]`` arrays, rows in parallel; see
:func:`fastgnn.gntk.fused.ntk_step_fused`, which prepares the per-row and
per-column vectors exactly as :func:`fastgnn.gntk.relu.relu_maps_` does.
"""

from __future__ import annotations

import math

import numba

__all__ = ["acos", "ntk_step_kernel", "numba"]

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


