"""Resumable stages: each (stage, dataset) result is one JSON file, written atomically when it ends.

``<out>/stages/<stage>/<dataset>.json`` holds ``{"stage", "dataset", "key", "seconds", "finished",
"result"}``.  :meth:`StageStore.run` returns the saved record when its ``key`` (the dataset's
fingerprint and the settings the stage depends on) equals the current one, and otherwise runs
the stage and saves it; a stage interrupted before its end left no file, so it runs again.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fastgnn.gntk.aggregate import graph_key
from fastgnn.io import finite, save_json, to_json

__all__ = ["StageStore", "fingerprint", "plain"]


class StageStore:
    """The finished stages under ``out``; ``log`` (one string per call) reports skips and runs."""

    def __init__(self, out, log=print):
        self.out = Path(out)
        self.log = log or (lambda s: None)

    def path(self, stage: str, dataset: str) -> Path:
        return self.out / "stages" / stage / f"{dataset}.json"

    def load(self, stage: str, dataset: str, key: dict | None = None) -> dict | None:
        """The saved record, or None when absent, unreadable or (given ``key``) made with another key."""
        path = self.path(stage, dataset)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if key is not None and record.get("key") != plain(key):
            return None
        return record

    def run(self, stage: str, dataset: str, key: dict, fn) -> dict:
        """The record of ``fn()`` (a JSON-able dict): loaded when finished before with ``key``, else
        computed, timed (wall clock) and saved.  The record's ``resumed`` says which."""
        record = self.load(stage, dataset, key)
        if record is not None:
            self.log(f"[{stage}] {dataset}: finished earlier ({record['seconds']:.1f} s), skipped")
            return {**record, "resumed": True}
        if self.path(stage, dataset).exists():
            self.log(f"[{stage}] {dataset}: saved result made with other data or settings; running again")
        self.log(f"[{stage}] {dataset}: running")
        t0 = time.perf_counter()
        result = fn()
        record = {"stage": stage, "dataset": dataset, "key": plain(key), "seconds": time.perf_counter() - t0,
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "result": result}
        save_json(self.path(stage, dataset), record)
        self.log(f"[{stage}] {dataset}: done in {record['seconds']:.1f} s")
        return {**json.loads(to_json(record)), "resumed": False}


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


def plain(obj):
    """``obj`` as it reads back from JSON (tuples become lists, NaN None), for comparing keys."""
    return json.loads(to_json(finite(obj)))
