"""The arc-cosine maps of a ReLU layer: the reference implementation.

The compiled tile (:mod:`fastgnn.gntk.compiled_tile` and its numba kernels) mirrors this math
operation by operation for speed; ``tests/gntk/test_compiled_tile.py`` checks that the two agree.

For a ReLU layer of an infinitely wide network in the NTK parameterisation
(c_σ = 2), a pre-activation covariance Σ between the nodes u of G and v of H
maps to

    ρ_uv   = Σ_uv / (d_G(u) d_H(v)),      d_G(u) = sqrt(Σ_GG[u, u])
    θ_uv   = arccos ρ_uv
    Σ'_uv  = (sin θ_uv + (π − θ_uv) cos θ_uv) / π · d_G(u) d_H(v)     (κ₁, next covariance)
    Σ̇_uv  = (π − θ_uv) / π                                            (κ₀, derivative kernel)

and the tangent kernel follows Θ' = Θ ⊙ Σ̇ + Σ' (Du et al. 2019, Section 3.2;
Jacot et al. 2018).  The normalising diagonals d_G, d_H come from each graph's
*self* covariance at the same layer, so they are computed once per graph.

Cost: O(N_G · N_H) elementwise, the floor of the whole kernel.
"""

from __future__ import annotations

import math

import torch

from fastgnn.gntk import compiled_tile

__all__ = ["relu_maps", "relu_maps_", "ntk_step"]


def relu_maps(
    sigma: torch.Tensor, diag_left: torch.Tensor, diag_right: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(Σ', Σ̇)`` for one ReLU layer; ``sigma`` is not modified.

    Args:
        sigma: ``[M, P]`` covariance between the rows' nodes and the columns' nodes
            (or a batch of them, ``[n, M, P]``).
        diag_left: ``[M]`` standard deviations d(u) = sqrt(Σ_self[u, u]) of the row nodes
            (``[n, M]`` for a batch).
        diag_right: ``[P]`` the same for the column nodes (``[n, P]``).

    ρ within 32 ulps of ±1 is set to ±1 (see :func:`relu_maps_`).  A node whose
    standard deviation is 0 (an all-zero pre-activation) has ``Σ' = 0`` and
    ``Σ̇ = 1/2`` against every node: the limit the formulas take with ρ = 0,
    instead of the 0/0 the plain formula gives.

    Contiguous CPU float tensors go through one compiled pass
    (:func:`fastgnn.gntk.compiled_tile.relu_maps_fused`) when numba is installed.
    """
    if sigma.dim() == 2 and compiled_tile.usable(sigma, diag_left, diag_right):
        return compiled_tile.relu_maps_fused(sigma, diag_left, diag_right)
    sigma_next = sigma.clone()
    dot_sigma = torch.empty_like(sigma)
    relu_maps_(sigma_next, diag_left, diag_right, dot_sigma, torch.empty_like(sigma))
    return sigma_next, dot_sigma


def relu_maps_(
    sigma: torch.Tensor,
    diag_left: torch.Tensor,
    diag_right: torch.Tensor,
    dot_out: torch.Tensor,
    scratch: torch.Tensor,
) -> None:
    """In place: overwrite ``sigma`` with Σ' and ``dot_out`` with Σ̇ (``scratch``: a buffer).

    Shapes as :func:`relu_maps` (a batch ``[n, M, P]`` with diagonals ``[n, M]``, ``[n, P]`` too).

    No ``[M, P]`` tensor is allocated but two boolean masks: on a CPU a fresh
    large tensor costs page faults that take longer than the arithmetic, so
    callers keep ``dot_out`` (and Θ) as reusable buffers.  About 12 passes over
    memory, one of them arccos.
    """
    inv_left = torch.where(diag_left > 0, 1.0 / diag_left, torch.zeros_like(diag_left))
    inv_right = torch.where(diag_right > 0, 1.0 / diag_right, torch.zeros_like(diag_right))
    rho = sigma  # ρ is built in Σ's storage, then Σ' overwrites it
    rho.mul_(inv_left.unsqueeze(-1)).mul_(inv_right.unsqueeze(-2)).clamp_(-1.0, 1.0)
    # arccos has infinite slope at ±1: a one-ulp rounding of ρ = 1 (a node against
    # an identical neighbourhood, or against itself) would move θ by ~1e-8.  Values
    # within a few ulps of ±1 are therefore taken as exactly ±1.
    snap = 32 * torch.finfo(rho.dtype).eps
    rho.masked_fill_(rho > 1.0 - snap, 1.0).masked_fill_(rho < -1.0 + snap, -1.0)
    # π − θ with θ = arccos ρ
    torch.acos(rho, out=dot_out).neg_().add_(math.pi)
    # Σ' = (sqrt(1 − ρ²) + (π − θ) ρ)/π · d d'
    sqrt_term = torch.mul(rho, rho, out=scratch)
    sqrt_term.neg_().add_(1.0).clamp_(min=0.0).sqrt_()
    rho.mul_(dot_out).add_(sqrt_term)
    rho.mul_((diag_left / math.pi).unsqueeze(-1)).mul_(diag_right.unsqueeze(-2))
    dot_out.div_(math.pi)


def ntk_step(
    sigma: torch.Tensor,
    theta: torch.Tensor,
    diag_left: torch.Tensor,
    diag_right: torch.Tensor,
    work: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ReLU layer applied to the pair (Σ, Θ), in place: ``(Σ', Θ ⊙ Σ̇ + Σ')``.

    ``sigma`` and ``theta`` are overwritten and returned; ``work`` is a pair of
    scratch buffers of the same shape (allocated when not given): keeping them
    across layers and tiles avoids a page-faulting allocation per step.

    Contiguous CPU float tensors go through the one-pass numba kernel of
    :mod:`fastgnn.gntk.compiled_tile` (``work`` unused) when numba is installed; the
    eager torch code below (about 14 passes over memory) is the fallback and
    the reference.
    """
    if compiled_tile.usable(sigma, theta, diag_left, diag_right):
        compiled_tile.ntk_step_fused(sigma, theta, diag_left, diag_right)
        return sigma, theta
    if work is None:
        work = (torch.empty_like(sigma), torch.empty_like(sigma))
    relu_maps_(sigma, diag_left, diag_right, work[0], work[1])
    theta.mul_(work[0]).add_(sigma)
    return sigma, theta
