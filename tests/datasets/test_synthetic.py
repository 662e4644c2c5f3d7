"""The synthetic generator: determinism, matched density, a learnable signal, COLLAB preset."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from fastgnn.datasets import load, synthetic, synthetic_collab
from fastgnn.datasets.synthetic import COLLAB_PRESET, _densities, _node_counts


def same(a, b) -> bool:
    return (
        np.array_equal(a.y, b.y)
        and all(torch.equal(g.edge_index, h.edge_index) and torch.equal(g.x, h.x)
                for g, h in zip(a, b))
        and all(np.array_equal(f[1], h[1]) for f, h in zip(a.folds, b.folds))
    )


def test_deterministic_by_seed():
    a, b, c = synthetic(60, seed=3), synthetic(60, seed=3), synthetic(60, seed=4)
    assert same(a, b)
    assert not same(a, c)
    assert same(load("synthetic"), synthetic())


def test_default_set_shape():
    ds = synthetic()
    s = ds.stats()
    assert (s["graphs"], s["classes"], s["features"]) == (200, 2, 4)
    assert np.bincount(ds.y).tolist() == [100, 100]
    nodes = np.array([g.num_nodes for g in ds])
    assert nodes.min() >= 10 and nodes.max() <= 40
    assert len(ds.folds) == 10
    for g in ds:
        assert g.x.dtype == torch.float64 and torch.all(g.x.sum(1) == 1)
        ei = g.edge_index.numpy()
        assert not np.any(ei[0] == ei[1]), "no self-loops"
        keys = ei[0] * g.num_nodes + ei[1]
        assert np.all(np.diff(keys) > 0)
        assert np.array_equal(np.sort(ei[1] * g.num_nodes + ei[0]), keys), "symmetric"
    assert {g.meta["model"] for g in ds} == {"erdos-renyi", "sbm-2"}


def edge_density(g) -> float:
    n = g.num_nodes
    return g.num_edges / (n * (n - 1)) if n > 1 else 0.0


@pytest.mark.parametrize("num_classes", [2, 3, 4])
def test_classes_have_the_same_density_and_sizes(num_classes):
    ds = synthetic(600, num_classes=num_classes, seed=1)
    dens = np.array([edge_density(g) for g in ds])
    nodes = np.array([g.num_nodes for g in ds])
    for c in range(num_classes):
        assert dens[ds.y == c].mean() == pytest.approx(0.25, rel=0.06)
        assert nodes[ds.y == c].mean() == pytest.approx(25, rel=0.08)


def wl_like_features(ds, num_tags: int) -> np.ndarray:
    """Tag histogram, tag-pair edge histogram, degree histogram, clustering, degree spread."""
    rows = []
    for g in ds:
        a = g.adjacency(self_loops=False).numpy()
        onehot = np.eye(num_tags)[np.asarray(g.meta["tags"])]
        deg = a.sum(1)
        wedges = max((deg * (deg - 1) / 2).sum(), 1)
        clustering = np.trace(a @ a @ a) / 6 / wedges
        pairs = (onehot.T @ a @ onehot).ravel() / max(a.sum(), 1)
        hist = np.histogram(deg / (g.num_nodes - 1), bins=10, range=(0, 1))[0] / g.num_nodes
        rows.append(np.concatenate([onehot.mean(0), pairs, hist,
                                    [clustering, deg.std() / max(deg.mean(), 1)]]))
    f = np.array(rows)
    return (f - f.mean(0)) / (f.std(0) + 1e-9)


def cv_accuracy(features, y) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    return float(cross_val_score(SVC(C=10), features, y, cv=5).mean())


def test_default_set_is_learnable_but_not_by_size():
    ds = load("synthetic")
    assert cv_accuracy(wl_like_features(ds, 4), ds.y) >= 0.78  # measured 0.82
    sizes = np.array([[g.num_nodes, g.num_edges] for g in ds], dtype=float)
    sizes = (sizes - sizes.mean(0)) / sizes.std(0)
    assert cv_accuracy(sizes, ds.y) <= 0.62  # node and edge counts carry (almost) nothing


def test_signal_zero_is_not_learnable_and_three_classes_are():
    flat = synthetic(300, num_classes=3, signal=0.0, seed=2)
    assert cv_accuracy(wl_like_features(flat, 4), flat.y) < 0.5  # chance is 1/3
    ds = synthetic(300, num_classes=3, seed=2)
    assert cv_accuracy(wl_like_features(ds, 4), ds.y) > 0.75


def test_degree_features_are_one_hot_degrees():
    ds = synthetic(50, features="degree", seed=5)
    vocab = np.unique(np.concatenate([g.degrees().numpy() for g in ds]))
    assert ds.num_features == len(vocab)
    for g in ds:
        assert np.array_equal(vocab[g.x.argmax(1).numpy()], g.degrees().numpy())


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="min_nodes"):
        synthetic(min_nodes=5, max_nodes=3)
    with pytest.raises(ValueError, match="unknown preset"):
        synthetic(preset="enzymes")
    with pytest.raises(ValueError, match="signal"):
        synthetic(signal=2)
    with pytest.raises(ValueError, match="features"):
        synthetic(10, features="ones")
    with pytest.raises(ValueError, match="mean_nodes"):
        synthetic(10, mean_nodes=100)


def test_collab_preset_size_plan():
    """The node counts and densities of the COLLAB preset, without building the graphs."""
    rng = np.random.default_rng(0)
    p = COLLAB_PRESET
    sizes = _node_counts(rng, p["num_graphs"], p["min_nodes"], p["max_nodes"], p["mean_nodes"])
    assert (sizes.min(), sizes.max()) == (32, 492)
    assert sizes.mean() == pytest.approx(74.49, abs=0.1)
    dens = _densities(rng, sizes, 0.5, p["mean_edges"])
    assert (dens * sizes * (sizes - 1) / 2).mean() == pytest.approx(2457.78, rel=1e-6)
    assert dens.max() <= 1


@pytest.mark.slow
def test_collab_preset(capsys, one_torch_thread):  # thousands of small tensors: threads only add overhead
    start = time.perf_counter()
    ds = synthetic_collab(dtype=torch.float32)
    seconds = time.perf_counter() - start
    nodes = np.array([g.num_nodes for g in ds])
    edges = np.array([g.num_edges / 2 for g in ds])
    with capsys.disabled():
        print(f"\nsynthetic COLLAB: {ds.stats()} min nodes {nodes.min()}, "
              f"edges {edges.min():.0f}..{edges.max():.0f}, generated in {seconds:.1f} s")
    assert len(ds) == 5000 and ds.num_classes == 3 and ds.name == "synthetic-COLLAB"
    assert np.bincount(ds.y).tolist() == [1667, 1667, 1666]
    assert (nodes.min(), nodes.max()) == (32, 492)
    assert nodes.mean() == pytest.approx(74.49, abs=0.2)
    assert edges.mean() == pytest.approx(2457.78, rel=0.02)
    assert ds.graphs[0].x.dtype == torch.float32
