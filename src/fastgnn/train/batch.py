"""Block-diagonal mini-batches of graphs (PyG's ``Batch``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fastgnn.graph import as_label

__all__ = ["GraphBatch", "collate", "check_graphs"]


@dataclass
class GraphBatch:
    """Graphs stacked into one disconnected graph.

    Attributes:
        x: ``[sum N_i, F]`` node features, graph after graph.
        edge_index: ``[2, E_b]``, each graph's edges offset by the nodes before it (an undirected
            graph's edges in both directions, see :func:`collate`).
        batch: ``[sum N_i]`` the graph of each node (0..num_graphs-1).
        y: ``[num_graphs]`` int64 class labels (-1 for a graph without a label).
        num_graphs: B.
        edge_weight: ``[E_b]`` weights of ``edge_index``'s columns (1 for unweighted graphs), or
            None when :func:`collate` was not asked for them.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    batch: torch.Tensor
    y: torch.Tensor
    num_graphs: int
    edge_weight: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device=None, dtype=None) -> GraphBatch:
        w = None if self.edge_weight is None else self.edge_weight.to(device=device, dtype=dtype)
        return GraphBatch(self.x.to(device=device, dtype=dtype), self.edge_index.to(device),
                          self.batch.to(device), self.y.to(device), self.num_graphs, w)


def collate(graphs: Sequence, dtype: torch.dtype | None = None, *, edge_weight: bool = False,
            directed: bool = False) -> GraphBatch:
    """Stack :class:`~fastgnn.graph.Graph` objects into a :class:`GraphBatch`.

    Nothing a graph carries is dropped or changed without a word: ``ValueError`` naming the
    graph's index for

    * a label that is not an integer class (a float such as 0.7, a string): the graph
      classifiers are trained by cross-entropy over classes 0..C-1 (a
      :class:`~fastgnn.graph.GraphDataset` maps its labels to classes);
    * edge weights other than 1, unless ``edge_weight=True`` (for a model that reads
      ``GraphBatch.edge_weight``; fastgnn's GIN and GraphGCN do not);
    * a directed graph (``Graph.directed``), unless ``directed=True`` (the model then aggregates
      along each edge, source → target, PyG's convention).

    An undirected graph's edges are read both ways, as its ``directed=False`` says: a reverse edge
    missing from its ``edge_index`` is added (with the same weight); graphs given in both
    directions (every converter's and loader's) are unchanged.

    Args:
        graphs: a non-empty sequence of graphs with equal feature widths.
        dtype: of ``x`` (and of ``edge_weight``); default: the graphs' own.
        edge_weight: keep the graphs' edge weights in ``GraphBatch.edge_weight``.
        directed: accept directed graphs.

    Cost: O(N + E log E) for the batch (the reverse-edge test sorts the undirected graphs' edges).
    """
    if len(graphs) == 0:
        raise ValueError("cannot collate an empty list of graphs")
    labels = check_graphs(graphs, edge_weight=edge_weight, directed=directed)
    sizes = torch.tensor([g.num_nodes for g in graphs])
    offsets = (torch.cumsum(sizes, 0) - sizes).tolist()
    edge_index = torch.cat([g.edge_index + o for g, o in zip(graphs, offsets)], dim=1)
    x = torch.cat([g.x for g in graphs])
    if dtype is not None:
        x = x.to(dtype)
    weight = None
    if edge_weight:
        weight = torch.cat([_weights(g, x.dtype) for g in graphs])
    undirected = torch.repeat_interleave(torch.tensor([not g.directed for g in graphs]),
                                         torch.tensor([g.num_edges for g in graphs]))
    edge_index, weight = _add_missing_reverses(edge_index, weight, undirected, int(sizes.sum()))
    batch = torch.repeat_interleave(torch.arange(len(graphs)), sizes)
    return GraphBatch(x, edge_index, batch, torch.tensor(labels, dtype=torch.long), len(graphs), weight)


def check_graphs(graphs: Sequence, *, edge_weight: bool = False, directed: bool = False,
                 index: Sequence[int] | None = None) -> list[int]:
    """The class labels of ``graphs`` (-1 for None), after the checks :func:`collate` makes:
    ``ValueError`` naming the graph (``index[i]``, default its position ``i``) for a label that
    is not an integer class, edge weights other than 1 (unless ``edge_weight``) or a directed
    graph (unless ``directed``). O(B) plus one pass over each weighted graph's weights; a
    training loop calls it once on its data set so that the error names the data set's index."""
    index = range(len(graphs)) if index is None else index
    labels = []
    for i, g in zip(index, graphs):
        labels.append(_class_label(g, i))
        if g.directed and not directed:
            raise ValueError(
                f"graph {i} is directed (Graph.directed=True) and the batch would read its edges one way "
                "without saying so: pass collate(..., directed=True) for a model that aggregates along the "
                "edge direction (source -> target), or set graph.directed = False to read every edge both ways"
            )
        if g.weighted and not edge_weight:
            raise ValueError(
                f"graph {i} has edge weights other than 1, which the batch would drop: fastgnn's graph "
                "classifiers (GIN, GraphGCN) aggregate unweighted edges. Set graph.edge_weight = None to train "
                "on the unweighted graph, or pass collate(..., edge_weight=True) for a model that reads "
                "GraphBatch.edge_weight"
            )
    return labels


def _class_label(g, i: int) -> int:
    """``g.y`` as an int class (-1 for None); ``ValueError`` naming graph ``i`` otherwise."""
    y = as_label(g.y)
    if y is None:
        return -1
    if not isinstance(y, int):
        raise ValueError(
            f"graph {i} has label y={y!r}, not an integer class: the graph classifiers learn classes 0..C-1 by "
            "cross-entropy, and the label would be truncated. Map the labels to classes first (a GraphDataset "
            "does: GraphDataset(graphs) numbers the distinct labels), or use a regression model"
        )
    return y


def _weights(g, dtype) -> torch.Tensor:
    if g.edge_weight is None:
        return torch.ones(g.num_edges, dtype=dtype)
    return g.edge_weight.to(dtype)


def _add_missing_reverses(edge_index, weight, undirected, num_nodes: int):
    """``edge_index`` plus (v, u) for every edge (u, v) of an undirected graph whose reverse is
    absent (its weight copied): O(E log E)."""
    if not bool(undirected.any()):
        return edge_index, weight
    src, dst = edge_index
    keys = src * num_nodes + dst
    missing = undirected & ~torch.isin(dst * num_nodes + src, keys[undirected])
    if not bool(missing.any()):
        return edge_index, weight
    edge_index = torch.cat([edge_index, edge_index[:, missing].flip(0)], dim=1)
    if weight is not None:
        weight = torch.cat([weight, weight[missing]])
    return edge_index, weight
