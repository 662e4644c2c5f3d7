"""GNN layers of the complexity note, called as PyTorch Geometric's, each with an explicit backward.

PyTorch Geometric's calling convention and parameter names: ``layer(x, edge_index)`` with
``x [N, F]`` and ``edge_index [2, E]`` (row 0 source, row 1 target), or a sparse ``adj_t``;
``lin.weight``, ``bias``, ``att_src`` ..., so a PyG ``state_dict`` loads unchanged. One file per
layer, with its autograd Function beside it:

* :mod:`fastgnn.nn.gcn_conv` — :class:`GCNConv` and ``GCNFunction``;
* :mod:`fastgnn.nn.dense_gcn_conv` — :class:`DenseGCNConv` (dense, batched, masked);
* :mod:`fastgnn.nn.gat_conv` — :class:`GATConv`, the attention graph and ``GATAggregate``;
* :mod:`fastgnn.nn.self_attention` — dense :class:`SelfAttention` over all node pairs;
* :mod:`fastgnn.nn.adjacency` — :func:`normalized_adjacency` (the sparse operator A' the layers
  reuse), PyG's functional :func:`gcn_norm` (``(edge_index, edge_weight)``), dense operators;
* :mod:`fastgnn.nn.inputs` and :mod:`fastgnn.nn.validation` — reading PyG's inputs, checks;
* :mod:`fastgnn.nn.models` — ready-made classifiers.
"""

from fastgnn.nn.adjacency import (
    DenseAdjacency,
    NormalizedAdjacency,
    aggregate,
    dense_gcn_norm,
    gcn_norm,
    normalized_adjacency,
)
from fastgnn.nn.dense_gcn_conv import DenseGCNConv
from fastgnn.nn.gat_conv import GATConv, GATGraph, gat_graph
from fastgnn.nn.gcn_conv import GCNConv
from fastgnn.nn.self_attention import SelfAttention, self_attention

__all__ = [
    "GCNConv",
    "DenseGCNConv",
    "GATConv",
    "SelfAttention",
    "self_attention",
    "normalized_adjacency",
    "gcn_norm",
    "dense_gcn_norm",
    "gat_graph",
    "aggregate",
    "NormalizedAdjacency",
    "DenseAdjacency",
    "GATGraph",
]
