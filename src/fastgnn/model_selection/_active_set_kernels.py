"""numba kernels of :mod:`fastgnn.model_selection.path`: a primal active-set solver for one C.

The problem is the one of :mod:`._smo_kernels` (libsvm's dual with a bias):

    min_α  ½ αᵀQα − eᵀα   s.t.  0 <= α_i <= C,  yᵀα = 0,   Q_ij = y_i y_j K_ij,

with G = Qα − e.  The variables are split into the free set F (0 < α < C) and
the bounded ones.  With the bounded ones held, the minimiser over F solves the
equality-constrained system

    [Q_FF  y_F] [d]   [ −G_F]
    [y_Fᵀ   0 ] [β] = [−yᵀα ],

so that after the step G_F = −β y_F: every free variable then has −y_i G_i = β,
β being the bias b of libsvm's decision value (b = −ρ).  The step toward that
minimiser is cut where a free variable reaches a bound (it leaves F);
when the minimiser is reached and some bounded variable violates its
optimality condition against β, the most violating ones enter F.  This is the
classical primal active-set method; it ends on libsvm's own stopping rule
(m(α) − M(α) < tol, computed on the exact gradient).

What makes it fast along a C path is that the Cholesky factor of
H = Q_FF + E (E = diag(ε_i), a tiny ridge, :func:`fastgnn.model_selection.path._ridge`: GNTK Grams
are numerically singular and hold duplicate graphs; on a raw Gram, whose self-kernels can span ten
orders of magnitude, one ε for all would swamp the small graphs' rows) is kept across calls and
updated in O(|F|²) per variable that enters or leaves F, instead of being refactorised in O(|F|³): consecutive values
of the GNTK authors' grid change the status of ~1-150 of NCI1's 3,700 variables,
where SMO needs 10⁴-10⁶ two-variable steps on these ill-conditioned kernels.

The factor is stored as U = Lᵀ (upper triangular, row-major, ``U[:n, :n]``), so
that every sweep (the two triangular solves, the rank-one update after a
removal) reads contiguous rows.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["active_set_solve", "chol_append", "chol_remove", "violation_gap"]

_INF = np.inf


@numba.njit(cache=True, nogil=True)
def chol_append(U, n, h, diag):
    """Append a row and column to the factor: U[:n+1, :n+1]ᵀ U[:n+1, :n+1] = [[H, h], [hᵀ, diag]].

    Solves Uᵀ l = h (O(n²), by rows of U) and sets the new column to (l, √(diag − lᵀl)); a
    non-positive Schur complement (rounding: the ridge keeps it >= ε in exact arithmetic) is
    clamped to 1e-3 of ``diag``'s ridge share by the caller's choice of ``diag``.  Returns n + 1.
    """
    r = h.copy()
    for j in range(n):
        lj = r[j] / U[j, j]
        r[j] = lj
        for i in range(j + 1, n):
            r[i] -= lj * U[j, i]
    s = diag
    for j in range(n):
        U[j, n] = r[j]
        s -= r[j] * r[j]
    floor = 1e-12 * diag
    U[n, n] = np.sqrt(s if s > floor else floor)
    return n + 1


@numba.njit(cache=True, nogil=True)
def chol_remove(U, n, k):
    """Delete row and column k of the factored matrix, in O(n²): returns n − 1.

    Deleting row and column k of H = UᵀU leaves UᵀU without row k of U, whose
    trailing part x = U[k, k+1:] is folded back into the trailing block by a
    rank-one update (U₂₂ᵀU₂₂ + xxᵀ), sweeping rows of U.
    """
    m = n - k - 1
    x = U[k, k + 1:n].copy()
    # Close the gap: rows above k lose column k; rows below move up and left by one.
    for i in range(k):
        for j in range(k, n - 1):
            U[i, j] = U[i, j + 1]
    for i in range(k, n - 1):
        for j in range(i, n - 1):
            U[i, j] = U[i + 1, j + 1]
    # Rank-one update of the trailing m × m block (now at rows/cols k..n−2) with x.
    for t in range(m):
        r0 = k + t
        a = U[r0, r0]
        r = np.sqrt(a * a + x[t] * x[t])
        c = r / a
        s = x[t] / a
        U[r0, r0] = r
        for q in range(t + 1, m):
            j = k + q
            U[r0, j] = (U[r0, j] + s * x[q]) / c
            x[q] = c * x[q] - s * U[r0, j]
    return n - 1


@numba.njit(cache=True, nogil=True)
def _solve_two(U, n, r1, r2):
    """H⁻¹ r1 and H⁻¹ r2 with H = UᵀU, in place (two sweeps over U for both right-hand sides)."""
    for j in range(n):  # Uᵀ z = r (forward), column j of Uᵀ is row j of U
        z1 = r1[j] / U[j, j]
        z2 = r2[j] / U[j, j]
        r1[j] = z1
        r2[j] = z2
        for i in range(j + 1, n):
            u = U[j, i]
            r1[i] -= z1 * u
            r2[i] -= z2 * u
    for i in range(n - 1, -1, -1):  # U x = z (backward), dot products with rows of U
        s1 = r1[i]
        s2 = r2[i]
        for j in range(i + 1, n):
            u = U[i, j]
            s1 -= u * r1[j]
            s2 -= u * r2[j]
        r1[i] = s1 / U[i, i]
        r2[i] = s2 / U[i, i]


@numba.njit(cache=True, nogil=True)
def _maximal_pair(y, alpha, G, C):
    """libsvm's maximal violating pair (i, j, m(α) − M(α)): i the argmax over I_up and j the
    argmin over I_low of −y_k G_k."""
    i_up = -1
    j_low = -1
    m_up = -_INF
    m_low = _INF
    for k in range(len(y)):
        v = -y[k] * G[k]
        if (y[k] > 0 and alpha[k] < C) or (y[k] < 0 and alpha[k] > 0.0):
            if v > m_up:
                m_up = v
                i_up = k
        if (y[k] < 0 and alpha[k] < C) or (y[k] > 0 and alpha[k] > 0.0):
            if v < m_low:
                m_low = v
                j_low = k
    return i_up, j_low, m_up - m_low


@numba.njit(cache=True, nogil=True)
def violation_gap(y, alpha, G, C):
    """libsvm's m(α) − M(α): its solver stops when this is below ``tol``."""
    return _maximal_pair(y, alpha, G, C)[2]


@numba.njit(cache=True, nogil=True)
def _sync_gradient(K, y, G, delta, touched, n_touched, is_touched):
    """G += Q Δα for the touched variables (Δα in ``delta``, then reset): O(p · n_touched).

    Returns 0, the new number of touched variables.  K is symmetric, so column i of Q is
    read as the contiguous row K[i]."""
    p = len(y)
    for t in range(n_touched):
        i = touched[t]
        is_touched[i] = False
        w = delta[i] * y[i]
        delta[i] = 0.0
        if w != 0.0:
            for k in range(p):
                G[k] += y[k] * K[i, k] * w
    return 0


@numba.njit(cache=True, nogil=True)
def _enter(K, y, G, U, ridge, free, n_free, g_free, in_free, j):
    """Variable j enters F at its end: the factor grows by Q_Fj (O(|F|²)); returns the new |F|."""
    h = np.empty(n_free)
    for t in range(n_free):
        h[t] = y[free[t]] * y[j] * K[j, free[t]]
    n_free = chol_append(U, n_free, h, K[j, j] + ridge[j])
    free[n_free - 1] = j
    g_free[n_free - 1] = G[j]
    in_free[j] = True
    return n_free


@numba.njit(cache=True, nogil=True)
def active_set_solve(K, y, alpha, G, C, tol, ridge, free, n_free, U, max_events, max_enter):
    """Solve for one C from a feasible (α, G) with the factor of its free set; in place.

    Args:
        K: ``(p, p)`` C-contiguous symmetric kernel; y: ``(p,)`` ±1 floats.
        alpha, G: α in the box (0 <= α <= C) and G = Qα − e, updated in place; yᵀα ≠ 0 is
            allowed (the first step restores it unless a bound cuts it, so check on failure).
        C: the box.  tol: libsvm's stopping tolerance on m(α) − M(α).
        ridge: ``(p,)`` the ε_i of H = Q_FF + diag(ε_F).
        free, n_free: the free set in factor order (``free[:n_free]``): {i : 0 < α_i < C} on
            entry (on return it may hold a variable that a full step put exactly on a bound).
            U: ``(cap, cap)`` with U[:n_free, :n_free] the factor of its H.
        max_events: give up after this many variables entered or left F.
        max_enter: most variables entering F at once.

    Returns:
        ``(n_free, events, status)``: status 0 converged (m − M < tol on the exact gradient),
        1 gave up (too many events, empty free set, or no progress: the caller falls back to
        SMO, which starts from the α reached), 2 the factor's capacity is reached (G exact).
    """
    p = len(y)
    cap = U.shape[0]
    delta = np.zeros(p)  # Δα since G was last exact
    touched = np.empty(p, dtype=np.int64)
    is_touched = np.zeros(p, dtype=np.bool_)
    n_touched = 0
    fresh = np.zeros(p, dtype=np.bool_)  # entered in the latest round
    events = 0
    enter = max_enter
    g_free = np.empty(cap)  # G of the free variables, kept current step by step
    in_free = np.zeros(p, dtype=np.bool_)  # membership of F (a member may sit on a bound)
    for t in range(n_free):
        g_free[t] = G[free[t]]
        in_free[free[t]] = True
    u = np.empty(cap)
    v = np.empty(cap)
    beta = 0.0
    while True:
        if n_free == 0:
            # Nothing free (all at a bound, or yᵀα broken by the bound's move): start F with
            # libsvm's maximal violating pair, i from I_up and j from I_low.
            n_touched = _sync_gradient(K, y, G, delta, touched, n_touched, is_touched)
            resid = 0.0
            for i in range(p):
                resid += y[i] * alpha[i]
            if violation_gap(y, alpha, G, C) < tol and abs(resid) <= 1e-12 * C * p:
                return n_free, events, 0
            i_up, j_low, _ = _maximal_pair(y, alpha, G, C)
            for j in (i_up, j_low):
                if j >= 0 and (n_free == 0 or free[0] != j):
                    n_free = _enter(K, y, G, U, ridge, free, n_free, g_free, in_free, j)
                    events += 1
            if n_free == 0:
                break
        # ---- Newton direction on F: d = u − β v, u = H⁻¹(−G_F), v = H⁻¹ y_F.
        for t in range(n_free):
            u[t] = -g_free[t]
            v[t] = y[free[t]]
        _solve_two(U, n_free, u, v)
        yu = 0.0
        yv = 0.0
        for t in range(n_free):
            yu += y[free[t]] * u[t]
            yv += y[free[t]] * v[t]
        resid = 0.0  # yᵀα: moving the bound from c_prev to C breaks it; d restores it
        for i in range(p):
            resid += y[i] * alpha[i]
        beta = (yu + resid) / yv
        step = 1.0
        hit = -1
        for t in range(n_free):
            d = u[t] - beta * v[t]
            u[t] = d
            a = alpha[free[t]]
            if d > 0.0:
                room = (C - a) / d
            elif d < 0.0:
                room = -a / d
            else:
                continue
            if room < step:
                step = room
                hit = t
        # ---- Take the step; G_F follows from Q_FF d = H d − E d = −G_F − β y_F − E d.
        for t in range(n_free):
            i = free[t]
            d = step * u[t]
            alpha[i] += d
            delta[i] += d
            if not is_touched[i]:
                is_touched[i] = True
                touched[n_touched] = i
                n_touched += 1
            g_free[t] = (1.0 - step) * g_free[t] - step * (beta * y[i] + ridge[i] * u[t])
        if hit >= 0:
            # The blocking variable, and any that reached a bound with it (duplicate graphs
            # move together), leave F: from the back, so that positions stay valid.
            slack = 1e-12 * C
            for t in range(n_free - 1, -1, -1):
                i = free[t]
                a = alpha[i]
                if t == hit or (u[t] > 0.0 and a >= C - slack) or (u[t] < 0.0 and a <= slack):
                    target = C if u[t] > 0.0 else 0.0
                    delta[i] += target - a
                    alpha[i] = target
                    if fresh[i] and step <= 0.0:
                        enter = max(1, enter // 2)  # entered together with others, left at once
                    n_free = chol_remove(U, n_free, t)
                    in_free[i] = False
                    for q in range(t, n_free):
                        free[q] = free[q + 1]
                        g_free[q] = g_free[q + 1]
                        u[q] = u[q + 1]
                    events += 1
            if events >= max_events:
                break
            continue
        # ---- Minimiser on F reached: exact gradient, stopping rule, entering variables.
        n_touched = _sync_gradient(K, y, G, delta, touched, n_touched, is_touched)
        for t in range(n_free):
            g_free[t] = G[free[t]]
        if violation_gap(y, alpha, G, C) < tol:
            return n_free, events, 0
        # Bounded variables violating their condition against β, most violating first.
        viol = np.zeros(p)
        n_viol = 0
        for i in range(p):
            fresh[i] = False
            a = alpha[i]
            if in_free[i] or 0.0 < a < C:
                continue
            g = G[i] + beta * y[i]
            w = -g if a <= 0.0 else g
            if w > 0.5 * tol:
                viol[i] = w
                n_viol += 1
        if n_viol == 0:
            return n_free, events, 1  # the free set itself is off (rounding): SMO polishes
        if n_free + 1 >= cap:
            return n_free, events, 2  # the caller grows U and calls again
        order = np.argsort(-viol)
        k = min(enter, n_viol, cap - 1 - n_free)
        for q in range(k):
            j = order[q]
            n_free = _enter(K, y, G, U, ridge, free, n_free, g_free, in_free, j)
            fresh[j] = True
            events += 1
        if enter < max_enter:
            enter = min(max_enter, 2 * enter)
        if events >= max_events:
            break
    _sync_gradient(K, y, G, delta, touched, n_touched, is_touched)
    return n_free, events, 1
