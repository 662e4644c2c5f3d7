"""The GNTK's old import paths (issue 20's moves) still work for one release, each with a
``DeprecationWarning`` naming the new place."""

from __future__ import annotations

import pytest
from conftest import assert_moved

from fastgnn import budget
from fastgnn.gntk import checkpoints, compiled_tile, engine, plan


@pytest.mark.parametrize("module, old, new", [
    ("fastgnn.gntk.engine", "default_max_memory", budget.default_max_memory),
    ("fastgnn.gntk.engine", "_available_ram", budget.available_ram),
    ("fastgnn.gntk.engine", "LIVE_TILES", plan.LIVE_TILES),
    ("fastgnn.gntk.engine", "plan_chunks", plan.plan_chunks),
    ("fastgnn.gntk.engine", "plan_tile_nodes", plan.plan_tile_nodes),
    ("fastgnn.gntk.engine", "compiled_tile_runs", plan.compiled_tile_runs),
    ("fastgnn.gntk.engine", "tile_nodes_for_budget", plan.tile_nodes_for_budget),
    ("fastgnn.gntk.engine", "sketch_cost_ratio", plan.sketch_cost_ratio),
    ("fastgnn.gntk.engine", "reserved_bytes", plan.reserved_bytes),
    ("fastgnn.gntk.engine", "_digest", checkpoints.block_digest),
    ("fastgnn.gntk.engine", "_release_freed_memory", engine.release_freed_memory),
    ("fastgnn.gntk.estimator", "parse_memory", budget.parse_memory),
    ("fastgnn.gntk.estimator", "_auto_memory", budget.is_auto),
    ("fastgnn.gntk.estimator", "_compiled_kernels_cached", compiled_tile.kernels_cached),
    ("fastgnn.gntk.fused", "tile_readouts_fused", compiled_tile.tile_readouts_fused),
    ("fastgnn.gntk.fused", "available", compiled_tile.available),
])
def test_old_names_warn_and_are_the_new_ones(module, old, new):
    assert_moved(module, old, new)


def test_names_the_loop_uses_still_import_from_the_engine():
    """The plan and checkpoint names the loop itself uses are the same objects, without a warning."""
    assert engine.TilePlan is plan.TilePlan and engine.plan_tiles is plan.plan_tiles
    assert engine.Checkpoint is checkpoints.Checkpoint and engine.fingerprint is checkpoints.fingerprint


def test_the_old_module_switches_read_and_write_the_config():
    """``fused.ENABLED`` / ``fused.SKETCHED_TILE`` (what benchmarks assigned) read and set the compiled
    tile's config, with a warning."""
    from fastgnn.gntk import fused

    with compiled_tile.config_context():
        with pytest.warns(DeprecationWarning, match="fused.SKETCHED_TILE"):
            fused.SKETCHED_TILE = False
        assert compiled_tile.get_config()["sketched_tile"] is False
        with pytest.warns(DeprecationWarning, match="fused.SKETCHED_TILE"):
            assert fused.SKETCHED_TILE is False
        with pytest.warns(DeprecationWarning, match="fused.ENABLED"):
            fused.ENABLED = False
        assert not compiled_tile.available()
    assert compiled_tile.get_config()["sketched_tile"] is True  # restored by the context
