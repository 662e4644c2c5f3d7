"""complexity/measure.py: the timing loop and the isolated peak memory."""

from __future__ import annotations

import pytest

from fastgnn.complexity import time_call
from fastgnn.complexity.measure import cpu_peak_supported, peak_memory


def test_time_call_loops_short_calls():
    out = time_call(lambda: sum(range(10)), repeats=3, min_time=0.002)
    assert out["loops"] > 1 and out["repeats"] == 3
    assert 0 < out["min"] <= out["seconds"] <= out["max"]
    assert out["cpu_seconds"] >= 0
    with pytest.raises(ValueError):
        time_call(lambda: None, repeats=0)


@pytest.mark.skipif(not cpu_peak_supported(), reason="VmHWM cannot be reset here")
def test_peak_memory_sees_an_allocation_and_is_reset_per_call():
    import torch

    big = peak_memory(lambda: torch.ones(64 * 2**20 // 4).sum())  # 64 MiB, freed at once
    small = peak_memory(lambda: torch.ones(16).sum())
    assert 48 * 2**20 < big < 160 * 2**20
    assert small < 8 * 2**20  # the earlier 64 MiB peak does not leak into this point
