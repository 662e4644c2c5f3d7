"""Synthetic graph-classification datasets with a learnable structural signal.

Each class is drawn from a different random-graph model, at the same edge
density, so node and edge counts say nothing about the class, but structure
does:

* class 0: Erdős–Rényi ``G(n, p)``: homogeneous, no communities;
* class 1: a stochastic block model with 2 communities of random sizes,
  denser inside than across;
* class 2: core–periphery: a dense core (a quarter of the nodes) that links
  to everyone, and a sparse periphery;
* class c >= 3: a stochastic block model with c communities.

The ``signal`` argument sets how far the models are from Erdős–Rényi (0: all
classes are ``G(n, p)``; 1: no edges across communities / among peripheral
nodes).  With ``features="tags"`` node tags are drawn from a class-dependent
categorical distribution, and inside communities they lean towards a tag of
the community's own (homophily), so a model that combines tags and structure
(WL kernel, GNTK, GNN) does better than either alone.  With
``features="degree"`` nodes get one-hot degrees, as the social benchmarks do.

Everything is drawn from one ``numpy.random.default_rng(seed)``, so a seed
gives the same dataset every time.  Cost: O(sum of n^2) random numbers, in
NumPy; the COLLAB-sized preset (5000 graphs, mean 74.5 nodes) takes a few
seconds, most of it building the torch tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from fastgnn.datasets.raw import RawGraph, build_dataset
from fastgnn.graph import GraphDataset

__all__ = ["synthetic", "synthetic_collab", "COLLAB_PRESET"]

#: The size of COLLAB (Yanardag & Vishwanathan 2015): 5000 ego-networks,
#: 3 classes, 32 to 492 nodes (mean 74.49), mean 2457.78 undirected edges.
COLLAB_PRESET = dict(
    num_graphs=5000,
    num_classes=3,
    min_nodes=32,
    max_nodes=492,
    mean_nodes=74.49,
    mean_edges=2457.78,
    features="degree",
    name="synthetic-COLLAB",
)


def synthetic(
    num_graphs: int = 200,
    *,
    min_nodes: int = 10,
    max_nodes: int = 40,
    mean_nodes: float | None = None,
    density: float = 0.25,
    mean_edges: float | None = None,
    num_classes: int = 2,
    num_tags: int = 4,
    features: str = "tags",
    signal: float = 0.7,
    seed: int = 0,
    name: str = "synthetic",
    preset: str | None = None,
    dtype: torch.dtype = torch.float64,
) -> GraphDataset:
    """A synthetic graph-classification dataset (see the module docstring).

    Args:
        num_graphs: number of graphs; classes are balanced (sizes differ by at most 1).
        min_nodes, max_nodes: range of the node counts n.
        mean_nodes: None: n uniform on ``min..max``.  Otherwise n is
            ``min_nodes`` plus a log-normal tail scaled to this mean, capped
            at ``max_nodes``; one graph is set to ``min_nodes`` and one to
            ``max_nodes`` so the range is exact.
        density: expected edge density p of each graph (times a per-graph
            factor uniform in [0.8, 1.2]), the same for every class.
        mean_edges: if given, overrides ``density``: the per-graph densities
            are scaled so the expected mean number of undirected edges is this.
        num_classes: C >= 1.
        num_tags: number of distinct node tags (``features="tags"``).
        features: ``"tags"`` (one-hot tags) or ``"degree"`` (one-hot degree).
        signal: in [0, 1], how different the classes' models are.
        seed: seed of the generator; the same seed gives the same dataset.
        name: the dataset's name.
        preset: ``"collab"``: COLLAB's size (:data:`COLLAB_PRESET`); then only
            ``seed``, ``signal`` and ``dtype`` are taken from the arguments.
        dtype: dtype of ``x``.

    Returns:
        a :class:`GraphDataset` whose folds are seeded stratified 10 folds;
        each graph's ``meta`` has ``"tags"`` and ``"model"`` (the generator's
        name for its class).
    """
    if preset is not None:
        if str(preset).lower() != "collab":
            raise ValueError(f"unknown preset {preset!r}; known presets: 'collab'")
        return synthetic(**COLLAB_PRESET, signal=signal, seed=seed, dtype=dtype)
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"need 1 <= min_nodes <= max_nodes, got {min_nodes}, {max_nodes}")
    if num_classes < 1 or num_graphs < 1:
        raise ValueError("num_classes and num_graphs must be >= 1")
    if not 0 <= signal <= 1:
        raise ValueError(f"signal must be in [0, 1], got {signal}")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")

    rng = np.random.default_rng(seed)
    sizes = _node_counts(rng, num_graphs, min_nodes, max_nodes, mean_nodes)
    labels = rng.permutation(np.arange(num_graphs) % num_classes)
    densities = _densities(rng, sizes, density, mean_edges)
    tag_logits = _tag_logits(rng, num_classes, num_tags, signal)

    raw = []
    for n, c, p in zip(sizes.tolist(), labels.tolist(), densities.tolist()):
        block, probs, model = _model(rng, c, n, p, signal)
        upper = np.triu(rng.random((n, n)) < probs, 1)
        adj = upper | upper.T
        src, dst = np.nonzero(adj)
        tags = np.zeros(n, dtype=np.int64)
        if features == "tags":
            tags = _tags(rng, n, tag_logits[c], block, signal)
        raw.append(RawGraph(n, np.stack([src, dst]), tags, c, meta={"model": model}))
    return build_dataset(raw, features=features, name=name, dtype=dtype)


def synthetic_collab(seed: int = 0, *, signal: float = 0.7, dtype=torch.float64) -> GraphDataset:
    """A synthetic dataset the size of COLLAB (:data:`COLLAB_PRESET`), one-hot degree features.

    About 5000 graphs x 74.5 nodes and 2457 undirected edges on average:
    ``edge_index`` totals about 25M directed edges (0.4 GB) and the dense
    one-hot ``x`` about 372k x ~480 values (1.4 GB in float64, half in float32).
    """
    return synthetic(preset="collab", seed=seed, signal=signal, dtype=dtype)


# --------------------------------------------------------------------------- sizes


def _node_counts(rng, num_graphs, lo, hi, mean) -> np.ndarray:
    """Node counts: uniform on lo..hi, or lo + a capped log-normal tail with the given mean."""
    if mean is None:
        return rng.integers(lo, hi + 1, size=num_graphs)
    if not lo <= mean <= hi:
        raise ValueError(f"mean_nodes={mean} is outside {lo}..{hi}")
    z = rng.lognormal(0.0, 1.0, size=num_graphs)
    # scale s so that mean(lo + min(s z, hi - lo)) == mean, by bisection
    a, b = 0.0, (hi - lo) / max(z.min(), 1e-12)
    for _ in range(100):
        s = (a + b) / 2
        if lo + np.minimum(s * z, hi - lo).mean() < mean:
            a = s
        else:
            b = s
    sizes = np.rint(lo + np.minimum(a * z, hi - lo)).astype(np.int64)
    if num_graphs >= 2:
        sizes[np.argmin(sizes)] = lo
        sizes[np.argmax(sizes)] = hi
    return sizes


def _densities(rng, sizes, density, mean_edges) -> np.ndarray:
    """Per-graph edge density: ``density`` x U[0.8, 1.2], or scaled to ``mean_edges``."""
    factor = rng.uniform(0.8, 1.2, size=len(sizes))
    if mean_edges is None:
        return np.clip(density * factor, 0.0, 1.0)
    pairs = sizes * (sizes - 1) / 2
    if mean_edges > pairs.mean():
        raise ValueError(f"mean_edges={mean_edges} exceeds the mean number of node pairs")
    a, b = 0.0, 1.0 / factor.min()
    for _ in range(100):  # bisection on the base density
        s = (a + b) / 2
        if (np.minimum(s * factor, 1.0) * pairs).mean() < mean_edges:
            a = s
        else:
            b = s
    return np.minimum(b * factor, 1.0)


# --------------------------------------------------------------------------- models


def _model(rng, c: int, n: int, p: float, signal: float):
    """(community of each node or None, ``[n, n]`` edge probabilities, model name) for class c.

    The block probabilities are set so the expected density is p: the
    "sparse" pairs get ``p (1 - signal)`` and the "dense" pairs whatever makes
    the mean p, capped at 1 (then the sparse pairs take up the rest).
    """
    if c == 0 or n < 2:
        return None, p, "erdos-renyi"
    if c == 2:  # core-periphery: block 0 = core (dense rows/columns), block 1 = periphery
        core = max(1, round(n / 4))
        block = np.ones(n, dtype=np.int64)
        block[rng.choice(n, core, replace=False)] = 0
        dense = (block[:, None] == 0) | (block[None, :] == 0)
        model = "core-periphery"
    else:  # stochastic block model with 2 (class 1) or c (class >= 3) communities
        k = 2 if c == 1 else c
        share = rng.dirichlet(np.full(k, 3.0))
        block = rng.choice(k, size=n, p=share)
        dense = block[:, None] == block[None, :]
        model = f"sbm-{k}"
    pairs = n * (n - 1) / 2
    if c == 2:  # share of node pairs that are "dense": all but periphery-periphery
        frac = 1 - (n - core) * (n - core - 1) / 2 / pairs
    else:
        counts = np.bincount(block, minlength=k)
        frac = (counts * (counts - 1) / 2).sum() / pairs
    if frac in (0.0, 1.0):
        return block, p, model
    p_sparse = p * (1 - signal)
    p_dense = (p - (1 - frac) * p_sparse) / frac
    if p_dense > 1:
        p_dense = 1.0
        p_sparse = (p - frac) / (1 - frac)
    return block, np.where(dense, p_dense, max(p_sparse, 0.0)), model


def _tag_logits(rng, num_classes: int, num_tags: int, signal: float) -> np.ndarray:
    """``[C, T]`` tag log-odds: a shared random base plus a mild per-class lean."""
    base = rng.normal(0.0, 0.5, size=num_tags)
    logits = np.tile(base, (num_classes, 1))
    logits[np.arange(num_classes), np.arange(num_classes) % num_tags] += 0.6 * signal
    return logits


def _tags(rng, n: int, logits: np.ndarray, block, signal: float) -> np.ndarray:
    """Node tags: the class's distribution, leaning to tag ``b mod T`` inside community b."""
    num_tags = len(logits)
    z = np.tile(logits, (n, 1))
    if block is not None:
        z[np.arange(n), block % num_tags] += 1.5 * signal
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    u = rng.random((n, 1))
    return np.minimum((prob.cumsum(1) < u).sum(1), num_tags - 1).astype(np.int64)
