"""Grams larger than memory: the engine's blocks written straight into ``.npy`` memory maps.

:func:`fit_transform_to_disk` is ``GNTK.fit_transform`` whose outputs live on disk: the tiles
(computed in this process or on Dask, with or without checkpoints) are placed into
``readouts.npy``, a ``[num_layers, n, n]`` float64 memory map (``numpy.lib.format.open_memmap``),
and the Gram ``gram.npy`` (``[n, n]`` float64) is then combined from it by bands of rows, so
neither is ever whole in RAM: the resident size is the operands, a tile, one band and the pages
the kernel has not yet written back.  Both files are written under a temporary name and renamed
when complete (a killed run leaves no half-written ``gram.npy``; rerun with the same
``checkpoint_dir`` to resume).  ``numpy.load(path, mmap_mode="r")`` reads them back by blocks.

The values are bitwise those of the in-memory ``fit_transform`` and ``readouts`` (the same
engine, the same element-wise combination and cosine normalisation).

Disk: ``8 n² (num_layers + 1)`` bytes (the readouts and the Gram); RAM: see above.  Cost: the
engine's, plus one pass over the readouts (``8 n² num_layers`` bytes read, ``8 n²`` written).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from fastgnn.gntk.recursion import combine_readouts
from fastgnn.io import atomic_path

__all__ = ["DiskGram", "fit_transform_to_disk", "gram_bytes", "BAND_BYTES"]

#: bytes of readouts read per band of Gram rows
BAND_BYTES = 256 * 2**20


@dataclass
class DiskGram:
    """What :func:`fit_transform_to_disk` wrote: the paths, and the arrays as read-only memory maps."""

    gram_path: Path
    readouts_path: Path
    gram: np.ndarray
    readouts: np.ndarray


def gram_bytes(n_graphs: int, num_layers: int) -> int:
    """Bytes of a fitted Gram in memory: its ``[num_layers, n, n]`` float64 readouts and the ``[n, n]`` Gram."""
    return 8 * n_graphs * n_graphs * (num_layers + 1)


def fit_transform_to_disk(estimator, X, out_dir, *, band_bytes: int = BAND_BYTES) -> DiskGram:
    """Fit ``estimator`` (a :class:`fastgnn.GNTK`, ``method="batched"``) on ``X`` and write its Gram
    and per-depth readouts to ``out_dir/gram.npy`` and ``out_dir/readouts.npy``.

    The estimator's settings apply as in ``fit_transform`` (``executor``, ``checkpoint_dir``,
    ``normalize``, ...); afterwards it is fitted, with ``time_`` and ``self_readouts_`` set.
    ``band_bytes`` bounds the readouts read per band of Gram rows.  Returns a :class:`DiskGram`.
    """
    if estimator.method != "batched":
        raise ValueError(f"out of core needs method='batched' (the tiled engine), got method={estimator.method!r}")
    out_dir = Path(out_dir)
    estimator.fit(X)
    ops = estimator.fitted_
    n, layers = len(ops), estimator.num_blocks + 1
    gram_path, readouts_path = out_dir / "gram.npy", out_dir / "readouts.npy"
    with atomic_path(readouts_path) as tmp_parts:
        parts = open_memmap(tmp_parts, mode="w+", dtype=np.float64, shape=(layers, n, n))
        t0 = time.perf_counter()
        estimator._readouts(ops, None, out=parts)
        estimator.time_ = time.perf_counter() - t0
        estimator.self_readouts_ = np.diagonal(parts, axis1=1, axis2=2).copy()
        parts.flush()
        with atomic_path(gram_path) as tmp_gram:
            gram = open_memmap(tmp_gram, mode="w+", dtype=np.float64, shape=(n, n))
            _combine_by_bands(estimator, parts, gram, band_bytes)
            gram.flush()
            del gram
        del parts
    return DiskGram(gram_path, readouts_path, np.load(gram_path, mmap_mode="r"),
                    np.load(readouts_path, mmap_mode="r"))


def _combine_by_bands(estimator, parts: np.ndarray, gram: np.ndarray, band_bytes: int) -> None:
    """``gram = combine(parts)`` (cosine-normalised with ``normalize``) by bands of rows, with the
    element-wise operations of ``GNTK.fit_transform``, so the values are bitwise the same."""
    layers, n, _ = parts.shape
    rows = max(1, int(band_bytes // (8 * layers * max(n, 1))))
    d = estimator._combine(estimator.self_readouts_) if estimator.normalize else None
    if d is not None and not np.all(d > 0):
        i = int(np.flatnonzero(~(d > 0))[0])
        raise ValueError(f"fit_transform_to_disk: normalize=True, but graph {i} has self-kernel {d[i]} "
                         "(all-zero features?), so its cosine-normalised kernel is undefined")
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        band = combine_readouts(np.asarray(parts[:, r0:r1, :]), estimator.num_layers, estimator.jk)
        if d is not None:
            band = band / np.sqrt(np.outer(d[r0:r1], d))
            band[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
        gram[r0:r1] = band
