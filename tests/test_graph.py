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


# --- inputs that used to be misread without a word (issue 14) --------------------------------


def test_edge_list_of_pairs_is_refused_with_transpose_hint():
    pairs = torch.tensor([[0, 1], [1, 2], [2, 0]])  # [E, 2]: was read as another graph
    with pytest.raises(ValueError, match=r"\[3, 2\].*transpose"):
        Graph(pairs, 3, torch.ones(3, 1))
    g = Graph(pairs.t(), 3, torch.ones(3, 1))
    assert g.num_edges == 3 and g.edge_index[:, 0].tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        Graph(torch.arange(6), 3, torch.ones(3, 1))  # flat: was reshaped silently
    with pytest.raises(ValueError, match="non-integer"):
        Graph(torch.tensor([[0.0, 1.5], [1.0, 0.0]]), 2, torch.ones(2, 1))
    assert Graph(torch.zeros(0, dtype=torch.long), 2, torch.ones(2, 1)).num_edges == 0


def test_labels_are_not_truncated():
    edges = torch.tensor([[0], [1]])
    assert Graph(edges, 2, torch.ones(2, 1), y=0.7).y == 0.7  # was cast to 0 by from_pyg
    assert Graph(edges, 2, torch.ones(2, 1), y=torch.tensor([1.0])).y == 1
    assert isinstance(Graph(edges, 2, torch.ones(2, 1), y=np.float32(2.0)).y, int)
    with pytest.raises(ValueError, match="3 values"):
        Graph(edges, 2, torch.ones(2, 1), y=torch.tensor([1, 0, 1]))
    data = SimpleNamespace(num_nodes=2, x=None, edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([0.7]))
    assert from_pyg(data).y == pytest.approx(0.7)
    ds = GraphDataset([Graph(edges, 2, torch.ones(2, 1), y=v) for v in (0.7, 0.2, 0.7, 0.2)], name="floats")
    assert ds.y.tolist() == [1, 0, 1, 0] and ds.label_names == [0.2, 0.7]


def test_from_pyg_batch_gives_each_graph_with_its_label():
    pyg = pytest.importorskip("torch_geometric")
    datas = [pyg.data.Data(x=torch.full((n, 1), float(n)), edge_index=path_graph(n).edge_index, y=torch.tensor([n % 2]))
             for n in (2, 3, 4)]
    graphs = from_pyg(pyg.data.Batch.from_data_list(datas))  # was one merged graph with the first label
    assert [g.num_nodes for g in graphs] == [2, 3, 4] and [g.y for g in graphs] == [0, 1, 0]
    assert all(torch.equal(g.edge_index, d.edge_index) for g, d in zip(graphs, datas))
    assert [g.num_nodes for g in from_pyg(datas)] == [2, 3, 4]


def test_from_pyg_keeps_weights_and_direction_and_refuses_edge_attr():
    edges = torch.tensor([[0, 1], [1, 0]])
    w = from_pyg(SimpleNamespace(num_nodes=2, x=None, edge_index=edges, edge_weight=torch.tensor([2.0, 2.0])))
    assert w.weighted and not w.directed
    one_way = from_pyg(SimpleNamespace(num_nodes=2, x=None, edge_index=torch.tensor([[0], [1]])))
    assert one_way.directed
    node_labels = SimpleNamespace(num_nodes=2, x=None, edge_index=edges, y=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="node-level labels"):
        from_pyg(node_labels)
    bonds = SimpleNamespace(num_nodes=2, x=None, edge_index=edges, edge_attr=torch.ones(2, 4))
    with pytest.raises(ValueError, match="edge_attr"):
        from_pyg(bonds)
    assert from_pyg(bonds, ignore_edge_attr=True).num_edges == 2


def test_from_numpy_and_scipy():
    import scipy.sparse as sp

    from fastgnn.graph import from_numpy, from_scipy

    a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    g = from_numpy(a, y=1)
    assert g.num_nodes == 3 and g.num_edges == 4 and not g.directed and not g.weighted and g.y == 1
    assert torch.equal(g.adjacency(self_loops=False), torch.as_tensor(a, dtype=torch.float64))
    assert torch.equal(from_scipy(sp.csr_matrix(a)).adjacency(), g.adjacency())
    weighted = from_numpy(a * 0.5)
    assert weighted.weighted and weighted.edge_weight.tolist() == [0.5] * 4
    directed = from_numpy(np.triu(a))
    assert directed.directed and directed.num_edges == 2
    x = np.arange(6.0).reshape(3, 2)
    assert torch.equal(from_numpy(a, x=x).x, torch.as_tensor(x))
    with pytest.raises(ValueError, match="square"):
        from_numpy(np.ones((2, 3)))


def test_from_networkx_direction_weights_attributes():
    nx = pytest.importorskip("networkx")
    d = from_networkx(nx.DiGraph([(0, 1), (1, 2)]))
    assert d.directed and d.num_edges == 2  # was symmetrised without a word
    with pytest.raises(ValueError, match="multigraph"):
        from_networkx(nx.MultiGraph([(0, 1), (0, 1)]))
    g = nx.path_graph(3)
    nx.set_edge_attributes(g, "single", "bond")
    with pytest.raises(ValueError, match="bond"):
        from_networkx(g)
    assert from_networkx(g, drop_attrs=True).num_edges == 4
    h = nx.path_graph(3)
    nx.set_node_attributes(h, {0: [0.5, 1.0], 1: [2.0, 0.0], 2: [1.0, 1.0]}, "pos")
    nx.set_node_attributes(h, {0: 1, 1: 6, 2: 1}, "element")
    with pytest.raises(ValueError, match="'pos'"):
        from_networkx(h, node_attr="element")  # 'pos' would be dropped
    both = from_networkx(h, node_attr=["element", "pos"])
    assert both.x.tolist() == [[1, 0, 0.5, 1.0], [0, 1, 2.0, 0.0], [1, 0, 1.0, 1.0]]
    assert both.meta["categories"] == {"element": (1, 6)}
    with pytest.raises(ValueError, match="not among the categories"):
        from_networkx(h, node_attr="element", categories={"element": (1, 8)}, drop_attrs=True)


def test_as_graph_list_reads_what_users_pass():
    """Graph lists, GraphDataset, networkx graphs and PyG-like Data are read as a list of Graphs; one
    graph, an array, a node dataset, nothing, an empty, directed or weighted graph are refused."""
    import networkx as nx

    from fastgnn.datasets import sbm
    from fastgnn.graph import as_graph_list, check_categories, is_single_graph

    g = path_graph(3)
    assert as_graph_list([g, g], "fit") == [g, g]
    ds = GraphDataset([g, path_graph(4)], [0, 1], name="two")
    assert as_graph_list(ds, "fit") == list(ds.graphs)
    (converted,) = as_graph_list([nx.path_graph(3)], "fit")
    assert converted.num_nodes == 3 and converted.num_edges == 4
    assert is_single_graph(g) and is_single_graph(nx.path_graph(2)) and not is_single_graph([g])
    for bad, kind, match in (
        (g, TypeError, "X is one graph"),
        (np.eye(3), TypeError, "ndarray of shape"),
        (sbm(num_nodes=30, num_classes=2, seed=0), ValueError, "node-classification dataset"),
        ([], ValueError, "no graphs given"),
        ([Graph(torch.zeros(2, 0, dtype=torch.long), 0, torch.zeros(0, 1))], ValueError, "0 nodes"),
        ([Graph(torch.tensor([[0], [1]]), 2, torch.ones(2, 1), directed=True)], ValueError, "is directed"),
        ([Graph(torch.tensor([[0, 1], [1, 0]]), 2, torch.ones(2, 1), edge_weight=torch.tensor([2.0, 2.0]))],
         ValueError, "edge weights other than 1"),
        ([object()], TypeError, "item 0 is a object"),
    ):
        with pytest.raises(kind, match=match):
            as_graph_list(bad, "fit")
    a, b = path_graph(2), path_graph(2)
    a.meta["categories"], b.meta["categories"] = ["C", "N"], ["C", "O"]
    check_categories([a, a], None, "fit")
    with pytest.raises(ValueError, match="transform: graph 0 was one-hot encoded over the categories"):
        check_categories([b], [a], "transform")


# --------------------------------------------------------------------------- GraphDataset never changes its graphs


def labelled_set(labels) -> list[Graph]:
    """Graphs whose y is written as in the files (MUTAG's, PTC_MR's and REDDIT-BINARY's 0 and 2)."""
    return [path_graph(3 + k % 4, y=label) for k, label in enumerate(labels)]


def test_dataset_does_not_relabel_the_graphs_it_is_given():
    graphs = labelled_set([0, 2] * 10)
    data = GraphDataset(graphs, name="written 0/2")
    assert [g.y for g in graphs] == [0, 2] * 10, "the caller's graphs keep their labels"
    assert [g.y for g in data] == data.y.tolist() == [0, 1] * 10 and data.label_names == [0, 2]
    assert data.graphs[0] is graphs[0], "a graph already labelled with its class is not copied"
    assert data.graphs[1] is not graphs[1] and data.graphs[1].x is graphs[1].x, "a shallow copy, tensors shared"


def test_a_subset_leaves_its_parent_as_it_was():
    """``d[d.y == 1]`` rewrote ``graph.y`` of the parent's graphs to the subset's class 0 (issue 25.1)."""
    data = GraphDataset(labelled_set([0, 2, 2, 0, 2] * 4), name="written 0/2")
    before = data.y.tolist()
    sub = data[data.y == 1]
    assert [g.y for g in data] == data.y.tolist() == before
    assert sub.y.tolist() == [0] * 12 and [g.y for g in sub] == [0] * 12
    assert sub.label_names == [2], "the subset's class names are the labels as written"
    other = data[np.array([0, 1, 3])]
    assert other.y.tolist() == [0, 1, 0] and other.label_names == [0, 2]
    assert [g.y for g in data] == before


@pytest.mark.data
def test_training_on_the_parent_after_a_subset_is_unchanged(shared_datasets, one_torch_thread):
    """MUTAG (labels written 2 and 0): after a subset of one class, cross-validating a GIN on the parent gives
    exactly what it gives on a dataset never subset (it went from 53.7 % to 100 % when the subset had set every
    graph's y to 0), and the batches carry the parent's classes."""
    from fastgnn.datasets import load
    from fastgnn.nn.models import GIN
    from fastgnn.train import cross_validate
    from fastgnn.train.batch import collate

    data = load("MUTAG", root=shared_datasets, download=False, dtype=torch.float32)
    fresh = load("MUTAG", root=shared_datasets, download=False, dtype=torch.float32)
    assert data.label_names == [0, 2]
    data[data.y == 1]
    assert collate(data.graphs).y.tolist() == data.y.tolist()
    folds = data.folds[:1]

    def run(d):
        torch.manual_seed(0)
        return cross_validate(lambda: GIN(d.num_features, d.num_classes, hidden=8, num_layers=2), d, epochs=2,
                              batch_size=32, folds=folds, progress=False)

    a, b = run(data), run(fresh)
    assert a.fold_curves == b.fold_curves and a.loss_curves == b.loss_curves


# --------------------------------------------------------------------------- messages name the right thing


def test_conversion_errors_in_a_list_carry_their_own_remedy_only():
    """Issue 25.6: every networkx error ended with the node_attr hint, every PyG error with ignore_edge_attr."""
    nx = pytest.importorskip("networkx")
    from fastgnn.graph import as_graph_list

    bonds = nx.path_graph(3)
    nx.set_edge_attributes(bonds, "single", "bond")
    with pytest.raises(ValueError) as err:
        as_graph_list([nx.path_graph(2), bonds], "fit")
    msg = str(err.value)
    assert msg.startswith("fit: graph 1: ") and "'bond'" in msg and "from_networkx(graphs, drop_attrs=True)" in msg
    assert "node_attr" not in msg

    with pytest.raises(ValueError) as err:
        as_graph_list([nx.MultiGraph([(0, 1), (0, 1)])], "transform")
    msg = str(err.value)
    assert msg.startswith("transform: graph 0: ") and "multigraph" in msg
    assert "node_attr" not in msg and "drop_attrs" not in msg

    atoms = nx.path_graph(2)
    nx.set_node_attributes(atoms, "C", "element")
    with pytest.raises(ValueError, match=r"fit: graph 0: .*from_networkx\(graphs, node_attr='element'\)"):
        as_graph_list([atoms], "fit")

    edges = torch.tensor([[0, 1], [1, 0]])
    node_y = SimpleNamespace(num_nodes=2, x=None, edge_index=edges, y=torch.tensor([0, 1]))
    with pytest.raises(ValueError) as err:
        as_graph_list([node_y], "fit")
    msg = str(err.value)
    assert msg.startswith("fit: graph 0: ") and "node-level labels" in msg and "ignore_edge_attr" not in msg
    bonds_pyg = SimpleNamespace(num_nodes=2, x=None, edge_index=edges, edge_attr=torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"fit: graph 0: .*from_pyg\(data, ignore_edge_attr=True\)"):
        as_graph_list([bonds_pyg], "fit")


def test_feature_dimensions_name_the_graph_and_fit_or_transform():
    from fastgnn import GNTK
    from fastgnn.graph import check_feature_dims

    two, three = path_graph(3, d=2), path_graph(4, d=3)
    check_feature_dims([two, two], None, "fit")
    with pytest.raises(ValueError, match=r"^fit: graph 2 has 3 node features, graph 0 has 2: "):
        GNTK(num_layers=2, num_mlp_layers=1).fit([two, two, three])
    est = GNTK(num_layers=2, num_mlp_layers=1).fit([two, two])
    with pytest.raises(ValueError, match=r"^transform: graph 1 has 3 node features, the fitted graphs have 2: .*"
                                         r"transform graphs encoded as the fitted ones"):
        est.transform([two, three])
