"""Training: full-batch GD and neighbour-sampled SGD for nodes, 10-fold CV for graphs.

* :func:`train_node` — one node classifier on a :class:`~fastgnn.datasets.NodeData`
  (full batch, or ``sgd=True`` with ``batch_size`` and ``fanouts``), early stopping on validation,
  per-epoch history; :func:`fastgnn.train.experiment.run_node_experiment` repeats it over seeds.
* :func:`cross_validate` — a graph classifier over a dataset's 10 folds with block-diagonal
  mini-batches (:func:`collate`), returning a :class:`GraphCVResult`.
* :class:`NeighborSampler` — vectorised L-hop neighbour sampling.
"""

from fastgnn.deprecation import moved
from fastgnn.train.batch import GraphBatch, collate
from fastgnn.train.graph import GraphCVResult, cross_validate
from fastgnn.train.node import EarlyStopping, TrainResult, accuracy, train_node
from fastgnn.train.sampling import NeighborSampler, SampledSubgraph, parse_fanouts

__all__ = ["train_node", "TrainResult", "EarlyStopping", "accuracy", "NeighborSampler", "SampledSubgraph",
           "parse_fanouts", "GraphBatch", "collate", "cross_validate", "GraphCVResult"]

# the old name, for one release (``fastgnn.evaluate.CVResult`` is another class)
__getattr__ = moved(__name__, {"CVResult": "fastgnn.train.graph:GraphCVResult"})
