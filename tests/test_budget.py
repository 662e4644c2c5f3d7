"""fastgnn.budget: the one memory-budget rule (parse, auto, default, Gram bytes, the tile budget)."""

from __future__ import annotations

import pytest

from fastgnn import budget, executors


def test_parse_memory():
    assert budget.parse_memory("2GB") == 2e9 and budget.parse_memory("512MiB") == 512 * 2**20
    assert budget.parse_memory(10) == 10.0 and budget.parse_memory(" 1.5 kib ") == 1536.0
    for bad in ("lots", "-1GB", 0, -5, "1e400", True, "4 parsecs"):
        with pytest.raises(ValueError, match="max_memory"):
            budget.parse_memory(bad)


def test_is_auto_and_resolve():
    assert budget.is_auto(None) and budget.is_auto("auto") and budget.is_auto(" AUTO ")
    assert not budget.is_auto("4GB") and not budget.is_auto(0)
    assert budget.resolve("auto") == budget.default_max_memory("cpu") and budget.resolve(None) == budget.resolve("auto")
    assert budget.resolve("1MiB") == 2**20 and budget.resolve(12345) == 12345.0


def test_default_max_memory_is_a_bounded_power_of_two():
    b = budget.default_max_memory("cpu")
    assert 2**20 <= b <= 4 * 2**30 and b & (b - 1) == 0
    ram = budget.available_ram()
    assert ram is None or ram >= 0
    if ram:  # a quarter of what is available, capped at 4 GiB (rounded down: within a factor 2 of it)
        assert b <= max(ram / 4, 2**20)


def test_gram_bytes():
    assert budget.gram_bytes(100, 3) == 8 * 100 * 100 * 4  # three readouts and the Gram, float64


def test_tile_budget_takes_the_executors_cap_only_when_auto(monkeypatch):
    """"auto" on an executor with a per-tile budget (Dask: its smallest worker's) is capped by it; a
    number given is taken as it is; the local executor has no cap."""
    import dataclasses

    default = budget.default_max_memory("cpu")
    assert budget.tile_budget("auto") == default and budget.tile_budget("3MB", "cpu", executors.LOCAL) == 3e6
    dask = executors.lookup("dask")
    # the registration swapped for this test only (every other entry point kept), restored after it
    monkeypatch.setitem(executors._REGISTRY, "dask", dataclasses.replace(dask, budget=lambda device: 2**20))
    assert budget.tile_budget("auto", "cpu", "dask") == min(default, 2**20)
    assert budget.tile_budget("3MB", "cpu", "dask") == 3e6
    monkeypatch.setitem(executors._REGISTRY, "dask", dataclasses.replace(dask, budget=None))
    assert budget.tile_budget("auto", "cpu", "dask") == default
