"""GNN layers of the complexity note, each with an explicit backward (``fastgnn.nn``).

PyTorch Geometric's calling convention: ``layer(x, edge_index)`` with ``x [N, F]`` and
``edge_index [2, E]`` (row 0 source, row 1 target). See :mod:`fastgnn.nn.functional` for the
normalised adjacency and the autograd Functions, :mod:`fastgnn.nn.conv` for the layers.
"""

from fastgnn.nn.conv import DenseGCNConv, GCNConv
from fastgnn.nn.functional import DenseAdjacency, NormalizedAdjacency, aggregate, gcn_norm

__all__ = ["GCNConv", "DenseGCNConv", "gcn_norm", "aggregate", "NormalizedAdjacency", "DenseAdjacency"]
