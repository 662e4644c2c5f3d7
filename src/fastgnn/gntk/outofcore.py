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

With ``readouts=False`` only ``gram.npy`` is kept; on colour pairs the Gram is then summed in RAM straight
from the colour pairs (no per-depth readouts at all) and written by :func:`write_by_bands`.

The values are bitwise those of the in-memory ``fit_transform`` and ``readouts`` with the same
tile plan (the same engine, the same element-wise combination and cosine normalisation,
:func:`fastgnn.gram.cosine`).

Disk: ``8 n² (num_layers + 1)`` bytes (the readouts and the Gram), and with ``checkpoint_dir`` about
the readouts' again for the tiles.  Cost: the engine's, plus one pass over the readouts
(``8 n² num_layers`` bytes read, ``8 n²`` written).

**A full disk.**  :func:`check_free_space` refuses to start (``OSError`` ENOSPC naming each folder,
the bytes it needs and those free) when the files cannot fit; :func:`npy_map` then reserves each
file's blocks before anything is written into it (``os.posix_fallocate``), so a disk that fills
meanwhile gives the same clear ``OSError`` at once, never a ``SIGBUS`` in the middle of the memory
map's writes.  The finished part is kept: with ``checkpoint_dir`` every saved tile stays and a
rerun resumes from them (a tile that cannot be saved is an ``OSError`` naming the folder).
**Temporary files.**  Each file is written under a temporary name beside it (``.{name}.*``),
removed on every exit path of this process and, when a killed process left one, swept by the
next run that writes the same file (under a lock, so a run in progress is never swept).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gram import BAND_BYTES, cosine
from fastgnn.io import atomic_path, file_lock, sweep_temporaries

__all__ = ["BAND_BYTES", "GRAM_FILE", "READOUTS_FILE", "DiskGram", "combine_by_bands", "write_by_bands", "npy_map",
           "lazy_zeros",
           "check_free_space", "disk_needs"]

#: the Gram's file in the output folder
GRAM_FILE = "gram.npy"
#: the per-depth readouts' file in the output folder
READOUTS_FILE = "readouts.npy"


@dataclass
class DiskGram:
    """What :meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` wrote: the paths, and the arrays as
    read-only memory maps."""

    gram_path: Path
    readouts_path: Path | None
    gram: np.ndarray
    readouts: np.ndarray | None

    @classmethod
    def open(cls, out_dir) -> DiskGram:
        """The :data:`GRAM_FILE` and :data:`READOUTS_FILE` of ``out_dir``, memory-mapped read-only (the
        readouts None, and their path, when the run did not keep them)."""
        gram_path, readouts_path = Path(out_dir) / GRAM_FILE, Path(out_dir) / READOUTS_FILE
        if not readouts_path.exists():
            return cls(gram_path, None, np.load(gram_path, mmap_mode="r"), None)
        return cls(gram_path, readouts_path, np.load(gram_path, mmap_mode="r"), np.load(readouts_path, mmap_mode="r"))


def disk_needs(out_dir, checkpoint_dir, n: int, num_layers: int) -> dict:
    """Bytes :meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` writes for ``n`` graphs, by folder: ``out_dir`` the
    readouts and the Gram, ``8 n² (num_layers + 1)`` (``num_layers`` 0: the Gram alone); ``checkpoint_dir``
    (unless None) the tiles, at most the readouts' ``8 n² num_layers`` (the upper triangle, and the diagonal
    tiles whole)."""
    needs = {Path(out_dir): 8 * n * n * (num_layers + 1)}
    if checkpoint_dir is not None:
        key = Path(checkpoint_dir)
        needs[key] = needs.get(key, 0) + 8 * n * n * num_layers
    return needs


def check_free_space(needs: dict, what: str = "fit_transform_to_disk") -> None:
    """Refuse to start when the disk cannot hold what will be written: ``needs`` maps folders to bytes (folders
    on one file system are added up); ``OSError`` (ENOSPC) naming each folder, the bytes needed and free."""
    by_device: dict[int, list] = {}
    for folder, need in needs.items():
        if folder is None or not need:
            continue
        existing = Path(folder).absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        entry = by_device.setdefault(os.stat(existing).st_dev, [existing, 0, []])
        entry[1] += int(need)
        entry[2].append(f"{folder} {_size(int(need))}")
    for existing, need, parts in by_device.values():
        free = shutil.disk_usage(existing).free
        if need > free:
            raise OSError(errno.ENOSPC, f"{what}: not enough disk space: {' + '.join(parts)} needed, "
                                        f"{_size(free)} free on {existing}'s file system; free some, or write "
                                        "elsewhere")


@contextlib.contextmanager
def npy_map(path, shape: tuple[int, ...]) -> Iterator[np.memmap]:
    """A float64 ``.npy`` memory map of ``shape`` to fill inside the block: written under a temporary
    name whose blocks are reserved first (``OSError`` ENOSPC naming ``path`` when the disk cannot hold
    them), flushed and renamed to ``path`` when the block ends without an error (removed if it
    raises).  Held under a lock on ``path``: a second process writing the same file waits; the
    temporary files a killed run left are removed first."""
    path = Path(path)
    with file_lock(path.with_name(f".{path.name}.lock"), remove=True):
        sweep_temporaries(path.parent, path.name)
        with atomic_path(path) as tmp:
            array = open_memmap(tmp, mode="w+", dtype=np.float64, shape=shape)
            _reserve(tmp, path, array.offset + array.nbytes)
            yield array
            array.flush()


def _reserve(tmp: Path, path: Path, nbytes: int) -> None:
    """Allocate the blocks of ``tmp`` (a sparse file as made) so that writing through the memory map cannot hit a
    full disk (a ``SIGBUS``); ``OSError`` ENOSPC naming ``path`` when they cannot be had."""
    if not hasattr(os, "posix_fallocate"):  # pragma: no cover (macOS, Windows)
        return
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):  # a file system that cannot reserve: written as it comes
            return
        raise OSError(exc.errno, f"{path}: cannot reserve {_size(nbytes)} on disk ({os.strerror(exc.errno)}; "
                                 f"{_size(shutil.disk_usage(path.parent).free)} free); nothing was written") from None
    finally:
        os.close(fd)


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f} GiB ({nbytes:,} bytes)" if nbytes >= 2**30 else f"{nbytes:,} bytes"


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
        _write_band(gram, r0, r1, combine_readouts(np.asarray(parts[:, r0:r1, :]), num_layers, jk), self_kernels,
                    describe)


def lazy_zeros(shape, dtype) -> np.ndarray:
    """A zero array in RAM whose pages the OS maps only when they are first written: anonymous ``mmap``
    memory (zero-filled by the kernel) in small pages.  ``np.zeros`` of a large array asks for transparent
    huge pages (``madvise``, NumPy's default on Linux): a 2 MB page holds whole rows of an ``n × n`` Gram,
    so writing its upper triangle alone would map every page anyway (measured: an 18,800 x 18,800 float32
    Gram, 1.32 GiB resident with the upper triangle written)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def write_by_bands(source: np.ndarray, gram: np.ndarray, self_kernels: np.ndarray | None = None, *,
                   band_bytes: int = BAND_BYTES, describe: Callable[[int, str, float], str] | None = None,
                   upper: bool = False) -> None:
    """``gram = source`` (as float64) by bands of rows, cosine-normalised when ``self_kernels`` (d) are given:
    ``source[i, j] / sqrt(d_i d_j)`` by :func:`fastgnn.gram.cosine`, with a unit diagonal.  For a Gram summed
    whole in RAM (the colour pairs' :func:`~fastgnn.gntk.colour_pairs.colour_pair_gram`) going to its memory
    map.  ``upper``: ``source`` holds the Gram in its upper triangle only (``colour_pair_gram(...,
    upper=True)``); each band's lower part is read from the columns above it, the lower triangle never.
    Cost O(n²); RAM one band beside ``source``."""
    n = gram.shape[0]
    rows = max(1, int(band_bytes // (8 * max(n, 1))))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        if upper:
            band = np.zeros((r1 - r0, n))
            band[:, r0:] = source[r0:r1, r0:]
            below = np.asarray(source[:r1, r0:r1], dtype=np.float64).T  # K[g, j] = source[j, g] for j < g
            lower = np.arange(r1)[None, :] < np.arange(r0, r1)[:, None]
            band[:, :r1] = np.where(lower, below, band[:, :r1])
        else:
            band = np.asarray(source[r0:r1], dtype=np.float64)
        _write_band(gram, r0, r1, band, self_kernels, describe)


def _write_band(gram: np.ndarray, r0: int, r1: int, band: np.ndarray, self_kernels: np.ndarray | None,
                describe) -> None:
    """``gram[r0:r1] = band``, cosine-normalised first when ``self_kernels`` are given (a unit diagonal)."""
    if self_kernels is not None:
        band = cosine(band, self_kernels[r0:r1], self_kernels, describe=describe)
        band[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
    gram[r0:r1] = band
