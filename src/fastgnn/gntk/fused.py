"""The ReLU step of :mod:`fastgnn.gntk.relu` fused into one pass over memory (numba, CPU).

:func:`fastgnn.gntk.relu.ntk_step` in eager torch makes about 14 passes over the
``[M, P]`` tile per ReLU layer (ρ, clamp, two snaps, arccos, π − θ, 1 − ρ², sqrt,
Σ', two scalings, Σ̇, Θ ⊙ Σ̇ + Σ'); on a tile much larger than the caches it is
bound by memory traffic.  :func:`ntk_step_fused` reads Σ and Θ once and writes
Σ' and Θ' once, rows in parallel (``prange``) on ``torch.get_num_threads()``
threads, and allocates nothing of the tile's size.

The arithmetic follows :func:`fastgnn.gntk.relu.relu_maps_` operation by
operation (same order, no contraction into FMAs, ``fastmath`` off), so it
differs from the torch path only through arccos.  arccos is a branch-free
rational approximation (fdlibm's ``__ieee754_acos`` coefficients; |error| under
about 2 ulp of θ) so that the column loop vectorises; torch's own arccos is
SLEEF's (1 ulp).  Both are within a few ulp of the true θ, so Σ' and Θ' agree to
about 1e-15 relative in float64.  float32 tiles are computed in float64
internally and rounded once when stored.

Used by :func:`fastgnn.gntk.relu.ntk_step` for contiguous CPU float32/float64
tensors when numba is importable (and :data:`ENABLED` is true); everything else
(CUDA, autograd, no numba) takes the eager torch path.
"""

from __future__ import annotations

import importlib.util
import math
import os

import torch

__all__ = ["ENABLED", "available", "ntk_step_fused", "usable"]

#: Set to False (or set the environment variable ``FASTGNN_NO_NUMBA=1``) to force the torch path.
ENABLED = os.environ.get("FASTGNN_NO_NUMBA", "") in ("", "0")

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None
_KERNEL = None


def available() -> bool:
    """Whether the numba kernel can run (numba installed and :data:`ENABLED`); numba is imported lazily."""
    return _HAVE_NUMBA and ENABLED


def usable(*tensors: torch.Tensor) -> bool:
    """Whether :func:`ntk_step_fused` applies to these tensors (else use the torch path)."""
    if not available():
        return False
    t0 = tensors[0]
    for t in tensors:
        if (t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64) or t.dtype != t0.dtype
                or not t.is_contiguous() or t.requires_grad or t.layout != torch.strided):
            return False
    return True


def ntk_step_fused(sigma: torch.Tensor, theta: torch.Tensor, diag_left: torch.Tensor,
                   diag_right: torch.Tensor) -> None:
    """In place, one pass: ``sigma ← Σ'``, ``theta ← Θ ⊙ Σ̇ + Σ'`` (see :func:`fastgnn.gntk.relu.ntk_step`).

    All four tensors on the CPU, contiguous, one float dtype (check with
    :func:`usable`).  Runs on ``torch.get_num_threads()`` threads (at most
    numba's maximum).
    """
    global _KERNEL
    if _KERNEL is None:
        from fastgnn.gntk import _fused_kernels  # imports numba and loads the compiled kernel from its cache

        _KERNEL = _fused_kernels
    numba, kernel = _KERNEL.numba, _KERNEL.ntk_step_kernel
    inv_left = torch.where(diag_left > 0, 1.0 / diag_left, torch.zeros_like(diag_left))
    inv_right = torch.where(diag_right > 0, 1.0 / diag_right, torch.zeros_like(diag_right))
    left_pi = diag_left / math.pi
    snap = 32 * torch.finfo(sigma.dtype).eps
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    before = numba.get_num_threads()
    if before != threads:
        numba.set_num_threads(threads)
    try:
        kernel(sigma.numpy(), theta.numpy(), inv_left.numpy(), inv_right.numpy(), left_pi.numpy(),
                         diag_right.contiguous().numpy(), float(snap))
    finally:
        if before != threads:
            numba.set_num_threads(before)
