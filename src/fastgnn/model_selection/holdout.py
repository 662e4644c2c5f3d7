"""OGB's protocol for its molecule benchmarks: train on train, choose on valid by ROC-AUC, report test once.

The Open Graph Benchmark (Hu et al. 2020, "Open Graph Benchmark: Datasets for Machine Learning on Graphs")
scores ogbg-molhiv by ROC-AUC on its scaffold split: every choice (here the C of the SVM, the Gram's
normalisation and the class weighting) is made on the valid part, and the test part is scored once, with
the chosen setting.  :func:`holdout` does that for a precomputed Gram (``SVC(kernel="precomputed")``) or
for features (the Nyström GNTK's, :class:`fastgnn.gntk.GNTKNystroem`): ``LinearSVC``, or ridge regression
on ±1 targets (``learner="ridge"``, scikit-learn's ``RidgeClassifier`` with ``alpha = 1 / C``), whose
whole C path comes from one eigendecomposition of the train features' weighted covariance.

**The metric**, :func:`roc_auc`, is OGB's ``Evaluator("ogbg-molhiv")`` (tested equal to it and to
scikit-learn's ``roc_auc_score``): the area under the ROC curve of the *decision scores* (the signed
distance to the SVM's hyperplane), never of predicted labels, which would collapse the curve to one point;
for several tasks, the mean over the tasks that have both classes, NaN labels ignored.

**Class imbalance.**  ogbg-molhiv has 3.5 % actives.  ROC-AUC itself does not depend on the class
proportions, but the SVM's fit does: with equal weights a C-SVM can ignore the rare class.  The default
``class_weights=("balanced",)`` weighs each class by ``n / (2 n_class)`` (scikit-learn's
``class_weight="balanced"``: an active counts about 14 times an inactive); ``(None, "balanced")`` lets the
valid split choose.

**Normalisations** (``normalizations``, of :data:`fastgnn.gram.NORMALIZATIONS`): for a Gram (``"raw"``,
divided by its smallest entry as the GNTK authors did, and ``"cosine"``); for features, ``"raw"`` (divided
by the largest row norm, so the linear kernel's diagonal is at most 1 and one C grid serves every scale)
and ``"cosine"`` (each row of unit norm: the cosine-normalised linear kernel, as the Gram's).

**Randomness.**  ``SVC`` is deterministic; ``LinearSVC``'s coordinate descent shuffles with
``random_state``.  What is random upstream (the Nyström landmarks) is the caller's to repeat over seeds
(``benchmarks/molhiv.py`` runs 10).

Cost: one fit per (normalisation, class weight, C): ``SVC`` O(n_train² ... n_train³) on the Gram's train
block, ``LinearSVC`` O(n_train d) per pass (ogbg-molhiv's 32,901 train rows of 250 Nyström features: 1,160
s for the 52 settings on 2 cores); ridge O(n_train d² + d³) once per (normalisation, class weight), then
O(d²) per C; scoring reads the valid and test rows once per setting.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fastgnn.gram import check_normalizations, transform

__all__ = ["roc_auc", "holdout", "HoldoutResult", "DEFAULT_C_GRID", "CLASS_WEIGHTS", "LEARNERS", "ridge_path",
           "LinearScores"]

#: the C values tried by default (the Gram or features normalised, as above)
DEFAULT_C_GRID = np.logspace(-3, 3, 13)
#: the class weightings a holdout may compare
CLASS_WEIGHTS = (None, "balanced")
#: the parts of a split
PARTS = ("train", "valid", "test")
#: the linear learners on features
LEARNERS = ("linear_svc", "ridge")


def roc_auc(y_true, scores) -> float:
    """ROC-AUC of decision ``scores`` against binary labels ``y_true`` (0/1), as OGB's Evaluator computes it.

    ``y_true`` and ``scores`` of shape ``(n,)`` or ``(n, tasks)``; NaN labels are ignored; the result is the
    mean over the tasks that have both classes.  ``ValueError`` when no task has both (OGB raises
    ``RuntimeError``), when the shapes differ, or when the scores are not finite."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and scores {s.shape} must have the same shape")
    if y.ndim == 1:
        y, s = y[:, None], s[:, None]
    if y.ndim != 2:
        raise ValueError(f"y_true must be (n,) or (n, tasks), got shape {y.shape}")
    labelled_values = y[~np.isnan(y)]
    if not np.isin(labelled_values, (0, 1)).all():
        raise ValueError("y_true must hold 0, 1 (or NaN for unlabelled)")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or inf: ROC-AUC needs finite decision scores")
    aucs = []
    for t in range(y.shape[1]):
        labelled = ~np.isnan(y[:, t])
        if (y[labelled, t] == 1).any() and (y[labelled, t] == 0).any():
            aucs.append(roc_auc_score(y[labelled, t], s[labelled, t]))
    if not aucs:
        raise ValueError("ROC-AUC is undefined: no task has both a positive and a negative labelled example")
    return float(np.mean(aucs))


@dataclass
class HoldoutResult:
    """What :func:`holdout` found.

    Attributes:
        valid: the best valid ROC-AUC (the chosen setting's).
        test: the chosen setting's test ROC-AUC, computed once.
        choice: ``{"C", "normalization", "class_weight"}`` of the chosen setting.
        curves: ``{(normalization, class_weight): valid ROC-AUC per C}``.
        C_grid: the C values.
        sizes: ``{"train", "valid", "test"}`` -> ``(graphs, positives)``.
        test_scores: the chosen setting's decision scores on the test part.
        model: ``"svc"`` (a Gram), ``"linear_svc"`` or ``"ridge"`` (features).
        seconds: wall time of the whole selection.
    """

    valid: float
    test: float
    choice: dict
    curves: dict
    C_grid: np.ndarray
    sizes: dict
    test_scores: np.ndarray = field(repr=False)
    model: str = "svc"
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-able: the scores, the choice, the curves (keys ``"normalization/class_weight"``), the sizes."""
        return {
            "metric": "rocauc", "protocol": "holdout", "model": self.model, "valid": self.valid, "test": self.test,
            "choice": self.choice, "C_grid": [float(c) for c in self.C_grid],
            "curves": {f"{nm}/{cw}": [float(v) for v in curve] for (nm, cw), curve in self.curves.items()},
            "sizes": {k: {"graphs": n, "positives": p} for k, (n, p) in self.sizes.items()},
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        c = self.choice
        return (f"ROC-AUC valid {100 * self.valid:.2f}, test {100 * self.test:.2f} (holdout; chosen on valid: "
                f"C={c['C']:g}, {c['normalization']}, class_weight={c['class_weight']}; {self.model})")


def holdout(X, y, split: Mapping[str, Sequence[int]], *, precomputed: bool | None = None, C_grid=None,
            normalizations: Sequence[str] = ("raw",), class_weights: Sequence = ("balanced",),
            random_state: int = 0, max_iter: int = 20_000, learner: str = "linear_svc") -> HoldoutResult:
    """Choose (normalisation, class weight, C) on ``split["valid"]`` by ROC-AUC; score ``split["test"]`` once.

    Args:
        X: an ``(n, n)`` Gram (``precomputed=True``) or ``(n, d)`` features (``False``); None: a square
            array is a Gram.  A Gram may be a ``numpy.memmap``: only the needed blocks are read.
        y: ``(n,)`` labels 0/1 (any two values: the larger is the positive class).
        split: ``{"train", "valid", "test"}`` -> row indices (a dataset's ``data.split``).
        C_grid: the C values (default :data:`DEFAULT_C_GRID`); ties go to the first (smallest) C.
        normalizations: see the module docstring; ties go to the first.
        class_weights: of :data:`CLASS_WEIGHTS`; ties go to the first.
        random_state, max_iter: ``LinearSVC``'s (features only; ``SVC`` is deterministic).
        learner: on features, ``"linear_svc"`` or ``"ridge"`` (``alpha = 1 / C``; the path from one
            eigendecomposition per normalisation and class weight).  A Gram always takes ``SVC``.
    """
    t0 = time.perf_counter()
    X = X if isinstance(X, np.memmap) else np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D Gram or feature matrix, got shape {X.shape}")
    precomputed = X.shape[0] == X.shape[1] if precomputed is None else bool(precomputed)
    y01 = _binary(y, X.shape[0])
    parts = _check_split(split, X.shape[0])
    norms = check_normalizations(normalizations)
    if any(cw not in CLASS_WEIGHTS for cw in class_weights) or not len(class_weights):
        raise ValueError(f"class_weights must be values of {CLASS_WEIGHTS}, got {class_weights!r}")
    grid = np.asarray(DEFAULT_C_GRID if C_grid is None else C_grid, dtype=np.float64).reshape(-1)
    if not len(grid) or (grid <= 0).any():
        raise ValueError(f"C_grid must hold positive values, got {C_grid!r}")
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")
    tr, va, te = (parts[k] for k in PARTS)
    if len(np.unique(y01[tr])) < 2:
        raise ValueError("the train part holds one class only: no classifier can be fitted")
    inputs = _normalised(X, norms, precomputed, tr)
    ridge = learner == "ridge" and not precomputed
    curves, best = {}, None
    for nm in norms:
        for cw in class_weights:
            curve = np.empty(len(grid))
            path = ridge_path(inputs[nm][tr], y01[tr], 1.0 / grid, cw) if ridge else None
            for k, c in enumerate(grid):
                model = path[k] if ridge else _fit(inputs[nm], y01, tr, c, cw, precomputed, random_state, max_iter)
                curve[k] = roc_auc(y01[va], _scores(model, inputs[nm], va, tr, precomputed))
                if best is None or curve[k] > best[0]:
                    best = (curve[k], nm, cw, c, model)
            curves[(nm, cw)] = curve
    valid, nm, cw, c, model = best
    test_scores = _scores(model, inputs[nm], te, tr, precomputed)
    return HoldoutResult(
        valid=float(valid), test=roc_auc(y01[te], test_scores),
        choice={"C": float(c), "normalization": nm, "class_weight": cw}, curves=curves, C_grid=grid,
        sizes={k: (len(parts[k]), int(y01[parts[k]].sum())) for k in PARTS}, test_scores=test_scores,
        model="svc" if precomputed else learner, seconds=time.perf_counter() - t0)


@dataclass
class LinearScores:
    """A linear decision function ``X w + b`` (what :func:`ridge_path` gives for each alpha)."""

    coef: np.ndarray
    intercept: float

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X) @ self.coef + self.intercept


def ridge_path(X, y, alphas, class_weight=None) -> list[LinearScores]:
    """Ridge regression of the targets ``2 y − 1`` on ``X`` (``(n, d)``) with an intercept, for every alpha:
    ``min_{w, b} Σ_i s_i (t_i − x_i·w − b)² + alpha ||w||²``, the sample weights ``s`` from ``class_weight``
    (None: ones; ``"balanced"``: ``n / (2 n_class)``), as scikit-learn's ``RidgeClassifier(alpha,
    class_weight)`` fits it.  One eigendecomposition ``V diag(λ) Vᵀ`` of the weighted, centred ``XᵀX``, then
    ``w = V (Vᵀ Xᵀ s t) / (λ + alpha)`` per alpha.  Cost O(n d² + d³), then O(d²) per alpha."""
    X = np.asarray(X, dtype=np.float64)
    t = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    if class_weight == "balanced":
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2).astype(np.float64)
        s = (len(t) / (2.0 * counts))[np.asarray(y, dtype=np.int64)]
    elif class_weight is None:
        s = np.ones(len(t))
    else:
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    mean_x = s @ X / s.sum()
    mean_t = float(s @ t / s.sum())
    a = (X - mean_x) * np.sqrt(s)[:, None]
    evals, vecs = np.linalg.eigh(a.T @ a)
    proj = vecs.T @ (a.T @ (np.sqrt(s) * (t - mean_t)))
    out = []
    for alpha in np.asarray(alphas, dtype=np.float64).reshape(-1):
        coef = vecs @ (proj / (np.maximum(evals, 0.0) + alpha))
        out.append(LinearScores(coef=coef, intercept=mean_t - float(mean_x @ coef)))
    return out


# --------------------------------------------------------------------------- helpers


def _binary(y, n: int) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(f"{len(y)} labels for {n} rows of X")
    values = np.unique(y)
    if len(values) != 2:
        raise ValueError(f"ROC-AUC needs two classes, the labels hold {len(values)}: {values[:5].tolist()}")
    return (y == values[1]).astype(np.int64)


def _check_split(split, n: int) -> dict[str, np.ndarray]:
    missing = [k for k in PARTS if k not in split]
    if missing:
        raise ValueError(f"split must have the parts {PARTS}, it lacks {missing}")
    parts = {k: np.asarray(split[k], dtype=np.int64).reshape(-1) for k in PARTS}
    for k, idx in parts.items():
        if not len(idx):
            raise ValueError(f"split[{k!r}] is empty")
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"split[{k!r}] holds an index outside 0..{n - 1}")
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        if np.intersect1d(parts[a], parts[b]).size:
            raise ValueError(f"split: the {a} and {b} parts overlap")
    return parts


def _normalised(X, norms, precomputed: bool, train) -> dict:
    if precomputed:
        return transform(X, norms)
    out = {}
    X = np.asarray(X, dtype=np.float64)
    row_norms = np.linalg.norm(X, axis=1)
    for nm in norms:
        if nm == "raw":
            top = row_norms[train].max()
            out[nm] = X / top if top > 0 else X
        else:
            out[nm] = X / np.where(row_norms > 0, row_norms, 1.0)[:, None]
    return out


def _fit(X, y, train, c: float, class_weight, precomputed: bool, random_state: int, max_iter: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import SVC, LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if precomputed:
            return SVC(kernel="precomputed", C=c, class_weight=class_weight).fit(
                np.asarray(X[np.ix_(train, train)]), y[train])
        return LinearSVC(C=c, class_weight=class_weight, random_state=random_state, max_iter=max_iter).fit(
            X[train], y[train])


def _scores(model, X, rows, train, precomputed: bool) -> np.ndarray:
    block = np.asarray(X[np.ix_(rows, train)]) if precomputed else X[rows]
    return model.decision_function(block)
