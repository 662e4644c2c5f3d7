"""The attention sweeps: dense multi-head self-attention and edge-wise graph attention (GAT).

What the complexity note predicts (N nodes, E edges, F features in H heads of width F/H):

* dense self-attention (``SelfAttention``), §4.1, §4.3: O(N²·F + N·F²) time, O(H·N² + F² + N·F)
  space (the H attention matrices);
* edge-wise attention (``GATConv``), §4.3 with sparse scores: O(E·F + N·F²) time,
  O(E·H + F² + N·F) space.

Each also carries its terms weighted by this machine's measured rates (matmul, SpMM, softmax).
"""

from __future__ import annotations

from fastgnn.complexity.registry import Cost, Sweep
from fastgnn.complexity.sweeps.common import F32, random_edges, timed, with_edges

__all__ = ["SWEEPS"]


def _attention_build(kind):
    def build(p, ctx):
        from fastgnn.nn import SelfAttention

        # heads of width F/H, concatenated: [N, F]
        layer = SelfAttention(p["F"], p["F"] // p["H"], p["H"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return timed(lambda: layer(x), [x, *layer.parameters()], kind)

    return build


def _gat_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GATConv, gat_graph

        layer = GATConv(p["F"], p["F"] // p["H"], p["H"]).to(device=ctx.device, dtype=ctx.dtype)
        edges = random_edges(p["N"], p["E"], ctx.generator, ctx.device)
        edges = gat_graph(edges, p["N"], device=ctx.device)  # built once, as A' for the GCN
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return timed(lambda: layer(x, edges), [x, *layer.parameters()], kind)

    return build


def _attention_cost(p):
    return p["N"] ** 2 * p["F"] + p["N"] * p["F"] ** 2


def _gat_cost(p):
    return p["E"] * p["F"] + p["N"] * p["F"] ** 2


def _sweeps() -> tuple:
    out = []
    for kind, m in (("fwd", 1), ("bwd", 2)):
        dense = dict(
            group="attention", impl="fastgnn.nn.SelfAttention", build=_attention_build(kind),
            costs=(Cost("note §4.1, §4.3", "LN²F + LNF²", _attention_cost),
                   Cost("note's terms + softmax, at measured rates", "(N²F + NF²)/r_mm + HN²/r_softmax", terms={
                       "matmul": lambda p, m=m: m * (6 * p["N"] * p["F"] ** 2 + 4 * p["N"] ** 2 * p["F"]),
                       "elementwise": lambda p, m=m: m * p["H"] * p["N"] ** 2})),
            flops=lambda p, m=m: m * (8 * p["N"] * p["F"] ** 2 + 4 * p["N"] ** 2 * p["F"] + 5 * p["H"] * p["N"] ** 2),
            bytes=lambda p, m=m: m * (3 * p["H"] * p["N"] ** 2 + 8 * p["N"] * p["F"]) * F32,
            space=Cost("note §4.3", "LN² + LF² + LNF",
                       lambda p: p["H"] * p["N"] ** 2 + p["N"] * p["F"] + p["F"] ** 2),
        )
        out.append(Sweep(op=f"attention-dense-{kind}", variable="N", values=(128, 256, 512, 1024, 2048, 4096),
                         quick=(128, 256, 512), fixed={"F": 64, "H": 4}, grows=2, **dense))
        out.append(Sweep(op=f"attention-dense-{kind}", variable="F", values=(16, 32, 64, 128, 256, 512),
                         quick=(16, 64, 256), fixed={"N": 1024, "H": 4}, quick_fixed={"N": 512}, grows=2, **dense))
        gat = dict(
            group="attention", impl="fastgnn.nn.GATConv", build=_gat_build(kind), derive=with_edges,
            costs=(Cost("note §4.3 (sparse)", "LEF + LNF²", _gat_cost),
                   Cost("note's terms at measured rates", "LEF/r_spmm + LNF²/r_mm + EH/r_softmax", terms={
                       "matmul": lambda p, m=m: m * 2 * p["N"] * p["F"] ** 2,
                       "spmm": lambda p, m=m: m * 2 * (p["E"] + p["N"]) * p["F"],
                       "elementwise": lambda p, m=m: m * 6 * (p["E"] + p["N"]) * p["H"]})),
            flops=lambda p, m=m: m * (2 * p["N"] * p["F"] ** 2 + 2 * p["E"] * p["F"] + 10 * p["E"] * p["H"]),
            bytes=lambda p, m=m: m * (p["E"] * (p["F"] * F32 + 16 + 4 * p["H"] * F32) + 4 * p["N"] * p["F"] * F32),
            space=Cost("note §4.3", "LE + LF² + LNF", lambda p: p["E"] * p["H"] + p["F"] ** 2 + p["N"] * p["F"]),
        )
        out.append(Sweep(op=f"gat-edge-{kind}", variable="N", values=(2**11, 2**13, 2**15, 2**17),
                         quick=(2**10, 2**12, 2**14), fixed={"deg": 8, "F": 32, "H": 4}, grows=1, **gat))
        out.append(Sweep(op=f"gat-edge-{kind}", variable="E", values=tuple(2**12 * d for d in (4, 16, 64, 256)),
                         quick=tuple(2**11 * d for d in (4, 16, 64)), fixed={"N": 2**12, "F": 32, "H": 4},
                         quick_fixed={"N": 2**11}, grows=1, **gat))
    return tuple(out)


#: this subject's sweeps, in the registry's order
SWEEPS = _sweeps()
