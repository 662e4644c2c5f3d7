"""Independent computations of the GCN's node kernels, for ``tests/node``: nothing here imports
``fastgnn.node`` or ``fastgnn.gntk``.

* :func:`dense_gcn_adjacency` — Â = D^-1/2 (A + I) D^-1/2 in NumPy from an edge list (weighted,
  directed: A[i, j] = weight of edge j → i, D the row sums of A + I), existing self-loops replaced
  by one of weight 1 unless a weight is given for them (PyG's ``add_remaining_self_loops``).
* :func:`reference_kernels` — the recursion of the issue written out in float64 NumPy, with the
  arc-cosine expectations in their textbook form (Cho and Saul 2009):
  E[relu(u) relu(v)] = s_u s_v (sin θ + (π − θ) cos θ) / (2π), E[relu'(u) relu'(v)] = (π − θ) / (2π).
* :func:`random_gcn_outputs` — the outputs of finite random GCNs made of ``fastgnn.nn.GCNConv``
  (weights N(0, σ_w²/fan_in), biases N(0, σ_b²)): their covariance is the NNGP kernel.
* :func:`empirical_ntk` — ``<∂f_i/∂θ, ∂f_j/∂θ>`` of a finite GCN in the NTK parameterisation
  (``GCNConv`` weights N(0, 1), inputs scaled by σ_w/√fan_in, a bias σ_b b with b ~ N(0, 1)).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["dense_gcn_adjacency", "reference_kernels", "random_gcn_outputs", "empirical_ntk", "small_graph"]


def dense_gcn_adjacency(edge_index, num_nodes: int, edge_weight=None) -> np.ndarray:
    ei = np.asarray(edge_index)
    w = np.ones(ei.shape[1]) if edge_weight is None else np.asarray(edge_weight, dtype=np.float64)
    a = np.zeros((num_nodes, num_nodes))
    loops = np.ones(num_nodes)
    for (src, dst), weight in zip(ei.T, w):
        if src == dst:
            if edge_weight is not None:
                loops[src] = weight
            continue
        a[dst, src] += weight
    a[np.arange(num_nodes), np.arange(num_nodes)] += loops
    d = a.sum(1)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    return inv[:, None] * a * inv[None, :]


def _relu_expectations(k: np.ndarray, snap_ulps: int = 32):
    """arccos has an infinite slope at 1: a one-ulp rounding of cos θ = 1 (a node against itself) moves
    θ by ~2e-8, so cos θ within ``snap_ulps`` ulps of ±1 is taken as ±1 (what fastgnn's ReLU maps
    document doing); ``snap_ulps=0`` is the plain formula."""
    s = np.sqrt(np.diag(k))
    cos = np.clip(k / np.outer(s, s), -1, 1)
    tol = snap_ulps * np.finfo(np.float64).eps
    cos = np.where(cos > 1 - tol, 1.0, np.where(cos < -1 + tol, -1.0, cos))
    theta = np.arccos(cos)
    e = np.outer(s, s) * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return e, (np.pi - theta) / (2 * np.pi)


def reference_kernels(a_hat: np.ndarray, x: np.ndarray, num_layers: int, sigma_w: float, sigma_b: float,
                      activation: str = "relu", snap_ulps: int = 32):
    """``[(K, Θ)]`` for depth 1..num_layers."""
    k = sigma_w**2 * a_hat @ (x @ x.T / x.shape[1]) @ a_hat.T + sigma_b**2
    theta = k.copy()
    out = [(k, theta)]
    for _ in range(num_layers - 1):
        if activation == "relu":
            e, e_dot = _relu_expectations(k, snap_ulps)
        else:
            e, e_dot = k, np.ones_like(k)
        k_next = sigma_w**2 * a_hat @ e @ a_hat.T + sigma_b**2
        theta = k_next + sigma_w**2 * a_hat @ (theta * e_dot) @ a_hat.T
        k = k_next
        out.append((k, theta))
    return out


def _convs(in_features, width, num_layers, out_channels=1):
    from fastgnn.nn import GCNConv

    dims = [in_features] + [width] * (num_layers - 1) + [out_channels]
    return [GCNConv(dims[i], dims[i + 1]).double() for i in range(num_layers)]


def random_gcn_outputs(x, edge_index, edge_weight, num_layers, width, samples, sigma_w, sigma_b, seed=0,
                       out_channels=8, activation=torch.relu):
    """``[samples * out_channels, N]``: each row one output channel of one random finite GCN."""
    from fastgnn.nn import normalized_adjacency

    torch.manual_seed(seed)
    convs = _convs(x.shape[1], width, num_layers, out_channels)
    adj = normalized_adjacency(edge_index, x.shape[0], dtype=x.dtype, edge_weight=edge_weight)  # GCNConv's own
    rows = []
    with torch.no_grad():
        for _ in range(samples):
            h = x
            for i, conv in enumerate(convs):
                conv.lin.weight.normal_(0.0, sigma_w / math.sqrt(conv.in_channels))
                conv.bias.normal_(0.0, sigma_b) if sigma_b > 0 else conv.bias.zero_()
                h = conv(activation(h) if i else h, adj)
            rows.append(h.T)
    return torch.cat(rows).numpy()


def empirical_ntk(x, edge_index, edge_weight, num_layers, width, sigma_w, sigma_b, seed=0, activation=torch.relu):
    """``[N, N]`` empirical NTK of output channel 0 of one finite GCN (NTK parameterisation)."""
    torch.manual_seed(seed)
    convs = _convs(x.shape[1], width, num_layers)
    params = []
    for conv in convs:
        conv.bias = None  # the bias is σ_b b below, so that its gradient is σ_b
        conv.lin.weight.data.normal_()
        params.append(conv.lin.weight)
    biases = [torch.randn(conv.out_channels, dtype=torch.float64, requires_grad=True) for conv in convs]
    params += biases

    def f():
        h = x
        for i, conv in enumerate(convs):
            inp = activation(h) if i else h
            h = conv(inp * (sigma_w / math.sqrt(conv.in_channels)), edge_index, edge_weight) + sigma_b * biases[i]
        return h[:, 0]

    out = f()
    jac = []
    for i in range(out.shape[0]):
        grads = torch.autograd.grad(out[i], params, retain_graph=True)
        jac.append(torch.cat([g.reshape(-1) for g in grads]))
    j = torch.stack(jac)
    return (j @ j.T).detach().numpy()


def small_graph(num_nodes=9, num_features=4, seed=0, directed=False, weighted=False):
    """(x, edge_index, edge_weight) of a random graph with an isolated node (float64)."""
    rng = np.random.default_rng(seed)
    m = num_nodes - 1  # node m isolated
    pairs = [(u, v) for u in range(m) for v in range(m) if u != v and rng.random() < 0.3]
    if not directed:
        pairs = sorted({(min(u, v), max(u, v)) for u, v in pairs})
        pairs = pairs + [(v, u) for u, v in pairs]
    ei = torch.tensor(pairs, dtype=torch.long).T.contiguous()
    w = torch.from_numpy(rng.uniform(0.2, 2.0, ei.shape[1])) if weighted else None
    x = torch.from_numpy(rng.standard_normal((num_nodes, num_features)))
    return x, ei, w
