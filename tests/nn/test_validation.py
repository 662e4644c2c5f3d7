"""fastgnn.nn.validation, through every layer: bad input is a ValueError naming the argument; a
graph without nodes gives an empty output where PyG accepts it."""

from __future__ import annotations

import pytest
import torch
from nn_references import directed_graph

from fastgnn.nn import DenseGCNConv, GATConv, GCNConv, SelfAttention

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bad_input_cases():
    edge_index, n = directed_graph()
    x = torch.randn(n, 3)
    return {
        "source out of range": (x, torch.tensor([[0, 7], [1, 2]]), r"edge_index\[0, 1\] = 7 .*num_nodes=7"),
        "target negative": (x, torch.tensor([[0, 1], [1, -1]]), r"edge_index\[1, 1\] = -1 .*num_nodes=7"),
        "float edge_index": (x, edge_index.float(), r"dtype torch.int64"),
        "edge_index shape": (x, edge_index[:1], r"edge_index must have shape \[2, E\]"),
        "edge_index 1-D": (x, edge_index.reshape(-1), r"edge_index must have shape \[2, E\]"),
        "edge_index list": (x, edge_index.tolist(), r"edge_index must be a torch.Tensor"),
        "nan feature": (torch.where(torch.arange(n)[:, None] == 2, float("nan"), x), edge_index,
                        r"x has a non-finite value nan at \[2, 0\]"),
        "inf feature": (x.index_fill(1, torch.tensor([1]), float("inf")), edge_index, r"x has a non-finite value inf"),
        "empty graph": (torch.randn(0, 3), torch.empty(2, 0, dtype=torch.long), r"empty graph"),
        "1-D x": (torch.randn(n), edge_index, r"x must be 2-D"),
        "integer x": (torch.ones(n, 3, dtype=torch.long), edge_index, r"x must be a floating-point tensor"),
    }


# what differs by layer: a float [2, E] tensor is a dense adjacency to DenseGCNConv (PyG's), and
# GCNConv and GATConv take a graph without nodes as PyG does (an empty output)
LAYER_MESSAGES = {("dense_gcn", "float edge_index"): r"adj must be a dense \[B, N, N\] or \[N, N\]"}


EMPTY_OK = {"gcn", "gat"}


@pytest.mark.parametrize("case", list(_bad_input_cases()))
@pytest.mark.parametrize("layer", ["gcn", "dense_gcn", "gat", "attention"])
def test_bad_input_is_a_clear_value_error(layer, case):
    if case == "empty graph" and layer in EMPTY_OK:
        pytest.skip("an empty graph is valid input here (test_empty_graph_gives_an_empty_output)")
    x, edge_index, message = _bad_input_cases()[case]
    message = LAYER_MESSAGES.get((layer, case), message)
    conv = {"gcn": GCNConv, "dense_gcn": DenseGCNConv, "gat": GATConv, "attention": SelfAttention}[layer](3, 2)
    with pytest.raises(ValueError, match=message):
        conv(x, edge_index)


@pytest.mark.parametrize("layer", sorted(EMPTY_OK))
def test_empty_graph_gives_an_empty_output(layer):
    conv = {"gcn": GCNConv(3, 2), "gat": GATConv(3, 2, heads=2)}[layer]
    x = torch.randn(0, 3, requires_grad=True)
    out = conv(x, torch.empty(2, 0, dtype=torch.long))
    assert out.shape == (0, 2 if layer == "gcn" else 4)
    out.sum().backward()  # connected to the parameters, with zero gradients
    assert x.grad.shape == (0, 3)
