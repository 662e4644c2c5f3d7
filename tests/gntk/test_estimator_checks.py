"""scikit-learn's own estimator checks on the GNTK (``sklearn.utils.estimator_checks``).

``check_estimator(GNTK())`` runs nothing: the checks feed 2-D arrays, and the GNTK declares
``input_tags.two_d_array = False`` (its input is a list of graphs).  So each check that applies
to a transformer is called here by hand, either on ``GNTK`` itself (the API checks) or on
:class:`RowGraphs`, a test-only adapter that reads each row of the check's array as a path graph
whose node features are the row's values: the check then runs fit, transform, clone, pickle and
set_params through the real estimator code.  The checks that test how an *array* is validated
(NaN, sparse, complex, object dtype, 1-D input, ``n_features_in_``) do not apply to graph input;
the list, with reasons, is :data:`DOES_NOT_APPLY` (and the closing note of issue 14).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.utils import estimator_checks as ec

from fastgnn import GNTK, Graph


def rows_as_graphs(X) -> list[Graph]:
    """Each row of a 2-D array as a path graph over its entries, one node per column with the
    entry as its one feature (a list of Graphs passes through)."""
    if isinstance(X, list) and X and isinstance(X[0], Graph):
        return X
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"RowGraphs: expected a 2-D array, got {X.ndim}-D: Reshape your data")
    n = X.shape[1]
    src, dst = list(range(n - 1)), list(range(1, n))
    edges = torch.tensor([src + dst, dst + src], dtype=torch.long).reshape(2, -1)
    return [Graph(edges, n, torch.from_numpy(row.copy()).reshape(n, 1)) for row in X]


class RowGraphs(GNTK):
    """The GNTK on arrays, for the checks: rows become graphs (see :func:`rows_as_graphs`).  It
    also refuses a transform array with another number of columns than fit's, as an array
    transformer must (check_transformer_general tests it; for graphs the GNTK's own analogue is
    its refusal of another node-feature dimension)."""

    def fit(self, X, y=None):
        graphs = rows_as_graphs(X)
        self.n_columns_ = graphs[0].num_nodes
        return super().fit(graphs, y)

    def transform(self, X):
        graphs = rows_as_graphs(X)
        if graphs[0].num_nodes != self.n_columns_:
            raise ValueError(f"RowGraphs: {graphs[0].num_nodes} columns, fitted on {self.n_columns_}")
        return super().transform(graphs)

    def fit_transform(self, X, y=None):
        graphs = rows_as_graphs(X)
        self.n_columns_ = graphs[0].num_nodes
        return super().fit_transform(graphs, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


#: checks run on GNTK itself: they never call fit with data
API_CHECKS = [
    "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_mixin_order", "check_parameters_default_constructible",
    "check_get_params_invariance", "check_set_params", "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted", "check_transformers_unfitted", "check_param_validation",
]
#: checks run through RowGraphs: they fit and transform
FIT_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_estimators_dtypes",
    "check_pipeline_consistency", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array", "check_transformer_general", "check_transformer_n_iter",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit2d_1sample",
    "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_positive_only_tag_during_fit", "check_fit1d",
]
#: checks of array validation, which graph input never meets
DOES_NOT_APPLY = {
    "check_n_features_in": "n_features_in_ counts the columns of an array X; a list of graphs has none "
                           "(the GNTK records num_node_features_ and refuses another feature dimension)",
    "check_n_features_in_after_fitting": "as check_n_features_in",
    "check_complex_data": "complex arrays: graph features are real (Graph refuses nothing complex because "
                          "torch's float conversion is explicit; the GNTK never sees an array)",
    "check_dtype_object": "object arrays: the input is a list of graph objects by design",
    "check_estimators_empty_data_messages": "an array with 0 rows/columns; the GNTK's analogue, an empty list "
                                            "or a graph with 0 nodes, is refused with its own message (test_gntk)",
    "check_estimators_nan_inf": "NaN in an array; Graph refuses non-finite features (test_gntk), and through "
                                "RowGraphs this check passes too",
    "check_estimator_sparse_tag": "sparse X; graphs are not sparse matrices (an adjacency converts with "
                                  "fastgnn.from_scipy)",
    "check_estimator_sparse_array": "as check_estimator_sparse_tag",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_tag",
    "check_array_api_input": "array-API namespaces for X; the input is graphs",
    "check_fit2d_predict1d": "1-D X at transform; the message it wants is check_array's",
}


@pytest.mark.parametrize("check", API_CHECKS)
def test_api_check(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(ec, check)("GNTK", GNTK())


@pytest.mark.parametrize("check", FIT_CHECKS)
def test_fit_check(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(ec, check)("RowGraphs", RowGraphs(num_layers=2, progress=False))


def test_nan_check_passes_through_the_adapter():
    ec.check_estimators_nan_inf("RowGraphs", RowGraphs(num_layers=2, progress=False))


def test_every_check_is_listed():
    """A check sklearn runs on transformers is either run above or said not to apply."""

    class Arrays(GNTK):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = True
            return tags

    yielded = {getattr(c, "func", c).__name__ for c in ec._yield_all_checks(Arrays(), legacy=True)}
    listed = set(API_CHECKS) | set(FIT_CHECKS) | set(DOES_NOT_APPLY)
    assert yielded <= listed, sorted(yielded - listed)


def test_check_estimator_on_graph_input_skips_rather_than_fails():
    with pytest.warns(ec.SkipTestWarning, match="requires input"):
        ec.check_estimator(GNTK())
