"""Cross-validated accuracy of a precomputed kernel, as in the GNTK paper.

Du et al. (2019) evaluate a Gram matrix ``K`` with a C-SVM on the 10 given
folds (public code: KangchengHou/gntk, ``search.py``).  Their script

* scales the Gram, ``gram /= gram.min()``;
* runs ``GridSearchCV(SVC(kernel="precomputed"), {"C": np.logspace(-2, 4, 120)},
  cv=zip(train_folds, test_folds))`` on it, and again on the cosine-normalised
  Gram ``K_ij / sqrt(K_ii K_jj)``;
* writes the mean *test* accuracy over the 10 folds for every (normalisation, C);
  the reported number is the best of these means.

Choosing C on the test folds is optimistic.  This module computes that number
(``protocol="paper"``) and an honest one (``protocol="nested"``: C and the
normalisation are chosen by an inner stratified CV on each training fold only).

Public functions:

* :func:`svm_cv` -- C-SVM (``sklearn.svm.SVC``, libsvm) on the precomputed kernel.
* :func:`krr_cv` -- kernel ridge regression on one-hot targets, predict the argmax;
  one eigendecomposition per training fold makes every ridge value cheap.
* :func:`cosine_normalize`, :func:`scale_gram` -- the two Gram transforms.
* :class:`CVResult` -- what both return.

Cost.  Let n be the number of items, p ~ 0.9 n a training-fold size, F the
number of folds and G the grid size.  ``svm_cv`` slices each fold's
``K[train, train]`` and ``K[test, train]`` once and fits G SVMs on them,
in increasing C; once a fit has no support vector at the bound C (the
hard-margin solution), every larger C has the same solution, so the remaining
fits are skipped (``hard_margin_shortcut``).  A libsvm fit costs between
O(p^2) and O(p^3), mostly growing with C; when the training fold is not
separable in the kernel's feature space (e.g. duplicate items with different
labels) the large-C fits run into the authors' cap of ``SVM_MAX_ITER`` = 5e5
iterations, O(p) each, and dominate the time.  ``krr_cv`` costs one O(p^3)
eigendecomposition per (fold, normalisation) and O(m p k) per ridge value
(m test items, k classes).  ``protocol="nested"`` multiplies the work by about
``inner_folds`` (x 0.8 in size).  Folds (and normalisations) run in parallel
threads (libsvm and LAPACK release the GIL), so nothing is copied to workers.

Relation to :mod:`fastgnn.model_selection.protocols`.  The search over GNTK
configurations keeps every configuration's whole test and inner curves (the
fully nested protocol chooses among them) and selects from them there.  One
Gram needs less: the nested protocol here refits each outer fold only up to the
C its inner CV chose (for ``solver="libsvm"`` one fit instead of 120), and
``krr_cv``'s grid is relative to each normalisation's diagonal, so this module
runs its own per-fold task.  Both choose by the same rule (ties: first
normalisation, then smallest value) and the tests check they agree.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from fastgnn.model_selection.path import DEFAULT_TOL, svm_path_accuracy

__all__ = [
    "CVResult",
    "svm_cv",
    "svm_solver",
    "SOLVERS",
    "krr_cv",
    "cosine_normalize",
    "scale_gram",
    "DEFAULT_C_GRID",
    "COARSE_C_GRID",
    "DEFAULT_ALPHA_GRID",
]

#: The GNTK authors' grid: 120 values of C from 1e-2 to 1e4.
DEFAULT_C_GRID = np.logspace(-2, 4, 120)
#: A 25-value grid over the same range (benchmarks that compare kernels, not the reproduction).
COARSE_C_GRID = np.logspace(-2, 4, 25)
#: Default ridge values for :func:`krr_cv`, *relative* to the mean diagonal of the Gram.
DEFAULT_ALPHA_GRID = np.logspace(-6, 2, 81)

#: The SVM solvers of :func:`svm_cv`: the warm-started path (default) and libsvm fit by fit.
SOLVERS = ("path", "libsvm")

#: libsvm settings of the authors' script (``cache_size`` only affects speed).
SVM_MAX_ITER = 500_000
SVM_CACHE_MB = 1000
#: Up to this many ridge values, kernel ridge solves by Cholesky instead of one eigh.
_KRR_CHOLESKY_MAX = 3

Fold = tuple[np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- result


@dataclass
class CVResult:
    """Cross-validated accuracy of one Gram matrix.

    Attributes:
        mean: mean test accuracy over the outer folds (a fraction in [0, 1]).
        std: population standard deviation (``ddof=0``) of the fold accuracies.
        fold_accuracies: ``(F,)`` test accuracy of each outer fold.
        protocol: ``"paper"`` or ``"nested"``.
        C: the chosen regularisation value (SVM ``C``, or KRR ``alpha``; see
            ``param_name``): one float for ``"paper"``, one per fold for ``"nested"``.
        normalization: the chosen Gram transform (``"raw"`` or ``"cosine"``):
            one string for ``"paper"``, one per fold for ``"nested"``.
        method: ``"svm"`` or ``"krr"``.
        param_name: ``"C"`` or ``"alpha"``.
        grid: normalisation -> the regularisation values tried (absolute).
        curve: normalisation -> ``(G,)`` mean test accuracy over the outer folds
            at each grid value (``"paper"`` only; ``None`` for ``"nested"``).
        curve_folds: normalisation -> ``(G, F)`` test accuracy per grid value and fold.
        seconds: wall-clock time of the evaluation.
    """

    mean: float
    std: float
    fold_accuracies: np.ndarray
    protocol: str
    C: float | list[float]
    normalization: str | list[str]
    method: str = "svm"
    param_name: str = "C"
    grid: dict[str, np.ndarray] = field(default_factory=dict)
    curve: dict[str, np.ndarray] | None = None
    curve_folds: dict[str, np.ndarray] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy (arrays become lists, numpy scalars Python floats)."""
        return {
            "method": self.method,
            "protocol": self.protocol,
            "mean": float(self.mean),
            "std": float(self.std),
            "fold_accuracies": [float(a) for a in self.fold_accuracies],
            "param_name": self.param_name,
            "C": _to_builtin(self.C),
            "normalization": _to_builtin(self.normalization),
            "grid": _dict_to_builtin(self.grid),
            "curve": _dict_to_builtin(self.curve),
            "curve_folds": _dict_to_builtin(self.curve_folds),
            "seconds": float(self.seconds),
        }

    def __str__(self) -> str:
        if self.protocol == "paper":
            chosen = f"{self.normalization}, {self.param_name}={self.C:.4g}"
        else:
            chosen = f"per-fold {self.param_name}, normalisation chosen by inner CV"
        return (
            f"{self.method} [{self.protocol}] {100 * self.mean:.2f} +- {100 * self.std:.2f} % "
            f"({chosen}; {self.seconds:.1f} s)"
        )


# --------------------------------------------------------------------------- public API


def svm_cv(
    gram,
    y,
    folds: Iterable[Fold],
    *,
    protocol: str = "paper",
    C_grid=None,
    normalizations: Sequence[str] = ("raw", "cosine"),
    inner_folds: int = 5,
    inner_C_grid=None,
    solver: str = "path",
    tol: float = DEFAULT_TOL,
    n_jobs: int | None = None,
    seed: int = 0,
    progress: bool = False,
    hard_margin_shortcut: bool = True,
    max_iter: int | None = None,
) -> CVResult:
    """Cross-validated C-SVM accuracy of a precomputed kernel.

    The raw Gram is first divided by its minimum (:func:`scale_gram`, as the
    GNTK authors did); ``"cosine"`` is :func:`cosine_normalize` of it.  For
    every normalisation and every C in ``C_grid`` the C-SVM of
    ``SVC(kernel="precomputed", C=C)`` (one-vs-one for several classes) is
    fitted on a training fold and scored (accuracy) on its test fold.

    Args:
        gram: ``(n, n)`` symmetric kernel matrix (numpy array or torch tensor).  A
            ``numpy.memmap`` (``np.load(path, mmap_mode="r")``) is checked and transformed by
            bands and each fold's blocks are read from disk
            (:func:`fastgnn.distributed.outofcore.transformed_grams`): the same result.
        y: ``(n,)`` integer labels.
        folds: ``[(train_idx, test_idx), ...]`` index arrays into ``0..n-1`` (any iterable).
        protocol: ``"paper"``: the (normalisation, C) with the best mean test
            accuracy over the folds (optimistic, as the GNTK paper; ties go to
            the first normalisation, then to the first C of the grid).
            ``"nested"``: for each fold the (normalisation, C) with the best mean
            accuracy of a stratified ``inner_folds``-fold CV of the training fold
            (shuffled with ``seed``; ties as above), refitted on the whole training
            fold and scored on the test fold.  The GNTK configuration itself is
            fixed here; :func:`fully_nested_cv` chooses it inside the folds too.
        C_grid: values of C; default :data:`DEFAULT_C_GRID` (the authors' 120).
        normalizations: subset of ``("raw", "cosine")``.
        inner_folds: number of inner folds (``"nested"`` only).
        inner_C_grid: grid for the inner search (``"nested"`` only); ``None`` (the
            default, and what every fastgnn entry point uses) is ``C_grid``.
        solver: ``"path"`` (default): :func:`fastgnn.model_selection.svm_path`,
            libsvm's problem and stopping rule solved along the whole grid with
            warm starts, uncapped.  ``"libsvm"``: one ``sklearn.svm.SVC`` fit per
            C, capped at ``max_iter`` (the authors' 5e5), for comparison.
        tol: KKT stopping tolerance of either solver (libsvm's default 1e-3).
        n_jobs: parallel threads over (fold, normalisation) jobs; ``None`` or -1:
            all cores, 1: serial.
        seed: seed of the inner splits.
        progress: show a tqdm bar over the jobs.
        max_iter: iterations per fit.  ``None``: the solver's default, the authors'
            cap of 5e5 for ``"libsvm"``, no cap for ``"path"``.  A low cap makes
            large-C fits on non-separable data cheaper and less exact: for
            screening only.
        hard_margin_shortcut: ``"libsvm"`` only: skip the fits at larger C once a
            fit's solution has no dual variable at the bound (that solution is then
            optimal for every larger C).  ``False`` fits every C.  The path solver
            always stops there (exactly the same solution).

    Returns:
        A :class:`CVResult` with ``method="svm"``.

    Cost: see the module docstring; F x |normalizations| C paths of size ~0.9 n
    for ``"paper"``, plus ``inner_folds`` paths of size ~0.72 n per (fold,
    normalisation) for ``"nested"``.
    """
    grid = _check_grid(DEFAULT_C_GRID if C_grid is None else C_grid, "C_grid")
    if protocol == "nested":
        inner_grid = grid if inner_C_grid is None else _check_grid(inner_C_grid, "inner_C_grid")
    else:
        inner_grid = grid
    path = svm_solver(solver, tol=tol, max_iter=max_iter, hard_margin_shortcut=hard_margin_shortcut)
    return _run_cv(
        path, gram, y, folds, protocol, grid, inner_grid, normalizations,
        inner_folds, n_jobs, seed, progress, method="svm", relative=False,
    )


def svm_solver(solver: str = "path", *, tol: float = DEFAULT_TOL, max_iter: int | None = None,
               hard_margin_shortcut: bool = True):
    """The accuracy-along-a-grid function of ``solver``: ``f(k_tr, y_tr, k_te, y_te, grid) -> (G,)``.

    ``"path"``: :func:`fastgnn.model_selection.svm_path_accuracy` (warm-started, uncapped
    unless ``max_iter``); ``"libsvm"``: one ``SVC`` fit per C, capped at ``max_iter``
    (default :data:`SVM_MAX_ITER`).  Both return picklable callables (Dask tasks).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not (isinstance(tol, int | float | np.floating) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if max_iter is not None and (not isinstance(max_iter, int | np.integer) or max_iter < 1):
        raise ValueError(f"max_iter must be None or a positive integer, got {max_iter!r}")
    if solver == "path":
        return functools.partial(svm_path_accuracy, tol=float(tol), max_iter=max_iter)
    return _SvmPath(hard_margin_shortcut, SVM_MAX_ITER if max_iter is None else int(max_iter), float(tol))


def krr_cv(
    gram,
    y,
    folds: Iterable[Fold],
    *,
    protocol: str = "paper",
    alpha_grid=None,
    normalizations: Sequence[str] = ("raw", "cosine"),
    inner_folds: int = 5,
    n_jobs: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> CVResult:
    """Cross-validated kernel-ridge-regression accuracy of a precomputed kernel.

    For a training fold with Gram ``K`` and one-hot targets ``Y`` (one column
    per class; ±1 one-vs-rest targets give the same argmax), the dual
    coefficients ``B = (K + alpha I)^{-1} Y`` are computed from one
    eigendecomposition ``K = V diag(w) V^T``: ``B = V diag(1/(w+alpha)) V^T Y``;
    a test item is assigned the class of the largest entry of ``K_test,train B``.
    This is what ``sklearn.kernel_ridge.KernelRidge(alpha, kernel="precomputed")``
    computes (by Cholesky, one alpha at a time).

    Args:
        gram, y, folds, protocol, normalizations, inner_folds, n_jobs, seed,
        progress: as in :func:`svm_cv` (the Gram is transformed the same way).
        alpha_grid: absolute ridge values.  Default: :data:`DEFAULT_ALPHA_GRID`
            times the mean diagonal of the transformed Gram (so the grid adapts
            to each normalisation; the values used are in ``result.grid``).

    Returns:
        A :class:`CVResult` with ``method="krr"`` and ``param_name="alpha"``.

    Cost: one O(p^3) symmetric eigendecomposition per (fold, normalisation)
    (``inner_folds`` of them per fold for ``"nested"``, whose refit is a single
    Cholesky solve), then O(m p k) per alpha.  Grids of at most 3 values use one
    O(p^3 / 3) Cholesky factorisation per alpha instead.
    """
    relative = alpha_grid is None
    grid = _check_grid(DEFAULT_ALPHA_GRID if relative else alpha_grid, "alpha_grid", positive=False)
    return _run_cv(
        _krr_path, gram, y, folds, protocol, grid, grid, normalizations,
        inner_folds, n_jobs, seed, progress, method="krr", relative=relative,
    )


def cosine_normalize(gram) -> np.ndarray:
    """Return ``K_ij / sqrt(K_ii K_jj)`` (a new float64 array; unit diagonal).

    Invariant to rescaling each item (``K -> D K D`` for positive diagonal D).
    Raises ``ValueError`` if a diagonal entry is not positive.  Cost O(n^2).
    """
    k = np.array(gram, dtype=np.float64, copy=True)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {k.shape}")
    d = np.diag(k).copy()
    if not np.all(d > 0):
        bad = int(np.flatnonzero(~(d > 0))[0])
        raise ValueError(
            "gram: cosine normalisation needs a positive diagonal, "
            f"but gram[{bad}, {bad}] = {d[bad]}"
        )
    s = 1.0 / np.sqrt(d)
    k *= s[:, None]
    k *= s[None, :]
    np.fill_diagonal(k, 1.0)
    return k


def scale_gram(gram) -> np.ndarray:
    """Return the Gram divided by its smallest entry, as the GNTK authors did.

    GNTK Grams are entrywise positive, so ``gram / gram.min()`` has all entries
    >= 1.  If the smallest entry is not positive (dividing by it would flip or
    blow up the kernel), the Gram is divided by its mean diagonal instead.
    For an SVM, dividing K by s is the same as multiplying C by 1/s.
    Returns a new float64 array.  Cost O(n^2).
    """
    k = np.array(gram, dtype=np.float64, copy=True)
    m = k.min()
    if m > 0:
        k /= m
    else:
        md = float(np.mean(np.diag(k)))
        if md > 0:
            k /= md
    return k


# --------------------------------------------------------------------------- driver


_NORMALIZATIONS = ("raw", "cosine")


def _run_cv(path, gram, y, folds, protocol, grid, inner_grid, normalizations, inner_folds,
            n_jobs, seed, progress, *, method, relative):
    """Validate, transform the Gram, run the jobs of either protocol, assemble the result."""
    t0 = time.perf_counter()
    if protocol not in ("paper", "nested"):
        raise ValueError(f"protocol must be 'paper' or 'nested', got {protocol!r}")
    norms = _check_normalizations(normalizations)
    if protocol == "nested" and (not isinstance(inner_folds, int | np.integer) or inner_folds < 2):
        raise ValueError(f"inner_folds must be an integer >= 2, got {inner_folds!r}")
    if isinstance(gram, np.memmap):  # on disk: checked and transformed by bands, folds read from memory maps
        from fastgnn.distributed.outofcore import transformed_grams

        grams, y = transformed_grams(gram, y, norms)
        folds = _check_folds(folds, y)
    else:
        k, y = _check_gram_labels(gram, y)
        folds = _check_folds(folds, y)
        raw = scale_gram(k)
        del k
        grams = {}
        for nm in norms:
            grams[nm] = raw if nm == "raw" else cosine_normalize(raw)
    grids = {nm: grid * float(np.mean(np.diag(grams[nm]))) if relative else grid for nm in norms}
    inner_grids = (
        {nm: inner_grid * float(np.mean(np.diag(grams[nm]))) if relative else inner_grid
         for nm in norms}
    )
    param_name = "C" if method == "svm" else "alpha"

    if protocol == "paper":
        jobs = [(f, nm) for f in range(len(folds)) for nm in norms]
        out = _parallel(
            (delayed(_fold_curve)(path, grams[nm], y, *folds[f], grids[nm]) for f, nm in jobs),
            len(jobs), n_jobs, progress, desc=f"{method} paper",
        )
        acc = {nm: np.empty((len(grids[nm]), len(folds))) for nm in norms}
        for (f, nm), a in zip(jobs, out):
            acc[nm][:, f] = a
        # Mean over folds exactly as GridSearchCV does (np.average over the fold axis).
        curve = {nm: np.average(acc[nm], axis=1) for nm in norms}
        best_nm, best_j = _argbest(curve, norms)
        fold_acc = acc[best_nm][best_j].copy()
        return CVResult(
            mean=float(curve[best_nm][best_j]), std=float(np.std(fold_acc)),
            fold_accuracies=fold_acc, protocol="paper", C=float(grids[best_nm][best_j]),
            normalization=best_nm, method=method, param_name=param_name, grid=grids,
            curve=curve, curve_folds=acc, seconds=time.perf_counter() - t0,
        )

    out = _parallel(
        (delayed(_nested_fold)(path, grams, y, tr, te, norms, grids, inner_grids,
                               inner_folds, seed) for tr, te in folds),
        len(folds), n_jobs, progress, desc=f"{method} nested",
    )
    fold_acc = np.array([o[0] for o in out])
    return CVResult(
        mean=float(np.mean(fold_acc)), std=float(np.std(fold_acc)), fold_accuracies=fold_acc,
        protocol="nested", C=[float(o[2]) for o in out], normalization=[o[1] for o in out],
        method=method, param_name=param_name, grid=inner_grids, curve=None, curve_folds=None,
        seconds=time.perf_counter() - t0,
    )


def _fold_curve(path, k, y, tr, te, grid):
    """Test accuracy at every grid value for one (train, test) split of Gram ``k``."""
    k_tr = k[np.ix_(tr, tr)]
    k_te = k[np.ix_(te, tr)]
    return path(k_tr, y[tr], k_te, y[te], grid)


def _nested_fold(path, grams, y, tr, te, norms, grids, inner_grids, inner_folds, seed):
    """One outer fold of the nested protocol -> (test accuracy, normalisation, value)."""
    skf = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    inner = list(skf.split(np.zeros(len(tr)), y[tr]))
    curves = {}
    for nm in norms:
        k_tr = grams[nm][np.ix_(tr, tr)]
        y_tr = y[tr]
        acc = np.empty((len(inner_grids[nm]), len(inner)))
        for s, (itr, ite) in enumerate(inner):
            acc[:, s] = _fold_curve(path, k_tr, y_tr, itr, ite, inner_grids[nm])
        curves[nm] = np.average(acc, axis=1)
    best_nm, best_j = _argbest(curves, norms)
    value = inner_grids[best_nm][best_j]
    if getattr(path, "func", None) is svm_path_accuracy:
        # The grid up to the chosen C: the refit is warm-started exactly as the paper protocol's path.
        refit_grid = np.sort(inner_grids[best_nm][inner_grids[best_nm] <= value])
    else:
        refit_grid = np.array([value])
    a = _fold_curve(path, grams[best_nm], y, tr, te, refit_grid)[-1]
    return float(a), best_nm, float(value)


def _argbest(curves, norms):
    """(normalisation, index) of the largest mean; ties: first normalisation, then first index."""
    best = None
    for nm in norms:
        j = int(np.argmax(curves[nm]))
        if best is None or curves[nm][j] > curves[best[0]][best[1]]:
            best = (nm, j)
    return best


def _parallel(tasks, n_tasks, n_jobs, progress, desc):
    """Run delayed tasks in threads (ordered results); one BLAS thread each when parallel."""
    n_workers = _effective_jobs(n_jobs, n_tasks)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_tasks, desc=desc)
    else:
        bar = None
    results = []
    if n_workers == 1:
        for fn, args, kwargs in tasks:
            results.append(fn(*args, **kwargs))
            if bar is not None:
                bar.update()
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            gen = Parallel(n_jobs=n_workers, backend="threading", return_as="generator")(tasks)
            for r in gen:
                results.append(r)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    return results


def _effective_jobs(n_jobs, n_tasks):
    if n_jobs is None or n_jobs == -1:
        n = os.cpu_count() or 1
    elif not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be None, -1 or a positive integer, got {n_jobs!r}")
    else:
        n = int(n_jobs)
    return max(1, min(n, n_tasks))


# --------------------------------------------------------------------------- classifiers


class _SvmPath:
    """Test accuracy of ``SVC(kernel="precomputed", C=c)`` for every c of a grid.

    Fits in increasing C.  With ``shortcut``, once a converged fit has every
    dual variable strictly below its bound C, the box constraint is inactive and
    the same solution is optimal for all larger C: their accuracies are copied.
    """

    def __init__(self, shortcut: bool = True, max_iter: int = SVM_MAX_ITER, tol: float = DEFAULT_TOL):
        self.shortcut = shortcut
        self.max_iter = max_iter
        self.tol = tol

    def __call__(self, k_tr, y_tr, k_te, y_te, grid):
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


def _krr_path(k_tr, y_tr, k_te, y_te, grid):
    """Test accuracy of kernel ridge regression (one-hot targets, argmax) at every alpha."""
    classes, y_enc = np.unique(y_tr, return_inverse=True)
    targets = np.zeros((len(y_tr), len(classes)))
    targets[np.arange(len(y_tr)), y_enc] = 1.0
    if len(grid) <= _KRR_CHOLESKY_MAX:
        # A Cholesky factorisation is ~10x cheaper than an eigendecomposition.
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


# --------------------------------------------------------------------------- validation


def _check_gram_labels(gram, y):
    """Return (float64 symmetric gram, 1-D labels) or raise ValueError naming the argument."""
    if hasattr(gram, "detach"):  # torch tensor
        gram = gram.detach().cpu().numpy()
    k = np.asarray(gram)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {k.shape}")
    if not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
        raise ValueError(f"gram must be a real numeric matrix, got dtype {k.dtype}")
    k = np.asarray(k, dtype=np.float64)
    n = k.shape[0]
    if not np.isfinite(k).all():
        i, j = np.argwhere(~np.isfinite(k))[0]
        raise ValueError(f"gram must be finite, but gram[{i}, {j}] = {k[i, j]}")
    scale = float(np.abs(k).max()) if n else 0.0
    asym = float(np.abs(k - k.T).max()) if n else 0.0
    if asym > 1e-6 * max(scale, 1e-300):
        raise ValueError(
            f"gram must be symmetric: max |K - K^T| = {asym:.3g} (max |K| = {scale:.3g})"
        )
    if asym > 0:
        k = 0.5 * (k + k.T)
    return k, _check_labels(y, n)


def _check_labels(y, n: int) -> np.ndarray:
    """Return 1-D labels for an ``n x n`` Gram or raise ValueError naming ``y``."""
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels but gram is {n} x {n}")
    return y


def _check_folds(folds, y):
    n = len(y)
    folds = None if folds is None else list(folds)  # also accepts zip(train_folds, test_folds)
    if not folds:
        raise ValueError("folds must be a non-empty list of (train_idx, test_idx) pairs")
    out = []
    for f, pair in enumerate(folds):
        if len(pair) != 2:
            raise ValueError(f"folds[{f}] must be a (train_idx, test_idx) pair")
        idx = []
        for name, a in zip(("train", "test"), pair):
            a = np.asarray(a)
            if a.dtype == bool:
                if a.shape != (n,):
                    raise ValueError(f"folds[{f}] {name} mask has shape {a.shape}, expected ({n},)")
                a = np.flatnonzero(a)
            if a.ndim != 1 or len(a) == 0:
                raise ValueError(f"folds[{f}] {name} indices must be a non-empty 1-D array")
            if not np.issubdtype(a.dtype, np.integer):
                if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
                    a = a.astype(np.int64)
                else:
                    raise ValueError(f"folds[{f}] {name} indices must be integers, got {a.dtype}")
            if a.min() < 0 or a.max() >= n:
                bad = a[(a < 0) | (a >= n)][0]
                raise ValueError(
                    f"folds[{f}] {name} index {bad} is out of range for {n} items"
                )
            idx.append(a.astype(np.intp))
        tr, te = idx
        common = np.intersect1d(tr, te)
        if len(common):
            raise ValueError(
                f"folds[{f}]: train and test overlap ({len(common)} items, e.g. {common[0]})"
            )
        if len(np.unique(y[tr])) < 2:
            raise ValueError(f"folds[{f}]: the training fold has fewer than 2 classes")
        out.append((tr, te))
    return out


def _check_grid(grid, name, positive=True):
    g = np.asarray(grid, dtype=np.float64).ravel()
    if g.size == 0 or not np.all(np.isfinite(g)):
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers")
    if positive and np.any(g <= 0):
        raise ValueError(f"{name} values must be > 0")
    if not positive and np.any(g < 0):
        raise ValueError(f"{name} values must be >= 0")
    return g


def _check_normalizations(normalizations):
    if isinstance(normalizations, str):
        normalizations = (normalizations,)
    norms = tuple(normalizations)
    if not norms or any(nm not in _NORMALIZATIONS for nm in norms) or len(set(norms)) != len(norms):
        raise ValueError(
            f"normalizations must be distinct values from {_NORMALIZATIONS}, got {normalizations!r}"
        )
    return norms


def _dict_to_builtin(d):
    return None if d is None else {k: _to_builtin(v) for k, v in d.items()}


def _to_builtin(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list | tuple):
        return [_to_builtin(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
