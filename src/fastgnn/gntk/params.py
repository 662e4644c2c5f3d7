"""What each GNTK parameter accepts: one table, read by the estimator, the CLI and the search grid.

:data:`CHOICES` holds the discrete values (scales, methods, sketches, ...) in their documented
order; :data:`PARAMETER_CONSTRAINTS` is scikit-learn's declarative ``_parameter_constraints``
table built from it, which :class:`~fastgnn.gntk.GNTK` checks at ``fit``
(``sklearn.base.BaseEstimator._validate_params``).  The CLI's ``choices=`` and the search's
default grid call :func:`options`; :mod:`fastgnn.gntk.pairwise` and :mod:`fastgnn.gntk.aggregate`
import the tuples below instead of restating them.  The scales' names come from their registry
(:mod:`fastgnn.gntk.scale`), the executors' from :data:`fastgnn.executors.EXECUTORS`.

Wrong values raise ``sklearn.utils._param_validation.InvalidParameterError`` (a ``ValueError``
and a ``TypeError``) naming the parameter, e.g. ``jk="no"``: "The 'jk' parameter of GNTK must
be an instance of 'bool' ... Got 'no' instead."
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions

from fastgnn.executors import EXECUTORS
from fastgnn.gntk.adjacency import LOOP_WEIGHTS
from fastgnn.gntk.scale import REGISTRY

__all__ = ["LOOP_WEIGHTS", "SCALES", "PAIR_METHODS", "METHODS", "SKETCHES", "DTYPES", "COMPRESS", "COLOUR_PAIRS",
           "EXECUTORS",
           "CHOICES", "PARAMETER_CONSTRAINTS", "KERNEL_PARAMS", "options"]

#: neighbour scaling c_u: ``"uniform"`` (1) or ``"degree"`` (1/(deg(u)+1)); the registry
#: :data:`fastgnn.gntk.scale.REGISTRY` holds each one's function
SCALES = tuple(REGISTRY)
#: the per-pair algorithms of the paper (Kronecker, decoupled, sketched)
PAIR_METHODS = ("kron", "decoupled", "sketch")
#: every ``method=``: the batched engine first (the default), then the per-pair ones
METHODS = ("batched", *PAIR_METHODS)
#: entries of a sketching matrix: ±1/√b (AMS, the paper's) or N(0, 1/b)
SKETCHES = ("ams", "gaussian")
#: ``dtype=`` by name (a ``torch.dtype`` is accepted too)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: ``compress=``: ``"auto"`` compresses a graph when it has fewer colour classes than nodes (every
#: cost of the kernel, the pair work and the self-diagonals, then falls: k_G k_H node pairs instead of
#: N_G N_H, Q has no more non-zeros than Ã); ``True`` always (a graph of singletons is compressed to
#: itself), ``False`` never (no colour refinement).  The kernel is the same either way.
COMPRESS = ("auto", True, False)
#: ``colour_pairs=``: run the batched kernel on the dataset's WL colour pairs
#: (:mod:`fastgnn.gntk.colour_pairs`) instead of node (or class) pairs.  ``"auto"``: where the counted
#: colour pairs are fewer than the node-pair engine's pairs and fit the memory budget; ``True``:
#: always (an error where it cannot run); ``False``: never.  The kernel is the same either way.
COLOUR_PAIRS = ("auto", True, False)

#: the discrete values of each parameter that has them, in documented order (the first is the default
#: where the estimator has one)
CHOICES: dict[str, tuple] = {
    "scale": SCALES,
    "jk": (True, False),
    "method": METHODS,
    "sketch": SKETCHES,
    "dtype": tuple(DTYPES),
    "normalize": (False, True),
    "compress": COMPRESS,
    "executor": EXECUTORS,
    "colour_pairs": COLOUR_PAIRS,
    "self_loop_weight": LOOP_WEIGHTS,
}

#: scikit-learn's ``_parameter_constraints`` of :class:`~fastgnn.gntk.GNTK` (one entry per
#: ``__init__`` argument; ``tests/gntk/test_estimator.py`` checks that they match)
PARAMETER_CONSTRAINTS: dict[str, list] = {
    "num_layers": [Interval(Integral, 2, None, closed="left")],
    "num_mlp_layers": [Interval(Integral, 1, None, closed="left")],
    "scale": [StrOptions(set(SCALES))],
    "jk": ["boolean"],
    "normalize": ["boolean"],
    "method": [StrOptions(set(METHODS))],
    "sketch_size": [None, Interval(Integral, 1, None, closed="left")],
    "sketch": [StrOptions(set(SKETCHES))],
    "seed": [Interval(Integral, -(2**63), 2**63 - 1, closed="both")],
    "device": [str, torch.device],
    "dtype": [Options(torch.dtype, set(DTYPES.values())), StrOptions(set(DTYPES))],
    # a number of bytes (> 0), a string such as "4GB" (read by parse_memory), or "auto"/None
    "max_memory": [None, Interval(Real, 0, None, closed="neither"), str],
    "progress": [None, "boolean"],
    "checkpoint_dir": [None, str, os.PathLike],
    "compress": [StrOptions({c for c in COMPRESS if isinstance(c, str)}), "boolean"],
    "executor": [StrOptions(set(EXECUTORS))],
    "colour_pairs": [StrOptions({c for c in COLOUR_PAIRS if isinstance(c, str)}), "boolean"],
    "self_loop_weight": [Options(Integral, set(LOOP_WEIGHTS))],
}

#: the parameters that change the prepared operands of the fitted graphs (a change after ``fit``
#: re-prepares them); ``jk``, ``normalize`` and ``method`` change only how the readouts are combined
#: or computed, the rest only speed and output
KERNEL_PARAMS = ("num_layers", "num_mlp_layers", "scale", "sketch_size", "sketch", "seed", "device", "dtype",
                 "compress", "self_loop_weight")


def options(name: str) -> tuple:
    """The allowed values of a discrete parameter, in documented order: ``options("scale")`` is
    ``("uniform", "degree")``, ``options("jk")`` is ``(True, False)``.  KeyError lists the names."""
    try:
        return CHOICES[name]
    except KeyError:
        raise KeyError(f"GNTK parameter {name!r} has no fixed set of values; those that do: "
                       f"{', '.join(CHOICES)}") from None
