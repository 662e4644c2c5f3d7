"""The Aggregate step of the GNTK, one function per algorithm of the paper.

For graphs G (N_G nodes) and H (N_H nodes) with aggregation matrices
``a_g = C_G A_G`` and ``a_h = C_H A_H`` (A with self-loops, C the diagonal
scaling c_u), the aggregated covariance is

    Σ' = C_G A_G Σ A_Hᵀ C_H,         [Σ']_uv = c_u c_v Σ_{a ∈ N(u)∪u} Σ_{b ∈ N(v)∪v} Σ_ab

All three functions take ``(sigma, a_g, a_h)`` and return Σ' of shape
``[N_G, N_H]``; they agree exactly (``kron``, ``decoupled``) or in expectation
(``sketch``).

* :func:`aggregate_kron` — Eq. (1): ``vec(Σ') = (a_g ⊗ a_h) · vec(Σ)``, the
  naive form of Du et al.'s code; O(N_G² N_H²) time and memory dense, or
  O(nnz(a_g) · nnz(a_h)) with the sparse Kronecker product used here (as the
  public code does).
* :func:`aggregate_decoupled` — Fact 4.2: ``a_g Σ a_hᵀ``; O(N_G N_H (N_G + N_H))
  dense, i.e. O(N³).
* :func:`aggregate_sketch` — Section 4.3: ``a_g S_Gᵀ S_G Σ S_Hᵀ S_H a_hᵀ`` with one
  b×N sketching matrix per graph, multiplied in the paper's cheap order:
  O(N² b) instead of O(N³).

Vectorisation is row-major (NumPy's ``reshape(-1)``), for which
``vec(A Σ Bᵀ) = (A ⊗ B) vec(Σ)`` holds with the Kronecker factors in this order.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp
import torch

from fastgnn.gntk.params import SKETCHES

__all__ = [
    "aggregate_kron",
    "aggregate_decoupled",
    "aggregate_sketch",
    "sketch_factors",
    "sketch_matrix",
]


def aggregate_kron(sigma: torch.Tensor, a_g: torch.Tensor, a_h: torch.Tensor) -> torch.Tensor:
    """Eq. (1): ``vec(Σ') = (a_g ⊗ a_h) vec(Σ)`` with an explicit (sparse) Kronecker product.

    The N_G N_H × N_G N_H operator is built for every call, as in the public
    GNTK code.  Time and memory O(nnz(a_g) · nnz(a_h)) — O(N⁴) for dense graphs.
    """
    kron = sp.kron(
        sp.csr_matrix(a_g.detach().cpu().numpy()), sp.csr_matrix(a_h.detach().cpu().numpy()),
        format="csr",
    )
    vec = sigma.detach().cpu().numpy().reshape(-1)
    out = kron @ vec
    return torch.from_numpy(out.reshape(a_g.shape[0], a_h.shape[0])).to(sigma)


def aggregate_decoupled(sigma: torch.Tensor, a_g: torch.Tensor, a_h: torch.Tensor) -> torch.Tensor:
    """Fact 4.2: ``a_g Σ a_hᵀ`` by two matrix products; O(N_G N_H (N_G + N_H))."""
    return a_g @ sigma @ a_h.T


def aggregate_sketch(
    sigma: torch.Tensor,
    sketch_g: torch.Tensor,
    sketched_a_g: torch.Tensor,
    sketch_h: torch.Tensor,
    sketched_a_h: torch.Tensor,
) -> torch.Tensor:
    """Section 4.3: ``a_g S_Gᵀ S_G Σ S_Hᵀ S_H a_hᵀ`` in the paper's order.

    Args:
        sigma: ``[N_G, N_H]``.
        sketch_g: S_G, ``[b_G, N_G]``.
        sketched_a_g: ``a_g S_Gᵀ``, ``[N_G, b_G]`` (computed once per graph, O(N² b)).
        sketch_h, sketched_a_h: the same for H.

    Order: ``S_G Σ`` (b N²), ``(S_G Σ) S_Hᵀ`` (b² N), ``(a_g S_Gᵀ)(·)`` (N b²),
    ``(·)(S_H a_hᵀ)`` (N² b): O(N² b) in all.
    """
    core = (sketch_g @ sigma) @ sketch_h.T  # [b_G, b_H]
    return (sketched_a_g @ core) @ sketched_a_h.T


def sketch_matrix(
    b: int, n: int, *, kind: str = "ams", generator: torch.Generator | None = None,
    dtype=torch.float64,
) -> torch.Tensor:
    """A random ``[b, n]`` sketching matrix with E[SᵀS] = I.

    ``kind="ams"``: entries ±1/√b with probability 1/2 each (Alon, Matias and
    Szegedy; the paper's Lemma 4.3). ``kind="gaussian"``: entries N(0, 1/b).
    """
    if kind == "ams":
        signs = torch.randint(0, 2, (b, n), generator=generator).to(dtype).mul_(2).sub_(1)
        return signs.div_(b**0.5)
    if kind == "gaussian":
        return torch.randn(b, n, generator=generator, dtype=dtype).div_(b**0.5)
    raise ValueError(f"sketch kind must be one of {SKETCHES}, got {kind!r}")


def sketch_factors(
    a: torch.Tensor, b: int, *, kind: str, seed: int, key: bytes
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-graph sketch ``(S, a Sᵀ)`` for the aggregation matrix ``a`` ``[N, N]``.

    The sketch is drawn from a generator seeded by ``seed`` and by ``key`` (a
    digest of the graph), so a graph gets the same S in ``fit`` and in
    ``transform``, whatever its position in the data.

    When ``b >= N`` the sketch can save nothing (N² b >= N³) and would still add
    noise (SᵀS ≠ I for any finite b), so the exact factors ``(I, a)`` are
    returned: such graphs are aggregated exactly.
    """
    n = a.shape[0]
    if b >= n:
        return torch.eye(n, dtype=a.dtype, device=a.device), a
    digest = hashlib.blake2b(key + int(seed).to_bytes(8, "little", signed=True), digest_size=8)
    gen = torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") & (2**63 - 1))
    s = sketch_matrix(b, n, kind=kind, generator=gen, dtype=a.dtype).to(a.device)
    return s, a @ s.T


def graph_key(edge_index: torch.Tensor, x: torch.Tensor, num_nodes: int) -> bytes:
    """A digest identifying a graph's structure and features (for sketch seeding)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.int64(num_nodes).tobytes())
    h.update(edge_index.detach().cpu().numpy().astype(np.int64).tobytes())
    h.update(x.detach().cpu().to(torch.float64).numpy().tobytes())
    return h.digest()
