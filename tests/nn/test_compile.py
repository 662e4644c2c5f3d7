"""torch.compile of models built from fastgnn's layers: dynamo breaks the graph around the sparse
operators and the hand-written Functions (they run eagerly) and the results equal eager mode.
``aot_eager`` runs dynamo and AOTAutograd without inductor's C++ compile (minutes on 2 cores)."""

from __future__ import annotations

import pytest
import torch

from fastgnn.nn import DenseGCNConv, GATConv, GCNConv

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]  # dynamo tracing: seconds per test


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gcn = GCNConv(8, 16)
        self.gat = GATConv(16, 4, heads=2, edge_dim=2)
        self.dense = DenseGCNConv(8, 8)

    def forward(self, x, edge_index, edge_weight, edge_attr, adj):
        h = torch.relu(self.gcn(x, edge_index, edge_weight))
        return self.gat(h, edge_index, edge_attr).sum(-1) + self.dense(x, adj)[0].sum(-1)


def test_compiled_model_equals_eager_with_gradients():
    torch.manual_seed(0)
    torch._dynamo.reset()
    net = Net()
    n, e = 12, 40
    x = torch.randn(n, 8, requires_grad=True)
    edge_index = torch.randint(0, n, (2, e))
    edge_weight = torch.rand(e, requires_grad=True)
    edge_attr = torch.randn(e, 2)
    adj = torch.rand(n, n)
    inputs = (x, edge_index, edge_weight, edge_attr, adj)
    want = net(*inputs)
    want_grads = torch.autograd.grad(want.sum(), [x, edge_weight] + list(net.parameters()))
    compiled = torch.compile(net, backend="aot_eager")
    for _ in range(2):  # the second call reuses the compiled frames
        got = compiled(*inputs)
        torch.testing.assert_close(got, want)
        got_grads = torch.autograd.grad(got.sum(), [x, edge_weight] + list(net.parameters()))
        for a, b in zip(got_grads, want_grads):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["gcn", "gat", "dense-gcn"])
def test_compiled_node_model_with_a_prebuilt_operator_equals_eager(name):
    """The models pass a prebuilt NormalizedAdjacency / GATGraph / DenseAdjacency (the CSR that
    dynamo failed to wrap before): passed through to the eager part untouched."""
    from fastgnn.nn.models import node_model

    torch.manual_seed(1)
    torch._dynamo.reset()
    n = 30
    model = node_model(name, 8, 3).eval()
    x, graph = torch.randn(n, 8), model.prepare(torch.randint(0, n, (2, 120)), n)
    torch.testing.assert_close(torch.compile(model, backend="aot_eager")(x, graph), model(x, graph))
