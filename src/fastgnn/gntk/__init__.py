"""The Graph Neural Tangent Kernel and the paper's algorithms for it.

Modules, top-down: :mod:`~fastgnn.gntk.estimator` (the :class:`GNTK` estimator, its parameters
checked against :mod:`~fastgnn.gntk.params`), :mod:`~fastgnn.gntk.outofcore` (the Gram written to
``.npy`` memory maps), :mod:`~fastgnn.gntk.engine` (the tile loop, run in process or on an
executor found by name in :mod:`fastgnn.executors`), :mod:`~fastgnn.gntk.plan` (tile sizes under a
memory budget, the cost model), :mod:`~fastgnn.gntk.checkpoints` (per-tile files),
:mod:`~fastgnn.gntk.tiles` (one tile of stacked graphs) and :mod:`~fastgnn.gntk.compiled_tile`
(the same tile compiled with numba), :mod:`~fastgnn.gntk.pairwise` (per-graph preparation,
per-pair kernel), :mod:`~fastgnn.gntk.colour` (colour classes), :mod:`~fastgnn.gntk.scale` (the
neighbour scalings), :mod:`~fastgnn.gntk.recursion` (the recursion, once),
:mod:`~fastgnn.gntk.aggregate` (kron / decoupled / sketch), :mod:`~fastgnn.gntk.relu` (the
arc-cosine maps).  :mod:`~fastgnn.gntk.recursion` and :mod:`~fastgnn.gntk.relu` are the reference
implementation; the compiled tile mirrors them and is parity-tested against them."""

from fastgnn.gntk.aggregate import (
    aggregate_decoupled,
    aggregate_kron,
    aggregate_sketch,
    sketch_matrix,
)
from fastgnn.gntk.estimator import GNTK, METHODS
from fastgnn.gntk.nystroem import GNTKNystroem
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gntk.relu import relu_maps

__all__ = [
    "GNTK",
    "GNTKNystroem",
    "METHODS",
    "aggregate_decoupled",
    "aggregate_kron",
    "aggregate_sketch",
    "combine_readouts",
    "relu_maps",
    "sketch_matrix",
]
