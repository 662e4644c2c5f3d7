"""The arc-cosine maps of a ReLU layer: the only place this math lives.

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

__all__ = ["relu_maps", "ntk_step"]


def relu_maps(
    sigma: torch.Tensor, diag_left: torch.Tensor, diag_right: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(Σ', Σ̇)`` for one ReLU layer.

    Args:
        sigma: ``[M, P]`` covariance between the rows' nodes and the columns' nodes.
        diag_left: ``[M]`` standard deviations d(u) = sqrt(Σ_self[u, u]) of the row nodes.
        diag_right: ``[P]`` the same for the column nodes.

    ρ within 32 ulps of ±1 is set to ±1 (see the code).  A node whose standard
    deviation is 0 (an all-zero pre-activation) has
    ``Σ' = 0`` and ``Σ̇ = 1/2`` against every node: the limit the formulas take
    with ρ = 0, instead of the 0/0 the plain formula gives.

    Memory: three ``[M, P]`` tensors (Σ' and Σ̇ are new; ``sigma`` is not modified).
    """
    inv_left = torch.where(diag_left > 0, 1.0 / diag_left, torch.zeros_like(diag_left))
    inv_right = torch.where(diag_right > 0, 1.0 / diag_right, torch.zeros_like(diag_right))
    rho = sigma * inv_left[:, None]
    rho.mul_(inv_right[None, :]).clamp_(-1.0, 1.0)
    # arccos has infinite slope at ±1: a one-ulp rounding of ρ = 1 (a node against
    # an identical neighbourhood, or against itself) would move θ by ~1e-8.  Values
    # within a few ulps of ±1 are therefore taken as exactly ±1.
    snap = 32 * torch.finfo(rho.dtype).eps
    rho[rho > 1.0 - snap] = 1.0
    rho[rho < -1.0 + snap] = -1.0
    # Σ̇ = (π − arccos ρ)/π
    dot_sigma = torch.acos(rho).neg_().add_(math.pi)  # π − θ
    # Σ' = (sqrt(1 − ρ²) + (π − θ) ρ)/π · d d'
    sigma_next = torch.sqrt(torch.clamp_(1.0 - rho * rho, min=0.0))
    sigma_next.addcmul_(dot_sigma, rho)
    del rho
    sigma_next.mul_(diag_left[:, None]).mul_(diag_right[None, :]).div_(math.pi)
    dot_sigma.div_(math.pi)
    return sigma_next, dot_sigma


def ntk_step(
    sigma: torch.Tensor, theta: torch.Tensor, diag_left: torch.Tensor, diag_right: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ReLU layer applied to the pair (Σ, Θ): returns ``(Σ', Θ ⊙ Σ̇ + Σ')``.

    ``theta`` is updated in place (it is not needed afterwards), which keeps the
    peak at four ``[M, P]`` tensors.
    """
    sigma_next, dot_sigma = relu_maps(sigma, diag_left, diag_right)
    theta.mul_(dot_sigma).add_(sigma_next)
    return sigma_next, theta
