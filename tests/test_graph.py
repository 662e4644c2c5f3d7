"""Graph and GraphDataset: validation, labels, folds, networkx and PyG conversion."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fastgnn import Graph, GraphDataset, from_networkx, from_pyg, to_networkx
from fastgnn.graph import stratified_folds


def path_graph(n=4, d=2, y=None):
    src = torch.arange(n - 1)
    ei = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
    return Graph(ei, n, torch.ones(n, d), y)


def test_adjacency_and_degrees():
    g = path_graph(4)
    a = g.adjacency()
    assert torch.equal(a, a.T)
    assert torch.equal(torch.diagonal(a), torch.ones(4, dtype=a.dtype))
    assert g.degrees().tolist() == [1, 2, 2, 1]
    assert g.num_edges == 6 and g.num_features == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"edge_index": [[0], [5]]}, "outside 0..3"),
        ({"x": torch.ones(3, 2)}, "3 rows"),
        ({"x": torch.ones(4)}, "2-D"),
        ({"x": torch.tensor([[1.0], [float("inf")], [0.0], [0.0]])}, "non-finite.*node 1"),
    ],
)
def test_invalid_graphs_are_refused(kwargs, match):
    args = {"edge_index": [[0, 1], [1, 0]], "num_nodes": 4, "x": torch.ones(4, 2), **kwargs}
    with pytest.raises(ValueError, match=match):
        Graph(**args)


def test_dataset_maps_labels_and_checks_them():
    graphs = [path_graph(3 + k % 3) for k in range(20)]
    data = GraphDataset(graphs, y=[7 if k % 2 else -1 for k in range(20)], name="toy")
    assert set(data.y.tolist()) == {0, 1} and data.label_names == [-1, 7]
    assert data.num_classes == 2 and len(data.folds) == 10
    sub = data[np.arange(5)]
    assert len(sub) == 5 and isinstance(data[3], Graph)
    with pytest.raises(ValueError, match="labels do not match the graphs"):
        GraphDataset(graphs, y=[0] * 19, name="toy")


def test_stratified_folds_partition_the_data():
    y = np.array([0] * 30 + [1] * 20)
    folds = stratified_folds(y)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(50))
    for tr, te in folds:
        assert not set(tr) & set(te)
        assert abs(y[te].mean() - 0.4) < 0.05
    assert [te.tolist() for _, te in folds] == [te.tolist() for _, te in stratified_folds(y)]


def test_networkx_roundtrip():
    nx = pytest.importorskip("networkx")
    g = nx.karate_club_graph()  # node attribute "club", edge attribute "weight"
    ours = from_networkx(g, y=1, node_attr="club")
    assert ours.num_nodes == 34 and ours.num_edges == 2 * g.number_of_edges()
    assert ours.meta["categories"] == {"club": ("Mr. Hi", "Officer")}
    clubs = [g.nodes[v]["club"] for v in g.nodes]
    assert ours.x[:, 1].tolist() == [float(c == "Officer") for c in clubs]
    assert ours.weighted
    back = to_networkx(ours)
    assert nx.is_isomorphic(g, back, edge_match=lambda a, b: a["weight"] == b["weight"])


def test_from_pyg_data_object():
    data = SimpleNamespace(
        num_nodes=3, x=torch.eye(3, dtype=torch.float32),
        edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([2]),
    )
    g = from_pyg(data)
    assert g.num_nodes == 3 and g.y == 2 and g.x.dtype == torch.float64
    no_x = from_pyg(SimpleNamespace(num_nodes=2, x=None, edge_index=torch.zeros(2, 0, dtype=torch.long)))
    assert torch.equal(no_x.x, torch.ones(2, 1, dtype=torch.float64))


def test_from_real_pyg_if_installed():
    pyg = pytest.importorskip("torch_geometric")
    data = pyg.data.Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([1]))
    g = from_pyg(data)
    assert g.num_nodes == 3 and g.num_edges == 2 and g.y == 1


def test_folds_for_data_that_cannot_be_stratified():
    folds = stratified_folds([0, 1, 2])  # every class a single item: unstratified K-fold
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == [0, 1, 2]
    assert stratified_folds([7]) == []
    data = GraphDataset([path_graph(3), path_graph(4), path_graph(5)], y=[0, 1, 2], name="tiny")
    assert len(data.folds) == 3
