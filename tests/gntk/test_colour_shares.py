"""The Gram on colour pairs by shares of the triangle's row blocks (gntk/colour_shares.py), against independent
computations: Du et al.'s code transcribed in extended precision, and the colour pairs' triangle in one pass (the
same pairs, another summation order); resumed share by share, bitwise."""

import warnings

import numpy as np
import pytest
import torch

try:
    from .test_colour_bands import _graphs, assert_upper_gram_is_du_et_al
    from .test_colour_pairs import _deep_set
except ImportError:
    from test_colour_bands import _graphs, assert_upper_gram_is_du_et_al
    from test_colour_pairs import _deep_set

from fastgnn import GNTK
from fastgnn.gntk import colour_blocks, colour_pairs, colour_shares, compiled_tile

pytestmark = pytest.mark.skipif(not compiled_tile.available(), reason="the shares are the compiled path (numba)")


@pytest.mark.parametrize("scale, jk, num_mlp_layers, shares, budget", [
    ("uniform", True, 2, 1, 2**30), ("degree", True, 1, 3, 2**30), ("uniform", False, 3, 4, 3000),
    ("degree", False, 2, 7, 2000)])
def test_shares_equal_du_et_al_in_extended_precision(scale, jk, num_mlp_layers, shares, budget):
    """One share (the whole triangle), several, more shares than a depth has blocks; held whole or by row
    blocks: the upper triangle within 1e-10 of Du et al.'s Gram in extended precision (isolated nodes,
    self-loops, one node, a duplicate), the lower one untouched; the self-readouts each depth's diagonal."""
    graphs = _graphs()
    n, depth = len(graphs), 3
    cols = colour_pairs.dataset_colours(graphs, depth, scale)
    depths = range(depth + 1) if jk else [depth]
    into = np.zeros((n, n))
    selfs = colour_shares.shared_gram(cols, depth, num_mlp_layers, torch.float64, budget, into, depths,
                                      num_shares=shares)
    assert_upper_gram_is_du_et_al(into, selfs, graphs, cols, depth, num_mlp_layers, scale, jk)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_shares_equal_the_triangle_in_one_pass_and_fill_both_halves(dtype):
    """Against the colour pairs' triangle summed into the Gram in one pass (colour_pair_gram), by row blocks (a
    budget of 200 kB: depth 1 held, blocks of 11, 4 and 2 rows at depths 2-4): 1e-12 in float64, 1e-5 in
    float32 (the shares' d come from the diagonals' own pass, and the partials are added in another order);
    ``upper=False`` mirrors it exactly."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 4, "uniform", dtype)
    n = len(graphs)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    want = np.zeros((n, n), dtype=np_dtype)
    want_selfs = colour_pairs.colour_pair_gram(cols, 4, 2, want, range(5), dtype=dtype, max_bytes=200_000)
    got = np.zeros((n, n), dtype=np_dtype)
    selfs = colour_shares.shared_gram(cols, 4, 2, dtype, 200_000, got, range(5), num_shares=3, upper=False)
    assert got.dtype == np_dtype and np.array_equal(got, got.T)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    allowed = tol * (np.abs(want_selfs) + np.abs(want_selfs).max(axis=1, keepdims=True))
    assert np.all(np.abs(selfs - want_selfs) <= allowed), np.max(np.abs(selfs - want_selfs) / allowed)


def test_the_shares_split_the_blocks_and_need_the_diagonals():
    """Each share computes its own blocks: K shares' partials differ and add up to one share's Gram; a share
    without the colours' diagonals, or out of range, is refused."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 3, "uniform")
    n = len(graphs)
    d = colour_shares.colour_diagonals(cols, 3, 2, torch.float64, 100_000)
    parts = []
    for k in range(3):
        part = np.zeros((n, n))
        colour_blocks.blocked_gram(cols, 3, 2, torch.float64, 100_000, part, range(4), upper=True, share=(k, 3),
                                   diagonals=d)
        parts.append(part)
    whole = np.zeros((n, n))
    colour_blocks.blocked_gram(cols, 3, 2, torch.float64, 100_000, whole, range(4), upper=True, share=(0, 1),
                               diagonals=d)
    assert all(p.any() for p in parts) and not np.array_equal(parts[0], parts[1])
    np.testing.assert_allclose(parts[0] + parts[1] + parts[2], whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())
    for share, diagonals in (((0, 2), None), ((2, 2), d), ((-1, 2), d)):
        with pytest.raises(ValueError, match="share"):
            colour_blocks.blocked_gram(cols, 3, 2, torch.float64, 100_000, np.zeros((n, n)), range(4), share=share,
                                       diagonals=diagonals)


def test_a_killed_share_run_resumes_bitwise_and_refuses_a_damaged_share(tmp_path, monkeypatch):
    """Each finished share is saved: a run killed at its third share resumes with the shares not saved (and
    only those), giving the uninterrupted Gram bit for bit; a damaged share (its packed Gram or its record) is
    refused with a warning naming it and recomputed; a different setting uses another folder; without a
    checkpoint folder nothing is left behind."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 3, "degree")
    n = len(graphs)
    args = (cols, 3, 2, torch.float64, 100_000)  # depths 1-3 by blocks of 19, 7 and 2 rows
    want = np.zeros((n, n))
    want_selfs = colour_shares.shared_gram(*args, want, range(4), num_shares=4)
    real = colour_shares.share_gram
    calls, killed = [], []

    def dies_at_third(inputs, k, num_shares):
        calls.append(k)
        if len(calls) == 3 and not killed:
            killed.append(True)
            raise KeyboardInterrupt("killed")
        return real(inputs, k, num_shares)

    monkeypatch.setattr(colour_shares, "share_gram", dies_at_third)
    with pytest.raises(KeyboardInterrupt):
        colour_shares.shared_gram(*args, np.zeros((n, n)), range(4), num_shares=4, checkpoint_dir=tmp_path)
    [folder] = list(tmp_path.glob("shares-*"))
    assert len(list(folder.glob("share-*.npz"))) == 2 and len(list(folder.glob("share-*.bin"))) == 2
    calls.clear()
    got = np.zeros((n, n))
    selfs = colour_shares.shared_gram(*args, got, range(4), num_shares=4, checkpoint_dir=tmp_path)
    assert calls == [2, 3] and np.array_equal(got, want) and np.array_equal(selfs, want_selfs)

    packed = sorted(folder.glob("share-*.bin"))[1]
    raw = bytearray(packed.read_bytes())
    raw[8:16] = np.float64(1.0).tobytes()
    packed.write_bytes(bytes(raw))
    record = sorted(folder.glob("share-*.npz"))[3]
    record.write_bytes(record.read_bytes()[:-100])
    calls.clear()
    got = np.zeros((n, n))
    with pytest.warns(RuntimeWarning) as caught:
        colour_shares.shared_gram(*args, got, range(4), num_shares=4, checkpoint_dir=tmp_path)
    named = " ".join(str(w.message) for w in caught)
    assert packed.name in named and record.name in named
    assert calls == [1, 3] and np.array_equal(got, want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colour_shares.shared_gram(*args, np.zeros((n, n)), [3], num_shares=4, checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("shares-*"))) == 2

    monkeypatch.setattr(colour_shares.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    colour_shares.shared_gram(*args, np.zeros((n, n)), range(4), num_shares=2)
    assert not list((tmp_path / "tmp").iterdir())


def test_a_share_whose_file_is_not_on_this_disk_is_an_error_naming_it(tmp_path, monkeypatch):
    """A share computed where the client cannot read its file (a worker on another machine) is an error
    naming the file, never a Gram with a share missing."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 2, "uniform")
    n = len(graphs)
    real = colour_shares.share_gram

    def elsewhere(inputs, k, num_shares):
        selfs = real(inputs, k, num_shares)
        for f in tmp_path.glob(f"shares-*/share-{k:04d}.*"):
            f.unlink()
        return selfs

    monkeypatch.setattr(colour_shares, "share_gram", elsewhere)
    with pytest.raises(FileNotFoundError, match="share-0000.bin"):
        colour_shares.shared_gram(cols, 2, 2, torch.float64, 2**30, np.zeros((n, n)), range(3), num_shares=2,
                                  checkpoint_dir=tmp_path, run=lambda on_done: _runner(on_done))


def _runner(on_done):
    """A task runner as an executor's ``tasks`` gives (here, one after the other)."""
    def run(fn, args):
        out = []
        for i, a in enumerate(args):
            out.append(fn(*a))
            on_done(i, out[-1])
        return out
    return run


def test_the_gram_summed_alone_runs_by_shares_with_a_checkpoint(tmp_path):
    """fit_transform_to_disk(readouts=False) with checkpoint_dir: by shares (four in one process), equal to the
    in-memory Gram, the shares' files kept; a second run loads every share (bitwise)."""
    graphs = _graphs()
    kw = dict(num_layers=4, colour_pairs=True, progress=False)
    want = GNTK(**kw).fit_transform(graphs)
    est = GNTK(checkpoint_dir=tmp_path / "ck", **kw)
    first = np.array(est.fit_transform_to_disk(graphs, tmp_path / "a", readouts=False).gram)
    np.testing.assert_allclose(first, want, rtol=1e-12)
    assert len(list((tmp_path / "ck").glob("shares-*/share-*.bin"))) == 4
    np.testing.assert_allclose(est.self_readouts_, GNTK(**kw).fit(graphs)._fitted_self_readouts(), rtol=1e-12)
    again = np.array(GNTK(checkpoint_dir=tmp_path / "ck", **kw).fit_transform_to_disk(graphs, tmp_path / "b",
                                                                                     readouts=False).gram)
    assert np.array_equal(again, first)
