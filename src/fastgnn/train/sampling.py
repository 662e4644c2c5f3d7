"""L-hop neighbour sampling (GraphSAGE / PyG ``NeighborLoader`` style), vectorised in torch.

:class:`NeighborSampler` keeps the graph's in-neighbour lists as CSR (built once, O(E log E)).
``sample(seeds)`` draws, hop by hop, at most ``fanouts[l]`` distinct in-neighbours of each node
first reached at the previous hop (all of them when it has fewer), without replacement, and
returns the sampled sub-graph with nodes relabelled ``0..n-1``, the seeds first.  Running an
``L``-layer model on it gives the seeds' outputs from their sampled ``L``-hop neighbourhoods.

No Python loop runs over nodes or edges: a hop is a handful of tensor operations whose cost is
O(sum of the frontier's in-degrees), so a step costs the same whatever the graph's size N
(for a bounded degree).  Draws come from a ``torch.Generator``, so a seed fixes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["NeighborSampler", "SampledSubgraph", "parse_fanouts"]


@dataclass
class SampledSubgraph:
    """A sampled sub-graph.

    Attributes:
        nodes: ``[n]`` original ids of its nodes; ``nodes[:num_seeds]`` are the seeds, in order.
        edge_index: ``[2, e]`` sampled edges (source, target) in the new ids ``0..n-1``.
        num_seeds: how many seeds (their outputs are rows ``0..num_seeds-1``).
    """

    nodes: torch.Tensor
    edge_index: torch.Tensor
    num_seeds: int

    @property
    def num_nodes(self) -> int:
        return int(self.nodes.numel())


def parse_fanouts(fanouts) -> list[int]:
    """``"10,10"`` or ``[10, 10]`` -> ``[10, 10]``; ValueError unless every fanout is a positive int."""
    if isinstance(fanouts, str):
        parts = [p.strip() for p in fanouts.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"fanouts must be comma-separated positive integers, got {fanouts!r}") from None
    else:
        values = list(fanouts)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"fanouts must be positive integers (one per layer), got {fanouts!r}")
    return values


class NeighborSampler:
    """Samples L-hop neighbourhoods of seed nodes (see the module docstring).

    Args:
        edge_index: ``[2, E]`` (source, target); a target's in-neighbours are its sources.
        num_nodes: N.
        fanouts: neighbours drawn per node at each hop, e.g. ``[10, 10]`` for 2 layers.
    """

    def __init__(self, edge_index: torch.Tensor, num_nodes: int, fanouts):
        self.fanouts = parse_fanouts(fanouts)
        self.num_nodes = int(num_nodes)
        src, dst = edge_index[0], edge_index[1]
        order = torch.argsort(dst * self.num_nodes + src)
        self.col = src[order].contiguous()  # in-neighbours grouped by target
        counts = torch.bincount(dst, minlength=self.num_nodes)
        self.rowptr = torch.zeros(self.num_nodes + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=self.rowptr[1:])

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> SampledSubgraph:
        """The sampled ``len(fanouts)``-hop sub-graph around ``seeds`` (distinct node ids)."""
        seeds = seeds.reshape(-1).long()
        nodes = seeds                      # every node reached so far, seeds first
        frontier = seeds
        srcs, dsts = [], []
        for k in self.fanouts:
            nbr, tgt = self._sample_hop(frontier, k, generator)
            srcs.append(nbr)
            dsts.append(tgt)
            new = torch.unique(nbr)
            new = new[~torch.isin(new, nodes)]
            nodes = torch.cat([nodes, new])
            frontier = new
            if frontier.numel() == 0:
                break
        src, dst = torch.cat(srcs), torch.cat(dsts)
        # relabel: position of each original id in `nodes` (sorted lookup, O(n log n), no O(N) map)
        sorted_nodes, perm = torch.sort(nodes)
        new_src = perm[torch.searchsorted(sorted_nodes, src)]
        new_dst = perm[torch.searchsorted(sorted_nodes, dst)]
        return SampledSubgraph(nodes, torch.stack([new_src, new_dst]), int(seeds.numel()))

    def _sample_hop(self, targets: torch.Tensor, k: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """At most ``k`` distinct in-neighbours of each target: (neighbours, their targets)."""
        start = self.rowptr[targets]
        deg = self.rowptr[targets + 1] - start
        total = int(deg.sum())
        if total == 0:
            empty = targets.new_empty(0)
            return empty, empty
        seg = torch.repeat_interleave(torch.arange(targets.numel()), deg)  # which target each slot is
        offset = torch.arange(total) - torch.repeat_interleave(torch.cumsum(deg, 0) - deg, deg)
        small = deg[seg] <= k
        # targets with more than k neighbours: a random permutation within each one's slots
        # (sort by target, then by a random key), keep the first k
        key = torch.rand(total, generator=generator)
        order = torch.argsort(seg.to(torch.float64) + key.to(torch.float64) * (~small))
        rank = torch.empty_like(order)
        rank[order] = offset
        keep = small | (rank < k)
        slots = (start[seg] + offset)[keep]
        return self.col[slots], targets[seg[keep]]
