"""GNTK: the paper's algorithms agree with each other, the sketch converges, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_shared, rel

from fastgnn import GNTK, Graph
from fastgnn.gntk import aggregate_decoupled, aggregate_sketch, combine_readouts, sketch_matrix


def random_graph(rng, n, p=0.3, d=3, onehot=False, isolated=0):
    a = np.triu(rng.random((n, n)) < p, 1)
    a[:, n - isolated :] = False
    a[n - isolated :, :] = False
    u, v = np.nonzero(a)
    edge_index = torch.tensor(np.stack([np.r_[u, v], np.r_[v, u]]), dtype=torch.long)
    x = np.eye(d)[rng.integers(0, d, n)] if onehot else rng.random((n, d))
    return Graph(edge_index, n, torch.tensor(x))


@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(0)
    gs = [random_graph(rng, int(n), onehot=bool(k % 2)) for k, n in enumerate(rng.integers(2, 13, 14))]
    gs.append(random_graph(rng, 6, isolated=2, onehot=True))
    gs.append(Graph(torch.zeros(2, 0, dtype=torch.long), 1, torch.tensor([[1.0, 0.0, 0.0]])))
    return gs


@pytest.mark.parametrize("scale", ["uniform", "degree"])
@pytest.mark.parametrize("jk", [True, False])
@pytest.mark.parametrize("layers", [(2, 1), (4, 2), (3, 3)])
def test_kron_decoupled_batched_agree(graphs, scale, jk, layers):
    L, R = layers
    grams = {
        m: GNTK(num_layers=L, num_mlp_layers=R, scale=scale, jk=jk, method=m).fit_transform(graphs)
        for m in ("kron", "decoupled", "batched")
    }
    assert rel(grams["decoupled"], grams["kron"]) < 1e-10
    assert rel(grams["batched"], grams["kron"]) < 1e-10
    K = grams["kron"]
    assert np.allclose(K, K.T, rtol=1e-12, atol=0)
    assert np.linalg.eigvalsh(K).min() > -1e-9 * np.abs(K).max()  # a kernel is PSD


def test_small_batched_tiles_match_one_tile(graphs):
    one = GNTK(num_layers=3, max_memory="1GB").fit_transform(graphs)
    tiny = GNTK(num_layers=3, max_memory=8 * 8 * 64 * 64).fit_transform(graphs)  # 64-node tiles
    assert rel(tiny, one) < 1e-12


def test_first_block_by_hand():
    """One block, R = 1, uniform, no jk on a 2-node path against itself, worked by hand."""
    g = Graph(torch.tensor([[0, 1], [1, 0]]), 2, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    # Σ⁰ = I; aggregation with A = [[1,1],[1,1]] gives Σ = all 2s: ρ = 1 everywhere, so
    # Σ' = Σ (κ₁(1) = 1), Σ̇ = 1, Θ = Σ ⊙ 1 + Σ' = 2Σ = all 4s, readout 16.
    K = GNTK(num_layers=2, num_mlp_layers=1, jk=False, method="decoupled").fit_transform([g])
    assert K[0, 0] == pytest.approx(16.0, rel=1e-14)
    # jk adds the input readout sum(XXᵀ) = 2
    K = GNTK(num_layers=2, num_mlp_layers=1, jk=True, method="kron").fit_transform([g])
    assert K[0, 0] == pytest.approx(18.0, rel=1e-14)


def test_transform_matches_fit_transform(graphs):
    full = GNTK(num_layers=3, scale="degree").fit_transform(graphs)
    for method in ("batched", "decoupled"):
        est = GNTK(num_layers=3, scale="degree", method=method).fit(graphs[:9])
        part = est.transform(graphs[9:])
        assert part.shape == (len(graphs) - 9, 9)
        assert rel(part, full[9:, :9]) < 1e-12


def test_readouts_give_every_shallower_depth(graphs):
    parts = GNTK(num_layers=5, num_mlp_layers=2).readouts(graphs)
    assert parts.shape == (5, len(graphs), len(graphs))
    for L in (2, 3, 5):
        for jk in (True, False):
            direct = GNTK(num_layers=L, num_mlp_layers=2, jk=jk, method="decoupled").fit_transform(graphs)
            assert rel(combine_readouts(parts, L, jk), direct) < 1e-10


def test_float32_close_to_float64(graphs):
    k64 = GNTK(num_layers=4).fit_transform(graphs)
    k32 = GNTK(num_layers=4, dtype=torch.float32).fit_transform(graphs)
    assert rel(k32, k64) < 1e-4


def test_sklearn_precomputed_svc(graphs):
    from sklearn.base import clone
    from sklearn.svm import SVC

    est = GNTK(num_layers=3, num_mlp_layers=1)
    assert clone(est).get_params() == est.get_params()
    K = est.fit_transform(graphs)
    y = np.array([g.num_nodes > 6 for g in graphs], dtype=int)
    clf = SVC(kernel="precomputed", C=10).fit(K, y)
    assert clf.score(K, y) > 0.7


# --- sketching -----------------------------------------------------------------


def test_sketch_error_falls_like_inverse_sqrt_b():
    """Lemma 4.3 / 5.4 on random matrices.

    The readout sums Σ' over all node pairs, i.e. the bilinear form
    gᵀ (A SᵀS H SᵀS Bᵀ) h with g = h = 1.  Lemma 5.4 bounds its error by
    O(1/√b) · ‖Aᵀg‖ ‖Bᵀh‖ ‖H‖ (plus an O(1/b) term); with non-negative features,
    as one-hot inputs and ReLU outputs are, the 1/√b term dominates.
    """
    rng = np.random.default_rng(1)
    n = 400
    a = torch.tensor(rng.random((n, n)) < 0.05, dtype=torch.float64) + torch.eye(n)
    b_mat = torch.tensor(rng.random((n, n)) < 0.05, dtype=torch.float64) + torch.eye(n)
    x = rng.random((n, 8))
    h = torch.tensor(x @ x.T)
    exact = aggregate_decoupled(h, a, b_mat)
    ones = torch.ones(n, dtype=torch.float64)
    scale = float(
        torch.linalg.norm(a.T @ ones) * torch.linalg.norm(b_mat.T @ ones) * torch.linalg.norm(h, 2)
    )
    sizes = [4, 16, 64]
    errors = []
    for b in sizes:
        errs = []
        for seed in range(30):
            gen = torch.Generator().manual_seed(seed)
            s_g = sketch_matrix(b, n, generator=gen)
            s_h = sketch_matrix(b, n, generator=gen)
            approx = aggregate_sketch(h, s_g, a @ s_g.T, s_h, b_mat @ s_h.T)
            errs.append(float((approx - exact).sum()) / scale)
        errors.append(np.sqrt(np.mean(np.square(errs))))
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert errors[0] > errors[1] > errors[2]
    assert -0.8 < slope < -0.35, (errors, slope)


def test_sketch_matrix_entries_and_unbiasedness():
    gen = torch.Generator().manual_seed(0)
    s = sketch_matrix(64, 10, generator=gen)
    assert torch.allclose(s.abs(), torch.full_like(s, 1 / 8))  # AMS: ±1/√b
    for kind in ("ams", "gaussian"):
        avg = sum(
            (lambda m: m.T @ m)(sketch_matrix(8, 10, kind=kind, generator=gen)) for _ in range(2000)
        ) / 2000
        assert torch.allclose(avg, torch.eye(10, dtype=avg.dtype), atol=0.08)  # E[SᵀS] = I
    with pytest.raises(ValueError, match="ams"):
        sketch_matrix(4, 4, kind="srht")


def test_sketch_pairwise_equals_batched_and_is_deterministic(graphs):
    kw = dict(num_layers=3, num_mlp_layers=2, sketch_size=4, seed=3)
    pair = GNTK(method="sketch", **kw).fit_transform(graphs)
    batched = GNTK(method="batched", **kw).fit_transform(graphs)
    assert rel(batched, pair) < 1e-10
    assert np.array_equal(pair, GNTK(method="sketch", **kw).fit_transform(graphs))
    other_seed = GNTK(method="sketch", **{**kw, "seed": 4}).fit_transform(graphs)
    assert rel(other_seed, pair) > 1e-6
    # the same graph gets the same sketch in transform as in fit
    est = GNTK(method="sketch", **kw).fit(graphs[:8])
    assert rel(est.transform(graphs[8:]), pair[8:, :8]) < 1e-12


def test_sketch_with_b_at_least_n_is_exact(graphs):
    big = max(g.num_nodes for g in graphs)
    exact = GNTK(num_layers=3, method="decoupled").fit_transform(graphs)
    sk = GNTK(num_layers=3, method="sketch", sketch_size=big).fit_transform(graphs)
    assert rel(sk, exact) < 1e-10


def test_sketched_gram_error_falls_with_b():
    rng = np.random.default_rng(2)
    gs = [random_graph(rng, int(n), p=0.4, onehot=True) for n in rng.integers(40, 60, 12)]
    exact = GNTK(num_layers=3, method="decoupled").fit_transform(gs)
    errs = []
    for b in (4, 16, 39):
        e = [rel(GNTK(num_layers=3, method="batched", sketch_size=b, seed=s).fit_transform(gs), exact)
             for s in range(3)]
        errs.append(np.mean(e))
    assert errs[0] > errs[1] > errs[2]


# --- bad input -------------------------------------------------------------------


def test_empty_graph_is_refused():
    empty = Graph(torch.zeros(2, 0, dtype=torch.long), 0, torch.zeros(0, 3))
    with pytest.raises(ValueError, match="0 nodes"):
        GNTK().fit_transform([empty])


def test_non_finite_features_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        Graph(torch.tensor([[0], [1]]), 2, torch.tensor([[1.0], [float("nan")]]))


def test_zero_features_give_a_finite_kernel():
    g = Graph(torch.tensor([[0, 1], [1, 0]]), 3, torch.zeros(3, 2))
    h = Graph(torch.tensor([[0, 1], [1, 0]]), 2, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    for method in ("batched", "kron"):
        K = GNTK(num_layers=3, method=method).fit_transform([g, h])
        assert np.isfinite(K).all()
        assert K[0, 0] == 0.0  # an all-zero graph has zero covariance at every layer


def test_mismatched_feature_dimensions():
    g = Graph(torch.zeros(2, 0, dtype=torch.long), 2, torch.ones(2, 3))
    h = Graph(torch.zeros(2, 0, dtype=torch.long), 2, torch.ones(2, 4))
    with pytest.raises(ValueError, match="fit: graph 1 has 4 node features, graph 0 has 3"):
        GNTK().fit_transform([g, h])
    est = GNTK().fit([g])
    with pytest.raises(ValueError, match="transform: .*4 node features.*3"):
        est.transform([h])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_layers": 1}, "num_layers"),
        ({"num_mlp_layers": 0}, "num_mlp_layers"),
        ({"scale": "sym"}, "scale"),
        ({"method": "fast"}, "method"),
        ({"method": "sketch"}, "sketch_size"),
        ({"sketch_size": 0}, "sketch_size"),
        ({"method": "decoupled", "sketch_size": 4}, "sketch_size applies"),
        ({"method": "kron", "sketch_size": 4}, "sketch_size applies"),
        ({"max_memory": "lots"}, "max_memory"),
    ],
)
def test_bad_parameters(graphs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GNTK(**kwargs).fit_transform(graphs[:3])


def test_transform_before_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        GNTK().transform([])


def test_networkx_graphs_are_accepted():
    nx = pytest.importorskip("networkx")
    K = GNTK(num_layers=2).fit_transform([nx.path_graph(4), nx.cycle_graph(5)])
    assert K.shape == (2, 2) and np.isfinite(K).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("sketch_size", [None, 4])
def test_cuda_matches_cpu(graphs, sketch_size):
    cpu = GNTK(num_layers=4, num_mlp_layers=2, sketch_size=sketch_size).fit_transform(graphs)
    gpu = GNTK(num_layers=4, num_mlp_layers=2, sketch_size=sketch_size, device="cuda").fit_transform(graphs)
    assert rel(gpu, cpu) < 1e-10
    gpu32 = GNTK(num_layers=4, num_mlp_layers=2, sketch_size=sketch_size, device="cuda",
                 dtype=torch.float32).fit_transform(graphs)
    assert rel(gpu32, cpu) < 1e-4


@pytest.mark.data
def test_sketched_gram_error_falls_with_b_on_proteins():
    """The sketched kernel approaches the exact one as b grows, on a real dataset's Gram."""
    data = load_shared("PROTEINS")
    big = [g for g in data.graphs if 60 <= g.num_nodes <= 90][:16]
    exact = GNTK(num_layers=3, num_mlp_layers=1, method="batched").fit_transform(big)
    errs = []
    for b in (4, 16, 48):
        grams = [GNTK(num_layers=3, num_mlp_layers=1, sketch_size=b, seed=s).fit_transform(big) for s in range(3)]
        errs.append(np.mean([np.linalg.norm(k - exact) / np.linalg.norm(exact) for k in grams]))
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 0.5 * errs[0], errs


@pytest.mark.parametrize("layouts", [("dense", "dense"), ("dense", "sparse"), ("sparse", "dense")])
def test_padded_dense_layout_equals_sparse(graphs, layouts):
    """The padded dense tile layout (batched dense products) gives the sparse layout's readouts."""
    from fastgnn.gntk.pairwise import prepare
    from fastgnn.gntk.tiles import choose_layout, stack_operands, tile_readouts

    ops = [prepare(g, num_blocks=3, num_mlp_layers=2, scale="degree", method="decoupled", sketch_size=None,
                   sketch_kind="ams", seed=0, dtype=torch.float64, device="cpu") for g in graphs]
    left, right = ops[:7], ops[7:]
    base = tile_readouts(stack_operands(left, False, "sparse"), stack_operands(right, False, "sparse"), 3, 2)
    other = tile_readouts(stack_operands(left, False, layouts[0]), stack_operands(right, False, layouts[1]), 3, 2)
    assert float((other - base).abs().max() / base.abs().max()) < 1e-12
    assert choose_layout(left, sketched=True) == "sparse"
    with pytest.raises(ValueError, match="exact kernel only"):
        stack_operands(left, True, "dense")
