"""A finite-width GNN whose empirical NTK tends to the GNTK, and a dense reference GNTK.

Used only by ``tests/gntk/test_finite_width.py`` as an independent check of
``fastgnn.GNTK``.  Nothing here imports fastgnn's kernel code.

* :func:`reference_gntk` is a plain transcription of Du et al.'s public GNTK
  code (``gntk.py`` of "Graph Neural Tangent Kernel", NeurIPS 2019), per pair
  of graphs, on the ``N_G * N_H`` vectorised covariance with an explicit
  ``np.kron(A_G, A_H)`` -- without their final factor 2.
* :func:`empirical_ntk` is the averaged empirical NTK
  ``<df(G)/dtheta, df(H)/dtheta>`` of the finite network below, computed with
  ``torch.autograd`` in float64.

The network (width ``m``, every weight i.i.d. N(0, 1), NTK parameterisation)::

    g = C A (X W0^T)                                 # W0: m x d, no 1/sqrt(d)
    for block in 1..L-1:
        for r in 1..R:  g = sqrt(2/m) relu(g) W_{block,r}^T      # W: m x m
        out_block = sum_u g[u, k_block]
        if block < L-1:  g = C A g
    f = sum_u <w_in, x_u> + sum_blocks out_block    (jk; w_in ~ N(0, I_d))
    f = out_{L-1}                                   (no jk, k = 0)

Why its NTK tends to the formula, layer by layer (m -> infinity, standard NTK
arguments of Jacot et al. / Arora et al., applied per node; the aggregation
``C A`` is a fixed linear map acting on the node axis, so it commutes with the
Gaussian-process limit and just maps a node-pair covariance ``S`` to
``C_G A_G S A_H^T C_H``):

* ``g = C A X W0^T``: each coordinate is a centred Gaussian process over nodes
  with covariance ``C_G A_G X_G X_H^T A_H^T C_H`` -- the aggregated input
  covariance ``Sigma``.  The gradient w.r.t. row ``k`` of ``W0`` of coordinate
  ``k`` is ``(C A X)[u]``, whose inner products give the same matrix, so the
  tangent kernel of the first pre-activation is ``Theta = Sigma``.
* ``g' = sqrt(2/m) relu(g) W^T`` (``c_sigma = 2``): the new covariance is
  ``2/m sum_j relu(g_j(u)) relu(g_j(v)) -> 2 E[relu(a) relu(b)]`` =
  ``(sin t + (pi - t) cos t)/pi * d_G(u) d_H(v)`` with ``cos t = Sigma/(d_G d_H)``
  and ``d`` the self standard deviations (arc-cosine kernel of degree 1) --
  this is also W's own gradient contribution.  Back-propagating through
  ``relu`` multiplies the earlier tangent kernel by
  ``2 E[relu'(a) relu'(b)] = (pi - t)/pi = Sigma_dot``.  Hence
  ``Theta' = Theta * Sigma_dot + Sigma'``, exactly the formula's update.
* ``g = C A g``: both Sigma and Theta are mapped by ``S -> C_G A_G S A_H^T C_H``
  (a linear map on node axes, parameter-free).
* ``out_block = sum_u g[u, k]``: its NTK is ``sum_{u,v} Theta[u, v]`` = the
  block's readout.  With jk the outputs of different blocks use different
  coordinates ``k_block``; the NTK of two distinct output coordinates
  vanishes as ``m -> infinity`` (they are asymptotically independent
  coordinates of wide layers), so ``K_jk = sum_blocks readout_block`` plus the
  ``w_in`` term, whose gradient is ``sum_u x_u`` and gives
  ``sum(X_G X_H^T) = readout_0``.

So the network and the formula agree in the limit; the finite-width error is
O(1/sqrt(m)) per seed (fluctuation of the empirical NTK), averaged down by the
seeds, plus an O(1/m) bias.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["empirical_ntk", "reference_gntk", "random_graph"]


def _scale_vector(a: np.ndarray, scale: str) -> np.ndarray:
    if scale == "uniform":
        return np.ones(a.shape[0])
    if scale == "degree":
        return 1.0 / a.sum(1)  # deg + 1, A including I
    raise ValueError(f"scale must be 'uniform' or 'degree', got {scale!r}")


def du_et_al_adjacency(graph, loop_weight: int = 3) -> np.ndarray:
    """Ã of a ``fastgnn.Graph`` as Du et al.'s ``gram.py`` builds it: a networkx ``Graph`` of the edge
    list (each undirected edge once, duplicates merged), ``A = coo(edges)``, then ``A + Aᵀ + I``; a
    listed self-loop therefore gets 3 on the diagonal.  ``loop_weight`` 2 or 1 puts that many there
    instead (fastgnn 0.1's count, and the set reading N(u) ∪ {u})."""
    import networkx as nx
    import scipy.sparse

    n = int(graph.num_nodes)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(graph.edge_index.t().tolist())
    edges = g.edges
    row, col = [e[0] for e in edges], [e[1] for e in edges]
    a = scipy.sparse.coo_matrix(([1] * len(edges), (row, col)), shape=(n, n), dtype=np.float64)
    a = (a + a.T + scipy.sparse.identity(n)).toarray()
    loops = [u for u, v in edges if u == v]
    a[loops, loops] = loop_weight
    return a


def _dense(graph, loop_weight: int = 3):
    """(Ã, X) of a ``fastgnn.Graph`` as float64 numpy arrays (Ã of :func:`du_et_al_adjacency`)."""
    return du_et_al_adjacency(graph, loop_weight), graph.x.to(torch.float64).numpy()


# ---------------------------------------------------------------------------
# Dense reference GNTK (Du et al.'s public code, without the factor 2)
# ---------------------------------------------------------------------------


def _relu_maps(sigma, diag1, diag2, snap_ulps=0):
    """Arc-cosine maps with c_sigma = 2: (Sigma', Sigma_dot), as ``__next`` in gntk.py.

    ``snap_ulps > 0`` sets rho within that many ulps of +-1 to +-1 (off in the
    public code); see :func:`reference_gntk`.
    """
    pi = np.arccos(np.asarray(-1.0, dtype=sigma.dtype))  # pi in the working precision
    s = sigma / diag1[:, None] / diag2[None, :]
    s = np.clip(s, -1.0, 1.0)
    if snap_ulps:
        tol = snap_ulps * np.finfo(s.dtype).eps
        s = np.where(s > 1 - tol, 1.0, np.where(s < -1 + tol, -1.0, s)).astype(s.dtype)
    theta = np.arccos(s)
    dot = (pi - theta) / pi
    new = (s * (pi - theta) + np.sqrt(1.0 - s * s)) / pi
    return new * diag1[:, None] * diag2[None, :], dot


def _adj(sigma, adj_block, scale_mat):
    """``C_G A_G S A_H^T C_H`` on the row-major vectorisation, as ``__adj`` in gntk.py."""
    n1, n2 = sigma.shape
    return (adj_block @ sigma.reshape(-1)).reshape(n1, n2) * scale_mat


def _diag_list(a, x, c, num_layers, num_mlp_layers, snap_ulps):
    """Self standard deviations at every ReLU, as ``__diag`` in gntk.py."""
    adj_block = np.kron(a, a)
    scale_mat = np.outer(c, c)
    sigma = x @ x.T
    sigma = _adj(sigma, adj_block, scale_mat)
    out = []
    for _layer in range(1, num_layers):
        for _r in range(num_mlp_layers):
            d = np.sqrt(np.diag(sigma))
            out.append(d)
            sigma, _ = _relu_maps(sigma, d, d, snap_ulps)
        sigma = _adj(sigma, adj_block, scale_mat)
    return out


def _gntk_pair(g1, g2, num_layers, num_mlp_layers, jk, snap_ulps):
    (a1, x1, c1, diags1), (a2, x2, c2, diags2) = g1, g2
    adj_block = np.kron(a1, a2)
    scale_mat = np.outer(c1, c2)
    sigma = x1 @ x2.T
    jump = np.sum(sigma)
    sigma = _adj(sigma, adj_block, scale_mat)
    ntk = sigma.copy()
    for layer in range(1, num_layers):
        for r in range(num_mlp_layers):
            i = (layer - 1) * num_mlp_layers + r
            sigma, dot = _relu_maps(sigma, diags1[i], diags2[i], snap_ulps)
            ntk = ntk * dot + sigma
        jump += np.sum(ntk)
        if layer != num_layers - 1:
            sigma = _adj(sigma, adj_block, scale_mat)
            ntk = _adj(ntk, adj_block, scale_mat)
    return jump if jk else np.sum(ntk)


def reference_gntk(
    graphs,
    num_layers=2,
    num_mlp_layers=1,
    scale="uniform",
    jk=True,
    dtype=np.float64,
    snap_ulps=0,
    loop_weight=3,
):
    """Dense (n, n) GNTK of ``graphs`` (list of ``fastgnn.Graph``), O(N^4) per pair.

    With the defaults this is Du et al.'s code, rounding included.  Note that
    ``arccos`` has infinite slope at 1: a node against itself has rho = 1 exactly,
    but a one-ulp rounding of rho moves theta by ~sqrt(2 eps) = 2e-8 in float64,
    so implementations that round differently agree only to ~1e-9 there.
    ``dtype=np.longdouble`` (64-bit mantissa on x86) shrinks that to ~5e-10 in
    theta, and ``snap_ulps`` removes it by taking rho within so many ulps of +-1
    as exactly +-1.  The result is returned as float64.
    """
    if num_layers < 2:
        raise ValueError("num_layers counts the input layer; need >= 2")
    prepared = []
    for g in graphs:
        a, x = (m.astype(dtype) for m in _dense(g, loop_weight))
        c = _scale_vector(a, scale)
        prepared.append((a, x, c, _diag_list(a, x, c, num_layers, num_mlp_layers, snap_ulps)))
    n = len(graphs)
    k = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            v = _gntk_pair(prepared[i], prepared[j], num_layers, num_mlp_layers, jk, snap_ulps)
            k[i, j] = k[j, i] = float(v)
    return k


# ---------------------------------------------------------------------------
# Finite-width network and its empirical NTK
# ---------------------------------------------------------------------------


def _init_params(d, width, num_layers, num_mlp_layers, jk, generator):
    def normal(*shape):
        # drawn in float32 (twice as fast), used in float64
        w = torch.randn(*shape, generator=generator, dtype=torch.float32).to(torch.float64)
        return w.requires_grad_(True)

    params = [normal(width, d)]  # W0
    params += [normal(width, width) for _ in range((num_layers - 1) * num_mlp_layers)]
    if jk:
        params.append(normal(d))  # w_in
    return params


def finite_gnn(params, prop, x, num_layers, num_mlp_layers, jk):
    """Scalar output f(G) of the finite network; ``prop`` = C A (dense N x N)."""
    width = params[0].shape[0]
    c_sigma = math.sqrt(2.0 / width)
    g = prop @ (x @ params[0].T)
    out = x.sum(0) @ params[-1] if jk else None
    p = 1
    for block in range(1, num_layers):
        for _r in range(num_mlp_layers):
            g = c_sigma * torch.relu(g) @ params[p].T
            p += 1
        if jk:
            # a distinct output coordinate per block: cross-block NTK terms vanish as m grows
            out = out + g[:, block - 1].sum()
        if block < num_layers - 1:
            g = prop @ g
    if not jk:
        out = g[:, 0].sum()
    return out


def empirical_ntk(
    graphs, num_layers=2, num_mlp_layers=1, scale="uniform", jk=True, width=256, seeds=(0,)
):
    """Empirical NTK (n, n) of the width-``width`` network, averaged over ``seeds``."""
    if num_layers < 2:
        raise ValueError("num_layers counts the input layer; need >= 2")
    if jk and width < num_layers - 1:
        raise ValueError("jk needs width >= num_layers - 1 (one output coordinate per block)")
    data = []
    for g in graphs:
        a, x = _dense(g)
        c = _scale_vector(a, scale)
        data.append((torch.from_numpy(c[:, None] * a), torch.from_numpy(x)))
    d = data[0][1].shape[1]
    n = len(graphs)
    total = torch.zeros(n, n, dtype=torch.float64)
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        params = _init_params(d, width, num_layers, num_mlp_layers, jk, gen)
        # one backward per graph (a batched backward with is_grads_batched is slower here)
        grads = [
            torch.autograd.grad(finite_gnn(params, p, x, num_layers, num_mlp_layers, jk), params)
            for p, x in data
        ]
        for k in range(len(params)):
            jac = torch.stack([gr[k].reshape(-1) for gr in grads])  # (n, numel): df(G_i)/dparam
            total += jac @ jac.T
    return (total / len(seeds)).numpy()


def random_graph(num_nodes, num_features=3, p=0.4, isolated=False, seed=0):
    """A random ``fastgnn.Graph`` (Erdos-Renyi, features N(0,1)); node N-1 isolated if asked."""
    from fastgnn import Graph

    rng = np.random.default_rng(seed)
    m = num_nodes - 1 if isolated else num_nodes
    edges = [(u, v) for u in range(m) for v in range(u + 1, m) if rng.random() < p]
    # keep the non-isolated part connected-ish: chain any node left without edges
    touched = {u for e in edges for u in e}
    for u in range(m):
        if u not in touched and m > 1:
            edges.append((u, (u + 1) % m))
    ei = np.array([[u for u, v in edges] + [v for u, v in edges],
                   [v for u, v in edges] + [u for u, v in edges]], dtype=np.int64).reshape(2, -1)
    x = rng.standard_normal((num_nodes, num_features))
    return Graph(edge_index=torch.from_numpy(ei), num_nodes=num_nodes, x=torch.from_numpy(x))
