"""The Nyström GNTK (issue 23.3): features Φ with Φ Φᵀ ≈ K, exact when every graph is a landmark.

Checked against the GNTK's own Gram (an independent computation of K): exact at m = n, the residual
K − Φ Φᵀ positive semi-definite with its entries bounded by its diagonal, the landmarks' rows exact; the
landmark rules; the scikit-learn protocol (clone, get/set_params through ``gntk__``, a Pipeline with
LinearSVC in GridSearchCV) and scikit-learn's estimator checks that apply, through the adapter of
test_estimator_checks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils import estimator_checks as ec

from fastgnn import datasets
from fastgnn.gntk import GNTK, GNTKNystroem
from fastgnn.gntk.nystroem import choose_landmarks, inverse_square_root

try:
    from .test_estimator_checks import API_CHECKS, FIT_CHECKS, rows_as_graphs
except ImportError:
    from test_estimator_checks import API_CHECKS, FIT_CHECKS, rows_as_graphs


@pytest.fixture(scope="module")
def data():
    return datasets.synthetic(40, min_nodes=5, max_nodes=12, seed=3)


@pytest.fixture(scope="module")
def gram(data):
    return GNTK(num_layers=3, progress=False).fit_transform(data)


def kernel():
    return GNTK(num_layers=3, progress=False)


def test_exact_when_every_graph_is_a_landmark(data, gram):
    ny = GNTKNystroem(kernel(), n_components=len(data), random_state=0)
    phi = ny.fit_transform(data)
    assert phi.shape == (len(data), len(data))
    assert np.abs(phi @ phi.T - gram).max() <= 1e-9 * np.abs(gram).max()
    with pytest.warns(UserWarning, match="n_components=50 > n_samples=40"):
        more = GNTKNystroem(kernel(), n_components=50).fit(data)
    assert len(more.landmark_indices_) == 40


def test_cosine_gntk_features(data):
    cos = GNTK(num_layers=3, normalize=True, progress=False).fit_transform(data)
    phi = GNTKNystroem(GNTK(num_layers=3, normalize=True, progress=False), n_components=40).fit_transform(data)
    assert np.abs(phi @ phi.T - cos).max() <= 1e-9


@pytest.mark.parametrize("rule", ["uniform", "stratified"])
def test_residual_is_psd_and_bounded_by_its_diagonal(data, gram, rule):
    ny = GNTKNystroem(kernel(), n_components=12, landmarks=rule, random_state=1).fit(data, data.y)
    phi = ny.transform(data)
    residual = gram - phi @ phi.T
    scale = np.abs(gram).max()
    assert np.linalg.eigvalsh(residual).min() >= -1e-9 * scale
    d = np.clip(np.diag(residual), 0, None)
    assert (np.abs(residual) <= np.sqrt(np.outer(d, d)) + 1e-9 * scale).all()
    lm = ny.landmark_indices_
    assert np.abs(residual[np.ix_(lm, lm)]).max() <= 1e-8 * scale  # the landmarks' block is exact
    assert np.abs(residual[lm]).max() <= 1e-8 * scale  # and their rows
    assert np.abs(residual).max() > 1e-6 * scale  # 12 of 40: an approximation, not the kernel
    assert np.allclose(ny.component_kernel_, gram[np.ix_(lm, lm)])
    assert np.allclose(ny.approximate_kernel(data), phi @ phi.T)


def test_features_from_a_stored_gram_equal_transform(data, gram):
    """Φ from slices of a Gram computed once (what benchmarks/molhiv.py --gram-from does) equals the
    transformer's, whose K_mm and K_nm the GNTK computes anew."""
    ny = GNTKNystroem(kernel(), n_components=9, landmarks="stratified", random_state=4).fit(data[:30], data.y[:30])
    lm = choose_landmarks("stratified", 30, 9, sizes=[g.num_nodes for g in data[:30]], y=data.y[:30],
                          random_state=4)
    assert np.array_equal(lm, ny.landmark_indices_)
    s, w, rank = inverse_square_root(gram[np.ix_(lm, lm)], ny.rcond)
    assert rank == ny.rank_ and np.allclose(w, ny.eigenvalues_, rtol=1e-10, atol=0)
    phi = gram[:, lm] @ s
    assert np.abs(phi - ny.transform(data)).max() <= 1e-8 * np.abs(phi).max()
    # the pseudo-inverse square root: S K S is the projector on the kept eigenvectors
    proj = s @ gram[np.ix_(lm, lm)] @ s
    assert np.allclose(proj @ proj, proj, atol=1e-8) and abs(np.trace(proj) - rank) <= 1e-8


def test_shapes_names_and_new_graphs(data, gram):
    ny = GNTKNystroem(kernel(), n_components=10, random_state=0).fit(data[:30])
    out = ny.transform(data[30:])
    assert out.shape == (10, 10)
    assert ny.get_feature_names_out().tolist() == [f"gntknystroem{i}" for i in range(10)]
    assert ny.rank_ <= 10 and ny.eigenvalues_.shape == (10,)
    assert np.all(ny.landmark_indices_ < 30)


def test_landmark_rules():
    y = np.r_[np.ones(7, int), np.zeros(193, int)]  # 3.5 % positives, as ogbg-molhiv
    sizes = np.arange(200) % 50 + 5
    a = choose_landmarks("stratified", 200, 57, sizes=sizes, y=y, random_state=0)
    assert len(a) == 57 and len(np.unique(a)) == 57
    assert int(y[a].sum()) == 2  # 57 * 7 / 200 = 2.0: represented in proportion, never left out by chance
    small = np.searchsorted(np.quantile(sizes, [0.2, 0.4, 0.6, 0.8]), sizes[a], side="right")
    assert np.abs(np.bincount(small, minlength=5) - 57 / 5).max() <= 2  # each size fifth about m / 5
    assert (choose_landmarks("stratified", 200, 57, sizes=sizes, y=y, random_state=0) == a).all()
    u = choose_landmarks("uniform", 200, 57, random_state=0)
    assert len(np.unique(u)) == 57 and (np.diff(u) > 0).all()
    assert choose_landmarks(np.array([5, 1, 3]), 10, 3).tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="distinct and in 0..9"):
        choose_landmarks(np.array([1, 1]), 10, 2)
    with pytest.raises(ValueError, match="y has 3 labels for 200 graphs"):
        choose_landmarks("stratified", 200, 10, sizes=sizes, y=[0, 1, 0])


def test_params_clone_and_nested_gntk(data):
    ny = GNTKNystroem(kernel(), n_components=8, landmarks="stratified", random_state=4)
    params = ny.get_params()
    assert params["gntk__num_layers"] == 3 and params["n_components"] == 8
    twin = clone(ny).set_params(gntk__num_layers=2, n_components=6)
    assert twin.gntk.num_layers == 2 and ny.gntk.num_layers == 3 and twin.n_components == 6
    phi2 = twin.fit_transform(data, data.y)
    ref = GNTK(num_layers=2, progress=False).fit_transform(data)
    lm = twin.landmark_indices_
    assert np.allclose((phi2 @ phi2.T)[np.ix_(lm, lm)], ref[np.ix_(lm, lm)])
    assert "GNTKNystroem(" in repr(ny)
    with pytest.raises(ValueError, match="n_components"):
        GNTKNystroem(n_components=0).fit(data)
    with pytest.raises(ValueError, match="landmarks"):
        GNTKNystroem(landmarks="leverage").fit(data)


def test_pipeline_in_grid_search(data):
    pipe = Pipeline([("nystroem", GNTKNystroem(kernel(), n_components=15, random_state=0)),
                     ("svm", LinearSVC(max_iter=20_000))])
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"svm__C": [0.01, 1.0], "nystroem__gntk__num_layers": [2, 3]}, cv=cv)
    graphs = list(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LinearSVC's convergence notes on 27 graphs
        search.fit(graphs, data.y)
        # the chosen setting's refit equals the same pipeline fitted by hand
        manual = clone(pipe).set_params(**search.best_params_).fit(graphs, data.y)
    assert set(search.best_params_) == {"svm__C", "nystroem__gntk__num_layers"}
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert (search.predict(graphs) == manual.predict(graphs)).all()
    assert 0.0 <= search.best_score_ <= 1.0


class RowNystroem(GNTKNystroem):
    """GNTKNystroem on arrays, for scikit-learn's checks: rows become path graphs (test_estimator_checks)."""

    def fit(self, X, y=None):
        return super().fit(rows_as_graphs(X), y)

    def transform(self, X):
        return super().transform(rows_as_graphs(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


#: the GNTK's fit checks that GNTKNystroem passes as they are; check_transformer_general and
#: check_fit2d_1feature need RowGraphs' refusal of another column count (the GNTK's own analogue is its
#: refusal of another feature dimension), check_fit2d_1sample sets n_components above the one sample
NYSTROEM_FIT_CHECKS = [c for c in FIT_CHECKS
                       if c not in ("check_transformer_general", "check_fit2d_1sample", "check_fit2d_1feature")]


@pytest.mark.parametrize("check", API_CHECKS)
def test_api_check(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(ec, check)("GNTKNystroem", GNTKNystroem())


@pytest.mark.parametrize("check", NYSTROEM_FIT_CHECKS)
def test_fit_check(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(ec, check)("RowNystroem", RowNystroem(GNTK(num_layers=2, progress=False), n_components=5,
                                                      random_state=0))
