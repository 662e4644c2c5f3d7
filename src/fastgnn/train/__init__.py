"""Training: full-batch GD and neighbour-sampled SGD for nodes, 10-fold CV for graphs.

* :func:`train_node` — one node classifier on a :class:`~fastgnn.datasets.NodeData`
  (full batch, or ``sgd=True`` with ``batch_size`` and ``fanouts``), early stopping on validation,
  per-epoch history; :func:`run_seeds` repeats it over seeds.
* :func:`cross_validate` — a graph classifier over a dataset's 10 folds with block-diagonal
  mini-batches (:func:`collate`).
* :class:`NeighborSampler` — vectorised L-hop neighbour sampling.
"""

from fastgnn.train.batch import GraphBatch, collate
from fastgnn.train.graph import CVResult, cross_validate
from fastgnn.train.node import EarlyStopping, TrainResult, accuracy, train_node
from fastgnn.train.sampling import NeighborSampler, SampledSubgraph, parse_fanouts

__all__ = ["train_node", "TrainResult", "EarlyStopping", "accuracy", "NeighborSampler", "SampledSubgraph",
           "parse_fanouts", "GraphBatch", "collate", "cross_validate", "CVResult"]
