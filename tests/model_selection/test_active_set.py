"""The primal active-set kernels of the C path: Cholesky updates against LAPACK, solutions against KKT."""

import numpy as np
import pytest
from test_svm_path import GRID, dual_objective, problem

from fastgnn.model_selection import _active_set_kernels as ak
from fastgnn.model_selection import svm_path
from fastgnn.model_selection.path import _ActiveSet


def _spd(n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, n + 3))
    return a @ a.T + 1e-3 * np.eye(n)


def _factor_of(h):
    u = np.zeros((len(h) + 4, len(h) + 4))
    n = 0
    for j in range(len(h)):
        n = ak.chol_append(u, n, h[j, :j].copy(), float(h[j, j]))
    return u, n


def test_append_builds_the_lapack_factor():
    h = _spd(30)
    u, n = _factor_of(h)
    np.testing.assert_allclose(u[:n, :n], np.linalg.cholesky(h).T, rtol=1e-10, atol=1e-12)
    assert np.all(np.tril(u[:n, :n], -1) == 0)


@pytest.mark.parametrize("drop", [[0], [29], [7, 13, 20], list(range(0, 30, 3))])
def test_remove_gives_the_factor_of_the_submatrix(drop):
    h = _spd(30, seed=1)
    u, n = _factor_of(h)
    keep = [i for i in range(30) if i not in drop]
    for pos in sorted(drop, reverse=True):
        n = ak.chol_remove(u, n, pos)
    sub = h[np.ix_(keep, keep)]
    np.testing.assert_allclose(u[:n, :n], np.linalg.cholesky(sub).T, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(u[:n, :n].T @ u[:n, :n], sub, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("duplicates", [0, 10])
def test_active_set_alone_meets_libsvms_stopping_rule(duplicates):
    """After the first C, every C of the path is solved by the active set (no SMO iteration left),
    and the answer meets libsvm's rule on a gradient recomputed from scratch."""
    k, y = problem(duplicates=duplicates)
    path = svm_path(k, y, k[:5], GRID, return_dual=True)
    assert np.all(path.iterations[1:] == 0)
    y_pm = np.where(y[path.support_order[0]] == 0, 1.0, -1.0)
    kk = k[np.ix_(path.support_order[0], path.support_order[0])]
    for g, c in enumerate(GRID):
        alpha = path.dual_coef[0][g] * y_pm
        grad = y_pm * (kk @ (alpha * y_pm)) - 1.0
        assert ak.violation_gap(y_pm, alpha, grad, c) < 1e-3
        assert np.all((alpha >= 0) & (alpha <= c))
        assert abs(y_pm @ alpha) <= 1e-9 * c * len(y_pm)


def test_the_factor_follows_the_free_set_after_smo_moved_it():
    """_ActiveSet reconciles its factor with whatever free set α has (small or large change)."""
    k, y = problem(n=60, seed=3)
    y_pm = np.where(y == 0, 1.0, -1.0)
    solver = _ActiveSet(np.ascontiguousarray(k), y_pm)
    rng = np.random.default_rng(0)
    c = 1.0
    for size in (5, 40, 38, 10):
        alpha = np.zeros(60)
        alpha[rng.choice(60, size, replace=False)] = 0.5
        solver._reconcile(alpha, c)
        free = solver.free[:solver.n_free]
        assert set(free) == set(np.flatnonzero(alpha == 0.5))
        h = k[np.ix_(free, free)] * np.outer(y_pm[free], y_pm[free]) + np.diag(solver.ridge[free])
        u = solver.U[:len(free), :len(free)]
        np.testing.assert_allclose(u.T @ u, h, rtol=1e-9, atol=1e-9)


def test_free_sets_beyond_max_free_fall_back_to_smo(monkeypatch):
    """With the factor capped below the free set, SMO solves alone: the same decisions as without."""
    k, y = problem(duplicates=10)
    full = svm_path(k, y, k[:40], GRID)
    monkeypatch.setattr(_ActiveSet, "max_free", 4)
    capped = svm_path(k, y, k[:40], GRID)
    assert capped.iterations[1:].sum() > 0  # SMO did the work the active set could not
    clear = np.abs(full.decision) > 1e-2
    np.testing.assert_array_equal(np.sign(capped.decision[clear]), np.sign(full.decision[clear]))


def test_a_raw_gram_whose_self_kernels_span_ten_orders_is_solved_as_libsvm_and_needs_less_smo(monkeypatch):
    """A raw GNTK Gram's self-kernels span up to 1e11 (COLLAB's): one ridge ε from the mean diagonal swamped the
    small items' rows of the active set's factor, its steps went wrong and SMO did the work.  With ε_i relative to
    each K_ii (active set and Newton steps alike, ``path._ridge``) the path gives libsvm's predictions at every C and
    leaves SMO fewer iterations than one ε did."""
    from sklearn.svm import SVC

    import fastgnn.model_selection.path as path_module

    k0, y = problem(n=120, duplicates=10, seed=2)
    d = np.random.default_rng(0).permutation(np.logspace(0, 5, 120))
    k = k0 * np.outer(d, d)
    k /= k.min()  # the raw normalisation: divided by the smallest entry
    tr, te = np.arange(90), np.arange(90, 120)
    grid = np.logspace(-2, 4, 30)
    path = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], grid, return_dual=True)
    for g, c in enumerate(grid):
        model = SVC(kernel="precomputed", C=c).fit(k[np.ix_(tr, tr)], y[tr])
        np.testing.assert_array_equal(model.predict(k[np.ix_(te, tr)]), path.predictions[g])
        coef = np.zeros(len(tr))
        coef[model.support_] = model.dual_coef_[0]
        ours = np.zeros(len(tr))
        ours[path.support_order[0]] = path.dual_coef[0][g]
        f_lib = dual_objective(k[np.ix_(tr, tr)], None, coef)
        f_path = dual_objective(k[np.ix_(tr, tr)], None, ours)
        assert f_path <= f_lib + 1e-4 * abs(f_lib)  # as good a minimum as libsvm's
    def one_epsilon(diag):  # the former rule
        return np.full(len(diag), 1e-10 * float(np.mean(diag)) + 1e-300)

    monkeypatch.setattr(path_module, "_ridge", one_epsilon)
    before = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], grid)
    assert path.iterations.sum() * 2 < before.iterations.sum()


def test_the_ridge_is_the_former_single_epsilon_unless_it_would_outweigh_a_variable():
    """ε_i = min(1e-10 · mean, 1e-7 · K_ii): a diagonal spanning under 1e3 gets the former single ε exactly (so
    such Grams are solved bitwise as before), a variable below 1e-3 of the mean 1e-7 of its own K_ii."""
    from fastgnn.model_selection.path import _ridge

    narrow = np.array([1.0, 3.0, 16.0, 40.0])
    assert np.array_equal(_ridge(narrow), np.full(4, 1e-10 * narrow.mean() + 1e-300))
    assert np.array_equal(_ridge(np.ones(7)), np.full(7, 1e-10 + 1e-300))  # a cosine Gram
    wide = np.array([1e3, 1e5, 1e9, 1e11])  # a raw Gram's self-kernels: mean 2.5e10
    eps = _ridge(wide)
    assert np.allclose(eps[:2], 1e-7 * wide[:2]) and np.all(eps[2:] == 1e-10 * wide.mean() + 1e-300)
    assert np.all(eps <= 1e-7 * wide) and _ridge(np.array([0.0, 1.0]))[0] > 0  # a zero diagonal: still positive
