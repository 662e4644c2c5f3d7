"""The GNTK sweeps: one aggregation, one pair's whole kernel, and a dataset's Gram.

What the GNTK paper (matrix dimension reduction) predicts for graphs of N nodes (edge density p),
sketch size b and n graphs, with L = :data:`NUM_LAYERS` blocks and R = :data:`NUM_MLP_LAYERS`:

* kron, Du et al.'s explicit (A_G ⊗ A_H)·vec(Σ) (§3.1): O(N⁴), or O(nnz(A_G)·nnz(A_H)) =
  O((pN² + N)²) as a sparse operator;
* decoupled A_G Σ A_Hᵀ (§4.2, Fact 4.2): O(N³);
* sketched A_G S_GᵀS_G Σ S_HᵀS_H A_Hᵀ (§4.3, Thm 4.1): T_mat(N, N, b) = O(N²·b);
* a dataset's Gram (Thm 4.1): O(n²) pairs; per pair under the batched engine's sparse CSR
  aggregation O(N_G·N_H·(d_G + d_H)), so O(N²) at a fixed degree (the decoupled bound N³ beside).
"""

from __future__ import annotations

import torch

from fastgnn.complexity.registry import Cost, Sweep
from fastgnn.complexity.sweeps.common import F64, random_graph

__all__ = ["SWEEPS", "NUM_LAYERS", "NUM_MLP_LAYERS", "KRON", "KRON_NNZ", "DEC", "SKETCH"]

#: the GNTK's depth in every sweep: L blocks of R MLP layers
NUM_LAYERS, NUM_MLP_LAYERS = 4, 2
_BLOCKS = NUM_LAYERS - 1
_RELU = 12  # flops per entry per ReLU layer (two arc-cosine maps), roughly


def _nnz(p):
    return p["p"] * p["N"] ** 2 + p["N"]


KRON = Cost("paper §3.1 (Du et al.)", "N⁴", lambda p: p["N"] ** 4)
KRON_NNZ = Cost("sparse kron: nnz(A_G)·nnz(A_H)", "(pN² + N)²", lambda p: _nnz(p) ** 2)
DEC = Cost("paper §4.2 (Fact 4.2)", "N³", lambda p: p["N"] ** 3)
SKETCH = Cost("paper §4.3 (Thm 4.1)", "T_mat(N, N, b) = N²b", lambda p: p["N"] ** 2 * p["b"] + p["N"] * p["b"] ** 2)


# --------------------------------------------------------------------------- builders


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


def _build_dataset(p, ctx):
    from fastgnn.datasets.synthetic import synthetic
    from fastgnn.gntk import GNTK

    data = synthetic(num_graphs=p["n"], min_nodes=p["N"], max_nodes=p["N"], mean_edges=p["N"] * p["deg"] / 2,
                     seed=0)
    est = GNTK(num_layers=NUM_LAYERS, num_mlp_layers=NUM_MLP_LAYERS, method="batched", device=ctx.device,
               progress=False)
    return lambda: est.fit_transform(data)


# --------------------------------------------------------------------------- counts


def _pair_flops(agg):
    return lambda p: _BLOCKS * (agg(p) + NUM_MLP_LAYERS * _RELU * p["N"] ** 2) + 2 * p["N"] ** 2 * 4


def _dataset_flops(p):
    pairs = p["n"] * (p["n"] + 1) / 2
    return pairs * _BLOCKS * (4 * p["N"] ** 2 * (p["deg"] + 1) + NUM_MLP_LAYERS * _RELU * p["N"] ** 2)


def _sketch_flops(p):
    return 4 * p["N"] ** 2 * p["b"] + 4 * p["N"] * p["b"] ** 2


# --------------------------------------------------------------------------- the sweeps


_AGG = dict(group="gntk", impl="fastgnn.gntk.aggregate", dtype="float64")
_PAIR = dict(group="gntk", impl="fastgnn.gntk.pairwise.pair_readouts", dtype="float64")
_DS = dict(group="gntk", impl="fastgnn.gntk.GNTK(method='batched')", dtype="float64", build=_build_dataset,
           flops=_dataset_flops)

#: this subject's sweeps, in the registry's order
SWEEPS = (
    Sweep(op="gntk-aggregate-kron", variable="N", values=(32, 48, 64, 96, 128, 192), quick=(32, 64, 96),
          fixed={"p": 0.1}, build=_build_aggregate("kron"), costs=(KRON_NNZ, KRON),
          flops=lambda p: 2 * _nnz(p) ** 2, bytes=lambda p: 40 * _nnz(p) ** 2, space=KRON_NNZ, grows=4,
          note="explicit sparse Kronecker operator, built per call as in Du et al.'s code", **_AGG),
    Sweep(op="gntk-aggregate-decoupled", variable="N", values=(64, 128, 256, 512, 1024),
          quick=(64, 128, 256), fixed={"p": 0.1}, build=_build_aggregate("decoupled"), costs=(DEC,),
          flops=lambda p: 4 * p["N"] ** 3, bytes=lambda p: 4 * p["N"] ** 2 * F64,
          space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=3, **_AGG),
    Sweep(op="gntk-aggregate-sketch", variable="N", values=(128, 256, 512, 1024, 2048),
          quick=(128, 256, 512), fixed={"p": 0.1, "b": 16}, build=_build_aggregate("sketch"),
          costs=(SKETCH,), flops=_sketch_flops,
          bytes=lambda p: 2 * p["N"] ** 2 * F64, space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=2,
          **_AGG),
    Sweep(op="gntk-aggregate-sketch", variable="b", values=(8, 16, 32, 64, 128, 256),
          quick=(8, 32, 128), fixed={"p": 0.1, "N": 1024}, quick_fixed={"N": 512},
          build=_build_aggregate("sketch"), costs=(SKETCH,), flops=_sketch_flops,
          bytes=lambda p: 2 * p["N"] ** 2 * F64, grows=2, **_AGG),
    Sweep(op="gntk-pair-kron", variable="N", values=(32, 48, 64, 96, 128), quick=(32, 48, 64),
          fixed={"p": 0.1}, build=_build_pair("kron"), costs=(KRON_NNZ, KRON),
          flops=_pair_flops(lambda p: 2 * _nnz(p) ** 2), grows=4,
          note=f"whole kernel of one pair: L={NUM_LAYERS}, R={NUM_MLP_LAYERS}", **_PAIR),
    Sweep(op="gntk-pair-decoupled", variable="N", values=(64, 128, 256, 512, 1024),
          quick=(64, 128, 256), fixed={"p": 0.1}, build=_build_pair("decoupled"), costs=(DEC,),
          flops=_pair_flops(lambda p: 4 * p["N"] ** 3), grows=3, **_PAIR),
    Sweep(op="gntk-pair-sketch", variable="N", values=(128, 256, 512, 1024, 2048),
          quick=(128, 256, 512), fixed={"p": 0.1, "b": 16}, build=_build_pair("sketch"),
          costs=(SKETCH,), flops=_pair_flops(lambda p: 4 * p["N"] ** 2 * p["b"]), grows=2, **_PAIR),
    Sweep(op="gntk-dataset-batched", variable="n", values=(16, 32, 64, 128, 256), quick=(16, 32, 64),
          fixed={"N": 20, "deg": 6}, grows=2,
          costs=(Cost("paper Thm 4.1: O(n²)·(…)", "n² pairs", lambda p: p["n"] ** 2),),
          note="Gram of n synthetic graphs of N nodes (mean degree 6), tiles of stacked graphs", **_DS),
    Sweep(op="gntk-dataset-batched", variable="N", values=(16, 32, 64, 128, 192), quick=(16, 32, 64),
          fixed={"n": 16, "deg": 6}, grows=3,
          costs=(Cost("sparse aggregation, fixed degree", "n²·N²·d", lambda p: p["N"] ** 2),
                 Cost("paper Thm 4.1 (decoupled)", "n²·N³", lambda p: p["N"] ** 3)),
          note="sparse CSR aggregation costs N_G·N_H·(d_G + d_H) per pair: N² at a fixed degree", **_DS),
)
