"""Per-tile checkpoints of a Gram: a folder named by a fingerprint of the inputs, one file per tile.

With ``checkpoint_dir`` the engine (:func:`fastgnn.gntk.engine.gram_readouts`) saves every finished
tile as it completes (``fastgnn.io.save_npy``: temporary file, then rename) in a folder named by a
:func:`fingerprint` of everything that determines the result (the operands' tensors, the depth, the
dtype and device, rows vs columns...).  A run restarted with the same arguments loads the finished
tiles and computes the rest; the result is bitwise the same as an uninterrupted run's.  The folder
stays after the run (a finished run is then read back, not recomputed); delete it to free the space.

**Integrity.**  A tile file is named by the graph ranges it holds and carries a :func:`tile_digest`
of its contents *bound to the run*: the fingerprint (the data and every setting) and the tile's
name (its place in the plan).  A damaged file, and a whole tile substituted with its own digest
(from another run, other data, or another plan: e.g. a checkpoint folder received from
elsewhere), is detected, reported (a warning naming the file), deleted and recomputed, never
used.  The manifest carries a digest too: a plan read back from an edited or damaged manifest is
not trusted (:meth:`Checkpoint.resumed_tile_nodes` bounds it besides).  This guards against
accidents and mix-ups, not against a forger who can write the folder and recompute the digests.

**Concurrency.**  One run at a time writes a folder: a :class:`Checkpoint` holds an exclusive lock
(:func:`fastgnn.io.file_lock` on ``{folder}/lock``) from its creation until the run completes (or
the object is released); a second process on the same folder waits, then reads the finished tiles
instead of computing them.  Within one process a folder is not locked against itself.

**Work across runs.**  ``tile_seconds.txt`` records the seconds each tile took to compute (a line per tile,
``{name} {seconds}``, appended as it is saved: O(1) per tile; a line that does not parse is skipped), so a
resumed run can say what the tiles it read back cost the runs that made them: within
:func:`resumed_work` every checkpoint read back adds its recorded seconds (the colour-pair path's state,
:mod:`fastgnn.gntk.colour_resume`, and its shares and bands record them too).  A report of a run that resumed
then gives its wall time and its work (the wall time plus the resumed seconds) apart.  Tiles saved by an older
fastgnn carry no seconds: counted as ``untimed``.

Cost: the fingerprint hashes every operand once (O(total operand bytes)); a tile's digest hashes
its block (O(block bytes)) when it is saved and when it is loaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fastgnn.gntk.pairwise import Operand
from fastgnn.io import digest, file_lock, save_json, save_npy, to_json

__all__ = ["FORMAT", "Checkpoint", "block_digest", "tile_digest", "fingerprint", "MAX_RESUMED_RATIO", "resumed_work",
           "note_resumed"]

#: the checkpoint format (2: operands' row weights, i.e. class sizes, in the fingerprint; 3: tile digests bound
#: to the fingerprint and the tile's name, a digest on the manifest, the folder locked while a run writes it)
FORMAT = 3
#: a plan read back from a manifest (:meth:`Checkpoint.resumed_tile_nodes`) is used only within this factor of
#: the one planned now (an automatic budget drifts by a power of two, not by orders of magnitude)
MAX_RESUMED_RATIO = 16
_MIN_TILE_NODES, _MAX_TILE_NODES = 64, 2**24

#: the append-only log of each tile's seconds, in the checkpoint's folder
SECONDS_FILE = "tile_seconds.txt"

_RESUMED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fastgnn_resumed_work", default=None)


@contextlib.contextmanager
def resumed_work():
    """Count, within the block, what the checkpointed work read back cost the runs that made it.

    Yields a dict that ends as ``{"seconds": s, "untimed": k}``: ``s`` the seconds recorded for every
    tile or colour-pair state read back (:func:`note_resumed`), ``k`` the pieces read back that recorded
    none (saved by an older fastgnn).  Zero and zero when nothing was resumed.  Nested blocks each count
    their own (the innermost gets the notes).
    """
    ledger = {"seconds": 0.0, "untimed": 0}
    token = _RESUMED.set(ledger)
    try:
        yield ledger
    finally:
        _RESUMED.reset(token)


def note_resumed(seconds) -> None:
    """A checkpointed piece was read back; ``seconds``: what it cost the run that made it (a number or a 0-d
    array as a record holds it; None: not recorded).  Outside :func:`resumed_work`, nothing."""
    ledger = _RESUMED.get()
    if ledger is None:
        return
    if seconds is None:
        ledger["untimed"] += 1
    else:
        ledger["seconds"] += float(seconds)


def _read_seconds(path: Path) -> dict[str, float]:
    """The tiles' seconds from the log at ``path`` (the last line of a tile wins); lines that are not a name and a
    finite non-negative number (a line torn by a kill, an edit) are skipped.  Empty when there is no log."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    seconds = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            value = float(parts[1])
        except ValueError:
            continue
        if 0 <= value < float("inf"):
            seconds[parts[0]] = value
    return seconds


def fingerprint(
    rows: Sequence[Operand],
    cols: Sequence[Operand] | None,
    *,
    num_blocks: int,
    num_mlp_layers: int,
    sketched: bool,
    config: dict | None = None,
) -> str:
    """A hex digest of everything that determines the readouts.

    Every operand's tensors (features, aggregation matrix, sketch factors,
    self-diagonals: so the graphs, ``scale``, the sketch and its seed, and the
    dtype), their device type, the depth, rows vs columns (``cols=None``: the
    symmetric Gram), and ``config`` (any further settings, JSON-serialisable).
    The tile plan is not in it: tile files are named by their graph ranges.
    """
    h = hashlib.blake2b(digest_size=20)
    head = {
        "format": FORMAT,
        "num_blocks": int(num_blocks),
        "num_mlp_layers": int(num_mlp_layers),
        "sketched": bool(sketched),
        "symmetric": cols is None,
        "n_rows": len(rows),
        "n_cols": None if cols is None else len(cols),
        "config": config or {},
    }
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for side in (rows, [] if cols is None else cols):
        h.update(b"|side|")
        for op in side:
            for t in (op.x, op.a, op.sizes, op.sketch, op.sketched_a, *op.diags):
                _hash_tensor(h, t)
    return h.hexdigest()


def block_digest(block: np.ndarray) -> str:
    """A 16-hex-digit digest (BLAKE2b) of a block alone: its shape, dtype and bytes (the tile files of format 2;
    now :func:`tile_digest`, which binds the block to its run and place)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{block.shape}{block.dtype.str}".encode())
    h.update(np.ascontiguousarray(block).data)
    return h.hexdigest()


def tile_digest(key: str, name: str, block: np.ndarray) -> str:
    """A 32-hex-digit digest (BLAKE2b) of a tile's block bound to its run: the checkpoint's fingerprint ``key``,
    the tile's ``name`` (its graph ranges in the plan), the block's shape, dtype and bytes; the name a tile file
    carries, checked when it is loaded."""
    return digest({"format": FORMAT, "fingerprint": key, "tile": name}, np.ascontiguousarray(block))


class Checkpoint:
    """The folder of one run's finished tiles: ``{root}/{kind}-{fingerprint[:24]}/``.

    It holds ``manifest.json`` (the run: fingerprint, settings, plan, state) and
    one ``{tile name}.{digest}.npy`` per finished tile.  Files are written
    atomically; a tile whose file cannot be read, has the wrong shape or whose
    contents do not match its digest is reported (a warning), deleted and
    recomputed.
    """

    def __init__(self, root, key: str, *, symmetric: bool, manifest: dict | None = None):
        self.key = key
        self.folder = Path(root) / f"{'gram' if symmetric else 'cross'}-{key[:24]}"
        self.manifest_path = self.folder / "manifest.json"
        self.manifest = dict(manifest or {})
        self.manifest["fingerprint"] = key
        self._locked = _hold(self.folder)
        old = self.read_manifest()
        if old is not None and old.get("fingerprint") != key:
            self.release()
            raise RuntimeError(
                f"checkpoint {self.folder}: its manifest is for fingerprint {old.get('fingerprint')!r}, "
                f"not {key!r}; remove the folder or use another checkpoint_dir"
            )
        if old is not None and old.pop("digest", None) != digest(old):
            warnings.warn(f"checkpoint {self.manifest_path}: its contents do not match its digest (edited or "
                          "damaged); its plan is not used (the tiles are checked one by one)", RuntimeWarning,
                          stacklevel=3)
            old = {"fingerprint": key}
        self.previous = old
        #: seconds each tile took, by tile name, over every run (read from :data:`SECONDS_FILE`)
        self.tile_seconds = _read_seconds(self.folder / SECONDS_FILE)

    def read_manifest(self) -> dict | None:
        """The manifest as saved (its ``digest`` included), or None when absent; an unreadable one is reported (a
        warning) and ignored: the tiles are checked one by one."""
        if not self.manifest_path.exists():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text())
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
            return manifest
        except (OSError, ValueError) as exc:
            warnings.warn(f"checkpoint {self.manifest_path}: unreadable ({exc}); ignored (the tiles are checked one "
                          "by one)", RuntimeWarning, stacklevel=3)
            return None

    def write_manifest(self, **updates) -> None:
        """Save the manifest with ``updates`` (and a digest); ``complete=True`` also releases the folder's lock."""
        self.manifest.update(updates, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.manifest.pop("digest", None)
        save_json(self.manifest_path, {**self.manifest, "digest": digest(json.loads(to_json(self.manifest)))})
        if updates.get("complete"):
            self.release()

    def resumed_tile_nodes(self, planned: int) -> int:
        """The ``tile_nodes`` of the plan the previous run saved, to resume with, when it is an integer within
        [64, 2^24] and within :data:`MAX_RESUMED_RATIO` of ``planned`` (the value planned now); else ``planned``,
        with a warning (an edited manifest once planned 619,941 tiles)."""
        value = (self.previous or {}).get("tile_nodes")
        if value is None:
            return int(planned)
        ok = isinstance(value, int) and not isinstance(value, bool) and _MIN_TILE_NODES <= value <= _MAX_TILE_NODES
        if ok and max(value / planned, planned / value) <= MAX_RESUMED_RATIO:
            return value
        warnings.warn(f"checkpoint {self.manifest_path}: its tile_nodes={value!r} is out of bounds (an integer in "
                      f"[{_MIN_TILE_NODES}, {_MAX_TILE_NODES}] within {MAX_RESUMED_RATIO}x of the {planned} planned "
                      f"now); planning with {planned}", RuntimeWarning, stacklevel=2)
        return int(planned)

    def finished(self) -> set[str]:
        """Names of the tiles with a file (not yet verified)."""
        if not self.folder.is_dir():
            return set()
        return {p.name.split(".", 1)[0] for p in self.folder.glob("r*_c*.*.npy")}

    def load(self, name: str, shape: tuple) -> np.ndarray | None:
        """A finished tile's block, or None (absent, or damaged or not this run's: then deleted, with a warning).
        A block read back notes its recorded seconds (:func:`note_resumed`)."""
        for path in sorted(self.folder.glob(f"{name}.*.npy")):
            claimed = path.name.split(".")[1]
            try:
                block = np.load(path, allow_pickle=False)
                ok = block.shape == tuple(shape) and tile_digest(self.key, name, block) == claimed
                why = "wrong shape, or contents not this run's tile"
            except Exception as exc:  # noqa: BLE001 (any unreadable file is recomputed)
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                note_resumed(self.tile_seconds.get(name))
                return block
            warnings.warn(f"checkpoint tile {path} is damaged ({why}); recomputing it", RuntimeWarning,
                          stacklevel=3)
            path.unlink(missing_ok=True)
        return None

    def save(self, name: str, block: np.ndarray, seconds: float | None = None) -> None:
        """Save a finished tile (atomically) and, with ``seconds`` (what computing it took), append them to
        :data:`SECONDS_FILE`; a full disk is an ``OSError`` naming the folder, the tiles saved before it kept
        for the rerun that resumes."""
        block = np.ascontiguousarray(block)
        try:
            save_npy(self.folder / f"{name}.{tile_digest(self.key, name, block)}.npy", block)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise OSError(exc.errno, f"checkpoint {self.folder}: tile {name} ({block.nbytes:,} bytes) could not be "
                                     f"saved ({os.strerror(exc.errno)}); the {len(self.finished())} tiles saved before "
                                     "are kept: free some space and run again to resume from them") from None
        if seconds is not None:
            self.tile_seconds[name] = float(seconds)
            with open(self.folder / SECONDS_FILE, "a") as log:
                log.write(f"{name} {float(seconds)!r}\n")

    def release(self) -> None:
        """Release the folder's lock (idempotent; also when the object is collected)."""
        if getattr(self, "_locked", False):
            self._locked = False
            _let_go(self.folder)

    def __del__(self):
        self.release()


# one lock per folder and process: a run in this process that died (its Checkpoint still referenced by a
# traceback) never blocks the next run in the same process
_HELD: dict[Path, list] = {}
_HELD_GUARD = threading.Lock()


def _hold(folder: Path) -> bool:
    folder = folder.resolve()
    with _HELD_GUARD:
        if folder in _HELD:
            _HELD[folder][1] += 1
            return True
    stack = contextlib.ExitStack()
    stack.enter_context(file_lock(folder / "lock", on_wait=lambda line: print(
        f"checkpoint {folder}: another run is writing it; {line}", file=sys.stderr)))
    with _HELD_GUARD:
        if folder in _HELD:  # another thread of this process took it meanwhile
            _HELD[folder][1] += 1
            stack.close()
        else:
            _HELD[folder] = [stack, 1]
    return True


def _let_go(folder: Path) -> None:
    folder = folder.resolve()
    with _HELD_GUARD:
        held = _HELD.get(folder)
        if held is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[folder]
    held[0].close()


def _hash_tensor(h, t) -> None:
    if t is None:
        h.update(b"none;")
        return
    h.update(f"{tuple(t.shape)}{t.dtype}{t.device.type};".encode())
    h.update(np.ascontiguousarray(t.detach().cpu().numpy()).data)
