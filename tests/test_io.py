"""fastgnn.io: strict JSON output and atomic writes."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from fastgnn.io import atomic_path, save_json, save_npy, save_text, to_json


def test_to_json_writes_null_for_nan_and_inf_where_json_dumps_writes_invalid_nan():
    obj = {"acc": math.nan, "per_seed": [0.5, float("inf"), np.float64("nan")], "arr": np.array([1.0, np.nan]),
           "n": np.int64(3), "path": Path("a/b"), "nested": ({"x": -math.inf},)}
    assert "NaN" in json.dumps({"acc": math.nan})  # what a plain dumps would have written
    back = json.loads(to_json(obj), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert back == {"acc": None, "per_seed": [0.5, None, None], "arr": [1.0, None], "n": 3, "path": "a/b",
                    "nested": [{"x": None}]}


def test_save_json_is_strict_and_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "out.json"
    save_json(path, {"acc": math.nan})
    assert json.loads(path.read_text()) == {"acc": None}
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == {"acc": None}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    """Files were created 0600 whatever the umask (mkstemp's mode); now as open() would make them."""
    old = os.umask(umask)
    try:
        paths = [save_json(tmp_path / "a.json", {"x": 1}), save_npy(tmp_path / "b.npy", np.zeros(2)),
                 save_text(tmp_path / "c.txt", "hi")]
        with open(tmp_path / "reference", "w") as f:  # what a plain open() gives under this umask
            f.write("")
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "reference").stat().st_mode)
    assert expected == 0o666 & ~umask
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == expected, p
