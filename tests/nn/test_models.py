"""fastgnn.nn.models: node and graph classifiers built from fastgnn's layers."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import sbm, synthetic
from fastgnn.nn import DenseAdjacency, GATGraph, NormalizedAdjacency
from fastgnn.nn.models import (
    GAT,
    GCN,
    GIN,
    GRAPH_MODELS,
    MODEL_NAMES,
    NODE_MODELS,
    AttentionNet,
    DenseGCN,
    GraphGCN,
    graph_model,
    node_model,
    readout,
)
from fastgnn.train import collate, experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small():
    return sbm(60, num_classes=3, num_features=5, avg_degree=4, seed=1)


@pytest.mark.parametrize("cls, graph_type", [(GCN, NormalizedAdjacency), (DenseGCN, DenseAdjacency),
                                             (GAT, GATGraph), (AttentionNet, type(None))])
def test_node_models_shapes_and_prepared_graph(cls, graph_type, small):
    torch.manual_seed(0)
    model = cls(small.num_features, small.num_classes)
    graph = model.prepare(small.edge_index, small.num_nodes)
    assert isinstance(graph, graph_type)
    out = model(small.x, graph)
    assert out.shape == (small.num_nodes, small.num_classes) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_dense_gcn_equals_sparse_gcn_with_the_same_weights(small):
    torch.manual_seed(0)
    sparse, dense = GCN(small.num_features, 3).eval(), DenseGCN(small.num_features, 3).eval()
    dense.load_state_dict(sparse.state_dict())
    a = sparse(small.x, sparse.prepare(small.edge_index, small.num_nodes))
    b = dense(small.x, dense.prepare(small.edge_index, small.num_nodes))
    assert torch.allclose(a, b, atol=1e-5)


def test_gcn_dropout_only_in_training(small):
    torch.manual_seed(0)
    model = GCN(small.num_features, 3)
    g = model.prepare(small.edge_index, small.num_nodes)
    model.eval()
    assert torch.equal(model(small.x, g), model(small.x, g))
    model.train()
    assert not torch.equal(model(small.x, g), model(small.x, g))


def test_gcn_weight_decay_on_first_layer_only():
    model = GCN(4, 2)
    groups = model.weight_decay_groups(5e-4)
    assert groups[0]["weight_decay"] == 5e-4 and groups[1]["weight_decay"] == 0.0
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.conv1.parameters()}
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))


def test_gat_has_the_papers_shape():
    model = GAT(1433, 7)
    assert model.conv1.heads == 8 and model.conv1.out_channels == 8 and model.conv2.heads == 1
    assert model.dropout == 0.6


@pytest.mark.parametrize("cls", [GIN, GraphGCN])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_graph_models_batch_equals_graph_by_graph(cls, mode):
    data = synthetic(6, min_nodes=4, max_nodes=9, seed=3, dtype=torch.float32)
    torch.manual_seed(0)
    model = cls(data.num_features, data.num_classes, hidden=16, num_layers=3, readout=mode).eval()
    b = collate(data.graphs)
    out = model(b.x, model.prepare(b.edge_index, b.num_nodes), b.batch, b.num_graphs)
    assert out.shape == (6, data.num_classes)
    for i, g in enumerate(data.graphs):
        one = collate([g])
        ref = model(one.x, model.prepare(one.edge_index, one.num_nodes), one.batch, 1)
        assert torch.allclose(out[i], ref[0], atol=1e-5)


def test_readout_sum_and_mean():
    h = torch.tensor([[1.0], [2.0], [3.0], [10.0]])
    batch = torch.tensor([0, 0, 0, 2])
    assert readout(h, batch, 3, "sum").reshape(-1).tolist() == [6.0, 0.0, 10.0]
    assert readout(h, batch, 3, "mean").reshape(-1).tolist() == [2.0, 0.0, 10.0]


def test_gin_update_is_self_plus_neighbour_sum():
    model = GIN(2, 2, hidden=4, num_layers=2)
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    from fastgnn.nn import aggregate

    z = aggregate(x, model.prepare(ei, 3))
    assert torch.equal(z, torch.tensor([[1.0, 1.0], [3.0, 3.0], [2.0, 3.0]]))


def test_names_and_bad_arguments():
    assert isinstance(node_model("GCN", 3, 2), GCN) and isinstance(node_model("dense-gcn", 3, 2), DenseGCN)
    assert isinstance(graph_model("gin", 3, 2), GIN) and isinstance(graph_model("gcn", 3, 2), GraphGCN)
    with pytest.raises(ValueError, match="known: gcn, dense-gcn, gat, attention"):
        node_model("sage", 3, 2)
    with pytest.raises(ValueError, match="known: gin, gcn"):
        graph_model("gat", 3, 2)
    with pytest.raises(ValueError, match="readout must be 'sum' or 'mean'"):
        GIN(3, 2, readout="max")
    with pytest.raises(ValueError, match="num_layers must be >= 2"):
        GIN(3, 2, num_layers=1)


def test_each_registered_model_holds_its_papers_training_settings():
    """The registry is the one place of the training defaults: node models train with epochs, lr,
    weight decay and patience, graph models with a batch size instead; GCN's are Kipf & Welling's,
    GIN's the GIN paper's; train.experiment's tables are views of the registry."""
    for cls in NODE_MODELS.values():
        assert set(cls.training_defaults) == {"epochs", "lr", "weight_decay", "patience"}
    for cls in GRAPH_MODELS.values():
        assert set(cls.training_defaults) == {"epochs", "lr", "weight_decay", "batch_size"}
    assert GCN.training_defaults == dict(epochs=200, lr=0.01, weight_decay=5e-4, patience=100)
    assert GraphGCN.training_defaults is GIN.training_defaults
    assert experiment.NODE_DEFAULTS == {name: cls.training_defaults for name, cls in NODE_MODELS.items()}
    assert experiment.GRAPH_DEFAULTS == GIN.training_defaults
    assert experiment.MODEL_NAMES is MODEL_NAMES == ["gcn", "dense-gcn", "gat", "attention", "gin"]
