"""A generated molecule-like graph-classification dataset the size of ogbg-molhiv's statistics.

Built for scaling runs (issue 13: the whole Gram of 20,000 molecule-sized graphs out of core),
not as a chemistry model.  Each graph is a hydrogen-free "molecule":

* **size**: node counts log-normal (median about 23, spread 0.45), clipped to
  ``min_nodes..max_nodes`` and scaled so their mean is ``mean_nodes`` (25.5 by default, ogbg-molhiv's);
* **skeleton**: connected, built atom by atom and ring by ring: rings of 5 or 6 atoms (6 twice as
  often), standing alone, bonded to an atom of the skeleton, or fused onto a bond of an earlier
  ring; chain atoms bonded to an atom with a free valence, preferring chain ends and middles
  (degrees 1 and 2) over branch points; no atom above ``max_degree`` (4) bonds.  A graph with
  ``n`` atoms and ``r`` rings has ``n - 1 + r`` bonds, so the ring counts (Poisson, rate
  proportional to ``n``, set so the mean bond count is ``mean_edges``, 27.5 by default) fix the
  edge count; a ring that does not fit as 5 or 6 new atoms closes between two existing atoms;
* **node labels** (atom types, one-hot features): 9 classes with frequencies resembling organic
  molecules' heavy atoms, carbon dominating (:data:`ATOM_TYPES`), each drawn among the types whose
  valence allows the atom's degree (halogens are always terminal, oxygen has at most 2 bonds);
* **graph labels**: binary, ``positive_rate`` positives (0.035, about ogbg-molhiv's share);
  positives carry a learnable signal: one ring more on average and twice the odds of N and S.

Everything is drawn from one ``numpy.random.default_rng(seed)``: a seed gives the same dataset
every time.  Cost: O(total nodes x mean degree) Python steps, about 10 s for 20,000 graphs, most
of it the per-atom loop; memory: the one-hot ``x`` is 9 values per node (510,000 nodes: 37 MB in
float64).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import poisson

from fastgnn.datasets.raw import RawGraph, build_dataset
from fastgnn.graph import GraphDataset

__all__ = ["molhiv_like", "ATOM_TYPES", "MOLHIV_PRESET"]

#: (symbol, frequency among heavy atoms, valence cap): carbon dominates, as in organic molecules
ATOM_TYPES = (
    ("C", 0.73, 4),
    ("O", 0.11, 2),
    ("N", 0.10, 3),
    ("S", 0.02, 4),
    ("Cl", 0.015, 1),
    ("F", 0.012, 1),
    ("Br", 0.005, 1),
    ("P", 0.004, 4),
    ("I", 0.004, 1),
)

#: ogbg-molhiv's size (Hu et al. 2020: 41,127 graphs, mean 25.5 nodes and 27.5 edges) at 20,000 graphs
MOLHIV_PRESET = dict(num_graphs=20_000, mean_nodes=25.5, mean_edges=27.5, min_nodes=2, max_nodes=222,
                     positive_rate=0.035)

_RING_SIZES, _RING_P = (5, 6), (1 / 3, 2 / 3)
_FUSE_P = 0.3  # a new ring fuses onto an earlier ring's bond (when one is free) this often
_ANCHOR_W = np.array([1.0, 3.0, 2.0, 0.4, 0.0])  # weight of bonding a new atom to an atom of degree 0..4


def molhiv_like(
    num_graphs: int = 20_000,
    *,
    mean_nodes: float = 25.5,
    mean_edges: float = 27.5,
    min_nodes: int = 2,
    max_nodes: int = 222,
    max_degree: int = 4,
    positive_rate: float = 0.035,
    seed: int = 0,
    name: str = "molhiv-like",
    dtype: torch.dtype = torch.float64,
) -> GraphDataset:
    """A molecule-like dataset (see the module docstring); the defaults are :data:`MOLHIV_PRESET`.

    Args:
        num_graphs: number of graphs (>= 1).
        mean_nodes: mean atom count, in ``min_nodes..max_nodes``.
        mean_edges: mean undirected bond count; at least ``mean_nodes - 1`` (trees) and at most what
            the ring counts allow (each ring needs 3 atoms).
        min_nodes, max_nodes: range of the atom counts (1 <= min <= max).
        max_degree: most bonds per atom, 2..4 (the valence caps of :data:`ATOM_TYPES` apply below it).
        positive_rate: share of label 1, in (0, 1).
        seed: seed of the generator.
        name: the dataset's name.
        dtype: dtype of ``x``.

    Returns:
        a :class:`GraphDataset`: ``x`` ``[N, T]`` one-hot atom type (T = the types present, 9 for
        any sizeable set), labels 0/1, seeded stratified 10 folds; each graph's ``meta`` has
        ``"tags"`` (index into :data:`ATOM_TYPES`) and ``"rings"`` (its cycle rank).
    """
    if num_graphs < 1:
        raise ValueError(f"num_graphs must be >= 1, got {num_graphs}")
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"need 1 <= min_nodes <= max_nodes, got {min_nodes}, {max_nodes}")
    if not min_nodes <= mean_nodes <= max_nodes:
        raise ValueError(f"mean_nodes={mean_nodes} is outside min_nodes..max_nodes = {min_nodes}..{max_nodes}")
    if not 2 <= max_degree <= 4:
        raise ValueError(f"max_degree must be 2, 3 or 4, got {max_degree}")
    if not 0 < positive_rate < 1:
        raise ValueError(f"positive_rate must be in (0, 1), got {positive_rate}")
    rings_mean = mean_edges - (mean_nodes - 1)
    if rings_mean < 0:
        raise ValueError(f"mean_edges={mean_edges} is below mean_nodes - 1 = {mean_nodes - 1}: the graphs are "
                         "connected, so they have at least n - 1 edges")

    rng = np.random.default_rng(seed)
    labels = (rng.random(num_graphs) < positive_rate).astype(np.int64)
    if num_graphs >= 2 and labels.min() == labels.max():  # both classes, so that folds can stratify
        labels[rng.integers(num_graphs)] = 1 - labels[0]
    sizes = _atom_counts(rng, num_graphs, min_nodes, max_nodes, mean_nodes)
    rings = _ring_counts(rng, sizes, labels, rings_mean)
    base = np.array([p for _, p, _ in ATOM_TYPES])
    tilted = base * np.array([2.0 if s in ("N", "S") else 1.0 for s, _, _ in ATOM_TYPES])
    valence = np.array([v for _, _, v in ATOM_TYPES])

    raw = []
    for n, r, y in zip(sizes.tolist(), rings.tolist(), labels.tolist()):
        edges, degree = _skeleton(rng, n, r, max_degree)
        tags = _atoms(rng, degree, tilted if y else base, valence)
        ei = np.asarray(edges, dtype=np.int64).reshape(-1, 2).T
        src, dst = np.concatenate([ei[0], ei[1]]), np.concatenate([ei[1], ei[0]])
        order = np.lexsort((dst, src))
        raw.append(RawGraph(n, np.stack([src[order], dst[order]]), tags, y, meta={"rings": len(edges) - n + 1}))
    return build_dataset(raw, features="tags", name=name, dtype=dtype)


def _atom_counts(rng, num_graphs: int, lo: int, hi: int, mean: float) -> np.ndarray:
    """Log-normal atom counts (spread 0.45), clipped to ``lo..hi``, scaled by bisection to ``mean``."""
    z = rng.lognormal(0.0, 0.45, size=num_graphs)
    a, b = 0.0, 2.0 * hi
    for _ in range(60):
        s = (a + b) / 2
        if np.clip(np.rint(s * z), lo, hi).mean() < mean:
            a = s
        else:
            b = s
    return np.clip(np.rint(b * z), lo, hi).astype(np.int64)


def _ring_counts(rng, sizes: np.ndarray, labels: np.ndarray, mean: float) -> np.ndarray:
    """Per graph, a Poisson ring count (rate proportional to the atom count, one more on average for
    positives), at most ``n // 3``, with the rate set by bisection so the mean is ``mean``."""
    u = rng.random(len(sizes))
    cap = sizes // 3
    extra = labels.astype(float)

    def draw(rate):
        lam = rate * sizes + extra
        return np.minimum(poisson.ppf(u, np.maximum(lam, 1e-12)), cap).astype(np.int64)

    if mean > cap.mean():
        raise ValueError(f"mean_edges needs {mean:.2f} rings per graph on average, more than the "
                         f"{cap.mean():.2f} that fit (a ring needs 3 atoms)")
    a, b = 0.0, 1.0
    for _ in range(60):
        s = (a + b) / 2
        if draw(s).mean() < mean:
            a = s
        else:
            b = s
    return draw(b)


def _skeleton(rng, n: int, rings: int, max_degree: int) -> tuple[list, np.ndarray]:
    """A connected molecule-like graph with ``n`` atoms and ``n - 1 + rings`` bonds, no atom above
    ``max_degree``: ``(bonds as (u, v) pairs, degrees)``."""
    degree = np.zeros(n, dtype=np.int64)
    edges: list[tuple[int, int]] = []
    ring_bonds: list[tuple[int, int]] = []
    placed, left = 0, rings

    def bond(u, v):
        edges.append((u, v))
        degree[u] += 1
        degree[v] += 1

    def anchor(cap):
        w = _ANCHOR_W[degree[:placed]] * (degree[:placed] < cap)
        return int(rng.choice(placed, p=w / w.sum())) if w.sum() > 0 else None

    while placed < n:
        room = n - placed
        # place a ring now with the odds that spread the rings over the remaining atoms
        if left > 0 and rng.random() < min(1.0, left * 5.5 / room):
            size = int(rng.choice(_RING_SIZES, p=_RING_P))
            free = [(u, v) for u, v in ring_bonds if degree[u] <= min(2, max_degree - 1)
                    and degree[v] <= min(2, max_degree - 1)]
            if free and rng.random() < _FUSE_P and size - 2 <= room:  # fuse onto a ring bond
                u, v = free[rng.integers(len(free))]
                path = list(range(placed, placed + size - 2))
                placed += size - 2
                chain = [u, *path, v]
                for a, b in zip(chain, chain[1:]):
                    bond(a, b)
                ring_bonds += list(zip(chain, chain[1:]))
                left -= 1
                continue
            if size <= room:
                a = anchor(min(3, max_degree)) if placed else None
                if placed == 0 or a is not None:
                    cycle = list(range(placed, placed + size))
                    placed += size
                    for x, y in zip(cycle, cycle[1:] + cycle[:1]):
                        bond(x, y)
                    ring_bonds += list(zip(cycle, cycle[1:] + cycle[:1]))
                    if a is not None:
                        bond(a, cycle[0])
                    left -= 1
                    continue
        # a chain atom
        # (a tree with rings <= n // 3 always has an atom below max_degree >= 2: the anchor exists)
        a = anchor(max_degree) if placed else None
        placed += 1
        if a is not None:
            bond(a, placed - 1)
    # rings that did not fit as new atoms: close them between two non-bonded atoms with free valence
    bonded = {(min(u, v), max(u, v)) for u, v in edges}
    while left > 0:
        cand = np.flatnonzero(degree < min(3, max_degree))
        pairs = [(int(u), int(v)) for i, u in enumerate(cand) for v in cand[i + 1:] if (u, v) not in bonded]
        if not pairs:
            break
        u, v = pairs[rng.integers(len(pairs))]
        bond(u, v)
        bonded.add((u, v))
        left -= 1
    return edges, degree


def _atoms(rng, degree: np.ndarray, weights: np.ndarray, valence: np.ndarray) -> np.ndarray:
    """Atom types: per atom, drawn from ``weights`` among the types whose valence is >= its degree."""
    p = weights[None, :] * (valence[None, :] >= degree[:, None])
    p /= p.sum(1, keepdims=True)
    u = rng.random((len(degree), 1))
    return np.minimum((p.cumsum(1) < u).sum(1), len(weights) - 1).astype(np.int64)
