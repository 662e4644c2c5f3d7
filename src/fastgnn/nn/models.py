"""Ready-made node and graph classifiers built from fastgnn's layers.

Node classifiers (``model(x, graph) -> [N, C]`` logits):

* :class:`GCN` — Kipf & Welling (2017): dropout, GCNConv(F, 16), ReLU, dropout, GCNConv(16, C).
* :class:`GAT` — Veličković et al. (2018): dropout 0.6, GATConv(F, 8, heads=8), ELU, dropout 0.6,
  GATConv(64, C, heads=1); attention dropout 0.6 inside both layers.
* :class:`DenseGCN` — :class:`GCN` with :class:`~fastgnn.nn.DenseGCNConv` (dense A', O(N² F)).
* :class:`AttentionNet` — :class:`GAT`'s shape with dense :class:`~fastgnn.nn.SelfAttention`
  over all node pairs (O(N² F)); the graph is not used.

Graph classifiers (``model(x, edge_index, batch, num_graphs) -> [B, C]``) over block-diagonal
batches (:func:`fastgnn.train.collate`):

* :class:`GIN` — Xu et al. (2019): ``num_layers - 1`` layers ``h <- MLP((1 + eps) h + sum of
  neighbours)`` (2-layer MLPs with batch norm), and a jumping-knowledge readout: every layer's
  (and the input's) graph sum/mean goes through its own linear map, and the scores are added.
* :class:`GraphGCN` — the same with GCNConv layers (A' aggregation) in place of the GIN update
  (and no batch norm).

Each model has ``prepare(edge_index, num_nodes)``, which builds the graph operator its layers
take (A' for GCN, the attention graph for GAT ...) once, so training reuses it every epoch, and
``training_defaults``, its paper's training settings (what ``fastgnn train`` and
:mod:`fastgnn.train.experiment` use unless told otherwise).  The registry :data:`NODE_MODELS` /
:data:`GRAPH_MODELS` names them; a new model is one class and one registry entry.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fastgnn.nn.adjacency import DenseAdjacency, aggregate, normalized_adjacency
from fastgnn.nn.dense_gcn_conv import DenseGCNConv
from fastgnn.nn.gat_conv import GATConv, gat_graph
from fastgnn.nn.gcn_conv import GCNConv
from fastgnn.nn.self_attention import SelfAttention

__all__ = ["GCN", "GAT", "DenseGCN", "AttentionNet", "GIN", "GraphGCN", "NODE_MODELS", "GRAPH_MODELS",
           "MODEL_NAMES", "node_model", "graph_model"]


class GCN(nn.Module):
    """Kipf & Welling's two-layer GCN node classifier (hidden 16, dropout 0.5, ReLU).

    Trained as in the paper (``training_defaults``): 200 epochs, lr 0.01, weight decay 5e-4 (on
    the first layer, :meth:`weight_decay_groups`), early-stopping patience 100.
    """

    conv_class = GCNConv
    #: the paper's training settings (Kipf & Welling 2017)
    training_defaults: ClassVar[dict] = dict(epochs=200, lr=0.01, weight_decay=5e-4, patience=100)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 16, dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        self.conv1 = self.conv_class(in_channels, hidden)
        self.conv2 = self.conv_class(hidden, num_classes)

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        """A' = D^-1/2 (A+I) D^-1/2, built once and passed to both layers."""
        return normalized_adjacency(edge_index, num_nodes)

    def forward(self, x: torch.Tensor, graph) -> torch.Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.conv1(x, graph))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, graph)

    def weight_decay_groups(self, weight_decay: float) -> list[dict]:
        """Kipf's optimiser: weight decay on the first layer only."""
        first = list(self.conv1.parameters())
        ids = {id(p) for p in first}
        return [{"params": first, "weight_decay": weight_decay},
                {"params": [p for p in self.parameters() if id(p) not in ids], "weight_decay": 0.0}]


class DenseGCN(GCN):
    """:class:`GCN` with dense A' (:class:`~fastgnn.nn.DenseGCNConv`): O(N²) memory."""

    conv_class = DenseGCNConv

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        return DenseAdjacency(normalized_adjacency(edge_index, num_nodes).to_dense())


class GAT(nn.Module):
    """Veličković et al.'s two-layer GAT (8 heads x 8 hidden, ELU, dropout 0.6; 1 output head).

    Trained as in the paper (``training_defaults``): up to 1000 epochs, lr 0.005, weight decay
    5e-4, early-stopping patience 100.
    """

    #: the paper's training settings (Veličković et al. 2018)
    training_defaults: ClassVar[dict] = dict(epochs=1000, lr=0.005, weight_decay=5e-4, patience=100)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 8, heads: int = 8,
                 out_heads: int = 1, dropout: float = 0.6):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=out_heads, concat=False, dropout=dropout)

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        return gat_graph(edge_index, num_nodes)

    def forward(self, x: torch.Tensor, graph) -> torch.Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, graph))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, graph)


class AttentionNet(GAT):
    """:class:`GAT`'s shape with dense multi-head self-attention over every node pair (trained
    with GAT's optimiser settings for 200 epochs)."""

    training_defaults: ClassVar[dict] = dict(epochs=200, lr=0.005, weight_decay=5e-4, patience=100)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 8, heads: int = 8,
                 out_heads: int = 1, dropout: float = 0.6):
        nn.Module.__init__(self)
        self.dropout = dropout
        self.conv1 = SelfAttention(in_channels, hidden, heads=heads)
        self.conv2 = SelfAttention(hidden * heads, num_classes, heads=out_heads, concat=False)

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        return None  # dense attention over all pairs: the graph is not used


# --------------------------------------------------------------------------- graph classification


def readout(h: torch.Tensor, batch: torch.Tensor, num_graphs: int, mode: str = "sum") -> torch.Tensor:
    """Per-graph sum or mean of node rows ``h [N, F]`` -> ``[num_graphs, F]``."""
    out = h.new_zeros(num_graphs, h.shape[1]).index_add_(0, batch, h)
    if mode == "mean":
        count = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(h.dtype)
        out = out / count[:, None]
    return out


class _MLP(nn.Sequential):
    def __init__(self, in_channels: int, hidden: int, num_layers: int = 2):
        layers: list[nn.Module] = []
        for k in range(num_layers):
            layers.append(nn.Linear(in_channels if k == 0 else hidden, hidden))
            if k < num_layers - 1:
                layers += [nn.BatchNorm1d(hidden), nn.ReLU()]
        super().__init__(*layers)


class GIN(nn.Module):
    """GIN-0 graph classifier with a jumping-knowledge readout (Xu et al. 2019).

    Args:
        in_channels, num_classes: F and C.
        hidden: width of every layer (64).
        num_layers: counts the input layer, as the GIN code: ``num_layers - 1`` GIN layers (5).
        mlp_layers: layers of each update MLP (2).
        readout: ``"sum"`` (bioinformatics) or ``"mean"`` (social) graph pooling.
        dropout: on each layer's score (0.5).
        train_eps: learn eps (GIN-eps) instead of eps = 0 (GIN-0).
        batch_norm: batch norm after each layer (GIN's; off by default in :class:`GraphGCN`).

    Trained as in the paper (``training_defaults``): Adam, lr 0.01 halved every 50 epochs,
    batches of 32 graphs; 100 epochs (350 in the paper).
    """

    default_batch_norm = True
    #: the paper's training settings (Xu et al. 2019), shared by :class:`GraphGCN`
    training_defaults: ClassVar[dict] = dict(epochs=100, lr=0.01, weight_decay=0.0, batch_size=32)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64, num_layers: int = 5,
                 mlp_layers: int = 2, readout: str = "sum", dropout: float = 0.5, train_eps: bool = False,
                 batch_norm: bool | None = None):
        super().__init__()
        if readout not in ("sum", "mean"):
            raise ValueError(f"readout must be 'sum' or 'mean', got {readout!r}")
        if num_layers < 2:
            raise ValueError(f"num_layers must be >= 2 (it counts the input layer), got {num_layers}")
        self.readout_mode, self.dropout = readout, dropout
        self.eps = nn.Parameter(torch.zeros(num_layers - 1)) if train_eps else None
        self.layers = nn.ModuleList(self._layer(in_channels if k == 0 else hidden, hidden, mlp_layers)
                                    for k in range(num_layers - 1))
        batch_norm = self.default_batch_norm if batch_norm is None else batch_norm
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) if batch_norm else nn.Identity()
                                   for _ in range(num_layers - 1))
        self.heads = nn.ModuleList(nn.Linear(in_channels if k == 0 else hidden, num_classes)
                                   for k in range(num_layers))

    def _layer(self, in_channels: int, hidden: int, mlp_layers: int) -> nn.Module:
        return _MLP(in_channels, hidden, mlp_layers)

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        """A + I as a sparse operator: ``aggregate(h, A + I)`` is GIN-0's ``h + sum of neighbours``."""
        return normalized_adjacency(edge_index, num_nodes, add_self_loops=True, normalize=False)

    def _update(self, k: int, h: torch.Tensor, graph) -> torch.Tensor:
        z = aggregate(h, graph.to(h.dtype, h.device))
        if self.eps is not None:
            z = z + self.eps[k] * h
        return self.layers[k](z)

    def forward(self, x: torch.Tensor, graph, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
        hs = [x]
        h = x
        for k in range(len(self.layers)):
            h = F.relu(self.norms[k](self._update(k, h, graph)))
            hs.append(h)
        score = 0
        for h, head in zip(hs, self.heads):
            score = score + F.dropout(head(readout(h, batch, num_graphs, self.readout_mode)),
                                      self.dropout, self.training)
        return score


class GraphGCN(GIN):
    """:class:`GIN`'s architecture and readout with GCNConv layers (A' = D^-1/2 (A+I) D^-1/2).

    Without batch norm by default: with it, the test accuracy on MUTAG swung between 28 % and
    89 % from one epoch to the next (10-fold mean after 100 epochs 67 %, against 81 % without).
    """

    default_batch_norm = False

    def _layer(self, in_channels: int, hidden: int, mlp_layers: int) -> nn.Module:
        return GCNConv(in_channels, hidden)

    def prepare(self, edge_index: torch.Tensor, num_nodes: int):
        return normalized_adjacency(edge_index, num_nodes)

    def _update(self, k: int, h: torch.Tensor, graph) -> torch.Tensor:
        return self.layers[k](h, graph)


#: the registry of node classifiers: name -> class (its ``training_defaults`` with it)
NODE_MODELS = {"gcn": GCN, "dense-gcn": DenseGCN, "gat": GAT, "attention": AttentionNet}
#: the registry of graph classifiers: name -> class
GRAPH_MODELS = {"gin": GIN, "gcn": GraphGCN}
#: every model name, node classifiers first (``gcn`` names one of each)
MODEL_NAMES = list(dict.fromkeys([*NODE_MODELS, *GRAPH_MODELS]))


def node_model(name: str, in_channels: int, num_classes: int, **kwargs) -> nn.Module:
    """A node classifier by name (``gcn``, ``dense-gcn``, ``gat``, ``attention``)."""
    key = str(name).strip().lower()
    if key not in NODE_MODELS:
        raise ValueError(f"unknown node model {name!r}; known: {', '.join(NODE_MODELS)}")
    return NODE_MODELS[key](in_channels, num_classes, **kwargs)


def graph_model(name: str, in_channels: int, num_classes: int, **kwargs) -> nn.Module:
    """A graph classifier by name (``gin``, ``gcn``)."""
    key = str(name).strip().lower()
    if key not in GRAPH_MODELS:
        raise ValueError(f"unknown graph model {name!r}; known: {', '.join(GRAPH_MODELS)}")
    return GRAPH_MODELS[key](in_channels, num_classes, **kwargs)
