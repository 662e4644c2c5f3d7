"""Resumable stages: each (stage, dataset) result is one JSON file, written atomically when it ends.

``<out>/stages/<stage>/<dataset>.json`` holds ``{"stage", "dataset", "key", "seconds", "finished",
"result", "format", "digest"}``.  :meth:`StageStore.run` returns the saved record when its ``key`` (the
dataset's fingerprint and the settings the stage depends on) equals the current one, and otherwise runs
the stage and saves it; a stage interrupted before its end left no file, so it runs again.

**Integrity.**  The record's ``digest`` (:func:`fastgnn.io.digest` of everything else in it, with
:data:`FORMAT`) is checked on every read: a record edited by hand, damaged or cut short is never
served; :meth:`StageStore.run` warns with its path and runs the stage again, and the report's
gathering of other datasets' records (:meth:`StageStore.load` without a key) warns and leaves it out.
**Concurrency.**  Two runs sharing ``out`` never compute one (stage, dataset) twice: it is run under
a lock (:func:`fastgnn.io.file_lock`, ``<out>/stages/locks/``); the second run waits, then reads it.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fastgnn.gntk.aggregate import graph_key
from fastgnn.io import digest, file_lock, finite, save_json, to_json

__all__ = ["StageStore", "fingerprint", "plain", "FORMAT"]

#: the stage records' format (2: a digest checked on read), part of every record's digest
FORMAT = 2


class StageStore:
    """The finished stages under ``out``; ``log`` (one string per call) reports skips and runs."""

    def __init__(self, out, log=print):
        self.out = Path(out)
        self.log = log or (lambda s: None)

    def path(self, stage: str, dataset: str) -> Path:
        return self.out / "stages" / stage / f"{dataset}.json"

    def load(self, stage: str, dataset: str, key: dict | None = None) -> dict | None:
        """The saved record, or None when absent or (given ``key``) made with another key; None with a one-line
        ``RuntimeWarning`` naming the file when it cannot be read or fails its digest."""
        record, why = self._read(stage, dataset)
        if why is not None and why != "absent":
            warnings.warn(f"{self.path(stage, dataset)}: not used, {why}", RuntimeWarning, stacklevel=2)
        if record is None or (key is not None and record.get("key") != plain(key)):
            return None
        return record

    def run(self, stage: str, dataset: str, key: dict, fn) -> dict:
        """The record of ``fn()`` (a JSON-able dict): loaded when finished before with ``key``, else
        computed, timed (wall clock) and saved.  The record's ``resumed`` says which."""
        path = self.path(stage, dataset)
        with file_lock(self.out / "stages" / "locks" / f"{stage}-{dataset}.lock", on_wait=self.log):
            record, why = self._read(stage, dataset)
            if record is not None and record.get("key") == plain(key):
                self.log(f"[{stage}] {dataset}: finished earlier ({record['seconds']:.1f} s), skipped")
                return {**record, "resumed": True}
            if record is not None:
                self.log(f"[{stage}] {dataset}: saved result made with other data or settings; running again")
            elif why != "absent":
                warnings.warn(f"{path}: not used, {why}; running the stage again", RuntimeWarning, stacklevel=2)
                self.log(f"[{stage}] {dataset}: saved result {path} not used ({why}); running again")
            self.log(f"[{stage}] {dataset}: running")
            t0 = time.perf_counter()
            result = fn()
            record = plain({"stage": stage, "dataset": dataset, "key": key, "seconds": time.perf_counter() - t0,
                            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "result": result,
                            "format": FORMAT})
            save_json(path, {**record, "digest": _digest(record)})
        self.log(f"[{stage}] {dataset}: done in {record['seconds']:.1f} s")
        return {**record, "resumed": False}

    def _read(self, stage: str, dataset: str) -> tuple[dict | None, str | None]:
        """``(record, None)``, or ``(None, why)``: ``"absent"``, or why the file is not used."""
        path = self.path(stage, dataset)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None, "absent"
        except OSError as exc:
            return None, f"it cannot be read ({exc})"
        try:
            record = json.loads(text)
        except ValueError as exc:
            return None, f"it is damaged or cut short (not JSON: {exc})"
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            return None, f"its format is not {FORMAT} (written by an older fastgnn?)"
        claimed = record.pop("digest", None)
        if claimed != _digest(record):
            return None, "its contents do not match its digest (edited or damaged)"
        return record, None


def fingerprint(dataset) -> str:
    """A short digest of a dataset's graphs (structure, features), labels and folds: a saved result
    is never served for other data.  O(total edges + nodes x features)."""
    h = hashlib.blake2b(digest_size=8)
    for g in dataset.graphs:
        h.update(graph_key(g.edge_index, g.x, g.num_nodes))
    h.update(np.ascontiguousarray(np.asarray(dataset.y, dtype=np.int64)).tobytes())
    for train, test in dataset.folds:
        h.update(np.asarray(train, dtype=np.int64).tobytes())
        h.update(b"|")
        h.update(np.asarray(test, dtype=np.int64).tobytes())
    return h.hexdigest()


def _digest(record: dict) -> str:
    return digest(plain(record))


def plain(obj):
    """``obj`` as it reads back from JSON (tuples become lists, NaN None), for comparing keys."""
    return json.loads(to_json(finite(obj)))
