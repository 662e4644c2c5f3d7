"""The neighbour scaling of the GNTK's Aggregate: a registry, name -> :class:`Scale`.

Aggregate sums each node's neighbourhood, self-loop included, scaled by c_u (Du et al. 2019,
Section 4): with Ã = A + I and C = diag(c), a graph's aggregation matrix is C Ã, and on colour
classes C Q (:mod:`fastgnn.gntk.pairwise`).  Each scale is a function of that matrix's rows:

* ``"uniform"``: c_u = 1 (the matrix as it is);
* ``"degree"``: c_u = 1/(deg(u) + 1), each row divided by its sum (a node's row of Ã, or a
  class's row of Q, sums to deg(u) + 1).

A new scale is one entry of :data:`REGISTRY`; the estimator's parameter table
(:data:`fastgnn.gntk.params.SCALES`), the CLI's choices and the search grid read its names.
Cost: O(k²) for a dense ``[k, k]`` matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Scale", "REGISTRY", "scale_rows"]


@dataclass(frozen=True)
class Scale:
    """One neighbour scaling.

    Attributes:
        name: its ``scale=`` value.
        description: c_u in words, for help texts.
        rows: ``rows(a) -> C a``: a ``[k, k]`` matrix of neighbourhood counts (Ã, or Q on classes)
            scaled row by row.
    """

    name: str
    description: str
    rows: Callable[[torch.Tensor], torch.Tensor]


def _uniform(a: torch.Tensor) -> torch.Tensor:
    return a


def _degree(a: torch.Tensor) -> torch.Tensor:
    return a / a.sum(1, keepdim=True)


#: every scale by name, in documented order (the first is the default)
REGISTRY: dict[str, Scale] = {
    s.name: s for s in (Scale("uniform", "c_u = 1", _uniform), Scale("degree", "c_u = 1/(deg(u)+1)", _degree))
}


def scale_rows(name: str, a: torch.Tensor) -> torch.Tensor:
    """``C a`` for the scale ``name`` (:data:`REGISTRY`); ``ValueError`` naming ``scale`` for another name."""
    try:
        scale = REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"scale must be one of {tuple(REGISTRY)}, got {name!r}") from None
    return scale.rows(a)
