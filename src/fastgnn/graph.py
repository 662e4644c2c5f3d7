"""Graphs and graph datasets.

A :class:`Graph` follows PyTorch Geometric's conventions: ``edge_index`` is a
``[2, E]`` int64 tensor of directed pairs ``(source, target)`` (an undirected
edge appears once in each direction), ``x`` is the ``[N, F]`` node-feature
matrix and ``y`` the graph's label.  A :class:`GraphDataset` holds graphs,
integer labels ``y`` in ``0..C-1``, the 10 cross-validation ``folds`` and a
name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Graph", "GraphDataset", "from_networkx", "to_networkx", "from_pyg"]


@dataclass(eq=False)
class Graph:
    """One graph.

    Attributes:
        edge_index: ``[2, E]`` int64 tensor of directed edges (source, target).
        num_nodes: N; nodes are ``0..N-1`` (isolated nodes are allowed).
        x: ``[N, F]`` float tensor of node features.
        y: the graph's label (an ``int``) or ``None``.
    """

    edge_index: torch.Tensor
    num_nodes: int
    x: torch.Tensor
    y: int | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edge_index, self.x = as_edge_index_and_features(self.edge_index, self.x)
        self.num_nodes = int(self.num_nodes)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem if the graph is inconsistent."""
        n = self.num_nodes
        if n < 0:
            raise ValueError(f"num_nodes must be >= 0, got {n}")
        if self.x.dim() != 2:
            raise ValueError(f"x must be 2-D [num_nodes, num_features], got shape {tuple(self.x.shape)}")
        if self.x.shape[0] != n:
            raise ValueError(
                f"x has {self.x.shape[0]} rows but the graph has num_nodes={n}: "
                "features and nodes do not match"
            )
        if not bool(torch.isfinite(self.x).all()):
            bad = torch.nonzero(~torch.isfinite(self.x))[0].tolist()
            raise ValueError(
                f"x holds a non-finite value ({self.x[bad[0], bad[1]].item()}) at node {bad[0]}, "
                f"feature {bad[1]}"
            )
        if self.edge_index.numel() and (
            int(self.edge_index.min()) < 0 or int(self.edge_index.max()) >= n
        ):
            bad = self.edge_index[(self.edge_index < 0) | (self.edge_index >= n)][0]
            raise ValueError(f"edge_index holds node {int(bad)}, outside 0..{n - 1} (num_nodes={n})")

    @property
    def num_edges(self) -> int:
        """Number of directed edges E (twice the undirected count)."""
        return int(self.edge_index.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    def adjacency(self, self_loops: bool = True, dtype=torch.float64):
        """Dense 0/1 symmetric adjacency ``[N, N]``, plus ``I`` when ``self_loops``.

        Edges are symmetrised and deduplicated, as networkx does for the GIN
        and GNTK reference code, so ``A = 1[(u,v) or (v,u) in E] + I``.
        Cost: O(N^2) memory.
        """
        n = self.num_nodes
        a = torch.zeros(n, n, dtype=dtype)
        if self.num_edges:
            src, dst = self.edge_index
            a[src, dst] = 1.0
            a[dst, src] = 1.0
        if self_loops:
            a += torch.eye(n, dtype=dtype)
        return a

    def degrees(self) -> torch.Tensor:
        """Undirected degree of each node (self-loops not counted), ``[N]`` int64."""
        a = self.adjacency(self_loops=False)
        a.fill_diagonal_(0)
        return a.sum(1).long()

    def __repr__(self) -> str:
        return (
            f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
            f"num_features={self.num_features}, y={self.y})"
        )


class GraphDataset(Sequence):
    """A labelled set of graphs with cross-validation folds.

    Attributes:
        graphs: list of :class:`Graph`.
        y: ``[n]`` int64 NumPy array of labels in ``0..C-1``.
        folds: list of ``(train_idx, test_idx)`` NumPy int arrays.
        name: the dataset's name.
        label_names: the original label of each class index.
    """

    def __init__(self, graphs, y=None, folds=None, name: str = "dataset", label_names=None):
        self.graphs = list(graphs)
        if y is None:
            if any(g.y is None for g in self.graphs):
                raise ValueError(f"{name}: labels not given and some graphs have y=None")
            y = [g.y for g in self.graphs]
        y = np.asarray(y)
        if y.shape != (len(self.graphs),):
            raise ValueError(
                f"{name}: {len(y)} labels for {len(self.graphs)} graphs: labels do not match the graphs"
            )
        originals, y = np.unique(y, return_inverse=True)
        self.y = y.astype(np.int64)
        self.label_names = list(label_names) if label_names is not None else originals.tolist()
        for g, label in zip(self.graphs, self.y):
            g.y = int(label)
        self.name = name
        self.folds = folds if folds is not None else stratified_folds(self.y)
        for k, (tr, te) in enumerate(self.folds):
            for part in (tr, te):
                if len(part) and (part.min() < 0 or part.max() >= len(self.graphs)):
                    raise ValueError(f"{name}: fold {k + 1} indexes a graph outside 0..{len(self) - 1}")

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            return self.graphs[int(i)]
        idx = np.arange(len(self))[i]
        return GraphDataset(
            [self.graphs[k] for k in idx], self.y[idx], folds=None, name=f"{self.name}[subset]"
        )

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1 if len(self.y) else 0

    @property
    def num_features(self) -> int:
        return self.graphs[0].num_features if self.graphs else 0

    def stats(self) -> dict:
        """Counts as in the papers' dataset tables."""
        nodes = np.array([g.num_nodes for g in self.graphs])
        edges = np.array([g.num_edges / 2 for g in self.graphs])
        return {
            "name": self.name,
            "graphs": len(self),
            "classes": self.num_classes,
            "features": self.num_features,
            "avg_nodes": float(nodes.mean()) if len(nodes) else 0.0,
            "max_nodes": int(nodes.max()) if len(nodes) else 0,
            "avg_edges": float(edges.mean()) if len(edges) else 0.0,
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"GraphDataset({self.name}: {s['graphs']} graphs, {s['classes']} classes, "
            f"{s['features']} features, avg {s['avg_nodes']:.1f} nodes)"
        )


def stratified_folds(y, n_splits: int = 10, seed: int = 0):
    """Stratified ``n_splits``-fold split with a fixed seed (scikit-learn's).

    For toy data that cannot be stratified (every class has a single item), a
    seeded unstratified K-fold instead; no folds for fewer than 2 items.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    if len(y) < 2:
        return []
    _, counts = np.unique(y, return_counts=True)
    if counts.max() < 2:
        kf = KFold(n_splits=min(n_splits, len(y)), shuffle=True, random_state=seed)
        return [(tr.astype(np.int64), te.astype(np.int64)) for tr, te in kf.split(y)]
    k = max(2, min(n_splits, int(counts.min())))
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr.astype(np.int64), te.astype(np.int64)) for tr, te in skf.split(np.zeros(len(y)), y)]


def from_networkx(g, x=None, y=None, node_attr: str | None = None) -> Graph:
    """Build a :class:`Graph` from a networkx graph.

    Nodes are renumbered ``0..N-1`` in the graph's node order.  Features come
    from ``x`` (``[N, F]``), else from the node attribute ``node_attr``, else a
    column of ones.
    """
    nodes = list(g.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    pairs = [(index[u], index[v]) for u, v in g.edges]
    if not g.is_directed():
        pairs = pairs + [(v, u) for u, v in pairs if u != v]
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    if x is None and node_attr is not None:
        x = np.array([np.atleast_1d(g.nodes[v][node_attr]) for v in nodes], dtype=np.float64)
    if x is None:
        x = np.ones((len(nodes), 1))
    return Graph(edge_index, len(nodes), torch.as_tensor(np.asarray(x), dtype=torch.float64), y)


def to_networkx(graph: Graph):
    """The undirected networkx graph of ``graph`` (features as node attribute ``x``)."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    for i in range(graph.num_nodes):
        g.nodes[i]["x"] = graph.x[i].tolist()
    g.add_edges_from(graph.edge_index.t().tolist())
    return g


def from_pyg(data) -> Graph:
    """Build a :class:`Graph` from a PyTorch Geometric ``Data`` object."""
    n = int(data.num_nodes)
    x = data.x if getattr(data, "x", None) is not None else torch.ones(n, 1)
    y = getattr(data, "y", None)
    if y is not None:
        y = int(y.reshape(-1)[0])
    return Graph(data.edge_index, n, x.to(torch.float64), y)


def as_edge_index_and_features(edge_index, x) -> tuple[torch.Tensor, torch.Tensor]:
    """``edge_index`` as int64 ``[2, E]`` and ``x`` as a tensor (integer features become the
    default float dtype): the coercion every graph container applies on construction."""
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    return torch.as_tensor(edge_index, dtype=torch.long).reshape(2, -1), x
