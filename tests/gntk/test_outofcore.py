"""GNTK.fit_transform_to_disk in this process (tests/distributed/test_distributed.py runs it on Dask
too): the files, their values against the in-memory run, the readouts outside the budget, failures
that leave no file behind."""

from __future__ import annotations

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
