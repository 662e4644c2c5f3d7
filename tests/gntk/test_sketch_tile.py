"""The sketched GNTK on the compiled tile: the same kernel as on the torch tile and as the per-pair
reference of ``fastgnn.gntk.aggregate.aggregate_sketch``; and the warning where sketching will not pay."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import rel
from test_gntk import random_graph

from fastgnn import GNTK, Graph
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.plan import sketch_cost_ratio
from fastgnn.gntk.tiles import stack_operands

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings(r"ignore:GNTK\(sketch_size=\d+\). the sketched kernel will not be faster")]
needs_numba = pytest.mark.skipif(not compiled_tile.available(), reason="numba not installed, or FASTGNN_NO_NUMBA set")


@pytest.fixture(scope="module")
def mixed():
    """Graphs of 1 to 70 nodes, sparse and dense, one-hot and real features, isolated nodes: with
    b = 6 or 16 some have N <= b (aggregated exactly) and some N > b, so that the kernel's products run
    as loops (small) and as BLAS calls (large), left and right."""
    rng = np.random.default_rng(12)
    sizes = [1, 2, 5, 6, 9, 14, 16, 17, 23, 31, 40, 52, 70, 3, 45, 12]
    gs = [random_graph(rng, n, p=0.5 if k % 3 else 0.1, d=4, onehot=bool(k % 2), isolated=int(k % 5 == 0 and n > 3))
          for k, n in enumerate(sizes)]
    gs.append(Graph(torch.zeros(2, 0, dtype=torch.long), 4, torch.zeros(4, 4)))  # no edges, zero features
    return gs


def grams(graphs, new=None, **kw):
    """``{"compiled": ..., "torch": ...}``: fit_transform on ``graphs`` (and transform of ``new``) with
    the sketched tiles on the compiled tile, and on the torch tile as before it took them."""
    out = {}
    for name, on in (("compiled", True), ("torch", False)):
        with compiled_tile.config_context(sketched_tile=on):
            est = GNTK(**kw)
            out[name] = (est.fit_transform(graphs), None if new is None else est.transform(new))
    return out


@needs_numba
@pytest.mark.parametrize("b", [6, 16])
@pytest.mark.parametrize("scale", ["uniform", "degree"])
@pytest.mark.parametrize("layers, jk", [((2, 1), True), ((3, 2), False), ((5, 2), True)])
def test_compiled_sketched_tile_equals_torch_tile_and_per_pair(mixed, b, scale, layers, jk):
    """fit_transform and transform: the compiled tile against the torch tile (the same sketches, from the
    same seed) and against the per-pair sketched algorithm (``method="sketch"``), float64, 1e-10;
    a small memory budget, so that the Gram is many tiles (diagonal ones in their upper-triangle
    mode, off-diagonal ones whole)."""
    fit, new = mixed[:11], mixed[11:]
    kw = dict(num_layers=layers[0], num_mlp_layers=layers[1], scale=scale, jk=jk, sketch_size=b, seed=4)
    got = grams(fit, new, max_memory=400_000, **kw)
    pair = GNTK(method="sketch", **kw)
    want_fit, want_new = pair.fit_transform(fit), pair.transform(new)
    (cf, ct), (tf, tt) = got["compiled"], got["torch"]
    assert rel(cf, tf) <= 1e-10 and rel(ct, tt) <= 1e-10
    assert rel(cf, want_fit) <= 1e-10 and rel(ct, want_new) <= 1e-10
    # the sketch is real: the sketched kernel differs from the exact one
    exact = GNTK(num_layers=layers[0], num_mlp_layers=layers[1], scale=scale, jk=jk).fit_transform(fit)
    assert rel(cf, exact) > 1e-6


@needs_numba
def test_compiled_tile_runs_the_sketched_kernel(mixed, monkeypatch, tile_switches):
    """Sketched stacks carry the dense S_g and P_g (no CSR factors), and the Gram never reaches the torch
    tile's aggregation; with ``sketched_tile`` off they are the torch tile's CSR factors again."""
    from fastgnn.gntk import tiles
    from fastgnn.gntk.pairwise import prepare_many

    ops = prepare_many(mixed, num_blocks=2, num_mlp_layers=2, scale="uniform", method="sketch", sketch_size=6,
                       sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu")
    st = stack_operands(ops, True)
    s, s_off, p, p_off, b_off = st.sketch_blocks
    assert st.factors == []
    real = [op for op in ops if op.num_rows > 6]
    assert s.size == sum(6 * op.num_rows for op in real) and s_off[-1] == s.size
    assert p.size == sum(op.sketched_a.numel() for op in ops) and b_off[-1] == sum(op.sketch.shape[0] for op in ops)
    monkeypatch.setattr(tiles, "readouts", lambda *a, **k: pytest.fail("torch tile used"))
    assert np.isfinite(GNTK(num_layers=3, sketch_size=6).fit_transform(mixed)).all()
    tile_switches(sketched_tile=False)
    st = stack_operands(ops, True)
    assert st.sketch_blocks is None and len(st.factors) == 2
    tile_switches(sketched_tile=True)
    compiled = stack_operands(ops[:3], True)
    tile_switches(enabled=False)  # a compiled stack cannot go to the torch tile: said, not wrong
    with pytest.raises(ValueError, match="compiled sketched tile"):
        tiles.tile_readouts(compiled, compiled, 2, 2)


@needs_numba
def test_compiled_sketched_tile_float32_and_two_threads(mixed):
    """float32 within 1e-5 of float64; two threads give the same Gram as one (to rounding)."""
    kw = dict(num_layers=4, num_mlp_layers=2, sketch_size=16, seed=1)
    k64 = GNTK(**kw).fit_transform(mixed)
    k32 = GNTK(dtype="float32", **kw).fit_transform(mixed)
    torch.set_num_threads(2)
    try:
        k64_2 = GNTK(**kw).fit_transform(mixed)
    finally:
        torch.set_num_threads(1)
    assert rel(k32, k64) <= 1e-5
    assert rel(k64_2, k64) <= 1e-12


@needs_numba
def test_sketch_at_least_every_graph_is_the_exact_kernel(mixed):
    """b >= every N: every graph's sketch is the identity and its P is C A, so the compiled sketched
    tile computes the exact kernel (against the per-pair decoupled algorithm)."""
    big = max(g.num_nodes for g in mixed)
    with pytest.warns(UserWarning, match="sketch_size"):
        sk = GNTK(num_layers=4, scale="degree", sketch_size=big).fit_transform(mixed)
    exact = GNTK(num_layers=4, scale="degree", method="decoupled").fit_transform(mixed)
    assert rel(sk, exact) <= 1e-10


def test_cost_ratio_model():
    """The model's limits: b >= every N gives 1 (nothing sketched); large graphs and small b well
    under 1; graphs only a little larger than b above 1 (the sketch costs more than the exact product)."""
    kw = dict(num_blocks=3, num_mlp_layers=2)
    assert sketch_cost_ratio([10, 20, 30], 30, **kw) == pytest.approx(1.0)
    assert sketch_cost_ratio([280] * 10, 16, **kw) < 0.3
    assert sketch_cost_ratio([20] * 10, 16, **kw) > 1.0
    assert sketch_cost_ratio([280] * 10, 16, **kw) < sketch_cost_ratio([280] * 10, 64, **kw)


def test_sketch_size_warns_where_it_will_not_pay():
    """Small graphs: GNTK(sketch_size=b) says the sketch will not be faster (and that N <= b graphs are
    exact); large graphs and small b: no warning.  The per-pair method warns alike."""
    rng = np.random.default_rng(3)
    small = [random_graph(rng, int(n), p=0.3, onehot=True) for n in rng.integers(5, 20, 6)]
    with pytest.warns(UserWarning, match=r"sketch_size=16\): the sketched kernel will not be faster"):
        GNTK(num_layers=3, sketch_size=16).fit(small)
    with pytest.warns(UserWarning, match=r"sketch_size=16\): the sketched kernel will not be faster"):
        GNTK(num_layers=3, method="sketch", sketch_size=16).fit(small)
    big = [random_graph(rng, 200, p=0.3, onehot=True) for _ in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        GNTK(num_layers=3, sketch_size=8).fit(big)
        GNTK(num_layers=3).fit(small)  # no sketch, no warning


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sketched_tile_upper_mode_and_torch_tile(mixed, tile_switches, dtype):
    """At the tile level: the compiled sketched tile of two different stacks equals the torch tile's
    (degree scale: non-symmetric C A); on a diagonal tile its upper-triangle mode equals the whole tile."""
    from fastgnn.gntk.pairwise import prepare_many
    from fastgnn.gntk.tiles import tile_readouts

    ops = prepare_many(mixed, num_blocks=3, num_mlp_layers=2, scale="degree", method="sketch", sketch_size=6,
                       sketch_kind="ams", seed=2, dtype=dtype, device="cpu")
    left, right = stack_operands(ops[:9], True), stack_operands(ops[6:], True)
    got = compiled_tile.tile_readouts_fused(left, right, 3, 2)
    tile_switches(sketched_tile=False)
    want = tile_readouts(stack_operands(ops[:9], True), stack_operands(ops[6:], True), 3, 2)
    # 1e-10: near ρ = 1 the arc-cosine turns one-ulp differences of summation order into ~1e-11
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert got.dtype == dtype and got.shape == want.shape == (4, 9, len(ops) - 6)
    assert ((got - want).abs().max() / want.abs().max()).item() <= tol
    tile_switches(sketched_tile=True)
    full = stack_operands(ops, True)
    upper = compiled_tile.tile_readouts_fused(full, full, 3, 2, upper=True)
    whole = compiled_tile.tile_readouts_fused(full, full, 3, 2)
    assert ((upper - whole).abs().max() / whole.abs().max()).item() <= tol
