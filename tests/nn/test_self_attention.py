"""fastgnn.nn.self_attention: the explicit backward against gradcheck and against autograd through
PyTorch's ``scaled_dot_product_attention`` and the formula written out; the layer against a
reference; large scores stay finite."""

from __future__ import annotations

import pytest
import torch
from nn_references import assert_same_and_same_grads, directed_graph

from fastgnn.nn import SelfAttention, self_attention
from fastgnn.nn.self_attention import SelfAttentionFunction

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


def test_self_attention_function_gradcheck():
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 6, 3, dtype=F64, generator=g).requires_grad_() for _ in range(3))
    assert torch.autograd.gradcheck(SelfAttentionFunction.apply, (q, k, v))


def test_self_attention_matches_scaled_dot_product_attention_with_autograd():
    g = torch.Generator().manual_seed(8)
    q, k, v = (torch.randn(3, 9, 4, dtype=F64, generator=g).requires_grad_() for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert_same_and_same_grads(self_attention(q, k, v), ref, (q, k, v))
    # and the textbook formula written out
    ref2 = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1) @ v
    assert_same_and_same_grads(self_attention(q, k, v), ref2, (q, k, v))


@pytest.mark.parametrize("concat", [True, False])
def test_self_attention_layer_against_reference(concat):
    n, heads, d = 8, 2, 3
    layer = SelfAttention(4, d, heads=heads, concat=concat).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(n, 4, dtype=F64, requires_grad=True)
    edge_index, _ = directed_graph()
    edge_index = edge_index[:, edge_index.max(0).values < n]
    out = layer(x, edge_index)
    torch.testing.assert_close(layer(x), out)  # edge_index does not change dense attention

    def split(w):
        return (x @ w.T).view(n, heads, d).transpose(0, 1)

    ref = torch.nn.functional.scaled_dot_product_attention(
        split(layer.lin_query.weight), split(layer.lin_key.weight), split(layer.lin_value.weight)
    ).transpose(0, 1)
    ref = (ref.reshape(n, heads * d) if concat else ref.mean(1)) + layer.bias
    params = (x, layer.lin_query.weight, layer.lin_key.weight, layer.lin_value.weight, layer.bias)
    assert_same_and_same_grads(out, ref, params)


def test_self_attention_is_stable_for_large_scores():
    q = torch.full((1, 4, 2), 300.0, dtype=F64, requires_grad=True)
    out = self_attention(q, q, torch.randn(1, 4, 2, dtype=F64))
    out.sum().backward()
    assert bool(torch.isfinite(out).all()) and bool(torch.isfinite(q.grad).all())
