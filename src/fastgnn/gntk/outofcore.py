"""Grams larger than memory: the GNTK's readouts and Gram written straight into ``.npy`` memory maps.

:meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` is ``fit_transform`` whose outputs live on disk:
the engine's tiles (computed in this process or on a registered executor, with or without
checkpoints) are placed into ``readouts.npy``, a ``[num_layers, n, n]`` float64 memory map
(:func:`npy_map`), and the Gram ``gram.npy`` (``[n, n]`` float64) is then combined from it by
bands of rows (:func:`combine_by_bands`), so neither is ever whole in RAM: the resident size is the
operands, a tile, one band and the pages the kernel has not yet written back.  The readouts are
outside the memory budget (``max_memory`` bounds the tiles and the stacked operands:
:func:`fastgnn.gntk.plan.plan_tile_nodes` with ``readouts_outside=True``).  Both files are written
under a temporary name and renamed when complete (a killed run leaves no half-written
``gram.npy``; rerun with the same ``checkpoint_dir`` to resume).  ``numpy.load(path,
mmap_mode="r")`` reads them back by blocks (:class:`DiskGram`), and
:func:`fastgnn.gram.transform` makes the model selection's Grams of such a map band by band.

The values are bitwise those of the in-memory ``fit_transform`` and ``readouts`` with the same
tile plan (the same engine, the same element-wise combination and cosine normalisation,
:func:`fastgnn.gram.cosine`).

Disk: ``8 n² (num_layers + 1)`` bytes (the readouts and the Gram).  Cost: the engine's, plus one
pass over the readouts (``8 n² num_layers`` bytes read, ``8 n²`` written).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gram import BAND_BYTES, cosine
from fastgnn.io import atomic_path

__all__ = ["BAND_BYTES", "GRAM_FILE", "READOUTS_FILE", "DiskGram", "combine_by_bands", "npy_map"]

#: the Gram's file in the output folder
GRAM_FILE = "gram.npy"
#: the per-depth readouts' file in the output folder
READOUTS_FILE = "readouts.npy"


@dataclass
class DiskGram:
    """What :meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` wrote: the paths, and the arrays as
    read-only memory maps."""

    gram_path: Path
    readouts_path: Path
    gram: np.ndarray
    readouts: np.ndarray

    @classmethod
    def open(cls, out_dir) -> DiskGram:
        """The :data:`GRAM_FILE` and :data:`READOUTS_FILE` of ``out_dir``, memory-mapped read-only."""
        gram_path, readouts_path = Path(out_dir) / GRAM_FILE, Path(out_dir) / READOUTS_FILE
        return cls(gram_path, readouts_path, np.load(gram_path, mmap_mode="r"), np.load(readouts_path, mmap_mode="r"))


@contextlib.contextmanager
def npy_map(path, shape: tuple[int, ...]) -> Iterator[np.memmap]:
    """A float64 ``.npy`` memory map of ``shape`` to fill inside the block: written under a temporary
    name, flushed and renamed to ``path`` when the block ends without an error (removed if it raises)."""
    with atomic_path(Path(path)) as tmp:
        array = open_memmap(tmp, mode="w+", dtype=np.float64, shape=shape)
        yield array
        array.flush()


def combine_by_bands(parts: np.ndarray, gram: np.ndarray, *, num_layers: int, jk: bool,
                     self_kernels: np.ndarray | None = None, band_bytes: int = BAND_BYTES,
                     describe: Callable[[int, str, float], str] | None = None) -> None:
    """``gram = combine_readouts(parts)`` by bands of rows (``band_bytes`` of readouts each), cosine-
    normalised when ``self_kernels`` (the combined self-kernels d) are given: ``gram[i, j] / sqrt(d_i d_j)``
    by :func:`fastgnn.gram.cosine`, with a unit diagonal; ``describe`` names a non-positive d in
    the ``ValueError``.  The element-wise operations are those of ``GNTK.fit_transform``, so the
    values are bitwise the same.  Cost O(n² num_layers); RAM one band."""
    layers, n, _ = parts.shape
    rows = max(1, int(band_bytes // (8 * layers * max(n, 1))))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        band = combine_readouts(np.asarray(parts[:, r0:r1, :]), num_layers, jk)
        if self_kernels is not None:
            band = cosine(band, self_kernels[r0:r1], self_kernels, describe=describe)
            band[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
        gram[r0:r1] = band
