"""Batched equals decoupled on subsets of every benchmark dataset (issue 3's "Done when").

The unit tests use small random graphs; these run the benchmark configuration
(num_layers = 4, num_mlp_layers = 2, jk, uniform scale) on seeded random subsets
of the real datasets, the dataset's largest graph included, through both tile
kinds (the compiled CPU tile and the torch tile), so that each dataset's own
structure (PROTEINS' 620-node graphs, IMDB's dense ego-networks, NCI1's sparse
molecules) meets the engine.  ``benchmarks/gram_speed.py`` repeats the check on
the whole-dataset Grams.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_shared, rel

from fastgnn import GNTK
from fastgnn.datasets.synthetic import COLLAB_PRESET, synthetic
from fastgnn.gntk import compiled_tile

TU_SETS = ["MUTAG", "PTC", "PROTEINS", "NCI1", "IMDBBINARY", "IMDBMULTI"]
CONFIG = dict(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True)


def _subset(graphs, k: int, seed: int):
    rng = np.random.default_rng(seed)
    largest = int(np.argmax([g.num_nodes for g in graphs]))
    pick = {largest, *rng.choice(len(graphs), size=k, replace=False).tolist()}
    return [graphs[i] for i in sorted(pick)]


def _collab_like():
    """COLLAB's generator (one-hot degree features, dense ego-networks), 14 graphs of at most 150 nodes."""
    return synthetic(**{**COLLAB_PRESET, "num_graphs": 14, "max_nodes": 150, "mean_edges": 1500.0}, seed=3).graphs


@pytest.mark.parametrize("tile", ["compiled", "torch"])
@pytest.mark.parametrize("name", [*(pytest.param(n, marks=pytest.mark.data) for n in TU_SETS), "COLLAB-like"])
def test_batched_equals_decoupled_on_a_subset(name, tile, monkeypatch, tile_switches):
    graphs = _collab_like() if name == "COLLAB-like" else _subset(load_shared(name).graphs, 15, seed=7)
    if tile == "compiled":
        if not compiled_tile.available():
            pytest.skip("numba not installed, or FASTGNN_NO_NUMBA set: no compiled tile")
    else:
        tile_switches(enabled=False)
    calls = []
    real = compiled_tile.tile_readouts_fused
    monkeypatch.setattr(compiled_tile, "tile_readouts_fused", lambda *a, **k: calls.append(1) or real(*a, **k))
    decoupled = GNTK(method="decoupled", **CONFIG).fit_transform(graphs)
    batched = GNTK(method="batched", colour_pairs=False, **CONFIG).fit_transform(graphs)  # the node-pair tiles
    assert bool(calls) == (tile == "compiled")  # the tile kind under test is the one that ran
    assert np.isfinite(batched).all()
    assert rel(batched, decoupled) < 1e-10
    # transform against fitted graphs: the off-diagonal block, on tiles that are not symmetric
    est = GNTK(method="batched", **CONFIG).fit(graphs[:6])
    assert rel(est.transform(graphs[6:]), decoupled[6:, :6]) < 1e-10


def test_collab_like_subset_is_dense_and_degree_featured():
    """The COLLAB stand-in above exercises what COLLAB-sized graphs do: dense blocks, one-hot degrees."""
    graphs = _collab_like()
    density = np.mean([g.edge_index.shape[1] / (g.num_nodes * (g.num_nodes - 1)) for g in graphs])
    assert density > 0.3
    assert all(torch.all(g.x.sum(1) == 1) for g in graphs)
