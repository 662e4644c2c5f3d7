"""The protocols: selections from accuracy curves, and the one driver behind svm_cv, krr_cv and the search."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold
from test_svm_path import GRID, problem

from fastgnn import gram
from fastgnn.evaluate import krr_cv, svm_cv
from fastgnn.model_selection import Runner, protocols
from fastgnn.model_selection.protocols import (
    Curves,
    choose_per_fold,
    cross_validate,
    grid_curves,
    select_fully_nested,
    select_nested,
    select_paper,
)
from fastgnn.model_selection.solvers import LibsvmFits, PathSolver, krr_accuracy, svm_solver


def _curves(test, inner=None, grid=(0.1, 1.0, 10.0), norms=("raw", "cosine")):
    return Curves(grid=np.array(grid), normalizations=norms, test=np.array(test, dtype=float),
                  inner=None if inner is None else np.array(inner, dtype=float))


def test_paper_tie_break_first_normalisation_then_smallest_C():
    # raw and cosine both reach the best mean 0.8, raw at C = 1 and 10: raw, C = 1 wins (GridSearchCV's order).
    test = [[[0.6, 0.6], [0.8, 0.8], [0.8, 0.8]],
            [[0.8, 0.8], [0.7, 0.7], [0.7, 0.7]]]
    best = select_paper(_curves(test))
    assert (best["normalization"], best["C"], best["mean"]) == ("raw", 1.0, 0.8)
    test[1][0] = [0.9, 0.9]  # cosine now strictly better
    assert select_paper(_curves(test))["normalization"] == "cosine"


def test_nested_and_fully_nested_choose_on_inner_curves_only():
    test_a = [[[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]]  # config A is perfect on the test folds at C = 0.1 ...
    inner_a = [[[0.1, 0.9], [0.5, 0.5], [0.2, 0.2]]]  # ... but its inner CV prefers C = 1 on fold 0
    test_b = [[[0.5, 0.5], [0.7, 0.7], [0.6, 0.6]]]
    inner_b = [[[0.3, 0.3], [0.8, 0.1], [0.3, 0.3]]]
    a = _curves(test_a, inner_a, norms=("raw",))
    b = _curves(test_b, inner_b, norms=("raw",))
    nested = select_nested(a)
    np.testing.assert_array_equal(nested["fold_accuracies"], [0.0, 1.0])  # fold 0: C=1 -> 0.0; fold 1: C=0.1
    full = select_fully_nested({"A": a, "B": b})
    assert [c[0] for c in full["choices"]] == ["B", "A"]  # fold 0: B's 0.8 beats A's 0.5; fold 1: A's 0.9
    np.testing.assert_array_equal(full["fold_accuracies"], [0.7, 1.0])
    with pytest.raises(ValueError, match="inner"):
        select_nested(_curves(test_a, norms=("raw",)))


def _fixture(n=100, seed=4):
    k, y = problem(n=n, n_classes=2, seed=seed, duplicates=6)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(k, y))
    return k, y, folds, gram.transform(k)


def test_nested_refit_at_the_choice_is_the_full_path_entry():
    """The path refitted along the grid up to each fold's choice gives the full test curve's entry there:
    svm_cv's cheap nested protocol and the search's full curves agree exactly (a warm-started path's
    prefix is the path)."""
    k, y, folds, grams = _fixture()
    full = grid_curves(grams, y, folds, GRID, svm_solver("path"), nested=True, inner_folds=3, seed=1)
    cheap = cross_validate(grams, y, folds, protocol="nested", grid=GRID, solver=svm_solver("path"), inner_folds=3,
                           seed=1)
    np.testing.assert_array_equal(select_nested(full)["fold_accuracies"], cheap["fold_accuracies"])
    assert [c[1:] for c in select_nested(full)["choices"]] == list(zip(cheap["normalization"], cheap["value"]))
    # and svm_cv is that driver behind its checks
    b = svm_cv(k, y, folds, protocol="nested", C_grid=GRID, inner_folds=3, seed=1, n_jobs=1)
    np.testing.assert_array_equal(b.fold_accuracies, cheap["fold_accuracies"])
    paper = select_paper(full)
    a = svm_cv(k, y, folds, C_grid=GRID, n_jobs=1)
    assert (paper["mean"], paper["C"], paper["normalization"]) == (a.mean, a.C, a.normalization)


def test_refit_is_along_the_grid_only_for_the_path():
    assert PathSolver().refit_along_path and not LibsvmFits().refit_along_path
    assert not krr_accuracy.refit_along_path
    k, y, folds, grams = _fixture(n=60)
    seen = []

    def spy(k_tr, y_tr, k_te, y_te, grid):
        seen.append(np.array(grid))
        return np.full(len(grid), 0.5)

    cv = grid_curves(grams, y, folds, GRID, spy, nested=True, inner_folds=3, test_curve=False)
    assert cv.test is None and cv.inner.shape == (2, len(GRID), len(folds))
    seen.clear()
    protocols.refit_choices(grams, y, folds, cv, [(None, 0, 3)] * len(folds), spy)
    assert all(len(g) == 1 and g[0] == GRID[3] for g in seen)  # a plain solver: the chosen value only
    spy.refit_along_path = True
    seen.clear()
    protocols.refit_choices(grams, y, folds, cv, [(None, 0, 3)] * len(folds), spy)
    assert all(np.array_equal(g, GRID[:4]) for g in seen)  # the path: the grid up to the choice


def test_krr_grid_per_normalisation():
    """Kernel ridge's default grid is relative to each normalisation's mean diagonal: one row per
    normalisation in the curves, and the chosen alpha is a value of its own row."""
    k, y, folds, grams = _fixture(n=80)
    res = krr_cv(k, y, folds, n_jobs=1)
    md = {nm: float(np.mean(np.diag(g))) for nm, g in grams.items()}
    assert md["raw"] != md["cosine"]
    for nm in grams:
        np.testing.assert_array_equal(res.grid[nm], np.logspace(-6, 2, 81) * md[nm])
    assert res.C in list(res.grid[res.normalization])


def test_choose_per_fold_ties_go_to_the_first_configuration():
    inner = np.zeros((1, 3, 2))
    a = Curves(grid=np.array([1.0, 2.0, 3.0]), normalizations=("raw",), test=None, inner=inner)
    b = Curves(grid=np.array([1.0, 2.0, 3.0]), normalizations=("raw",), test=None, inner=inner.copy())
    assert choose_per_fold({"A": a, "B": b}) == [("A", 0, 0), ("A", 0, 0)]


def test_runner_checks_its_arguments_and_counts_progress():
    with pytest.raises(ValueError, match="executor"):
        Runner(executor="spark")
    with pytest.raises(ValueError, match="n_jobs"):
        Runner(n_jobs=0)
    r = Runner(n_jobs=2)
    assert r(pow, [(2, i) for i in range(6)]) == [2**i for i in range(6)]
    with pytest.raises(ValueError, match="executor"):
        svm_cv(np.eye(4), [0, 1, 0, 1], [([0, 1], [2, 3])], executor="mpi")


def test_svm_cv_on_dask_equals_threads():
    """svm_cv runs its tasks on a Dask client (executor="dask"), with the same numbers as in threads."""
    distributed = pytest.importorskip("distributed")
    k, y, folds, _ = _fixture(n=60)
    local = {p: svm_cv(k, y, folds, protocol=p, C_grid=GRID, inner_folds=3) for p in ("paper", "nested")}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc):
        dask = {p: svm_cv(k, y, folds, protocol=p, C_grid=GRID, inner_folds=3, executor="dask")
                for p in ("paper", "nested")}
    for p in local:
        np.testing.assert_array_equal(local[p].fold_accuracies, dask[p].fold_accuracies)
        assert local[p].C == dask[p].C and local[p].normalization == dask[p].normalization


def test_svm_curves_alias_warns():
    with pytest.warns(DeprecationWarning, match="grid_curves"):
        from fastgnn.model_selection.protocols import svm_curves
    assert svm_curves is grid_curves
