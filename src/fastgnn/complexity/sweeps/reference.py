"""The reference kernels: the machine's own baselines, against which the layers are read.

* ``ref-matmul/N``: a dense N×N float32 product, 2N³ flops (compute bound).
* ``ref-copy/MB``: a memory copy, read + write of MB MiB (bandwidth bound), O(MB).
* ``ref-spmm/E``: CSR sparse [N, N] with E nonzeros times dense [N, F], 2EF flops: the
  gather-bound kernel under the sparse GCN (the note's §2, O(|E|F)).
"""

from __future__ import annotations

import warnings

import torch

from fastgnn.complexity.registry import Cost, Sweep
from fastgnn.complexity.sweeps.common import F32, random_edges

__all__ = ["SWEEPS"]


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


#: this subject's sweeps, in the registry's order
SWEEPS = (
    Sweep(
        op="ref-matmul", variable="N", group="reference", impl="torch.matmul",
        values=(128, 256, 512, 1024, 2048), quick=(128, 256, 512), fixed={},
        build=_build_matmul,
        costs=(Cost("T_mat(N,N,N)", "N³", lambda p: p["N"] ** 3),),
        flops=lambda p: 2 * p["N"] ** 3, bytes=lambda p: 3 * p["N"] ** 2 * F32,
        space=Cost("output", "N²", lambda p: p["N"] ** 2), grows=3,
        note="dense N×N float32 product: the machine's compute baseline",
    ),
    Sweep(
        op="ref-copy", variable="MB", group="reference", impl="Tensor.copy_",
        values=(32, 64, 128, 256, 512), quick=(32, 64, 128), fixed={},
        build=_build_copy,
        costs=(Cost("streaming", "bytes", lambda p: p["MB"]),),
        bytes=lambda p: 2 * p["MB"] * 2**20, grows=1,
        note="memory copy (read + write): the machine's bandwidth baseline",
    ),
    Sweep(
        op="ref-spmm", variable="E", group="reference", impl="torch.sparse.mm (CSR)",
        values=tuple(2**14 * d for d in (2, 8, 32, 128)), quick=tuple(2**12 * d for d in (2, 8, 32)),
        fixed={"N": 2**14, "F": 32}, quick_fixed={"N": 2**12},
        build=_build_spmm,
        costs=(Cost("note §2", "|E|F", lambda p: p["E"] * p["F"]),),
        flops=lambda p: 2 * p["E"] * p["F"],
        bytes=lambda p: p["E"] * (p["F"] * F32 + 8 + F32) + 2 * p["N"] * p["F"] * F32, grows=1,
        note="CSR sparse × dense [N, F]: the gather-bound kernel under the sparse GCN",
    ),
)
