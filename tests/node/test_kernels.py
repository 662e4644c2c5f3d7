"""fastgnn.node.kernels: the exact recursion against a plain NumPy transcription of the formulas
(float64, small graphs: undirected, directed, weighted, an isolated node), the operator against
GCNConv's, the estimator's surface, the memory budget and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

try:
    from .reference_gcn import dense_gcn_adjacency, reference_kernels, small_graph
except ImportError:
    from reference_gcn import dense_gcn_adjacency, reference_kernels, small_graph

from fastgnn.datasets import NodeData, sbm
from fastgnn.node import GCNKernel, as_node_graph, exact_kernels
from fastgnn.node.kernels import dense_bytes


class Data:
    """A PyG-like object: the attributes the kernels read, nothing else."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _data(directed=False, weighted=False, seed=0, n=9, f=4):
    x, ei, w = small_graph(n, f, seed=seed, directed=directed, weighted=weighted)
    return Data(x=x, edge_index=ei, edge_weight=w)


CASES = [  # (directed, weighted, num_layers, sigma_w, sigma_b, activation)
    (False, False, 1, 1.0, 0.0, "relu"),
    (False, False, 3, 1.3, 0.2, "relu"),
    (True, False, 2, 0.9, 0.5, "relu"),
    (True, True, 4, 1.0, 0.1, "relu"),
    (False, True, 3, 1.1, 0.3, "identity"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "dir{}-w{}-L{}-sw{}-sb{}-{}".format(*c))
def test_recursion_equals_numpy_reference(case):
    directed, weighted, num_layers, sw, sb, act = case
    d = _data(directed, weighted, seed=num_layers)
    a_hat = dense_gcn_adjacency(d.edge_index, 9, d.edge_weight)
    ref = reference_kernels(a_hat, d.x.numpy(), num_layers, sw, sb, act)
    got = list(exact_kernels(as_node_graph(d), num_layers=num_layers, sigma_w=sw, sigma_b=sb, activation=act,
                             ntk=True))
    assert [g[0] for g in got] == list(range(1, num_layers + 1))
    for (k_ref, t_ref), (_, k, t) in zip(ref, got):
        np.testing.assert_allclose(k, k_ref, rtol=1e-11, atol=1e-13 * np.abs(k_ref).max())
        np.testing.assert_allclose(t, t_ref, rtol=1e-11, atol=1e-13 * np.abs(t_ref).max())
        np.testing.assert_array_equal(k, k.T)
        assert np.linalg.eigvalsh(k).min() > -1e-10 * np.abs(k).max()
    # the plain formula (no snapping of cos θ near ±1) differs by the rounding arccos amplifies there
    plain = reference_kernels(a_hat, d.x.numpy(), num_layers, sw, sb, act, snap_ulps=0)[-1][1]
    np.testing.assert_allclose(got[-1][2], plain, rtol=1e-7)


def test_adjacency_is_gcnconvs():
    """The kernels' Â is GCNConv's (directed, weighted, with existing self-loops)."""
    d = _data(directed=True, weighted=True, seed=3)
    ei = torch.cat([d.edge_index, torch.tensor([[2], [2]])], 1)  # a given self-loop keeps its weight
    w = torch.cat([d.edge_weight, torch.tensor([3.0], dtype=torch.float64)])
    g = as_node_graph(Data(x=d.x, edge_index=ei, edge_weight=w))
    np.testing.assert_allclose(g.adj.to_dense().numpy(), dense_gcn_adjacency(ei, 9, w), rtol=1e-14)
    from fastgnn.nn import GCNConv

    conv = GCNConv(9, 9, bias=False).double()
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(9, dtype=torch.float64))
        out = conv(torch.eye(9, dtype=torch.float64), ei, w)  # Â I I = Â
    np.testing.assert_allclose(out.numpy(), g.adj.to_dense().numpy(), rtol=1e-14)


def test_identity_activation_is_sgc_linear_kernel():
    """Identity and σ_b = 0: K⁽ᴸ⁾ = σ_w^2L Â^L X Xᵀ Â^Lᵀ / F (SGC's linear kernel)."""
    d = _data(seed=5)
    a_hat = dense_gcn_adjacency(d.edge_index, 9)
    ax = np.linalg.matrix_power(a_hat, 3) @ d.x.numpy()
    want = 1.2**6 * ax @ ax.T / 4
    k = GCNKernel(num_layers=3, sigma_w=1.2, activation="identity").fit_transform(d)
    np.testing.assert_allclose(k, want, rtol=1e-12)


def test_estimator_surface_and_dtypes():
    data = sbm(60, num_classes=3, num_features=5, avg_degree=4, seed=1)
    est = GCNKernel("ntk", num_layers=3, sigma_b=0.1)
    k64 = est.fit_transform(data)
    assert k64.shape == (60, 60) and k64.dtype == np.float64 and est.n_nodes_ == 60
    assert "kernel='ntk'" in repr(est) and est.get_params()["num_layers"] == 3
    k32 = GCNKernel("ntk", num_layers=3, sigma_b=0.1, dtype="float32").fit_transform(data)
    assert k32.dtype == np.float32
    assert np.abs(k32 - k64).max() < 1e-5 * np.abs(k64).max()
    nngp = GCNKernel("nngp", num_layers=3, sigma_b=0.1).fit_transform(data)
    assert np.all(np.diag(k64) > np.diag(nngp))  # Θ = K + a PSD term


def test_features_that_require_grad_are_read():
    d = _data(seed=4)
    want = GCNKernel(num_layers=2).fit_transform(d)
    d.x = d.x.clone().requires_grad_(True)  # e.g. the output of an encoder
    np.testing.assert_array_equal(GCNKernel(num_layers=2).fit_transform(d), want)


def test_pyg_data_reads_the_same():
    pyg = pytest.importorskip("torch_geometric.data")
    d = _data(directed=True, weighted=True, seed=2)
    mine = GCNKernel(num_layers=2).fit_transform(d)
    theirs = GCNKernel(num_layers=2).fit_transform(pyg.Data(x=d.x, edge_index=d.edge_index, edge_weight=d.edge_weight))
    np.testing.assert_array_equal(mine, theirs)


def test_memory_budget_names_nystroem():
    data = sbm(300, num_classes=3, num_features=5, seed=0)
    assert dense_bytes(300, "ntk", torch.float64) == 7 * 300**2 * 8
    with pytest.raises(MemoryError, match=r"method='nystroem'.*num_landmarks") as e:
        GCNKernel("ntk", max_memory=1e6).fit(data)
    assert "5.04 MB" not in str(e.value) and "0.01 GB" in str(e.value)
    GCNKernel("ntk", max_memory="8MB").fit(data)  # 5.04 MB fits


@pytest.mark.parametrize("bad, match", [
    (dict(x=torch.zeros(9, 4), edge_index=torch.tensor([[0, 9], [1, 2]])), r"edge_index holds node 9, outside 0..8"),
    (dict(x=torch.zeros(9), edge_index=torch.zeros(2, 0, dtype=torch.long)), r"x must be \[num_nodes, num_features\]"),
    (dict(x=torch.full((3, 2), float("nan")), edge_index=torch.zeros(2, 0, dtype=torch.long)),
     r"non-finite value at node 0"),
    (dict(x=torch.zeros(3, 2), edge_index=torch.tensor([[0], [1]]), edge_weight=torch.tensor([-1.0])),
     r"edge_weight\[0\] = -1.0 is negative"),
    (dict(x=torch.zeros(3, 2), edge_index=torch.tensor([[0], [1]]), edge_weight=torch.tensor([1.0, 2.0])),
     r"edge_weight must have shape \[E\] = \[1\]"),
    (dict(x=torch.zeros(3, 2), edge_index=torch.tensor([[0], [1]]), edge_attr=torch.tensor([1.0])),
     r"one-dimensional edge_attr"),
    (dict(x=torch.zeros(3, 2), edge_index=torch.tensor([[0, 1]])), r"edge_index must have shape \[2, E\]"),
    (dict(x=torch.zeros(3, 2), edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=4), r"x has 3 rows but"),
    (dict(edge_index=torch.zeros(2, 0, dtype=torch.long)), r"has no 'x'"),
])
def test_bad_input_is_named(bad, match):
    with pytest.raises(ValueError, match=match):
        GCNKernel().fit(Data(**bad))


def test_bad_parameters_are_named():
    data = sbm(20, num_classes=2, num_features=3, seed=0)
    for kw, name in ((dict(num_layers=0), "num_layers"), (dict(kernel="gp"), "kernel"), (dict(sigma_w=0.0), "sigma_w"),
                     (dict(activation="tanh"), "activation"), (dict(dtype="float16"), "dtype")):
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            GCNKernel(**kw).fit(data)


def test_nodedata_with_wrong_feature_rows():
    with pytest.raises(ValueError, match="x has 3 rows but y has 4 labels"):
        NodeData(torch.zeros(3, 2), torch.zeros(2, 0, dtype=torch.long), torch.zeros(4), torch.zeros(4, dtype=bool),
                 torch.zeros(4, dtype=bool), torch.zeros(4, dtype=bool), 2)
    d = Data(x=torch.zeros(3, 2), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="y has 4 labels for 3 nodes"):
        GCNKernel().fit(d)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("hub", [False, True], ids=["pairs", "hub"])
def test_train_columns_equal_the_full_kernel(num_layers, hub):
    """The last layer's training columns and diagonal (what GCNGP reads) are the full kernel's."""
    from fastgnn.node.kernels import train_columns

    d = _data(directed=True, weighted=True, seed=num_layers, n=30, f=5)
    if hub:  # node 0 linked to every node: the diagonal by one N × N product instead of the pairs
        ring = torch.arange(1, 30)
        d.edge_index = torch.cat([d.edge_index, torch.stack([ring, torch.zeros_like(ring)]),
                                  torch.stack([torch.zeros_like(ring), ring])], 1)
        d.edge_weight = torch.cat([d.edge_weight, torch.ones(58, dtype=torch.float64)])
    g = as_node_graph(d)
    train = torch.tensor([0, 3, 4, 17, 29])
    *_, (_, k, t) = exact_kernels(g, num_layers=num_layers, sigma_w=1.1, sigma_b=0.3, ntk=True)
    kc, tc = train_columns(g, train, num_layers=num_layers, sigma_w=1.1, sigma_b=0.3, ntk=True)
    for full, cols in ((k, kc), (t, tc)):
        np.testing.assert_allclose(cols.columns.numpy(), full[:, train.numpy()], rtol=1e-12)
        np.testing.assert_allclose(cols.diag().numpy(), np.diag(full), rtol=1e-12)
        torch.testing.assert_close(cols.cross(torch.tensor([2, 5]), train), torch.from_numpy(full[[2, 5]][:, train]))
    with pytest.raises(ValueError, match="only the training nodes' columns"):
        kc.cross(torch.tensor([2]), torch.tensor([1]))
    sparse_x = Data(x=torch.zeros(30, 40).index_fill_(1, torch.tensor([3]), 1.0), edge_index=d.edge_index)
    *_, (_, k1, _) = exact_kernels(as_node_graph(sparse_x), num_layers=num_layers)  # a sparse X: SciPy's path
    k1c, _ = train_columns(as_node_graph(sparse_x), train, num_layers=num_layers)
    np.testing.assert_allclose(k1c.columns.numpy(), k1[:, train.numpy()], rtol=1e-12, atol=1e-15)
