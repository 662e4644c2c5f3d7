"""fastgnn.datasets.node and .sbm: NodeData refuses bad input, naming it; the stochastic block model has the
asked size, degree, homophily and split, seeded."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import NodeData, sbm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graph():
    return sbm(400, num_classes=3, num_features=8, avg_degree=6, homophily=0.9, feature_signal=2.0, seed=0)


def test_node_data_rejects_bad_input(graph):
    n = graph.num_nodes
    args = (graph.y, graph.train_mask, graph.val_mask, graph.test_mask, graph.num_classes)
    bad_x = graph.x.clone()
    bad_x[3, 1] = float("inf")
    with pytest.raises(ValueError, match="non-finite value .* at node 3, feature 1"):
        NodeData(bad_x, graph.edge_index, *args)
    with pytest.raises(ValueError, match=f"edge_index holds node {n}, outside"):
        NodeData(graph.x, torch.tensor([[0], [n]]), *args)
    with pytest.raises(ValueError, match="features and labels do not match"):
        NodeData(graph.x[:-1], graph.edge_index[:, :0], *args)
    with pytest.raises(ValueError, match="no nodes"):
        NodeData(torch.zeros(0, 3), torch.zeros(2, 0), [], [], [], [], 2)


def test_sbm_generator():
    d = sbm(5_000, num_classes=4, num_features=6, avg_degree=8, homophily=0.7, seed=2)
    assert d.num_nodes == 5_000 and d.num_features == 6 and d.num_classes == 4
    assert 7.5 < d.num_edges / d.num_nodes <= 8.0
    same = (d.y[d.edge_index[0]] == d.y[d.edge_index[1]]).float().mean()
    assert abs(float(same) - 0.7) < 0.03
    assert (d.edge_index[0] != d.edge_index[1]).all()
    assert int(d.train_mask.sum()) == 500 and int(d.val_mask.sum()) == 500 and int(d.test_mask.sum()) == 4000
    assert torch.equal(sbm(300, seed=5).edge_index, sbm(300, seed=5).edge_index)
    p = sbm(2_000, num_classes=2, p_in=0.009, p_out=0.001, seed=0)
    assert abs(p.meta["homophily"] - 0.9) < 0.01 and abs(p.meta["avg_degree"] - 10.0) < 0.1
    for kw, msg in [({"homophily": 1.5}, "homophily"), ({"num_classes": 1}, "num_classes"),
                    ({"p_in": 0.1}, "both p_in and p_out"), ({"avg_degree": 0}, "avg_degree"),
                    ({"train_ratio": 0.9, "val_ratio": 0.2}, "split ratios")]:
        with pytest.raises(ValueError, match=msg):
            sbm(100, **kw)
