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


def test_result_repr_is_one_line_and_the_projected_time_is_said_up_front(capsys):
    """Issue 25.7: ``repr`` printed every curve; the run's length was only in the bar's ETA."""
    data = synthetic(40, min_nodes=5, max_nodes=10, seed=0, dtype=torch.float32)
    res = cross_validate(lambda: GIN(data.num_features, data.num_classes, hidden=4, num_layers=2), data, epochs=2,
                         batch_size=8, progress=True)
    text = repr(res)
    assert "\n" not in text and len(text) < 200 and str(res) == text
    assert text.startswith(f"GraphCVResult(final {100 * res.final_mean:.2f} ± ")
    assert f"best epoch {res.best_epoch} (GIN protocol)" in text and f"{len(data.folds)} folds x 2 epochs" in text
    err = capsys.readouterr().err
    assert f"CV {data.name}: {len(data.folds)} folds x 2 epochs; the first epoch took " in err and "in all" in err


def test_projection_wording():
    from fastgnn.train.graph import projection

    assert projection("MUTAG", 0.61, 10, 350).endswith("the first epoch took 0.61 s, so about 36 min in all")
    assert projection("X", 0.01, 10, 100).endswith("so about 10 s in all")
    assert projection("X", 3.0, 10, 350).endswith("so about 2.9 h in all")
