"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or an error half-way leaves the previous file (if any) intact and no
partial file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "save_npy", "save_json", "save_text"]


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path in ``path``'s folder; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npy(path, array) -> Path:
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, np.asarray(array))
    return Path(path)


def save_json(path, obj) -> Path:
    return save_text(path, json.dumps(obj, indent=2, default=_default) + "\n")


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
