"""The binary cache of parsed datasets: a large text file is parsed once, then read back in a fraction of a second.

A dataset read from a file of at least :data:`MIN_CACHED_BYTES` (COLLAB's 84 MB, REDDIT-BINARY's 11 MB,
DD's 7.6 MB), or from an archive, is stored after parsing as one uncompressed ``.npz`` of the
:class:`~fastgnn.datasets.packed.Packed` arrays (and the archive's folds), in
``CACHE/parsed/{name}-{where}.npz`` (``where``: a hash of the source's absolute path, so one file per
source, replaced when the source changes).

**Keyed by the source's content.**  The key is the SHA-256 of the source file's bytes (the ``.txt`` or
the ``.zip``), the reader and :data:`CACHE_FORMAT`: an edited or replaced source never reads the cache
of its old bytes (a *stale* cache is parsed again, silently: the source changed on purpose).

**Checked on every read.**  The file carries a SHA-256 digest of its key and arrays.  A cache that
cannot be read (truncated, not a zip), that fails its digest (edited, damaged, a file copied over
it) or whose arrays are inconsistent is never used: :func:`load_parsed` warns in one line naming
the file and the caller parses the source again and rewrites it.  Writes are atomic (a temporary
file, then a rename), so a killed process leaves the previous cache or none.

The digest detects accidents and mix-ups, not a forger who can write the cache folder and
recompute it.  Cost: hashing the source (about 0.5 GB/s) and, on a hit, reading and hashing the
arrays (8 bytes per directed edge: 200 MB for COLLAB).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from fastgnn.datasets.packed import Packed
from fastgnn.io import atomic_path

__all__ = ["CACHE_FORMAT", "MIN_CACHED_BYTES", "file_sha256", "cache_file", "load_parsed", "save_parsed",
           "array_digest"]

#: the cache's layout version: part of every key, so a new layout never reads an old file
CACHE_FORMAT = 1
#: text files smaller than this are parsed every time (the vectorised parser reads 1 MB in ~0.05 s)
MIN_CACHED_BYTES = 4 * 2**20
#: bytes hashed per step
_CHUNK = 16 * 2**20


def file_sha256(path) -> str:
    """The SHA-256 hex digest of the file's bytes, read by pieces.  O(file size), about 0.5 GB/s."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_file(cache_dir, name: str, source) -> Path:
    """Where the parsed cache of ``source`` (a file) goes: ``cache_dir/parsed/{name}-{hash of its path}.npz``."""
    where = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / "parsed" / f"{name}-{where}.npz"


def array_digest(key: dict, arrays: dict) -> str:
    """SHA-256 of ``key`` (canonical JSON) and of each array's name, dtype, shape and bytes, by name."""
    h = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        flat = a.reshape(-1).view(np.uint8)
        for i in range(0, flat.size, _CHUNK):
            h.update(flat[i:i + _CHUNK].data)
    return h.hexdigest()


def save_parsed(path, key: dict, packed: Packed, folds=None, info: dict | None = None) -> Path:
    """Write ``packed`` (and ``folds``, a list of ``(train, test)`` index arrays, or None, and ``info``, a
    JSON-able dict) to ``path`` atomically, with ``key`` and their :func:`array_digest`."""
    arrays = dict(packed.arrays())
    if folds is not None:
        arrays.update(_pack_folds(folds))
    arrays["info"] = np.array(json.dumps(info or {}, sort_keys=True))
    meta = {"format": CACHE_FORMAT, "key": key, "names": sorted(arrays), "digest": array_digest(key, arrays)}
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, __meta__=np.array(json.dumps(meta)))
    return Path(path)


def load_parsed(path, key: dict) -> tuple[Packed, list | None, dict] | None:
    """The graphs, folds and info :func:`save_parsed` wrote to ``path`` for ``key``.

    ``None`` when the file is absent or was made for another key (the source changed: stale), and
    ``None`` with a one-line ``RuntimeWarning`` naming the file when it cannot be read, fails its
    digest or holds inconsistent arrays.  The caller parses the source again.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                return None  # stale: another source, reader or layout
            names = meta["names"]
            if sorted(set(z.files) - {"__meta__"}) != names:
                return _refuse(path, f"it holds {sorted(z.files)}, its metadata lists {names}")
            arrays = {k: z[k] for k in names}
    except Exception as exc:  # noqa: BLE001 (BadZipFile, EOFError, ValueError, KeyError ...: parse again)
        return _refuse(path, f"it cannot be read ({type(exc).__name__}: {exc})")
    if array_digest(key, arrays) != meta.get("digest"):
        return _refuse(path, "its contents do not match its digest (edited or damaged)")
    try:
        info = json.loads(str(arrays.pop("info")))
        folds = _unpack_folds(arrays)
        return Packed.from_arrays(arrays), folds, info
    except (ValueError, KeyError) as exc:
        return _refuse(path, f"its arrays are inconsistent ({exc})")


def _refuse(path: Path, why: str) -> None:
    warnings.warn(f"{path}: cache not used, {why}; parsing the source again", RuntimeWarning, stacklevel=3)
    return None


def _pack_folds(folds) -> dict:
    train = [np.asarray(tr, dtype=np.int64) for tr, _ in folds]
    test = [np.asarray(te, dtype=np.int64) for _, te in folds]
    return {
        "fold_train": np.concatenate(train) if train else np.zeros(0, np.int64),
        "fold_train_sizes": np.array([len(t) for t in train], dtype=np.int64),
        "fold_test": np.concatenate(test) if test else np.zeros(0, np.int64),
        "fold_test_sizes": np.array([len(t) for t in test], dtype=np.int64),
    }


def _unpack_folds(arrays: dict) -> list | None:
    if "fold_train" not in arrays:
        return None
    parts = []
    for kind in ("train", "test"):
        values, sizes = arrays.pop(f"fold_{kind}"), arrays.pop(f"fold_{kind}_sizes")
        if sizes.sum() != values.size or (sizes < 0).any():
            raise ValueError(f"{kind} folds of {int(sizes.sum())} indices, {values.size} stored")
        parts.append(np.split(values, np.cumsum(sizes)[:-1]) if sizes.size else [])
    if len(parts[0]) != len(parts[1]):
        raise ValueError(f"{len(parts[0])} train folds, {len(parts[1])} test folds")
    return list(zip(parts[0], parts[1]))

