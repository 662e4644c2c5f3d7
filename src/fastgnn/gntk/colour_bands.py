"""The Gram on colour pairs by bands of graphs: pieces that are independent, so resumable and distributable.

:func:`~fastgnn.gntk.colour_blocks.blocked_gram` sums the upper triangle of colour pairs into the Gram:
every block of colour rows adds to the rows of every graph that holds one of its colours, so no piece of
the Gram is finished before the end, and two processes would each need the whole ``n × n``.  Here the
graphs are cut into bands ``a..b−1`` and band b computes the rows ``a..b−1`` of the Gram's upper triangle,
``K[a:b, a:n]``, alone: the rectangle (:mod:`fastgnn.gntk.colour_rectangle`) of the colours its graphs hold,
``R_b``, against those of graphs ``a..n−1``, ``F_{≥a}``, every colour's d from one shared
:func:`~fastgnn.gntk.colour_rectangle.colour_diagonals` pass.  A finished band is final: it is saved
(checked, atomically) and a killed run resumes at the bands not saved yet, bitwise; bands run as tasks
on an executor (a Dask cluster), each worker holding the colours and its band's rows.

Cost: ``Σ_b |R_{b,l}| |F_{≥a_b,l}|`` colour pairs per depth instead of the triangle's ``C_l² / 2``: a colour
held by graphs of several bands is a row of each.  Counted on ogbg-molhiv (L=4, 8 bands of equal node-pair
work, :func:`band_edges`): 1.64x the triangle at depth 3, 2.15x at depth 2 (5.3x at depth 0, whose pairs
are few); with 16 bands 1.68x and 2.37x.  So one process runs the triangle (faster by about that factor), and
resuming or Dask workers on this machine take shares of the triangle (:mod:`fastgnn.gntk.colour_shares`, each
colour pair once, each share a whole ``n × n`` partial on this disk); bands are for workers on other machines,
each returning its own rows.  Memory per band: the rectangle's
plan within ``max_bytes``, plus the band's rows ``8 (b − a)(n − a)`` bytes (outside it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fastgnn.gntk.checkpoints import note_resumed
from fastgnn.gntk.colour_rectangle import RectangleColours, colour_diagonals, rectangle_histograms, rectangle_pass
from fastgnn.gntk.colour_resume import colours_fingerprint
from fastgnn.gntk.engine import release_freed_memory
from fastgnn.io import digest, file_lock, load_npz_checked, save_npz_checked

__all__ = ["band_edges", "default_num_bands", "band_rows", "banded_gram", "BandInputs"]

#: the band files' format (part of their key)
FORMAT = 1


def default_num_bands(num_graphs: int, workers: int = 1) -> int:
    """8 bands (the fewest colour pairs on ogbg-molhiv, module docstring), or 4 per worker, at most one per
    graph."""
    return max(1, min(num_graphs, max(8, 4 * workers)))


def band_edges(colours, num_bands: int) -> np.ndarray:
    """``[B + 1]`` graph boundaries ``0 = e_0 < ... < e_B = n`` of at most ``num_bands`` bands of about equal
    work, graph i's work taken as its node pairs against the graphs from i on (``N_i Σ_{j ≥ i} N_j``)."""
    n = colours.num_graphs
    if num_bands < 1:
        raise ValueError(f"num_bands must be at least 1, got {num_bands}")
    cum = np.cumsum(_row_work(colours))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, num_bands) / num_bands, side="right")
    return np.unique(np.concatenate([[0], np.clip(cuts, 1, n - 1) if n > 1 else [], [n]])).astype(np.int64)


@dataclass
class BandInputs:
    """What every band reads (one object, so that an executor ships it to each worker once)."""

    colours: object
    diagonals: list
    num_blocks: int
    num_mlp_layers: int
    dtype: torch.dtype
    max_bytes: float
    depths: tuple
    out_dtype: np.dtype


def band_rows(inputs: BandInputs, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Band ``a..b−1``: ``(rows, self_readouts)``, the Gram's rows ``K[a:b, a:n]`` summed over
    ``inputs.depths`` (``[b − a, n − a]``, summed in float64, returned in ``inputs.out_dtype``) and every
    depth's readout of each band graph against itself (``[num_blocks + 1, b − a]`` float64)."""
    from fastgnn.gntk import _colour_kernels as ck
    from fastgnn.gntk.compiled_tile import numba_threads

    colours, num_blocks = inputs.colours, inputs.num_blocks
    n = colours.num_graphs
    rect = RectangleColours(colours, num_blocks, rows=(a, b), cols=(a, n))
    np_dtype = np.float64 if inputs.dtype == torch.float64 else np.float32
    hist_r, hist_c = rectangle_histograms(colours, rect)
    own = [_colours_by_graph(rect.col_labels[d], colours.graph_of, a, b) for d in range(num_blocks + 1)]
    rows = np.zeros((b - a, n - a))
    selfs = np.zeros((num_blocks + 1, b - a))
    summed = set(inputs.depths)

    def read_out(depth, t, row0):
        if depth in summed:
            p = ck.histogram_product(t, 0, *hist_c[depth], n - a)
            ck.add_rows(rows, p, row0, *hist_r[depth], 1.0)
        ck.add_self_pairs(selfs[depth], t, row0, *hist_r[depth], *own[depth])

    import numba

    with numba_threads(numba):
        rectangle_pass(colours, rect, inputs.diagonals, inputs.num_mlp_layers, np_dtype, inputs.max_bytes, read_out)
    release_freed_memory()  # the rectangle's arrays below glibc's mmap threshold (see the engine's)
    return rows.astype(inputs.out_dtype, copy=False), selfs


def banded_gram(colours, num_blocks: int, num_mlp_layers: int, dtype, max_bytes: float, into: np.ndarray,
                depths, *, num_bands: int | None = None, upper: bool = True, checkpoint_dir=None, run=None,
                progress: bool = False, diagonals: list | None = None) -> np.ndarray:
    """``into[i, j] = Σ_{l in depths} K_l[i, j]`` for i <= j (and j < i too unless ``upper``), band by band
    (module docstring); returns the self-readouts ``[num_blocks + 1, n]`` (every depth's diagonal).

    ``into``: an ``n × n`` array (float64, or float32: each band is summed in float64 and stored rounded),
    zero-filled where ``upper`` leaves it unwritten; it lives outside ``max_bytes``.  ``num_bands``: default
    :func:`default_num_bands`.  ``checkpoint_dir``: each finished band is saved there (a checked ``.npz``,
    written atomically, in a folder named by a digest of everything that fixes the numbers: the colours,
    depth, R, dtype, depths, bands and ``max_bytes``, whose plan fixes the summation order) and a rerun
    loads the saved bands instead of computing them, bitwise; a damaged or foreign band file is refused
    with a warning naming it and recomputed.  ``run``: where the bands run, a factory ``run(on_done)`` of a
    task runner ``runner(fn, args)`` that calls ``on_done(index, result)`` as each task ends (an executor's
    ``tasks``, e.g. ``lambda on_done: DaskRun(on_done=on_done, keep=False)``); None runs them here, one after
    the other.  ``diagonals``: every colour's
    d (:func:`~fastgnn.gntk.colour_rectangle.colour_diagonals`, computed when None).  The compiled path."""
    n = colours.num_graphs
    if into.shape != (n, n):
        raise ValueError(f"into has shape {into.shape}, the Gram ({n}, {n})")
    if diagonals is None:
        diagonals = colour_diagonals(colours, num_blocks, num_mlp_layers, dtype, max_bytes)
    edges = band_edges(colours, default_num_bands(n) if num_bands is None else num_bands)
    bands = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    inputs = BandInputs(colours, diagonals, num_blocks, num_mlp_layers, dtype, float(max_bytes),
                        tuple(sorted(int(d) for d in depths)), into.dtype)
    selfs = np.zeros((num_blocks + 1, n))
    key = {"bands": FORMAT, "colours": colours_fingerprint(colours, num_blocks), "num_blocks": num_blocks,
           "num_mlp_layers": num_mlp_layers, "dtype": str(dtype), "depths": list(inputs.depths),
           "edges": edges.tolist(), "max_bytes": float(max_bytes), "into": into.dtype.str}

    def place(i, result):
        a, b = bands[i]
        rows, band_selfs = result
        _place(into, rows, a, b, upper)
        selfs[:, a:b] = band_selfs

    with _band_store(checkpoint_dir, key) as store:
        todo = []
        for i, (a, b) in enumerate(bands):
            saved = store.load(i, a, b) if store is not None else None
            if saved is not None:
                note_resumed(saved.get("seconds"))
                place(i, (saved["rows"], saved["selfs"]))
            else:
                todo.append(i)
        work = np.add.reduceat(_row_work(colours), edges[:-1])  # each band's node pairs, for the bar
        bar = _bar(progress, work, todo)
        last = [time.perf_counter()]  # a band's seconds: since the band before it came

        def on_done(j, result):
            i = todo[j]
            place(i, result)
            now = time.perf_counter()
            if store is not None:
                store.save(i, *bands[i], result, now - last[0])
            last[0] = now
            if bar is not None:
                bar.update(float(work[i]))

        if run is None:
            for j, i in enumerate(todo):
                on_done(j, band_rows(inputs, *bands[i]))
        elif todo:
            run(on_done)(band_rows, [(inputs, *bands[i]) for i in todo])
        if bar is not None:
            bar.close()
    return selfs


# --------------------------------------------------------------------------- helpers


def _place(into: np.ndarray, rows: np.ndarray, a: int, b: int, upper: bool) -> None:
    """Write band ``a..b−1``'s rows ``K[a:b, a:n]``: the square on the diagonal by its upper triangle (its
    lower one is the same pairs summed in another order), mirrored unless ``upper``."""
    nb = b - a
    square = np.triu(rows[:, :nb])
    into[a:b, a:b] = square if upper else square + np.triu(square, 1).T
    into[a:b, b:] = rows[:, nb:]
    if not upper:
        into[b:, a:b] = rows[:, nb:].T


def _colours_by_graph(labels: np.ndarray, graph_of: np.ndarray, a: int, b: int):
    """Graphs ``a..b−1`` by rows (numbered from 0): ``(indptr, colours, counts float64)``, each graph's
    distinct colours of ``labels`` with their counts."""
    keep = (graph_of >= a) & (graph_of < b)
    size = int(labels.max()) + 1 if labels.size else 1
    uniq, cnt = np.unique((graph_of[keep] - a) * size + labels[keep], return_counts=True)
    g, col = np.divmod(uniq, size)
    indptr = np.zeros(b - a + 1, dtype=np.int64)
    np.cumsum(np.bincount(g, minlength=b - a), out=indptr[1:])
    return indptr, col.astype(np.int64), cnt.astype(np.float64)


def _row_work(colours) -> np.ndarray:
    """``[n]``: graph i's node pairs against the graphs from i on, ``N_i Σ_{j ≥ i} N_j``."""
    nodes = np.bincount(colours.graph_of, minlength=colours.num_graphs).astype(np.float64)
    return nodes * np.cumsum(nodes[::-1])[::-1]


def _work(colours, a: int, b: int) -> float:
    """Band ``a..b−1``'s node pairs in the upper triangle."""
    return float(_row_work(colours)[a:b].sum())


def _bar(progress, work: np.ndarray, todo: list):
    """A bar over the bands' node pairs (``work``), those not in ``todo`` already done."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    total = float(work.sum())
    done = total - float(work[todo].sum())
    return tqdm(total=total, initial=done, desc=f"GNTK colour bands ({len(work)} bands of graphs)",
                unit="node pair", unit_scale=True)


class _BandStore:
    """Finished bands under ``root/bands-{key digest}/band-{i}.npz`` (checked, atomic), the folder locked."""

    def __init__(self, root, key: dict):
        self.key = key
        self.folder = Path(root) / f"bands-{digest(key)[:24]}"

    def _path(self, i: int) -> Path:
        return self.folder / f"band-{i:05d}.npz"

    def load(self, i: int, a: int, b: int) -> dict | None:
        return load_npz_checked(self._path(i), {**self.key, "band": [a, b]})

    def save(self, i: int, a: int, b: int, result, seconds: float) -> None:
        rows, selfs = result
        save_npz_checked(self._path(i), {"rows": rows, "selfs": selfs, "seconds": np.asarray(float(seconds))},
                         {**self.key, "band": [a, b]})


@contextlib.contextmanager
def _band_store(checkpoint_dir, key):
    if checkpoint_dir is None:
        yield None
        return
    store = _BandStore(checkpoint_dir, key)
    store.folder.mkdir(parents=True, exist_ok=True)
    with file_lock(store.folder / ".lock"):
        yield store
