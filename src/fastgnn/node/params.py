"""What the node kernels' parameters accept: one table, read by the estimators, the search and the CLI.

:data:`PARAMETER_CONSTRAINTS` is scikit-learn's ``_parameter_constraints`` table of
:class:`~fastgnn.node.GCNKernel`;
:data:`MODELS` maps the names ``fastgnn train --model`` accepts to the kernel each fits;
:data:`NUGGETS` is GNNGP's regulariser grid.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["KERNELS", "ACTIVATIONS", "METHODS", "LANDMARK_RULES", "DTYPES", "MODELS", "NUGGETS",
           "PARAMETER_CONSTRAINTS"]

#: ``kernel=``: the GCN's NNGP (the covariance of its outputs at initialisation; GCN-GP) or its NTK
#: (the tangent kernel: gradient descent on the wide network's squared loss; GCN-NTK)
KERNELS = ("nngp", "ntk")
#: ``activation=``: ReLU (the arc-cosine maps of :mod:`fastgnn.gntk.relu`) or the identity (every layer
#: linear: the kernel of SGC, ``Â^L X Xᵀ Â^Lᵀ`` plus the biases' terms)
ACTIVATIONS = ("relu", "identity")
#: ``method=``: the dense N × N recursion, or the recursive Nyström approximation on landmark nodes
METHODS = ("exact", "nystroem")
#: ``landmarks=``: uniform over all nodes; the training nodes first (GNNGP's choice: its landmarks are
#: training nodes), then uniform; greedy pivoted Cholesky of the first layer's kernel over a random pool
LANDMARK_RULES = ("random", "train", "pivoted")
#: ``dtype=`` by name
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: ``fastgnn train --model`` name -> ``kernel=``
MODELS = {"gcn-gp": "nngp", "gcn-ntk": "ntk"}
#: GNNGP's regulariser grid: the nugget ε, the ridge being ε times the mean diagonal of the kernel
#: (101 values from 1e-3 to 10, log-spaced)
NUGGETS = tuple(np.logspace(-3, 1, 101).tolist())

#: scikit-learn's ``_parameter_constraints`` of :class:`~fastgnn.node.GCNKernel`
PARAMETER_CONSTRAINTS: dict[str, list] = {
    "kernel": [StrOptions(set(KERNELS))],
    "num_layers": [Interval(Integral, 1, None, closed="left")],
    "sigma_w": [Interval(Real, 0, None, closed="neither")],
    "sigma_b": [Interval(Real, 0, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "method": [StrOptions(set(METHODS))],
    "num_landmarks": [Interval(Integral, 1, None, closed="left")],
    "landmarks": [StrOptions(set(LANDMARK_RULES)), "array-like"],
    "dtype": [StrOptions(set(DTYPES))],
    "max_memory": [None, str, Interval(Real, 0, None, closed="neither")],
    "random_state": [Interval(Integral, 0, None, closed="left")],
}
