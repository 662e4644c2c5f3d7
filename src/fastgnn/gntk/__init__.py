"""The Graph Neural Tangent Kernel and the paper's algorithms for it.

Modules, top-down: :mod:`~fastgnn.gntk.estimator` (the :class:`GNTK` estimator),
:mod:`~fastgnn.gntk.engine` (batched tiles), :mod:`~fastgnn.gntk.pairwise`
(per-graph preparation, per-pair kernel), :mod:`~fastgnn.gntk.recursion` (the
recursion, once), :mod:`~fastgnn.gntk.aggregate` (kron / decoupled / sketch),
:mod:`~fastgnn.gntk.relu` (the arc-cosine maps).
"""

from fastgnn.gntk.aggregate import (
    aggregate_decoupled,
    aggregate_kron,
    aggregate_sketch,
    sketch_matrix,
)
from fastgnn.gntk.estimator import GNTK, METHODS
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gntk.relu import relu_maps

__all__ = [
    "GNTK",
    "METHODS",
    "aggregate_decoupled",
    "aggregate_kron",
    "aggregate_sketch",
    "combine_readouts",
    "relu_maps",
    "sketch_matrix",
]
