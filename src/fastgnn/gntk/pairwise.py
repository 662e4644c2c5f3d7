"""Per-graph operands and the per-pair kernel (methods ``kron``, ``decoupled``, ``sketch``).

Each graph is prepared once (:func:`prepare`): its features, its aggregation
matrix ``a = C A`` (A with self-loops; C = I or diag(1/(deg+1))), its sketch
factors when sketching, and its self standard deviations before every ReLU
layer.  A pair is then one run of the recursion with the chosen aggregation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fastgnn.gntk.aggregate import (
    aggregate_decoupled,
    aggregate_kron,
    aggregate_sketch,
    graph_key,
    sketch_factors,
)
from fastgnn.gntk.recursion import readouts, self_diagonals
from fastgnn.graph import Graph

__all__ = ["Operand", "prepare", "pair_readouts", "aggregation_matrix"]

PAIR_METHODS = ("kron", "decoupled", "sketch")


@dataclass
class Operand:
    """A graph prepared for the kernel.

    Attributes:
        x: ``[N, d]`` features.
        a: ``[N, N]`` dense aggregation matrix C A.
        diags: ``num_blocks · R`` tensors ``[N]``: self standard deviations.
        sketch: S ``[b, N]`` (identity when not sketching or when b >= N).
        sketched_a: ``a Sᵀ`` ``[N, b]``.
    """

    x: torch.Tensor
    a: torch.Tensor
    diags: list
    sketch: torch.Tensor | None = None
    sketched_a: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


def aggregation_matrix(graph: Graph, scale: str, dtype, device) -> torch.Tensor:
    """Dense ``C A`` ``[N, N]``: A = adjacency + I, C = I or diag(1/(deg(u)+1))."""
    a = graph.adjacency(self_loops=True, dtype=dtype).to(device)
    if scale == "degree":
        a = a / a.sum(1, keepdim=True)
    elif scale != "uniform":
        raise ValueError(f"scale must be 'uniform' or 'degree', got {scale!r}")
    return a


def prepare(
    graph: Graph,
    *,
    num_blocks: int,
    num_mlp_layers: int,
    scale: str,
    method: str,
    sketch_size: int | None,
    sketch_kind: str,
    seed: int,
    dtype,
    device,
) -> Operand:
    """Prepare one graph: O(N³) for its self-diagonals (O(N² b) when sketching)."""
    if graph.num_nodes == 0:
        raise ValueError("a graph with 0 nodes has no kernel value: remove empty graphs first")
    x = graph.x.to(device=device, dtype=dtype)
    a = aggregation_matrix(graph, scale, dtype, device)
    op = Operand(x=x, a=a, diags=[])
    if sketch_size is not None:
        key = graph_key(graph.edge_index, graph.x, graph.num_nodes)
        op.sketch, op.sketched_a = sketch_factors(
            a, int(sketch_size), kind=sketch_kind, seed=seed, key=key
        )
    op.diags = self_diagonals(x, _aggregator(op, op, method), num_blocks, num_mlp_layers)
    return op


def pair_readouts(
    g: Operand, h: Operand, *, method: str, num_blocks: int, num_mlp_layers: int
) -> torch.Tensor:
    """The ``num_blocks + 1`` readouts of one pair, as a ``[num_blocks + 1]`` tensor.

    Cost per pair: O(N_G N_H d) for Σ⁽⁰⁾, then per block the aggregation
    (O(N⁴) kron, O(N³) decoupled, O(N² b) sketch) and O(R N_G N_H) ReLU maps.
    """
    out = readouts(
        g.x @ h.x.T,
        _aggregator(g, h, method),
        g.diags,
        h.diags,
        num_blocks,
        num_mlp_layers,
        torch.sum,
    )
    return torch.stack(out)


def _aggregator(g: Operand, h: Operand, method: str):
    if method == "kron":
        return lambda s: aggregate_kron(s, g.a, h.a)
    if method == "decoupled":
        return lambda s: aggregate_decoupled(s, g.a, h.a)
    if method == "sketch":
        if g.sketch is None or h.sketch is None:
            raise ValueError("method='sketch' needs sketch_size")
        return lambda s: aggregate_sketch(s, g.sketch, g.sketched_a, h.sketch, h.sketched_a)
    raise ValueError(f"unknown pairwise method {method!r}; expected one of {PAIR_METHODS}")
