"""Input checks shared by every layer of :mod:`fastgnn.nn`: a ``ValueError`` naming the argument.

Each check costs one pass over its tensor at most (``aminmax`` for indices, one sum for the
finiteness of features, the elementwise test only when that sum is not finite).
"""

from __future__ import annotations

import torch

__all__ = [
    "AGGR_IMPLS",
    "check_impl",
    "check_num_nodes",
    "check_edge_index",
    "check_features",
    "check_edge_values",
    "check_finite",
]

AGGR_IMPLS = ("spmm", "scatter")


def check_impl(impl: str) -> None:
    if impl not in AGGR_IMPLS:
        raise ValueError(f"aggr_impl must be one of {AGGR_IMPLS}, got {impl!r}")


def check_num_nodes(num_nodes, allow_empty: bool = False) -> int:
    """``num_nodes`` as an int > 0 (>= 0 with ``allow_empty``); ``ValueError`` otherwise."""
    if isinstance(num_nodes, torch.Tensor):
        num_nodes = num_nodes.item()
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) and not hasattr(num_nodes, "__index__"):
        raise ValueError(f"num_nodes must be an int, got {type(num_nodes).__name__}")
    num_nodes = int(num_nodes)
    if num_nodes < 0 or num_nodes == 0 and not allow_empty:
        raise ValueError(f"empty graph: num_nodes must be > 0, got {num_nodes}")
    return num_nodes


@torch.compiler.disable  # data-dependent checks: run eagerly, not traced
def check_edge_index(edge_index, num_nodes: int, num_targets: int | None = None) -> None:
    """``ValueError`` unless ``edge_index`` is an int64 ``[2, E]`` tensor with sources in
    ``[0, num_nodes)`` and targets in ``[0, num_targets)`` (default ``num_nodes``)."""
    if not isinstance(edge_index, torch.Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor of shape [2, E], got {type(edge_index).__name__}")
    if edge_index.dtype != torch.long:
        raise ValueError(f"edge_index must have dtype torch.int64 (long), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        hint = ""
        if edge_index.dim() == 2 and edge_index.shape[1] == 2:
            hint = " (an [E, 2] edge list: pass edge_index.t() instead)"
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}{hint}")
    if edge_index.numel() == 0:
        return
    num_targets = num_nodes if num_targets is None else num_targets
    for r, bound in ((0, num_nodes), (1, num_targets)):
        low, high = torch.aminmax(edge_index[r])  # one pass, no E-sized temporary
        if int(low) < 0 or int(high) >= bound:
            c = int(torch.nonzero((edge_index[r] < 0) | (edge_index[r] >= bound))[0])
            side = "source" if r == 0 else "target"
            what = "num_nodes" if num_targets == num_nodes else ("num_nodes" if r == 0 else "num_targets")
            raise ValueError(
                f"edge_index[{r}, {c}] = {int(edge_index[r, c])} ({side} node) is out of range for "
                f"{what}={bound}: indices must lie in [0, {bound - 1}]"
            )


@torch.compiler.disable  # data-dependent checks: run eagerly, not traced
def check_features(x, num_nodes: int | None = None, name: str = "x", allow_empty: bool = False,
                   batched: bool = False) -> torch.Tensor:
    """``ValueError`` unless ``x`` is a finite floating ``[N, F]`` tensor (``[..., N, F]`` with
    ``batched``) with N = num_nodes if given and N > 0 unless ``allow_empty``. A sparse COO ``x``
    is accepted (its stored values are checked)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [num_nodes, num_features], got {type(x).__name__}")
    if x.dim() != 2 and not (batched and x.dim() > 2):
        raise ValueError(f"{name} must be 2-D [num_nodes, num_features], got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    rows = x.shape[-2]
    if rows == 0 and not allow_empty:
        raise ValueError(f"empty graph: {name} has 0 rows (num_nodes=0)")
    if num_nodes is not None and rows != num_nodes:
        raise ValueError(f"{name} has {rows} rows but the graph has num_nodes={num_nodes}")
    values = x.detach()
    if x.layout == torch.sparse_coo:
        values = values.coalesce().values()
    elif x.layout != torch.strided:
        raise ValueError(f"{name} must be a dense or sparse COO tensor, got layout {x.layout}")
    # a NaN or ±inf anywhere makes the sum non-finite: one reduction, no N x F temporary; only
    # then (or when finite values overflow the sum) is the elementwise test run
    if not bool(torch.isfinite(values.sum())):
        bad = torch.nonzero(~torch.isfinite(values))
        if bad.numel():
            index = [int(v) for v in bad[0]]
            where = ", ".join(map(str, index))
            if x.layout == torch.sparse_coo:
                raise ValueError(f"{name} has a non-finite stored value {float(values[tuple(index)])}")
            raise ValueError(f"{name} has a non-finite value {float(values[tuple(index)])} at [{where}]")
    return x


@torch.compiler.disable  # data-dependent checks: run eagerly, not traced
def check_edge_values(values, num_edges: int, name: str = "edge_weight", dims: tuple[int, ...] = (1,)) -> torch.Tensor:
    """``ValueError`` unless ``values`` is a finite floating tensor with ``num_edges`` rows and a
    dimension in ``dims`` (``edge_weight [E]``; ``edge_attr [E]`` or ``[E, D]``)."""
    if not isinstance(values, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor with one row per edge, got {type(values).__name__}")
    if values.dim() not in dims or values.shape[0] != num_edges:
        shape = " or ".join("[E]" if d == 1 else "[E, D]" for d in dims)
        raise ValueError(f"{name} must have shape {shape} with E = {num_edges} edges, got {tuple(values.shape)}")
    if not torch.is_floating_point(values):
        raise ValueError(f"{name} must be a floating-point tensor, got {values.dtype}")
    if values.numel() and not bool(torch.isfinite(values.detach()).all()):
        index = int(torch.nonzero(~torch.isfinite(values.detach()))[0, 0])
        raise ValueError(f"{name} has a non-finite value at edge {index}")
    return values


@torch.compiler.disable  # data-dependent checks: run eagerly, not traced
def check_finite(t: torch.Tensor, name: str) -> None:
    """``ValueError`` if ``t`` holds a NaN or an infinity."""
    if not bool(torch.isfinite(t.detach()).all()):
        raise ValueError(f"{name} has a non-finite value")
