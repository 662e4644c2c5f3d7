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

Layout.  This module is the front: it checks the arguments, builds the result and says what
each option means.  The work is :mod:`fastgnn.model_selection`'s: the Gram transforms of
:mod:`fastgnn.gram`, the solvers of :mod:`fastgnn.model_selection.solvers`, the one protocol driver
:func:`fastgnn.model_selection.protocols.cross_validate`, and the :class:`~fastgnn.model_selection.runner.Runner`
(threads here, or ``executor="dask"``) that the grid search shares.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastgnn import gram as grams_
from fastgnn.gram import NORMALIZATIONS, check_labels, cosine_normalize, scale_gram
from fastgnn.model_selection import protocols
from fastgnn.model_selection.path import DEFAULT_TOL
from fastgnn.model_selection.runner import Runner
from fastgnn.model_selection.solvers import (
    COARSE_C_GRID,
    DEFAULT_ALPHA_GRID,
    DEFAULT_C_GRID,
    SOLVERS,
    SVM_CACHE_MB,
    SVM_MAX_ITER,
    krr_accuracy,
    svm_solver,
)

__all__ = [
    "CVResult",
    "describe_choice",
    "LOW_PRECISION_NOTE",
    "svm_cv",
    "svm_solver",
    "SOLVERS",
    "krr_cv",
    "cosine_normalize",
    "scale_gram",
    "DEFAULT_C_GRID",
    "COARSE_C_GRID",
    "DEFAULT_ALPHA_GRID",
    "NORMALIZATIONS",
    "SVM_MAX_ITER",
    "SVM_CACHE_MB",
]

Fold = tuple[np.ndarray, np.ndarray]

#: what a float32 (or lower) Gram risks, measured by ``benchmarks/float32_gntk_error.py`` on MUTAG
#: (``benchmarks/results/float32_gntk_error_run.txt``; README, "float32")
LOW_PRECISION_NOTE = (
    "float32 rounding inside the GNTK reaches 3e-4 of the largest entry at L=6 R=3 on MUTAG, gives the "
    "cosine-normalised Gram negative eigenvalues down to -5e-4, and moved the paper protocol's accuracy by up to "
    "3.3 points there (85.56 -> 82.22 %).  Compute the Gram in float64 (the default) for the numbers you report")


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
            It belongs to the *transformed* Gram the classifier was fitted on: for ``"raw"``
            that is ``gram / gram_scale`` (``SVC(kernel="precomputed", C=C)`` on it gives these
            accuracies; on the Gram as given, ``C / gram_scale`` does); for ``"cosine"`` the
            cosine-normalised Gram, which no rescaling of the Gram changes.
        normalization: the chosen Gram transform (``"raw"`` or ``"cosine"``):
            one string for ``"paper"``, one per fold for ``"nested"``.
        method: ``"svm"`` or ``"krr"``.
        param_name: ``"C"`` or ``"alpha"``.
        grid: normalisation -> the regularisation values tried (absolute).
        curve: normalisation -> ``(G,)`` mean test accuracy over the outer folds
            at each grid value (``"paper"`` only; ``None`` for ``"nested"``).
        curve_folds: normalisation -> ``(G, F)`` test accuracy per grid value and fold.
        seconds: wall-clock time of the evaluation.
        gram_scale: what the Gram was divided by before the ``"raw"`` fits (its smallest entry,
            as Du et al.'s script; 1.0 when nothing divided it): see ``C``.
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
    gram_scale: float = 1.0

    @property
    def n_folds(self) -> int:
        """The number of outer folds the accuracy is the mean of."""
        return len(self.fold_accuracies)

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
            "gram_scale": float(self.gram_scale),
            "folds": self.n_folds,
        }

    def __str__(self) -> str:
        if self.protocol == "paper":
            chosen = describe_choice(self.normalization, self.param_name, self.C, self.gram_scale)
        else:
            chosen = f"per-fold {self.param_name}, normalisation chosen by inner CV"
        return (
            f"{self.method} [{self.protocol}] {100 * self.mean:.2f} +- {100 * self.std:.2f} % over "
            f"{self.n_folds} folds ({chosen}; {self.seconds:.1f} s)"
        )


# --------------------------------------------------------------------------- public API


def svm_cv(
    gram,
    y,
    folds: Iterable[Fold],
    *,
    protocol: str = "paper",
    C_grid=None,
    normalizations: Sequence[str] = NORMALIZATIONS,
    inner_folds: int = 5,
    inner_C_grid=None,
    solver: str = "path",
    tol: float = DEFAULT_TOL,
    n_jobs: int | None = None,
    executor: str = "local",
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
            bands and each fold's blocks are read from disk (:func:`fastgnn.gram.transform`):
            the same result.
        y: ``(n,)`` class labels (integers, strings, ...; continuous values, NaN and ``None`` are
            refused, as scikit-learn's classifiers refuse them).
        folds: ``[(train_idx, test_idx), ...]`` index arrays into ``0..n-1`` (any iterable), or what
            scikit-learn's ``cv=`` takes: an int k (``StratifiedKFold(k)``, not shuffled, as
            ``sklearn.model_selection.check_cv`` makes it) or a splitter object such as
            ``StratifiedKFold(10, shuffle=True, random_state=0)``.
        protocol: ``"paper"``: the (normalisation, C) with the best mean test
            accuracy over the folds (optimistic, as the GNTK paper; ties go to
            the first normalisation, then to the first C of the grid).
            ``"nested"``: for each fold the (normalisation, C) with the best mean
            accuracy of a stratified ``inner_folds``-fold CV of the training fold
            (shuffled with ``seed``; ties as above), refitted on the whole training
            fold and scored on the test fold.  The GNTK configuration itself is
            fixed here; :func:`fastgnn.search.gntk_search` with ``fully_nested=True`` chooses it
            inside the folds too.
        C_grid: values of C; default :data:`DEFAULT_C_GRID` (the authors' 120).
        normalizations: subset of ``("raw", "cosine")``.
        inner_folds: number of inner folds (``"nested"`` only).
        inner_C_grid: grid for the inner search (``"nested"`` only); ``None`` (the
            default, and what every fastgnn entry point uses) is ``C_grid``.
        solver: one of :data:`SOLVERS`.  ``"path"`` (default): :func:`fastgnn.model_selection.svm_path`,
            libsvm's problem and stopping rule solved along the whole grid with
            warm starts, uncapped.  ``"libsvm"``: one ``sklearn.svm.SVC`` fit per
            C, capped at ``max_iter`` (the authors' 5e5), for comparison.
        tol: KKT stopping tolerance of either solver (libsvm's default 1e-3).
        n_jobs: parallel threads over (fold, normalisation) jobs; ``None`` or -1:
            all cores, 1: serial (BLAS runs on one thread inside the jobs either way).
        executor: ``"local"`` (threads) or ``"dask"``: the jobs run on the active
            ``distributed.Client`` (:data:`fastgnn.executors.EXECUTORS`); the results are the same.
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
        A :class:`CVResult` with ``method="svm"``.  Its ``C`` is that of the *transformed* Gram:
        ``gram / result.gram_scale`` for ``"raw"`` (``SVC(kernel="precomputed", C=result.C)`` on
        that Gram reproduces the accuracies), the cosine-normalised Gram for ``"cosine"``.

    Warns (``UserWarning``) when the Gram is float32 or lower: its rounding can change the choice of C
    and the accuracy (:data:`LOW_PRECISION_NOTE`).

    Cost: see the module docstring; F x |normalizations| C paths of size ~0.9 n
    for ``"paper"``, plus ``inner_folds`` paths of size ~0.72 n per (fold,
    normalisation) for ``"nested"``.
    """
    grid = protocols.check_grid(DEFAULT_C_GRID if C_grid is None else C_grid, "C_grid")
    inner = None
    if protocol == "nested" and inner_C_grid is not None:
        inner = protocols.check_grid(inner_C_grid, "inner_C_grid")
    solve = svm_solver(solver, tol=tol, max_iter=max_iter, hard_margin_shortcut=hard_margin_shortcut)
    return _cross_validate(solve, gram, y, folds, protocol, grid, inner, normalizations, inner_folds,
                           n_jobs, executor, seed, progress, method="svm", relative=False)


def krr_cv(
    gram,
    y,
    folds: Iterable[Fold],
    *,
    protocol: str = "paper",
    alpha_grid=None,
    normalizations: Sequence[str] = NORMALIZATIONS,
    inner_folds: int = 5,
    n_jobs: int | None = None,
    executor: str = "local",
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
        gram, y, folds, protocol, normalizations, inner_folds, n_jobs, executor, seed,
        progress: as in :func:`svm_cv` (the Gram is transformed the same way).
        alpha_grid: absolute ridge values.  Default: :data:`DEFAULT_ALPHA_GRID`
            times the mean diagonal of the transformed Gram (so the grid adapts
            to each normalisation; the values used are in ``result.grid``).

    Returns:
        A :class:`CVResult` with ``method="krr"`` and ``param_name="alpha"`` (the ridge of the
        transformed Gram, ``gram / result.gram_scale`` for ``"raw"``, as ``C`` in :func:`svm_cv`).

    Cost: one O(p^3) symmetric eigendecomposition per (fold, normalisation)
    (``inner_folds`` of them per fold for ``"nested"``, whose refit is a single
    Cholesky solve), then O(m p k) per alpha.  Grids of at most 3 values use one
    O(p^3 / 3) Cholesky factorisation per alpha instead.
    """
    relative = alpha_grid is None
    grid = protocols.check_grid(DEFAULT_ALPHA_GRID if relative else alpha_grid, "alpha_grid", positive=False)
    return _cross_validate(krr_accuracy, gram, y, folds, protocol, grid, None, normalizations, inner_folds,
                           n_jobs, executor, seed, progress, method="krr", relative=relative)


def _cross_validate(solver, gram, y, folds, protocol, grid, inner_grid, normalizations, inner_folds, n_jobs,
                    executor, seed, progress, *, method, relative) -> CVResult:
    """Check the arguments, transform the Gram, run the protocol driver, build the :class:`CVResult`."""
    t0 = time.perf_counter()
    protocols.check_protocol(protocol)
    norms = grams_.check_normalizations(normalizations)
    if protocol == "nested":
        protocols.check_inner_folds(inner_folds)
    shape = np.shape(gram)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {shape}")
    y = check_labels(y, shape[0])
    folds = protocols.check_folds(folds, y)
    _warn_if_low_precision(gram, method)
    runner = Runner(n_jobs, executor)
    info = {}
    grams = grams_.transform(gram, norms, info=info)
    if relative:  # kernel ridge: the grid is relative to each normalisation's mean diagonal
        grid = {nm: grid * float(np.mean(np.diag(grams[nm]))) for nm in norms}
    n_tasks = len(folds) * len(norms) + (len(folds) if protocol == "nested" else 0)
    runner.start(n_tasks, f"{method} {protocol}", progress)
    try:
        out = protocols.cross_validate(grams, y, folds, protocol=protocol, grid=grid, solver=solver,
                                       inner_grid=inner_grid, inner_folds=inner_folds, seed=seed, run=runner)
    finally:
        runner.stop()
    return CVResult(
        mean=out["mean"], std=out["std"], fold_accuracies=np.asarray(out["fold_accuracies"]), protocol=protocol,
        C=out["value"], normalization=out["normalization"], method=method,
        param_name="C" if method == "svm" else "alpha", grid=out["grid"], curve=out["curve"],
        curve_folds=out["curve_folds"], seconds=time.perf_counter() - t0, gram_scale=info["scale"],
    )


def describe_choice(normalization: str, param_name: str, value: float, gram_scale: float) -> str:
    """The chosen (normalisation, C) in words that say which Gram the C belongs to:
    ``raw = gram / 0.0123, C=1561`` or ``cosine-normalised, C=3.2``."""
    if normalization == "raw":
        gram = "raw Gram" if gram_scale == 1.0 else f"raw = gram / {gram_scale:.6g}"
    else:
        gram = f"{normalization}-normalised"
    return f"{gram}, {param_name}={value:.4g}"


def _warn_if_low_precision(gram, method: str) -> None:
    """``UserWarning`` for a Gram held in float32 or lower (:data:`LOW_PRECISION_NOTE`)."""
    dtype = getattr(gram, "dtype", None)  # numpy's and torch's dtypes both have an itemsize
    if dtype is not None and "float" in str(dtype) and getattr(dtype, "itemsize", 8) < 8:
        warnings.warn(f"{method}_cv: the Gram is {str(dtype).replace('torch.', '')}: {LOW_PRECISION_NOTE}.",
                      UserWarning, stacklevel=4)


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
