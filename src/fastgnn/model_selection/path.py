"""The C-SVM on a precomputed kernel, solved along a whole grid of C as one warm-started path.

The problem is exactly ``sklearn.svm.SVC(kernel="precomputed", C=C)`` for each
C: libsvm's dual with a bias term, one-vs-one for several classes (one binary
SVM per pair of classes, prediction by votes, ties to the smaller class), the
same KKT stopping rule (m(α) − M(α) < ``tol`` = 1e-3).  The first C is solved
by libsvm's SMO written again in numba (:mod:`._smo_kernels`).  Every later C
starts from the previous solution and is solved by a primal active-set method
(:mod:`._active_set_kernels`): the variables at the bound move to the new
bound, and the free ones are found by Newton steps on the free set whose
Cholesky factor is kept along the whole path and updated in O(|F|²) per
variable that enters or leaves it.  Along the GNTK authors' 120-value grid
consecutive C differ by 12 % and change the status of a few dozen variables,
where libsvm's two-variable steps need 10⁴-10⁶ iterations on these
ill-conditioned Grams.  The path stops once a solution has no dual variable
at its bound (the hard-margin solution, optimal for every larger C).  SMO
checks every answer with libsvm's rule and finishes any the active set gives
up on.

No maintained library solves warm-started precomputed-kernel paths: scikit-learn's
``SVC`` has no ``warm_start``, ThunderSVM none either, and the exact
piecewise-linear path algorithm (Hastie et al., *The entire regularization path
for the support vector machine*, JMLR 2004) exists only as the R package
``svmpath`` and is known to be fragile on non-separable data.

Public functions:

* :func:`svm_path` -- predictions (and decision values) for every C of a grid.
* :func:`svm_path_accuracy` -- test accuracy for every C (what the protocols consume).

Cost per binary problem with p training and m test items and free set F:
the first C's SMO, O(p) per iteration; then per C, O(p |F| + |F|²) per round
of entering variables and O(|F|²) per variable entering or leaving F (NCI1's
folds: |F| up to 1,600 of 3,700 and about 100 status changes per C); each C
adds O(m p) for the test decision values.  Memory: the ``(p, p)`` kernel of
each class pair (a copy for several classes, a view for two) and the factor,
at most ``(p + 1)²`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

__all__ = ["SvmPath", "svm_path", "svm_path_accuracy", "DEFAULT_TOL"]

#: libsvm's (and sklearn's ``SVC``) default stopping tolerance on the KKT violation.
DEFAULT_TOL = 1e-3


@dataclass
class SvmPath:
    """The solutions of one C path.

    Attributes:
        C: ``(G,)`` the grid, in the order given.
        classes: ``(k,)`` the sorted training labels.
        predictions: ``(G, m)`` predicted label of every test item at every C.
        decision: ``(G, m, k(k−1)/2)`` one-vs-one decision values (libsvm's sign:
            positive votes for the pair's first, smaller class), pairs in the
            order (0, 1), (0, 2), ..., (1, 2), ...
        iterations: ``(G, k(k−1)/2)`` SMO iterations per C and class pair (0 where
            the hard-margin solution was reached earlier and reused).
        n_at_bound: ``(G, k(k−1)/2)`` dual variables at the bound C.
        intercept: ``(G, k(k−1)/2)`` the bias −ρ of each binary SVM.
        dual_coef: with ``return_dual``, one ``(G, p_pair)`` array per class pair of
            y_i α_i (the pair's items ordered as in ``support_order``), else None.
        support_order: with ``return_dual``, each pair's training indices (first
            class, then second, in training order), else None.
    """

    C: np.ndarray
    classes: np.ndarray
    predictions: np.ndarray
    decision: np.ndarray
    iterations: np.ndarray
    n_at_bound: np.ndarray
    intercept: np.ndarray
    dual_coef: list | None = None
    support_order: list | None = None


def svm_path(
    k_train,
    y_train,
    k_test,
    C_grid,
    *,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
    shrinking: bool = True,
    warm_start: bool = True,
    return_dual: bool = False,
) -> SvmPath:
    """Solve ``SVC(kernel="precomputed", C=c)`` for every c of ``C_grid`` and predict ``k_test``.

    Args:
        k_train: ``(p, p)`` symmetric training kernel.
        y_train: ``(p,)`` labels (any sortable type; at least two classes).
        k_test: ``(m, p)`` kernel between the items to predict and the training items.
        C_grid: ``(G,)`` positive values of C, any order (solved in increasing order).
        tol: the KKT stopping tolerance (libsvm's ``-e``, sklearn's ``tol``).
        max_iter: SMO iterations per C and class pair; ``None``: no cap (as sklearn's default).
            It caps SMO only (the first C, and any C the active set gives up on); the active set
            stops by itself after 4p status changes.
        shrinking: libsvm's shrinking heuristic (same solution, usually faster).
        warm_start: start each C from the previous C's solution.  ``False`` starts
            every C from α = 0, as separate libsvm fits do (for comparison).
        return_dual: keep every dual solution (``(G, p)`` floats per class pair).

    Returns:
        An :class:`SvmPath`.  A pure function of its inputs: no state, no randomness.
    """
    k_train = np.asarray(k_train, dtype=np.float64)
    k_test = np.asarray(k_test, dtype=np.float64)
    y_train = np.asarray(y_train)
    grid = np.asarray(C_grid, dtype=np.float64).ravel()
    p = len(y_train)
    if k_train.shape != (p, p):
        raise ValueError(f"k_train must be ({p}, {p}) for {p} labels, got {k_train.shape}")
    if k_test.ndim != 2 or k_test.shape[1] != p:
        raise ValueError(f"k_test must be (m, {p}), got {k_test.shape}")
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError("C_grid must be a non-empty sequence of positive finite numbers")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    cap = -1 if max_iter is None else int(max_iter)
    if max_iter is not None and cap < 1:
        raise ValueError(f"max_iter must be None or a positive integer, got {max_iter!r}")
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise ValueError("y_train must hold at least two classes")

    order = np.argsort(grid, kind="stable")
    uniq, inverse = np.unique(grid[order], return_inverse=True)  # solve each distinct C once
    pairs = [(a, b) for a in range(len(classes)) for b in range(a + 1, len(classes))]
    m = k_test.shape[0]
    n_grid, n_pairs = len(uniq), len(pairs)
    decision = np.empty((n_grid, m, n_pairs))
    iterations = np.zeros((n_grid, n_pairs), dtype=np.int64)
    n_bound = np.zeros((n_grid, n_pairs), dtype=np.int64)
    intercept = np.zeros((n_grid, n_pairs))
    votes = np.zeros((n_grid, m, len(classes)), dtype=np.int64)
    rows = np.arange(m)
    duals, orders = ([], []) if return_dual else (None, None)
    for q, (a, b) in enumerate(pairs):
        # libsvm groups a pair's items by class (first class +1), in their training order.
        idx = np.concatenate([np.flatnonzero(y_train == classes[a]), np.flatnonzero(y_train == classes[b])])
        n_a = int(np.count_nonzero(y_train == classes[a]))
        if len(pairs) == 1 and np.array_equal(idx, np.arange(p)):
            k_sub, t_sub = np.ascontiguousarray(k_train), np.ascontiguousarray(k_test)
        else:
            k_sub = np.ascontiguousarray(k_train[np.ix_(idx, idx)])
            t_sub = np.ascontiguousarray(k_test[:, idx])
        y_sub = np.where(np.arange(len(idx)) < n_a, 1.0, -1.0)
        with threadpool_limits(limits=1, user_api="blas"):  # small factorisations: threads only contend
            dec, coef = _binary_path(k_sub, y_sub, uniq, t_sub, float(tol), cap, bool(shrinking),
                                     bool(warm_start), iterations[:, q], n_bound[:, q], intercept[:, q],
                                     return_dual)
        decision[:, :, q] = dec
        if return_dual:
            duals.append(coef)
            orders.append(idx)
        win = np.where(dec > 0, a, b)  # (G, m)
        for g in range(n_grid):
            np.add.at(votes[g], (rows, win[g]), 1)
    pred_sorted = classes[np.argmax(votes, axis=2)]  # first maximum: ties to the smaller class
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    sel = inverse[back]  # grid position -> distinct-C index
    if return_dual:
        duals = [d[sel] for d in duals]
    return SvmPath(C=grid, classes=classes, predictions=pred_sorted[sel], decision=decision[sel],
                   iterations=iterations[sel], n_at_bound=n_bound[sel], intercept=intercept[sel],
                   dual_coef=duals, support_order=orders)


def _binary_path(K, y, grid, K_test, tol, cap, shrinking, warm, iters, n_bound, bias, return_dual):
    """One binary SVM along the increasing ``grid``: ``(G, m)`` decision values (and ``(G, p)`` y∘α).

    The first C is solved by libsvm's SMO from α = 0.  Every later C starts from the
    previous solution: the variables at the bound move to the new bound and the
    primal active-set solver (:class:`_ActiveSet`, its Cholesky factor kept along the
    path) solves from there.  SMO (:func:`._smo_kernels.smo_solve`) then checks libsvm's
    stopping rule, which it finds met at once unless the active set gave up; if it has to
    work and has not converged after ``_chunk(p)`` iterations, Newton steps on the free set
    (:func:`_newton_steps`) help it, and so on.  ``iters`` (SMO iterations), ``n_bound`` and
    ``bias`` are filled in place.
    """
    from fastgnn.model_selection import _smo_kernels as kernels

    p = len(y)
    alpha = np.zeros(p)
    G = -np.ones(p)
    dec = np.empty((len(grid), K_test.shape[0]))
    coefs = np.empty((len(grid), p)) if return_dual else None
    c_prev = 0.0
    active = _ActiveSet(K, y)
    for g, C in enumerate(grid):
        if not warm:
            alpha[:] = 0.0
            G[:] = -1.0
        elif c_prev > 0.0:
            active.solve(alpha, G, c_prev, C, tol)
        total = 0
        while True:
            budget = _chunk(p, int(np.count_nonzero((alpha > 0) & (alpha < C)))) if warm else -1
            if cap >= 0:
                budget = min(budget, cap - total) if budget >= 0 else cap - total
            it, converged = kernels.smo_solve(K, y, alpha, G, C, tol, budget, shrinking)
            total += it
            if converged or (cap >= 0 and total >= cap):
                break
            _newton_steps(K, y, alpha, G, C)
        iters[g] = total
        c_prev = C
        coef = alpha * y
        rho = kernels.rho(y, alpha, G, C)
        n_bound[g] = int(np.count_nonzero(alpha >= C))
        bias[g] = -rho
        dec[g] = K_test @ coef - rho
        if return_dual:
            coefs[g] = coef
        if converged and n_bound[g] == 0:
            # Hard margin: no α at its bound, so this solution is optimal for every larger C.
            dec[g + 1:] = dec[g]
            bias[g + 1:] = bias[g]
            iters[g + 1:] = 0
            n_bound[g + 1:] = 0
            if return_dual:
                coefs[g + 1:] = coef
            break
    return dec, coefs


class _ActiveSet:
    """The primal active-set solver of :mod:`._active_set_kernels` along a path, with its factor.

    The Cholesky factor of Q_FF + diag(ε_F) (:func:`_ridge`) is kept from one C to the next; before each solve it is
    brought to the current free set {0 < α < C} by O(|F|²) updates per changed variable, or
    refactorised (LAPACK, O(|F|³)) when more than an eighth of the set changed (after SMO).
    """

    max_enter = 32  # most variables entering the free set per round (then one exact gradient)
    max_free = 6000  # largest free set factorised (288 MB); beyond it SMO goes on alone

    def __init__(self, K, y):
        self.K, self.y = K, y
        p = len(y)
        self.ridge = _ridge(np.diag(K))
        self.free = np.zeros(p + 1, dtype=np.int64)
        self.n_free = 0
        cap = min(p + 1, self.max_free + 1, 256)
        self.U = np.zeros((cap, cap))
        self.events = 0
        self.bound_mask = np.zeros(p, dtype=bool)  # the variables at the bound, and
        self.bound_sum = np.zeros(p)  # Σ of y_i K[i] over them
        self.calls = 0

    def _grow(self, need: int) -> bool:
        """Make room for ``need`` free variables; False where that passes ``max_free``."""
        if need > self.max_free + 1:
            return False
        cap = min(len(self.y) + 1, self.max_free + 1, max(need, 2 * self.U.shape[0]))
        if cap > self.U.shape[0]:
            U = np.zeros((cap, cap))
            n = self.n_free
            U[:n, :n] = self.U[:n, :n]
            self.U = U
        return True

    def _reconcile(self, alpha, C) -> bool:
        """Bring the factor to the free set of α; False where it is larger than ``max_free``."""
        from fastgnn.model_selection import _active_set_kernels as ak

        now_mask = (alpha > 0) & (alpha < C)
        listed = self.free[:self.n_free]
        listed_mask = np.zeros(len(alpha), dtype=bool)
        listed_mask[listed] = True
        keep = now_mask[listed]
        added = np.flatnonzero(now_mask & ~listed_mask)
        now = np.flatnonzero(now_mask)
        n_change = int(np.count_nonzero(~keep)) + len(added)
        if n_change == 0:
            return True
        if not self._grow(len(now) + 1):
            self.n_free = 0
            return False
        if n_change > max(16, len(now) // 8):  # refactorise from scratch
            n = len(now)
            y_f = self.y[now]
            h = self.K[np.ix_(now, now)] * np.outer(y_f, y_f)
            h[np.diag_indices(n)] += self.ridge[now]
            self.U[:n, :n] = scipy.linalg.cholesky(h, lower=False, check_finite=False)
            self.free[:n] = now
            self.n_free = n
            return True
        for pos in np.flatnonzero(~keep)[::-1]:  # remove from the back: positions stay valid
            self.n_free = ak.chol_remove(self.U, self.n_free, int(pos))
            self.free[pos:self.n_free] = self.free[pos + 1:self.n_free + 1]
        for j in added:
            f = self.free[:self.n_free]
            h = self.y[f] * self.y[j] * self.K[j, f]
            self.n_free = ak.chol_append(self.U, self.n_free, h, float(self.K[j, j]) + float(self.ridge[j]))
            self.free[self.n_free - 1] = j
        return True

    def _shift_bound(self, alpha, G, c_prev, C) -> None:
        """Move the variables at the bound c_prev to C (in place), with G += (C − c_prev) Q e_B.

        s = Σ_{i ∈ B} y_i K[i] is kept from one C to the next and corrected by the rows of the
        variables that joined or left B (O(p) each), recomputed whole (one O(p²) product) when
        more than half of B changed and every 16 calls, against drift."""
        at = alpha >= c_prev
        changed = np.flatnonzero(at != self.bound_mask)
        self.calls += 1
        if len(changed) > max(8, int(np.count_nonzero(at)) // 2) or self.calls % 16 == 0:
            self.bound_sum = self.K @ np.where(at, self.y, 0.0)
        elif len(changed):
            self.bound_sum += np.where(at[changed], self.y[changed], -self.y[changed]) @ self.K[changed]
        self.bound_mask = at
        G += (C - c_prev) * self.y * self.bound_sum
        alpha[at] = C

    def solve(self, alpha, G, c_prev, C, tol) -> int:
        """Move the bound from c_prev to C and solve there (in place); returns 0 when converged."""
        from fastgnn.model_selection import _active_set_kernels as ak

        start = (alpha.copy(), G.copy())
        self._shift_bound(alpha, G, c_prev, C)
        status = 1
        while self._reconcile(alpha, C):
            self.n_free, events, status = ak.active_set_solve(
                self.K, self.y, alpha, G, C, tol, self.ridge, self.free, self.n_free, self.U,
                max(64, 4 * len(self.y)), self.max_enter)
            self.events += events
            if status != 2 or not self._grow(self.n_free + 64):
                break
        if status != 0 and abs(float(self.y @ alpha)) > 1e-12 * C * len(self.y):
            alpha[:], G[:] = start  # left infeasible: SMO needs yᵀα = 0, so start it from c_prev's α
        return status


def _ridge(diag: np.ndarray) -> np.ndarray:
    """The ε_i of the factorised Q_FF + diag(ε) (active set and Newton steps):
    ``ε_i = min(1e-10 · mean(Q_ii), 1e-7 · max(Q_ii, 1e-9 · mean))``.

    That is one ε, 1e-10 of the mean diagonal (the rule before session 15), for every variable whose own Q_ii = K_ii
    it leaves below 1e-7 of, so a Gram whose self-kernels span less than 1e3 is solved exactly as before (the
    paper's six sets: their near-tie predictions do not move); and 1e-7 of its own K_ii for a variable smaller
    than 1e-3 of the mean, which the one ε outweighed on a raw Gram whose self-kernels span 1e11 (COLLAB's,
    REDDIT-BINARY's): the Newton directions went wrong and SMO took hundreds of thousands of iterations per C to
    repair them (``benchmarks/svm_raw_ridge.py``).  Floored at 1e-16 of the mean (a zero self-kernel)."""
    d = np.abs(np.asarray(diag, dtype=np.float64))
    mean = float(np.mean(d)) if len(d) else 0.0
    return np.minimum(1e-10 * mean, 1e-7 * np.maximum(d, 1e-9 * mean)) + 1e-300


def _chunk(p: int, n_free: int) -> int:
    """SMO iterations before a round of Newton steps: about as much work as the round (an SMO
    iteration reads ~4p numbers, a Cholesky of the free set costs |F|³/3), and at least 100.
    Either alone can be slow: on a PROTEINS fold (p = 1000, |F| < 100, ill-conditioned) SMO alone
    takes 290 s for the 120-value path and Newton rounds every 100-300 iterations 1-2 s; on NCI1
    (p = 3700, |F| up to 1000+) Newton rounds every few hundred iterations cost 10-30 s per C."""
    return max(100, n_free**3 // (12 * p))


def _newton_steps(K, y, alpha, G, C, max_steps: int = 8):
    """Active-set Newton steps on the free variables, in place (α and G = Qα − e).

    With the variables at a bound held there, the dual restricted to the free set F
    is an equality-constrained quadratic; its minimiser solves

        [Q_FF  y_F] [α_F]   [e_F − Q_FB α_B]
        [y_Fᵀ   0 ] [ b ] = [   −y_Bᵀ α_B  ]

    (least squares: Q_FF is often singular, GNTK Grams hold duplicate graphs).
    The step toward it is line-searched exactly (the objective is quadratic along
    it) and cut where a variable reaches its bound, which then leaves F; a step
    that does not descend is not taken.  Each step O(p |F| + |F|³) (G is updated by
    the changed columns only); SMO, run
    after, fixes variables whose bound state was wrong.  On the ill-conditioned
    Grams of non-separable folds (large C) this replaces millions of SMO
    iterations by a few linear solves.

    Still reached after the active set (issue 20 asked; ``benchmarks/path_newton_rounds.py``,
    ``svm_cv`` at L=4, R=2, uniform, jk): on PTC 83 rounds in the paper protocol and 370 in the
    nested one, IMDB-BINARY 93 / 421, IMDB-MULTI 287 / 1,297, PROTEINS 186 / 826, NCI1 610 /
    2,891, of which 55-88 % changed α; none on MUTAG.  The active set hands SMO answers it gave up on often
    enough that these rounds stay.
    """
    changed = False
    for _ in range(max_steps):
        free = np.flatnonzero((alpha > 0) & (alpha < C))
        if len(free) == 0:
            break
        y_f = y[free]
        q_ff = K[np.ix_(free, free)] * np.outer(y_f, y_f)
        g_f = G[free]
        # Newton direction d on F with y_Fᵀ d = 0: [Q_FF y_F; y_Fᵀ 0] [d; db] = [−g_F; 0], by
        # Cholesky of Q_FF + diag(ε_F) (Q_FF is often singular; :func:`_ridge`).
        n = len(free)
        q_reg = q_ff + np.diag(_ridge(np.diagonal(q_ff)))
        try:
            factor = scipy.linalg.cho_factor(q_reg, check_finite=False)
        except np.linalg.LinAlgError:
            break
        u = scipy.linalg.cho_solve(factor, -g_f, check_finite=False)
        v = scipy.linalg.cho_solve(factor, y_f, check_finite=False)
        d = u - v * (float(y_f @ u) / float(y_f @ v))
        d -= y_f * (y_f @ d) / n  # keep yᵀα = 0 exactly
        slope = float(g_f @ d)
        curv = float(d @ q_ff @ d)
        if not slope < 0:
            break
        step = -slope / curv if curv > 0 else np.inf
        # Largest step keeping 0 <= α_F <= C.
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(d > 0, (C - alpha[free]) / d, np.where(d < 0, -alpha[free] / d, np.inf))
        hit = int(np.argmin(room))
        limit = float(room[hit])
        if not np.isfinite(min(step, limit)):
            break
        s = min(step, limit)
        old = alpha[free]
        new = np.clip(old + s * d, 0.0, C)
        if limit <= step:  # the blocking variable lands exactly on its bound
            new[hit] = C if d[hit] > 0 else 0.0
        alpha[free] = new
        # G += Q[:, F] Δα_F, with K symmetric: rows F of K (contiguous), O(p |F|).
        G += y * (((new - old) * y_f) @ K[free])
        changed = True
        if limit > step:  # the unconstrained minimiser on F was reached
            break
    return changed


def svm_path_accuracy(k_train, y_train, k_test, y_test, C_grid, **kwargs) -> np.ndarray:
    """``(G,)`` test accuracy of :func:`svm_path` at every C of ``C_grid`` (keywords passed on)."""
    path = svm_path(k_train, y_train, k_test, C_grid, **kwargs)
    return np.mean(path.predictions == np.asarray(y_test)[None, :], axis=1)
