"""The evaluation protocols: accuracy curves over a grid, and the selections made from them.

For one Gram (one GNTK configuration), one normalisation and one outer fold f
(train T_f, test S_f), a solver along the grid (:mod:`.solvers`) gives two curves:

* ``test[g]``: accuracy on S_f of the classifier fitted on T_f at grid value g;
* ``inner[g]``: mean accuracy of a stratified ``inner_folds``-fold CV inside T_f at g.

Every protocol (:data:`PROTOCOLS`, and the fully nested one of the grid search) is a choice made
from these numbers:

* **paper** (Du et al.): the (normalisation, value) maximising the mean over f of ``test``;
  reported: that mean.  The value is chosen on the test folds: optimistic.
* **nested**: per fold, the (normalisation, value) maximising ``inner``; reported: the mean
  of ``test`` at each fold's choice.  The GNTK configuration is fixed by the caller.
* **fully nested**: per fold, the (configuration, normalisation, value) maximising ``inner``
  over every configuration; reported: the mean of ``test`` at the choices.  Nothing is chosen
  on the test folds.

Ties go to the first configuration given, then the first normalisation, then the first
(smallest) value, as GridSearchCV's ``best_index_`` does.

The nested protocol needs ``test`` only at each fold's choice.  :func:`cross_validate` (what
:func:`fastgnn.evaluate.svm_cv` and ``krr_cv`` run) therefore computes the inner curves first and
then refits each outer training fold at its choice (:func:`refit_choices`): along the grid up to
it for the path solver (the same warm-started path, so the same number as the full test curve's
entry), at that one value otherwise (one libsvm fit instead of 120).  The grid search keeps every
configuration's whole curves (:func:`grid_curves`), since the fully nested protocol chooses among
them.

:func:`fold_curves` (one normalisation and fold) and :func:`refit` are pure functions of their
arguments: the units of work a :class:`.runner.Runner` runs in threads or on Dask.

Cost: per (normalisation, fold), one solver run on |T_f| items, plus one per inner fold on
~|T_f|(1 − 1/k) items when inner curves are asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

__all__ = ["PROTOCOLS", "Curves", "check_protocol", "check_folds", "check_grid", "check_inner_folds",
           "inner_splits", "fold_curves", "grid_curves", "refit", "refit_choices", "cross_validate",
           "select_paper", "select_nested", "select_fully_nested", "choose_per_fold"]

#: The protocols of one Gram, in the order the CLI and the reports list them.
PROTOCOLS = ("paper", "nested")

Fold = tuple[np.ndarray, np.ndarray]


@dataclass
class Curves:
    """Accuracy curves of one Gram.

    Attributes:
        grid: the values: ``(G,)`` shared by every normalisation, or ``(N, G)`` one row per
            normalisation (kernel ridge's grid relative to each normalisation's diagonal).
        normalizations: the Gram transforms, in tie-break order.
        test: ``(N, G, F)`` test accuracy per normalisation, value and outer fold, or None
            (inner curves only).
        inner: ``(N, G, F)`` mean inner-CV accuracy, or None (paper protocol only).
        seconds: wall time spent making them.
    """

    grid: np.ndarray
    normalizations: tuple
    test: np.ndarray | None
    inner: np.ndarray | None = None
    seconds: float = 0.0

    def value(self, n: int, g: int) -> float:
        """The grid value at (normalisation index n, grid index g)."""
        return float(self.grid[n, g] if self.grid.ndim == 2 else self.grid[g])

    def grid_of(self, n: int) -> np.ndarray:
        """``(G,)`` the values of normalisation index n."""
        return self.grid[n] if self.grid.ndim == 2 else self.grid

    def to_npz(self) -> dict:
        out = {"grid": self.grid, "normalizations": np.array(self.normalizations), "test": self.test,
               "seconds": np.array(self.seconds)}
        if self.inner is not None:
            out["inner"] = self.inner
        return out

    @classmethod
    def from_npz(cls, z) -> Curves:
        return cls(grid=z["grid"], normalizations=tuple(str(n) for n in z["normalizations"]), test=z["test"],
                   inner=z["inner"] if "inner" in z else None, seconds=float(z["seconds"]))


# --------------------------------------------------------------------------- checks


def check_protocol(protocol) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return protocol


def check_inner_folds(inner_folds) -> int:
    if not isinstance(inner_folds, int | np.integer) or isinstance(inner_folds, bool) or inner_folds < 2:
        raise ValueError(f"inner_folds must be an integer >= 2, got {inner_folds!r}")
    return int(inner_folds)


def check_grid(grid, name: str, positive: bool = True) -> np.ndarray:
    """``grid`` as a 1-D float64 array of finite values (> 0, or >= 0 unless ``positive``)."""
    g = np.asarray(grid, dtype=np.float64).ravel()
    if g.size == 0 or not np.all(np.isfinite(g)):
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers")
    if positive and np.any(g <= 0):
        raise ValueError(f"{name} values must be > 0")
    if not positive and np.any(g < 0):
        raise ValueError(f"{name} values must be >= 0")
    return g


def check_folds(folds, y) -> list[Fold]:
    """``[(train, test), ...]`` as index arrays into ``y``, checked, or ``ValueError`` naming the fold.

    Accepts any iterable of pairs (e.g. ``zip(train_folds, test_folds)``), index arrays or boolean
    masks; train and test must not overlap, and every training fold must hold two classes.  Also
    what scikit-learn's ``cv=`` accepts: an int k, a stratified k-fold split (``StratifiedKFold(k)``,
    not shuffled, as ``sklearn.model_selection.check_cv`` makes it for a classifier), or a splitter
    object (``StratifiedKFold(10, shuffle=True, random_state=0)``, ``KFold``, ...), split on ``y``.
    """
    n = len(y)
    if isinstance(folds, bool):
        raise ValueError(f"folds must be (train_idx, test_idx) pairs, an int >= 2 or a splitter, got {folds!r}")
    if isinstance(folds, int | np.integer) or hasattr(folds, "split"):
        folds = _split(folds, y)
    folds = None if folds is None else list(folds)
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
                raise ValueError(f"folds[{f}] {name} index {bad} is out of range for {n} items")
            idx.append(a.astype(np.intp))
        tr, te = idx
        common = np.intersect1d(tr, te)
        if len(common):
            raise ValueError(f"folds[{f}]: train and test overlap ({len(common)} items, e.g. {common[0]})")
        if len(np.unique(y[tr])) < 2:
            raise ValueError(f"folds[{f}]: the training fold has fewer than 2 classes")
        out.append((tr, te))
    return out


def _split(cv, y) -> list:
    """The folds of an int or a scikit-learn splitter, as ``cross_validate(cv=...)`` makes them."""
    from sklearn.model_selection import check_cv

    if isinstance(cv, int | np.integer) and cv < 2:
        raise ValueError(f"folds={cv!r}: an integer number of folds must be >= 2")
    try:
        splitter = check_cv(cv, y, classifier=True)
        return list(splitter.split(np.zeros((len(y), 1)), y))
    except ValueError as e:
        raise ValueError(f"folds={cv!r}: {e}") from None


# --------------------------------------------------------------------------- tasks


def inner_splits(y_train, inner_folds: int, seed: int) -> list:
    """The inner folds of one training fold: stratified, shuffled with ``seed`` (indices into it)."""
    skf = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y_train)), y_train))


def fold_curves(gram, y, train, test, grid, solver, splits=None, test_curve: bool = True):
    """``(test curve (G,) or None, inner curve (G,) or None)`` of one normalised Gram on one outer fold.

    Args:
        gram: ``(n, n)`` the normalised Gram; y: ``(n,)`` labels; train, test: index arrays.
        grid: ``(G,)`` values.
        solver: ``f(k_tr, y_tr, k_te, y_te, grid) -> (G,)`` accuracies (:mod:`.solvers`).
        splits: the inner folds (indices into ``train``), or None for no inner curve.
        test_curve: also the test curve (False: the inner curve only).

    Cost: one solver run on |train| items (with ``test_curve``), plus one per inner fold on
    ~|train|(1 − 1/k) items.
    """
    k_tr = gram[np.ix_(train, train)]
    y_tr = y[train]
    test_acc = solver(k_tr, y_tr, gram[np.ix_(test, train)], y[test], grid) if test_curve else None
    if splits is None:
        return test_acc, None
    inner = np.empty((len(grid), len(splits)))
    for s, (a, b) in enumerate(splits):
        inner[:, s] = solver(k_tr[np.ix_(a, a)], y_tr[a], k_tr[np.ix_(b, a)], y_tr[b], grid)
    return test_acc, np.average(inner, axis=1)


def refit(gram, y, train, test, grid, solver) -> float:
    """Test accuracy of ``solver`` fitted on ``train`` along ``grid``, at its last value."""
    return float(solver(gram[np.ix_(train, train)], y[train], gram[np.ix_(test, train)], y[test], grid)[-1])


def grid_curves(grams: dict, y, folds, grid, solver, *, nested: bool, inner_folds: int = 5, seed: int = 0,
                run=None, test_curve: bool = True, weigh=None) -> Curves:
    """The curves of one configuration: :func:`fold_curves` for every (normalisation, fold).

    Args:
        grams: normalisation -> ``(n, n)`` Gram (already transformed), in tie-break order.
        y, folds: labels and checked outer folds.
        grid: ``(G,)`` values shared by every normalisation, or normalisation -> ``(G,)``.
        solver: as in :func:`fold_curves`.
        nested: also compute the inner curves.
        run: ``run(fn, list of argument tuples[, weights]) -> list of results`` (a
            :class:`.runner.Runner`, a Dask run, ...); default: serial.
        test_curve: also the test curves (False, with ``nested``: inner curves only).
        weigh: ``weigh(n_tasks) -> weights`` passed to ``run`` (progress units per task), or None.
    """
    t0 = time.perf_counter()
    norms = tuple(grams)
    grids = grid if isinstance(grid, dict) else dict.fromkeys(norms, grid)
    jobs = [(nm, f) for nm in norms for f in range(len(folds))]
    splits = [inner_splits(y[tr], inner_folds, seed) if nested else None for tr, _ in folds]
    args = [(grams[nm], y, folds[f][0], folds[f][1], grids[nm], solver, splits[f], test_curve) for nm, f in jobs]
    out = _run(run, fold_curves, args, weigh)
    test = np.empty((len(norms), len(next(iter(grids.values()))), len(folds))) if test_curve else None
    inner = np.empty((len(norms), len(next(iter(grids.values()))), len(folds))) if nested else None
    for (nm, f), (t, i) in zip(jobs, out):
        if test_curve:
            test[norms.index(nm), :, f] = t
        if nested:
            inner[norms.index(nm), :, f] = i
    shared = not isinstance(grid, dict)
    return Curves(grid=np.asarray(grid) if shared else np.stack([np.asarray(grids[nm]) for nm in norms]),
                  normalizations=norms, test=test, inner=inner, seconds=time.perf_counter() - t0)


def refit_choices(grams: dict, y, folds, curves: Curves, choices, solver, *, run=None, weigh=None) -> np.ndarray:
    """``(F,)`` test accuracy of each outer fold refitted at its choice ``(n, g)`` (from :func:`choose_per_fold`).

    A solver with ``refit_along_path`` refits along the grid up to the chosen value (its values
    ``<=`` the choice, sorted), exactly as the full path does; others at the chosen value only.
    """
    args = []
    for (tr, te), (_config, n, g) in zip(folds, choices):
        grid = curves.grid_of(n)
        value = curves.value(n, g)
        along = np.sort(grid[grid <= value]) if getattr(solver, "refit_along_path", False) else np.array([value])
        args.append((grams[curves.normalizations[n]], y, tr, te, along, solver))
    return np.array(_run(run, refit, args, weigh), dtype=np.float64)


def cross_validate(grams: dict, y, folds, *, protocol: str, grid, solver, inner_grid=None, inner_folds: int = 5,
                   seed: int = 0, run=None, weigh=None) -> dict:
    """One Gram's accuracy under ``protocol``: the driver of :func:`fastgnn.evaluate.svm_cv` and ``krr_cv``.

    Args:
        grams: normalisation -> transformed Gram (:func:`fastgnn.gram.transform`), in tie-break order.
        y, folds: labels and checked outer folds.
        protocol: ``"paper"`` or ``"nested"``.
        grid: ``(G,)`` or normalisation -> ``(G,)``: the paper protocol's values.
        solver: a solver of :mod:`.solvers`.
        inner_grid: the nested protocol's values (default ``grid``).
        inner_folds, seed: the inner stratified CV.
        run, weigh: as in :func:`grid_curves`.

    Returns:
        ``{mean, std, fold_accuracies, normalization, value, grid, curve, curve_folds}``: for
        ``"paper"`` one normalisation and value, the mean test curve per normalisation and the
        ``(G, F)`` test accuracies; for ``"nested"`` one normalisation and value per fold and
        ``curve = curve_folds = None``.  ``grid`` maps each normalisation to its values.
    """
    check_protocol(protocol)
    norms = tuple(grams)
    if protocol == "paper":
        cv = grid_curves(grams, y, folds, grid, solver, nested=False, run=run, weigh=weigh)
        best = select_paper(cv)
        n = norms.index(best["normalization"])
        return {"mean": best["mean"], "std": best["std"], "fold_accuracies": best["fold_accuracies"],
                "normalization": best["normalization"], "value": cv.value(n, best["index"]),
                "grid": {nm: cv.grid_of(i) for i, nm in enumerate(norms)}, "curve": best["curve"],
                "curve_folds": {nm: cv.test[i] for i, nm in enumerate(norms)}}
    inner_grid = grid if inner_grid is None else inner_grid
    cv = grid_curves(grams, y, folds, inner_grid, solver, nested=True, inner_folds=inner_folds, seed=seed,
                     run=run, test_curve=False, weigh=weigh)
    choices = choose_per_fold({None: cv})
    acc = refit_choices(grams, y, folds, cv, choices, solver, run=run, weigh=weigh)
    return {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "fold_accuracies": acc,
            "normalization": [norms[n] for _, n, _ in choices], "value": [cv.value(n, g) for _, n, g in choices],
            "grid": {nm: cv.grid_of(i) for i, nm in enumerate(norms)}, "curve": None, "curve_folds": None}


def _run(run, fn, args, weigh):
    if run is None:
        return [fn(*a) for a in args]
    if weigh is None:
        return run(fn, args)
    return run(fn, args, weigh(args))


# --------------------------------------------------------------------------- selections


def select_paper(curves: Curves) -> dict:
    """The paper protocol: ``{mean, std, fold_accuracies, normalization, C, index, curve}``."""
    mean = np.average(curves.test, axis=2)  # (N, G), as GridSearchCV averages
    n, g = _first_argmax(mean)
    acc = curves.test[n, g].copy()
    return {"mean": float(mean[n, g]), "std": float(np.std(acc)), "fold_accuracies": acc,
            "normalization": curves.normalizations[n], "C": curves.value(n, g), "index": g,
            "curve": {nm: mean[i] for i, nm in enumerate(curves.normalizations)}}


def select_nested(curves: Curves) -> dict:
    """The nested protocol: per fold the (normalisation, C) of the best inner accuracy."""
    if curves.inner is None:
        raise ValueError("these curves have no inner-CV part (computed with nested=False)")
    return select_fully_nested({None: curves})


def choose_per_fold(curves_by_config: dict) -> list[tuple]:
    """Per outer fold, ``(config, n, g)`` maximising the inner accuracy over every configuration
    (dict keys, in tie-break order), normalisation index n and grid index g."""
    for c, cv in curves_by_config.items():
        if cv.inner is None:
            raise ValueError(f"configuration {c!r} has no inner-CV curves")
    configs = list(curves_by_config)
    choices = []
    for f in range(curves_by_config[configs[0]].inner.shape[2]):
        best = None
        for c in configs:
            cv = curves_by_config[c]
            n, g = _first_argmax(cv.inner[:, :, f])
            score = cv.inner[n, g, f]
            if best is None or score > best[0]:
                best = (score, c, n, g)
        choices.append(best[1:])
    return choices


def select_fully_nested(curves_by_config: dict) -> dict:
    """The fully nested protocol over configurations (dict keys, in tie-break order).

    Returns ``{mean, std, fold_accuracies, choices}``, ``choices[f] = (config,
    normalisation, C)`` chosen by the inner CV of fold f alone.
    """
    picks = choose_per_fold(curves_by_config)
    acc = np.empty(len(picks))
    choices = []
    for f, (c, n, g) in enumerate(picks):
        cv = curves_by_config[c]
        acc[f] = cv.test[n, g, f]
        choices.append((c, cv.normalizations[n], cv.value(n, g)))
    return {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "fold_accuracies": acc, "choices": choices}


def _first_argmax(a) -> tuple[int, int]:
    """Index of the largest entry of a 2-D array, first in row-major order (ties: first row, first column)."""
    flat = int(np.argmax(a))
    return divmod(flat, a.shape[1])


def __getattr__(name):
    if name == "svm_curves":  # renamed in 0.2: the curves are any solver's, not only the SVM's
        import warnings

        warnings.warn("fastgnn.model_selection.protocols.svm_curves is deprecated; use grid_curves",
                      DeprecationWarning, stacklevel=2)
        return grid_curves
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
