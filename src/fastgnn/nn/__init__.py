"""GNN layers of the complexity note, each with an explicit backward (``fastgnn.nn``).

PyTorch Geometric's calling convention: ``layer(x, edge_index)`` with ``x [N, F]`` and
``edge_index [2, E]`` (row 0 source, row 1 target). See :mod:`fastgnn.nn.functional` for the
normalised adjacency and the autograd Functions, :mod:`fastgnn.nn.conv` for the graph
convolutions and :mod:`fastgnn.nn.attention` for dense self-attention.
"""

from fastgnn.nn.attention import SelfAttention, self_attention
from fastgnn.nn.conv import DenseGCNConv, GATConv, GCNConv
from fastgnn.nn.functional import DenseAdjacency, GATGraph, NormalizedAdjacency, aggregate, gat_graph, gcn_norm

__all__ = [
    "GCNConv",
    "DenseGCNConv",
    "GATConv",
    "SelfAttention",
    "self_attention",
    "gcn_norm",
    "gat_graph",
    "aggregate",
    "NormalizedAdjacency",
    "DenseAdjacency",
    "GATGraph",
]
