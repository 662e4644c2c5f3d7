"""The recursive Nyström approximation of the GCN kernels: m landmark nodes, ``N × m`` factors per layer.

GNNGP's scaling idea (Niu, Anitescu and Chen, ICLR 2023, Section 4.2), applied at every layer of
the recursion of :mod:`fastgnn.node.kernels`.  Each kernel is held as a :class:`LowRank`
``K ≈ Σ_i B_i B_iᵀ + c`` (blocks ``[N, r_i]``, c = σ_b² the biases' constant), never as an N × N
matrix.  With landmark nodes ℓ (|ℓ| = m), one layer is

    C  = E[φ(f) φ(f)ᵀ][:, ℓ]           (N × m: the activation maps on Q Q[ℓ]ᵀ + c, by row blocks)
    W  = C[ℓ] = V D Vᵀ                  (m × m; eigenvalues below rcond · max dropped)
    F  = C V D^-1/2                      (F Fᵀ = C W⁺ Cᵀ, the Nyström approximation of E[φφᵀ])
    Q' = σ_w Â F                         (K' ≈ Q' Q'ᵀ + σ_b²: one sparse product, O(E m))

and the first layer's factor is σ_w Â X / √F itself when F <= m (exact), else the Nyström of
(ÂX)(ÂX)ᵀ on the landmark columns.  For the NTK, Θ ⊙ E[φ'φ'] of two low-rank factors has rank
up to m²: it is re-projected onto the landmark columns the same way (the Nyström of the product:
``C_Θ = (Θ[:, ℓ]) ⊙ E[φ'φ'][:, ℓ]``, ``R' = σ_w Â C_Θ W_Θ^-1/2``), so Θ' ≈ Q'Q'ᵀ + R'R'ᵀ + σ_b²
keeps 2m columns.  With m = N (every node a landmark) both are exact up to the dropped
eigenvalues (``tests/node/test_node_nystroem.py``).

Landmarks (:func:`select_landmarks`): ``"random"`` (uniform), ``"train"`` (the training nodes first,
as GNNGP takes its landmarks among them, then uniform) or ``"pivoted"`` (greedy pivoted Cholesky of
the first ReLU layer's E[φφᵀ] over a random pool of :data:`POOL_PER_LANDMARK` · m nodes: the
nodes the first Nyström step needs most, O(p m² + p² F) for a pool of p).

Cost per layer: O(N m² + E m) time (the cross products and F = C V D^-1/2 are BLAS-3, the
aggregation a sparse product); memory: the factors Q (and R) and F (and F_Θ), ``N × m`` each,
plus blocks of :func:`block_rows` rows: about 2 N m values for the NNGP and 4 N m for the NTK.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.node.inputs import NodeGraph, adjacency_scipy
from fastgnn.node.kernels import activation_maps, first_layer_features

__all__ = ["LowRank", "nystroem_kernels", "select_landmarks", "inverse_sqrt", "small_eigh", "block_rows",
           "POOL_PER_LANDMARK", "BLOCK_VALUES"]

#: the pivoted rule's candidate pool: this many random nodes per landmark (all nodes when fewer)
POOL_PER_LANDMARK = 20
#: values in one row block of the N × m work (2²² = 4M: 16 MB in float32)
BLOCK_VALUES = 2**22


@dataclass(eq=False)
class LowRank:
    """A PSD kernel ``K = Σ_i B_i B_iᵀ + const`` over N nodes, held by its factors ``blocks [N, r_i]``."""

    blocks: list[torch.Tensor]
    const: float

    @property
    def num_nodes(self) -> int:
        return int(self.blocks[0].shape[0])

    @property
    def width(self) -> int:
        """Columns of :meth:`features`: the blocks' plus one for the constant when it is > 0."""
        return sum(int(b.shape[1]) for b in self.blocks) + (1 if self.const > 0 else 0)

    @property
    def dtype(self) -> torch.dtype:
        return self.blocks[0].dtype

    def rows(self, index) -> torch.Tensor:
        """``[len(index), width]``: the rows ``index`` of :meth:`features` (K[a, b] = rows(a) · rows(b))."""
        parts = [b[index] for b in self.blocks]
        if self.const > 0:
            parts.append(torch.full((parts[0].shape[0], 1), math.sqrt(self.const), dtype=self.dtype))
        return torch.cat(parts, dim=1)

    def features(self) -> torch.Tensor:
        """``[N, width]`` with K = features featuresᵀ (a new N × width tensor)."""
        return self.rows(slice(None))

    def diag(self) -> torch.Tensor:
        """``[N]``: K's diagonal, by row blocks (no N × r temporary)."""
        out = torch.full((self.num_nodes,), float(self.const), dtype=self.dtype)
        step = block_rows(max(1, self.width))
        for lo in range(0, self.num_nodes, step):
            for b in self.blocks:
                out[lo: lo + step] += torch.linalg.vector_norm(b[lo: lo + step], dim=1).square()
        return out

    def cross(self, rows, cols) -> torch.Tensor:
        """``K[rows][:, cols]`` (index tensors or slices)."""
        out = sum(b[rows] @ b[cols].T for b in self.blocks)
        return out + self.const

    def matrix(self) -> torch.Tensor:
        """The dense ``[N, N]`` K (N² memory: for checks on small graphs)."""
        return self.cross(slice(None), slice(None))


def nystroem_kernels(graph: NodeGraph, landmarks, *, num_layers: int, sigma_w: float = 1.0, sigma_b: float = 0.0,
                     activation: str = "relu", ntk: bool = False,
                     rows_per_block: int | None = None) -> Iterator[tuple[int, LowRank, LowRank | None]]:
    """Yield ``(depth, K, Θ)`` for depth 1..``num_layers`` as :class:`LowRank` factors (Θ None unless
    ``ntk``), by the recursion of the module docstring on the ``landmarks`` (node indices) in
    ``graph.x``'s dtype.  A factor yielded is not modified afterwards; the recursion drops its own
    references to the previous layer before the next aggregation, so a caller that keeps only the
    last layer holds O(N m) memory (2 N m values for the NNGP, 4 N m for the NTK, at the peak)."""
    lm = torch.as_tensor(landmarks, dtype=torch.long).reshape(-1)
    if lm.numel() == 0:
        raise ValueError("landmarks: need at least one landmark node")
    n, f = graph.num_nodes, graph.num_features
    if int(lm.min()) < 0 or int(lm.max()) >= n or torch.unique(lm).numel() != lm.numel():
        raise ValueError(f"landmarks must be distinct node indices in 0..{n - 1}")
    m, dtype = lm.numel(), graph.x.dtype
    sw, sb2 = float(sigma_w), float(sigma_b) ** 2
    step = rows_per_block or block_rows(m)
    adj_sp = adjacency_scipy(graph.adj)
    q = _first_layer(graph, adj_sp, lm, sw / math.sqrt(f))
    r = None
    yield 1, LowRank([q], sb2), (LowRank([q], sb2) if ntk else None)
    for depth in range(2, int(num_layers) + 1):
        k_ll = q[lm] @ q[lm].T + sb2
        diag = LowRank([q], sb2).diag()
        e_ll, dot_ll = activation_maps(k_ll, activation, derivative=ntk, diag_left=diag[lm], diag_right=diag[lm])
        t_e = inverse_sqrt(e_ll)
        if ntk:
            theta_ll = k_ll if r is None else k_ll + r[lm] @ r[lm].T
            t_t = inverse_sqrt(theta_ll * dot_ll)
        f_e = torch.empty(n, t_e.shape[1], dtype=dtype)
        f_t = torch.empty(n, t_t.shape[1], dtype=dtype) if ntk else None
        q_l, r_l = q[lm].T.contiguous(), (r[lm].T.contiguous() if (ntk and r is not None) else None)
        for lo in range(0, n, step):
            rows = slice(lo, min(n, lo + step))
            k_b = q[rows] @ q_l
            k_b += sb2
            e_b, dot_b = activation_maps(k_b, activation, derivative=ntk, diag_left=diag[rows], diag_right=diag[lm])
            torch.matmul(e_b, t_e, out=f_e[rows])
            del e_b
            if ntk:
                if r_l is not None:
                    k_b.addmm_(r[rows], r_l)  # Θ[rows, ℓ]
                dot_b *= k_b
                torch.matmul(dot_b, t_t, out=f_t[rows])
            del k_b, dot_b
        del q, r, q_l, r_l, diag
        q = _aggregate(adj_sp, f_e, sw)
        del f_e
        r = _aggregate(adj_sp, f_t, sw) if ntk else None
        del f_t
        yield depth, LowRank([q], sb2), (LowRank([q, r], sb2) if ntk else None)


def select_landmarks(graph: NodeGraph, num_landmarks: int, rule="random", *, random_state: int = 0,
                     activation: str = "relu") -> torch.Tensor:
    """``[m]`` sorted landmark node indices, m = min(``num_landmarks``, N), by ``rule``: ``"random"``,
    ``"train"``, ``"pivoted"`` (module docstring), or the indices themselves (checked)."""
    n = graph.num_nodes
    gen = torch.Generator().manual_seed(int(random_state))
    if not isinstance(rule, str):
        idx = torch.as_tensor(np.asarray(rule), dtype=torch.long).reshape(-1)
        if idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= n or torch.unique(idx).numel() != idx.numel():
            raise ValueError(f"landmarks: give distinct node indices in 0..{n - 1}, or one of 'random', 'train', "
                             "'pivoted'")
        return torch.sort(idx).values
    m = min(int(num_landmarks), n)
    if rule == "random":
        return torch.sort(torch.randperm(n, generator=gen)[:m]).values
    if rule == "train":
        if graph.train_mask is None:
            raise ValueError("landmarks='train' needs a train_mask in the data; use 'random' or 'pivoted'")
        train = torch.nonzero(graph.train_mask).reshape(-1)
        train = train[torch.randperm(train.numel(), generator=gen)][:m]
        rest = torch.nonzero(~graph.train_mask).reshape(-1)
        rest = rest[torch.randperm(rest.numel(), generator=gen)][: m - train.numel()]
        return torch.sort(torch.cat([train, rest])).values
    if rule == "pivoted":
        pool = torch.randperm(n, generator=gen)[: min(n, POOL_PER_LANDMARK * m)]
        z = first_layer_features(graph)
        zp = z[pool.numpy()]
        zp = torch.from_numpy(np.asarray(zp.toarray() if hasattr(zp, "toarray") else zp)).to(torch.float64)
        k = zp @ zp.T
        if activation == "relu":
            k = activation_maps(k, "relu", derivative=False)[0]
        chosen = _pivoted_cholesky(k, m)
        if chosen.numel() < m:  # rank exhausted: the rest uniformly from the pool's other nodes
            left = torch.ones(pool.numel(), dtype=torch.bool)
            left[chosen] = False
            others = torch.nonzero(left).reshape(-1)
            chosen = torch.cat([chosen, others[torch.randperm(others.numel(), generator=gen)][: m - chosen.numel()]])
        return torch.sort(pool[chosen]).values
    raise ValueError(f"landmarks must be 'random', 'train', 'pivoted' or node indices, got {rule!r}")


def inverse_sqrt(w: torch.Tensor, rcond: float | None = None) -> torch.Tensor:
    """``T [m, k]`` with ``T Tᵀ = W⁺`` for a symmetric PSD ``w [m, m]``: ``V D^-1/2`` over the eigenvalues
    above ``rcond`` times the largest (default 10 m eps of ``w``'s dtype), computed in float64 and
    returned in ``w``'s dtype.  O(m³)."""
    d, v = small_eigh(w.to(torch.float64))
    if rcond is None:
        rcond = 10 * w.shape[0] * torch.finfo(w.dtype).eps
    top = float(d.max()) if d.numel() else 0.0
    keep = d > rcond * top if top > 0 else torch.zeros_like(d, dtype=torch.bool)
    return (v[:, keep] / d[keep].sqrt()).to(w.dtype)


def small_eigh(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` of the symmetric part of a small ``a [k, k]`` on one torch thread: on the busy
    2-core machine LAPACK's two threads took 4.7 s for k = 300 where one took 0.04 s.  O(k³)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh((a + a.T) / 2)
    finally:
        torch.set_num_threads(before)


def block_rows(width: int) -> int:
    """Rows per block of an ``N × width`` pass: :data:`BLOCK_VALUES` values, at least 256 rows."""
    return max(256, BLOCK_VALUES // max(1, int(width)))


# --- helpers ---------------------------------------------------------------------------------


def _first_layer(graph: NodeGraph, adj_sp, lm: torch.Tensor, scale: float) -> torch.Tensor:
    """Q⁽¹⁾ with Q Qᵀ ≈ σ_w² (ÂX)(ÂX)ᵀ / F: ``scale`` · ÂX itself when F <= m, else its Nyström on
    the landmark columns."""
    z = first_layer_features(graph, adj_sp)
    if graph.num_features <= lm.numel():
        q = torch.from_numpy(np.asarray(z.toarray() if hasattr(z, "toarray") else z))
        return (q * scale).to(graph.x.dtype).contiguous()
    z_l = z[lm.numpy()]
    cross = z @ z_l.T
    cross = torch.from_numpy(np.asarray(cross.toarray() if hasattr(cross, "toarray") else cross)).to(graph.x.dtype)
    t = inverse_sqrt(cross[lm])
    return (cross @ t).mul_(scale)


def _aggregate(adj_sp, f: torch.Tensor, scale: float) -> torch.Tensor:
    """``scale`` · Â F (SciPy's sparse-dense product: one pass over Â's nonzeros per column block)."""
    out = torch.from_numpy(np.asarray(adj_sp @ f.numpy()))
    return out.mul_(scale)


def _pivoted_cholesky(k: torch.Tensor, m: int) -> torch.Tensor:
    """The first ≤ m pivots of greedy (largest residual diagonal) pivoted Cholesky of a PSD ``k [p, p]``;
    stops early when the residual falls below 1e-12 of the largest diagonal.  O(p m²)."""
    p = k.shape[0]
    res = torch.diagonal(k).clone()
    top = float(res.max()) if p else 0.0
    factor = torch.zeros(p, min(m, p), dtype=k.dtype)
    pivots = []
    for j in range(min(m, p)):
        i = int(torch.argmax(res))
        if not float(res[i]) > 1e-12 * top:
            break
        col = k[:, i] - factor[:, :j] @ factor[i, :j]
        factor[:, j] = col / math.sqrt(float(res[i]))
        res -= factor[:, j].square()
        res[i] = -math.inf  # never again
        pivots.append(i)
    return torch.tensor(pivots, dtype=torch.long)
