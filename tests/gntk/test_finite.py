"""The GNTK's inputs and result are finite, or a ``ValueError`` names the graph (issue 25.5).

NaN written into ``g.x`` after the graph was built, features so large that ``x · x`` overflows, and
finite features whose aggregated sums overflow: each is refused naming fit or transform, the graph and
the cause, instead of a Gram of NaN.  The remedy the messages give (divide the features by a constant)
is checked too: the Gram is divided by the constant's square.
"""

import re

import numpy as np
import pytest
import torch

from fastgnn import GNTK
from fastgnn.graph import from_numpy


def graphs(n_graphs=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_graphs):
        n = 4 + k % 3
        a = np.zeros((n, n))
        for i in range(1, n):
            j = int(rng.integers(0, i))
            a[i, j] = a[j, i] = 1
        out.append(from_numpy(a, x=scale * rng.uniform(0.5, 1.5, size=(n, 2)), y=k % 2))
    return out


def test_nan_written_after_construction_is_named_at_fit_and_transform():
    gs = graphs()
    gs[2].x[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"GNTK.fit: graph 2 has a non-finite feature, x\[0, 1\] = nan"):
        GNTK(num_layers=2).fit_transform(gs)
    est = GNTK(num_layers=2).fit(graphs())
    new = graphs(3, seed=1)
    new[1].x[2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"GNTK.transform: graph 1 has a non-finite feature, x\[2, 0\] = inf"):
        est.transform(new)


@pytest.mark.parametrize("dtype, big", [("float64", 1e200), ("float32", 1e20)])
def test_features_whose_products_overflow_are_named(dtype, big):
    gs = graphs()
    gs[3].x[1, 0] = big
    with pytest.raises(ValueError, match=re.escape(f"GNTK.fit: graph 3's features are too large for {dtype}: "
                                                   f"|x[1, 0]| = {big:.3g}")):
        GNTK(num_layers=2, dtype=dtype).fit_transform(gs)


def test_overflow_inside_the_kernel_is_named_on_the_result():
    """Features of 1e153 pass the first layer (2e306 < 1.8e308) but the sums over neighbours and node pairs
    overflow: the result check names the pair of graphs and the largest feature."""
    gs = graphs(scale=1e153)
    with pytest.raises(ValueError, match=r"GNTK.fit_transform: the kernel of graph \d+ and graph \d+ is (inf|nan)"
                                         r".*overflowed float64.*largest feature magnitude is 1.\d+e\+153"):
        GNTK(num_layers=3, num_mlp_layers=2).fit_transform(gs)
    est = GNTK(num_layers=3, num_mlp_layers=2).fit(graphs())
    with pytest.raises(ValueError, match=r"GNTK.transform: the kernel of graph \d+ and fitted graph \d+"):
        est.transform(graphs(2, seed=4, scale=1e153))


def test_dividing_the_features_divides_the_gram_by_the_square():
    """The remedy the messages give: the GNTK is homogeneous of degree 2 in the features."""
    est = GNTK(num_layers=3, num_mlp_layers=2)
    k = est.fit_transform(graphs())
    k_scaled = est.fit_transform(graphs(scale=1 / 64))  # a power of two: exact in floating point
    np.testing.assert_allclose(k_scaled * 64**2, k, rtol=1e-12)
    assert torch.isfinite(torch.as_tensor(k)).all()
