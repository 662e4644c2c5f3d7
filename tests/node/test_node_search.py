"""fastgnn.node.search: the grid chosen on validation, every depth from one pass, the first best kept."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import sbm
from fastgnn.node import GCNGP, GCNKernel
from fastgnn.node.search import DEFAULT_GRID, kernel_search


@pytest.fixture(scope="module")
def data():
    return sbm(120, num_classes=3, num_features=6, avg_degree=5, feature_signal=0.3, train_ratio=0.2, val_ratio=0.3,
               seed=7, dtype=torch.float64)


def test_search_rows_equal_separate_fits(data):
    grid = {"num_layers": (1, 3), "sigma_b": (0.0, 0.2)}
    res = kernel_search(data, "ntk", grid, nuggets=[0.01, 0.1, 1.0])
    assert [(r["num_layers"], r["sigma_b"]) for r in res.rows] == [(1, 0.0), (1, 0.2), (3, 0.0), (3, 0.2)]
    for row in res.rows:  # each grid point is what a separate fit of that configuration gives
        kern = GCNKernel("ntk", num_layers=row["num_layers"], sigma_b=row["sigma_b"])
        fit = GCNGP(kern, nuggets=[0.01, 0.1, 1.0]).fit(data)
        assert (fit.val_accuracy_, fit.test_accuracy_, fit.nugget_) == (row["val_acc"], row["test_acc"], row["nugget"])
    best = max(r["val_acc"] for r in res.rows)
    assert res.best is next(r for r in res.rows if r["val_acc"] == best)
    assert res.kernel.get_params()["num_layers"] == res.best["num_layers"]
    assert res.rows[0]["sigma_w"] == DEFAULT_GRID["sigma_w"][0]


def test_search_bad_grid(data):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['depth'\]"):
        kernel_search(data, grid={"depth": (2,)})
    with pytest.raises(ValueError, match=r"grid\['sigma_b'\] is empty"):
        kernel_search(data, grid={"sigma_b": ()})
