"""transform on colour pairs, the rectangle of new colours against fitted ones (gntk/colour_rectangle.py),
against independent computations: Du et al.'s code transcribed in extended precision, the node-pair
engine, and the union's triangle (another summation, another set of pairs) read out as a rectangle."""

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
from fastgnn.gntk import colour_pairs, colour_rectangle, compiled_tile

pytestmark = pytest.mark.skipif(not compiled_tile.available(), reason="the rectangle is the compiled path (numba)")


def _diagonals(graphs, cols, depth, scale, dtype, num_mlp_layers=2):
    ops = GNTK(num_layers=depth + 1, num_mlp_layers=num_mlp_layers, scale=scale, dtype=dtype)._prepare(graphs, None)
    return colour_rectangle.diagonals_from_operands(cols, ops, depth, num_mlp_layers)


@pytest.mark.parametrize("scale, depth, budget", [("uniform", 3, 2**30), ("degree", 3, 2000), ("degree", 5, 30_000),
                                                   ("uniform", 5, 3000)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_rectangle_equals_the_unions_triangle_sliced(scale, depth, budget, dtype):
    """Held whole or by row blocks recomputing their support rows down to the input covariance: the rows of
    the new graphs against the fitted ones of the union's symmetric readouts (which sum over the union's
    colours and take their d from its own diagonal), to rounding."""
    graphs = small_set(seed=17) * 2 if depth == 3 else _deep_set()
    cols = colour_pairs.dataset_colours(graphs, depth, scale, dtype)
    split = 10
    rect = colour_rectangle.rectangle_colours(cols, split, depth)
    held, rows_at = colour_rectangle.rectangle_plan(rect, dtype.itemsize, budget)
    if budget < 2**20:  # small budgets run blocked depths, several blocks each
        assert held < depth - 1 and rows_at(depth) < rect.shape[depth][0]
    got = colour_rectangle.rectangle_readouts(cols, split, _diagonals(graphs, cols, depth, scale, dtype), depth, 2,
                                              dtype, budget)
    want = colour_pairs.colour_pair_readouts(cols, depth, 2, split=split, dtype=dtype)
    assert got.shape == want.shape == (depth + 1, len(graphs) - split, split)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("scale", ["uniform", "degree"])
@pytest.mark.parametrize("num_mlp_layers", [1, 2, 3])
@pytest.mark.parametrize("jk", [True, False])
def test_transform_equals_du_et_al_in_extended_precision(scale, num_mlp_layers, jk):
    """fit on graphs, transform held-out ones (isolated nodes, self-loops, one node, no edges, new colours):
    on the rectangle, within 1e-10 of the union's Gram by Du et al.'s code in extended precision, and of the
    node-pair engine within 2e-10 (float64) and 1e-5 (float32)."""
    graphs = small_set(seed=30 + num_mlp_layers)
    new = [*small_set(seed=40 + num_mlp_layers)[:6], tagged_graph(1, 7), tagged_graph(4, 8, p=0.0),
           tagged_graph(9, 9, p=0.8)]  # dense: colours the fitted graphs never had
    kw = dict(num_layers=4, num_mlp_layers=num_mlp_layers, scale=scale, jk=jk, progress=False)
    est = GNTK(colour_pairs=True, max_memory=50_000, **kw).fit(graphs)
    got = est.transform(new)
    ref = reference_gntk(graphs + new, 4, num_mlp_layers, scale, jk, dtype=np.longdouble, snap_ulps=32)
    np.testing.assert_allclose(got, ref[len(graphs):, :len(graphs)], rtol=1e-10, atol=0)
    node = GNTK(colour_pairs=False, **kw).fit(graphs).transform(new)
    np.testing.assert_allclose(got, node, rtol=2e-10, atol=0)
    got32 = GNTK(colour_pairs=True, dtype="float32", **kw).fit(graphs).transform(new)
    np.testing.assert_allclose(got32, node, rtol=1e-5, atol=1e-5 * np.abs(node).max())


def test_transform_counts_the_rectangle_not_the_triangle():
    """The work and memory counted for transform are the rectangle's: many graphs against a few cost far less
    than the union's triangle, and "auto" takes colour pairs for them where colours repeat."""
    graphs = small_set(seed=5) * 8
    est = GNTK(num_layers=5, progress=False).fit(graphs[:3])
    cols = colour_pairs.dataset_colours(graphs, 4, "uniform")
    rect = colour_rectangle.rectangle_colours(cols, 3, 4)
    r, f = rect.shape[4]
    assert f < cols.sizes[4] / 2 and r <= cols.sizes[4]
    tri = colour_pairs.colour_pair_flops(cols, 4, 2, 20.0, max_bytes=2**30)
    assert colour_rectangle.rectangle_flops(rect, 2, 20.0, 8, 2**30) < tri / 2
    new = est._prepare(graphs[3:], est.fitted_)
    assert est._dataset_colours(graphs[3:], new) is not None


def test_a_killed_rectangle_resumes_bitwise(tmp_path, monkeypatch):
    """The rectangle saves its state by blocks: a run killed half-way resumes from the block it reached and
    gives the uninterrupted readouts bit for bit; a second run reads the finished state."""
    from fastgnn.gntk import _colour_kernels

    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 5, "uniform")
    diag = _diagonals(graphs, cols, 5, "uniform", torch.float64)
    args = (cols, 10, diag, 5, 2, torch.float64, 3000)
    want = colour_rectangle.rectangle_readouts(*args)
    calls = {"n": 0}
    real = _colour_kernels.histogram_product

    def dies_later(*a):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt("killed")
        return real(*a)

    monkeypatch.setattr(_colour_kernels, "histogram_product", dies_later)
    monkeypatch.setattr(colour_rectangle.ColourCheckpoint, "due", lambda self, end: True)
    with pytest.raises(KeyboardInterrupt):
        colour_rectangle.rectangle_readouts(*args, checkpoint_dir=tmp_path)
    monkeypatch.setattr(_colour_kernels, "histogram_product", real)
    [folder] = list(tmp_path.glob("colour-*"))
    state = np.load(folder / "state.npz")
    assert int(state["next_row"]) > 0  # it stopped inside a blocked depth
    assert np.array_equal(colour_rectangle.rectangle_readouts(*args, checkpoint_dir=tmp_path), want)
    assert np.array_equal(colour_rectangle.rectangle_readouts(*args, checkpoint_dir=tmp_path), want)


def test_diagonals_need_the_coloured_graphs_operands():
    graphs = small_set(seed=3)
    cols = colour_pairs.dataset_colours(graphs, 2, "uniform")
    ops = GNTK(num_layers=3)._prepare(graphs[:-1], None)
    with pytest.raises(ValueError, match="operands"):
        colour_rectangle.diagonals_from_operands(cols, ops, 2, 2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("budget", [1e9, 300])
def test_colour_diagonals_equal_each_graphs_own(dtype, budget):
    """Every colour's d on colour pairs alone (the lower depths held whole, or every depth above the input on
    pair sets of children) equals the d the node engine computes on a node of that colour in its own graph."""
    graphs = _deep_set()
    cols = colour_pairs.dataset_colours(graphs, 5, "degree", dtype)
    got = colour_rectangle.colour_diagonals(cols, 5, 2, dtype, budget)
    want = _diagonals(graphs, cols, 5, "degree", dtype)
    assert got[0] is None and [g.shape for g in got[1:]] == [(c,) for c in cols.sizes[1:]]
    tol = 1e-13 if dtype == torch.float64 else 1e-6
    for g, w in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=0)


def test_transform_on_colour_pairs_prepares_no_new_operands(monkeypatch):
    """On colour pairs fit and transform need no node-engine operands, of the fitted graphs or the new ones
    (unless transform normalises: each graph's self-kernel is a pair of its own)."""
    graphs = small_set(seed=5) * 8
    est = GNTK(num_layers=4, colour_pairs=True, progress=False).fit(graphs[:5])
    calls = []
    real = est._prepare
    monkeypatch.setattr(est, "_prepare", lambda g, f: calls.append(len(g)) or real(g, f))
    k = est.transform(graphs[5:])
    assert calls == [] and not est._operands_ready()
    est.set_params(normalize=True)
    kn = est.transform(graphs[5:])
    assert sorted(calls) == [5, len(graphs) - 5]
    np.testing.assert_allclose(kn, GNTK(num_layers=4, colour_pairs=False, normalize=True).fit(graphs[:5]).transform(
        graphs[5:]), rtol=2e-10)
    assert k.shape == kn.shape
