"""Grams larger than memory: the engine's blocks written straight into ``.npy`` memory maps.

:func:`fit_transform_to_disk` is ``GNTK.fit_transform`` whose outputs live on disk: the tiles
(computed in this process or on Dask, with or without checkpoints) are placed into
``readouts.npy``, a ``[num_layers, n, n]`` float64 memory map (``numpy.lib.format.open_memmap``),
and the Gram ``gram.npy`` (``[n, n]`` float64) is then combined from it by bands of rows, so
neither is ever whole in RAM: the resident size is the operands, a tile, one band and the pages
the kernel has not yet written back.  Both files are written under a temporary name and renamed
when complete (a killed run leaves no half-written ``gram.npy``; rerun with the same
``checkpoint_dir`` to resume).  ``numpy.load(path, mmap_mode="r")`` reads them back by blocks, and
:func:`transformed_grams` makes the SVM's scaled and cosine-normalised Grams of such a map band by
band into memory maps (what :func:`fastgnn.evaluate.svm_cv` does with a ``numpy.memmap``, e.g.
``fastgnn evaluate --by-blocks``), whose folds then read their blocks from disk.

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

from fastgnn import budget
from fastgnn.deprecation import moved
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.io import atomic_path

__all__ = ["DiskGram", "fit_transform_to_disk", "BAND_BYTES", "transformed_grams", "BY_BLOCKS_BYTES"]

#: bytes of readouts read per band of Gram rows
BAND_BYTES = 256 * 2**20


@dataclass
class DiskGram:
    """What :func:`fit_transform_to_disk` wrote: the paths, and the arrays as read-only memory maps."""

    gram_path: Path
    readouts_path: Path
    gram: np.ndarray
    readouts: np.ndarray


#: deprecated aliases (one release): the memory budget's functions live in :mod:`fastgnn.budget`
__getattr__ = moved(__name__, {"gram_bytes": "fastgnn.budget:gram_bytes"})


def fit_transform_to_disk(estimator, X, out_dir, *, band_bytes: int = BAND_BYTES) -> DiskGram:
    """Fit ``estimator`` (a :class:`fastgnn.GNTK`, ``method="batched"``) on ``X`` and write its Gram
    and per-depth readouts to ``out_dir/gram.npy`` and ``out_dir/readouts.npy``.

    The estimator's settings apply as in ``fit_transform`` (``executor``, ``checkpoint_dir``,
    ``normalize``, ...); afterwards it is fitted, with ``time_`` and ``self_readouts_`` set.
    ``max_memory`` bounds the tiles and the stacked operands: the readouts are on disk, outside it
    (:func:`tile_budget`), so the plan is that of an in-memory run whose budget is larger by the
    readouts' ``8 num_layers n²`` bytes (bitwise the same Gram as that run).
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
        given = estimator.max_memory
        estimator.max_memory = tile_budget(estimator, parts.nbytes)
        try:
            estimator._readouts(ops, None, out=parts)
        finally:
            estimator.max_memory = given
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


def tile_budget(estimator, readout_bytes: int) -> int:
    """The ``max_memory`` that gives the engine the estimator's budget for its tiles alone.

    The engine's plan reserves the ``[num_layers, n, n]`` readouts inside the budget (in memory they
    are); out of core they are on disk, and reserving 12.8 GB of them at 20,000 graphs left no room
    for tiles: 64-node tiles, tens of millions of them.  So the budget (``max_memory``, or with
    ``"auto"`` the engine's default, and with ``executor="dask"`` at most the smallest worker's:
    :func:`fastgnn.budget.tile_budget`) is handed to the engine plus the readouts' bytes.
    """
    return int(budget.tile_budget(estimator.max_memory, estimator.device, estimator.executor)) + int(readout_bytes)


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


# --------------------------------------------------------------------------- reading back by blocks

#: ``fastgnn evaluate --by-blocks auto``: Grams larger than this are evaluated from a memory map
BY_BLOCKS_BYTES = 1 << 30


def transformed_grams(gram: np.memmap, y, normalizations, *, band_bytes: int | None = None,
                      workdir=None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The SVM's Grams of an on-disk Gram, made by bands of rows: ``({normalisation: [n, n] memmap}, y)``.

    What :func:`fastgnn.evaluate.svm_cv` (and ``krr_cv``) do to an in-memory Gram, without ever
    holding it whole: the checks of ``evaluate._check_gram_labels`` (square, real, finite,
    symmetric to 1e-6 relative, then symmetrised; ``y`` 1-D of length n; the same messages), the
    scaling of :func:`~fastgnn.evaluate.scale_gram` (divide by the smallest entry) and, for
    ``"cosine"``, :func:`~fastgnn.evaluate.cosine_normalize`.  The element-wise operations are
    those of the in-memory functions in the same order, so every value is bitwise the same, and so
    are the accuracies computed from them.  The folds then read their ``K[train, train]`` and
    ``K[test, train]`` blocks from these memory maps.

    ``gram`` is any ``[n, n]`` ``numpy.memmap`` (``numpy.load(path, mmap_mode="r")``).  The outputs
    are float64 memory maps of unlinked temporary files in ``workdir`` (default: the Gram's folder,
    else the system's temporary folder), freed when the arrays are.

    Cost: two passes over the Gram (``8 n²`` bytes read each, plus a column band per row band for
    the symmetry check), ``8 n²`` bytes written per normalisation; RAM about 4 bands of
    ``band_bytes`` (default :data:`BAND_BYTES`: a band of rows, the matching band of columns, their
    transforms).
    """
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {gram.shape}")
    if not np.issubdtype(gram.dtype, np.number) or np.iscomplexobj(gram):
        raise ValueError(f"gram must be a real numeric matrix, got dtype {gram.dtype}")
    from fastgnn.evaluate import _check_labels

    n = gram.shape[0]
    y = _check_labels(y, n)
    rows = max(1, int((BAND_BYTES if band_bytes is None else band_bytes) // (8 * max(n, 1))))
    bands = [(r0, min(n, r0 + rows)) for r0 in range(0, n, rows)]

    def band(r0, r1):  # a copy: transformed in place below
        return np.array(gram[r0:r1], dtype=np.float64)

    def column_band(r0, r1):
        return np.asarray(gram[:, r0:r1], dtype=np.float64).T

    # pass 1: finite (first offender in row-major order, as np.argwhere), max |K|, max |K - K^T|
    scale = asym = 0.0
    for r0, r1 in bands:
        b = band(r0, r1)
        if not np.isfinite(b).all():
            i, j = np.argwhere(~np.isfinite(b))[0]
            raise ValueError(f"gram must be finite, but gram[{r0 + i}, {j}] = {b[i, j]}")
        scale = max(scale, float(np.abs(b).max()))
    for r0, r1 in bands:
        asym = max(asym, float(np.abs(band(r0, r1) - column_band(r0, r1)).max()))
    if asym > 1e-6 * max(scale, 1e-300):
        raise ValueError(f"gram must be symmetric: max |K - K^T| = {asym:.3g} (max |K| = {scale:.3g})")

    def sym(r0, r1):  # evaluate: k = 0.5 * (k + k.T) when not exactly symmetric
        b = band(r0, r1)
        return 0.5 * (b + column_band(r0, r1)) if asym > 0 else b

    # scale_gram: divide by the smallest entry, else by the mean diagonal, else not at all
    m = min(float(sym(r0, r1).min()) for r0, r1 in bands) if n else 0.0
    diag = np.diagonal(gram).astype(np.float64)
    divisor = m if m > 0 else (float(np.mean(diag)) if n and np.mean(diag) > 0 else None)
    s = None
    if "cosine" in normalizations:
        d = diag / divisor if divisor is not None else diag.copy()  # the diagonal of the scaled Gram
        if not np.all(d > 0):
            bad = int(np.flatnonzero(~(d > 0))[0])
            raise ValueError("gram: cosine normalisation needs a positive diagonal, "
                             f"but gram[{bad}, {bad}] = {d[bad]}")
        s = 1.0 / np.sqrt(d)
    out = {nm: _scratch_map(gram, workdir, n) for nm in normalizations}
    for r0, r1 in bands:  # pass 2: the transformed bands
        raw = sym(r0, r1)
        if divisor is not None:
            raw /= divisor
        if "raw" in out:
            out["raw"][r0:r1] = raw
        if s is not None:
            raw *= s[r0:r1, None]
            raw *= s[None, :]
            raw[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
            out["cosine"][r0:r1] = raw
    return out, y


def _scratch_map(gram, workdir, n: int) -> np.memmap:
    """An ``[n, n]`` float64 memory map of an unlinked temporary file beside ``gram`` (or in ``workdir``)."""
    import tempfile

    places = [workdir] if workdir is not None else []
    if getattr(gram, "filename", None):
        places.append(Path(gram.filename).parent)
    places.append(None)  # the system's temporary folder
    for place in places:
        try:
            f = tempfile.TemporaryFile(dir=place, prefix="fastgnn-gram-")
            break
        except OSError:
            continue
    with f:  # the map keeps the file alive: it is freed with the array
        return np.memmap(f, dtype=np.float64, mode="w+", shape=(n, n))
