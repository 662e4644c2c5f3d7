"""GNNGP's model selection for the node kernels: a grid of depth, σ_w and σ_b, the regulariser swept for
each, everything chosen on the validation nodes.

One pass of the deepest network per (σ_w, σ_b) gives the kernel at every shallower depth
(:meth:`fastgnn.node.GCNKernel.layers`), and each depth's regulariser sweep costs one
eigendecomposition (:func:`fastgnn.node.predict.ridge_sweep`), so a grid of D depths, S σ_w and B σ_b
values costs S·B kernel passes of max(D) layers and S·B·D sweeps.  The configuration kept is the first,
in the order (depth, σ_w, σ_b, ε) ascending, with the best validation accuracy; its test accuracy is
reported, never used to choose.

σ_b is on the scale of K⁽¹⁾ = σ_w² Â X Xᵀ Âᵀ / F (:mod:`fastgnn.node.kernels`); GNNGP's σ_b values
apply to √F·X.  With σ_b = 0 the value of σ_w only scales the kernel, which the relative regulariser
absorbs, so :data:`DEFAULT_GRID` keeps σ_w = 1 (GNNGP's default).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sklearn.base import clone

from fastgnn.node.estimator import GCNKernel
from fastgnn.node.inputs import as_node_graph, check_split
from fastgnn.node.params import DTYPES, NUGGETS
from fastgnn.node.predict import evaluate_kernel

__all__ = ["DEFAULT_GRID", "SearchResult", "kernel_search"]

#: depths (GCN layers), weight and bias standard deviations searched by default
DEFAULT_GRID = {"num_layers": (1, 2, 3, 4), "sigma_w": (1.0,), "sigma_b": (0.0, 0.03, 0.1, 0.3)}


@dataclass
class SearchResult:
    """What :func:`kernel_search` returns.

    Attributes:
        rows: one dict per grid point: ``num_layers``, ``sigma_w``, ``sigma_b``, ``nugget``,
            ``train_acc``, ``val_acc``, ``test_acc`` (at that point's best ε).
        best: the row kept (the first with the highest ``val_acc``).
        kernel: the :class:`~fastgnn.node.GCNKernel` whose parameters the grid varied.
        seconds: the whole search's wall time; ``kernel_seconds``: the part spent in kernel passes.
    """

    rows: list[dict]
    best: dict
    kernel: GCNKernel
    seconds: float
    kernel_seconds: float
    extra: dict = field(default_factory=dict)


def kernel_search(data, kernel: GCNKernel | str = "nngp", grid: dict | None = None, *, nuggets=NUGGETS) -> SearchResult:
    """Search ``grid`` (keys ``num_layers``, ``sigma_w``, ``sigma_b``; missing keys from
    :data:`DEFAULT_GRID`) for ``kernel``'s other parameters on ``data``'s split (see the module docstring).

    Raises:
        ValueError: an unknown grid key, an empty axis, no labels or masks, a class without training nodes.
    """
    t0 = time.perf_counter()
    est = clone(kernel) if isinstance(kernel, GCNKernel) else GCNKernel(kernel)
    grid = {**DEFAULT_GRID, **(grid or {})}
    unknown = set(grid) - set(DEFAULT_GRID)
    if unknown:
        raise ValueError(f"grid: unknown key(s) {sorted(unknown)}; the grid varies {sorted(DEFAULT_GRID)}")
    for key, values in grid.items():
        if len(tuple(values)) == 0:
            raise ValueError(f"grid[{key!r}] is empty")
    depths = sorted({int(d) for d in grid["num_layers"]})
    est.set_params(num_layers=max(depths))
    est._validate_params()
    graph = as_node_graph(data, dtype=DTYPES[est.dtype], what="data")
    check_split(graph, "data")
    rows, kernel_seconds = [], 0.0
    for sw in grid["sigma_w"]:
        for sb in grid["sigma_b"]:
            est.set_params(sigma_w=float(sw), sigma_b=float(sb))
            est._validate_params()
            tk = time.perf_counter()
            for depth, k, theta in est.layers(graph):
                kernel_seconds += time.perf_counter() - tk
                if depth in depths:
                    res = evaluate_kernel(theta if est.kernel == "ntk" else k, graph, nuggets)
                    rows.append({"num_layers": depth, "sigma_w": float(sw), "sigma_b": float(sb),
                                 "nugget": res["nugget"], "train_acc": res["train_acc"], "val_acc": res["val_acc"],
                                 "test_acc": res["test_acc"]})
                tk = time.perf_counter()
    rows.sort(key=lambda r: (r["num_layers"], r["sigma_w"], r["sigma_b"]))
    best = max(rows, key=lambda r: r["val_acc"])  # max keeps the first of equal values
    return SearchResult(rows, best, est.set_params(**{k: best[k] for k in ("num_layers", "sigma_w", "sigma_b")}),
                        time.perf_counter() - t0, kernel_seconds)
