"""The Nyström GNTK: features whose inner products approximate the GNTK, from m landmark graphs.

:class:`GNTKNystroem` is to :class:`~fastgnn.gntk.GNTK` what scikit-learn's
``sklearn.kernel_approximation.Nystroem`` is to a kernel function (Williams & Seeger 2001, "Using the
Nyström Method to Speed Up Kernel Machines").  ``fit`` picks m landmark graphs L and computes
``K_mm = K(L, L)`` with a GNTK fitted on them; ``transform(X)`` computes ``K_nm = K(X, L)`` with that
GNTK's ``transform`` (the GNTK chooses its engine: colour pairs, the batched tiles, on Dask, ...) and
returns the features ``Φ = K_nm K_mm^{-1/2}`` (``K_mm^{-1/2}`` the pseudo-inverse square root: eigenvalues
at most ``rcond`` times the largest are dropped), so that

    Φ Φᵀ = K_nm K_mm⁺ K_mn = K̃ ≈ K.

The features feed a linear model (``LinearSVC``, ``LogisticRegression``, ``RidgeClassifier``) in place of
a kernel machine on the whole Gram.

**Cost.**  ``m (m + 1) / 2`` graph pairs for ``K_mm`` and ``n m`` for ``K_nm`` instead of the whole Gram's
``n (n + 1) / 2``: O(n m) pairs, ``8 n m`` bytes; the eigendecomposition is O(m³), the product O(n m²).
For ogbg-molhiv (n = 41,127) and m = 2,000 that is 20x fewer pairs than the exact Gram.

**Error.**  The facts that hold for every choice of landmarks: ``K − K̃`` is positive semi-definite (it is
the Schur complement of ``K_mm``), so ``0 <= K̃(G, G) <= K(G, G)`` and every entry's error is bounded by the
diagonal's, ``|K(G, H) − K̃(G, H)| <= sqrt(d_G d_H)`` with ``d_G = K(G, G) − K̃(G, G)`` (a check one can
compute in O(n) pairs); the rows and columns of the landmarks are exact (up to the dropped eigenvalues);
and ``m = n`` (every graph a landmark) gives the GNTK itself.  For m landmarks drawn uniformly, the error
in expectation is bounded in terms of the best rank-k approximation ``K_k`` (Drineas & Mahoney 2005, "On
the Nyström Method for Approximating a Gram Matrix for Improved Kernel-Based Learning";
Gittens & Mahoney 2016, "Revisiting the Nyström Method for Improved Large-scale Machine Learning"):
``||K − K̃|| <= ||K − K_k|| + ε Σ_i K_ii²`` when m grows as k / ε⁴; in practice the GNTK's spectrum decays
fast and ``benchmarks/nystroem.py`` measures the error and the accuracy on NCI1 and PROTEINS.

**Landmarks** (``landmarks``):

* ``"uniform"``: m graphs drawn uniformly without replacement (seeded by ``random_state``);
* ``"stratified"``: the graphs split into strata by label (when ``y`` is given to ``fit``) and by size
  (``size_bins`` quantile bins of the node count), m allotted to the strata in proportion to their sizes
  (largest remainders), drawn uniformly within each: every label and size range is represented as in the
  data (a rare class, such as ogbg-molhiv's 3.5 % actives, is never left out by chance), at no extra cost;
* an array of m indices: those graphs.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from fastgnn.gntk.estimator import GNTK
from fastgnn.graph import as_graph_list

__all__ = ["GNTKNystroem", "LANDMARK_RULES", "choose_landmarks", "inverse_square_root"]

#: the landmark rules by name (an array of indices is accepted too)
LANDMARK_RULES = ("uniform", "stratified")


class GNTKNystroem(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nyström features of the GNTK (see the module docstring for the math, cost and error).

    Args:
        gntk: the kernel, a :class:`~fastgnn.gntk.GNTK` (cloned at ``fit``; default ``GNTK()``).  Its
            parameters are this estimator's ``gntk__*`` (``GridSearchCV`` can search them), and its
            ``normalize=True`` gives features of the cosine-normalised GNTK.
        n_components: m, the number of landmark graphs (at most n: more is cut to n with a warning, as
            scikit-learn's ``Nystroem``).
        landmarks: ``"uniform"``, ``"stratified"`` (by label and size) or an array of graph indices.
        size_bins: quantile bins of the node count for ``"stratified"``.
        rcond: eigenvalues of ``K_mm`` at most ``rcond`` times the largest are dropped (their features are 0).
        random_state: seeds the landmarks (an int, a ``RandomState`` or None).

    Fitted attributes: ``gntk_`` (the GNTK fitted on the landmarks), ``landmark_indices_``, ``landmarks_``
    (the graphs), ``normalization_`` (``K_mm^{-1/2}``, ``(m, m)``), ``eigenvalues_`` (of ``K_mm``,
    descending), ``rank_`` (the eigenvalues kept), ``component_kernel_`` (``K_mm``).

    Example:
        >>> from fastgnn import datasets
        >>> from fastgnn.gntk import GNTK, GNTKNystroem
        >>> data = datasets.load("synthetic")
        >>> features = GNTKNystroem(GNTK(num_layers=3), n_components=20, random_state=0).fit_transform(data)
    """

    _parameter_constraints: dict = {
        "gntk": [GNTK, None],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "landmarks": [StrOptions(set(LANDMARK_RULES)), "array-like"],
        "size_bins": [Interval(numbers.Integral, 1, None, closed="left")],
        "rcond": [Interval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, gntk: GNTK | None = None, *, n_components: int = 100, landmarks="uniform",
                 size_bins: int = 5, rcond: float = 1e-10, random_state=None):
        self.gntk = gntk
        self.n_components = n_components
        self.landmarks = landmarks
        self.size_bins = size_bins
        self.rcond = rcond
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is a list of graphs, not an array
        tags.requires_fit = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def fit(self, X, y=None) -> GNTKNystroem:
        """Choose the landmarks among ``X`` (by ``y`` too with ``landmarks="stratified"``) and compute
        ``K_mm`` and its pseudo-inverse square root.  ``m (m + 1) / 2`` pairs, O(m³)."""
        self._validate_params()
        graphs = as_graph_list(X, "fit")
        n = len(graphs)
        m = self.n_components
        if isinstance(self.landmarks, str) and m > n:
            warnings.warn(f"n_components={m} > n_samples={n}: n_components set to {n} (every graph a landmark); "
                          "the features are then the GNTK's own", UserWarning, stacklevel=2)
            m = n
        sizes = np.array([g.num_nodes for g in graphs])
        self.landmark_indices_ = choose_landmarks(self.landmarks, n, m, sizes=sizes, y=y, size_bins=self.size_bins,
                                                  random_state=self.random_state)
        self.landmarks_ = [graphs[i] for i in self.landmark_indices_]
        self.gntk_ = clone(self.gntk) if self.gntk is not None else GNTK()
        k_mm = np.asarray(self.gntk_.fit_transform(self.landmarks_), dtype=np.float64)
        self.component_kernel_ = k_mm
        self.normalization_, self.eigenvalues_, self.rank_ = inverse_square_root(k_mm, self.rcond)
        self._n_features_out = len(self.landmark_indices_)
        return self

    def transform(self, X) -> np.ndarray:
        """``Φ = K(X, L) K_mm^{-1/2}``: ``(n, m)`` float64.  ``n m`` pairs."""
        if not hasattr(self, "normalization_"):
            raise NotFittedError("GNTKNystroem is not fitted: call fit(graphs) first")
        k_nm = np.asarray(self.gntk_.transform(X), dtype=np.float64)
        return k_nm @ self.normalization_

    def approximate_kernel(self, X, Y=None) -> np.ndarray:
        """``K̃(X, Y) = Φ(X) Φ(Y)ᵀ`` (``Y`` None: X itself)."""
        fx = self.transform(X)
        return fx @ (fx if Y is None else self.transform(Y)).T


def inverse_square_root(k_mm: np.ndarray, rcond: float = 1e-10) -> tuple[np.ndarray, np.ndarray, int]:
    """``K_mm^{-1/2}``, the pseudo-inverse square root of the landmarks' kernel ``(m, m)``: eigenvalues at
    most ``rcond`` times the largest are dropped.  Returns it (symmetric, float64), the eigenvalues in
    decreasing order and the rank kept.  O(m³).  ``Φ = K_nm K_mm^{-1/2}`` are the Nyström features of any
    ``K_nm``, however it was computed (by :meth:`GNTKNystroem.transform`, or read from a stored Gram)."""
    k_mm = np.asarray(k_mm, dtype=np.float64)
    w, v = np.linalg.eigh((k_mm + k_mm.T) / 2)
    w, v = w[::-1], v[:, ::-1]
    keep = w > rcond * max(float(w[0]), 0.0) if len(w) else np.zeros(0, bool)
    inv_sqrt = np.zeros_like(w)
    inv_sqrt[keep] = 1.0 / np.sqrt(w[keep])
    return (v * inv_sqrt) @ v.T, w, int(keep.sum())


def choose_landmarks(rule, n: int, m: int, *, sizes=None, y=None, size_bins: int = 5,
                     random_state=None) -> np.ndarray:
    """m distinct graph indices out of n, sorted, by ``rule`` (see the module docstring).

    ``sizes`` (the node counts) and ``y`` (labels, or None) are read by ``"stratified"``; an array ``rule``
    is checked (distinct indices in ``0..n-1``) and returned sorted."""
    if not isinstance(rule, str):
        idx = np.asarray(rule)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or len(idx) == 0:
            raise ValueError(f"landmarks must be {LANDMARK_RULES} or a 1-D array of graph indices, got {rule!r}")
        if idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != len(idx):
            raise ValueError(f"landmarks: the indices must be distinct and in 0..{n - 1}")
        return np.sort(idx.astype(np.int64))
    rng = check_random_state(random_state)
    if rule == "uniform":
        return np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
    if rule != "stratified":
        raise ValueError(f"landmarks must be one of {LANDMARK_RULES} or an array of indices, got {rule!r}")
    sizes = np.zeros(n) if sizes is None else np.asarray(sizes, dtype=np.float64)
    edges = np.unique(np.quantile(sizes, np.linspace(0, 1, size_bins + 1)[1:-1])) if n else np.zeros(0)
    strata = np.searchsorted(edges, sizes, side="right")
    if y is not None:
        labels = np.unique(np.asarray(y), return_inverse=True)[1].reshape(-1)
        if len(labels) != n:
            raise ValueError(f"y has {len(labels)} labels for {n} graphs")
        strata = labels * (len(edges) + 1) + strata
    names, counts = np.unique(strata, return_counts=True)
    share = counts * (m / n)
    take = np.floor(share).astype(np.int64)
    rest = m - int(take.sum())
    order = np.lexsort((rng.random(len(names)), -(share - take)))  # largest remainders, ties at random
    take[order[:rest]] += 1
    picked = [rng.choice(np.nonzero(strata == s)[0], size=k, replace=False) for s, k in zip(names, take) if k]
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.zeros(0, np.int64)
