"""Node classification by the infinitely wide GCN: its NNGP kernel and NTK over the nodes of one graph.

Modules, top-down: :mod:`~fastgnn.node.search` (GNNGP's grid of depth, σ_w, σ_b, the regulariser
chosen on validation) and :mod:`~fastgnn.node.experiment` (``fastgnn train --model gcn-gp|gcn-ntk``),
:mod:`~fastgnn.node.predict` (:class:`GCNGP`: transductive kernel regression, the regulariser swept
from one eigendecomposition), :mod:`~fastgnn.node.estimator` (:class:`GCNKernel`),
:mod:`~fastgnn.node.nystroem` (the recursive Nyström on m landmark nodes, ``N × m`` per layer),
:mod:`~fastgnn.node.kernels` (the exact N × N recursion), :mod:`~fastgnn.node.inputs` (Planetoid /
SBM / PyG data read with ``GCNConv``'s Â) and :mod:`~fastgnn.node.params` (the parameters' table).
``docs/node-kernels.md`` has the results.
"""

from fastgnn.node.estimator import GCNKernel
from fastgnn.node.inputs import NodeGraph, as_node_graph
from fastgnn.node.kernels import exact_kernels
from fastgnn.node.nystroem import LowRank, nystroem_kernels, select_landmarks
from fastgnn.node.params import KERNELS, LANDMARK_RULES, MODELS, NUGGETS
from fastgnn.node.predict import GCNGP, RidgeSweep, ridge_sweep

__all__ = ["GCNKernel", "GCNGP", "RidgeSweep", "ridge_sweep", "exact_kernels", "nystroem_kernels", "select_landmarks",
           "LowRank", "NodeGraph", "as_node_graph", "KERNELS", "LANDMARK_RULES", "MODELS", "NUGGETS"]
