"""The evaluation protocols as selections from accuracy curves, and the pure task that makes a curve.

For one Gram (one GNTK configuration), one normalisation and one outer fold f
(train T_f, test S_f), a C path gives two curves over the grid:

* ``test[g]``: accuracy on S_f of the SVM fitted on T_f at C_g;
* ``inner[g]``: mean accuracy of a stratified ``inner_folds``-fold CV inside T_f at C_g.

Every protocol is a choice made from these numbers:

* **paper** (Du et al.): the (normalisation, C) maximising the mean over f of ``test``;
  reported: that mean.  C is chosen on the test folds: optimistic.
* **nested**: per fold, the (normalisation, C) maximising ``inner``; reported: the mean
  of ``test`` at each fold's choice.  The GNTK configuration is fixed by the caller.
* **fully nested**: per fold, the (configuration, normalisation, C) maximising
  ``inner`` over every configuration; reported: the mean of ``test`` at the choices.
  Nothing is chosen on the test folds.

Ties go to the first configuration given, then the first normalisation, then the
first (smallest) C, as GridSearchCV's ``best_index_`` does.  With the path solver,
the refit on T_f at the chosen C *is* the ``test`` curve's entry (the same path).

:func:`fold_curves` (one configuration, normalisation and fold) is a pure function of
its arguments: the unit of work that :func:`svm_curves` runs in threads and a
distributed executor can run as a task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

__all__ = ["Curves", "fold_curves", "inner_splits", "svm_curves", "select_paper", "select_nested",
           "select_fully_nested"]


@dataclass
class Curves:
    """Accuracy curves of one Gram.

    Attributes:
        grid: ``(G,)`` the values of C.
        normalizations: the Gram transforms, in tie-break order.
        test: ``(N, G, F)`` test accuracy per normalisation, C and outer fold.
        inner: ``(N, G, F)`` mean inner-CV accuracy, or None (paper protocol only).
        seconds: wall time spent making them.
    """

    grid: np.ndarray
    normalizations: tuple
    test: np.ndarray
    inner: np.ndarray | None = None
    seconds: float = 0.0

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


def inner_splits(y_train, inner_folds: int, seed: int) -> list:
    """The inner folds of one training fold: stratified, shuffled with ``seed`` (indices into it)."""
    skf = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y_train)), y_train))


def fold_curves(gram, y, train, test, grid, solver, splits=None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(test curve (G,), inner curve (G,) or None)`` of one normalised Gram on one outer fold.

    Args:
        gram: ``(n, n)`` the normalised Gram; y: ``(n,)`` labels; train, test: index arrays.
        grid: ``(G,)`` values of C.
        solver: ``f(k_tr, y_tr, k_te, y_te, grid) -> (G,)`` accuracies
            (:func:`fastgnn.evaluate.svm_solver`).
        splits: the inner folds (indices into ``train``), or None for no inner curve.

    Cost: one path on |train| items, plus one per inner fold on ~|train|(1 − 1/k) items.
    """
    k_tr = gram[np.ix_(train, train)]
    y_tr = y[train]
    test_curve = solver(k_tr, y_tr, gram[np.ix_(test, train)], y[test], grid)
    if splits is None:
        return test_curve, None
    inner = np.empty((len(grid), len(splits)))
    for s, (a, b) in enumerate(splits):
        inner[:, s] = solver(k_tr[np.ix_(a, a)], y_tr[a], k_tr[np.ix_(b, a)], y_tr[b], grid)
    return test_curve, np.average(inner, axis=1)


def svm_curves(grams: dict, y, folds, grid, solver, *, nested: bool, inner_folds: int = 5, seed: int = 0,
               run=None) -> Curves:
    """The curves of one configuration: :func:`fold_curves` for every (normalisation, fold).

    Args:
        grams: normalisation -> ``(n, n)`` Gram (already transformed), in tie-break order.
        y, folds: labels and checked outer folds.
        grid, solver: as in :func:`fold_curves`.
        nested: also compute the inner curves.
        run: ``run(fn, list of argument tuples) -> list of results`` (threads, a Dask
            client, ...); default: serial.
    """
    t0 = time.perf_counter()
    norms = tuple(grams)
    jobs = [(nm, f) for nm in norms for f in range(len(folds))]
    splits = [inner_splits(y[tr], inner_folds, seed) if nested else None for tr, _ in folds]
    args = [(grams[nm], y, folds[f][0], folds[f][1], grid, solver, splits[f]) for nm, f in jobs]
    out = (run or _serial)(fold_curves, args)
    test = np.empty((len(norms), len(grid), len(folds)))
    inner = np.empty_like(test) if nested else None
    for (nm, f), (t, i) in zip(jobs, out):
        test[norms.index(nm), :, f] = t
        if nested:
            inner[norms.index(nm), :, f] = i
    return Curves(grid=np.asarray(grid), normalizations=norms, test=test, inner=inner,
                  seconds=time.perf_counter() - t0)


def _serial(fn, args):
    return [fn(*a) for a in args]


def select_paper(curves: Curves) -> dict:
    """The paper protocol: ``{mean, std, fold_accuracies, normalization, C, index, curve}``."""
    mean = np.average(curves.test, axis=2)  # (N, G), as GridSearchCV averages
    n, g = _first_argmax(mean)
    acc = curves.test[n, g].copy()
    return {"mean": float(mean[n, g]), "std": float(np.std(acc)), "fold_accuracies": acc,
            "normalization": curves.normalizations[n], "C": float(curves.grid[g]), "index": g,
            "curve": {nm: mean[i] for i, nm in enumerate(curves.normalizations)}}


def select_nested(curves: Curves) -> dict:
    """The nested protocol: per fold the (normalisation, C) of the best inner accuracy."""
    if curves.inner is None:
        raise ValueError("these curves have no inner-CV part (computed with nested=False)")
    return select_fully_nested({None: curves})


def select_fully_nested(curves_by_config: dict) -> dict:
    """The fully nested protocol over configurations (dict keys, in tie-break order).

    Returns ``{mean, std, fold_accuracies, choices}``, ``choices[f] = (config,
    normalisation, C)`` chosen by the inner CV of fold f alone.
    """
    configs = list(curves_by_config)
    first = curves_by_config[configs[0]]
    n_folds = first.test.shape[2]
    acc = np.empty(n_folds)
    choices = []
    for f in range(n_folds):
        best = None
        for c in configs:
            cv = curves_by_config[c]
            if cv.inner is None:
                raise ValueError(f"configuration {c!r} has no inner-CV curves")
            n, g = _first_argmax(cv.inner[:, :, f])
            score = cv.inner[n, g, f]
            if best is None or score > best[0]:
                best = (score, c, n, g)
        _, c, n, g = best
        cv = curves_by_config[c]
        acc[f] = cv.test[n, g, f]
        choices.append((c, cv.normalizations[n], float(cv.grid[g])))
    return {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "fold_accuracies": acc, "choices": choices}


def _first_argmax(a) -> tuple[int, int]:
    """Index of the largest entry of a 2-D array, first in row-major order (ties: first row, first column)."""
    flat = int(np.argmax(a))
    return divmod(flat, a.shape[1])
