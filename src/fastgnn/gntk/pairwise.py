"""Per-graph operands and the per-pair kernel (methods ``kron``, ``decoupled``, ``sketch``).

Each graph is prepared once (:func:`prepare`): its rows' features, its
aggregation matrix, its row weights, its sketch factors when sketching, and its
self standard deviations before every ReLU layer.  A pair is then one run of the
recursion with the chosen aggregation and the weighted readout ``s_Gᵀ Θ s_H``.

**Rows are colour classes.**  A graph's rows are its colour classes
(:mod:`fastgnn.gntk.colour`: the coarsest equitable partition of Ã refining the
feature classes), or its nodes when it is not compressed, which is the same
thing with every class of size 1.  With class sizes s, count matrix Q and
scaling c (1, or 1/Σ_K Q[I, K] = 1/(deg + 1): constant on a class), the
node-level recursion of Du et al. (2019) is exactly, on class pairs,

    Σ⁽⁰⁾[I, J] = x_I · x_J                                   (x_I: the class's feature row)
    Σ'[I, J]  = c_I c_J Σ_K Σ_M Q_G[I, K] Q_H[J, M] Σ[K, M]  (a = C Q, not symmetric: a_G Σ a_Hᵀ)
    ReLU maps elementwise, with the class diagonals d_I = sqrt(Σ_GG[I, I])
    readout   = s_Gᵀ Θ s_H

because every node of a class has the same row of Σ and Θ at every depth (the
value depends only on the nodes' rooted computation trees), so a node's sum over
its neighbours is the class's sum over classes weighted by Q.  An uncompressed
graph has Q = Ã, s = 1.  The sketched kernel stays on nodes (its sketch S_G is
defined on a graph's nodes): ``compress=True`` with a sketch is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk.adjacency import DEFAULT_LOOP_WEIGHT, dense_adjacency
from fastgnn.gntk.aggregate import (
    aggregate_decoupled,
    aggregate_kron,
    aggregate_sketch,
    graph_key,
    sketch_factors,
)
from fastgnn.gntk.colour import Colouring, colour_classes_many
from fastgnn.gntk.params import COMPRESS, PAIR_METHODS, SCALES
from fastgnn.gntk.recursion import readouts, self_diagonals
from fastgnn.gntk.scale import scale_rows
from fastgnn.graph import Graph

__all__ = ["COMPRESS", "Operand", "prepare", "prepare_many", "pair_readouts", "aggregation_matrix"]


@dataclass
class Operand:
    """A graph prepared for the kernel: k rows, its colour classes (k <= N) or its nodes (k = N).

    Attributes:
        x: ``[k, d]`` features of the rows.
        a: ``[k, k]`` dense aggregation matrix C Q (C A when the rows are nodes).
        diags: ``num_blocks · R`` tensors ``[k]``: self standard deviations.
        sizes: ``[k]`` row weights of the readout: class sizes (ones for nodes).
        sketch: S ``[b, N]`` (identity when not sketching or when b >= N; uncompressed only).
        sketched_a: ``a Sᵀ`` ``[N, b]``.
        colouring: the graph's :class:`~fastgnn.gntk.colour.Colouring` when its rows are classes.
    """

    x: torch.Tensor
    a: torch.Tensor
    diags: list
    sizes: torch.Tensor | None = None
    sketch: torch.Tensor | None = None
    sketched_a: torch.Tensor | None = None
    colouring: Colouring | None = None

    def __post_init__(self) -> None:
        if self.sizes is None:
            self.sizes = torch.ones(self.x.shape[0], dtype=self.x.dtype, device=self.x.device)

    @property
    def num_rows(self) -> int:
        """k, the rows the kernel works on (classes or nodes)."""
        return int(self.x.shape[0])

    @property
    def num_nodes(self) -> int:
        """N, the graph's nodes."""
        return self.num_rows if self.colouring is None else self.colouring.num_nodes


def aggregation_matrix(graph: Graph, scale: str, dtype, device, loop_weight: int = DEFAULT_LOOP_WEIGHT) -> torch.Tensor:
    """Dense ``C Ã`` ``[N, N]``: Ã of :mod:`fastgnn.gntk.adjacency` (its ``loop_weight`` convention), C the
    ``scale``'s (:func:`fastgnn.gntk.scale.scale_rows`)."""
    return scale_rows(scale, dense_adjacency(graph, loop_weight, dtype, device))


def prepare(graph: Graph, **kwargs) -> Operand:
    """Prepare one graph: :func:`prepare_many` of ``[graph]`` (same keyword arguments; ``compress``
    defaults to False).  O(k³) for its self-diagonals on k rows (O(N² b) when sketching), plus its
    colour refinement when compressing."""
    return prepare_many([graph], **kwargs)[0]


def check_preparation(graphs, *, scale: str, compress, sketch_size: int | None) -> None:
    """``ValueError`` for what :func:`prepare_many` cannot prepare: an unknown scale or ``compress``, ``compress=True``
    with a sketch, a graph of 0 nodes (named by its index).  O(n)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if compress not in COMPRESS:
        raise ValueError(f"compress must be 'auto', True or False, got {compress!r}")
    if compress is True and sketch_size is not None:
        raise ValueError("compress=True needs the exact kernel: the sketch is defined on a graph's nodes "
                         "(use compress='auto' or False with sketch_size)")
    for i, g in enumerate(graphs):
        if g.num_nodes == 0:
            raise ValueError(f"graph {i} has 0 nodes: it has no kernel value; remove empty graphs first")


def prepare_many(
    graphs,
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
    compress=False,
    loop_weight: int = DEFAULT_LOOP_WEIGHT,
) -> list[Operand]:
    """Prepare every graph of a list.

    ``compress``: see :data:`fastgnn.gntk.params.COMPRESS` (refused as ``True`` with a sketch, whose S_G is defined on
    nodes).  Default False here, so that callers timing the per-pair algorithms on nodes (the
    complexity profiler, the benchmarks) keep doing so; :class:`~fastgnn.gntk.GNTK` passes its own
    ``compress`` (default ``"auto"``).  The colour classes of all graphs are refined at once
    (:func:`fastgnn.gntk.colour.colour_classes_many`, one vectorised pass over their union), and the
    exact self-diagonals of graphs of similar row counts are computed together as one padded batch
    (:func:`_exact_self_diagonals`): per-graph tiny products would cost more in call overhead than
    in arithmetic.  ``method`` sets how sketched self-diagonals are aggregated (exact ones are the
    same by every exact method).  ``loop_weight``: Ã's diagonal entry where a graph lists a self-loop
    (:mod:`fastgnn.gntk.adjacency`).
    """
    graphs = list(graphs)
    check_preparation(graphs, scale=scale, compress=compress, sketch_size=sketch_size)
    colourings = [None] * len(graphs)
    if compress is not False and sketch_size is None:
        colourings = colour_classes_many(graphs, loop_weight=loop_weight)
    ops = []
    for g, c in zip(graphs, colourings):
        if c is not None and (compress is True or c.num_classes < g.num_nodes):
            ops.append(_quotient_operand(g, c, scale, dtype, device))
            continue
        op = Operand(x=g.x.to(device=device, dtype=dtype), a=aggregation_matrix(g, scale, dtype, device, loop_weight),
                     diags=[])
        if sketch_size is not None:
            key = graph_key(g.edge_index, g.x, g.num_nodes)
            op.sketch, op.sketched_a = sketch_factors(op.a, int(sketch_size), kind=sketch_kind, seed=seed, key=key)
            op.diags = self_diagonals(op.x, _aggregator(op, op, method), num_blocks, num_mlp_layers)
        ops.append(op)
    if sketch_size is None:
        _exact_self_diagonals(ops, num_blocks, num_mlp_layers)
    return ops


def _quotient_operand(graph: Graph, colouring: Colouring, scale: str, dtype, device) -> Operand:
    """The operand on the graph's colour classes: x of each class's first node, a = C Q, s the sizes."""
    x = graph.x[torch.from_numpy(colouring.firsts)].to(device=device, dtype=dtype)
    q = scale_rows(scale, torch.from_numpy(colouring.counts).to(dtype=dtype))
    return Operand(x=x, a=q.to(device), diags=[], sizes=torch.from_numpy(colouring.sizes).to(device, dtype),
                   colouring=colouring)


#: Most elements ``n P²`` of one padded batch of :func:`_exact_self_diagonals` (32 MiB in float64).
SELF_BATCH_ELEMENTS = 2**22
#: Graphs with more rows get their self-diagonals one by one: their O(k³) work outweighs a call's
#: overhead, and a single 2-D graph takes the fused one-pass ReLU maps (a padded batch takes torch's
#: eager ones, ~12 passes: PROTEINS' preparation was 4x slower batched).
SELF_BATCH_MAX_ROWS = 48


def _exact_self_diagonals(ops: list[Operand], num_blocks: int, num_mlp_layers: int) -> None:
    """Set every operand's exact ``diags``: :func:`fastgnn.gntk.recursion.self_diagonals` graph by graph
    for graphs of more than :data:`SELF_BATCH_MAX_ROWS` rows, else on batches of graphs of similar row
    counts (the largest at most 5/4 of the smallest, or 4 more), each
    zero-padded to its largest (``[n, P, d]``, ``[n, P, P]``, aggregation by batched products
    ``a Σ aᵀ``), at most :data:`SELF_BATCH_ELEMENTS` per batch.  Cost O(Σ_g P³), P the batch's
    largest k: within 2x of O(Σ_g k_g³) graph by graph, without a call per graph and layer."""
    rows = np.array([op.num_rows for op in ops], dtype=np.int64)
    for i in np.flatnonzero(rows > SELF_BATCH_MAX_ROWS):  # one by one: the fused ReLU pass, O(k³) per call
        op = ops[i]
        op.diags = self_diagonals(op.x, _self_aggregation(op.a), num_blocks, num_mlp_layers)
    small = np.flatnonzero(rows <= SELF_BATCH_MAX_ROWS)
    order = small[np.argsort(rows[small], kind="stable")]
    start = 0
    while start < len(order):
        end, cap = start + 1, max(ops[order[start]].num_rows * 5 // 4, ops[order[start]].num_rows + 4)
        while (end < len(order) and ops[order[end]].num_rows <= cap
               and (end - start + 1) * ops[order[end]].num_rows ** 2 <= SELF_BATCH_ELEMENTS):
            end += 1
        batch = [ops[i] for i in order[start:end]]
        p = batch[-1].num_rows
        ref = batch[0].x
        x = ref.new_zeros((len(batch), p, ref.shape[1]))
        a = ref.new_zeros((len(batch), p, p))
        for i, op in enumerate(batch):
            x[i, :op.num_rows] = op.x
            a[i, :op.num_rows, :op.num_rows] = op.a
        diags = self_diagonals(x, lambda s, a=a: a @ s @ a.transpose(-1, -2), num_blocks, num_mlp_layers)
        for i, op in enumerate(batch):
            op.diags = [d[i, :op.num_rows].clone() for d in diags]  # own storage, not a view of the batch
        start = end


#: A graph of at least this many rows whose ``C A`` has at most :data:`SPARSE_SELF_DENSITY` of its entries
#: non-zero gets its self-diagonals by sparse products, O(nnz k) per product instead of the dense O(k³):
#: DD's largest protein (5,748 nodes, 0.1 % dense) took a minute dense.  Below it the dense BLAS product
#: costs under a second per graph.
SPARSE_SELF_MIN_ROWS = 1024
SPARSE_SELF_DENSITY = 1 / 16


def _self_aggregation(a: torch.Tensor):
    """``s -> a s aᵀ`` for :func:`fastgnn.gntk.recursion.self_diagonals` of one graph: dense products, or
    for a large sparse graph (:data:`SPARSE_SELF_MIN_ROWS`, :data:`SPARSE_SELF_DENSITY`) two sparse ones,
    ``a (a s)ᵀ`` (s, Σ of the graph against itself, is symmetric)."""
    k = int(a.shape[0])
    if k < SPARSE_SELF_MIN_ROWS or int(torch.count_nonzero(a)) > SPARSE_SELF_DENSITY * k * k:
        return lambda s: a @ s @ a.T
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        sparse = a.to_sparse_csr()

    def aggregate(s: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return sparse @ (sparse @ s).T.contiguous()

    return aggregate


def pair_readouts(
    g: Operand, h: Operand, *, method: str, num_blocks: int, num_mlp_layers: int
) -> torch.Tensor:
    """The ``num_blocks + 1`` readouts of one pair, as a ``[num_blocks + 1]`` tensor.

    Cost per pair, on k rows (classes, or nodes): O(k_G k_H d) for Σ⁽⁰⁾, then per block the
    aggregation (O(k⁴) kron, O(k³) decoupled, O(N² b) sketch) and O(R k_G k_H) ReLU maps.
    """
    out = readouts(
        g.x @ h.x.T,
        _aggregator(g, h, method),
        g.diags,
        h.diags,
        num_blocks,
        num_mlp_layers,
        lambda t: g.sizes @ t @ h.sizes,
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
