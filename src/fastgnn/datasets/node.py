"""Node-classification data: one graph, features and labels for every node, and split masks.

:class:`NodeData` uses PyTorch Geometric's ``Data`` attribute names (``x``,
``edge_index``, ``y``, ``train_mask``, ``val_mask``, ``test_mask``), so code
written for a PyG node dataset reads it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fastgnn.graph import Graph, as_edge_index_and_features

__all__ = ["NodeData", "row_normalize"]


@dataclass(eq=False)
class NodeData:
    """One graph for node classification.

    Attributes:
        x: ``[N, F]`` float node features.
        edge_index: ``[2, E]`` int64 directed edges (source, target); an
            undirected edge appears once in each direction.
        y: ``[N]`` int64 class of each node, in ``0..num_classes-1``.
        train_mask, val_mask, test_mask: ``[N]`` bool masks of the split.
        num_classes: C.
        name: the dataset's name.
        meta: anything else the loader wants to record (e.g. the generator's settings).
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor
    num_classes: int
    name: str = "node-data"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edge_index, self.x = as_edge_index_and_features(self.edge_index, self.x)
        self.y = torch.as_tensor(self.y, dtype=torch.long).reshape(-1)
        for m in ("train_mask", "val_mask", "test_mask"):
            setattr(self, m, torch.as_tensor(getattr(self, m), dtype=torch.bool).reshape(-1))
        self.num_classes = int(self.num_classes)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem if the data is inconsistent."""
        n = self.num_nodes
        if n == 0:
            raise ValueError(f"{self.name}: the graph has no nodes")
        if self.x.dim() != 2:
            raise ValueError(f"{self.name}: x must be 2-D [num_nodes, num_features], got shape "
                             f"{tuple(self.x.shape)}")
        if self.y.shape[0] != n:
            raise ValueError(f"{self.name}: x has {n} rows but y has {self.y.shape[0]} labels: "
                             "features and labels do not match")
        for m in ("train_mask", "val_mask", "test_mask"):
            if getattr(self, m).shape[0] != n:
                raise ValueError(f"{self.name}: {m} has {getattr(self, m).shape[0]} entries for {n} nodes")
        try:  # x 2-D with N rows, finite; edge_index within 0..N-1: the checks of a Graph
            Graph.validate(self)
        except ValueError as e:
            raise ValueError(f"{self.name}: {e}") from None
        if self.y.numel() and (int(self.y.min()) < 0 or int(self.y.max()) >= self.num_classes):
            raise ValueError(f"{self.name}: labels must lie in 0..{self.num_classes - 1}, got "
                             f"{int(self.y.min())}..{int(self.y.max())}")

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    num_edges = Graph.num_edges  # directed edges E (twice the undirected count)
    num_features = Graph.num_features

    def to(self, device=None, dtype=None) -> NodeData:
        """A copy on ``device``, with float features cast to ``dtype`` when given."""
        x = self.x.to(device=device, dtype=dtype) if dtype is not None else self.x.to(device)
        return NodeData(x, self.edge_index.to(device), self.y.to(device), self.train_mask.to(device),
                        self.val_mask.to(device), self.test_mask.to(device), self.num_classes,
                        self.name, dict(self.meta))

    def stats(self) -> dict:
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "features": self.num_features,
            "classes": self.num_classes,
            "train": int(self.train_mask.sum()),
            "val": int(self.val_mask.sum()),
            "test": int(self.test_mask.sum()),
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (f"NodeData({s['name']}: {s['nodes']} nodes, {s['edges']} edges, {s['features']} features, "
                f"{s['classes']} classes; train/val/test {s['train']}/{s['val']}/{s['test']})")


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its sum (rows summing to 0 stay 0), as the GCN and GAT code does."""
    s = x.sum(1, keepdim=True)
    return torch.where(s != 0, x / torch.where(s != 0, s, torch.ones_like(s)), torch.zeros_like(x))
