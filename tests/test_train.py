"""fastgnn.train: neighbour sampling, full-batch and SGD node training, graph batches and CV."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import NodeData, sbm, synthetic
from fastgnn.graph import Graph
from fastgnn.nn.models import GCN, GIN
from fastgnn.train import NeighborSampler, collate, cross_validate, parse_fanouts, train_node

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graph():
    return sbm(400, num_classes=3, num_features=8, avg_degree=6, homophily=0.9, feature_signal=2.0, seed=0)


# --------------------------------------------------------------------------- sampling


def _in_neighbours(edge_index, node):
    return set(edge_index[0][edge_index[1] == node].tolist())


def test_sampled_subgraph_is_a_relabelled_subgraph_within_fanouts(graph):
    sampler = NeighborSampler(graph.edge_index, graph.num_nodes, [3, 2])
    seeds = torch.tensor([5, 17, 42, 99])
    sub = sampler.sample(seeds, torch.Generator().manual_seed(0))
    assert torch.equal(sub.nodes[:4], seeds) and sub.num_seeds == 4
    assert sub.nodes.unique().numel() == sub.num_nodes  # no node twice
    src, dst = sub.nodes[sub.edge_index[0]], sub.nodes[sub.edge_index[1]]
    original = set(zip(graph.edge_index[0].tolist(), graph.edge_index[1].tolist()))
    assert set(zip(src.tolist(), dst.tolist())) <= original  # only real edges
    assert len(set(zip(src.tolist(), dst.tolist()))) == src.numel()  # no edge twice
    fan_in = torch.bincount(sub.edge_index[1], minlength=sub.num_nodes)
    assert (fan_in[:4] <= 3).all() and (fan_in[4:] <= 2).all()
    for s in seeds.tolist():  # a seed with <= 3 in-neighbours keeps all of them
        nb = _in_neighbours(graph.edge_index, s)
        got = set(src[dst == s].tolist())
        assert got <= nb and len(got) == min(3, len(nb))


def test_large_fanouts_give_the_exact_two_hop_neighbourhood(graph):
    sampler = NeighborSampler(graph.edge_index, graph.num_nodes, [1000, 1000])
    sub = sampler.sample(torch.tensor([7]))
    hop1 = _in_neighbours(graph.edge_index, 7)
    hop2 = set().union(*(_in_neighbours(graph.edge_index, v) for v in hop1 - {7}))
    assert set(sub.nodes.tolist()) == {7} | hop1 | hop2


def test_sampling_is_seeded_and_its_size_does_not_grow_with_n():
    small, large = sbm(2_000, avg_degree=10, seed=0), sbm(200_000, avg_degree=10, seed=0)
    sizes = []
    for d in (small, large):
        sampler = NeighborSampler(d.edge_index, d.num_nodes, [5, 5])
        seeds = torch.arange(0, 64)
        a = sampler.sample(seeds, torch.Generator().manual_seed(1))
        b = sampler.sample(seeds, torch.Generator().manual_seed(1))
        assert torch.equal(a.nodes, b.nodes) and torch.equal(a.edge_index, b.edge_index)
        assert a.num_nodes <= 64 * (1 + 5 + 25) and a.edge_index.shape[1] <= 64 * (5 + 25)
        sizes.append(a.num_nodes)
    assert sizes[1] <= 64 * 31 and sizes[1] < 3 * sizes[0]


@pytest.mark.parametrize("bad", ["10,x", "0", "", "10,-1", [], [10, 0], [1.5], [True], "3;3"])
def test_fanouts_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="fanouts must be"):
        parse_fanouts(bad)


def test_parse_fanouts():
    assert parse_fanouts("10, 5") == [10, 5] and parse_fanouts((25,)) == [25]


# --------------------------------------------------------------------------- node training


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


# --------------------------------------------------------------------------- graph batches and CV


def test_collate_offsets_edges_and_builds_the_batch_vector():
    data = synthetic(3, min_nodes=3, max_nodes=5, seed=0, dtype=torch.float32)
    b = collate(data.graphs)
    sizes = [g.num_nodes for g in data.graphs]
    assert b.num_nodes == sum(sizes) and b.num_graphs == 3
    assert b.batch.tolist() == sum(([i] * s for i, s in enumerate(sizes)), [])
    assert torch.equal(b.edge_index[:, data.graphs[0].num_edges:][:, : data.graphs[1].num_edges],
                       data.graphs[1].edge_index + sizes[0])
    assert b.y.tolist() == [g.y for g in data.graphs]
    with pytest.raises(ValueError, match="empty"):
        collate([])


def _path(y=0, **kwargs):
    """The path 0 - 1 - 2 given one way only (an undirected Graph reads it both ways)."""
    return Graph(torch.tensor([[0, 1], [1, 2]]), 3, torch.eye(3), y, **kwargs)


def test_collate_refuses_a_label_that_is_not_an_integer_class():
    """A float label 0.7 was truncated to class 0 without a word; whole numbers and one-element
    tensors are classes."""
    graphs = [_path(1), _path(0.7)]
    with pytest.raises(ValueError, match=r"graph 1 has label y=0\.7, not an integer class.*GraphDataset"):
        collate(graphs)
    graphs[1].y = "active"  # set after construction: checked at collate time too
    with pytest.raises(ValueError, match=r"graph 1 has label y='active'"):
        collate(graphs)
    graphs[1].y = torch.tensor(2.0)
    assert collate(graphs).y.tolist() == [1, 2]


def test_collate_refuses_edge_weights_unless_the_model_reads_them():
    weighted = _path(edge_weight=torch.tensor([2.0, 0.5]))
    graphs = [_path(), weighted]
    with pytest.raises(ValueError, match=r"graph 1 has edge weights other than 1, which the batch would drop"):
        collate(graphs)
    b = collate(graphs, torch.float64, edge_weight=True)
    # both graphs read both ways: the reverse edge carries the edge's weight
    dense = torch.zeros(6, 6, dtype=torch.float64).index_put(tuple(b.edge_index), b.edge_weight, accumulate=True)
    expected = torch.zeros(6, 6, dtype=torch.float64)
    expected[0, 1] = expected[1, 0] = expected[1, 2] = expected[2, 1] = 1.0
    expected[3, 4] = expected[4, 3] = 2.0
    expected[4, 5] = expected[5, 4] = 0.5
    torch.testing.assert_close(dense, expected)
    assert collate([_path(edge_weight=torch.ones(2))]).edge_weight is None  # unit weights lose nothing


def test_collate_refuses_directed_graphs_unless_asked_and_keeps_their_direction():
    graphs = [_path(directed=True), _path()]
    with pytest.raises(ValueError, match=r"graph 0 is directed .*collate\(\.\.\., directed=True\)"):
        collate(graphs)
    b = collate(graphs, directed=True)
    edges = set(zip(*b.edge_index.tolist()))
    assert edges == {(0, 1), (1, 2), (3, 4), (4, 3), (4, 5), (5, 4)}  # only the undirected one both ways


def test_collate_reads_an_undirected_graph_both_ways_as_the_gntk_does():
    """Graph.directed=False means every edge both ways: the batch's adjacency is the symmetric
    one Graph.adjacency builds (the GNTK's), and GIN gives the same output for the graph given one
    way or both ways."""
    one_way = _path()
    both = Graph(torch.tensor([[0, 1, 1, 2], [1, 2, 0, 1]]), 3, torch.eye(3), 0)
    b = collate([one_way])
    dense = torch.zeros(3, 3, dtype=torch.float64).index_put(tuple(b.edge_index), torch.ones(4, dtype=torch.float64),
                                                             accumulate=True)
    torch.testing.assert_close(dense, one_way.adjacency(self_loops=False))
    torch.manual_seed(0)
    model = GIN(3, 2, hidden=4, num_layers=3).eval()
    outs = []
    for g in (one_way, both):
        bg = collate([g])
        outs.append(model(bg.x, model.prepare(bg.edge_index, bg.num_nodes), bg.batch, 1))
    torch.testing.assert_close(outs[0], outs[1])
    assert collate([both]).edge_index.shape[1] == 4  # nothing added where both ways are given


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
