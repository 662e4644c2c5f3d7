"""The Gram on colour pairs by shares of the triangle's row blocks: independent pieces at the triangle's cost.

:func:`~fastgnn.gntk.colour_blocks.blocked_gram` walks the upper triangle of colour pairs block by block,
and each block but the d of the next depth is independent of the others: with every colour's d computed
up front (:func:`~fastgnn.gntk.colour_rectangle.colour_diagonals`, a sparse pass on the pairs of each
colour's children), share k of K computes the row blocks ``j ≡ k (mod K)`` of every blocked depth (share
0 also reads out the held depths), summing their readouts into its own ``n × n`` partial Gram (its upper
triangle).  The K partials add up to the Gram.  Bands of graphs (:mod:`fastgnn.gntk.colour_bands`) cut
the graphs instead, at 1.5-2x the triangle's colour pairs (a colour held by graphs of several bands is a
row of each, and a band computes its rectangle's square part whole: ``(B + 1)/B`` for B bands even if no
colour were shared; ogbg-molhiv, 8 bands: 1.64x at depth 3, and no order of the graphs tried brought it
under 1.5x); shares compute each colour pair once, as one process does.

A finished share is saved: its upper triangle packed row after row (``share-{k}.bin``, written atomically)
and a checked ``.npz`` beside it (its self-readouts and the packed bytes' digest, written last), in a folder
named by a digest of everything that fixes the numbers; a killed run resumes at the shares not saved, and
a damaged or foreign share is refused with a warning naming it and recomputed.  Shares run as tasks on an
executor whose workers see this machine's disk (a Dask ``LocalCluster``: each worker writes its share's
file); the client checks each file against its digest and adds them in the order k = 0..K−1, so a run's
Gram does not depend on which share finished first.

Cost: the triangle's colour pairs and recomputed support rows (:func:`~fastgnn.gntk.colour_blocks
.recomputed_pairs`) once, the held depths K times (small by construction), and the diagonals' pass.  Each
share's memory: the plan within ``max_bytes`` plus its partial's upper triangle (``4 n²/2`` bytes in
float32, lazily mapped: ogbg-molhiv 3.4 GB), outside ``max_bytes``; disk ``K n(n + 1)/2`` values (kept with
``checkpoint_dir``, else removed at the end).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastgnn.gntk.checkpoints import note_resumed
from fastgnn.gntk.colour_bands import BandInputs
from fastgnn.gntk.colour_blocks import blocked_gram
from fastgnn.gntk.colour_rectangle import colour_diagonals
from fastgnn.gntk.colour_resume import colours_fingerprint
from fastgnn.gntk.engine import release_freed_memory
from fastgnn.gntk.outofcore import lazy_zeros
from fastgnn.io import atomic_path, digest, file_lock, load_npz_checked, save_npz_checked

__all__ = ["default_num_shares", "ShareInputs", "share_gram", "shared_gram"]

#: the share files' format (part of their key)
FORMAT = 1
def default_num_shares(workers: int = 1) -> int:
    """Four shares, or two per worker where there are more than two workers: a killed run keeps about half
    of each worker's work, and up to two workers the shares (so the Gram, bitwise) are those of one
    process."""
    return max(4, 2 * int(workers))


@dataclass
class ShareInputs(BandInputs):
    """What every share reads, a band's inputs (:class:`~fastgnn.gntk.colour_bands.BandInputs`) and where
    the shares go: ``folder`` and the files' ``key`` (one object, so that an executor ships it to each
    worker once)."""

    folder: str
    key: dict


def share_gram(inputs: ShareInputs, k: int, num_shares: int) -> np.ndarray:
    """Share ``k`` of ``num_shares`` (module docstring): its partial Gram written to ``inputs.folder``
    (``share-{k}.bin``, the upper triangle packed by rows, and ``share-{k}.npz``); returns its self-readouts
    ``[num_blocks + 1, n]`` (float64), every depth's diagonal summed over the share's blocks."""
    import numba

    from fastgnn.gntk.compiled_tile import numba_threads

    t0 = time.perf_counter()
    n = inputs.colours.num_graphs
    partial = lazy_zeros((n, n), inputs.out_dtype)
    with numba_threads(numba):
        selfs = blocked_gram(inputs.colours, inputs.num_blocks, inputs.num_mlp_layers, inputs.dtype,
                             inputs.max_bytes, partial, inputs.depths, upper=True, share=(k, num_shares),
                             diagonals=inputs.diagonals)
    folder = Path(inputs.folder)
    packed = _write_packed(partial, folder / f"share-{k:04d}.bin")
    del partial
    release_freed_memory()
    save_npz_checked(folder / f"share-{k:04d}.npz", {"selfs": selfs, "packed": np.array(packed),
                                                     "seconds": np.asarray(time.perf_counter() - t0)},
                     {**inputs.key, "share": k})
    return selfs


def shared_gram(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float, into: np.ndarray,
                depths, *, num_shares: int | None = None, upper: bool = True, checkpoint_dir=None, run=None,
                progress: bool = False, diagonals: list | None = None) -> np.ndarray:
    """``into[i, j] = Σ_{l in depths} K_l[i, j]`` for i <= j (and j < i too unless ``upper``), share by share
    (module docstring); returns the self-readouts ``[num_blocks + 1, n]`` (every depth's diagonal).

    ``into``: a zero-filled ``n × n`` array (float64, or float32: each share is summed and stored in its
    dtype), outside ``max_bytes``.  ``num_shares``: default :func:`default_num_shares` of one worker.
    ``checkpoint_dir``: the shares' files are kept there (a folder named by a digest of the colours, depth,
    R, dtype, depths, number of shares and ``max_bytes``) and a rerun reads them instead of computing them;
    None: a temporary folder, removed at the end.  ``run``: where the shares run, a factory ``run(on_done)``
    of a task runner ``runner(fn, args)`` that calls ``on_done(index, result)`` as each task ends (an
    executor's ``tasks``), whose workers must see this machine's disk; None runs them here, one after the
    other.  ``diagonals``: every colour's d (computed when None).  The compiled path."""
    n = colours.num_graphs
    if into.shape != (n, n):
        raise ValueError(f"into has shape {into.shape}, the Gram ({n}, {n})")
    num_shares = default_num_shares() if num_shares is None else int(num_shares)
    if num_shares < 1:
        raise ValueError(f"num_shares must be at least 1, got {num_shares}")
    if diagonals is None:
        diagonals = colour_diagonals(colours, num_blocks, num_mlp_layers, dtype, max_bytes)
    depths = tuple(sorted(int(d) for d in depths))
    key = {"shares": FORMAT, "colours": colours_fingerprint(colours, num_blocks), "num_blocks": num_blocks,
           "num_mlp_layers": num_mlp_layers, "dtype": str(dtype), "depths": list(depths),
           "num_shares": num_shares, "max_bytes": float(max_bytes), "into": into.dtype.str}
    with _share_folder(checkpoint_dir, key) as folder:
        inputs = ShareInputs(colours, diagonals, num_blocks, num_mlp_layers, dtype, float(max_bytes), depths,
                             into.dtype, str(folder), key)
        done = {k: _saved(folder, k, key, n, into.dtype) for k in range(num_shares)}  # checked, or None
        todo = [k for k, saved in done.items() if saved is None]
        for saved in done.values():  # read back: what each cost its run (its own seconds, on its worker)
            if saved is not None:
                note_resumed(saved.get("seconds"))
        bar = _bar(progress, num_shares, num_shares - len(todo))

        def on_done(j, result):
            done[todo[j]] = result
            if bar is not None:
                bar.update(1)

        if run is None:
            for j, k in enumerate(todo):
                on_done(j, share_gram(inputs, k, num_shares))
        elif todo:
            run(on_done)(share_gram, [(inputs, k, num_shares) for k in todo])
        if bar is not None:
            bar.close()
        selfs = np.zeros((num_blocks + 1, n))
        for k in range(num_shares):  # in order: the sum does not depend on which share finished first
            # a share loaded above was checked then (the folder is locked); one computed now is checked here
            record = done[k] if k not in todo else _saved(folder, k, key, n, into.dtype)
            if record is None:
                raise FileNotFoundError(f"{folder / f'share-{k:04d}.bin'}: share {k}'s Gram is not on this machine's "
                                        "disk, or damaged (shares run on workers that see the client's disk: a "
                                        "LocalCluster)")
            _add_packed(into, folder / f"share-{k:04d}.bin")
            selfs += record["selfs"]
    if not upper:
        for i in range(n - 1):
            into[i + 1:, i] = into[i, i + 1:]
    return selfs


# --------------------------------------------------------------------------- the partials on disk


def _write_packed(a: np.ndarray, path: Path) -> str:
    """Write ``a``'s upper triangle row after row (``a[i, i:]``) to ``path``, atomically; its digest."""
    h = hashlib.blake2b(digest_size=16)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for i in range(a.shape[0]):
            row = np.ascontiguousarray(a[i, i:])
            f.write(row.data)
            h.update(row.data)
    return h.hexdigest()


def _packed_problem(path: Path, n: int, dtype, expected: str) -> str | None:
    """What is wrong with the packed file ``path`` (its size for an ``n × n`` Gram of ``dtype``, its digest
    against ``expected``, :func:`_write_packed`'s), or None."""
    itemsize = np.dtype(dtype).itemsize
    size, want = path.stat().st_size, n * (n + 1) // 2 * itemsize
    if size != want:
        return f"it holds {size} bytes, a share of an {n} x {n} {np.dtype(dtype).name} Gram {want}"
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for i in range(n):
            h.update(f.read((n - i) * itemsize))
    return None if h.hexdigest() == expected else "its digest differs from the one saved with it (edited or damaged)"


def _add_packed(into: np.ndarray, path: Path) -> None:
    """``into[i, i:] += row i`` of the packed upper triangle in ``path``."""
    n = into.shape[0]
    with open(path, "rb") as f:
        for i in range(n):
            into[i, i:] += np.frombuffer(f.read((n - i) * into.itemsize), dtype=into.dtype)


def _saved(folder: Path, k: int, key: dict, n: int, dtype):
    """Share k's saved record (``selfs``, ``packed``: the digest of its packed file, checked here), or None
    (not saved; or refused with a warning naming the file: damaged, edited, or made for another key)."""
    record = load_npz_checked(folder / f"share-{k:04d}.npz", {**key, "share": k})
    path = folder / f"share-{k:04d}.bin"
    if record is None or not path.exists():
        return None
    why = _packed_problem(path, n, dtype, str(record["packed"]))
    if why is not None:
        warnings.warn(f"{path}: {why}; the share is computed again", RuntimeWarning, stacklevel=3)
        return None
    return record


@contextlib.contextmanager
def _share_folder(checkpoint_dir, key):
    """The shares' folder (locked): under ``checkpoint_dir`` and kept, or temporary and removed."""
    if checkpoint_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="fastgnn-shares-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    folder = Path(checkpoint_dir) / f"shares-{digest(key)[:24]}"
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):
        yield folder


def _bar(progress: bool, total: int, done: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"GNTK colour shares ({total} shares of the triangle)",
                unit="share")
