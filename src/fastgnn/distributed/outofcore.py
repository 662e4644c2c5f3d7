"""Deprecated (one release): the out-of-core Gram is an entry point of the GNTK itself.

* ``fit_transform_to_disk(estimator, X, out_dir, band_bytes=...)``: now
  :meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` (``estimator.fit_transform_to_disk(X, out_dir,
  band_bytes=...)``), which computes the readouts outside the memory budget itself instead of
  having its ``max_memory`` swapped and its fitted attributes set from here; the same files, the
  same values.
* ``DiskGram``: :class:`fastgnn.gntk.outofcore.DiskGram`; ``BAND_BYTES``, ``BY_BLOCKS_BYTES``,
  ``transformed_grams``: :mod:`fastgnn.gram`; ``gram_bytes``: :func:`fastgnn.budget.gram_bytes`;
  ``tile_budget(estimator, readout_bytes)``: :func:`fastgnn.budget.tile_budget` (the engine now
  leaves the readouts out of the budget: :func:`fastgnn.gntk.plan.plan_tile_nodes`).

Each old name still works, with a ``DeprecationWarning`` naming its new home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastgnn import budget
from fastgnn.deprecation import moved, warn_moved
from fastgnn.gram import BAND_BYTES as _BAND_BYTES  # the default below; BAND_BYTES itself is a deprecated alias

if TYPE_CHECKING:
    from fastgnn.gntk.outofcore import DiskGram

__all__ = ["fit_transform_to_disk", "tile_budget", "transformed_grams"]

#: deprecated aliases (one release), resolved on first use
__getattr__ = moved(__name__, {"gram_bytes": "fastgnn.budget:gram_bytes",
                               "BY_BLOCKS_BYTES": "fastgnn.gram:BY_BLOCKS_BYTES",
                               "BAND_BYTES": "fastgnn.gram:BAND_BYTES",
                               "DiskGram": "fastgnn.gntk.outofcore:DiskGram"})


def fit_transform_to_disk(estimator, X, out_dir, *, band_bytes: int = _BAND_BYTES) -> DiskGram:
    """Deprecated: ``estimator.fit_transform_to_disk(X, out_dir, band_bytes=band_bytes)``
    (:meth:`fastgnn.gntk.GNTK.fit_transform_to_disk`)."""
    warn_moved("fastgnn.distributed.fit_transform_to_disk", "GNTK.fit_transform_to_disk")
    return estimator.fit_transform_to_disk(X, out_dir, band_bytes=band_bytes)


def tile_budget(estimator, readout_bytes: int) -> int:
    """Deprecated: the ``max_memory`` that gave the engine the estimator's budget for its tiles alone,
    ``fastgnn.budget.tile_budget(max_memory, device, executor) + readout_bytes``; the engine now takes
    ``readouts_outside=True`` (:func:`fastgnn.gntk.plan.plan_tile_nodes`) instead."""
    warn_moved(f"{__name__}.tile_budget", "fastgnn.budget.tile_budget")
    return int(budget.tile_budget(estimator.max_memory, estimator.device, estimator.executor)) + int(readout_bytes)


# --------------------------------------------------------------------------- moved to fastgnn.gram


def transformed_grams(gram, y, normalizations, *, band_bytes: int | None = None, workdir=None):
    """Deprecated: :func:`fastgnn.gram.transform` (and :func:`fastgnn.gram.check_labels` for ``y``)."""
    from fastgnn.deprecation import warn_moved
    from fastgnn.gram import check_labels, transform

    warn_moved(f"{__name__}.transformed_grams", "fastgnn.gram.transform")
    grams = transform(gram, normalizations, band_bytes=band_bytes, workdir=workdir)
    return grams, check_labels(y, gram.shape[0])
