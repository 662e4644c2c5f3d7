"""The registered sweeps: reference kernels, GCN, attention, GD/SGD steps and the GNTK.

Every entry says what is timed, along which variable, and what the complexity note
(``gcn-complexity``: Blakely, Lanchantin, Qi) or the GNTK paper (matrix dimension reduction)
predicts.  Symbols: N nodes, E edges (directed, self-loops not counted), F features (F_in =
F_out = F), L layers, H heads, B SGD batch size, b sketch size, n graphs, p edge density.

Forward passes are timed under ``torch.no_grad()``; a backward is timed on its own: the forward
runs once in the builder and the timed call is ``torch.autograd.grad(out, [x, *params], g,
retain_graph=True)`` — the gradients of the inputs and of the weights (the note's eqs. 28-29).

The GNN layers are :mod:`fastgnn.nn`'s and the SGD step samples with
``fastgnn.train.NeighborSampler``; the report names what is timed (column ``impl``).
"""

from __future__ import annotations

import warnings

import torch

from fastgnn.complexity.registry import Cost, Sweep, register

__all__ = ["random_edges", "random_graph"]

F32, F64 = 4, 8


# --------------------------------------------------------------------------- helpers


def random_edges(n: int, e: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
    """``[2, e]`` int64 edges with uniformly random endpoints (a sparse random graph)."""
    return torch.randint(0, n, (2, e), generator=gen).to(device)


def random_graph(n: int, p: float, gen: torch.Generator, num_tags: int = 4):
    """Erdős–Rényi G(n, p) (symmetric, no self-loops) as a :class:`fastgnn.graph.Graph` with
    one-hot random tags (float64)."""
    from fastgnn.graph import Graph

    upper = torch.triu(torch.rand(n, n, generator=gen) < p, diagonal=1)
    src, dst = upper.nonzero(as_tuple=True)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    tags = torch.randint(0, num_tags, (n,), generator=gen)
    x = torch.nn.functional.one_hot(tags, num_tags).to(torch.float64)
    return Graph(edge_index=edge_index, num_nodes=n, x=x)


def _timed(forward, leaves, kind: str):
    """The timed call: ``forward()`` without grad, or a backward through a retained graph."""
    if kind == "fwd":
        def fn():
            with torch.no_grad():
                return forward()

        return fn
    out = forward()
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype).to(out.device)
    leaves = [t for t in leaves if t.requires_grad]

    def fn():
        return torch.autograd.grad(out, leaves, grad, retain_graph=True)

    return fn


def _with_e(p: dict) -> dict:
    if "E" not in p:
        p["E"] = int(p["N"] * p["deg"])
    return p


_ADJ_CACHE: dict = {}


def _gcn_adj(p, ctx):
    """A' of a random graph with N nodes and E edges; the last one is reused (a forward sweep and
    its backward sweep share their graphs, and building A' for millions of edges takes seconds).
    :func:`fastgnn.complexity.profile` drops it when it returns (:func:`clear_cache`)."""
    from fastgnn.nn import normalized_adjacency

    key = (p["N"], p["E"], ctx.generator.initial_seed(), ctx.dtype, str(ctx.device))
    if _ADJ_CACHE.get("key") != key:
        _ADJ_CACHE.clear()
        edges = random_edges(p["N"], p["E"], ctx.generator, ctx.device)
        _ADJ_CACHE.update(key=key, adj=normalized_adjacency(edges, p["N"], dtype=ctx.dtype, device=ctx.device))
    return _ADJ_CACHE["adj"]


def clear_cache() -> None:
    """Drop the reused A' (:func:`_gcn_adj`), which can hold millions of edges."""
    _ADJ_CACHE.clear()


# --------------------------------------------------------------------------- reference kernels


def _build_matmul(p, ctx):
    a, b = ctx.randn(p["N"], p["N"]), ctx.randn(p["N"], p["N"])
    return lambda: a @ b


def _build_copy(p, ctx):
    src = torch.ones(int(p["MB"] * 2**20) // F32, device=ctx.device)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def _build_spmm(p, ctx):
    n, e = p["N"], p["E"]
    idx = random_edges(n, e, ctx.generator)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        a = torch.sparse_coo_tensor(idx, torch.rand(e, generator=ctx.generator), (n, n)).coalesce()
        a = a.to_sparse_csr().to(device=ctx.device, dtype=ctx.dtype)
    z = ctx.randn(n, p["F"])
    return lambda: torch.sparse.mm(a, z)


register(Sweep(
    op="ref-matmul", variable="N", group="reference", impl="torch.matmul",
    values=(128, 256, 512, 1024, 2048), quick=(128, 256, 512), fixed={},
    build=_build_matmul,
    costs=(Cost("T_mat(N,N,N)", "N³", lambda p: p["N"] ** 3),),
    flops=lambda p: 2 * p["N"] ** 3, bytes=lambda p: 3 * p["N"] ** 2 * F32,
    space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=3,
    note="dense N×N float32 product: the machine's compute baseline",
))
register(Sweep(
    op="ref-copy", variable="MB", group="reference", impl="Tensor.copy_",
    values=(32, 64, 128, 256, 512), quick=(32, 64, 128), fixed={},
    build=_build_copy,
    costs=(Cost("streaming", "bytes", lambda p: p["MB"]),),
    bytes=lambda p: 2 * p["MB"] * 2**20, grows=1,
    note="memory copy (read + write): the machine's bandwidth baseline",
))
register(Sweep(
    op="ref-spmm", variable="E", group="reference", impl="torch.sparse.mm (CSR)",
    values=tuple(2**14 * d for d in (2, 8, 32, 128)), quick=tuple(2**12 * d for d in (2, 8, 32)),
    fixed={"N": 2**14, "F": 32}, quick_fixed={"N": 2**12},
    build=_build_spmm,
    costs=(Cost("note §2", "|E|F", lambda p: p["E"] * p["F"]),),
    flops=lambda p: 2 * p["E"] * p["F"],
    bytes=lambda p: p["E"] * (p["F"] * F32 + 8 + F32) + 2 * p["N"] * p["F"] * F32, grows=1,
    note="CSR sparse × dense [N, F]: the gather-bound kernel under the sparse GCN",
))


# --------------------------------------------------------------------------- GCN


def _gcn_sparse_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GCNConv

        adj = _gcn_adj(p, ctx)
        layers = [GCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype) for _ in range(p["L"])]
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")

        def forward():
            h = x
            for i, layer in enumerate(layers):
                h = layer(h, adj)
                if i + 1 < len(layers):
                    h = torch.relu(h)
            return h

        return _timed(forward, [x, *(q for layer in layers for q in layer.parameters())], kind)

    return build


def _gcn_dense_build(kind):
    def build(p, ctx):
        from fastgnn.nn import DenseAdjacency, DenseGCNConv

        adj = DenseAdjacency(_gcn_adj(p, ctx).to_dense())
        layer = DenseGCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return _timed(lambda: layer(x, adj), [x, *layer.parameters()], kind)

    return build


# costs, per the note (E counts self-loops: A + I has E + N entries)
def _sp_summary(p):  # §2 / §3.8 summary: L|E|F + LNF²
    return p.get("L", 1) * ((p["E"] + p["N"]) * p["F"] + p["N"] * p["F"] ** 2)


def _sp_36(p):  # §3.6 eq. (34): L|E|F² + LN²F
    return p.get("L", 1) * ((p["E"] + p["N"]) * p["F"] ** 2 + p["N"] ** 2 * p["F"])


def _dense(p):  # LN²F + LNF²
    return p.get("L", 1) * (p["N"] ** 2 * p["F"] + p["N"] * p["F"] ** 2)


def _sp_flops(mult):
    return lambda p: p.get("L", 1) * (mult * p["N"] * p["F"] ** 2 + 2 * (p["E"] + p["N"]) * p["F"])


def _sp_bytes(mult):
    return lambda p: mult * p.get("L", 1) * (
        (p["E"] + p["N"]) * (p["F"] * F32 + 8 + F32) + 3 * p["N"] * p["F"] * F32 + p["F"] ** 2 * F32)


def _weighted_gcn(mm):
    """The summary's two terms, each at this machine's rate for its kernel."""
    return Cost("note §3.8 terms at measured rates", "LEF/r_spmm + LNF²/r_mm", terms={
        "matmul": lambda p: mm * p.get("L", 1) * p["N"] * p["F"] ** 2,
        "spmm": lambda p: 2 * p.get("L", 1) * (p["E"] + p["N"]) * p["F"]})


FWD_SUM = Cost("note §2, §3.8", "LEF + LNF²", _sp_summary)
BWD_SUM = Cost("note §3.8 summary", "LEF + LNF²", _sp_summary)
BWD_36 = Cost("note §3.6 eq. 34", "L|E|F² + LN²F", _sp_36)
SP_SPACE = Cost("note §3.8", "E + LF² + LNF", lambda p: p["E"] + p.get("L", 1) * (p["F"] ** 2 + p["N"] * p["F"]))

_GCN_SWEEPS = {
    # variable: (values, quick, fixed, quick_fixed)
    "N": ((2**11, 2**13, 2**15, 2**17), (2**10, 2**12, 2**14),
          {"deg": 8, "F": 32, "L": 1}, {}),
    "E": (tuple(2**13 * d for d in (4, 16, 64, 256)), tuple(2**11 * d for d in (8, 32, 128)),
          {"N": 2**13, "F": 16, "L": 1}, {"N": 2**11}),
    "F": ((16, 32, 64, 128, 256), (32, 64, 128), {"N": 2**13, "deg": 8, "L": 1}, {"N": 2**12}),
    "L": ((1, 2, 4, 8), (1, 2, 4), {"N": 2**14, "deg": 8, "F": 32}, {"N": 2**12}),
}

for _kind, _costs in (("fwd", (FWD_SUM, _weighted_gcn(2))), ("bwd", (BWD_SUM, BWD_36, _weighted_gcn(4)))):
    for _var, (_vals, _quick, _fixed, _qfixed) in _GCN_SWEEPS.items():
        register(Sweep(
            op=f"gcn-sparse-{_kind}", variable=_var, group="gcn", impl="fastgnn.nn.GCNConv",
            values=_vals, quick=_quick, fixed=_fixed,
            quick_fixed=_qfixed, derive=_with_e, build=_gcn_sparse_build(_kind), costs=_costs,
            flops=_sp_flops(2 if _kind == "fwd" else 4), bytes=_sp_bytes(1 if _kind == "fwd" else 2),
            space=SP_SPACE, grows=2,
        ))
    # the discriminating sweeps for the note's two backward formulas (and the forward alike)
    register(Sweep(
        op=f"gcn-sparse-{_kind}", variable="N@E", group="gcn", impl="fastgnn.nn.GCNConv",
        values=(2**10, 2**12, 2**14, 2**16), quick=(2**10, 2**12, 2**14),
        fixed={"E": 2**18, "F": 32, "L": 1}, quick_fixed={"E": 2**16},
        derive=lambda p: {**p, "N": p["N@E"]}, build=_gcn_sparse_build(_kind), costs=_costs,
        flops=_sp_flops(2 if _kind == "fwd" else 4), bytes=_sp_bytes(1 if _kind == "fwd" else 2),
        space=SP_SPACE, grows=2,
        note="N grows with E fixed (degree falls): §3.6 predicts N² (its LN²F term), the summary ≤ N",
    ))
    register(Sweep(
        op=f"gcn-sparse-{_kind}", variable="F@E", group="gcn", impl="fastgnn.nn.GCNConv",
        values=(16, 32, 64, 128, 256), quick=(16, 32, 64),
        fixed={"N": 2**11, "E": 2**19, "L": 1}, quick_fixed={"E": 2**17},
        derive=lambda p: {**p, "F": p["F@E"]}, build=_gcn_sparse_build(_kind), costs=_costs,
        flops=_sp_flops(2 if _kind == "fwd" else 4), bytes=_sp_bytes(1 if _kind == "fwd" else 2),
        space=SP_SPACE, grows=2,
        note="F grows on a dense-ish graph (degree 256 > F): §3.6 predicts F² (|E|F²), the summary F (|E|F)",
    ))

def _banded_edges(n: int, e: int, gen: torch.Generator, width: int = 64) -> torch.Tensor:
    """``[2, e]`` edges between nodes at most ``width`` ids apart (a graph with locality: the rows a
    node gathers are near its own, so they stay in cache whatever N)."""
    src = torch.randint(0, n, (e,), generator=gen)
    dst = (src + torch.randint(-width, width + 1, (e,), generator=gen)) % n
    return torch.stack([src, dst])


def _gcn_banded_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GCNConv, normalized_adjacency

        adj = normalized_adjacency(_banded_edges(p["N"], p["E"], ctx.generator).to(ctx.device), p["N"], dtype=ctx.dtype,
                       device=ctx.device)
        layer = GCNConv(p["F"], p["F"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return _timed(lambda: layer(x, adj), [x, *layer.parameters()], kind)

    return build


for _kind, _costs in (("fwd", (FWD_SUM,)), ("bwd", (BWD_SUM, BWD_36))):
    register(Sweep(
        op=f"gcn-sparse-{_kind}-banded", variable="N", group="gcn", impl="fastgnn.nn.GCNConv",
        values=_GCN_SWEEPS["N"][0], quick=_GCN_SWEEPS["N"][1],
        fixed=_GCN_SWEEPS["N"][2], derive=_with_e, build=_gcn_banded_build(_kind), costs=_costs,
        flops=_sp_flops(2 if _kind == "fwd" else 4), bytes=_sp_bytes(1 if _kind == "fwd" else 2), space=SP_SPACE,
        grows=2, note="as gcn-sparse/N, but every edge joins nodes < 64 ids apart: the gathers stay in cache",
    ))

for _kind in ("fwd", "bwd"):
    register(Sweep(
        op=f"gcn-dense-{_kind}", variable="N", group="gcn", impl="fastgnn.nn.DenseGCNConv",
        values=(256, 512, 1024, 2048, 4096), quick=(256, 512, 1024), fixed={"deg": 8, "F": 64},
        derive=_with_e, build=_gcn_dense_build(_kind),
        costs=(Cost("note §3.8", "LN²F + LNF²", _dense),),
        flops=lambda p, k=_kind: 2 * p["N"] ** 2 * p["F"] + (2 if k == "fwd" else 4) * p["N"] * p["F"] ** 2,
        bytes=lambda p, k=_kind: (1 if k == "fwd" else 2) * (p["N"] ** 2 + 3 * p["N"] * p["F"]) * F32,
        space=Cost("note §3.8", "N² + LF² + LNF", lambda p: p["N"] ** 2 + p["F"] ** 2 + p["N"] * p["F"]),
        grows=2,
    ))
    register(Sweep(
        op=f"gcn-dense-{_kind}", variable="F", group="gcn", impl="fastgnn.nn.DenseGCNConv",
        values=(16, 32, 64, 128, 256, 512), quick=(16, 64, 256), fixed={"N": 2048, "deg": 8},
        quick_fixed={"N": 1024}, derive=_with_e, build=_gcn_dense_build(_kind),
        costs=(Cost("note §3.8", "LN²F + LNF²", _dense),),
        flops=lambda p, k=_kind: 2 * p["N"] ** 2 * p["F"] + (2 if k == "fwd" else 4) * p["N"] * p["F"] ** 2,
        bytes=lambda p, k=_kind: (1 if k == "fwd" else 2) * (p["N"] ** 2 + 3 * p["N"] * p["F"]) * F32,
        grows=2,
    ))


# --------------------------------------------------------------------------- attention


def _attention_build(kind):
    def build(p, ctx):
        from fastgnn.nn import SelfAttention

        # heads of width F/H, concatenated: [N, F]
        layer = SelfAttention(p["F"], p["F"] // p["H"], p["H"]).to(device=ctx.device, dtype=ctx.dtype)
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return _timed(lambda: layer(x), [x, *layer.parameters()], kind)

    return build


def _gat_build(kind):
    def build(p, ctx):
        from fastgnn.nn import GATConv, gat_graph

        layer = GATConv(p["F"], p["F"] // p["H"], p["H"]).to(device=ctx.device, dtype=ctx.dtype)
        edges = random_edges(p["N"], p["E"], ctx.generator, ctx.device)
        edges = gat_graph(edges, p["N"], device=ctx.device)  # built once, as A' for the GCN
        x = ctx.randn(p["N"], p["F"], requires_grad=kind == "bwd")
        return _timed(lambda: layer(x, edges), [x, *layer.parameters()], kind)

    return build


def _att_cost(p):
    return p["N"] ** 2 * p["F"] + p["N"] * p["F"] ** 2


def _gat_cost(p):
    return p["E"] * p["F"] + p["N"] * p["F"] ** 2


for _kind, _m in (("fwd", 1), ("bwd", 2)):
    _att = dict(
        group="attention", impl="fastgnn.nn.SelfAttention", build=_attention_build(_kind),
        costs=(Cost("note §4.1, §4.3", "LN²F + LNF²", _att_cost),
               Cost("note's terms + softmax, at measured rates", "(N²F + NF²)/r_mm + HN²/r_softmax", terms={
                   "matmul": lambda p, m=_m: m * (6 * p["N"] * p["F"] ** 2 + 4 * p["N"] ** 2 * p["F"]),
                   "elementwise": lambda p, m=_m: m * p["H"] * p["N"] ** 2})),
        flops=lambda p, m=_m: m * (8 * p["N"] * p["F"] ** 2 + 4 * p["N"] ** 2 * p["F"] + 5 * p["H"] * p["N"] ** 2),
        bytes=lambda p, m=_m: m * (3 * p["H"] * p["N"] ** 2 + 8 * p["N"] * p["F"]) * F32,
        space=Cost("note §4.3", "LN² + LF² + LNF", lambda p: p["H"] * p["N"] ** 2 + p["N"] * p["F"] + p["F"] ** 2),
    )
    register(Sweep(op=f"attention-dense-{_kind}", variable="N", values=(128, 256, 512, 1024, 2048, 4096),
                   quick=(128, 256, 512), fixed={"F": 64, "H": 4}, grows=2, **_att))
    register(Sweep(op=f"attention-dense-{_kind}", variable="F", values=(16, 32, 64, 128, 256, 512),
                   quick=(16, 64, 256), fixed={"N": 1024, "H": 4}, quick_fixed={"N": 512}, grows=2, **_att))
    _gat = dict(
        group="attention", impl="fastgnn.nn.GATConv", build=_gat_build(_kind),
        derive=_with_e, costs=(Cost("note §4.3 (sparse)", "LEF + LNF²", _gat_cost),
                               Cost("note's terms at measured rates", "LEF/r_spmm + LNF²/r_mm + EH/r_softmax", terms={
                                   "matmul": lambda p, m=_m: m * 2 * p["N"] * p["F"] ** 2,
                                   "spmm": lambda p, m=_m: m * 2 * (p["E"] + p["N"]) * p["F"],
                                   "elementwise": lambda p, m=_m: m * 6 * (p["E"] + p["N"]) * p["H"]})),
        flops=lambda p, m=_m: m * (2 * p["N"] * p["F"] ** 2 + 2 * p["E"] * p["F"] + 10 * p["E"] * p["H"]),
        bytes=lambda p, m=_m: m * (p["E"] * (p["F"] * F32 + 16 + 4 * p["H"] * F32) + 4 * p["N"] * p["F"] * F32),
        space=Cost("note §4.3", "LE + LF² + LNF", lambda p: p["E"] * p["H"] + p["F"] ** 2 + p["N"] * p["F"]),
    )
    register(Sweep(op=f"gat-edge-{_kind}", variable="N", values=(2**11, 2**13, 2**15, 2**17),
                   quick=(2**10, 2**12, 2**14), fixed={"deg": 8, "F": 32, "H": 4}, grows=1, **_gat))
    register(Sweep(op=f"gat-edge-{_kind}", variable="E", values=tuple(2**12 * d for d in (4, 16, 64, 256)),
                   quick=tuple(2**11 * d for d in (4, 16, 64)), fixed={"N": 2**12, "F": 32, "H": 4},
                   quick_fixed={"N": 2**11}, grows=1, **_gat))


# --------------------------------------------------------------------------- GD vs SGD


def _train_setup(p, ctx):
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

    edges, x, y, step = _train_setup(p, ctx)
    adj = normalized_adjacency(edges.to(ctx.device), p["N"], dtype=ctx.dtype, device=ctx.device)  # once, reused
    return lambda: step(x, adj, y)


def _build_sgd(p, ctx):
    from fastgnn.nn import normalized_adjacency
    from fastgnn.train.sampling import NeighborSampler

    edges, x, y, step = _train_setup(p, ctx)
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


def _sub(p):
    f = p["fanout"]
    return {"N": p["B"] * (1 + f + f * f), "E": p["B"] * (f + f * f), "F": p["F"], "C": p["C"]}


_TRAIN = dict(group="training", derive=_with_e)
register(Sweep(
    op="train-gd-step", variable="N", impl="fastgnn.nn.GCNConv", values=(2**11, 2**13, 2**15, 2**17),
    quick=(2**10, 2**12, 2**14), fixed={"deg": 8, "F": 32, "C": 8, "B": 256, "fanout": 10},
    build=_build_gd, costs=(Cost("note §3.1 (GD)", "LEF + LNF²", lambda p: _sp_summary({**p, "L": 2})),),
    flops=_gd_flops, grows=1, note="2-layer GCN, full graph: forward, cross-entropy, backward, SGD update",
    **_TRAIN))
register(Sweep(
    op="train-sgd-step", variable="N", impl="fastgnn.nn.GCNConv + fastgnn.train.NeighborSampler",
    values=(2**11, 2**13, 2**15, 2**17), quick=(2**10, 2**12, 2**14),
    fixed={"deg": 8, "F": 32, "C": 8, "B": 64, "fanout": 10},
    build=_build_sgd, costs=(Cost("note §3.7 (SGD)", "L·B·∏fanouts·F² (no N)", lambda p: 1.0),),
    flops=lambda p: _gd_flops(_sub(p)), grows=1,
    note="batch B=64 seeds, 2-hop fanouts (10, 10): the step's cost must not grow with N", **_TRAIN))
register(Sweep(
    op="train-sgd-step", variable="B", impl="fastgnn.nn.GCNConv + fastgnn.train.NeighborSampler",
    values=(16, 32, 64, 128, 256, 512), quick=(16, 64, 256),
    fixed={"N": 2**17, "deg": 8, "F": 32, "C": 8, "fanout": 10}, quick_fixed={"N": 2**16},
    build=_build_sgd, costs=(Cost("note §3.7 (SGD)", "L·B·∏fanouts·F²", lambda p: p["B"]),),
    flops=lambda p: _gd_flops(_sub(p)), grows=1, **_TRAIN))


# --------------------------------------------------------------------------- GNTK


NUM_LAYERS, NUM_MLP_LAYERS = 4, 2


def _pair_operands(p, ctx, method):
    from fastgnn.gntk.pairwise import prepare

    g, h = random_graph(p["N"], p["p"], ctx.generator), random_graph(p["N"], p["p"], ctx.generator)
    b = p.get("b") if method == "sketch" else None

    def prep(graph):
        return prepare(graph, num_blocks=NUM_LAYERS - 1, num_mlp_layers=NUM_MLP_LAYERS, scale="uniform",
                       method=method, sketch_size=b, sketch_kind="ams", seed=0, dtype=torch.float64,
                       device=ctx.device)

    return prep(g), prep(h)


def _build_aggregate(method):
    def build(p, ctx):
        from fastgnn.gntk.aggregate import aggregate_decoupled, aggregate_kron, aggregate_sketch, sketch_matrix

        g, h = _pair_operands(p, ctx, "decoupled")
        m = torch.randn(p["N"], p["N"], generator=ctx.generator, dtype=torch.float64)
        sigma = (m @ m.T / p["N"]).to(ctx.device)
        if method == "kron":
            return lambda: aggregate_kron(sigma, g.a, h.a)
        if method == "decoupled":
            return lambda: aggregate_decoupled(sigma, g.a, h.a)
        sg = sketch_matrix(p["b"], p["N"], generator=ctx.generator).to(ctx.device)
        sh = sketch_matrix(p["b"], p["N"], generator=ctx.generator).to(ctx.device)
        sag, sah = g.a @ sg.T, h.a @ sh.T
        return lambda: aggregate_sketch(sigma, sg, sag, sh, sah)

    return build


def _build_pair(method):
    def build(p, ctx):
        from fastgnn.gntk.pairwise import pair_readouts

        g, h = _pair_operands(p, ctx, method)
        return lambda: pair_readouts(g, h, method=method, num_blocks=NUM_LAYERS - 1,
                                     num_mlp_layers=NUM_MLP_LAYERS)

    return build


def _nnz(p):
    return p["p"] * p["N"] ** 2 + p["N"]


KRON = Cost("paper §3.1 (Du et al.)", "N⁴", lambda p: p["N"] ** 4)
KRON_NNZ = Cost("sparse kron: nnz(A_G)·nnz(A_H)", "(pN² + N)²", lambda p: _nnz(p) ** 2)
DEC = Cost("paper §4.2 (Fact 4.2)", "N³", lambda p: p["N"] ** 3)
SKETCH = Cost("paper §4.3 (Thm 4.1)", "T_mat(N, N, b) = N²b", lambda p: p["N"] ** 2 * p["b"] + p["N"] * p["b"] ** 2)
_BLOCKS = NUM_LAYERS - 1

_AGG = dict(group="gntk", impl="fastgnn.gntk.aggregate", dtype="float64")
register(Sweep(op="gntk-aggregate-kron", variable="N", values=(32, 48, 64, 96, 128, 192), quick=(32, 64, 96),
               fixed={"p": 0.1}, build=_build_aggregate("kron"), costs=(KRON_NNZ, KRON),
               flops=lambda p: 2 * _nnz(p) ** 2, bytes=lambda p: 40 * _nnz(p) ** 2, space=KRON_NNZ, grows=4,
               note="explicit sparse Kronecker operator, built per call as in Du et al.'s code", **_AGG))
register(Sweep(op="gntk-aggregate-decoupled", variable="N", values=(64, 128, 256, 512, 1024),
               quick=(64, 128, 256), fixed={"p": 0.1}, build=_build_aggregate("decoupled"), costs=(DEC,),
               flops=lambda p: 4 * p["N"] ** 3, bytes=lambda p: 4 * p["N"] ** 2 * F64,
               space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=3, **_AGG))
register(Sweep(op="gntk-aggregate-sketch", variable="N", values=(128, 256, 512, 1024, 2048),
               quick=(128, 256, 512), fixed={"p": 0.1, "b": 16}, build=_build_aggregate("sketch"),
               costs=(SKETCH,), flops=lambda p: 4 * p["N"] ** 2 * p["b"] + 4 * p["N"] * p["b"] ** 2,
               bytes=lambda p: 2 * p["N"] ** 2 * F64, space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=2,
               **_AGG))
register(Sweep(op="gntk-aggregate-sketch", variable="b", values=(8, 16, 32, 64, 128, 256),
               quick=(8, 32, 128), fixed={"p": 0.1, "N": 1024}, quick_fixed={"N": 512},
               build=_build_aggregate("sketch"), costs=(SKETCH,),
               flops=lambda p: 4 * p["N"] ** 2 * p["b"] + 4 * p["N"] * p["b"] ** 2,
               bytes=lambda p: 2 * p["N"] ** 2 * F64, grows=2, **_AGG))

_PAIR = dict(group="gntk", impl="fastgnn.gntk.pairwise.pair_readouts", dtype="float64")
_RELU = 12  # flops per entry per ReLU layer (two arc-cosine maps), roughly


def _pair_flops(agg):
    return lambda p: _BLOCKS * (agg(p) + NUM_MLP_LAYERS * _RELU * p["N"] ** 2) + 2 * p["N"] ** 2 * 4


register(Sweep(op="gntk-pair-kron", variable="N", values=(32, 48, 64, 96, 128), quick=(32, 48, 64),
               fixed={"p": 0.1}, build=_build_pair("kron"), costs=(KRON_NNZ, KRON),
               flops=_pair_flops(lambda p: 2 * _nnz(p) ** 2), grows=4,
               note=f"whole kernel of one pair: L={NUM_LAYERS}, R={NUM_MLP_LAYERS}", **_PAIR))
register(Sweep(op="gntk-pair-decoupled", variable="N", values=(64, 128, 256, 512, 1024),
               quick=(64, 128, 256), fixed={"p": 0.1}, build=_build_pair("decoupled"), costs=(DEC,),
               flops=_pair_flops(lambda p: 4 * p["N"] ** 3), grows=3, **_PAIR))
register(Sweep(op="gntk-pair-sketch", variable="N", values=(128, 256, 512, 1024, 2048),
               quick=(128, 256, 512), fixed={"p": 0.1, "b": 16}, build=_build_pair("sketch"),
               costs=(SKETCH,), flops=_pair_flops(lambda p: 4 * p["N"] ** 2 * p["b"]), grows=2, **_PAIR))


def _build_dataset(p, ctx):
    from fastgnn.datasets.synthetic import synthetic
    from fastgnn.gntk import GNTK

    data = synthetic(num_graphs=p["n"], min_nodes=p["N"], max_nodes=p["N"], mean_edges=p["N"] * p["deg"] / 2,
                     seed=0)
    est = GNTK(num_layers=NUM_LAYERS, num_mlp_layers=NUM_MLP_LAYERS, method="batched", device=ctx.device,
               progress=False)
    return lambda: est.fit_transform(data)


def _dataset_flops(p):
    pairs = p["n"] * (p["n"] + 1) / 2
    return pairs * _BLOCKS * (4 * p["N"] ** 2 * (p["deg"] + 1) + NUM_MLP_LAYERS * _RELU * p["N"] ** 2)


_DS = dict(group="gntk", impl="fastgnn.gntk.GNTK(method='batched')", dtype="float64", build=_build_dataset,
           flops=_dataset_flops)
register(Sweep(op="gntk-dataset-batched", variable="n", values=(16, 32, 64, 128, 256), quick=(16, 32, 64),
               fixed={"N": 20, "deg": 6}, grows=2,
               costs=(Cost("paper Thm 4.1: O(n²)·(…)", "n² pairs", lambda p: p["n"] ** 2),),
               note="Gram of n synthetic graphs of N nodes (mean degree 6), tiles of stacked graphs", **_DS))
register(Sweep(op="gntk-dataset-batched", variable="N", values=(16, 32, 64, 128, 192), quick=(16, 32, 64),
               fixed={"n": 16, "deg": 6}, grows=3,
               costs=(Cost("sparse aggregation, fixed degree", "n²·N²·d", lambda p: p["N"] ** 2),
                      Cost("paper Thm 4.1 (decoupled)", "n²·N³", lambda p: p["N"] ** 3)),
               note="sparse CSR aggregation costs N_G·N_H·(d_G + d_H) per pair: N² at a fixed degree", **_DS))
