"""The warm-started C path solver against libsvm (sklearn.svm.SVC), and the protocols built on it."""

import numpy as np
import pytest
from sklearn.svm import SVC

from fastgnn.model_selection import svm_path

GRID = np.logspace(-2, 3, 12)


def problem(n=120, n_classes=2, spread=1.5, seed=0, duplicates=0):
    """An RBF Gram (+0.1, entrywise positive like a GNTK) of overlapping blobs, and its labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = rng.normal(size=(n_classes, 5))[y] * 1.5 + spread * rng.normal(size=(n, 5))
    if duplicates:  # identical items, some with different labels: a singular, non-separable Gram
        x[-duplicates:] = x[:duplicates]
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 10.0) + 0.1
    return k, y


def dual_objective(k, y_pm, coef):
    """½ Σ_ij c_i c_j K_ij − Σ_i |c_i| for c = y∘α (libsvm's dual, minimised)."""
    return 0.5 * coef @ k @ coef - np.abs(coef).sum()


@pytest.mark.parametrize("duplicates", [0, 10])
def test_binary_path_matches_libsvm(duplicates):
    """Same decisions as SVC at every C, intercepts close, dual objective within 1e-4 relative."""
    k, y = problem(duplicates=duplicates)
    tr, te = np.arange(0, 90), np.arange(90, 120)
    path = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], GRID, return_dual=True)
    differ = 0
    for g, c in enumerate(GRID):
        model = SVC(kernel="precomputed", C=c).fit(k[np.ix_(tr, tr)], y[tr])
        ours = path.decision[g, :, 0]
        theirs = -model.decision_function(k[np.ix_(te, tr)])  # sklearn flips libsvm's sign for two classes
        differ += int(np.sum(model.predict(k[np.ix_(te, tr)]) != path.predictions[g]))
        # The decisions agree wherever libsvm's margin is clear of its tolerance.
        clear = np.abs(theirs) > 1e-2
        np.testing.assert_array_equal(np.sign(ours[clear]), np.sign(theirs[clear]))
        np.testing.assert_allclose(ours, theirs, atol=5e-3 * max(1.0, np.abs(theirs).max()))
        # Dual objectives: both solvers stop at the same KKT tolerance.
        coef = np.zeros(len(tr))
        coef[model.support_] = model.dual_coef_[0]
        ours_coef = np.zeros(len(tr))
        ours_coef[path.support_order[0]] = path.dual_coef[0][g]
        y_pm = np.where(y[tr] == 0, 1.0, -1.0)
        f_lib = dual_objective(k[np.ix_(tr, tr)], y_pm, -coef)
        f_path = dual_objective(k[np.ix_(tr, tr)], y_pm, ours_coef)
        assert abs(f_path - f_lib) <= 1e-4 * abs(f_lib)
        assert np.all(np.abs(ours_coef) <= c * (1 + 1e-12))  # the box
        assert abs(ours_coef.sum()) <= 1e-9 * c * len(tr)  # yᵀα = 0
    assert differ <= 0.01 * len(te) * len(GRID)


def test_multiclass_one_vs_one_matches_libsvm():
    k, y = problem(n=150, n_classes=3, seed=1)
    tr, te = np.arange(0, 110), np.arange(110, 150)
    path = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], GRID)
    assert path.decision.shape == (len(GRID), len(te), 3) and list(path.classes) == [0, 1, 2]
    same = total = 0
    for g, c in enumerate(GRID):
        model = SVC(kernel="precomputed", C=c, decision_function_shape="ovo").fit(k[np.ix_(tr, tr)], y[tr])
        theirs = model.decision_function(k[np.ix_(te, tr)])
        np.testing.assert_allclose(path.decision[g], theirs, atol=5e-3 * max(1.0, np.abs(theirs).max()))
        same += int(np.sum(model.predict(k[np.ix_(te, tr)]) == path.predictions[g]))
        total += len(te)
    assert same >= 0.99 * total


def test_warm_start_is_the_same_solution_in_fewer_iterations():
    k, y = problem(n=200, duplicates=20, seed=2)
    tr, te = np.arange(150), np.arange(150, 200)
    warm = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], GRID)
    cold = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], GRID, warm_start=False)
    np.testing.assert_allclose(warm.decision, cold.decision, atol=5e-3 * np.abs(cold.decision).max())
    assert warm.iterations.sum() < cold.iterations.sum()


def test_hard_margin_stops_the_path():
    """A separable problem: once no α is at its bound, later C reuse that solution, as libsvm finds."""
    rng = np.random.default_rng(3)
    y = np.arange(60) % 2
    x = np.where(y[:, None] == 0, 3.0, -3.0) + rng.normal(size=(60, 3))
    k = x @ x.T + 1.0
    grid = np.logspace(-3, 4, 30)
    path = svm_path(k, y, k, grid)
    hard = int(np.argmax(path.n_at_bound[:, 0] == 0))
    assert path.n_at_bound[hard, 0] == 0 and hard < len(grid) - 1
    assert np.all(path.iterations[hard + 1:] == 0)
    model = SVC(kernel="precomputed", C=grid[-1]).fit(k, y)
    np.testing.assert_allclose(path.decision[-1, :, 0], -model.decision_function(k), atol=1e-2)


def test_grid_order_and_duplicates_do_not_matter():
    k, y = problem(n=80)
    tr, te = np.arange(60), np.arange(60, 80)
    grid = np.array([10.0, 0.1, 1.0, 0.1, 100.0])
    a = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], grid)
    b = svm_path(k[np.ix_(tr, tr)], y[tr], k[np.ix_(te, tr)], np.sort(np.unique(grid)))
    for g, c in enumerate(grid):
        np.testing.assert_array_equal(a.decision[g], b.decision[int(np.flatnonzero(b.C == c)[0])])
    np.testing.assert_array_equal(a.C, grid)


def test_input_errors():
    k, y = problem(n=20)
    with pytest.raises(ValueError, match="k_train must be"):
        svm_path(k[:, :-1], y, k, GRID)
    with pytest.raises(ValueError, match="k_test must be"):
        svm_path(k, y, k[:, :-1], GRID)
    with pytest.raises(ValueError, match="C_grid"):
        svm_path(k, y, k, [1.0, -1.0])
    with pytest.raises(ValueError, match="two classes"):
        svm_path(k, np.zeros(20), k, GRID)
    with pytest.raises(ValueError, match="max_iter"):
        svm_path(k, y, k, GRID, max_iter=0)


# ----------------------------------------------------------------------------- protocols from curves
