"""The GNTK recursion of Du et al. (2019), for any aggregation: the reference implementation.

The per-pair kernels and the torch tile run it as written here; the compiled tile
(:mod:`fastgnn.gntk.compiled_tile`) mirrors it in one compiled pass per tile, and
``tests/gntk/test_compiled_tile.py`` checks that the two agree.

A GNN of ``num_layers`` layers (the input layer counted) has
``num_blocks = num_layers − 1`` blocks; a block is an Aggregate followed by
R = ``num_mlp_layers`` ReLU layers.  Between graphs G and H (or between two
stacks of graphs, see :mod:`fastgnn.gntk.engine`):

    Σ⁽⁰⁾ = X_G X_Hᵀ,   readout₀ = Σ_uv Σ⁽⁰⁾_uv
    Σ ← aggregate(Σ⁽⁰⁾),  Θ ← Σ
    for each block l = 1..L−1:
        R times:  Σ, Θ ← Σ', Θ ⊙ Σ̇ + Σ'        (relu.py)
        readout_l = Σ_uv Θ_uv
        if l < L−1:  Σ ← aggregate(Σ),  Θ ← aggregate(Θ)

With jumping knowledge (``jk``) the kernel is ``readout₀ + … + readout_{L−1}``,
without it ``readout_{L−1}``.  Du et al.'s code returns twice this value.

Because a shallower network's readouts are a prefix of a deeper one's, one pass
at the largest depth yields the kernel of every depth (used by the grid search).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fastgnn.gntk.relu import ntk_step, relu_maps

__all__ = ["readouts", "self_diagonals", "combine_readouts"]

Aggregate = Callable[[torch.Tensor], torch.Tensor]
Readout = Callable[[torch.Tensor], torch.Tensor]


def readouts(
    sigma0: torch.Tensor,
    aggregate: Aggregate,
    diags_left: Sequence[torch.Tensor],
    diags_right: Sequence[torch.Tensor],
    num_blocks: int,
    num_mlp_layers: int,
    readout: Readout,
) -> list[torch.Tensor]:
    """Run the recursion from the input covariance ``sigma0`` and return the readouts.

    Args:
        sigma0: ``[M, P]`` input covariance X_G X_Hᵀ (read by ``readout``, then
            handed to ``aggregate``, which may overwrite it).
        aggregate: maps a ``[M, P]`` matrix to its aggregation ``a_G · a_Hᵀ`` (it may
            work in place on its argument and return it).
        diags_left / diags_right: for each ReLU layer k = block·R + r, the ``[M]`` /
            ``[P]`` self standard deviations (see :func:`self_diagonals`).
        readout: maps ``[M, P]`` to the summed kernel (a scalar for one pair,
            ``[n_G, n_H]`` for stacked graphs).

    Returns:
        ``num_blocks + 1`` readouts: the input layer's, then each block's.
    """
    out = [readout(sigma0)]
    sigma = aggregate(sigma0)
    theta = sigma.clone()
    work = (torch.empty_like(sigma), torch.empty_like(sigma))  # scratch reused by every ReLU step
    for block in range(num_blocks):
        for r in range(num_mlp_layers):
            k = block * num_mlp_layers + r
            sigma, theta = ntk_step(sigma, theta, diags_left[k], diags_right[k], work)
        out.append(readout(theta))
        if block < num_blocks - 1:
            sigma = aggregate(sigma)
            theta = aggregate(theta)
    return out


def self_diagonals(
    x: torch.Tensor, aggregate: Aggregate, num_blocks: int, num_mlp_layers: int
) -> list[torch.Tensor]:
    """The standard deviations d(u) = sqrt(Σ_GG[u, u]) before each ReLU layer of G.

    Runs the Σ half of the recursion on the pair (G, G).  Returns
    ``num_blocks · num_mlp_layers`` tensors of shape ``[N]``.  Cost: that of one
    pair's kernel, once per graph.

    ``x`` may be a batch ``[n, N, d]`` of (zero-padded) graphs with an ``aggregate`` of
    batches (``[n, N, N]``); the tensors are then ``[n, N]``.  Zero padding rows stay zero
    (their d is 0, for which the ReLU maps give Σ' = 0).
    """
    diags = []
    sigma = aggregate(x @ x.transpose(-1, -2))
    for block in range(num_blocks):
        for _ in range(num_mlp_layers):
            d = torch.sqrt(torch.clamp(torch.diagonal(sigma, dim1=-2, dim2=-1), min=0.0))
            diags.append(d)
            sigma, _ = relu_maps(sigma, d, d)
        if block < num_blocks - 1:
            sigma = aggregate(sigma)
    return diags


def combine_readouts(parts, num_layers: int, jk: bool):
    """The kernel of a ``num_layers``-layer GNTK from the readouts of a pass at least as deep.

    ``parts`` is indexable by readout (a list, or an array whose first axis
    holds them): index 0 is the input layer, index l the l-th block.
    """
    if num_layers < 2:
        raise ValueError(f"num_layers must be >= 2 (the input layer and one block), got {num_layers}")
    if num_layers > len(parts):
        raise ValueError(f"num_layers={num_layers} needs {num_layers} readouts, have {len(parts)}")
    if jk:
        total = parts[0]
        for k in range(1, num_layers):
            total = total + parts[k]
        return total
    return parts[num_layers - 1]
