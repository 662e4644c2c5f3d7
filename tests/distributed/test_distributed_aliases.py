"""fastgnn.distributed's old names (issue 20's moves) still work for one release, each with a
``DeprecationWarning`` naming the new place; none of this needs Dask installed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_moved

from fastgnn import GNTK, budget
from fastgnn.datasets import synthetic
from fastgnn.gntk import outofcore


@pytest.mark.parametrize("module, old, new", [
    ("fastgnn.distributed", "gram_bytes", budget.gram_bytes),
    ("fastgnn.distributed", "DiskGram", outofcore.DiskGram),
    ("fastgnn.distributed.outofcore", "gram_bytes", budget.gram_bytes),
    ("fastgnn.distributed.outofcore", "DiskGram", outofcore.DiskGram),
])
def test_old_names_warn_and_are_the_new_ones(module, old, new):
    assert_moved(module, old, new)


def test_fit_transform_to_disk_is_the_estimators_method(tmp_path):
    from fastgnn.distributed import fit_transform_to_disk
    from fastgnn.distributed.outofcore import tile_budget

    graphs = synthetic(num_graphs=10, min_nodes=4, max_nodes=10, seed=1).graphs
    with pytest.warns(DeprecationWarning, match="GNTK.fit_transform_to_disk"):
        old = fit_transform_to_disk(GNTK(num_layers=3, max_memory="8MB"), graphs, tmp_path / "old")
    new = GNTK(num_layers=3, max_memory="8MB").fit_transform_to_disk(graphs, tmp_path / "new")
    assert np.array_equal(old.gram, new.gram) and np.array_equal(old.readouts, new.readouts)
    with pytest.warns(DeprecationWarning, match="fastgnn.budget.tile_budget"):
        assert tile_budget(GNTK(max_memory="8MB"), 100) == 8_000_100
