"""The GCN layer sweeps: sparse (random and banded graphs) and dense, forward and backward.

What the complexity note (``gcn-complexity``: Blakely, Lanchantin, Qi) predicts for L layers of
``GCNConv`` on N nodes, E edges (A + I has E + N entries) and F = F_in = F_out features:

* sparse, forward and backward (§2, §3.8 summary): O(L·|E|·F + L·N·F²);
* sparse backward by §3.6 eq. (34): O(L·|E|·F² + L·N²·F), which the ``N@E`` sweep (N grows with
  E fixed) and the ``F@E`` sweep (F grows on a graph of degree 256 > F) tell apart from the
  summary;
* dense (``DenseGCNConv`` on a dense A'), §3.8: O(L·N²·F + L·N·F²); space O(N² + LF² + LNF).

A' is built once per graph, outside the timing, and reused by the forward sweep and its backward
sweep (:mod:`fastgnn.complexity.cache`).
"""

from __future__ import annotations

import torch

from fastgnn.complexity import cache
from fastgnn.complexity.registry import Cost, Sweep
from fastgnn.complexity.sweeps.common import F32, random_edges, timed, with_edges

__all__ = ["SWEEPS", "summary_cost", "gcn_adjacency", "FWD_SUM", "BWD_SUM", "BWD_36", "SP_SPACE"]


def summary_cost(p: dict) -> float:
    """The note's §2 / §3.8 summary: ``L·(E + N)·F + L·N·F²`` (E counts no self-loops; A + I has
    E + N entries); L defaults to 1."""
    return p.get("L", 1) * ((p["E"] + p["N"]) * p["F"] + p["N"] * p["F"] ** 2)


def gcn_adjacency(p: dict, ctx):
    """A' of a random graph with ``p["N"]`` nodes and ``p["E"]`` edges, kept in
    :mod:`fastgnn.complexity.cache` (a forward sweep and its backward sweep share their graphs,
    and building A' for millions of edges takes seconds)."""
    from fastgnn.nn import normalized_adjacency

    key = (p["N"], p["E"], ctx.generator.initial_seed(), ctx.dtype, str(ctx.device))
    return cache.reuse(key, lambda: normalized_adjacency(random_edges(p["N"], p["E"], ctx.generator, ctx.device),
                                                         p["N"], dtype=ctx.dtype, device=ctx.device))


FWD_SUM = Cost("note §2, §3.8", "LEF + LNF²", summary_cost)
BWD_SUM = Cost("note §3.8 summary", "LEF + LNF²", summary_cost)
BWD_36 = Cost("note §3.6 eq. 34", "L|E|F² + LN²F",
              lambda p: p.get("L", 1) * ((p["E"] + p["N"]) * p["F"] ** 2 + p["N"] ** 2 * p["F"]))
SP_SPACE = Cost("note §3.8", "E + LF² + LNF", lambda p: p["E"] + p.get("L", 1) * (p["F"] ** 2 + p["N"] * p["F"]))


# --------------------------------------------------------------------------- builders


def _sparse_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GCNConv

        adj = gcn_adjacency(p, ctx)
        layers = [GCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype) for _ in range(p["L"])]
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")

        def forward():
            h = x
            for i, layer in enumerate(layers):
                h = layer(h, adj)
                if i + 1 < len(layers):
                    h = torch.relu(h)
            return h

        return timed(forward, [x, *(q for layer in layers for q in layer.parameters())], kind)

    return build


def _dense_build(kind):
    def build(p, ctx):
        from fastgnn.nn import DenseAdjacency, DenseGCNConv

        adj = DenseAdjacency(gcn_adjacency(p, ctx).to_dense())
        layer = DenseGCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return timed(lambda: layer(x, adj), [x, *layer.parameters()], kind)

    return build


def _banded_edges(n: int, e: int, gen: torch.Generator, width: int = 64) -> torch.Tensor:
    """``[2, e]`` edges between nodes at most ``width`` ids apart (a graph with locality: the rows a
    node gathers are near its own, so they stay in cache whatever N)."""
    src = torch.randint(0, n, (e,), generator=gen)
    dst = (src + torch.randint(-width, width + 1, (e,), generator=gen)) % n
    return torch.stack([src, dst])


def _banded_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GCNConv, normalized_adjacency

        adj = normalized_adjacency(_banded_edges(p["N"], p["E"], ctx.generator).to(ctx.device), p["N"],
                                   dtype=ctx.dtype, device=ctx.device)
        layer = GCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return timed(lambda: layer(x, adj), [x, *layer.parameters()], kind)

    return build


# --------------------------------------------------------------------------- costs and counts


def _dense_cost(p):  # LN²F + LNF²
    return p.get("L", 1) * (p["N"] ** 2 * p["F"] + p["N"] * p["F"] ** 2)


def _weighted(mm):
    """The summary's two terms, each at this machine's rate for its kernel."""
    return Cost("note §3.8 terms at measured rates", "LEF/r_spmm + LNF²/r_mm", terms={
        "matmul": lambda p: mm * p.get("L", 1) * p["N"] * p["F"] ** 2,
        "spmm": lambda p: 2 * p.get("L", 1) * (p["E"] + p["N"]) * p["F"]})


def _sparse(kind, costs, **sweep) -> Sweep:
    """A sparse-GCN sweep of ``kind`` (``"fwd"``, ``"bwd"``) with what all of them share:
    flops ``L·(m·NF² + 2(E + N)F)`` (m = 2 forward, 4 backward), the bytes of the gathers and of
    the [N, F] operands (twice for a backward), space :data:`SP_SPACE`."""
    m = 1 if kind == "fwd" else 2

    def flops(p):
        return p.get("L", 1) * (2 * m * p["N"] * p["F"] ** 2 + 2 * (p["E"] + p["N"]) * p["F"])

    def nbytes(p):
        return m * p.get("L", 1) * (
            (p["E"] + p["N"]) * (p["F"] * F32 + 8 + F32) + 3 * p["N"] * p["F"] * F32 + p["F"] ** 2 * F32)

    return Sweep(group="gcn", impl="fastgnn.nn.GCNConv", costs=costs, flops=flops, bytes=nbytes, space=SP_SPACE,
                 grows=2, **sweep)


def _dense(kind, variable, **sweep) -> Sweep:
    m = 1 if kind == "fwd" else 2
    return Sweep(
        op=f"gcn-dense-{kind}", variable=variable, group="gcn", impl="fastgnn.nn.DenseGCNConv", derive=with_edges,
        build=_dense_build(kind), costs=(Cost("note §3.8", "LN²F + LNF²", _dense_cost),),
        flops=lambda p: 2 * p["N"] ** 2 * p["F"] + 2 * m * p["N"] * p["F"] ** 2,
        bytes=lambda p: m * (p["N"] ** 2 + 3 * p["N"] * p["F"]) * F32, grows=2, **sweep)


# --------------------------------------------------------------------------- the sweeps


#: the sparse sweeps along one variable: (values, quick, fixed, quick_fixed)
_ALONG = {
    "N": ((2**11, 2**13, 2**15, 2**17), (2**10, 2**12, 2**14),
          {"deg": 8, "F": 32, "L": 1}, {}),
    "E": (tuple(2**13 * d for d in (4, 16, 64, 256)), tuple(2**11 * d for d in (8, 32, 128)),
          {"N": 2**13, "F": 16, "L": 1}, {"N": 2**11}),
    "F": ((16, 32, 64, 128, 256), (32, 64, 128), {"N": 2**13, "deg": 8, "L": 1}, {"N": 2**12}),
    "L": ((1, 2, 4, 8), (1, 2, 4), {"N": 2**14, "deg": 8, "F": 32}, {"N": 2**12}),
}


def _sweeps() -> tuple:
    out = []
    costs = {"fwd": (FWD_SUM, _weighted(2)), "bwd": (BWD_SUM, BWD_36, _weighted(4))}
    for kind in ("fwd", "bwd"):
        op, build = f"gcn-sparse-{kind}", _sparse_build(kind)
        for variable, (values, quick, fixed, quick_fixed) in _ALONG.items():
            out.append(_sparse(kind, costs[kind], op=op, variable=variable, values=values, quick=quick, fixed=fixed,
                               quick_fixed=quick_fixed, derive=with_edges, build=build))
        # the discriminating sweeps for the note's two backward formulas (and the forward alike)
        out.append(_sparse(
            kind, costs[kind], op=op, variable="N@E", values=(2**10, 2**12, 2**14, 2**16), quick=(2**10, 2**12, 2**14),
            fixed={"E": 2**18, "F": 32, "L": 1}, quick_fixed={"E": 2**16},
            derive=lambda p: {**p, "N": p["N@E"]}, build=build,
            note="N grows with E fixed (degree falls): §3.6 predicts N² (its LN²F term), the summary ≤ N"))
        out.append(_sparse(
            kind, costs[kind], op=op, variable="F@E", values=(16, 32, 64, 128, 256), quick=(16, 32, 64),
            fixed={"N": 2**11, "E": 2**19, "L": 1}, quick_fixed={"E": 2**17},
            derive=lambda p: {**p, "F": p["F@E"]}, build=build,
            note="F grows on a dense-ish graph (degree 256 > F): §3.6 predicts F² (|E|F²), the summary F (|E|F)"))
    values, quick, fixed, _ = _ALONG["N"]
    for kind, banded_costs in (("fwd", (FWD_SUM,)), ("bwd", (BWD_SUM, BWD_36))):
        out.append(_sparse(
            kind, banded_costs, op=f"gcn-sparse-{kind}-banded", variable="N", values=values, quick=quick,
            fixed=fixed, derive=with_edges, build=_banded_build(kind),
            note="as gcn-sparse/N, but every edge joins nodes < 64 ids apart: the gathers stay in cache"))
    for kind in ("fwd", "bwd"):
        out.append(_dense(kind, "N", values=(256, 512, 1024, 2048, 4096), quick=(256, 512, 1024),
                          fixed={"deg": 8, "F": 64},
                          space=Cost("note §3.8", "N² + LF² + LNF",
                                     lambda p: p["N"] ** 2 + p["F"] ** 2 + p["N"] * p["F"])))
        out.append(_dense(kind, "F", values=(16, 32, 64, 128, 256, 512), quick=(16, 64, 256),
                          fixed={"N": 2048, "deg": 8}, quick_fixed={"N": 1024}))
    return tuple(out)


#: this subject's sweeps, in the registry's order
SWEEPS = _sweeps()
