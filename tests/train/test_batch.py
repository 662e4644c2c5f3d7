"""fastgnn.train.batch: collate offsets the edges and builds the batch vector, reads an undirected graph
both ways, and refuses labels, edge weights and directed graphs it would silently change."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import synthetic
from fastgnn.graph import Graph
from fastgnn.nn.models import GIN
from fastgnn.train import collate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
