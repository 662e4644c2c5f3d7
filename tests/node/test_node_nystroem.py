"""fastgnn.node.nystroem: the recursive Nyström is the exact recursion when every node is a landmark
(NNGP and NTK, the first layer exact or itself approximated), its error falls with m, the landmark
rules, the LowRank factor's algebra, float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastgnn.datasets import sbm
from fastgnn.node import GCNKernel, LowRank, as_node_graph, exact_kernels, nystroem_kernels, select_landmarks
from fastgnn.node.nystroem import inverse_sqrt


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


@pytest.fixture(scope="module")
def data():
    return sbm(120, num_classes=3, num_features=6, avg_degree=5, seed=3, dtype=torch.float64)


@pytest.mark.parametrize("features", [6, 200], ids=["F<m", "F>m"])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_every_node_a_landmark_is_exact(features, activation):
    """m = N: Q Qᵀ = K and the re-projected Θ ⊙ E[φ'φ'] = itself, at every depth."""
    d = sbm(80, num_classes=3, num_features=features, avg_degree=5, seed=features, dtype=torch.float64)
    g = as_node_graph(d)
    kw = dict(num_layers=4, sigma_w=1.3, sigma_b=0.2, activation=activation, ntk=True)
    exact = list(exact_kernels(g, **kw))
    low = list(nystroem_kernels(g, torch.arange(80), **kw))
    for (_, k, t), (_, lk, lt) in zip(exact, low):
        # eigenvalues below 10 m eps of the largest are dropped: that much error at most
        assert _rel(lk.matrix().numpy(), k) < 1e-9, _rel(lk.matrix().numpy(), k)
        assert _rel(lt.matrix().numpy(), t) < 1e-9, _rel(lt.matrix().numpy(), t)


def test_error_falls_with_landmarks(data):
    g = as_node_graph(data)
    k_exact = list(exact_kernels(g, num_layers=3, sigma_b=0.1, ntk=True))[-1]
    errors = {}
    for m in (10, 40, 120):
        lm = select_landmarks(g, m, "random", random_state=1)
        *_, (_, k, t) = nystroem_kernels(g, lm, num_layers=3, sigma_b=0.1, ntk=True)
        errors[m] = (_rel(k.matrix(), k_exact[1]), _rel(t.matrix(), k_exact[2]))
    msg = f"(NNGP, NTK) relative errors by m: {errors}"
    assert errors[10][0] > errors[40][0] > errors[120][0], msg
    assert errors[10][1] > errors[40][1] > errors[120][1], msg
    assert errors[120][0] < 1e-9 and errors[120][1] < 1e-9, msg


def test_estimator_features_and_float32(data):
    est = GCNKernel("ntk", num_layers=3, sigma_b=0.1, method="nystroem", num_landmarks=120)
    f = est.fit_transform(data)
    assert f.shape == (120, 2 * 120 + 1) and est.landmarks_.tolist() == list(range(120))
    exact = GCNKernel("ntk", num_layers=3, sigma_b=0.1).fit_transform(data)
    assert _rel(f @ f.T, exact) < 1e-9
    f32 = GCNKernel("ntk", num_layers=3, sigma_b=0.1, method="nystroem", num_landmarks=50,
                    dtype="float32").fit_transform(data)
    f64 = GCNKernel("ntk", num_layers=3, sigma_b=0.1, method="nystroem", num_landmarks=50).fit_transform(data)
    assert f32.dtype == np.float32
    assert _rel(f32.astype(np.float64) @ f32.T, f64 @ f64.T) < 1e-4


def test_lowrank_algebra():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 3, generator=gen, dtype=torch.float64), torch.randn(7, 2, generator=gen, dtype=torch.float64)
    lr = LowRank([a, b], 0.25)
    dense = a @ a.T + b @ b.T + 0.25
    torch.testing.assert_close(lr.matrix(), dense)
    torch.testing.assert_close(lr.features() @ lr.features().T, dense)
    torch.testing.assert_close(lr.diag(), torch.diagonal(dense))
    torch.testing.assert_close(lr.cross(torch.tensor([1, 4]), torch.tensor([0, 6])), dense[[1, 4]][:, [0, 6]])
    assert lr.width == 6 and LowRank([a], 0.0).width == 3
    w = dense[:4, :4]
    t = inverse_sqrt(w)
    torch.testing.assert_close(t @ t.T, torch.linalg.inv(w))


def test_landmark_rules(data):
    g = as_node_graph(data)
    train = torch.nonzero(data.train_mask).reshape(-1)
    for rule in ("random", "train", "pivoted"):
        lm = select_landmarks(g, 30, rule, random_state=4)
        assert lm.numel() == 30 and torch.unique(lm).numel() == 30 and bool((lm[1:] > lm[:-1]).all())
        assert torch.equal(lm, select_landmarks(g, 30, rule, random_state=4))  # seeded
    assert set(train.tolist()) <= set(select_landmarks(g, 30, "train").tolist())  # 12 training nodes, all in
    assert select_landmarks(g, 1000, "random").numel() == 120  # at most N
    # pivoted: the first ReLU layer's kernel is better approximated than by random landmarks of that size
    k2 = list(exact_kernels(g, num_layers=2))[-1][1]
    err = {}
    for rule in ("random", "pivoted"):
        *_, (_, k, _) = nystroem_kernels(g, select_landmarks(g, 15, rule, random_state=2), num_layers=2)
        err[rule] = _rel(k.matrix(), k2)
    assert err["pivoted"] < err["random"], err


@pytest.mark.parametrize("bad", [[0, 0, 1], [-1, 2], [5, 120], []])
def test_bad_landmarks_are_refused(data, bad):
    g = as_node_graph(data)
    with pytest.raises(ValueError, match="distinct node indices in 0..119"):
        select_landmarks(g, 3, bad)
    with pytest.raises(ValueError, match="landmarks"):
        list(nystroem_kernels(g, torch.tensor(bad, dtype=torch.long), num_layers=2))


def test_train_rule_needs_a_mask():
    class Bare:
        x = torch.randn(10, 3)
        edge_index = torch.tensor([[0, 1], [1, 0]])

    with pytest.raises(ValueError, match="landmarks='train' needs a train_mask"):
        GCNKernel(method="nystroem", num_landmarks=4, landmarks="train").fit(Bare())
