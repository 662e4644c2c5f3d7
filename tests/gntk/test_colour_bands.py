"""The Gram on colour pairs by bands of graphs (gntk/colour_bands.py), against independent computations: Du
et al.'s code transcribed in extended precision, and the colour pairs' triangle (another set of pairs,
another summation order); resumed band by band, bitwise."""

import warnings

import numpy as np
import pytest
import torch

try:
    from .finite_gnn import reference_gntk
    from .test_colour_pairs import _deep_set, small_set, tagged_graph
except ImportError:
    from finite_gnn import reference_gntk
    from test_colour_pairs import _deep_set, small_set, tagged_graph

from fastgnn import GNTK
from fastgnn.gntk import colour_bands, colour_pairs, compiled_tile

pytestmark = pytest.mark.skipif(not compiled_tile.available(), reason="the bands are the compiled path (numba)")


def _graphs():
    return [*small_set(seed=21), *_deep_set()[:10], tagged_graph(9, 5, p=0.8)]


@pytest.mark.parametrize("scale, jk, num_mlp_layers, bands, budget", [
    ("uniform", True, 2, 1, 2**30), ("degree", True, 1, 5, 2**30), ("uniform", False, 3, 7, 3000),
    ("degree", False, 2, 40, 2000)])
def test_bands_equal_du_et_al_in_extended_precision(scale, jk, num_mlp_layers, bands, budget):
    """One band (the whole square), several, one per graph; held whole or by row blocks: the upper triangle
    within 1e-10 of Du et al.'s Gram in extended precision (isolated nodes, self-loops, one node, a duplicate),
    the lower one untouched; the self-readouts each depth's diagonal."""
    graphs = _graphs()
    n, depth = len(graphs), 3
    cols = colour_pairs.dataset_colours(graphs, depth, scale)
    depths = range(depth + 1) if jk else [depth]
    into = np.zeros((n, n))
    selfs = colour_bands.banded_gram(cols, depth, num_mlp_layers, torch.float64, budget, into, depths,
                                     num_bands=bands)
    assert_upper_gram_is_du_et_al(into, selfs, graphs, cols, depth, num_mlp_layers, scale, jk)


def assert_upper_gram_is_du_et_al(into, selfs, graphs, cols, depth, num_mlp_layers, scale, jk):
    """``into``'s upper triangle within 1e-10 of Du et al.'s Gram in extended precision, its lower one untouched,
    and ``selfs`` each depth's diagonal (the colour pairs' readouts, 1e-12)."""
    want = reference_gntk(graphs, depth + 1, num_mlp_layers, scale, jk, dtype=np.longdouble, snap_ulps=32)
    upper = np.triu_indices(len(graphs))
    np.testing.assert_allclose(into[upper], want[upper], rtol=1e-10, atol=0)
    assert not np.tril(into, -1).any()
    parts = colour_pairs.colour_pair_readouts(cols, depth, num_mlp_layers)
    np.testing.assert_allclose(selfs, np.diagonal(parts, axis1=1, axis2=2), rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_bands_equal_the_colour_triangle_and_fill_both_halves(dtype):
    """Against the colour pairs' triangle summed into the Gram (colour_pair_gram): 1e-12 in float64, 1e-5 in
    float32 (each band summed in float64, stored rounded); ``upper=False`` mirrors it exactly."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 4, "uniform", dtype)
    n = len(graphs)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    want = np.zeros((n, n), dtype=np_dtype)
    want_selfs = colour_pairs.colour_pair_gram(cols, 4, 2, want, range(5), dtype=dtype, max_bytes=2**30)
    got = np.zeros((n, n), dtype=np_dtype)
    selfs = colour_bands.banded_gram(cols, 4, 2, dtype, 5000, got, range(5), num_bands=6, upper=False)
    assert got.dtype == np_dtype and np.array_equal(got, got.T)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    # each depth's self-readouts as the Gram: relative to the entry and to the depth's largest (float32: the two
    # paths sum in other orders; on an AVX2 AMD machine one diagonal of 1.1e7 differed by 1.1e-5, session 16)
    allowed = tol * (np.abs(want_selfs) + np.abs(want_selfs).max(axis=1, keepdims=True))
    assert np.all(np.abs(selfs - want_selfs) <= allowed), np.max(np.abs(selfs - want_selfs) / allowed)


def test_band_edges_cover_the_graphs_in_bands_of_equal_work():
    graphs = _graphs()
    cols = colour_pairs.dataset_colours(graphs, 1, "uniform")
    n = len(graphs)
    for bands in (1, 3, 8, n, 5 * n):
        edges = colour_bands.band_edges(cols, bands)
        assert edges[0] == 0 and edges[-1] == n and np.all(np.diff(edges) > 0) and len(edges) - 1 <= min(bands, n)
    edges = colour_bands.band_edges(cols, 4)
    work = [colour_bands._work(cols, a, b) for a, b in zip(edges[:-1], edges[1:])]
    biggest = max(colour_bands._work(cols, i, i + 1) for i in range(n))
    assert max(work) - min(work) <= 2 * biggest  # equal to a graph's own work
    with pytest.raises(ValueError, match="num_bands"):
        colour_bands.band_edges(cols, 0)


def test_a_killed_band_run_resumes_bitwise_and_refuses_a_damaged_band(tmp_path, monkeypatch):
    """Each finished band is saved: a run killed at its third band resumes with the bands not saved (and
    only those), giving the uninterrupted Gram bit for bit; a damaged band file is refused with a warning
    naming it and recomputed; a different setting uses another folder."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 3, "degree")
    n = len(graphs)
    args = (cols, 3, 2, torch.float64, 4000)
    want = np.zeros((n, n))
    want_selfs = colour_bands.banded_gram(*args, want, range(4), num_bands=5)
    real = colour_bands.band_rows
    calls, killed = [], []

    def dies_at_third(inputs, a, b):
        calls.append((a, b))
        if len(calls) == 3 and not killed:
            killed.append(True)
            raise KeyboardInterrupt("killed")
        return real(inputs, a, b)

    monkeypatch.setattr(colour_bands, "band_rows", dies_at_third)
    with pytest.raises(KeyboardInterrupt):
        colour_bands.banded_gram(*args, np.zeros((n, n)), range(4), num_bands=5, checkpoint_dir=tmp_path)
    [folder] = list(tmp_path.glob("bands-*"))
    assert len(list(folder.glob("band-*.npz"))) == 2
    calls.clear()
    got = np.zeros((n, n))
    selfs = colour_bands.banded_gram(*args, got, range(4), num_bands=5, checkpoint_dir=tmp_path)
    assert len(calls) == 3 and np.array_equal(got, want) and np.array_equal(selfs, want_selfs)

    damaged = sorted(folder.glob("band-*.npz"))[1]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    calls.clear()
    got = np.zeros((n, n))
    with pytest.warns(RuntimeWarning, match=damaged.name):
        colour_bands.banded_gram(*args, got, range(4), num_bands=5, checkpoint_dir=tmp_path)
    assert len(calls) == 1 and np.array_equal(got, want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colour_bands.banded_gram(*args, np.zeros((n, n)), [3], num_bands=5, checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("bands-*"))) == 2


def test_the_gram_summed_alone_runs_by_bands_with_a_checkpoint(tmp_path, monkeypatch):
    """fit_transform_to_disk(readouts=False) with checkpoint_dir, where the pieces' workers do not share this
    machine's disk (bands, not shares): equal to the in-memory Gram, and a second run loads every band
    (bitwise)."""
    monkeypatch.setattr(GNTK, "_by_shares", lambda self: False)
    graphs = _graphs()
    kw = dict(num_layers=4, colour_pairs=True, progress=False)
    want = GNTK(**kw).fit_transform(graphs)
    est = GNTK(checkpoint_dir=tmp_path / "ck", **kw)
    first = np.array(est.fit_transform_to_disk(graphs, tmp_path / "a", readouts=False).gram)
    np.testing.assert_allclose(first, want, rtol=1e-12)
    assert list((tmp_path / "ck").glob("bands-*/band-*.npz"))
    np.testing.assert_allclose(est.self_readouts_, GNTK(**kw).fit(graphs)._fitted_self_readouts(), rtol=1e-12)
    again = np.array(GNTK(checkpoint_dir=tmp_path / "ck", **kw).fit_transform_to_disk(graphs, tmp_path / "b",
                                                                                     readouts=False).gram)
    assert np.array_equal(again, first)


def test_no_reference_cycle_keeps_the_held_matrices_alive():
    """The blocked recursions' support-row helper calls itself; left as a reference cycle, it kept the held
    depths' matrices resident until the garbage collector ran (8 bands of 5,000 molecules: 1.9 -> 5.8 GB).  With
    the collector off, a band, the rectangle and the triangle leave nothing for it to collect."""
    import gc

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 4, "uniform")
    n = len(graphs)
    inputs = colour_bands.BandInputs(cols, colour_bands.colour_diagonals(cols, 4, 2, torch.float64, 3000), 4, 2,
                                     torch.float64, 3000, (0, 1, 2, 3, 4), np.dtype(np.float64))

    def run():
        colour_bands.band_rows(inputs, 3, 9)  # blocked depths (a budget of 3,000 bytes)
        colour_pairs.colour_pair_gram(cols, 4, 2, np.zeros((n, n)), range(5), max_bytes=3000)

    run()  # first calls compile and import (cycles of their own)
    gc.collect()
    gc.disable()
    try:
        run()
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0
