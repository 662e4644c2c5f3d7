"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or an error half-way leaves the previous file (if any) intact and no
partial file behind.  The file gets the mode ``open()`` would give it (0666 minus the umask),
not the temporary file's 0600.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "save_npy", "save_json", "save_text", "to_json", "finite"]


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


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
