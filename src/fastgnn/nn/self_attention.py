"""Dense multi-head self-attention over all node pairs (the note's Section 4), explicit backward.

Per head k (H heads of width d = out_channels), with X ``[N, F_in]``:

    Q = X W_Q,  K = X W_K,  V = X W_V                  ``[N, d]`` each, O(N F_in d)
    S = Q Kᵀ / √d,  P = softmax_rows(S),  O = P V      ``[N, N]``, O(N² d)

The backward of (Q, K, V) → O is :class:`SelfAttentionFunction` (derived in
``docs/attention-backward.md``): dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)),
dQ = dS K / √d, dK = dSᵀ Q / √d — O(N² d) per head, like the forward; P ``[H, N, N]`` is saved.
The projections' gradients (dW_Q = Xᵀ dQ, dX = dQ W_Qᵀ + dK W_Kᵀ + dV W_Vᵀ) are those of a
linear map, left to autograd. Memory O(H N² + N F).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from fastgnn.nn.validation import check_edge_index, check_features

__all__ = ["SelfAttention", "SelfAttentionFunction", "self_attention"]


class SelfAttention(nn.Module):
    """Multi-head softmax(QKᵀ/√d)V over all N nodes: every node attends to every node.

    Args:
        in_channels: F_in.
        out_channels: d, the width of each head.
        heads: H.
        concat: concatenate the heads (``[N, H d]``) or average them (``[N, d]``).
        bias: learnable output bias.

    ``forward(x, edge_index=None)``: ``x [N, F_in]``; ``edge_index`` is accepted for the common
    calling convention and validated, but not used (the attention is dense). Parameters
    ``lin_query``, ``lin_key``, ``lin_value`` (``weight [H d, F_in]``, no bias) and ``bias``.
    Cost O(N F_in H d + H N² d) per forward and per backward; memory O(H N²).
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True, bias: bool = True):
        super().__init__()
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.lin_query = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.lin_key = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.lin_value = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform projections, zero bias."""
        for lin in (self.lin_query, self.lin_key, self.lin_value):
            nn.init.xavier_uniform_(lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        check_features(x)
        if edge_index is not None:
            check_edge_index(edge_index, x.shape[0])
        n, heads, d = x.shape[0], self.heads, self.out_channels

        def split(lin):  # [N, H d] -> [H, N, d]
            return lin(x).view(n, heads, d).transpose(0, 1)

        out = self_attention(split(self.lin_query), split(self.lin_key), split(self.lin_value))
        out = out.transpose(0, 1)  # [N, H, d]
        out = out.reshape(n, heads * d) if self.concat else out.mean(dim=1)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}"


def self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(QKᵀ/√d) V for ``q, k, v [H, N, d]`` → ``[H, N, d]``, with the explicit backward."""
    return SelfAttentionFunction.apply(q.contiguous(), k.contiguous(), v.contiguous())


class SelfAttentionFunction(torch.autograd.Function):
    """O = softmax(QKᵀ/√d) V per head; inputs and output ``[H, N, d]``.

    Forward O(H N² d) time, O(H N²) memory: one buffer, S then P in place (saved for the backward,
    with Q, K, V, O); the backward adds one more (dP, then dS in place).
    Backward (docs/attention-backward.md):

        dV = Pᵀ dO                        O(H N² d)
        dP = dO Vᵀ                        O(H N² d)
        δ  = rowsum(dP ⊙ P) = rowsum(dO ⊙ O)    O(H N d): the N² product is not needed
        dS = P ⊙ (dP − δ)                 O(H N²)
        dQ = dS K / √d,  dK = dSᵀ Q / √d    O(H N² d)
    """

    @staticmethod
    def forward(ctx, q, k, v):
        scale = 1.0 / math.sqrt(q.shape[-1])
        p = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)  # S = QKᵀ/√d
        p.sub_(p.amax(dim=-1, keepdim=True)).exp_()  # row softmax in place of S (one N² buffer),
        p.div_(p.sum(dim=-1, keepdim=True))  # stabilised by the row max
        out = torch.matmul(p, v)  # O = PV
        ctx.save_for_backward(q, k, v, p, out)
        ctx.scale = scale
        return out

    @staticmethod
    @once_differentiable  # the saved P carries no history: a second derivative would be wrong
    def backward(ctx, dout):
        q, k, v, p, out = ctx.saved_tensors
        dv = torch.matmul(p.transpose(-1, -2), dout) if ctx.needs_input_grad[2] else None  # dV = Pᵀ dO
        dp = torch.matmul(dout, v.transpose(-1, -2))  # dP = dO Vᵀ
        delta = (dout * out).sum(dim=-1, keepdim=True)  # rowsum(dP ⊙ P) = rowsum(dO ⊙ O)
        ds = dp.sub_(delta).mul_(p)  # dS = P ⊙ (dP − δ), in place of dP
        dq = torch.matmul(ds, k).mul_(ctx.scale) if ctx.needs_input_grad[0] else None  # dQ = dS K/√d
        dk = torch.matmul(ds.transpose(-1, -2), q).mul_(ctx.scale) if ctx.needs_input_grad[1] else None  # dSᵀQ/√d
        return dq, dk, dv
