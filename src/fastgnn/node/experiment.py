"""``fastgnn train --model gcn-gp|gcn-ntk``: the infinitely wide GCN on a node dataset, as a JSON-ready dict.

:func:`run_kernel_experiment` searches GNNGP's grid (:data:`fastgnn.node.search.DEFAULT_GRID`) on the
validation nodes, each of depth, σ_w and σ_b fixed instead where given; with ``num_landmarks`` the
kernel is the recursive Nyström in float32 (one run per seed: the landmark draw is random), else the
exact kernel in float64 (one deterministic run).  The dict has the keys of
:func:`fastgnn.train.experiment.run_node_experiment`'s that apply (``task``, ``model``, ``dataset``,
``settings``, ``test_acc_mean`` / ``_std``, ``val_acc_mean``, ``total_seconds``, ``runs``) plus the
chosen configuration and the kernel and prediction times.
"""

from __future__ import annotations

import statistics
import time

import torch

from fastgnn.node.estimator import GCNKernel
from fastgnn.node.params import MODELS
from fastgnn.node.search import DEFAULT_GRID, kernel_search

__all__ = ["run_kernel_experiment"]


def run_kernel_experiment(model: str, data, *, num_layers: int | None = None, sigma_w: float | None = None,
                          sigma_b: float | None = None, num_landmarks: int | None = None, landmarks: str = "random",
                          seeds: int = 1, first_seed: int = 0) -> dict:
    """Fit ``model`` (a key of :data:`fastgnn.node.params.MODELS`) on ``data`` (a NodeData); see the module
    docstring."""
    key = str(model).strip().lower()
    if key not in MODELS:
        raise ValueError(f"model {model!r} is not a node kernel; kernel models: {', '.join(MODELS)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    grid = {k: (v,) if v is not None else DEFAULT_GRID[k]
            for k, v in (("num_layers", num_layers), ("sigma_w", sigma_w), ("sigma_b", sigma_b))}
    nystroem = num_landmarks is not None
    base = GCNKernel(MODELS[key], method="nystroem" if nystroem else "exact", num_landmarks=num_landmarks or 300,
                     landmarks=landmarks, dtype="float32" if nystroem else "float64")
    t0 = time.perf_counter()
    runs = []
    for seed in range(first_seed, first_seed + (seeds if nystroem else 1)):
        res = kernel_search(data, base.set_params(random_state=seed), grid)
        runs.append({"seed": seed, **res.best, "seconds": res.seconds, "kernel_seconds": res.kernel_seconds,
                     "grid_points": len(res.rows)})
    tests = [r["test_acc"] for r in runs]
    return {
        "task": "node",
        "model": key,
        "dataset": data.stats(),
        "mode": "nystroem" if nystroem else "exact",
        "settings": {"kernel": MODELS[key], "grid": {k: list(v) for k, v in grid.items()},
                     "num_landmarks": num_landmarks, "landmarks": landmarks if nystroem else None,
                     "dtype": base.dtype, "seeds": len(runs), "first_seed": first_seed,
                     "normalize_features": data.meta.get("normalize_features")},
        "test_acc_mean": statistics.fmean(tests),
        "test_acc_std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
        "val_acc_mean": statistics.fmean(r["val_acc"] for r in runs),
        "chosen": {k: runs[0][k] for k in ("num_layers", "sigma_w", "sigma_b", "nugget")},
        "seconds_mean": statistics.fmean(r["seconds"] for r in runs),
        "total_seconds": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }
