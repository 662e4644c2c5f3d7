"""Block-diagonal mini-batches of graphs (PyG's ``Batch``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["GraphBatch", "collate"]


@dataclass
class GraphBatch:
    """Graphs stacked into one disconnected graph.

    Attributes:
        x: ``[sum N_i, F]`` node features, graph after graph.
        edge_index: ``[2, sum E_i]``, each graph's edges offset by the nodes before it.
        batch: ``[sum N_i]`` the graph of each node (0..num_graphs-1).
        y: ``[num_graphs]`` labels.
        num_graphs: B.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    batch: torch.Tensor
    y: torch.Tensor
    num_graphs: int

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device=None, dtype=None) -> GraphBatch:
        return GraphBatch(self.x.to(device=device, dtype=dtype), self.edge_index.to(device),
                          self.batch.to(device), self.y.to(device), self.num_graphs)


def collate(graphs: Sequence, dtype: torch.dtype | None = None) -> GraphBatch:
    """Stack :class:`~fastgnn.graph.Graph` objects into a :class:`GraphBatch` (labels from ``g.y``)."""
    if len(graphs) == 0:
        raise ValueError("cannot collate an empty list of graphs")
    sizes = torch.tensor([g.num_nodes for g in graphs])
    offsets = torch.cumsum(sizes, 0) - sizes
    edge_index = torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets)], dim=1)
    x = torch.cat([g.x for g in graphs])
    if dtype is not None:
        x = x.to(dtype)
    batch = torch.repeat_interleave(torch.arange(len(graphs)), sizes)
    y = torch.tensor([-1 if g.y is None else int(g.y) for g in graphs])
    return GraphBatch(x, edge_index, batch, y, len(graphs))
