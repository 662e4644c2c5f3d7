"""What ``svm_cv`` and ``krr_cv`` take and what they say (issue 25, points 2-4).

* labels no classifier takes (continuous, NaN, ``None``) are refused, naming ``y``;
* the chosen C belongs to ``gram / result.gram_scale``: scikit-learn's ``SVC`` on that Gram at that C
  gives the same fold accuracies;
* ``folds`` is what scikit-learn's ``cv=`` takes (an int, a splitter), and the fold count is said
  wherever the accuracy is.
"""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from fastgnn.evaluate import krr_cv, svm_cv
from fastgnn.graph import stratified_folds

GRID = np.logspace(-2, 3, 8)


def kernel(n=48, seed=0):
    """A positive polynomial kernel of noisy two-class points (not separable, min entry far from 1)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 3)) + 0.8 * y[:, None]
    k = 250.0 * (x @ x.T / 3 + 4.0) ** 2
    return k, y


# ----------------------------------------------------------------------------- 25.2 labels


@pytest.mark.parametrize("cv", [svm_cv, krr_cv])
@pytest.mark.parametrize("labels, match", [
    (lambda n: np.linspace(0.1, 3.3, n), r"y: Unknown label type: continuous"),
    (lambda n: np.where(np.arange(n) == 5, np.nan, np.arange(n) % 2), r"y\[5\] is nan"),
    (lambda n: [None] + [i % 2 for i in range(1, n)], r"y\[0\] is None"),
])
def test_labels_no_classifier_takes_are_refused(cv, labels, match):
    k, _ = kernel(24)
    folds = stratified_folds(np.arange(24) % 2, 3)
    with pytest.raises(ValueError, match=match):
        cv(k, labels(24), folds, n_jobs=1)


def test_whole_number_floats_and_strings_are_classes():
    k, y = kernel(24)
    folds = stratified_folds(y, 3)
    a = svm_cv(k, y, folds, C_grid=GRID, n_jobs=1)
    b = svm_cv(k, y.astype(float), folds, C_grid=GRID, n_jobs=1)
    c = svm_cv(k, np.array(["neg", "pos"])[y], folds, C_grid=GRID, n_jobs=1)
    assert a.mean == b.mean == c.mean


# ----------------------------------------------------------------------------- 25.3 which Gram C belongs to


@pytest.mark.parametrize("solver", ["libsvm", "path"])
def test_chosen_C_reproduces_the_accuracy_with_sklearn_on_the_scaled_gram(solver):
    """SVC(kernel="precomputed", C=result.C) on gram / result.gram_scale gives every fold's accuracy."""
    k, y = kernel()
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(k, y))
    res = svm_cv(k, y, folds, C_grid=GRID, normalizations=("raw",), solver=solver, n_jobs=1)
    assert res.gram_scale == pytest.approx(k.min(), rel=1e-15)
    assert res.to_dict()["gram_scale"] == res.gram_scale
    scaled = k / res.gram_scale
    for (tr, te), acc in zip(folds, res.fold_accuracies):
        svc = SVC(kernel="precomputed", C=res.C).fit(scaled[np.ix_(tr, tr)], y[tr])
        assert svc.score(scaled[np.ix_(te, tr)], y[te]) == pytest.approx(acc, abs=1e-12)
    # the printed choice says which Gram the C is of
    assert f"gram / {res.gram_scale:.6g}, C={res.C:.4g}" in str(res)


def test_C_on_the_given_gram_is_not_the_same_classifier():
    """The reason to say it: on the unscaled Gram the same C is another SVM (here: other accuracies)."""
    k, y = kernel()
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(k, y))
    res = svm_cv(k, y, folds, C_grid=GRID, normalizations=("raw",), solver="libsvm", n_jobs=1)
    raw = [SVC(kernel="precomputed", C=res.C).fit(k[np.ix_(tr, tr)], y[tr]).score(k[np.ix_(te, tr)], y[te])
           for tr, te in folds]
    assert not np.allclose(raw, res.fold_accuracies)


def test_gram_scale_is_one_when_nothing_divides():
    k, y = kernel(24)
    k = k - k.min() - 1.0  # the smallest entry negative: scale_gram divides by the mean diagonal instead
    np.fill_diagonal(k, np.abs(k).max() * 2)
    res = svm_cv(k, y, 3, C_grid=GRID, normalizations=("raw",), n_jobs=1)
    assert res.gram_scale == pytest.approx(np.mean(np.diag(k)))


# ----------------------------------------------------------------------------- 25.4 folds


def test_folds_as_an_int_is_sklearns_stratified_kfold():
    k, y = kernel()
    by_int = svm_cv(k, y, 5, C_grid=GRID, n_jobs=1)
    given = svm_cv(k, y, list(StratifiedKFold(5).split(k, y)), C_grid=GRID, n_jobs=1)
    assert by_int.n_folds == 5 and by_int.to_dict()["folds"] == 5
    np.testing.assert_array_equal(by_int.fold_accuracies, given.fold_accuracies)
    assert "over 5 folds" in str(by_int)


def test_folds_as_a_splitter_object():
    k, y = kernel()
    skf = StratifiedKFold(4, shuffle=True, random_state=3)
    a = krr_cv(k, y, skf, n_jobs=1)
    b = krr_cv(k, y, list(skf.split(k, y)), n_jobs=1)
    assert a.n_folds == 4
    np.testing.assert_array_equal(a.fold_accuracies, b.fold_accuracies)


@pytest.mark.parametrize("bad, match", [(1, r"folds=1: .*>= 2"), (True, "folds must be")])
def test_bad_fold_counts_are_named(bad, match):
    k, y = kernel(24)
    with pytest.raises(ValueError, match=match):
        svm_cv(k, y, bad, C_grid=GRID, n_jobs=1)


def test_default_folds_fewer_than_asked_warn():
    """A class of 4 graphs gives 4 folds, not 10: said, not silent."""
    y = np.array([0] * 4 + [1] * 30)
    with pytest.warns(UserWarning, match="smallest class has 4 items, so the split has 4 folds, not 10"):
        folds = stratified_folds(y)
    assert len(folds) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(stratified_folds(np.arange(40) % 2)) == 10  # enough items: no warning
