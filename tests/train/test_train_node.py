"""fastgnn.train.node: full-batch and neighbour-sampled SGD training learn and are deterministic; early
stopping keeps the best epoch; bad arguments are refused."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import NodeData, sbm
from fastgnn.nn.models import GCN
from fastgnn.train import train_node

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graph():
    return sbm(400, num_classes=3, num_features=8, avg_degree=6, homophily=0.9, feature_signal=2.0, seed=0)


def test_full_batch_learns_and_is_deterministic(graph):
    kw = dict(epochs=30, lr=0.01, patience=None, progress=False)
    a = train_node(GCN(graph.num_features, graph.num_classes), graph, seed=3, **kw)
    b = train_node(GCN(graph.num_features, graph.num_classes), graph, seed=3, **kw)
    c = train_node(GCN(graph.num_features, graph.num_classes), graph, seed=4, **kw)
    strip = [{k: v for k, v in h.items() if "seconds" not in k} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if "seconds" not in k} for h in b.history]
    assert a.test_acc == b.test_acc and a.history[-1]["loss"] != c.history[-1]["loss"]
    assert a.test_acc > 0.8 and a.history[-1]["loss"] < a.history[0]["loss"]
    assert a.epochs == 30 and len(a.history) == 30
    assert set(a.history[0]) == {"epoch", "loss", "train_acc", "val_acc", "val_loss", "test_acc", "seconds",
                                 "cpu_seconds"}
    # the kept weights are those of the best epoch: their test accuracy is that epoch's
    assert a.test_acc == a.history[a.best_epoch - 1]["test_acc"]
    assert a.val_acc == max(h["val_acc"] for h in a.history)


def test_sgd_with_neighbour_sampling_learns_and_is_deterministic(graph):
    kw = dict(epochs=15, sgd=True, batch_size=16, fanouts=[5, 5], patience=None, progress=False)
    a = train_node(GCN(graph.num_features, graph.num_classes), graph, seed=0, **kw)
    b = train_node(GCN(graph.num_features, graph.num_classes), graph, seed=0, **kw)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.test_acc > 0.8 and a.config["fanouts"] == [5, 5]


def test_early_stopping_stops_and_keeps_the_best_epoch(graph):
    r = train_node(GCN(graph.num_features, graph.num_classes), graph, epochs=500, lr=0.05, patience=5,
                   seed=0, progress=False)
    assert r.epochs < 500 and r.best_epoch <= r.epochs
    assert r.test_acc == r.history[r.best_epoch - 1]["test_acc"]


def test_bad_training_arguments(graph):
    empty = NodeData(graph.x, graph.edge_index, graph.y, torch.zeros(graph.num_nodes, dtype=torch.bool),
                     graph.val_mask, graph.test_mask, graph.num_classes, "empty")
    model = GCN(graph.num_features, graph.num_classes)
    with pytest.raises(ValueError, match="the training mask selects no node"):
        train_node(model, empty, progress=False)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train_node(model, graph, epochs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        train_node(model, graph, sgd=True, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="fanouts must be positive integers"):
        train_node(model, graph, sgd=True, fanouts=[10, 0], progress=False)
