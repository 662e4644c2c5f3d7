"""Checkpoints of the colour-pair path by blocks (:mod:`fastgnn.gntk.colour_blocks`): a killed run resumes
at the block it had reached, bitwise.

The blocked path's state after a block is small against its work: the readouts of the depths done,
the partial sum of the depth under way (a rectangle's mirrored part too), the next depth's diagonal
gathered so far, and the diagonals of the blocked depths.  :class:`ColourCheckpoint` saves it (at most every
``every`` seconds, and at the end of each blocked depth) as one checked ``.npz``
(:func:`fastgnn.io.save_npz_checked`: written atomically, its key and a digest of its bytes checked on
read) in a folder named by a fingerprint of everything that determines the numbers: the dataset's
colours and count matrices, the depth, R, the dtype, the plan (held depth and rows per block, which
fix the summation order) and the rectangle's split.  A resumed run recomputes the held depths (their
matrices are not saved: ``C_W²`` each), then continues with the saved block; the sums run in the same
order, so the Gram is bitwise that of an uninterrupted run.  A damaged, edited or foreign state file
is refused with a warning naming it (the run starts over); a lock file keeps two runs on one folder
from computing the same thing (the second waits, then resumes from what the first saved).

Each state also records the seconds the run and the runs it resumed spent so far (``work_seconds``); a state read
back notes them (:func:`fastgnn.gntk.checkpoints.note_resumed`), so a resumed run's report can give its work
apart from its wall time.

Cost: each save writes ``(depth + 1) n²`` float64 (NCI1: 135 MB per ``n × n``; a rectangle's mirror
``n_r n_c`` more), hashed once.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fastgnn.gntk.checkpoints import note_resumed
from fastgnn.io import digest, file_lock, load_npz_checked, save_npz_checked

__all__ = ["ColourCheckpoint", "colours_fingerprint", "FORMAT"]

#: the state file's format (part of the key)
FORMAT = 2
STATE_FILE = "state.npz"


def colours_fingerprint(colours, num_blocks: int) -> str:
    """A digest of the dataset's colours up to ``num_blocks``: features, labels, count matrices, graphs."""
    arrays = [colours.features, colours.graph_of]
    for depth in range(num_blocks + 1):
        arrays.append(colours.labels[depth])
        if depth:
            arrays.extend(colours.counts[depth])
    return digest(["colours", num_blocks], *arrays)


class ColourCheckpoint:
    """The state of one blocked colour-pair run under ``root/colour-{key digest}/``.

    ``key``: a JSON-able dict of everything that determines the result (see the module docstring);
    ``every``: least seconds between two saves within a depth.  Use as a context manager: it holds the
    folder's lock for the run.
    """

    def __init__(self, root, key: dict, every: float = 60.0):
        self.key = {"format": FORMAT, **key}
        self.folder = Path(root) / f"colour-{digest(self.key)[:24]}"
        self.every = float(every)
        self._last = time.monotonic()
        self._lock = None
        self._start = time.monotonic()
        self.resumed_seconds = 0.0  # what the state read back had cost (its work_seconds)

    def __enter__(self) -> ColourCheckpoint:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = file_lock(self.folder / ".lock")
        self._lock.__enter__()
        self._start = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    def load(self) -> dict | None:
        """The saved state (name -> array), or None (none yet; or refused with a warning naming the file); its
        recorded seconds noted (:func:`~fastgnn.gntk.checkpoints.note_resumed`) and kept as ``resumed_seconds``."""
        state = load_npz_checked(self.folder / STATE_FILE, self.key)
        if state is not None:
            seconds = state.pop("work_seconds", None)
            self.resumed_seconds = 0.0 if seconds is None else float(seconds)
            note_resumed(seconds)
        return state

    def due(self, end_of_depth: bool) -> bool:
        """Whether to save now: at the end of a depth, or ``every`` seconds after the last save."""
        return end_of_depth or time.monotonic() - self._last >= self.every

    def save(self, state: dict) -> None:
        """Save ``state`` (atomically, checked) with ``work_seconds``: the resumed runs' seconds and this run's."""
        work = self.resumed_seconds + time.monotonic() - self._start
        arrays = {**{k: np.asarray(v) for k, v in state.items()}, "work_seconds": np.asarray(work)}
        save_npz_checked(self.folder / STATE_FILE, arrays, self.key)
        self._last = time.monotonic()
