"""Gram matrices: the checks and transforms every consumer of a kernel matrix shares.

A Gram ``K`` (``n × n``, real, symmetric) reaches a classifier through two transforms, as in Du et
al.'s evaluation script (KangchengHou/gntk, ``search.py``):

* **scale** (:func:`scale_gram`): ``K / min(K)`` (GNTK Grams are entrywise positive, so every entry
  becomes ``>= 1``; if the smallest entry is not positive, the mean diagonal divides instead);
  for an SVM, dividing K by s is the same as multiplying C by 1/s;
* **cosine** (:func:`cosine`, :func:`cosine_normalize`): ``K_ij / sqrt(d_i d_j)`` with d the
  self-kernels (the diagonal, for a symmetric Gram), computed as ``K_ij · s_i · s_j`` with
  ``s = 1 / sqrt(d)``; invariant to rescaling each item.

:data:`NORMALIZATIONS` names the Grams a model selection compares: ``"raw"`` (scaled) and
``"cosine"`` (scaled, then cosine-normalised).  :func:`transform` makes them from one Gram, in
memory or, for a ``numpy.memmap`` (a Gram on disk, e.g. ``fastgnn gntk --out-of-core``), by bands
of rows into memory maps, with the same element-wise operations in the same order, so every value
is bitwise the same either way.  The GNTK estimator (``normalize=True``), its out-of-core path,
:func:`fastgnn.evaluate.svm_cv` / ``krr_cv`` and the grid search all use these functions.

Cost: O(n²) time for each transform; :func:`transform` reads the Gram twice (plus a column band
per row band for the symmetry check).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["NORMALIZATIONS", "BAND_BYTES", "BY_BLOCKS_BYTES", "check_gram", "check_labels", "check_normalizations",
           "scale_gram", "cosine", "cosine_normalize", "transform"]

#: The Gram transforms a model selection compares, in tie-break order.
NORMALIZATIONS = ("raw", "cosine")

#: :func:`transform` of a memory map: bytes of Gram rows read per band
BAND_BYTES = 256 * 2**20
#: :func:`transform` warns when the self-kernels of a ``"raw"`` Gram span more than this ratio (max / min):
#: a kernel SVM's dual on it is ill-conditioned, and its C path slow (REDDIT-BINARY's GNTK, 3e11: over an
#: hour on 2 cores, where the cosine Gram took 6 s)
RAW_SPREAD_WARNING = 1e8
#: Grams larger than this are best evaluated from a memory map (``fastgnn evaluate --by-blocks auto``)
BY_BLOCKS_BYTES = 1 << 30


def check_gram(gram) -> np.ndarray:
    """Return ``gram`` as a float64 symmetric array, or raise ``ValueError`` naming ``gram``.

    Accepts numpy arrays and torch tensors.  The Gram must be square, real, finite and symmetric to
    1e-6 relative (``max |K − Kᵀ| <= 1e-6 max |K|``); a Gram within that is symmetrised,
    ``(K + Kᵀ) / 2``.  Cost O(n²).
    """
    k = _as_matrix(gram)
    out = {}
    _transform_bands(k, None, (), out, symmetric_only=True)
    return out["symmetric"]


def check_labels(y, n: int) -> np.ndarray:
    """Return 1-D class labels for an ``n x n`` Gram or raise ``ValueError`` naming ``y``.

    The labels are a classifier's: integers, strings, booleans, or floats holding whole numbers.
    ``None`` and NaN are refused by position, and continuous values as scikit-learn's
    ``check_classification_targets`` refuses them ("Unknown label type: continuous"), since each
    distinct value would otherwise become a class of its own.  Cost O(n log n).
    """
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels but gram is {n} x {n}")
    if y.dtype == object:
        missing = [i for i, v in enumerate(y) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValueError(f"y[{missing[0]}] is {y[missing[0]]} ({len(missing)} labels missing): every item "
                             "needs a class label")
    elif np.issubdtype(y.dtype, np.inexact) and not np.isfinite(y).all():
        bad = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"y[{bad}] is {y[bad]} ({int((~np.isfinite(y)).sum())} labels not finite): every item "
                         "needs a class label")
    from sklearn.utils.multiclass import check_classification_targets

    try:
        check_classification_targets(y)
    except ValueError as e:
        raise ValueError(f"y: {e} (the labels are classes, e.g. integers; here "
                         f"{len(np.unique(y.astype(str) if y.dtype == object else y))} distinct values "
                         f"among {len(y)} items)") from None
    return y


def check_normalizations(normalizations) -> tuple[str, ...]:
    """The normalisations as a tuple of distinct names from :data:`NORMALIZATIONS` (a string: one)."""
    if isinstance(normalizations, str):
        normalizations = (normalizations,)
    norms = tuple(normalizations)
    if not norms or any(nm not in NORMALIZATIONS for nm in norms) or len(set(norms)) != len(norms):
        raise ValueError(
            f"normalizations must be distinct values from {NORMALIZATIONS}, got {normalizations!r}"
        )
    return norms


def scale_gram(gram) -> np.ndarray:
    """Return the Gram divided by its smallest entry, as the GNTK authors did.

    GNTK Grams are entrywise positive, so ``gram / gram.min()`` has all entries
    >= 1.  If the smallest entry is not positive (dividing by it would flip or
    blow up the kernel), the Gram is divided by its mean diagonal instead.
    For an SVM, dividing K by s is the same as multiplying C by 1/s.
    Returns a new float64 array.  Cost O(n^2).
    """
    k = np.array(gram, dtype=np.float64, copy=True)
    divisor = _scale_divisor(k.min() if k.size else 0.0, np.diag(k))
    if divisor is not None:
        k /= divisor
    return k


def cosine(gram, d_rows, d_cols=None, *, describe: Callable[[int, str, float], str] | None = None) -> np.ndarray:
    """``gram[i, j] / sqrt(d_rows[i] d_cols[j])``, as ``gram[i, j] · s_i · t_j`` (a new float64 array).

    ``d_cols=None``: the columns are the rows (a symmetric Gram), and the diagonal is set to exactly 1.
    ``describe(i, side, value)`` (side ``"rows"`` or ``"columns"``) names the offender in the ``ValueError``
    raised when a self-kernel is not positive.  Cost O(n m).
    """
    k = np.array(gram, dtype=np.float64, copy=True)
    s_rows = _inverse_sqrt(np.asarray(d_rows, dtype=np.float64), "rows", describe)
    s_cols = s_rows if d_cols is None else _inverse_sqrt(np.asarray(d_cols, dtype=np.float64), "columns", describe)
    k *= s_rows[:, None]
    k *= s_cols[None, :]
    if d_cols is None:
        np.fill_diagonal(k, 1.0)
    return k


def cosine_normalize(gram) -> np.ndarray:
    """Return ``K_ij / sqrt(K_ii K_jj)`` (a new float64 array; unit diagonal).

    Invariant to rescaling each item (``K -> D K D`` for positive diagonal D).
    Raises ``ValueError`` if a diagonal entry is not positive.  Cost O(n^2).
    """
    k = np.asarray(gram, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {k.shape}")
    return cosine(k, np.diag(k).copy(), describe=_diagonal_message)


def transform(gram, normalizations: Sequence[str] = NORMALIZATIONS, *, band_bytes: int | None = None,
              workdir=None, info: dict | None = None) -> dict[str, np.ndarray]:
    """The model selection's Grams of one Gram: ``{normalisation: (n, n) float64}``.

    :func:`check_gram`, then :func:`scale_gram` (``"raw"``) and :func:`cosine_normalize` of that
    (``"cosine"``).  ``info`` (a dict), if given, receives ``info["scale"]``: the number the Gram was
    divided by (its smallest entry; 1.0 when nothing divided it), so that the ``"raw"`` Gram is
    ``gram / info["scale"]``, and an SVM's C on it is ``C / info["scale"]`` on the given Gram.
    A ``numpy.memmap`` (``numpy.load(path, mmap_mode="r")``) is never read whole:
    it is checked and transformed by bands of rows (``band_bytes``, default :data:`BAND_BYTES`) into
    float64 memory maps of unlinked temporary files in ``workdir`` (default: the Gram's folder, else
    the system's temporary folder), freed with the arrays; the element-wise operations are those of
    the in-memory path in the same order, so every value is bitwise the same.

    Cost: two passes over the Gram (``8 n²`` bytes read each) and ``8 n²`` bytes written per
    normalisation; RAM for a memory map: about 4 bands (a band of rows, the matching columns,
    their transforms).
    """
    norms = check_normalizations(normalizations)
    on_disk = isinstance(gram, np.memmap)
    k = gram if on_disk else _as_matrix(gram)
    if on_disk:
        if k.ndim != 2 or k.shape[0] != k.shape[1]:
            raise ValueError(f"gram must be a square 2-D matrix, got shape {k.shape}")
        if not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
            raise ValueError(f"gram must be a real numeric matrix, got dtype {k.dtype}")
    n = k.shape[0]
    rows = max(1, int((BAND_BYTES if band_bytes is None else band_bytes) // (8 * max(n, 1))))
    bands = [(r0, min(n, r0 + rows)) for r0 in range(0, n, rows)]
    out = {nm: _scratch_map(k, workdir, n) for nm in norms} if on_disk else {}
    _transform_bands(k, bands if on_disk else None, norms, out)
    if info is not None:
        info["scale"] = out["scale"]
    return {nm: out[nm] for nm in norms}


# --------------------------------------------------------------------------- helpers


def _as_matrix(gram) -> np.ndarray:
    """A square real numeric matrix (torch tensors converted), or ``ValueError`` naming ``gram``."""
    if hasattr(gram, "detach"):  # torch tensor
        gram = gram.detach().cpu().numpy()
    k = np.asarray(gram)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"gram must be a square 2-D matrix, got shape {k.shape}")
    if not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
        raise ValueError(f"gram must be a real numeric matrix, got dtype {k.dtype}")
    return k


def _transform_bands(k, bands, norms, out: dict, *, symmetric_only: bool = False) -> None:
    """Check ``k`` and write its transforms into ``out`` band by band (``bands=None``: in memory, where
    the transformed arrays themselves become ``out``'s values).

    Pass 1: finiteness (first offender in row-major order), max |K|, max |K − Kᵀ|.  Then the
    symmetrised Gram's minimum, the divisor of :func:`scale_gram`, and pass 2: each band scaled
    (``"raw"``) and cosine-normalised (``"cosine"``).  With ``symmetric_only``, ``out["symmetric"]``
    receives the checked, symmetrised float64 Gram (one band only).
    """
    n = k.shape[0]
    whole = bands is None
    if whole:
        bands = [(0, n)]

    full = np.array(k, dtype=np.float64) if whole else None  # in memory: one float64 copy serves both passes

    def band(r0, r1):  # a float64 copy: transformed in place below
        return full if whole else np.array(k[r0:r1], dtype=np.float64)

    def column_band(r0, r1):
        return full.T if whole else np.asarray(k[:, r0:r1], dtype=np.float64).T

    scale = asym = 0.0
    for r0, r1 in bands:
        b = band(r0, r1)
        if not np.isfinite(b).all():
            i, j = np.argwhere(~np.isfinite(b))[0]
            raise ValueError(f"gram must be finite, but gram[{r0 + i}, {j}] = {b[i, j]}")
        if b.size:
            scale = max(scale, float(np.abs(b).max()))
    for r0, r1 in bands:
        b = band(r0, r1)
        if b.size:
            asym = max(asym, float(np.abs(b - column_band(r0, r1)).max()))
    if asym > 1e-6 * max(scale, 1e-300):
        raise ValueError(f"gram must be symmetric: max |K - K^T| = {asym:.3g} (max |K| = {scale:.3g})")

    def sym(r0, r1):  # K = (K + Kᵀ) / 2 when not exactly symmetric
        b = band(r0, r1)
        return 0.5 * (b + column_band(r0, r1)) if asym > 0 else b

    if symmetric_only:
        out["symmetric"] = sym(0, n)
        return
    symmetric = sym(0, n) if whole else None
    smallest = (float(symmetric.min()) if whole else min(float(sym(r0, r1).min()) for r0, r1 in bands)) if n else 0.0
    diag = np.diagonal(k).astype(np.float64)
    divisor = _scale_divisor(smallest, diag)
    out["scale"] = 1.0 if divisor is None else float(divisor)
    if "raw" in norms:
        _warn_if_spread(diag)
    s = None
    if "cosine" in norms:
        d = diag / divisor if divisor is not None else diag.copy()  # the diagonal of the scaled Gram
        s = _inverse_sqrt(d, "rows", _diagonal_message)
    for r0, r1 in bands:
        if whole:  # in memory: the outputs are the transformed arrays themselves
            raw = symmetric.copy() if symmetric is full else symmetric
        else:
            raw = sym(r0, r1)
        if divisor is not None:
            raw /= divisor
        if "raw" in norms:
            if whole:
                out["raw"] = raw
            else:
                out["raw"][r0:r1] = raw
        if s is not None:
            if whole and "raw" in norms:
                raw = raw.copy()
            raw *= s[r0:r1, None]
            raw *= s[None, :]
            raw[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
            if whole:
                out["cosine"] = raw
            else:
                out["cosine"][r0:r1] = raw


def _warn_if_spread(diag: np.ndarray) -> None:
    """A ``UserWarning`` when the positive self-kernels span more than :data:`RAW_SPREAD_WARNING`."""
    if len(diag) < 2 or not np.all(diag > 0):
        return  # the cosine normalisation refuses non-positive ones; nothing to compare here
    lo, hi = int(np.argmin(diag)), int(np.argmax(diag))
    spread = float(diag[hi] / diag[lo])
    if spread > RAW_SPREAD_WARNING:
        warnings.warn(
            f"the Gram's self-kernels span {spread:.1e} (K[{lo}, {lo}] = {diag[lo]:.3g} to K[{hi}, {hi}] = "
            f"{diag[hi]:.3g}): an SVM on its 'raw' normalisation is ill-conditioned and its C path can take "
            "hours; the cosine normalisation evens the scales: normalizations=('cosine',) (CLI: "
            "--normalizations cosine)", UserWarning, stacklevel=4)


def _scale_divisor(smallest: float, diag: np.ndarray) -> float | None:
    """What :func:`scale_gram` divides by: the smallest entry, else the mean diagonal, else nothing."""
    if smallest > 0:
        return smallest
    md = float(np.mean(diag)) if len(diag) else 0.0
    return md if md > 0 else None


def _inverse_sqrt(d: np.ndarray, side: str, describe) -> np.ndarray:
    if not np.all(d > 0):
        bad = int(np.flatnonzero(~(d > 0))[0])
        raise ValueError((describe or _diagonal_message)(bad, side, float(d[bad])))
    return 1.0 / np.sqrt(d)


def _diagonal_message(i: int, side: str, value: float) -> str:
    return f"gram: cosine normalisation needs a positive diagonal, but gram[{i}, {i}] = {value}"


def _scratch_map(gram, workdir, n: int) -> np.memmap:
    """An ``[n, n]`` float64 memory map of an unlinked temporary file beside ``gram`` (or in ``workdir``)."""
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
