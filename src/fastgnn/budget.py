"""Memory budgets: one rule, read by the GNTK estimator, its engine, the out-of-core path and the CLI.

A budget is a number of bytes.  Users give it as ``max_memory``: a number, a string with a
unit (``"4GB"``, ``"512MiB"``), or ``"auto"``/``None`` for :func:`default_max_memory`, a
safe fraction of the memory free now.  :func:`resolve` turns any of these into bytes.

* :func:`parse_memory` -- bytes from ``4e9``, ``"4GB"``, ``"512MiB"``.
* :func:`is_auto` -- whether a ``max_memory`` value asks for the default.
* :func:`resolve` -- the budget in bytes of any ``max_memory``.
* :func:`tile_budget` -- the budget the GNTK engine plans its tiles in: :func:`resolve`, and with
  ``"auto"`` at most the executor's per-tile budget (Dask: the smallest worker's).
* :func:`default_max_memory` -- a quarter of the available RAM up to 4 GiB (CPU), half the free
  GPU memory (CUDA), rounded down to a power of two.
* :func:`available_ram` -- ``MemAvailable``, bounded by the cgroup limit.
* :func:`gram_bytes` -- bytes of a fitted Gram with its per-depth readouts.

The engine sets aside what lives outside its tiles (the output readouts, unless they are on disk,
and the stacked operands) before sizing the tiles: :func:`fastgnn.gntk.plan.plan_tile_nodes`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import torch

from fastgnn import executors

__all__ = ["parse_memory", "is_auto", "resolve", "tile_budget", "default_max_memory", "available_ram", "gram_bytes"]

_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20,
          "gib": 2**30, "tib": 2**40}


def is_auto(value) -> bool:
    """``True`` for ``None`` and ``"auto"`` (any case, spaces ignored): the budget is the default."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "auto")


def parse_memory(value) -> float:
    """Bytes from ``4e9``, ``"4GB"``, ``"512MiB"``; ``ValueError`` unless the result is > 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(f"max_memory: cannot read {value!r}; use bytes or e.g. '4GB', '512MiB'")
        try:
            out = float(m.group(1)) * _UNITS[m.group(2).lower()]
        except ValueError:
            raise ValueError(f"max_memory: cannot read {value!r}; use bytes or e.g. '4GB', '512MiB'") from None
    if not out > 0 or not np.isfinite(out):
        raise ValueError(f"max_memory must be a positive number of bytes, got {value!r}")
    return out


def resolve(max_memory, device="cpu") -> float:
    """The budget in bytes: :func:`default_max_memory` when :func:`is_auto`, else :func:`parse_memory`."""
    return default_max_memory(device) if is_auto(max_memory) else parse_memory(max_memory)


def tile_budget(max_memory, device="cpu", executor: str = executors.LOCAL) -> float:
    """The bytes the GNTK engine plans its tiles in: :func:`resolve` of ``max_memory``; with
    ``"auto"`` on an executor that reports a per-tile budget (:attr:`fastgnn.executors.Executor.budget`:
    Dask's smallest worker's), at most that, so the tiles fit on every worker.  A number given is
    taken as it is, whatever the executor (the plan, hence the Gram, is then that of a local run)."""
    budget = resolve(max_memory, device)
    if is_auto(max_memory) and executor != executors.LOCAL:
        cap = executors.lookup(executor).budget
        if cap is not None:
            budget = min(budget, cap(device))
    return budget


def default_max_memory(device="cpu") -> int:
    """The default budget: a safe fraction of the memory free now.

    CUDA: half of ``torch.cuda.mem_get_info`` free memory.  CPU: a quarter of
    the available RAM (``MemAvailable`` of ``/proc/meminfo``, else
    ``sysconf``; the cgroup limit when lower), capped at 4 GiB.  Rounded down to
    a power of two, so that the tile plan (and the checkpoint folder's plan)
    stays the same across runs while free memory drifts a little.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = free / 2
    else:
        avail = available_ram()
        budget = min(avail / 4, 4 * 2**30) if avail else 2**30
    return 2 ** int(math.log2(max(budget, 2**20)))


def available_ram() -> float | None:
    """Bytes of RAM available now (``MemAvailable``, else ``sysconf``), bounded by a cgroup v2 limit."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    try:  # cgroup v2 limit (containers)
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = float(Path("/sys/fs/cgroup/memory.current").read_text())
            avail = min(avail, max(float(limit) - used, 0.0))
    except (OSError, ValueError):
        pass
    return avail


def gram_bytes(n_graphs: int, num_layers: int) -> int:
    """Bytes of a fitted Gram in memory: its ``[num_layers, n, n]`` float64 readouts and the ``[n, n]`` Gram."""
    return 8 * n_graphs * n_graphs * (num_layers + 1)
