"""The compiled tile and the fused (numba) ReLU step equal the eager torch reference; the torch fallback
works without them (the switches of :mod:`fastgnn.gntk.compiled_tile`, set by its ``config_context``)."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
import torch

from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK, compiled_tile, relu

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_numba = pytest.mark.skipif(not compiled_tile.available(), reason="numba not installed, or FASTGNN_NO_NUMBA set")


@pytest.fixture
def torch_path():
    """Force the eager torch path (as when numba is missing)."""
    with compiled_tile.config_context(enabled=False):
        yield


def tile(m, p, dtype, seed=0, zero_rows=(), zero_cols=()):
    """A Σ tile with its self standard deviations, a Θ, ρ at and near ±1, and all-zero nodes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m + p, 5, generator=g, dtype=torch.float64)
    if m >= 4 and p >= 5:
        x[m + 1] = x[0]  # ρ = 1 up to rounding: left node 0 against right node 1
        x[m + 2] = -x[1]  # ρ = −1 up to rounding
        x[m + 3] = x[2] * 3.0
        x[m + 4] = x[3] + 1e-9  # ρ just inside the snap or not: both paths must decide alike
    for r in zero_rows:
        x[r] = 0.0
    for c in zero_cols:
        x[m + c] = 0.0
    gram = x @ x.T
    d = gram.diagonal().sqrt()
    sigma = gram[:m, m:].contiguous()
    theta = torch.rand(m, p, generator=g, dtype=torch.float64) * sigma.abs().max()
    return sigma.to(dtype), theta.to(dtype), d[:m].to(dtype).contiguous(), d[m:].to(dtype).contiguous()


def both(sigma, theta, dl, dr):
    """(torch path, fused path) results of one ntk_step on copies."""
    ref = (sigma.clone(), theta.clone())
    with compiled_tile.config_context(enabled=False):
        relu.ntk_step(ref[0], ref[1], dl, dr)
    out = (sigma.clone(), theta.clone())
    assert compiled_tile.usable(*out, dl, dr)
    compiled_tile.ntk_step_fused(out[0], out[1], dl, dr)
    return ref, out


@needs_numba
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 50), (300, 257)])
def test_fused_equals_torch_float64(shape):
    m, p = shape
    zr = (m - 1,) if m > 5 else ()
    zc = (p - 2,) if p > 6 else ()
    sigma, theta, dl, dr = tile(m, p, torch.float64, zero_rows=zr, zero_cols=zc)
    (s_ref, t_ref), (s_out, t_out) = both(sigma, theta, dl, dr)
    # elementwise relative, with a floor at 1e-13 of the tile's scale (Σ' near ρ = −1 is a difference)
    for ref, out in ((s_ref, s_out), (t_ref, t_out)):
        scale = ref.abs().max().clamp(min=1e-300)
        err = ((out - ref).abs() / (ref.abs() + 1e-3 * scale)).max().item()
        assert err <= 1e-13, err
        assert ((out - ref).abs().max() / scale).item() <= 1e-14


@needs_numba
def test_fused_special_values():
    """ρ exactly ±1, within 32 ulps of ±1 (snapped), 0, and all-zero nodes (Σ' = 0, Σ̇ = 1/2)."""
    eps = torch.finfo(torch.float64).eps
    rho = torch.tensor([1.0, -1.0, 1 - 8 * eps, -1 + 8 * eps, 1 - 64 * eps, 0.0, 0.5, -0.5, 0.4999999, 1.5, -2.0],
                       dtype=torch.float64)
    dl = torch.tensor([2.0, 0.0], dtype=torch.float64)
    dr = torch.full((rho.numel(),), 3.0, dtype=torch.float64)
    sigma = torch.stack([rho * 6.0, rho * 0.0])
    theta = torch.ones_like(sigma)
    (s_ref, t_ref), (s_out, t_out) = both(sigma, theta, dl, dr)
    torch.testing.assert_close(s_out, s_ref, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(t_out, t_ref, rtol=1e-15, atol=1e-15)
    # ρ = 1: Σ' = d d', Σ̇ = 1; ρ = −1: Σ' = 0, Σ̇ = 0; snapped values alike
    assert s_out[0, 0] == 6.0 and t_out[0, 0] == 7.0
    assert s_out[0, 2] == 6.0 and t_out[0, 2] == 7.0
    assert s_out[0, 1] == 0.0 and t_out[0, 1] == 0.0 and t_out[0, 3] == 0.0
    # the zero node: Σ' = 0, Θ' = Θ / 2
    assert torch.all(s_out[1] == 0.0) and torch.all(t_out[1] == 0.5)


@needs_numba
def test_fused_acos_is_accurate():
    from fastgnn.gntk._fused_kernels import acos

    xs = np.concatenate([np.linspace(-1, 1, 20001), [0.5, -0.5, np.nextafter(0.5, 0), np.nextafter(-0.5, 0),
                                                   np.nextafter(1, 0), np.nextafter(-1, 0), 1e-300, -1e-300]])
    got = np.array([acos.py_func(float(x)) for x in xs[::7]] + [acos(float(x)) for x in xs[1::7]])
    want = np.array([math.acos(float(x)) for x in xs[::7]] + [math.acos(float(x)) for x in xs[1::7]])
    ulp = np.spacing(want)
    assert np.all(np.abs(got - want) <= 3 * ulp)


@needs_numba
def test_fused_float32_close_to_torch_float32():
    sigma, theta, dl, dr = tile(200, 150, torch.float32, zero_rows=(5,), zero_cols=(7,))
    (s_ref, t_ref), (s_out, t_out) = both(sigma, theta, dl, dr)
    assert s_out.dtype == torch.float32
    for ref, out in ((s_ref, s_out), (t_ref, t_out)):
        assert ((out - ref).abs().max() / ref.abs().max()).item() <= 2e-6


@needs_numba
def test_fused_is_the_same_on_two_threads():
    import numba

    sigma, theta, dl, dr = tile(301, 211, torch.float64, seed=4)
    outs = []
    before = numba.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        s, t = sigma.clone(), theta.clone()
        compiled_tile.ntk_step_fused(s, t, dl, dr)
        outs.append((s, t))
        assert numba.get_num_threads() == before  # restored
    torch.set_num_threads(1)
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


def test_usable_refuses_what_the_kernel_cannot_take(monkeypatch):
    a = torch.rand(4, 6, dtype=torch.float64)
    d = torch.rand(4, dtype=torch.float64)
    monkeypatch.setattr(compiled_tile, "_HAVE_NUMBA", True)
    monkeypatch.setattr(compiled_tile, "_KERNEL", object())  # as if imported: only the tensor checks are tested
    with compiled_tile.config_context(enabled=True):
        assert compiled_tile.usable(a, a, d, d)
        assert not compiled_tile.usable(a.T, a.T, d, d)  # not contiguous
        assert not compiled_tile.usable(a, a.float(), d, d)  # mixed dtypes
        assert not compiled_tile.usable(a.half(), a.half(), d.half(), d.half())
        assert not compiled_tile.usable(a.requires_grad_(), a, d, d)
        monkeypatch.setattr(compiled_tile, "_HAVE_NUMBA", False)  # numba not installed
        assert not compiled_tile.usable(torch.rand(4, 6, dtype=torch.float64), torch.rand(4, 6, dtype=torch.float64),
                                        d, d)


@pytest.mark.parametrize("layout", ["sparse", "dense"])
def test_gram_fused_equals_torch_path(monkeypatch, layout):
    """The whole batched Gram is the same (1e-12) with the fused kernel and with the torch fallback."""
    import fastgnn.gntk.engine as engine

    ds = synthetic(num_graphs=24, min_nodes=4, max_nodes=18, seed=5)
    real = engine.stack_operands
    monkeypatch.setattr(engine, "stack_operands", lambda ops, sk: real(ops, sk, layout))
    grams = {}
    for enabled in (True, False):
        if enabled and not compiled_tile._HAVE_NUMBA:
            continue
        with compiled_tile.config_context(enabled=enabled):
            grams[enabled] = GNTK(num_layers=4, num_mlp_layers=2, max_memory=200_000).fit_transform(ds.graphs)
    if len(grams) == 2:
        assert np.abs(grams[True] - grams[False]).max() / np.abs(grams[False]).max() <= 1e-12


def test_torch_fallback_when_disabled(torch_path, monkeypatch):
    """With the fused path off the kernel never imports or calls numba code."""
    monkeypatch.setattr(compiled_tile, "ntk_step_fused", lambda *a: pytest.fail("fused kernel called"))
    sigma, theta, dl, dr = tile(20, 30, torch.float64)
    relu.ntk_step(sigma, theta, dl, dr)
    ds = synthetic(num_graphs=6, min_nodes=4, max_nodes=9, seed=1)
    assert np.isfinite(GNTK(num_layers=3).fit_transform(ds.graphs)).all()


class BrokenNumba:
    """A ``sys.meta_path`` finder making ``import numba`` fail as numba does under a NumPy it does not support."""

    def find_spec(self, name, path=None, target=None):
        if name == "numba":
            raise ImportError("Numba needs NumPy 2.2 or less. Got NumPy 9.9. (simulated)")
        return None


def test_numba_failing_to_import_falls_back_to_torch(monkeypatch):
    """numba installed but failing to import (e.g. built for another NumPy): the first use warns once,
    naming the error, then the torch path runs, in the ReLU step and in the whole Gram; the results
    are the torch path's."""
    sigma, theta, dl, dr = tile(20, 30, torch.float64)
    ds = synthetic(num_graphs=6, min_nodes=4, max_nodes=9, seed=1)
    with compiled_tile.config_context(enabled=False):
        want_step = relu.ntk_step(sigma.clone(), theta.clone(), dl, dr)
        want_gram = GNTK(num_layers=3).fit_transform(ds.graphs)
    # numba installed, the kernels not imported yet, and `import numba` raising ImportError
    with compiled_tile.config_context(enabled=True):
        monkeypatch.setattr(compiled_tile, "_HAVE_NUMBA", True)
        monkeypatch.setattr(compiled_tile, "_KERNEL", None)
        monkeypatch.setattr(compiled_tile, "_IMPORT_ERROR", None)
        monkeypatch.delitem(sys.modules, "fastgnn.gntk._fused_kernels", raising=False)
        monkeypatch.delitem(sys.modules, "numba", raising=False)
        monkeypatch.setattr(sys, "meta_path", [BrokenNumba(), *sys.meta_path])
        with pytest.warns(RuntimeWarning, match=r"could not be imported \(ImportError: Numba needs NumPy") as first:
            got_step = relu.ntk_step(sigma.clone(), theta.clone(), dl, dr)
        assert len([w for w in first if "numba" in str(w.message)]) == 1
        with warnings.catch_warnings(record=True) as later:
            warnings.simplefilter("always")
            got_gram = GNTK(num_layers=3).fit_transform(ds.graphs)
        assert not [w for w in later if "numba" in str(w.message)]  # warned once only
        assert not compiled_tile.available()
        assert torch.equal(got_step[0], want_step[0]) and torch.equal(got_step[1], want_step[1])
        assert np.array_equal(got_gram, want_gram)


def test_stacks_hold_dense_blocks_only_for_the_compiled_tile(monkeypatch):
    """The dense ``C A`` blocks (read only by the compiled tile) are built only where it runs."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import stack_operands

    graphs = synthetic(num_graphs=5, min_nodes=2, max_nodes=9, seed=2).graphs
    ops = [prepare(g, num_blocks=2, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu") for g in graphs]
    with compiled_tile.config_context(enabled=False):
        st = stack_operands(ops, False, "sparse")
    assert st.dense_blocks is None and st.block_offsets is None
    with compiled_tile.config_context(enabled=True):
        st = stack_operands(ops, False, "sparse")
    if compiled_tile.available():
        assert st.dense_blocks.numel() == sum(op.a.numel() for op in ops)
        assert st.block_offsets[-1] == st.dense_blocks.numel()
    else:
        assert st.dense_blocks is None


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_relu_maps_fused_equals_torch(dtype):
    sigma, _, dl, dr = tile(40, 33, dtype, zero_rows=(3,), zero_cols=(9,))
    got = relu.relu_maps(sigma, dl, dr)
    with compiled_tile.config_context(enabled=False):
        want = relu.relu_maps(sigma, dl, dr)
    tol = 1e-14 if dtype == torch.float64 else 2e-6
    for g, w in zip(got, want):
        assert g.dtype == dtype
        assert ((g - w).abs().max() / w.abs().max()).item() <= tol


@needs_numba
@pytest.mark.parametrize("start", ["features", "aggregated"])
@pytest.mark.parametrize("layout", ["csr", "dense", "dense-csr", "csr-dense"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_tile_equals_torch_tile(monkeypatch, start, layout, dtype):
    """The compiled tile, with CSR or dense blocks on either side (both dense: BLAS straight on the
    blocks), starting from Σ⁽⁰⁾ or from the aggregated features (Y Y'ᵀ), equals the torch tile; so
    does its upper-triangle mode on a diagonal tile; degree scale (a non-symmetric C A), isolated
    nodes and non-integer features included."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import stack_operands, tile_readouts

    graphs = synthetic(num_graphs=20, min_nodes=1, max_nodes=15, seed=8).graphs
    gen = torch.Generator().manual_seed(0)
    for g in graphs[::3]:  # some rows multi-hot with non-integer values
        g.x = (g.x + 0.37 * (torch.rand(g.x.shape, generator=gen) < 0.2)).to(g.x.dtype)
    monkeypatch.setattr(compiled_tile, "_aggregated_features_pay", lambda *args: start == "aggregated")
    ops = [prepare(g, num_blocks=3, num_mlp_layers=2, scale="degree" if k % 2 else "uniform",
                   method="decoupled", sketch_size=None, sketch_kind="ams", seed=0, dtype=dtype, device="cpu")
           for k, g in enumerate(graphs)]
    left, right = stack_operands(ops[:8], False, "sparse"), stack_operands(ops[5:], False, "sparse")
    dense_left, dense_right = (part == "dense" for part in (layout.split("-") * 2)[:2])
    side = compiled_tile._side
    monkeypatch.setattr(compiled_tile, "_side", lambda st: (dense_left if st is left else dense_right, *side(st)[1:]))
    got = compiled_tile.tile_readouts_fused(left, right, 3, 2)
    with compiled_tile.config_context(enabled=False):
        want = tile_readouts(left, right, 3, 2)
    tol = 1e-13 if dtype == torch.float64 else 1e-5
    assert got.dtype == dtype and got.shape == want.shape
    assert ((got - want).abs().max() / want.abs().max()).item() <= tol
    monkeypatch.setattr(compiled_tile, "_side", side)
    monkeypatch.setattr(compiled_tile, "DENSE_RATIO", 1e9 if dense_left else 0.0)
    full = stack_operands(ops, False, "sparse")
    upper = compiled_tile.tile_readouts_fused(full, full, 3, 2, upper=True)
    whole = compiled_tile.tile_readouts_fused(full, full, 3, 2)
    assert ((upper - whole).abs().max() / whole.abs().max()).item() <= tol


@needs_numba
def test_kernels_leave_torch_thread_count_alone():
    """numba's OpenMP regions share torch's libgomp: the user's torch thread count must survive them."""
    s = torch.rand(300, 300, dtype=torch.float64)
    d = torch.ones(300, dtype=torch.float64)
    for threads in (1, 2, 1):
        torch.set_num_threads(threads)
        compiled_tile.ntk_step_fused(s.clone(), s.clone(), d, d)
        compiled_tile.ntk_step_fused(s[:5, :5].clone(), s[:5, :5].clone(), d[:5], d[:5])
        assert torch.get_num_threads() == threads


def test_balanced_bins_split_the_work_evenly():
    """Greedy longest-first: every item in exactly one bin, bin totals within the largest item."""
    rng = np.random.default_rng(0)
    for n, bins in [(1, 2), (7, 3), (200, 2), (200, 16)]:
        costs = rng.lognormal(0.0, 1.5, size=n)
        order, ptr = compiled_tile.balanced_bins(costs, bins)
        assert sorted(order.tolist()) == list(range(n)) and ptr[0] == 0 and ptr[-1] == n and len(ptr) == bins + 1
        loads = np.array([costs[order[ptr[b]:ptr[b + 1]]].sum() for b in range(bins)])
        assert loads.max() - loads.min() <= costs.max() + 1e-9


@needs_numba
def test_compiled_tile_same_on_one_and_two_threads():
    """The split of the left graphs over threads changes nothing in the result."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import stack_operands

    graphs = synthetic(num_graphs=30, min_nodes=2, max_nodes=40, seed=3).graphs
    ops = [prepare(g, num_blocks=3, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu") for g in graphs]
    st = stack_operands(ops, False, "sparse")
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(compiled_tile.tile_readouts_fused(st, st, 3, 2, upper=True))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(results[0], results[1])


def test_one_hot_tiles_start_from_the_aggregated_features():
    """With one-hot labels nnz(Y) <= nnz(C A): the cost rule takes the aggregated start."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import stack_operands

    graphs = synthetic(num_graphs=10, min_nodes=3, max_nodes=20, seed=2).graphs
    ops = [prepare(g, num_blocks=3, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu") for g in graphs]
    st = stack_operands(ops, False, "sparse")
    assert compiled_tile._aggregated_features_pay(st, st, (compiled_tile._side(st), compiled_tile._side(st)))


@needs_numba
@pytest.mark.parametrize("upper", [False, True])
def test_tile_aggregation_counts_the_multiply_adds_of_its_products(upper):
    """The benchmark's aggregation-only run reports Σ over graph pairs of nnz(A_g)·q_h + p_g·nnz(A_h), twice
    (Σ and Θ), with a dense block counted as p²."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import stack_operands

    graphs = synthetic(num_graphs=12, min_nodes=2, max_nodes=25, seed=5).graphs
    ops = [prepare(g, num_blocks=3, num_mlp_layers=2, scale="uniform", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu") for g in graphs]
    st = stack_operands(ops, False, "sparse")
    dense = compiled_tile._side(st)[0]
    cost = [op.num_rows ** 2 if dense else int(torch.count_nonzero(op.a)) for op in ops]
    want = sum(2 * (cost[g] * ops[h].num_rows + ops[g].num_rows * cost[h])
               for g in range(len(ops)) for h in range(g if upper else 0, len(ops)))
    assert compiled_tile.tile_aggregation_fused(st, st, upper=upper) == want
    if not upper:  # an off-diagonal tile: 5 left graphs against the other 7
        left, right = stack_operands(ops[:5], False, "sparse"), stack_operands(ops[5:], False, "sparse")
        side_cost = {id(st): [op.num_rows ** 2 if compiled_tile._side(st)[0] else int(torch.count_nonzero(op.a))
                              for op in ops] for st in (left, right)}
        cl, cr = side_cost[id(left)], side_cost[id(right)]
        want = sum(2 * (cl[g] * ops[h].num_rows + ops[g].num_rows * cr[h]) for g in range(5) for h in range(5, 12))
        assert compiled_tile.tile_aggregation_fused(left, right) == want


_BLAS_CHILD = r"""
import contextlib, sys, torch
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.pairwise import prepare_many
from fastgnn.gntk.tiles import stack_operands
from fastgnn.graph import Graph

torch.set_num_threads(2)
if sys.argv[1] == "unlimited":  # what the tile did before: no BLAS limit on tiles without dense blocks
    compiled_tile._one_blas_thread = contextlib.nullcontext
graphs = []
for g in range(6):  # sparse rings of 300 nodes, 12 labels: CSR sides, started from the aggregated features
    n = 300
    src = torch.arange(n)
    ei = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    x = torch.nn.functional.one_hot((src * (g + 7)) % 12, 12).double()
    graphs.append(Graph(ei, n, x))
ops = prepare_many(graphs, num_blocks=2, num_mlp_layers=1, scale="uniform", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu", compress=False)
st = stack_operands(ops, False, "sparse")
compiled_tile.COLUMN_CHUNK = 4096
assert not compiled_tile._side(st)[0]
compiled_tile.tile_readouts_fused(st, st, 2, 1)
"""


@needs_numba
@pytest.mark.slow
def test_compiled_tile_calls_blas_single_threaded_inside_its_parallel_region(tmp_path):
    """OpenBLAS (pthreads) warns "Detect OpenMP Loop and this application may hang" when a multi-threaded
    call comes from inside an OpenMP parallel region, as the tile's start product ``Y_g Y_Cᵀ`` did on
    sparse tiles (PROTEINS, 2 threads): the tile now runs BLAS on one thread whatever its layout.
    The child without the limit shows that the check sees the warning where it happens."""
    import os
    import subprocess

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: neither numba nor OpenBLAS runs two threads")
    script = tmp_path / "child.py"
    script.write_text(_BLAS_CHILD)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}

    def stderr(mode):
        done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "Detect OpenMP Loop" not in stderr("limited")
    if "Detect OpenMP Loop" not in stderr("unlimited"):
        pytest.skip("this OpenBLAS does not warn (an OpenMP build, or it ran the product on one thread)")


def test_switches_are_a_config_restored_by_its_context():
    """The switches are read with get_config and set with set_config / config_context, which restores
    them after its block, also when it raises."""
    before = compiled_tile.get_config()
    assert set(before) == {"enabled", "sketched_tile"}
    with pytest.raises(RuntimeError), compiled_tile.config_context(enabled=False, sketched_tile=False):
        assert compiled_tile.get_config() == {"enabled": False, "sketched_tile": False}
        assert not compiled_tile.available() and not compiled_tile.usable(torch.zeros(2, 2), torch.zeros(2))
        raise RuntimeError
    assert compiled_tile.get_config() == before
    with compiled_tile.config_context():
        compiled_tile.set_config(sketched_tile=False)  # None leaves the other switch alone
        assert compiled_tile.get_config() == {**before, "sketched_tile": False}
    assert compiled_tile.get_config() == before


def test_kernels_cached_answers_or_says_it_cannot_tell():
    assert compiled_tile.kernels_cached() in (True, False, None)
    with compiled_tile.config_context(enabled=False):
        assert compiled_tile.kernels_cached() is None
