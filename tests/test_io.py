"""fastgnn.io: strict JSON output and atomic writes."""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import textwrap
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


# --------------------------------------------------------------------------- checked files, locks, kills (issue 24)


def test_a_checked_npz_is_served_only_for_its_key_and_contents(tmp_path):
    from fastgnn.io import load_npz_checked, save_npz_checked

    path = tmp_path / "c.npz"
    key = {"data": "abc", "C": [0.1, 1.0], "dtype": "float64"}
    save_npz_checked(path, {"test": np.arange(6.0).reshape(2, 3)}, key)
    assert np.array_equal(load_npz_checked(path, key)["test"], np.arange(6.0).reshape(2, 3))
    assert load_npz_checked(tmp_path / "absent.npz", key) is None
    with pytest.warns(RuntimeWarning, match="c.npz: not used, it was made for another key"):
        assert load_npz_checked(path, {**key, "dtype": "float32"}) is None
    with np.load(path) as z:
        arrays = dict(z)
    arrays["test"][0, 0] = 1.0
    np.savez(path, **arrays)
    with pytest.warns(RuntimeWarning, match="c.npz: not used, its contents do not match its digest"):
        assert load_npz_checked(path, key) is None
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(RuntimeWarning, match="c.npz: not used, it cannot be read"):
        assert load_npz_checked(path, key) is None
    np.savez(path, test=np.zeros(3))  # an old cache file: no key, no digest
    with pytest.warns(RuntimeWarning, match="carries no key or digest"):
        assert load_npz_checked(path, key) is None


def test_a_checked_npy_is_memory_mapped_and_verified(tmp_path):
    from fastgnn.io import load_npy_checked, save_npy_checked

    path = tmp_path / "r.npy"
    a = np.random.default_rng(0).random((3, 5, 5))
    save_npy_checked(path, a, {"k": 1})
    got = load_npy_checked(path, {"k": 1})
    assert isinstance(got, np.memmap) and np.array_equal(got, a)
    b = a.copy()
    b[:, :2] *= 1.01
    np.save(path, b)
    with pytest.warns(RuntimeWarning, match="r.npy: not used, its contents do not match its digest"):
        assert load_npy_checked(path, {"k": 1}) is None


def test_file_lock_excludes_another_holder_and_dies_with_its_process(tmp_path):
    from fastgnn.io import file_lock

    lock = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from fastgnn.io import file_lock
        with file_lock({str(lock)!r}):
            print("held", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with file_lock(lock, wait=False) as held:
            assert held is False
    finally:
        holder.kill()  # kill -9: the lock goes with the process
        holder.wait()
    with file_lock(lock, wait=False) as held:
        assert held is True


KILLED_BETWEEN_WRITE_AND_RENAME = textwrap.dedent("""
    import os, signal, sys
    from fastgnn.io import save_json
    os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # the fault: killed after the write, before the rename
    save_json(sys.argv[1], {"value": "new"})
""")


def test_a_kill_between_write_and_rename_leaves_the_old_file_whole(tmp_path):
    """Making the writes non-atomic kept every resume test green: their interruptions fell between files.  A process
    killed -9 after writing the temporary file and before the rename leaves the old file, whole; the leftover is
    the temporary file, which sweep_temporaries removes."""
    from fastgnn.io import sweep_temporaries

    path = tmp_path / "record.json"
    save_json(path, {"value": "old"})
    run = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_WRITE_AND_RENAME, str(path)], timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert json.loads(path.read_text()) == {"value": "old"}
    (leftover,) = tmp_path.glob(".record.json.*")
    assert json.loads(leftover.read_text()) == {"value": "new"}  # written whole, never renamed
    assert sweep_temporaries(tmp_path, "record.json") == [leftover] and [p.name for p in tmp_path.iterdir()] == [
        "record.json"]


def test_checked_meta_reads_the_metadata_made_for_the_key_with_or_without_its_array(tmp_path):
    from fastgnn.io import checked_meta, save_npy_checked

    path = tmp_path / "a.npy"
    save_npy_checked(path, np.arange(6.0).reshape(2, 3), {"k": 1}, {"seconds": 2.5})
    meta = checked_meta(path, {"k": 1})
    assert meta["shape"] == [2, 3] and meta["note"] == {"seconds": 2.5} and isinstance(meta["digest"], str)
    assert checked_meta(path, {"k": 2}) is None and checked_meta(tmp_path / "b.npy", {"k": 1}) is None
    path.unlink()  # the array gone: its metadata still names its digest
    assert checked_meta(path, {"k": 1}) == meta
    path.with_name("a.npy.meta.json").write_text("{not json")
    assert checked_meta(path, {"k": 1}) is None
