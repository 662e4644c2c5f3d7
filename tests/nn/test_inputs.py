"""fastgnn.nn.inputs: layers that keep their graph operator (``cached=True``) can be copied and
pickled."""

from __future__ import annotations

import pytest
import torch
from nn_references import directed_graph

from fastgnn.nn import GATConv, GCNConv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cached_layers_can_be_copied_and_pickled():
    import copy
    import pickle

    edge_index, n = directed_graph()
    x = torch.randn(n, 3)
    for conv in (GCNConv(3, 2, cached=True), GATConv(3, 2, heads=2, cached=True)):
        y = conv(x, edge_index)
        for clone in (copy.deepcopy(conv), pickle.loads(pickle.dumps(conv))):
            torch.testing.assert_close(clone(x, edge_index), y)
