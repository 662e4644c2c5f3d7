"""numba kernels of :mod:`fastgnn.model_selection.path`: libsvm's SMO solver for one C.

The optimisation problem, the working-set selection, the two-variable update,
the shrinking heuristic, the stopping rule and the bias are those of libsvm's
``Solver`` (Fan, Chen and Lin, *Working set selection using second order
information for training SVM*, JMLR 2005; Chang and Lin, *LIBSVM*, 2011),
which is what ``sklearn.svm.SVC(kernel="precomputed")`` runs:

    min_α  ½ αᵀQα − eᵀα   s.t.  0 <= α_i <= C,  yᵀα = 0,   Q_ij = y_i y_j K_ij,

stopped when m(α) − M(α) < tol, with m = max_{i ∈ I_up} −y_i ∇f_i and
M = min_{i ∈ I_low} −y_i ∇f_i.  :func:`smo_solve` starts from any feasible
α with its gradient, so the caller can warm-start it and stop it after a
number of iterations.  The shrunk set is an index array (libsvm swaps the
data instead); ``G_bar`` is not kept: the gradient of the shrunk variables
is rebuilt from the support vectors when needed.

Cost per SMO iteration O(a) (a <= p the active set after shrinking): one pass
for the working set, one for the gradient; the kernel rows are read from the
dense ``K`` (no kernel cache needed, it is all in memory).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["rho", "smo_solve"]

_TAU = 1e-12
_INF = np.inf


@numba.njit(cache=True, nogil=True)
def _select_working_set(K, y, alpha, G, C, act, n_act, tol):
    """libsvm's WSS3 (second-order) pair (i, j) over the active set; (-1, -1) when optimal."""
    gmax = -_INF
    gmax2 = -_INF
    i = -1
    for t in range(n_act):
        k = act[t]
        if y[k] > 0:
            if alpha[k] < C and -G[k] >= gmax:
                gmax = -G[k]
                i = k
        else:
            if alpha[k] > 0.0 and G[k] >= gmax:
                gmax = G[k]
                i = k
    j = -1
    obj_min = _INF
    if i >= 0:
        kii = K[i, i]
        for t in range(n_act):
            k = act[t]
            if y[k] > 0:
                if alpha[k] > 0.0:
                    diff = gmax + G[k]
                    if G[k] >= gmax2:
                        gmax2 = G[k]
                    if diff > 0.0:
                        quad = kii + K[k, k] - 2.0 * K[i, k]  # QD_i + QD_j − 2 y_i Q_ij, y_j = +1
                        obj = -(diff * diff) / (quad if quad > 0.0 else _TAU)
                        if obj <= obj_min:
                            j = k
                            obj_min = obj
            else:
                if alpha[k] < C:
                    diff = gmax - G[k]
                    if -G[k] >= gmax2:
                        gmax2 = -G[k]
                    if diff > 0.0:
                        quad = kii + K[k, k] - 2.0 * K[i, k]  # QD_i + QD_j + 2 y_i Q_ij, y_j = −1
                        obj = -(diff * diff) / (quad if quad > 0.0 else _TAU)
                        if obj <= obj_min:
                            j = k
                            obj_min = obj
    if gmax + gmax2 < tol or j == -1:
        return -1, -1
    return i, j


@numba.njit(cache=True, nogil=True)
def _update_pair(K, y, alpha, G, C, act, n_act, i, j):
    """Solve the two-variable subproblem on (i, j) as libsvm does, then update G on the active set."""
    qij = y[i] * y[j] * K[i, j]
    ai = alpha[i]
    aj = alpha[j]
    if y[i] != y[j]:
        quad = K[i, i] + K[j, j] + 2.0 * qij
        if quad <= 0.0:
            quad = _TAU
        delta = (-G[i] - G[j]) / quad
        diff = ai - aj
        ni = ai + delta
        nj = aj + delta
        if diff > 0.0:
            if nj < 0.0:
                nj = 0.0
                ni = diff
        else:
            if ni < 0.0:
                ni = 0.0
                nj = -diff
        if diff > 0.0:  # C_i − C_j = 0
            if ni > C:
                ni = C
                nj = C - diff
        else:
            if nj > C:
                nj = C
                ni = C + diff
    else:
        quad = K[i, i] + K[j, j] - 2.0 * qij
        if quad <= 0.0:
            quad = _TAU
        delta = (G[i] - G[j]) / quad
        s = ai + aj
        ni = ai - delta
        nj = aj + delta
        if s > C:
            if ni > C:
                ni = C
                nj = s - C
        else:
            if nj < 0.0:
                nj = 0.0
                ni = s
        if s > C:
            if nj > C:
                nj = C
                ni = s - C
        else:
            if ni < 0.0:
                ni = 0.0
                nj = s
    alpha[i] = ni
    alpha[j] = nj
    di = (ni - ai) * y[i]
    dj = (nj - aj) * y[j]
    for t in range(n_act):
        k = act[t]
        G[k] += y[k] * (K[i, k] * di + K[j, k] * dj)


@numba.njit(cache=True, nogil=True)
def _be_shrunk(yk, ak, gk, C, gmax1, gmax2):
    if ak >= C:
        return -gk > gmax1 if yk > 0 else -gk > gmax2
    if ak <= 0.0:
        return gk > gmax2 if yk > 0 else gk > gmax1
    return False


@numba.njit(cache=True, nogil=True)
def _reconstruct_gradient(K, y, alpha, G, act, n_act, p):
    """G_k = −1 + Σ_j y_k y_j α_j K_kj for the shrunk (inactive) k: O((p − a) · #SV)."""
    if n_act == p:
        return
    n_sv = 0
    sv = np.empty(p, dtype=np.int64)
    for k in range(p):
        if alpha[k] > 0.0:
            sv[n_sv] = k
            n_sv += 1
    for t in range(n_act, p):
        k = act[t]
        s = 0.0
        for q in range(n_sv):
            m = sv[q]
            s += alpha[m] * y[m] * K[k, m]
        G[k] = y[k] * s - 1.0


@numba.njit(cache=True, nogil=True)
def _shrink(K, y, alpha, G, C, act, n_act, p, tol, unshrink):
    """libsvm's do_shrinking on the index array ``act``; returns (n_act, unshrink)."""
    gmax1 = -_INF
    gmax2 = -_INF
    for t in range(n_act):
        k = act[t]
        if y[k] > 0:
            if alpha[k] < C and -G[k] >= gmax1:
                gmax1 = -G[k]
            if alpha[k] > 0.0 and G[k] >= gmax2:
                gmax2 = G[k]
        else:
            if alpha[k] < C and -G[k] >= gmax2:
                gmax2 = -G[k]
            if alpha[k] > 0.0 and G[k] >= gmax1:
                gmax1 = G[k]
    if not unshrink and gmax1 + gmax2 <= tol * 10.0:
        unshrink = True
        _reconstruct_gradient(K, y, alpha, G, act, n_act, p)
        n_act = p
    t = 0
    while t < n_act:
        k = act[t]
        if _be_shrunk(y[k], alpha[k], G[k], C, gmax1, gmax2):
            n_act -= 1
            while n_act > t:
                m = act[n_act]
                if not _be_shrunk(y[m], alpha[m], G[m], C, gmax1, gmax2):
                    act[t] = m
                    act[n_act] = k
                    break
                n_act -= 1
        t += 1
    return n_act, unshrink


@numba.njit(cache=True, nogil=True)
def smo_solve(K, y, alpha, G, C, tol, max_iter, shrinking):
    """libsvm's Solver::Solve from the feasible (α, G = Qα − e), in place.

    Args:
        K: ``(p, p)`` float64 kernel (C-contiguous, symmetric); y: ``(p,)`` ±1 floats.
        alpha, G: ``(p,)`` the start (0 <= α <= C, yᵀα = 0) and its gradient Qα − e;
            on return the solution and its gradient (every entry valid).
        C: the box; tol: libsvm's ``eps``; max_iter: iteration cap (−1: none);
        shrinking: libsvm's shrinking heuristic.

    Returns:
        ``(iterations, converged)``; converged means m(α) − M(α) < tol.
    """
    p = len(y)
    act = np.arange(p)
    n_act = p
    unshrink = False
    counter = min(p, 1000) + 1
    it = 0
    converged = False
    while max_iter < 0 or it < max_iter:
        if shrinking:
            counter -= 1
            if counter == 0:
                counter = min(p, 1000)
                n_act, unshrink = _shrink(K, y, alpha, G, C, act, n_act, p, tol, unshrink)
        i, j = _select_working_set(K, y, alpha, G, C, act, n_act, tol)
        if i < 0:
            _reconstruct_gradient(K, y, alpha, G, act, n_act, p)
            n_act = p
            i, j = _select_working_set(K, y, alpha, G, C, act, n_act, tol)
            if i < 0:
                converged = True
                break
            counter = 1
        it += 1
        _update_pair(K, y, alpha, G, C, act, n_act, i, j)
    _reconstruct_gradient(K, y, alpha, G, act, n_act, p)
    return it, converged


@numba.njit(cache=True, nogil=True)
def rho(y, alpha, G, C):
    """libsvm's calculate_rho: mean of y_i ∇f_i over free α, else the midpoint of the bounds."""
    ub = _INF
    lb = -_INF
    n_free = 0
    s = 0.0
    for k in range(len(y)):
        yg = y[k] * G[k]
        if alpha[k] >= C:
            if y[k] < 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        elif alpha[k] <= 0.0:
            if y[k] > 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        else:
            n_free += 1
            s += yg
    if n_free > 0:
        return s / n_free
    return (ub + lb) / 2.0


