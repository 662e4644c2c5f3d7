"""GNTK.fit_transform_to_disk in this process (tests/distributed/test_distributed.py runs it on Dask
too): the files, their values against the in-memory run, the readouts outside the budget, failures
that leave no file behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from fastgnn import GNTK, Graph
from fastgnn.datasets import synthetic
from fastgnn.gntk import plan
from fastgnn.gntk.outofcore import DiskGram, combine_by_bands, npy_map
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gram import cosine

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def graphs():
    return synthetic(num_graphs=20, min_nodes=5, max_nodes=16, seed=4).graphs


@pytest.mark.parametrize("jk", [True, False])
@pytest.mark.parametrize("normalize", [False, True])
def test_on_disk_equals_in_memory_with_the_readouts_budget(graphs, tmp_path, jk, normalize):
    """The plan of an out-of-core run with max_memory=B is that of an in-memory run with B plus the
    readouts' bytes: the same Gram and readouts, bitwise; fitted attributes set, the parameter as given."""
    small = 64 * 64 * 8 * plan.LIVE_TILES
    readout_bytes = 8 * 3 * len(graphs) ** 2
    est = GNTK(num_layers=3, jk=jk, normalize=normalize, max_memory=small)
    disk = est.fit_transform_to_disk(graphs, tmp_path, band_bytes=3 * 20 * 8 * 3)  # bands of 3 rows
    ref = GNTK(num_layers=3, jk=jk, normalize=normalize, max_memory=small + readout_bytes)
    assert isinstance(disk, DiskGram) and isinstance(disk.gram, np.memmap) and not disk.gram.flags.writeable
    assert np.array_equal(disk.gram, ref.fit_transform(graphs))
    assert np.array_equal(disk.readouts, ref.readouts(graphs))
    assert est.max_memory == small and est.time_ > 0
    assert np.array_equal(est.self_readouts_, np.diagonal(disk.readouts, axis1=1, axis2=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gram.npy", "readouts.npy"]


def test_refusals_leave_no_files(tmp_path):
    with pytest.raises(ValueError, match="out of core needs method='batched'"):
        GNTK(method="decoupled").fit_transform_to_disk([], tmp_path / "a")
    zero = Graph(torch.tensor([[0], [1]]).reshape(2, 1), 2, torch.zeros(2, 1))
    one = Graph(torch.tensor([[0], [1]]).reshape(2, 1), 2, torch.ones(2, 1))
    with pytest.raises(ValueError, match=r"fit_transform_to_disk: normalize=True, but graph 1 has self-kernel 0"):
        GNTK(normalize=True).fit_transform_to_disk([one, zero], tmp_path / "b")
    assert not (tmp_path / "a").exists() and list((tmp_path / "b").iterdir()) == []


def test_npy_map_is_renamed_only_when_complete(tmp_path):
    with npy_map(tmp_path / "ok.npy", (2, 3)) as a:
        a[:] = 7.0
    assert np.array_equal(np.load(tmp_path / "ok.npy"), np.full((2, 3), 7.0))
    with pytest.raises(RuntimeError, match="killed"), npy_map(tmp_path / "bad.npy", (2, 3)):
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.npy"]


@pytest.mark.parametrize("band_bytes", [1, 3 * 7 * 8 * 2, 10**9])
def test_combine_by_bands_is_the_whole_combination_bitwise(band_bytes):
    rng = np.random.default_rng(0)
    x = rng.random((7, 4))
    parts = np.stack([x @ x.T * (k + 1) for k in range(3)])
    d = combine_readouts(np.diagonal(parts, axis1=1, axis2=2), 3, True)
    for self_kernels, want in ((None, combine_readouts(parts, 3, True)),
                               (d, cosine(combine_readouts(parts, 3, True), d))):
        gram = np.empty((7, 7))
        combine_by_bands(parts, gram, num_layers=3, jk=True, self_kernels=self_kernels, band_bytes=band_bytes)
        assert np.array_equal(gram, want)


# --------------------------------------------------------------------------- a full disk, leftovers (issue 24, 4)


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_too_little_free_space_is_refused_before_any_work(graphs, tmp_path, monkeypatch):
    """No free-space check before starting: the run died later, without a word (memory-map writes: SIGBUS)."""
    import fastgnn.gntk.engine as engine
    import fastgnn.gntk.outofcore as outofcore

    calls = []
    monkeypatch.setattr(engine, "compute_tile", lambda *a, **k: calls.append(1))
    free = shutil.disk_usage(tmp_path)._replace(free=1000)
    monkeypatch.setattr(outofcore.shutil, "disk_usage", lambda path: free)
    need = outofcore.disk_needs(tmp_path / "out", None, len(graphs), 3)[tmp_path / "out"]
    with pytest.raises(OSError, match=rf"not enough disk space: {tmp_path / 'out'} {need:,} bytes needed, 1,000 bytes "
                                      "free") as e:
        GNTK(num_layers=3).fit_transform_to_disk(graphs, tmp_path / "out")
    assert e.value.errno == errno.ENOSPC and calls == []
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_disk_that_fills_meanwhile_is_a_clear_error_and_the_finished_tiles_are_kept(graphs, tmp_path, monkeypatch):
    """The disk fills while the Gram is written: an OSError naming the file, no temporary file left, and the
    checkpoint's tiles kept, so the rerun computes nothing again."""
    import fastgnn.gntk.engine as engine
    import fastgnn.gntk.outofcore as outofcore

    small = 64 * 64 * 8 * plan.LIVE_TILES
    kw = dict(num_layers=3, max_memory=small, checkpoint_dir=tmp_path / "ck")
    real_reserve = os.posix_fallocate
    sizes = []

    def fills_at_the_gram(fd, offset, length):  # the readouts' file fits, the Gram's does not
        sizes.append(length)
        if len(sizes) == 2:
            _no_space()
        return real_reserve(fd, offset, length)

    monkeypatch.setattr(outofcore.os, "posix_fallocate", fills_at_the_gram)
    with pytest.raises(OSError, match=rf"{tmp_path / 'out' / 'gram.npy'}: cannot reserve .*No space left") as e:
        GNTK(**kw).fit_transform_to_disk(graphs, tmp_path / "out")
    assert e.value.errno == errno.ENOSPC
    assert list((tmp_path / "out").iterdir()) == []  # neither file, no temporary one
    monkeypatch.setattr(outofcore.os, "posix_fallocate", real_reserve)  # space freed
    calls = []
    real = engine.compute_tile
    monkeypatch.setattr(engine, "compute_tile", lambda *a, **k: calls.append(1) or real(*a, **k))
    disk = GNTK(**kw).fit_transform_to_disk(graphs, tmp_path / "out")
    assert calls == []  # every tile from the checkpoint
    assert np.array_equal(disk.gram, GNTK(num_layers=3, max_memory=small + 8 * 3 * 20**2).fit_transform(graphs))


def test_a_full_disk_while_saving_a_tile_names_the_checkpoint_and_keeps_the_rest(graphs, tmp_path, monkeypatch):
    import fastgnn.gntk.checkpoints as checkpoints
    import fastgnn.gntk.engine as engine

    small = 64 * 64 * 8 * plan.LIVE_TILES
    kw = dict(num_layers=3, max_memory=small, checkpoint_dir=tmp_path / "ck", colour_pairs=False)
    real_save = checkpoints.save_npy
    saved = []

    def full_after_three(path, array):
        if len(saved) == 3:
            _no_space()
        saved.append(path)
        return real_save(path, array)

    monkeypatch.setattr(checkpoints, "save_npy", full_after_three)
    with pytest.raises(OSError, match=r"checkpoint .*: tile r.* could not be saved .* the 3 tiles saved before are "
                                      "kept: free some space and run again"):
        GNTK(**kw).fit_transform(graphs)
    monkeypatch.setattr(checkpoints, "save_npy", real_save)
    calls = []
    real = engine.compute_tile
    monkeypatch.setattr(engine, "compute_tile", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = GNTK(**kw).fit_transform(graphs)
    (folder,) = (tmp_path / "ck").iterdir()
    assert len(calls) == json.loads((folder / "manifest.json").read_text())["num_tiles"] - 3
    assert np.array_equal(got, GNTK(num_layers=3, max_memory=small, colour_pairs=False).fit_transform(graphs))


def test_temporary_files_of_a_killed_run_are_swept_by_the_next(graphs, tmp_path):
    """Every killed run left a hidden `.readouts.npy.*.npy` (8 L n² bytes) that later runs never removed."""
    out = tmp_path / "out"
    out.mkdir()
    for name in (".readouts.npy.k1ll3d.npy", ".gram.npy.x2y3z4.npy"):
        (out / name).write_bytes(b"\0" * 4096)
    GNTK(num_layers=3).fit_transform_to_disk(graphs, out)
    assert sorted(p.name for p in out.iterdir()) == ["gram.npy", "readouts.npy"]


KILLED_IN_A_WRITE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from fastgnn.gntk.outofcore import npy_map
    with npy_map(sys.argv[1], (64, 1024)) as a:
        a[:32] = 1.0
        os.kill(os.getpid(), signal.SIGKILL)  # killed inside the write, half the map filled
""")


def test_a_kill_inside_a_write_leaves_no_file_and_the_next_write_sweeps_its_leftover(tmp_path):
    """Interruptions in the resume tests fell between files, never inside a write: here a process is killed -9
    with its memory map half written."""
    target = tmp_path / "readouts.npy"
    run = subprocess.run([sys.executable, "-c", KILLED_IN_A_WRITE, str(target)], capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert not target.exists()
    (leftover,) = (p for p in tmp_path.glob(".readouts.npy.*") if p.suffix == ".npy")  # the killed process's
    with npy_map(target, (2, 2)) as a:
        a[:] = 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readouts.npy"] and not leftover.exists()
    assert np.array_equal(np.load(target), np.full((2, 2), 3.0))


TMPFS_RUN = textwrap.dedent("""
    import sys
    from fastgnn import GNTK
    from fastgnn.datasets import synthetic
    import fastgnn.gntk.estimator as estimator
    if hasattr(estimator, "check_free_space"):
        estimator.check_free_space = lambda *a, **k: None  # as if the disk filled after the check
    graphs = synthetic(num_graphs=200, min_nodes=5, max_nodes=10, seed=0).graphs  # 8 * 4 * 200^2 = 1.3 MB in all
    try:
        GNTK(num_layers=3, colour_pairs=False).fit_transform_to_disk(graphs, sys.argv[1])
    except OSError as e:
        print("OSError:", e)
        sys.exit(3)
""")


def test_a_real_full_disk_is_an_error_not_a_sigbus(tmp_path):
    """A 1 MB tmpfs (where this machine lets the tests mount one: root on Linux): the memory-map writes died of
    SIGBUS (rc 135); the blocks are now reserved first, so the error is an OSError naming the file."""
    mount = tmp_path / "small"
    mount.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root on Linux)")
    try:
        run = subprocess.run([sys.executable, "-c", TMPFS_RUN, str(mount / "out")], capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 3, (run.returncode, run.stderr[-2000:])
        assert ".npy: cannot reserve" in run.stdout and "No space left on device" in run.stdout
        assert list((mount / "out").iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
