"""fastgnn.train.sampling: NeighborSampler draws relabelled subgraphs within the fanouts, seeded, of a size
that does not grow with the graph; fanouts are parsed and checked."""

from __future__ import annotations

import pytest
import torch

from fastgnn.datasets import sbm
from fastgnn.train import NeighborSampler, parse_fanouts

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graph():
    return sbm(400, num_classes=3, num_features=8, avg_degree=6, homophily=0.9, feature_signal=2.0, seed=0)


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
