"""The training sweeps: one full-batch GD step against one neighbour-sampled SGD step.

A step of a 2-layer GCN (forward, cross-entropy, backward, SGD update).  The complexity note
predicts, for L layers:

* full-batch GD (§3.1): O(L·|E|·F + L·N·F²), the GCN summary over the whole graph;
* sampled SGD (§3.7): O(L·B·∏fanouts·F²) for B seeds, with no N in it: the sweep along N must
  be flat, the one along B linear.  The seeds are drawn in O(B log B) (no O(N) permutation)
  and sampled with ``fastgnn.train.NeighborSampler``.
"""

from __future__ import annotations

import torch

from fastgnn.complexity.registry import Cost, Sweep
from fastgnn.complexity.sweeps.common import random_edges, with_edges
from fastgnn.complexity.sweeps.gcn import summary_cost

__all__ = ["SWEEPS"]


def _setup(p, ctx):
    from fastgnn.nn import GCNConv

    n, e = p["N"], p["E"]
    edges = random_edges(n, e, ctx.generator)
    x = ctx.randn(n, p["F"])
    y = torch.randint(0, p["C"], (n,), generator=ctx.generator).to(ctx.device)
    model = torch.nn.ModuleList([GCNConv(p["F"], p["F"]), GCNConv(p["F"], p["C"])])
    model = model.to(device=ctx.device, dtype=ctx.dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(xb, graph, yb, pos=None):
        opt.zero_grad(set_to_none=True)
        h = model[1](torch.relu(model[0](xb, graph)), graph)
        out = h if pos is None else h[pos]
        loss = torch.nn.functional.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        return loss.detach()

    return edges, x, y, step


def _build_gd(p, ctx):
    from fastgnn.nn import normalized_adjacency

    edges, x, y, step = _setup(p, ctx)
    adj = normalized_adjacency(edges.to(ctx.device), p["N"], dtype=ctx.dtype, device=ctx.device)  # once, reused
    return lambda: step(x, adj, y)


def _build_sgd(p, ctx):
    from fastgnn.nn import normalized_adjacency
    from fastgnn.train.sampling import NeighborSampler

    edges, x, y, step = _setup(p, ctx)
    gen = torch.Generator().manual_seed(2)
    sampler = NeighborSampler(edges, p["N"], [p["fanout"]] * 2)

    def sgd_step():
        # distinct seeds in O(B log B): no O(N) permutation, so nothing in the step grows with N
        seeds = torch.unique(torch.randint(0, p["N"], (p["B"],), generator=gen))
        sub = sampler.sample(seeds, gen)  # the seeds are its first num_seeds nodes
        adj = normalized_adjacency(sub.edge_index.to(ctx.device), sub.nodes.numel(), dtype=ctx.dtype, device=ctx.device)
        pos = torch.arange(sub.num_seeds, device=ctx.device)
        return step(x[sub.nodes.to(ctx.device)], adj, y[seeds.to(ctx.device)], pos)

    return sgd_step


def _gd_flops(p):
    return 3 * (2 * p["N"] * p["F"] * (p["F"] + p["C"]) + 2 * (p["E"] + p["N"]) * (p["F"] + p["C"]))


def _sampled(p):
    """The sizes of the 2-hop subgraph an SGD step of B seeds works on (at most)."""
    f = p["fanout"]
    return {"N": p["B"] * (1 + f + f * f), "E": p["B"] * (f + f * f), "F": p["F"], "C": p["C"]}


_SGD = "fastgnn.nn.GCNConv + fastgnn.train.NeighborSampler"

#: this subject's sweeps, in the registry's order
SWEEPS = (
    Sweep(
        op="train-gd-step", variable="N", group="training", impl="fastgnn.nn.GCNConv", derive=with_edges,
        values=(2**11, 2**13, 2**15, 2**17), quick=(2**10, 2**12, 2**14),
        fixed={"deg": 8, "F": 32, "C": 8, "B": 256, "fanout": 10},
        build=_build_gd, costs=(Cost("note §3.1 (GD)", "LEF + LNF²", lambda p: summary_cost({**p, "L": 2})),),
        flops=_gd_flops, grows=1, note="2-layer GCN, full graph: forward, cross-entropy, backward, SGD update"),
    Sweep(
        op="train-sgd-step", variable="N", group="training", impl=_SGD, derive=with_edges,
        values=(2**11, 2**13, 2**15, 2**17), quick=(2**10, 2**12, 2**14),
        fixed={"deg": 8, "F": 32, "C": 8, "B": 64, "fanout": 10},
        build=_build_sgd, costs=(Cost("note §3.7 (SGD)", "L·B·∏fanouts·F² (no N)", lambda p: 1.0),),
        flops=lambda p: _gd_flops(_sampled(p)), grows=1,
        note="batch B=64 seeds, 2-hop fanouts (10, 10): the step's cost must not grow with N"),
    Sweep(
        op="train-sgd-step", variable="B", group="training", impl=_SGD, derive=with_edges,
        values=(16, 32, 64, 128, 256, 512), quick=(16, 64, 256),
        fixed={"N": 2**17, "deg": 8, "F": 32, "C": 8, "fanout": 10}, quick_fixed={"N": 2**16},
        build=_build_sgd, costs=(Cost("note §3.7 (SGD)", "L·B·∏fanouts·F²", lambda p: p["B"]),),
        flops=lambda p: _gd_flops(_sampled(p)), grows=1),
)
