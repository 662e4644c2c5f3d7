"""Graphs and graph datasets.

A :class:`Graph` follows PyTorch Geometric's conventions: ``edge_index`` is a
``[2, E]`` int64 tensor of directed pairs ``(source, target)`` (an undirected
edge appears once in each direction), ``x`` is the ``[N, F]`` node-feature
matrix and ``y`` the graph's label.  A :class:`GraphDataset` holds graphs,
integer labels ``y`` in ``0..C-1``, the 10 cross-validation ``folds`` and a
name.

Converters build Graphs from networkx, PyG, SciPy and NumPy; :func:`as_graph_list` turns whatever a
user passes as "graphs" (a list of any of these, a PyG ``Batch``, a :class:`GraphDataset`) into a
checked list of Graphs, as the GNTK estimator reads its input, and :func:`check_categories` refuses
graphs one-hot encoded over different categories.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Graph", "GraphDataset", "from_networkx", "to_networkx", "from_pyg", "from_numpy", "from_scipy",
           "as_graph_list", "is_single_graph", "check_categories", "check_feature_dims", "all_finite",
           "ConversionError"]


class ConversionError(ValueError):
    """A graph that cannot be converted as it is; ``remedy`` is what to do when the graph came inside a
    list given to the GNTK (:func:`as_graph_list` appends it), or None when the message says it all."""

    def __init__(self, message: str, remedy: str | None = None):
        super().__init__(message)
        self.remedy = remedy


@dataclass(eq=False)
class Graph:
    """One graph.

    Attributes:
        edge_index: ``[2, E]`` int64 tensor of edges (source, target).  An ``[E, 2]`` list is
            refused (transpose it); by default each edge is read both ways (``directed=False``).
        num_nodes: N; nodes are ``0..N-1`` (isolated nodes are allowed).
        x: ``[N, F]`` float tensor of node features.
        y: the graph's label: an ``int``, or a ``float`` when it is not a whole number (a
            one-element tensor or array is read as its value, never truncated), or ``None``.
        meta: free-form information (the converters record the one-hot ``categories`` here).
        edge_weight: ``[E]`` float tensor of edge weights, or ``None`` (unweighted).  The GNN
            layers can take it; the GNTK (defined on unweighted graphs) refuses a graph whose
            weights are not all 1.
        directed: whether ``edge_index`` is a directed graph.  ``False`` (default) reads every
            edge both ways, as the GNTK papers' code does; the converters set ``True`` for a
            directed source (a networkx ``DiGraph``, an asymmetric adjacency or PyG
            ``edge_index``), which the GNTK refuses rather than symmetrise silently.
    """

    edge_index: torch.Tensor
    num_nodes: int
    x: torch.Tensor
    y: int | float | None = None
    meta: dict = field(default_factory=dict)
    edge_weight: torch.Tensor | None = None
    directed: bool = False

    def __post_init__(self) -> None:
        self.edge_index, self.x = as_edge_index_and_features(self.edge_index, self.x)
        self.num_nodes = int(self.num_nodes)
        self.y = as_label(self.y)
        self.directed = bool(self.directed)
        if self.edge_weight is not None:
            self.edge_weight = torch.as_tensor(self.edge_weight)
            if not torch.is_floating_point(self.edge_weight):
                self.edge_weight = self.edge_weight.to(torch.get_default_dtype())
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
        if not all_finite(self.x):
            bad = torch.nonzero(~torch.isfinite(self.x))[0].tolist()
            raise ValueError(
                f"x holds a non-finite value (NaN or inf): {self.x[bad[0], bad[1]].item()} at node {bad[0]}, "
                f"feature {bad[1]}"
            )
        if self.edge_index.numel() and not _within(self.edge_index, n):
            bad = self.edge_index[(self.edge_index < 0) | (self.edge_index >= n)][0]
            raise ValueError(f"edge_index holds node {int(bad)}, outside 0..{n - 1} (num_nodes={n})")
        w = getattr(self, "edge_weight", None)  # NodeData shares these checks and has no weights
        if w is not None:
            if w.dim() == 2 and w.shape[1] == 1:
                self.edge_weight = w = w.reshape(-1)
            if w.shape != (self.num_edges,):
                raise ValueError(f"edge_weight must have shape [E] = [{self.num_edges}] (one weight per "
                                 f"edge_index column), got {tuple(w.shape)}")
            if not all_finite(w):
                raise ValueError("edge_weight holds a non-finite value")

    @property
    def weighted(self) -> bool:
        """Whether the graph has edge weights other than 1."""
        return self.edge_weight is not None and bool((self.edge_weight != 1).any())

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
        extra = (", weighted" if self.weighted else "") + (", directed" if self.directed else "")
        return (
            f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
            f"num_features={self.num_features}, y={self.y}{extra})"
        )


class GraphDataset(Sequence):
    """A labelled set of graphs with cross-validation folds.

    The labels are mapped to class indices ``0..C-1`` (sorted distinct labels: written 0 and 2, they
    become 0 and 1), and each graph's ``y`` is its class index, so that code reading ``graph.y`` (the
    GNN training) sees the dataset's classes.  The dataset never changes a :class:`Graph` it is given:
    a graph whose ``y`` is not already its class index is replaced in :attr:`graphs` by a shallow copy
    carrying it (the tensors are shared, not copied).  A subset (``data[idx]``) is a new dataset over
    the same graphs, so it leaves its parent's graphs and labels as they were.

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
        self.graphs = [_labelled(g, int(label)) for g, label in zip(self.graphs, self.y)]
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
        present, y = np.unique(self.y[idx], return_inverse=True)  # the subset's classes, numbered anew
        return GraphDataset([self.graphs[k] for k in idx], y.reshape(-1), folds=None, name=f"{self.name}[subset]",
                            label_names=[self.label_names[c] for c in present])

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


def _labelled(g: Graph, label: int) -> Graph:
    """``g`` if its ``y`` is ``label``, else a shallow copy of it with ``y = label`` (``g`` untouched)."""
    if isinstance(g.y, int) and not isinstance(g.y, bool) and g.y == label:
        return g
    g = copy.copy(g)
    g.y = label
    return g


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
    if k < n_splits:  # never fewer folds without a word (a class of 4 graphs: 4 folds)
        import warnings

        warnings.warn(f"stratified_folds: the smallest class has {int(counts.min())} items, so the split has {k} "
                      f"folds, not {n_splits}; every accuracy over it is a {k}-fold one", UserWarning, stacklevel=2)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr.astype(np.int64), te.astype(np.int64)) for tr, te in skf.split(np.zeros(len(y)), y)]


def from_networkx(
    g,
    x=None,
    y=None,
    node_attr=None,
    *,
    categories: dict | None = None,
    edge_weight: str | None = "weight",
    drop_attrs: bool = False,
):
    """Build a :class:`Graph` from a networkx graph (or a list of Graphs from a list of them).

    Nodes are renumbered ``0..N-1`` in the graph's node order.  Nothing the graph carries is
    dropped without a word:

    * **Node features** come from ``x`` (``[N, F]``), else from the node attribute(s)
      ``node_attr`` (a key or a list of keys), else a column of ones.  Categorical values
      (strings, integers, booleans) are one-hot encoded, as GraKeL's ``node_labels``; floats and
      sequences of floats are used as they are.  The one-hot columns follow ``categories``
      (``{key: [values...]}``), else the sorted values found; they are recorded in
      ``graph.meta["categories"]``, and the GNTK refuses graphs encoded over different
      categories.  Convert a data set's graphs together (pass the list), or pass the training
      graphs' ``categories`` when converting new ones.  Nodes that carry attributes while
      ``node_attr`` and ``x`` are not given raise ``ValueError`` (pass ``node_attr=False`` or
      ``drop_attrs=True`` to ignore them).
    * **Edge weights**: the edge attribute ``edge_weight`` (default ``"weight"``; missing = 1)
      becomes ``Graph.edge_weight`` unless every weight is 1.  Other edge attributes raise
      ``ValueError`` unless ``drop_attrs=True``.
    * **Direction**: a ``DiGraph`` gives ``directed=True`` (one ``edge_index`` column per arc);
      an undirected graph gives both directions of each edge.  Multigraphs are refused.

    Args:
        g: a networkx graph, or an iterable of them (then ``y`` is a list of labels or None,
            ``x`` must be None, and the categories are those of all the graphs together).
        x, y: node features ``[N, F]`` and the graph's label.
        node_attr: the node attribute key(s) to use as features; ``False`` ignores them.

    Cost: O(N + E) Python operations.
    """
    if not hasattr(g, "nodes"):
        graphs = list(g)
        if x is not None:
            raise ValueError("from_networkx: x= is one graph's features; pass a single graph with it")
        ys = [None] * len(graphs) if y is None else list(y)
        if len(ys) != len(graphs):
            raise ValueError(f"from_networkx: {len(ys)} labels for {len(graphs)} graphs")
        keys = _attr_keys(node_attr)
        if categories is None and keys:  # one vocabulary for all the graphs: the same columns everywhere
            values = {k: [d[k] for h in graphs for _, d in h.nodes(data=True) if k in d] for k in keys}
            categories = {k: _sorted_values(v) for k, v in values.items() if _categorical(v)}
        return [from_networkx(h, None, yy, node_attr, categories=categories, edge_weight=edge_weight,
                              drop_attrs=drop_attrs) for h, yy in zip(graphs, ys)]
    if g.is_multigraph():
        raise ValueError("from_networkx: a multigraph's parallel edges have no meaning here; collapse them "
                         "first (networkx.Graph(g)), with their count as a 'weight' if it matters")
    nodes = list(g.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    directed = g.is_directed()
    pairs, weights = [], []
    extra_edge_attrs = set()
    for u, v, d in g.edges(data=True):
        extra_edge_attrs.update(k for k in d if k != edge_weight)
        w = float(d.get(edge_weight, 1.0)) if edge_weight is not None else 1.0
        pairs.append((index[u], index[v]))
        weights.append(w)
        if not directed and u != v:
            pairs.append((index[v], index[u]))
            weights.append(w)
    if extra_edge_attrs and not drop_attrs:
        raise ConversionError(
            f"from_networkx: the edges carry attribute(s) {sorted(map(str, extra_edge_attrs))}, which a Graph "
            f"cannot hold (it keeps only the edge weight {edge_weight!r}); pass drop_attrs=True to drop them",
            remedy="convert the list with fastgnn.from_networkx(graphs, drop_attrs=True) first to drop them")
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    w = torch.tensor(weights, dtype=torch.float64)
    edge_w = w if bool((w != 1).any()) else None
    meta = {}
    if x is None:
        x, cats = _node_features(g, nodes, node_attr, categories, drop_attrs)
        if cats:
            meta["categories"] = cats
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    return Graph(edge_index, len(nodes), x, y, meta=meta, edge_weight=edge_w, directed=directed)


def _attr_keys(node_attr) -> list:
    if node_attr is None or node_attr is False:
        return []
    return [node_attr] if isinstance(node_attr, str) else list(node_attr)


def _categorical(values) -> bool:
    """Whether node-attribute values are categories (str, int, bool) rather than numbers to use as such."""
    kinds = {isinstance(v, (str, bool, np.bool_, int, np.integer)) for v in values}
    if len(kinds) > 1:
        raise ValueError("from_networkx: a node attribute mixes categorical values (str, int, bool) with "
                         "numbers or sequences; make them all one kind")
    return kinds == {True}


def _sorted_values(values) -> tuple:
    """Distinct values, sorted by (type name, value) so that mixed types sort too."""
    distinct = {(type(v).__name__, v.item() if isinstance(v, np.generic) else v) for v in values}
    return tuple(v for _, v in sorted(distinct, key=lambda t: (t[0], str(t[1]) if t[0] == "str" else t[1])))


def _node_features(g, nodes, node_attr, categories, drop_attrs) -> tuple[np.ndarray, dict]:
    present = sorted({str(k) for _, d in g.nodes(data=True) for k in d})
    keys = _attr_keys(node_attr)
    if not keys:
        if present and node_attr is not False and not drop_attrs:
            raise ConversionError(
                f"from_networkx: the nodes carry attribute(s) {present}, which would be dropped: pass "
                f"node_attr={present[0]!r} (categorical values become one-hot columns, numbers are used as "
                "they are), or x=..., or node_attr=False to ignore them",
                remedy=f"convert the list with fastgnn.from_networkx(graphs, node_attr={present[0]!r}) first, so "
                       "every graph gets the same columns (or node_attr=False to ignore them)")
        return np.ones((len(nodes), 1)), {}
    unused = sorted(set(present) - {str(k) for k in keys})
    if unused and not drop_attrs:
        raise ValueError(f"from_networkx: node attribute(s) {unused} would be dropped (node_attr={keys!r}); "
                         "add them to node_attr or pass drop_attrs=True")
    blocks, cats = [], {}
    for key in keys:
        values = []
        for v in nodes:
            if key not in g.nodes[v]:
                raise ValueError(f"from_networkx: node {v!r} has no attribute {key!r}")
            values.append(g.nodes[v][key])
        if _categorical(values):
            known = tuple((categories or {}).get(key) or _sorted_values(values))
            col = {c: i for i, c in enumerate(known)}
            block = np.zeros((len(nodes), len(known)))
            for i, val in enumerate(values):
                val = val.item() if isinstance(val, np.generic) else val
                if val not in col:
                    raise ValueError(f"from_networkx: node {nodes[i]!r} has {key}={val!r}, not among the "
                                     f"categories {list(known)}")
                block[i, col[val]] = 1.0
            cats[key] = known
        else:
            try:
                rows = [np.atleast_1d(np.asarray(val, dtype=np.float64)) for val in values]
                block = np.stack(rows)
            except (TypeError, ValueError) as e:
                raise ValueError(f"from_networkx: node attribute {key!r} is neither categorical nor a number or "
                                 f"a fixed-length sequence of numbers ({e})") from None
            if block.ndim != 2:
                raise ValueError(f"from_networkx: node attribute {key!r} must be a number or a flat sequence")
        blocks.append(block)
    return np.concatenate(blocks, axis=1), cats


def to_networkx(graph: Graph):
    """The networkx graph of ``graph``: a ``Graph`` (``DiGraph`` when ``graph.directed``), features as
    node attribute ``x``, edge weights (when weighted) as edge attribute ``weight``."""
    import networkx as nx

    g = nx.DiGraph() if graph.directed else nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    for i in range(graph.num_nodes):
        g.nodes[i]["x"] = graph.x[i].tolist()
    if graph.weighted:
        g.add_weighted_edges_from(
            (u, v, w) for (u, v), w in zip(graph.edge_index.t().tolist(), graph.edge_weight.tolist()))
    else:
        g.add_edges_from(graph.edge_index.t().tolist())
    return g


def from_pyg(data, *, ignore_edge_attr: bool = False):
    """Build a :class:`Graph` from a PyTorch Geometric ``Data`` object; a ``Batch`` (or a list of
    ``Data``) gives a list of Graphs, each with its own label.

    ``y`` must be one value per graph (a float label stays a float: 0.7 is not read as 0; node
    labels, one per node, raise ``ValueError``).  ``edge_weight`` is kept; ``edge_attr`` (edge
    features, which a Graph cannot hold) raises ``ValueError`` unless ``ignore_edge_attr=True``.
    An ``edge_index`` that is not symmetric (with its weights) gives ``directed=True``.
    """
    if hasattr(data, "to_data_list") and hasattr(data, "num_graphs"):  # a Batch
        return [from_pyg(d, ignore_edge_attr=ignore_edge_attr) for d in data.to_data_list()]
    if isinstance(data, (list, tuple)):
        return [from_pyg(d, ignore_edge_attr=ignore_edge_attr) for d in data]
    n = int(data.num_nodes)
    x = data.x if getattr(data, "x", None) is not None else torch.ones(n, 1)
    if getattr(data, "edge_attr", None) is not None and not ignore_edge_attr:
        raise ConversionError(
            f"from_pyg: data.edge_attr {list(data.edge_attr.shape)} would be dropped: a Graph holds edge weights "
            "only (set data.edge_weight for those), or pass ignore_edge_attr=True",
            remedy="convert the data with fastgnn.from_pyg(data, ignore_edge_attr=True) first if dropping them "
                   "is meant")
    try:
        y = as_label(getattr(data, "y", None))
    except ValueError as e:
        raise ValueError(f"from_pyg: {e} (node-level labels belong to node classification, not to a Graph)") from None
    edge_index = torch.as_tensor(data.edge_index)
    weight = getattr(data, "edge_weight", None)
    directed = not _symmetric(edge_index, n, weight)
    return Graph(edge_index, n, x.to(torch.float64), y, edge_weight=weight, directed=directed)


def from_scipy(adj, x=None, y=None) -> Graph:
    """Build a :class:`Graph` from a SciPy sparse adjacency matrix ``[N, N]``.

    Every stored nonzero ``adj[u, v]`` is an edge ``u -> v`` (diagonal entries are self-loops);
    values other than 1 become ``edge_weight``; an asymmetric matrix gives ``directed=True``.
    ``x`` defaults to a column of ones.  Cost O(N + nnz log nnz).
    """
    import scipy.sparse as sp

    a = sp.coo_matrix(adj)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be square [N, N], got shape {a.shape}")
    a = a.tocsr()
    a.sum_duplicates()
    a.eliminate_zeros()
    if not np.isfinite(a.data).all():
        raise ValueError("adjacency holds a non-finite value")
    directed = (abs(a - a.T) > 0).nnz > 0
    a = a.tocoo()
    edge_index = torch.from_numpy(np.stack([a.row, a.col]).astype(np.int64))
    vals = torch.from_numpy(a.data.astype(np.float64))
    weight = vals if bool((vals != 1).any()) else None
    n = a.shape[0]
    x = torch.ones(n, 1, dtype=torch.float64) if x is None else torch.as_tensor(np.asarray(x), dtype=torch.float64)
    return Graph(edge_index, n, x, y, edge_weight=weight, directed=bool(directed))


def from_numpy(adj, x=None, y=None) -> Graph:
    """Build a :class:`Graph` from a dense NumPy adjacency matrix ``[N, N]`` (as :func:`from_scipy`:
    nonzeros are edges, values other than 1 weights, an asymmetric matrix a directed graph)."""
    a = np.asarray(adj)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be a square [N, N] matrix, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
        raise ValueError(f"adjacency must be numeric, got dtype {a.dtype}")
    return from_scipy(a.astype(np.float64), x, y)


def as_graph_list(X, what: str) -> list[Graph]:
    """``X`` as a list of :class:`Graph`, each checked to be one the GNTK is defined on.

    ``X``: a list of :class:`Graph`, networkx graphs or PyG ``Data`` objects (converted by
    :func:`from_networkx` / :func:`from_pyg`), a PyG ``Batch``, or anything with a ``graphs``
    attribute (a :class:`GraphDataset`).  Refused, with a message saying what to do: one graph, an
    array, a node-classification dataset (:class:`fastgnn.datasets.NodeData`), no graphs, a graph with
    0 nodes, a directed graph, edge weights other than 1.  ``what`` (``"fit"``, ``"transform"``)
    starts each message.  O(total edges) besides the conversions.
    """
    if _is_node_data(X):
        raise ValueError(f"{what}: {X.name} is a node-classification dataset (one graph whose nodes are "
                         "labelled); the GNTK compares whole graphs: give a graph dataset (MUTAG, PROTEINS, ...) "
                         "or a list of graphs")
    if isinstance(X, (np.ndarray, torch.Tensor)) or is_single_graph(X):
        kind = "one graph" if is_single_graph(X) else f"a {type(X).__name__} of shape {tuple(X.shape)}"
        raise TypeError(f"{what}: X is {kind}, but the GNTK takes a list of graphs (fastgnn.Graph, networkx "
                        "or PyG Data); an adjacency matrix converts with fastgnn.from_numpy or from_scipy")
    if hasattr(X, "graphs"):
        X = X.graphs
    elif hasattr(X, "to_data_list") and hasattr(X, "num_graphs"):  # a PyG Batch
        X = from_pyg(X)
    graphs = list(X)
    if not graphs:
        raise ValueError(f"{what}: no graphs given")
    out = []
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            if hasattr(g, "nodes") and hasattr(g, "is_directed"):  # networkx
                try:
                    g = from_networkx(g)
                except ValueError as e:
                    raise ValueError(_with_remedy(f"{what}: graph {i}: {e}", e)) from None
            elif hasattr(g, "edge_index") and hasattr(g, "num_nodes"):  # PyG Data
                try:
                    g = from_pyg(g)
                except ValueError as e:
                    raise ValueError(_with_remedy(f"{what}: graph {i}: {e}", e)) from None
            else:
                raise TypeError(f"{what}: item {i} is a {type(g).__name__}, expected fastgnn.Graph, a networkx "
                                "graph or a PyG Data")
        if g.num_nodes == 0:
            raise ValueError(f"{what}: graph {i} has 0 nodes; the GNTK of an empty graph is undefined")
        if g.directed:
            raise ValueError(f"{what}: graph {i} is directed; the GNTK (Du et al. 2019) is defined on undirected "
                             "graphs: symmetrise it yourself (networkx: g.to_undirected(); PyG: "
                             "torch_geometric.utils.to_undirected), or build the Graph with directed=False to read "
                             "each edge both ways")
        if g.weighted:
            raise ValueError(f"{what}: graph {i} has edge weights other than 1; the GNTK (Du et al. 2019) is "
                             "defined on unweighted graphs: drop them (graph.edge_weight = None) if the structure "
                             "alone is meant (the GNN layers take edge_weight)")
        out.append(g)
    return out


def is_single_graph(X) -> bool:
    """Whether ``X`` is one graph (a Graph, a networkx graph, a PyG ``Data`` but not a ``Batch``);
    a PyG dataset also answers to ``edge_index``, but iterates over its graphs."""
    if isinstance(X, Graph) or (hasattr(X, "nodes") and hasattr(X, "is_directed")):
        return True
    try:
        from torch_geometric.data import Data
    except ImportError:
        return hasattr(X, "edge_index") and hasattr(X, "num_nodes") and not hasattr(X, "__len__")
    return isinstance(X, Data) and not hasattr(X, "to_data_list")


def check_feature_dims(graphs: list[Graph], fitted_dim: int | None, what: str) -> None:
    """Refuse graphs whose feature dimensions differ (from each other, or from the fitted graphs'
    ``fitted_dim`` at ``transform``), naming the first graph that differs and ``what`` (``"fit"``,
    ``"transform"``)."""
    reference = graphs[0].num_features if fitted_dim is None else int(fitted_dim)
    against = "graph 0 has" if fitted_dim is None else "the fitted graphs have"
    also = "" if fitted_dim is None else ", and transform graphs encoded as the fitted ones"
    for i, g in enumerate(graphs):
        if g.num_features != reference:
            raise ValueError(
                f"{what}: graph {i} has {g.num_features} node features, {against} {reference}: every graph needs "
                "the same feature columns. Build the features of all graphs together (fastgnn.datasets.load gives a "
                "whole dataset one-hot columns over its tags or degrees; from_networkx(graphs, node_attr=...) over "
                f"the list's categories){also}")


def check_categories(graphs: list[Graph], fitted: list[Graph] | None, what: str) -> None:
    """Refuse graphs one-hot encoded over different categories (their feature columns would mean
    different things, and the kernel would compare unrelated values without a word)."""
    reference = (fitted or graphs)[0].meta.get("categories")
    for i, g in enumerate(graphs):
        cats = g.meta.get("categories")
        if cats != reference:
            against = "the fitted graphs'" if fitted else "graph 0's"
            raise ValueError(
                f"{what}: graph {i} was one-hot encoded over the categories {cats}, {against} over {reference}: "
                "the same feature column would mean different things. Convert the graphs together "
                "(fastgnn.from_networkx(graphs, node_attr=...)) or pass categories=<the fitted graphs' "
                "graph.meta['categories']> when converting new ones")


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of the float tensor ``t`` is finite; by NumPy on the CPU: torch's small
    reductions on a busy 2-core machine ran 60x slower than NumPy (5 ms per COLLAB graph, thread start-up)."""
    if t.device.type == "cpu" and t.dtype in (torch.float64, torch.float32):
        return bool(np.isfinite(t.detach().numpy()).all())
    return bool(torch.isfinite(t).all())


def _within(edge_index: torch.Tensor, n: int) -> bool:
    """Whether every entry of the non-empty ``edge_index`` lies in ``0..n-1`` (NumPy on the CPU, see
    :func:`all_finite`)."""
    e = edge_index.detach().numpy() if edge_index.device.type == "cpu" else edge_index
    return int(e.min()) >= 0 and int(e.max()) < n


def _with_remedy(message: str, error: Exception) -> str:
    """``message`` and, where the conversion error has one, its remedy for a list of graphs."""
    remedy = getattr(error, "remedy", None)
    return f"{message}; {remedy}" if remedy else message


def _is_node_data(X) -> bool:
    """Whether ``X`` is a :class:`fastgnn.datasets.NodeData` (one graph with labelled nodes), without
    importing the datasets (which import this module): an instance exists only once its module is loaded."""
    node = sys.modules.get("fastgnn.datasets.node")
    return node is not None and isinstance(X, node.NodeData)


def _symmetric(edge_index: torch.Tensor, n: int, weight=None) -> bool:
    """Whether the (weighted) adjacency of ``edge_index`` equals its transpose."""
    import scipy.sparse as sp

    if edge_index.numel() == 0:
        return True
    ei = edge_index.detach().cpu().numpy()
    w = np.ones(ei.shape[1]) if weight is None else torch.as_tensor(weight).detach().cpu().reshape(-1).double().numpy()
    a = sp.coo_matrix((w, (ei[0], ei[1])), shape=(n, n)).tocsr()
    return (abs(a - a.T) > 0).nnz == 0


def as_label(y):
    """A graph label as a Python value: a one-element tensor or array becomes its value; a float that
    is a whole number becomes an ``int``, any other float stays a float (0.7 is not truncated to 0).
    ``ValueError`` for several values (a label per node or per task) or a non-finite float."""
    if y is None:
        return None
    if isinstance(y, (torch.Tensor, np.ndarray)):
        size = y.numel() if isinstance(y, torch.Tensor) else y.size
        if size != 1:
            raise ValueError(f"y has {size} values, but a graph's label is one value")
        y = y.reshape(-1)[0].item()
    if isinstance(y, np.generic):
        y = y.item()
    if isinstance(y, bool):
        return int(y)
    if isinstance(y, float):
        if not math.isfinite(y):
            raise ValueError(f"y = {y} is not a finite label")
        return int(y) if y.is_integer() else y
    return y


def as_edge_index_and_features(edge_index, x) -> tuple[torch.Tensor, torch.Tensor]:
    """``edge_index`` as int64 ``[2, E]`` and ``x`` as a tensor (integer features become the
    default float dtype): the coercion every graph container applies on construction.

    An ``[E, 2]`` list of pairs (E != 2) is refused with a message saying to transpose it, rather
    than read as another graph; so are other shapes and non-integer indices.
    """
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    ei = torch.as_tensor(edge_index)
    if ei.numel() == 0:
        return ei.to(torch.long).reshape(2, 0), x
    if ei.dim() != 2 or ei.shape[0] != 2:
        shape = list(ei.shape)
        if ei.dim() == 2 and ei.shape[1] == 2:
            raise ValueError(
                f"edge_index has shape {shape}, a list of [source, target] pairs; fastgnn, like PyTorch "
                "Geometric, takes [2, E] (row 0 the sources, row 1 the targets): transpose it "
                "(edge_index.t() or edge_index.T)")
        raise ValueError(f"edge_index must have shape [2, E], got {shape}")
    if torch.is_floating_point(ei) or torch.is_complex(ei):
        if not bool((ei == torch.round(ei.real)).all()):
            raise ValueError("edge_index holds non-integer node indices")
        ei = ei.real
    return ei.to(torch.long), x
