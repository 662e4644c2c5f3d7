"""The infinitely wide GCN over the nodes of one graph: its NNGP kernel and NTK, exactly (N × N).

A GCN layer ``H' = Â φ(H) W + b`` (:class:`~fastgnn.nn.GCNConv`; Â = D^-1/2 (A + I) D^-1/2) with
weights ``W ~ N(0, σ_w² / fan_in)`` and biases ``b ~ N(0, σ_b²)``, made infinitely wide, makes each
output channel a Gaussian process over the nodes (Niu, Anitescu and Chen, "Graph Neural
Network-Inspired Kernels for Gaussian Processes in Semi-Supervised Learning", ICLR 2023) whose
covariance follows, for L layers and F input features,

    K⁽¹⁾   = σ_w² Â (X Xᵀ / F) Âᵀ + σ_b²
    K⁽ˡ⁺¹⁾ = σ_w² Â E[φ(f) φ(f)ᵀ] Âᵀ + σ_b²,        f ~ GP(0, K⁽ˡ⁾)
    Θ⁽¹⁾   = K⁽¹⁾
    Θ⁽ˡ⁺¹⁾ = K⁽ˡ⁺¹⁾ + σ_w² Â (Θ⁽ˡ⁾ ⊙ E[φ'(f) φ'(f)ᵀ]) Âᵀ

(the NTK Θ in the NTK parameterisation, Jacot et al. 2018; the kernels of the L-layer network are
K⁽ᴸ⁾ and Θ⁽ᴸ⁾).  For ReLU the two expectations are the arc-cosine maps of
:func:`fastgnn.gntk.relu.relu_maps` halved (that function returns them with c_σ = 2, the GNTK's
normalisation); for the identity they are K⁽ˡ⁾ and 1 (SGC's linear kernel).  Â M Âᵀ is the
GNTK paper's matrix-decoupled aggregation for one graph: two sparse-dense products, O(E N), instead
of the O(N⁴) Kronecker product.

GNNGP's kernel with ``(σ_w, σ_b)`` on features X is this one on √F·X: GNNGP starts from X Xᵀ, this
module from the fan-in scaled X Xᵀ / F that a finite ``GCNConv`` with ``W ~ N(0, σ_w²/F)`` gives.
With σ_b = 0 the two differ by a constant factor, which the relative regulariser of
:mod:`fastgnn.node.predict` absorbs.

Cost (N nodes, E edges of Â, F features): the first layer O(E F + N² F) (a sparse X: O(nnz(ÂX) ·
mean column count) by SciPy's sparse product), each further layer O(E N + N²) (two sparse-dense
products and the elementwise maps); memory about 5 N² values for the NNGP and 7 N² for the NTK at
the peak of a layer (:data:`DENSE_COPIES`).  Dense N × N only where that fits the memory budget
(:mod:`fastgnn.budget`); beyond it :class:`~fastgnn.node.GCNKernel` raises and names ``method="nystroem"``
(:mod:`fastgnn.node.nystroem`: O(N m) memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.gntk.relu import relu_maps
from fastgnn.node.inputs import NodeGraph, adjacency_scipy

__all__ = ["exact_kernels", "train_columns", "Columns", "activation_maps", "first_layer_features", "dense_bytes",
           "DENSE_COPIES", "SPARSE_FEATURES_BELOW"]

#: N × N arrays alive at the peak of one layer: K, E[φφ], E[φ'φ'] and the two products' outputs (NNGP),
#: plus Θ and Θ ⊙ E[φ'φ'] (NTK)
DENSE_COPIES = {"nngp": 5, "ntk": 7}
#: X is multiplied as a SciPy sparse matrix when fewer than this fraction of its entries are nonzero
#: (Cora's bag of words: 1.3 %)
SPARSE_FEATURES_BELOW = 0.1


def exact_kernels(graph: NodeGraph, *, num_layers: int, sigma_w: float = 1.0, sigma_b: float = 0.0,
                  activation: str = "relu", ntk: bool = False) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield ``(depth, K, Θ)`` for depth 1..``num_layers`` (Θ is None unless ``ntk``): the recursion of
    the module docstring in ``graph.x``'s dtype, each ``[N, N]`` a new symmetric NumPy array (one
    pass of the deepest network gives every shallower one, as a depth grid wants)."""
    adj = adjacency_scipy(graph.adj)
    sw2, sb2 = float(sigma_w) ** 2, float(sigma_b) ** 2
    z = first_layer_features(graph, adj)  # Â X, [N, F] (SciPy sparse when X is)
    k = _gram(z) * (sw2 / graph.num_features)
    k += sb2
    theta = k.copy() if ntk else None
    yield 1, k, theta
    for depth in range(2, int(num_layers) + 1):
        e, e_dot = _numpy(*activation_maps(torch.from_numpy(k), activation, derivative=ntk))
        k = _sandwich(adj, e)
        del e
        k *= sw2
        k += sb2
        if ntk:  # the arrays yielded before are the caller's: never modified here
            e_dot *= theta
            theta = _sandwich(adj, e_dot)
            del e_dot
            theta *= sw2
            theta += k
        yield depth, k, theta


@dataclass(eq=False)
class Columns:
    """The columns of the training nodes of an N × N kernel and its diagonal: all that transductive
    prediction reads (:mod:`fastgnn.node.predict`).

    Attributes:
        columns: ``[N, n_t]`` K[:, train]; ``diagonal``: ``[N]`` diag K; ``train``: ``[n_t]`` node indices.
    """

    columns: torch.Tensor
    diagonal: torch.Tensor
    train: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.columns.shape[0])

    def diag(self) -> torch.Tensor:
        return self.diagonal

    def cross(self, rows, cols) -> torch.Tensor:
        """K[rows][:, cols] for ``cols`` the training nodes (in their order): ``ValueError`` otherwise."""
        if not torch.equal(torch.as_tensor(cols).reshape(-1), self.train):
            raise ValueError("Columns holds only the training nodes' columns of the kernel")
        return self.columns[rows]


def train_columns(graph: NodeGraph, train: torch.Tensor, *, num_layers: int, sigma_w: float = 1.0,
                  sigma_b: float = 0.0, activation: str = "relu",
                  ntk: bool = False) -> tuple[Columns, Columns | None]:
    """``(K, Θ)`` of depth ``num_layers`` as :class:`Columns` of the ``train`` nodes: the recursion of
    :func:`exact_kernels` up to the layer below, then only the last layer's columns
    ``σ_w² Â (M Â[t, :]ᵀ) + σ_b²`` (O(N nnz(Â[t, :]) + nnz(Â) n_t)) and diagonal
    ``σ_w² Σ_jk Â_ij Â_ik M_jk`` (O(Σ_i deg_i²)), instead of the last layer's two N × N products,
    O(nnz(Â) N).  The same numbers as :func:`exact_kernels` (``tests/node/test_kernels.py``)."""
    adj = adjacency_scipy(graph.adj)
    train = torch.as_tensor(train, dtype=torch.long).reshape(-1)
    t = train.numpy()
    sw2, sb2 = float(sigma_w) ** 2, float(sigma_b) ** 2
    if num_layers == 1:
        z = first_layer_features(graph, adj)
        scale = sw2 / graph.num_features
        cols = _dense(z @ z[t].T) * scale + sb2
        diag = np.asarray(z.multiply(z).sum(1) if not isinstance(z, np.ndarray) else (z * z).sum(1)).reshape(-1)
        k = Columns(torch.from_numpy(cols), torch.from_numpy(diag * scale + sb2), train)
        return k, (k if ntk else None)
    *_, (_, k_prev, theta_prev) = exact_kernels(graph, num_layers=num_layers - 1, sigma_w=sigma_w, sigma_b=sigma_b,
                                                activation=activation, ntk=ntk)
    e, e_dot = _numpy(*activation_maps(torch.from_numpy(k_prev), activation, derivative=ntk))
    del k_prev
    k_cols, k_diag = _last_layer(adj, e, t)
    k = Columns(torch.from_numpy(k_cols * sw2 + sb2), torch.from_numpy(k_diag * sw2 + sb2), train)
    if not ntk:
        return k, None
    e_dot *= theta_prev
    t_cols, t_diag = _last_layer(adj, e_dot, t)
    theta = Columns(k.columns + torch.from_numpy(t_cols * sw2), k.diagonal + torch.from_numpy(t_diag * sw2), train)
    return k, theta


def activation_maps(k: torch.Tensor, activation: str, derivative: bool = True,
                    diag_left: torch.Tensor | None = None,
                    diag_right: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(E[φ(u)φ(v)], E[φ'(u)φ'(v)])`` for the centred Gaussian pair of covariance ``k[u, v]`` and
    variances ``diag_left[u]``, ``diag_right[v]`` (default: ``k``'s diagonal; give both for a
    rectangle).  ReLU: the arc-cosine maps of :func:`fastgnn.gntk.relu.relu_maps` halved; identity:
    ``k`` itself and ones.  The second is None unless ``derivative``.  New tensors, ``k`` untouched;
    O(size of k)."""
    if diag_left is None:
        diag_left = diag_right = torch.diagonal(k)
    if activation == "identity":
        return k.clone(), (torch.ones_like(k) if derivative else None)
    if activation != "relu":
        raise ValueError(f"activation must be 'relu' or 'identity', got {activation!r}")
    sd_left = diag_left.clamp(min=0).sqrt()
    sd_right = sd_left if diag_right is diag_left else diag_right.clamp(min=0).sqrt()
    e, e_dot = relu_maps(k.contiguous(), sd_left.contiguous(), sd_right.contiguous())
    e.mul_(0.5)  # relu_maps returns 2 E[φφ] and 2 E[φ'φ'] (c_σ = 2)
    return e, (e_dot.mul_(0.5) if derivative else None)


def first_layer_features(graph: NodeGraph, adj=None):
    """Â X: a SciPy CSR array when X is mostly zeros (:data:`SPARSE_FEATURES_BELOW`), else a dense
    ``[N, F]`` NumPy array.  O(nnz(Â) F) (dense) or O(nnz(Â) · nonzeros per row of X) (sparse)."""
    import scipy.sparse as sp

    adj = adjacency_scipy(graph.adj) if adj is None else adj
    x = graph.x.numpy()
    if np.count_nonzero(x) < SPARSE_FEATURES_BELOW * x.size:
        return sp.csr_array(adj @ sp.csr_array(x))
    return np.asarray(adj @ x)


def dense_bytes(num_nodes: int, kernel: str, dtype: torch.dtype) -> int:
    """Bytes of the dense recursion's peak: :data:`DENSE_COPIES` N × N arrays of ``dtype``."""
    return DENSE_COPIES[kernel] * int(num_nodes) ** 2 * torch.finfo(dtype).bits // 8


# --- helpers ---------------------------------------------------------------------------------


def _numpy(*tensors):
    return tuple(None if t is None else t.numpy() for t in tensors)


def _dense(a) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a)


def _last_layer(adj, m: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Â M Âᵀ)[:, cols]`` and ``diag(Â M Âᵀ)`` for a symmetric M: ``Â (Â[cols] M)ᵀ`` and, row by row,
    ``Σ_jk Â_ij Â_ik M_jk`` over the pairs of i's nonzeros (one N × N product when those pairs outnumber
    it)."""
    columns = adj @ np.ascontiguousarray((adj[cols] @ m).T)
    deg = np.diff(adj.indptr)
    pairs = int(np.square(deg).sum())
    if pairs > adj.nnz * m.shape[0] // 4:  # a hub: the sampled product of Â M with Â is cheaper
        am = adj @ m
        rows = np.repeat(np.arange(m.shape[0]), deg)
        diag = np.bincount(rows, weights=adj.data * am[rows, adj.indices], minlength=m.shape[0])
        return columns, diag
    row = np.repeat(np.arange(m.shape[0]), deg * deg)
    start = np.repeat(adj.indptr[:-1], deg * deg)
    width = np.repeat(deg, deg * deg)
    offset = np.arange(pairs) - np.repeat(np.cumsum(deg * deg) - deg * deg, deg * deg)
    a, b = start + offset // np.maximum(width, 1), start + offset % np.maximum(width, 1)
    values = adj.data[a] * adj.data[b] * m[adj.indices[a], adj.indices[b]]
    return columns, np.bincount(row, weights=values, minlength=m.shape[0])


def _gram(z) -> np.ndarray:
    """Z Zᵀ as a dense array: Z dense by BLAS, a SciPy sparse Z times the dense Zᵀ (faster than the
    sparse-sparse product, whose output is dense anyway: Cora's 0.27 s against 0.41 s)."""
    if isinstance(z, np.ndarray):
        return z @ z.T
    return np.asarray(z @ np.ascontiguousarray(z.T.toarray()))


def _sandwich(adj, m: np.ndarray) -> np.ndarray:
    """Â M Âᵀ for a symmetric M (Â a SciPy CSR array): Â (Â M)ᵀ, symmetrised; O(nnz(Â) N + N²)."""
    t = adj @ m
    out = adj @ np.ascontiguousarray(t.T)
    del t
    np.add(out, out.T, out=out)  # NumPy buffers the overlapping transpose
    out *= 0.5
    return out
