"""Tests of fastgnn.evaluate: the GNTK paper's SVM protocol, nested CV, kernel ridge."""

import functools
import json

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

from fastgnn.evaluate import (
    CVResult,
    cosine_normalize,
    krr_cv,
    scale_gram,
    svm_cv,
)
from fastgnn.model_selection import svm_path_accuracy

_svm_cv = svm_cv

GRID = np.logspace(-2, 3, 8)


def blobs(n=90, n_classes=3, spread=1.6, seed=0):
    """RBF kernel of overlapping Gaussian blobs (+1 so every entry is positive), labels, 5 folds."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(size=(n_classes, 4)) * 2.0
    x = centers[y] + spread * rng.normal(size=(n, 4))
    # Unequal item scales make "raw" and "cosine" differ.
    s = rng.uniform(0.5, 2.0, size=n)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    k = (np.exp(-d2 / 8.0) + 0.1) * np.outer(s, s)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=1).split(x, y))
    return k, y, folds


def _gridsearch_curve(k, y, cv, grid):
    gs = GridSearchCV(SVC(kernel="precomputed"), {"C": grid}, cv=cv)
    gs.fit(k, y)
    return gs


# ----------------------------------------------------------------------------- SVM, paper


@pytest.mark.parametrize("shortcut", [True, False])
def test_paper_matches_gridsearchcv(shortcut):
    """solver="libsvm" is the authors' GridSearchCV, number for number."""
    k, y, folds = blobs()
    res = svm_cv(k, y, folds, C_grid=GRID, n_jobs=2, hard_margin_shortcut=shortcut, solver="libsvm")
    scaled = scale_gram(k)
    best = []
    for nm, g in (("raw", scaled), ("cosine", cosine_normalize(scaled))):
        gs = _gridsearch_curve(g, y, list(folds), GRID)
        np.testing.assert_array_equal(res.curve[nm], gs.cv_results_["mean_test_score"])
        best.append((gs.best_score_, nm, gs.best_params_["C"]))
    top = max(b[0] for b in best)
    nm, c = next((b[1], b[2]) for b in best if b[0] == top)  # ties -> raw first
    assert res.mean == top
    assert (res.normalization, res.C) == (nm, c)
    assert res.protocol == "paper" and res.method == "svm"
    assert res.fold_accuracies.shape == (len(folds),)
    assert res.std == pytest.approx(np.std(res.fold_accuracies))
    assert res.mean == pytest.approx(np.mean(res.fold_accuracies))
    assert 0.4 < res.mean < 1.0  # overlapping blobs: a non-trivial problem


def test_path_solver_curves_match_gridsearchcv():
    """The default path solver: every (C, fold) test accuracy within one test item of libsvm's,
    and at most 1 % of all the grid's test predictions differ (near-ties inside the tolerance)."""
    k, y, folds = blobs()
    res = svm_cv(k, y, folds, C_grid=GRID, n_jobs=2)
    scaled = scale_gram(k)
    differ = total = 0
    for nm, g in (("raw", scaled), ("cosine", cosine_normalize(scaled))):
        gs = _gridsearch_curve(g, y, list(folds), GRID)
        for f, (_, te) in enumerate(folds):
            diff = np.abs(res.curve_folds[nm][:, f] - gs.cv_results_[f"split{f}_test_score"]) * len(te)
            assert diff.max() <= 1 + 1e-9
            differ += diff.sum()
            total += len(te) * len(GRID)
    assert differ <= 0.01 * total


def test_scale_gram_is_authors_division_by_min():
    k, _, _ = blobs(n=30)
    np.testing.assert_allclose(scale_gram(k), k / k.min())
    neg = np.array([[2.0, -1.0], [-1.0, 4.0]])
    np.testing.assert_allclose(scale_gram(neg), neg / 3.0)  # fallback: mean diagonal


def test_serial_and_parallel_agree():
    k, y, folds = blobs(n=60)
    a = svm_cv(k, y, folds, C_grid=GRID, n_jobs=1)
    b = svm_cv(k, y, zip(*zip(*folds)), C_grid=GRID, n_jobs=2)  # a zip, as the authors pass
    np.testing.assert_array_equal(a.fold_accuracies, b.fold_accuracies)
    for nm in a.curve:
        np.testing.assert_array_equal(a.curve_folds[nm], b.curve_folds[nm])


# ----------------------------------------------------------------------------- SVM, nested


def test_nested_matches_handrolled_gridsearch():
    k, y, folds = blobs()
    res = svm_cv(k, y, folds, protocol="nested", C_grid=GRID, inner_folds=4, seed=3, n_jobs=2,
                 solver="libsvm")
    scaled = scale_gram(k)
    grams = {"raw": scaled, "cosine": cosine_normalize(scaled)}
    accs, chosen = [], []
    for tr, te in folds:
        inner = list(StratifiedKFold(4, shuffle=True, random_state=3).split(tr, y[tr]))
        searches = {nm: _gridsearch_curve(g[np.ix_(tr, tr)], y[tr], inner, GRID)
                    for nm, g in grams.items()}
        nm = "cosine" if searches["cosine"].best_score_ > searches["raw"].best_score_ else "raw"
        gs = searches[nm]
        accs.append(gs.score(grams[nm][np.ix_(te, tr)], y[te]))
        chosen.append((nm, gs.best_params_["C"]))
    np.testing.assert_array_equal(res.fold_accuracies, accs)
    assert list(zip(res.normalization, res.C)) == chosen
    assert res.mean == pytest.approx(np.mean(accs))
    assert res.curve is None
    paper = svm_cv(k, y, folds, C_grid=GRID)
    assert res.mean <= paper.mean + 0.05  # nested is the honest, usually lower, estimate


def test_nested_path_matches_handrolled_path():
    """The nested protocol on the path solver, against the protocol written out with svm_path."""
    k, y, folds = blobs()
    res = svm_cv(k, y, folds, protocol="nested", C_grid=GRID, inner_folds=4, seed=3, n_jobs=2)
    scaled = scale_gram(k)
    grams = {"raw": scaled, "cosine": cosine_normalize(scaled)}
    accs, chosen = [], []
    for tr, te in folds:
        inner = list(StratifiedKFold(4, shuffle=True, random_state=3).split(tr, y[tr]))
        best = None
        for nm, g in grams.items():
            curve = np.mean([svm_path_accuracy(g[np.ix_(tr[a], tr[a])], y[tr[a]], g[np.ix_(tr[b], tr[a])],
                                               y[tr[b]], GRID) for a, b in inner], axis=0)
            j = int(np.argmax(curve))
            if best is None or curve[j] > best[0]:
                best = (curve[j], nm, j)
        _, nm, j = best
        g = grams[nm]
        accs.append(svm_path_accuracy(g[np.ix_(tr, tr)], y[tr], g[np.ix_(te, tr)], y[te], GRID)[j])
        chosen.append((nm, GRID[j]))
    np.testing.assert_array_equal(res.fold_accuracies, accs)
    assert list(zip(res.normalization, res.C)) == chosen


def test_nested_other_inner_grid():
    k, y, folds = blobs(n=60)
    res = svm_cv(k, y, folds, protocol="nested", C_grid=GRID, inner_C_grid=GRID[::2],
                 inner_folds=3, n_jobs=1, progress=True)
    assert len(res.C) == len(folds) and 0.0 <= res.mean <= 1.0


# ----------------------------------------------------------------------------- sanity


def _separable(n=60):
    y = np.arange(n) % 3
    k = 1.0 + 4.0 * (y[:, None] == y[None, :]) + 0.1 * np.eye(n)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(k, y))
    return k, y, folds


@pytest.mark.parametrize("solver", ["path", "libsvm"])
@pytest.mark.parametrize("protocol", ["paper", "nested"])
def test_separable_kernel_is_perfect(protocol, solver):
    k, y, folds = _separable()
    for fn in (svm_cv, krr_cv):
        kw = {"C_grid": GRID, "solver": solver} if fn is svm_cv else {}
        res = fn(k, y, folds, protocol=protocol, inner_folds=3, n_jobs=1, **kw)
        assert res.mean == 1.0 and res.std == 0.0
        np.testing.assert_array_equal(res.fold_accuracies, 1.0)


def test_random_labels_give_chance():
    rng = np.random.default_rng(5)
    n = 200
    x = rng.normal(size=(n, 5))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 10.0)
    y = rng.integers(0, 2, size=n)
    folds = list(StratifiedKFold(10, shuffle=True, random_state=0).split(x, y))
    svm = svm_cv(k, y, folds, protocol="nested", C_grid=GRID, inner_folds=3)
    krr = krr_cv(k, y, folds, protocol="nested", inner_folds=3)
    assert abs(svm.mean - 0.5) < 0.12
    assert abs(krr.mean - 0.5) < 0.12


def test_cosine_normalize():
    k, _, _ = blobs(n=40)
    c = cosine_normalize(k)
    np.testing.assert_allclose(np.diag(c), 1.0)
    np.testing.assert_allclose(c, c.T)
    d = np.random.default_rng(0).uniform(0.1, 10.0, size=len(k))
    np.testing.assert_allclose(cosine_normalize(k * np.outer(d, d)), c, rtol=1e-12)
    with pytest.raises(ValueError, match="gram.*positive diagonal"):
        cosine_normalize(np.array([[0.0, 0.0], [0.0, 1.0]]))


# ----------------------------------------------------------------------------- kernel ridge


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("alphas", [[0.3], [0.01, 0.1, 0.3, 1.0, 3.0]])  # Cholesky / eigh path
def test_krr_matches_sklearn_kernel_ridge(n_classes, alphas):
    k, y, folds = blobs(n_classes=n_classes)
    res = krr_cv(k, y, folds, alpha_grid=alphas, normalizations=("raw",), n_jobs=2)
    scaled = scale_gram(k)
    for j, alpha in enumerate(alphas):
        accs = []
        for tr, te in folds:
            onehot = (y[tr][:, None] == np.arange(n_classes)).astype(float)
            kr = KernelRidge(alpha=alpha, kernel="precomputed").fit(scaled[np.ix_(tr, tr)], onehot)
            pred = kr.predict(scaled[np.ix_(te, tr)]).argmax(1)
            accs.append(np.mean(pred == y[te]))
        np.testing.assert_array_equal(res.curve_folds["raw"][j], accs)
    assert res.C in alphas and res.param_name == "alpha" and res.method == "krr"


def test_krr_paper_curve_and_default_grid():
    k, y, folds = blobs()
    res = krr_cv(k, y, folds)
    for nm in ("raw", "cosine"):
        assert res.curve[nm].shape == res.grid[nm].shape == (81,)
        assert res.curve_folds[nm].shape == (81, len(folds))
    assert res.mean == max(res.curve["raw"].max(), res.curve["cosine"].max())
    # the cosine Gram has unit diagonal, so its default grid is the relative grid itself
    np.testing.assert_allclose(res.grid["cosine"], np.logspace(-6, 2, 81))


def test_to_dict_is_json():
    k, y, folds = blobs(n=45)
    for res in (
        svm_cv(k, y, folds, C_grid=GRID[:3]),
        svm_cv(k, y, folds, C_grid=GRID[:3], protocol="nested", inner_folds=2),
        krr_cv(k, y, folds, alpha_grid=[0.1, 1.0]),
    ):
        assert isinstance(res, CVResult)
        d = json.loads(json.dumps(res.to_dict()))
        assert d["mean"] == res.mean and d["protocol"] == res.protocol
        assert len(d["fold_accuracies"]) == len(folds)
        assert "%" in str(res)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("solver", ["path", "libsvm"])
def test_validation_errors(solver):
    svm_cv = functools.partial(_svm_cv, solver=solver)
    k, y, folds = blobs(n=30)
    with pytest.raises(ValueError, match="gram must be a square"):
        svm_cv(k[:, :-1], y, folds)
    bad = k.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="gram must be finite"):
        svm_cv(bad, y, folds)
    bad = k.copy()
    bad[2, 3] += 1.0
    with pytest.raises(ValueError, match="gram must be symmetric"):
        krr_cv(bad, y, folds)
    with pytest.raises(ValueError, match="y has 29 labels"):
        svm_cv(k, y[:-1], folds)
    with pytest.raises(ValueError, match=r"folds\[1\] test index 30 is out of range"):
        svm_cv(k, y, [folds[0], (folds[1][0], np.append(folds[1][1], 30))])
    with pytest.raises(ValueError, match=r"folds\[0\] train index -1 is out of range"):
        svm_cv(k, y, [(np.append(folds[0][0], -1), folds[0][1])])
    with pytest.raises(ValueError, match=r"folds\[0\]: train and test overlap"):
        svm_cv(k, y, [(folds[0][0], np.append(folds[0][1], folds[0][0][0]))])
    one_class = np.flatnonzero(y == 0)
    with pytest.raises(ValueError, match=r"folds\[0\]: the training fold has fewer than 2"):
        krr_cv(k, y, [(one_class, np.flatnonzero(y == 1))])
    with pytest.raises(ValueError, match="protocol"):
        svm_cv(k, y, folds, protocol="optimistic")
    with pytest.raises(ValueError, match="normalizations"):
        svm_cv(k, y, folds, normalizations=("raw", "l2"))
    with pytest.raises(ValueError, match="C_grid"):
        svm_cv(k, y, folds, C_grid=[0.0, 1.0])
    with pytest.raises(ValueError, match="n_jobs"):
        svm_cv(k, y, folds, C_grid=GRID, n_jobs=0)
    with pytest.raises(ValueError, match="tol"):
        svm_cv(k, y, folds, C_grid=GRID, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        svm_cv(k, y, folds, C_grid=GRID, max_iter=0)
    with pytest.raises(ValueError, match="solver must be one of"):
        _svm_cv(k, y, folds, C_grid=GRID, solver="smo")


def test_accepts_nearly_symmetric_and_float32():
    k, y, folds = blobs(n=45)
    noisy = k + 1e-9 * np.random.default_rng(0).normal(size=k.shape)
    a = svm_cv(noisy.astype(np.float32), y, folds, C_grid=GRID)
    assert 0.0 < a.mean <= 1.0
