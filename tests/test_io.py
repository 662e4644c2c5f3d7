"""fastgnn.io: strict JSON output and atomic writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fastgnn.io import atomic_path, save_json, to_json


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
