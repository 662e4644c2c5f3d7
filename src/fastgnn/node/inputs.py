"""How the node kernels read one graph: features, the GCN operator Â, labels and the split.

:func:`as_node_graph` accepts what the GNN trainer uses (:class:`~fastgnn.datasets.NodeData`, from
:func:`~fastgnn.datasets.load_planetoid` or :func:`~fastgnn.datasets.sbm`) or a PyTorch Geometric
``Data`` (anything with ``x`` and ``edge_index``; ``edge_weight``, ``y`` and the three masks when
present), and returns a :class:`NodeGraph`.  Its ``adj`` is built by
:func:`fastgnn.nn.adjacency.normalized_adjacency` with ``GCNConv``'s defaults (one self-loop per
node, ``D^-1/2 (A + I) D^-1/2`` with D the weighted in-degree, ``source_to_target`` flow), so a
finite :class:`~fastgnn.nn.GCNConv` stack and the kernels of :mod:`fastgnn.node.kernels` are the
same model.  Directed graphs are taken as they are (Â is then not symmetric; the kernels use
Â M Âᵀ, which stays a covariance); edge weights must be >= 0 (a negative weight can make a degree
of A + I zero or negative, where D^-1/2 is not a real number).

Cost O(E log E) for Â (two sorts) and O(N F) for the checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastgnn.nn.adjacency import NormalizedAdjacency, normalized_adjacency

__all__ = ["NodeGraph", "as_node_graph", "check_split", "adjacency_scipy"]


@dataclass(eq=False)
class NodeGraph:
    """One graph, read and checked for the node kernels.

    Attributes:
        x: ``[N, F]`` float features (the dtype asked for).
        adj: Â, the :class:`~fastgnn.nn.adjacency.NormalizedAdjacency` of ``GCNConv``.
        y: ``[N]`` int64 classes, or None.
        train_mask, val_mask, test_mask: ``[N]`` bool masks, or None.
        num_classes: C (``num_classes`` of the data, else ``y.max() + 1``), or None without labels.
        name: the data's name.
    """

    x: torch.Tensor
    adj: NormalizedAdjacency
    y: torch.Tensor | None
    train_mask: torch.Tensor | None
    val_mask: torch.Tensor | None
    test_mask: torch.Tensor | None
    num_classes: int | None
    name: str

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_edges(self) -> int:
        """Nonzeros of Â (the edges plus one self-loop per node)."""
        return self.adj.nnz


def as_node_graph(data, *, dtype: torch.dtype = torch.float64, what: str = "data") -> NodeGraph:
    """Read ``data`` (see the module docstring) as a :class:`NodeGraph` in ``dtype``.

    Raises:
        ValueError: naming ``what`` and the attribute: no ``x`` or ``edge_index``, ``x`` not
            ``[N, F]`` or not finite, ``edge_index`` out of range, an ``edge_weight`` of the wrong
            size, not finite or negative, an ``edge_attr [E]`` without ``edge_weight`` (ambiguous),
            labels or masks of the wrong size.
    """
    name = str(getattr(data, "name", None) or type(data).__name__)
    where = f"{what} ({name})"
    for attr in ("x", "edge_index"):
        if getattr(data, attr, None) is None:
            raise ValueError(f"{where} has no {attr!r}: the node kernels need node features x [N, F] and an "
                             "edge_index [2, E] (a fastgnn NodeData or a PyG Data)")
    x = torch.as_tensor(data.x).detach().cpu()  # the kernels run on the CPU (NumPy / SciPy), without autograd
    if x.layout != torch.strided:
        x = x.to_dense()
    if x.dim() != 2:
        raise ValueError(f"{where}: x must be [num_nodes, num_features], got shape {tuple(x.shape)}")
    n = int(x.shape[0])
    if n == 0 or x.shape[1] == 0:
        raise ValueError(f"{where}: x has shape {tuple(x.shape)}: the graph needs at least one node and one feature")
    if not torch.is_floating_point(x):
        x = x.to(dtype)
    if not bool(torch.isfinite(x).all()):
        node, feat = torch.nonzero(~torch.isfinite(x))[0].tolist()
        raise ValueError(f"{where}: x holds a non-finite value at node {node}, feature {feat}")
    num_nodes = getattr(data, "num_nodes", None)
    if num_nodes is not None and int(num_nodes) != n:
        raise ValueError(f"{where}: x has {n} rows but the graph has num_nodes={int(num_nodes)}: one row of "
                         "features per node")
    edge_index = torch.as_tensor(data.edge_index).cpu()
    if edge_index.dtype != torch.long:
        if torch.is_floating_point(edge_index):
            raise ValueError(f"{where}: edge_index must hold integer node indices, got {edge_index.dtype}")
        edge_index = edge_index.long()
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{where}: edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= n:
            bad = low if low < 0 else high
            raise ValueError(f"{where}: edge_index holds node {bad}, outside 0..{n - 1} (x has {n} rows)")
    weight = _edge_weight(data, edge_index.shape[1], where)
    adj = normalized_adjacency(edge_index, n, dtype=dtype, edge_weight=None if weight is None else weight.to(dtype))
    y, masks, num_classes = _labels(data, n, where)
    return NodeGraph(x.to(dtype), adj, y, *masks, num_classes, name)


def check_split(graph: NodeGraph, what: str = "data") -> None:
    """``ValueError`` unless ``graph`` has labels, a train and a validation mask, and every class has a
    training node (a class without one could never be predicted: its one-hot target column is 0)."""
    where = f"{what} ({graph.name})"
    if graph.y is None:
        raise ValueError(f"{where} has no labels y: prediction needs y [N] and the train/val/test masks")
    for m in ("train_mask", "val_mask"):
        mask = getattr(graph, m)
        if mask is None:
            raise ValueError(f"{where} has no {m}: the regulariser is chosen on the validation nodes")
        if not bool(mask.any()):
            raise ValueError(f"{where}: {m} selects no node")
    present = torch.bincount(graph.y[graph.train_mask], minlength=graph.num_classes)
    empty = torch.nonzero(present == 0).reshape(-1).tolist()
    if empty:
        raise ValueError(f"{where}: class{'es' if len(empty) > 1 else ''} {', '.join(map(str, empty))} of "
                         f"{graph.num_classes} ha{'ve' if len(empty) > 1 else 's'} no training node: the kernel "
                         "regression cannot predict a class it never saw (change the split or relabel)")


def adjacency_scipy(adj: NormalizedAdjacency):
    """Â as a ``scipy.sparse.csr_array`` (rows = targets) sharing nothing with ``adj``: scipy's
    sparse-dense product is faster than torch's CSR one for the N × N kernels on a CPU."""
    import scipy.sparse as sp

    n = adj.num_nodes
    return sp.csr_array((adj.weight.detach().cpu().numpy(), adj.col.cpu().numpy(), adj.crow.cpu().numpy()),
                        shape=(n, n))


# --- helpers ---------------------------------------------------------------------------------


def _edge_weight(data, num_edges: int, where: str) -> torch.Tensor | None:
    weight = getattr(data, "edge_weight", None)
    if weight is None:
        attr = getattr(data, "edge_attr", None)
        if attr is not None and torch.as_tensor(attr).dim() == 1:
            raise ValueError(f"{where} has a one-dimensional edge_attr [E] and no edge_weight: GCNConv reads edge "
                             "weights from edge_weight; set data.edge_weight = data.edge_attr (or delete edge_attr) "
                             "so that the kernel does not guess")
        return None
    weight = torch.as_tensor(weight).detach().cpu()
    if weight.dim() == 2 and weight.shape[1] == 1:
        weight = weight.reshape(-1)
    if weight.shape != (num_edges,):
        raise ValueError(f"{where}: edge_weight must have shape [E] = [{num_edges}] (one weight per edge_index "
                         f"column), got {tuple(weight.shape)}")
    if not torch.is_floating_point(weight):
        weight = weight.to(torch.float64)
    if not bool(torch.isfinite(weight).all()):
        raise ValueError(f"{where}: edge_weight has a non-finite value at edge "
                         f"{int(torch.nonzero(~torch.isfinite(weight))[0, 0])}")
    if bool((weight < 0).any()):
        e = int(torch.nonzero(weight < 0)[0, 0])
        raise ValueError(f"{where}: edge_weight[{e}] = {float(weight[e])} is negative; the GCN kernels need weights "
                         ">= 0 (D^-1/2 of a degree of A + I that is zero or negative is not a real number)")
    return weight


def _labels(data, n: int, where: str):
    y = getattr(data, "y", None)
    masks = []
    for m in ("train_mask", "val_mask", "test_mask"):
        mask = getattr(data, m, None)
        if mask is not None:
            mask = torch.as_tensor(mask).cpu()
            if mask.dtype != torch.bool:
                raise ValueError(f"{where}: {m} must be a bool tensor [N], got {mask.dtype}")
            mask = mask.reshape(-1)
            if mask.shape[0] != n:
                raise ValueError(f"{where}: {m} has {mask.shape[0]} entries for {n} nodes")
        masks.append(mask)
    if y is None:
        return None, masks, None
    y = torch.as_tensor(y).cpu()
    if torch.is_floating_point(y):
        if not bool((y == torch.round(y)).all()):
            raise ValueError(f"{where}: y must hold class indices (whole numbers), got {y.dtype} values")
        y = y.long()
    y = y.reshape(-1).long()
    if y.shape[0] != n:
        raise ValueError(f"{where}: y has {y.shape[0]} labels for {n} nodes (x has {n} rows)")
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"{where}: y holds the negative class {int(y.min())}; classes are 0..C-1")
    num_classes = getattr(data, "num_classes", None)
    num_classes = int(num_classes) if num_classes is not None else int(y.max()) + 1
    if int(y.max()) >= num_classes:
        raise ValueError(f"{where}: y holds class {int(y.max())} but num_classes={num_classes}")
    return y, masks, num_classes
