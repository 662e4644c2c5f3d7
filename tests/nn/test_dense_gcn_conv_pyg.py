"""DenseGCNConv against PyTorch Geometric's: with the same weights, outputs and gradients (wrt x, every
parameter and the dense adjacency) agree in float64, batched, masked, broadcast, and inside PyG's
DiffPool. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")

from pyg_compare import F64, PYG_MARKS, compare, graphs, same_weights  # noqa: E402

from fastgnn.nn import DenseGCNConv  # noqa: E402

pytestmark = PYG_MARKS


def dense_batch():
    """Two graphs of 4 and 3 nodes padded to N = 4, weighted, with the mask of real nodes."""
    g = torch.Generator().manual_seed(10)
    adj = (torch.rand(2, 4, 4, generator=g, dtype=F64) > 0.4).to(F64) * torch.rand(2, 4, 4, generator=g, dtype=F64)
    adj[1, 3, :] = adj[1, :, 3] = 0.0
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    return adj, mask


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"bias": False}])
@pytest.mark.parametrize("forward", [{}, {"add_loop": False}, {"mask": True}])
def test_dense_gcn_conv_batched_equals_pyg(options, forward):
    """PyG's batched form, gradients wrt x, the parameters and the adjacency (DiffPool's use)."""
    adj, mask = dense_batch()
    torch.manual_seed(11)
    ours, theirs = DenseGCNConv(5, 4, **options).double(), pyg_nn.DenseGCNConv(5, 4, **options).double()
    same_weights(ours, theirs)
    kwargs = {"mask": mask} if forward.get("mask") else {k: v for k, v in forward.items() if k != "mask"}

    class Call(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def forward(self, x, adj):
            return self.conv(x, adj, **kwargs)

    ours_c, theirs_c = Call(ours), Call(theirs)
    compare(ours_c, theirs_c, (torch.randn(2, 4, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_broadcasting_equals_pyg():
    """One adjacency [N, N] for a batch of feature matrices, and one feature matrix for a batch
    of adjacencies."""
    adj, _ = dense_batch()
    ours, theirs = DenseGCNConv(5, 4).double(), pyg_nn.DenseGCNConv(5, 4).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(3, 4, 5, dtype=F64), adj[0]), 0, 1)
    compare(ours, theirs, (torch.randn(4, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_equals_pyg_dense_gcn_conv_on_one_graph():
    edge_index, n = graphs()["random"]
    adj = torch.zeros(n, n, dtype=F64)
    adj[edge_index[1], edge_index[0]] = 1.0  # adj[i, j] = 1 for an edge j → i (binary)
    ours, theirs = DenseGCNConv(5, 4).double(), pyg_nn.DenseGCNConv(5, 4).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(n, 5, dtype=F64), adj), 0, 1)


def test_dense_gcn_conv_lazy_in_channels_equals_pyg():
    adj, mask = dense_batch()
    ours, theirs = DenseGCNConv(-1, 4).double(), pyg_nn.DenseGCNConv(-1, 4).double()
    x = torch.randn(2, 4, 5, dtype=F64)
    same_weights(ours, theirs, x, adj)
    assert ours.lin.weight.shape == (4, 5)
    compare(ours, theirs, (x, adj, mask), 0, 1)


def test_dense_gcn_conv_in_pygs_diffpool_equals_pyg():
    """DiffPool's use: assignment and embedding by DenseGCNConv on a padded batch with its mask,
    PyG's dense_diff_pool, then DenseGCNConv on the pooled (learned, dense) adjacency; output and
    every gradient equal the same network built from PyG's DenseGCNConv."""
    adj, mask = dense_batch()

    class DiffPool(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.assign, self.embed, self.after = conv(5, 2), conv(5, 6), conv(6, 3)

        def forward(self, x, adj):
            s = self.assign(x, adj, mask)
            h = torch.relu(self.embed(x, adj, mask))
            h, pooled, link_loss, ent_loss = pyg_nn.dense_diff_pool(h, adj, s, mask)
            return self.after(h, pooled).sum(1) + link_loss + ent_loss

    torch.manual_seed(12)
    ours, theirs = DiffPool(DenseGCNConv).double(), DiffPool(pyg_nn.DenseGCNConv).double()
    same_weights(ours, theirs)
    compare(ours, theirs, (torch.randn(2, 4, 5, dtype=F64), adj), 0, 1)
