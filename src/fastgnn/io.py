"""Files that can be trusted: atomic writes, content digests checked on read, and locks.

* **Atomic writes** (:func:`atomic_path`, :func:`save_npy`, :func:`save_json`, :func:`save_text`):
  write to a temporary file beside the target, then rename.  A crash or an error half-way leaves
  the previous file (if any) intact and no partial file behind (the temporary file is removed on
  every exit path of this process; one left by a killed process starts with ``.{name}.`` and is
  swept by :func:`sweep_temporaries`).  The file gets the mode ``open()`` would give it (0666
  minus the umask), not the temporary file's 0600.
* **Checked files** (:func:`save_npz_checked`/:func:`load_npz_checked`, :func:`save_npy_checked`/
  :func:`load_npy_checked`): a cache file carries the key it was made for (everything that
  determines its content, a JSON-able dict) and a :func:`digest` binding that key to its bytes.
  A reader gets the arrays only when the key is the one asked for and the digest matches;
  otherwise (absent: silently; truncated, damaged, edited, made for another key: with a one-line
  ``RuntimeWarning`` naming the file) ``None``, and the caller recomputes.  The digest detects
  accidents and mix-ups (a file copied from another run, edited by hand, cut short), not a forger
  who can write the cache folder and recompute it.
* **Locks** (:func:`file_lock`): an exclusive advisory lock (``flock``) on a lock file, so two
  processes sharing a cache or checkpoint folder never both compute the same thing: the second
  waits, then reads what the first wrote.  Where ``fcntl`` is missing (Windows) it is a no-op.

Cost: a digest hashes its bytes once (BLAKE2b, about 1 GB/s), on writing and on reading.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

__all__ = ["atomic_path", "save_npy", "save_json", "save_text", "to_json", "finite", "digest", "canonical",
           "save_npz_checked", "load_npz_checked", "save_npy_checked", "load_npy_checked", "checked_meta", "file_lock",
           "sweep_temporaries", "CHECKED_FORMAT"]

#: the format of the checked files' metadata (part of every key: a new format never reads an old file)
CHECKED_FORMAT = 1
#: bytes hashed per step (a memory map is read by pieces of this size)
_HASH_CHUNK = 64 * 2**20


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path in ``path``'s folder; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a file written by open() gets 0666 minus the umask
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``os.umask`` can only be
    read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_npy(path, array) -> Path:
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, np.asarray(array))
    return Path(path)


def save_json(path, obj) -> Path:
    """Write ``obj`` as strict JSON (see :func:`to_json`), atomically."""
    return save_text(path, to_json(obj, indent=2) + "\n")


def to_json(obj, indent: int | None = None) -> str:
    """Strict JSON text of ``obj``: NaN and ±inf become ``null`` (a plain ``json.dumps`` writes
    ``NaN``, which JSON readers reject), NumPy scalars and arrays become numbers and lists, paths
    and other objects their ``str``."""
    return json.dumps(finite(obj), indent=indent, default=_default, allow_nan=False)


def finite(o):
    """A copy of ``o`` (nested dicts, lists, tuples, NumPy values) with NaN and ±inf as None."""
    if isinstance(o, np.ndarray):
        o = o.tolist()
    elif isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite(v) for v in o]
    return o


def save_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def canonical(obj) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, strict: see :func:`finite`), what keys and digests hash."""
    return json.dumps(finite(obj), sort_keys=True, default=_default, allow_nan=False, separators=(",", ":"))


def digest(key, *arrays) -> str:
    """A 32-hex-digit BLAKE2b of ``key`` (any JSON-able value, by :func:`canonical`) and each array's dtype,
    shape and bytes, in order.  A memory map is read by pieces.  O(total bytes)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(canonical(key).encode())
    for a in arrays:
        a = np.asarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        flat = a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)
        step = max(1, _HASH_CHUNK // max(a.itemsize, 1))
        for i in range(0, flat.size, step):
            h.update(np.ascontiguousarray(flat[i:i + step]).data)
    return h.hexdigest()


def save_npz_checked(path, arrays: dict, key: dict) -> Path:
    """Write ``arrays`` (name -> array) to the ``.npz`` ``path``, atomically, with ``key`` and the
    :func:`digest` of both in a ``__meta__`` entry (read back by :func:`load_npz_checked`)."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    names = sorted(arrays)
    meta = {"format": CHECKED_FORMAT, "key": key, "names": names,
            "digest": digest([CHECKED_FORMAT, key, names], *(arrays[k] for k in names))}
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **arrays, __meta__=np.array(canonical(meta)))
    return Path(path)


def load_npz_checked(path, key: dict) -> dict | None:
    """The arrays :func:`save_npz_checked` wrote to ``path`` for ``key``; ``None`` when the file is absent,
    and ``None`` with a one-line ``RuntimeWarning`` naming it when it cannot be read (truncated, not a
    zip), has no metadata, was made for another key, or fails its digest (edited or damaged)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except KeyError:
        return _refuse(path, "it carries no key or digest (written by an older fastgnn?)")
    except Exception as exc:  # noqa: BLE001 (any unreadable file is recomputed: BadZipFile, EOFError, ValueError...)
        return _refuse(path, f"it cannot be read ({type(exc).__name__}: {exc})")
    names = meta.get("names") if isinstance(meta, dict) else None
    why = _check(meta, key, [CHECKED_FORMAT, key, names], [arrays.get(k) for k in names or ()])
    if why is None and sorted(arrays) != names:
        why = f"it holds {sorted(arrays)}, its metadata says {meta.get('names')}"
    return arrays if why is None else _refuse(path, why)


def save_npy_checked(path, array, key: dict, note: dict | None = None) -> Path:
    """Write ``array`` to the ``.npy`` ``path`` (atomically; it stays memory-mappable) and, beside it,
    ``{path}.meta.json`` with ``key`` and the :func:`digest` of both (read by :func:`load_npy_checked`).
    The array is written first: a file without its metadata is never used.  ``note``: facts about the
    making (the seconds it took), kept under ``"note"`` for reports, outside the key and digest."""
    array = np.asarray(array)
    meta = {"format": CHECKED_FORMAT, "key": key, "shape": list(array.shape), "dtype": array.dtype.str,
            "digest": digest([CHECKED_FORMAT, key], array)}
    if note:
        meta["note"] = note
    meta_path = _meta_path(path)
    meta_path.unlink(missing_ok=True)
    save_npy(path, array)
    save_json(meta_path, meta)
    return Path(path)


def load_npy_checked(path, key: dict, mmap_mode: str | None = "r") -> np.ndarray | None:
    """The array :func:`save_npy_checked` wrote to ``path`` for ``key`` (memory-mapped by default),
    after hashing it all; ``None`` when absent, and ``None`` with a one-line ``RuntimeWarning`` naming
    the file when it or its metadata cannot be read, or when the key, shape or digest differ."""
    path, meta_path = Path(path), _meta_path(path)
    if not path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        return _refuse(path, f"its metadata {meta_path.name} is missing (interrupted, or written by an older fastgnn)")
    except (OSError, ValueError) as exc:
        return _refuse(path, f"its metadata {meta_path.name} cannot be read ({type(exc).__name__}: {exc})")
    try:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 (a truncated or damaged .npy is recomputed)
        return _refuse(path, f"it cannot be read ({type(exc).__name__}: {exc})")
    if list(array.shape) != meta.get("shape") or array.dtype.str != meta.get("dtype"):
        return _refuse(path, f"it holds {array.dtype.str}{tuple(array.shape)}, its metadata says "
                             f"{meta.get('dtype')}{tuple(meta.get('shape') or ())}")
    why = _check(meta, key, [CHECKED_FORMAT, key], [array])
    return array if why is None else _refuse(path, why)


def checked_meta(path, key: dict) -> dict | None:
    """The metadata :func:`save_npy_checked` wrote beside the ``.npy`` ``path`` for ``key`` (its ``digest``,
    ``shape``, ``dtype`` and ``note``), read without the array, whether or not the array is still there;
    None when it is absent or unreadable, or was made for another key or format.  It vouches for nothing
    about an array: :func:`load_npy_checked` hashes that."""
    try:
        meta = json.loads(_meta_path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != CHECKED_FORMAT or not isinstance(meta.get("digest"), str) \
            or meta.get("key") != json.loads(canonical(key)):
        return None
    return meta


@contextmanager
def file_lock(path, *, wait: bool = True, on_wait: Callable[[str], None] | None = None,
              remove: bool = False) -> Iterator[bool]:
    """Hold an exclusive advisory lock on the file ``path`` (created, left in place) for the block.

    Yields True once it is held.  With ``wait=False`` it yields False at once when another process
    holds it (the caller does something else first); with ``wait=True`` it waits, after calling
    ``on_wait`` (one line naming the file and the holder's process id).  The lock goes with the
    process: a killed holder never blocks the next run.  Processes on one machine (``flock``; on a
    network file system only as far as it supports ``flock``).  ``remove``: delete the lock file when
    the block ends (a folder then holds only its results; a waiter that finds its file replaced
    locks the new one)."""
    path = Path(path)
    if fcntl is None:  # pragma: no cover (Windows)
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                yield False
                return
            if on_wait is not None:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                on_wait(f"waiting for process {holder}, which holds {path}")
                on_wait = None
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder removed the file we waited on: lock the one there now
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield True
    finally:
        if remove:
            Path(path).unlink(missing_ok=True)
        os.close(fd)


def sweep_temporaries(folder, name: str, *, older_than: float = 0.0) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left for ``folder/name`` when its process was killed
    (``.{name}.*``), those last modified more than ``older_than`` seconds ago; return their paths.
    Call it under the lock that guards ``name``, or with an ``older_than`` longer than a write takes."""
    removed = []
    now = time.time()
    for p in Path(folder).glob(f".{name}.*"):
        if p.name.endswith(".lock"):
            continue
        try:
            if p.is_file() and now - p.stat().st_mtime >= older_than:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def _meta_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def _check(meta: dict, key: dict, head: list, arrays: list) -> str | None:
    """Why ``meta`` (a checked file's metadata) does not vouch for ``arrays`` made for ``key`` (their digest
    with ``head``); None if it does."""
    if not isinstance(meta, dict) or meta.get("format") != CHECKED_FORMAT:
        return f"its format is {meta.get('format') if isinstance(meta, dict) else meta!r}, not {CHECKED_FORMAT}"
    if meta.get("key") != json.loads(canonical(key)):
        return "it was made for another key (other data or settings)"
    if any(a is None for a in arrays) or digest(head, *arrays) != meta.get("digest"):
        return "its contents do not match its digest (edited or damaged)"
    return None


def _refuse(path: Path, why: str) -> None:
    warnings.warn(f"{path}: not used, {why}; recomputing it", RuntimeWarning, stacklevel=3)
    return None


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
