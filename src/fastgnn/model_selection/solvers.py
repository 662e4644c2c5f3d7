"""Solvers along a grid: test accuracy of a classifier fitted on a training Gram at every grid value.

A *solver* is a callable ``solver(k_train, y_train, k_test, y_test, grid) -> (G,)`` accuracies, a
pure function of its arguments (picklable, so a Dask worker can run it).  The protocols
(:mod:`.protocols`) only ever call solvers; which one runs is a name:

* :data:`SOLVERS` ``"path"`` -- :class:`PathSolver`: the C-SVM along the whole grid as one
  warm-started path (:func:`fastgnn.model_selection.path.svm_path_accuracy`), uncapped;
* ``"libsvm"`` -- :class:`LibsvmFits`: one ``sklearn.svm.SVC(kernel="precomputed")`` fit per C,
  capped at the authors' :data:`SVM_MAX_ITER` iterations, for comparison;
* :func:`krr_accuracy` -- kernel ridge regression on one-hot targets, every ridge value from one
  eigendecomposition (what :func:`fastgnn.evaluate.krr_cv` runs).

A solver's ``refit_along_path`` says how the nested protocol refits an outer training fold at the
value its inner CV chose: ``True`` (the path): along the grid up to that value, warm-started
exactly as the paper protocol's path, so the refit *is* that path's entry; ``False``: at that one
value only.

Cost for p training and m test items and G values: the path, see :mod:`.path`; libsvm, between
O(p²) and O(p³) per fit, growing with C, with the authors' cap of O(p) per iteration × 5e5 on
non-separable folds; KRR, one O(p³) eigendecomposition then O(m p k) per value (k classes), or
one Cholesky per value for at most 3 values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from fastgnn.model_selection.path import DEFAULT_TOL, svm_path_accuracy

__all__ = ["SOLVERS", "DEFAULT_C_GRID", "COARSE_C_GRID", "DEFAULT_ALPHA_GRID", "SVM_MAX_ITER", "SVM_CACHE_MB",
           "DEFAULT_TOL", "svm_solver", "PathSolver", "LibsvmFits", "krr_accuracy"]

#: The SVM solvers by name: the warm-started path (default) and libsvm fit by fit.
SOLVERS = ("path", "libsvm")
#: The GNTK authors' grid: 120 values of C from 1e-2 to 1e4.
DEFAULT_C_GRID = np.logspace(-2, 4, 120)
#: A 25-value grid over the same range (benchmarks that compare kernels, not the reproduction).
COARSE_C_GRID = np.logspace(-2, 4, 25)
#: Default ridge values of kernel ridge regression, *relative* to the mean diagonal of the Gram.
DEFAULT_ALPHA_GRID = np.logspace(-6, 2, 81)
#: libsvm settings of the authors' script (``cache_size`` only affects speed).
SVM_MAX_ITER = 500_000
SVM_CACHE_MB = 1000
#: Up to this many ridge values, kernel ridge solves by Cholesky instead of one eigh.
KRR_CHOLESKY_MAX = 3


def svm_solver(solver: str = "path", *, tol: float = DEFAULT_TOL, max_iter: int | None = None,
               hard_margin_shortcut: bool = True):
    """The solver named ``solver`` (one of :data:`SOLVERS`), checked.

    ``"path"``: :class:`PathSolver` (warm-started, uncapped unless ``max_iter``); ``"libsvm"``:
    :class:`LibsvmFits`, capped at ``max_iter`` (default :data:`SVM_MAX_ITER`).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not (isinstance(tol, int | float | np.floating) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if max_iter is not None and (not isinstance(max_iter, int | np.integer) or max_iter < 1):
        raise ValueError(f"max_iter must be None or a positive integer, got {max_iter!r}")
    if solver == "path":
        return PathSolver(tol=float(tol), max_iter=max_iter)
    return LibsvmFits(hard_margin_shortcut, SVM_MAX_ITER if max_iter is None else int(max_iter), float(tol))


class PathSolver:
    """Test accuracy of the C-SVM at every C of a grid, as one warm-started path (:mod:`.path`)."""

    refit_along_path = True

    def __init__(self, tol: float = DEFAULT_TOL, max_iter: int | None = None):
        self.tol = tol
        self.max_iter = max_iter

    def __call__(self, k_tr, y_tr, k_te, y_te, grid) -> np.ndarray:
        return svm_path_accuracy(k_tr, y_tr, k_te, y_te, grid, tol=self.tol, max_iter=self.max_iter)

    def __repr__(self) -> str:
        return f"PathSolver(tol={self.tol!r}, max_iter={self.max_iter!r})"


class LibsvmFits:
    """Test accuracy of ``SVC(kernel="precomputed", C=c)`` for every c of a grid, one fit each.

    Fits in increasing C.  With ``shortcut``, once a converged fit has every
    dual variable strictly below its bound C, the box constraint is inactive and
    the same solution is optimal for all larger C: their accuracies are copied.
    """

    refit_along_path = False

    def __init__(self, shortcut: bool = True, max_iter: int = SVM_MAX_ITER, tol: float = DEFAULT_TOL):
        self.shortcut = shortcut
        self.max_iter = max_iter
        self.tol = tol

    def __call__(self, k_tr, y_tr, k_te, y_te, grid) -> np.ndarray:
        k_tr = np.ascontiguousarray(k_tr)
        k_te = np.ascontiguousarray(k_te)
        acc = np.empty(len(grid))
        free_from = None
        for j in np.argsort(grid, kind="stable"):
            c = float(grid[j])
            if free_from is not None:
                acc[j] = free_from
                continue
            clf = SVC(kernel="precomputed", C=c, tol=self.tol, cache_size=SVM_CACHE_MB, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(k_tr, y_tr)
            acc[j] = np.mean(clf.predict(k_te) == y_te)
            if (
                self.shortcut
                and clf.fit_status_ == 0
                and clf.dual_coef_.size
                and np.abs(clf.dual_coef_).max() < c
            ):
                free_from = acc[j]
        return acc

    def __repr__(self) -> str:
        return f"LibsvmFits(shortcut={self.shortcut!r}, max_iter={self.max_iter!r}, tol={self.tol!r})"


def krr_accuracy(k_tr, y_tr, k_te, y_te, grid) -> np.ndarray:
    """Test accuracy of kernel ridge regression (one-hot targets, argmax) at every ridge value.

    ``B = (K + alpha I)^{-1} Y`` from one eigendecomposition ``K = V diag(w) Vᵀ``:
    ``B = V diag(1/(w + alpha)) Vᵀ Y``; a test item gets the class of the largest entry of
    ``K_test,train B`` (what ``sklearn.kernel_ridge.KernelRidge(alpha, kernel="precomputed")``
    computes, by Cholesky, one alpha at a time).  Grids of at most :data:`KRR_CHOLESKY_MAX` values
    use one Cholesky factorisation per value (about 10x cheaper than the eigendecomposition).
    """
    classes, y_enc = np.unique(y_tr, return_inverse=True)
    targets = np.zeros((len(y_tr), len(classes)))
    targets[np.arange(len(y_tr)), y_enc] = 1.0
    if len(grid) <= KRR_CHOLESKY_MAX:
        try:
            acc = np.empty(len(grid))
            for j, alpha in enumerate(grid):
                k_reg = k_tr + alpha * np.eye(len(k_tr))
                factor = scipy.linalg.cho_factor(k_reg, overwrite_a=True, check_finite=False)
                pred = k_te @ scipy.linalg.cho_solve(factor, targets, check_finite=False)
                acc[j] = np.mean(classes[np.argmax(pred, axis=1)] == y_te)
            return acc
        except np.linalg.LinAlgError:  # not positive definite at this alpha
            pass
    w, v = scipy.linalg.eigh(k_tr, overwrite_a=False, check_finite=False, driver="evd")
    a = k_te @ v  # (m, p)
    b = v.T @ targets  # (p, k)
    acc = np.empty(len(grid))
    for j, alpha in enumerate(grid):
        pred = a @ (b / (w + alpha)[:, None])
        acc[j] = np.mean(classes[np.argmax(pred, axis=1)] == y_te)
    return acc


krr_accuracy.refit_along_path = False
