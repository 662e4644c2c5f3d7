"""fastgnn.train.graph: cross_validate runs every fold deterministically and names a bad graph before
training; GraphCVResult's old name still imports, with a warning."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import synthetic
from fastgnn.nn.models import GIN
from fastgnn.train import GraphCVResult, cross_validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cross_validation_names_the_data_sets_graph_before_training():
    data = synthetic(20, min_nodes=4, max_nodes=6, seed=0, dtype=torch.float32)
    i = max(k for k, g in enumerate(data.graphs) if g.num_edges)
    data.graphs[i].edge_weight = torch.full((data.graphs[i].num_edges,), 3.0)
    with pytest.raises(ValueError, match=rf"graph {i} has edge weights other than 1"):
        cross_validate(lambda: GIN(data.num_features, data.num_classes, hidden=4, num_layers=2), data, epochs=1,
                       progress=False)


def test_cross_validation_runs_every_fold_and_is_deterministic():
    data = synthetic(40, min_nodes=5, max_nodes=10, seed=0, dtype=torch.float32)

    def make():
        return GIN(data.num_features, data.num_classes, hidden=8, num_layers=3)

    a = cross_validate(make, data, epochs=3, batch_size=8, progress=False)
    b = cross_validate(make, data, epochs=3, batch_size=8, progress=False)
    assert len(a.fold_curves) == len(data.folds) and all(len(c) == 3 for c in a.fold_curves)
    assert a.fold_curves == b.fold_curves and a.loss_curves == b.loss_curves
    assert 0.0 <= a.final_mean <= 1.0 and 1 <= a.best_epoch <= 3 and a.train_seconds > 0
    with pytest.raises(ValueError, match="epochs and batch_size must be >= 1"):
        cross_validate(make, data, epochs=0, progress=False)
    with pytest.raises(ValueError, match="no cross-validation folds"):
        cross_validate(make, data, folds=[], progress=False)


def test_cross_validate_returns_a_graph_cv_result_and_the_old_name_warns():
    """``CVResult`` (the name before GraphCVResult; ``fastgnn.evaluate.CVResult`` is the kernel SVM's)
    still imports from fastgnn.train and fastgnn.train.graph for one release, with a
    DeprecationWarning naming the new place."""
    import fastgnn.train
    import fastgnn.train.graph

    data = synthetic(20, min_nodes=4, max_nodes=6, seed=0, dtype=torch.float32)
    res = cross_validate(lambda: GIN(data.num_features, data.num_classes, hidden=4, num_layers=2), data, epochs=1,
                         progress=False)
    assert isinstance(res, GraphCVResult)
    for module in (fastgnn.train, fastgnn.train.graph):
        with pytest.warns(DeprecationWarning, match=r"CVResult is deprecated.*fastgnn\.train\.graph\.GraphCVResult"):
            assert module.CVResult is GraphCVResult
