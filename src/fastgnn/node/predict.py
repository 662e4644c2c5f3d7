"""Transductive prediction with a node kernel: GP posterior mean / kernel ridge on the training nodes,
the regulariser swept on the validation nodes from one eigendecomposition.

For training nodes t, one-hot targets Y ``[n_t, C]`` and a ridge λ, the scores of nodes s are

    f(s) = K[s, t] (K[t, t] + λ I)⁻¹ Y = (K[s, t] V) diag(1 / (w + λ)) (Vᵀ Y),    K[t, t] = V diag(w) Vᵀ

so one eigendecomposition (O(n_t³)) and one product B = K[s, t] V give every λ of a grid for
O(|s| n_t C) each: :func:`ridge_sweep`.  With a low-rank kernel K = Φ Φᵀ (:class:`~fastgnn.node.nystroem.LowRank`,
r columns) and r < n_t the same is done in the primal, f(s) = Φ[s] (Φ[t]ᵀ Φ[t] + λ I)⁻¹ Φ[t]ᵀ Y, from
the r × r eigendecomposition: the same numbers (push-through identity), O(n_t r² + r³).  The
regulariser follows GNNGP: λ = ε · mean(diag K) over all nodes, ε on :data:`fastgnn.node.params.NUGGETS`
(1e-3..10, 101 values); the ε kept is the first with the best validation accuracy.  The scores equal
scikit-learn's ``KernelRidge(alpha=λ, kernel="precomputed")`` fitted on K[t, t] (``tests/node/test_predict.py``).

:class:`GCNGP` puts it together with :class:`~fastgnn.node.GCNKernel`: ``GCNGP().fit(data)`` gives the
validation-chosen ε and the train / validation / test accuracies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import StrOptions

from fastgnn.node.estimator import GCNKernel
from fastgnn.node.inputs import NodeGraph, as_node_graph, check_split
from fastgnn.node.kernels import Columns, train_columns
from fastgnn.node.nystroem import LowRank, block_rows, small_eigh
from fastgnn.node.params import DTYPES, KERNELS, NUGGETS

__all__ = ["GCNGP", "RidgeSweep", "ridge_sweep", "evaluate_kernel"]


@dataclass(eq=False)
class RidgeSweep:
    """The regulariser sweep of one kernel (:func:`ridge_sweep`).

    Attributes:
        nuggets: ``[n]`` the relative regularisers ε; ``alphas``: ``[n]`` λ = ε · ``scale``.
        scale: mean(diag K) over all nodes.
        val_accuracy: ``[n]`` validation accuracy at each ε.
        best: index of the first ε with the highest validation accuracy.
        basis: ``"dual"`` (n_t × n_t) or ``"primal"`` (r × r): where the eigendecomposition was taken.
    """

    nuggets: np.ndarray
    scale: float
    val_accuracy: np.ndarray
    best: int
    basis: str
    _eig: tuple = field(repr=False, default=())
    _kernel: object = field(repr=False, default=None)
    _train: torch.Tensor = field(repr=False, default=None)

    @property
    def alphas(self) -> np.ndarray:
        return self.nuggets * self.scale

    @property
    def nugget(self) -> float:
        return float(self.nuggets[self.best])

    @property
    def alpha(self) -> float:
        return float(self.alphas[self.best])

    def decision(self, nodes=None, index: int | None = None) -> torch.Tensor:
        """``[|nodes|, C]`` float64 scores at ε number ``index`` (default :attr:`best`) for ``nodes``
        (an index tensor; default all N), by row blocks."""
        w, v, t = self._eig
        coef = v @ (t / (w + float(self.alphas[self.best if index is None else index])).unsqueeze(1))
        n = _num_nodes(self._kernel)
        nodes = torch.arange(n) if nodes is None else torch.as_tensor(nodes).reshape(-1)
        if nodes.dtype == torch.bool:
            nodes = torch.nonzero(nodes).reshape(-1)
        out = torch.empty(nodes.numel(), coef.shape[1], dtype=torch.float64)
        step = block_rows(coef.shape[0])
        for lo in range(0, nodes.numel(), step):
            rows = nodes[lo: lo + step]
            out[lo: lo + step] = self._basis_rows(rows) @ coef
        return out

    def _basis_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """K[rows, t] (dual) or Φ[rows] (primal), float64."""
        if self.basis == "primal":
            return self._kernel.rows(rows).to(torch.float64)
        return _kernel_cross(self._kernel, rows, self._train)


def ridge_sweep(kernel, y: torch.Tensor, train_mask: torch.Tensor, val_mask: torch.Tensor, *,
                nuggets=NUGGETS, num_classes: int | None = None) -> RidgeSweep:
    """Sweep the regulariser of kernel regression on the training nodes over ``nuggets``, scoring the
    validation nodes (see the module docstring).

    Args:
        kernel: a dense ``[N, N]`` kernel (NumPy or torch), a :class:`~fastgnn.node.nystroem.LowRank` or
            the training columns (:class:`~fastgnn.node.kernels.Columns`).
        y: ``[N]`` int64 classes; ``train_mask``, ``val_mask``: ``[N]`` bool.
        nuggets: the relative regularisers ε (λ = ε · mean diag K), all > 0.
        num_classes: C (default ``y.max() + 1``).

    Cost: O(n_t³ + n_v n_t² + len(nuggets) n_v n_t C) dual, O(n_t r² + r³ + n_v r² + ...) primal.
    """
    nuggets = np.asarray(nuggets, dtype=np.float64).reshape(-1)
    if nuggets.size == 0 or not np.all(np.isfinite(nuggets)) or not np.all(nuggets > 0):
        raise ValueError(f"nuggets must be finite numbers > 0 (the ridge is nugget x mean diag K), got {nuggets}")
    if not isinstance(kernel, (LowRank, Columns)):
        kernel = torch.as_tensor(kernel)
    y = torch.as_tensor(y).reshape(-1)
    train = torch.nonzero(torch.as_tensor(train_mask)).reshape(-1)
    val = torch.nonzero(torch.as_tensor(val_mask)).reshape(-1)
    c = int(num_classes) if num_classes is not None else int(y.max()) + 1
    targets = torch.nn.functional.one_hot(y[train], c).to(torch.float64)
    diag = kernel.diag() if isinstance(kernel, (LowRank, Columns)) else torch.diagonal(kernel)
    scale = float(diag.mean())
    primal = isinstance(kernel, LowRank) and kernel.width < train.numel()
    if primal:
        phi_t = kernel.rows(train).to(torch.float64)
        w, v = small_eigh(phi_t.T @ phi_t)
        t = v.T @ (phi_t.T @ targets)
        basis = kernel.rows(val).to(torch.float64) @ v
    else:
        w, v = small_eigh(_kernel_cross(kernel, train, train))
        t = v.T @ targets
        basis = _kernel_cross(kernel, val, train) @ v
    lam = torch.from_numpy(nuggets * scale)
    scores = basis @ (t.unsqueeze(0) / (w.unsqueeze(0) + lam.unsqueeze(1)).unsqueeze(2))  # [n, n_v, C]
    acc = (scores.argmax(2) == y[val].unsqueeze(0)).to(torch.float64).mean(1).numpy()
    return RidgeSweep(nuggets, scale, acc, int(np.argmax(acc)), "primal" if primal else "dual",
                      (w, v, t), kernel, train)


def evaluate_kernel(kernel, graph: NodeGraph, nuggets=NUGGETS) -> dict:
    """:func:`ridge_sweep` on ``graph``'s split, then the chosen ε's accuracy on each mask: a dict with
    ``nugget``, ``alpha``, ``train_acc``, ``val_acc``, ``test_acc`` (NaN without test nodes),
    ``sweep`` (the :class:`RidgeSweep`) and ``decision`` (``[N, C]`` scores)."""
    sweep = ridge_sweep(kernel, graph.y, graph.train_mask, graph.val_mask, nuggets=nuggets,
                        num_classes=graph.num_classes)
    scores = sweep.decision()
    pred = scores.argmax(1)
    out = {"nugget": sweep.nugget, "alpha": sweep.alpha, "sweep": sweep, "decision": scores}
    for name, mask in (("train", graph.train_mask), ("val", graph.val_mask), ("test", graph.test_mask)):
        ok = mask is not None and bool(mask.any())
        out[f"{name}_acc"] = float((pred[mask] == graph.y[mask]).double().mean()) if ok else float("nan")
    return out


class GCNGP(BaseEstimator):
    """Node classification by the infinitely wide GCN: GCN-GP (the NNGP kernel) or GCN-NTK.

    Args:
        kernel: a :class:`~fastgnn.node.GCNKernel` (its parameters: depth, σ_w, σ_b, activation, exact or
            Nyström, dtype, memory budget), or ``"nngp"`` / ``"ntk"`` for ``GCNKernel(kernel)``
            (default ``"nngp"``).  scikit-learn reaches its parameters as ``kernel__num_layers`` ....
        nuggets: the relative regularisers ε to choose from on the validation nodes (λ = ε mean diag K;
            default GNNGP's grid, :data:`fastgnn.node.params.NUGGETS`).

    Prediction is the GP posterior mean / kernel ridge of the module docstring on one-hot targets of
    the training nodes.  ``fit(data)`` reads a :class:`~fastgnn.datasets.NodeData` or a PyG ``Data``
    with ``y`` and the three masks. Attributes after it: ``kernel_`` (the fitted :class:`GCNKernel`,
    its ``landmarks_`` with the Nyström), ``nugget_``, ``alpha_`` (λ), ``train_accuracy_``,
    ``val_accuracy_``, ``test_accuracy_``, ``sweep_`` (:class:`RidgeSweep`), ``decision_`` ``[N, C]``,
    ``classes_``, ``kernel_seconds_``, ``predict_seconds_``, ``fit_seconds_``.
    ``predict(nodes=None)`` gives the classes of the fitted graph's nodes.

    Raises:
        ValueError: no labels or masks, a class without training nodes, bad parameters (by name).
        MemoryError: the exact kernel does not fit ``max_memory`` (the message names ``method="nystroem"``).
    """

    _parameter_constraints: dict = {"kernel": [None, StrOptions(set(KERNELS)), GCNKernel],
                                    "nuggets": [None, "array-like"]}

    def __init__(self, kernel=None, *, nuggets=None):
        self.kernel = kernel
        self.nuggets = nuggets

    def fit(self, X, y=None) -> GCNGP:
        """Compute the kernel of ``X``'s graph, sweep the regulariser, keep the best (``y`` ignored)."""
        self._validate_params()
        t0 = time.perf_counter()
        est = self.kernel if isinstance(self.kernel, GCNKernel) else GCNKernel(self.kernel or "nngp")
        est = clone(est)
        est._validate_params()
        graph = as_node_graph(X, dtype=DTYPES[est.dtype], what="X")
        check_split(graph, "X")
        if est.method == "exact":  # prediction reads only K[:, train] and diag K: the last layer's columns
            est._check_memory(graph)
            k, theta = train_columns(graph, torch.nonzero(graph.train_mask).reshape(-1), num_layers=est.num_layers,
                                     sigma_w=est.sigma_w, sigma_b=est.sigma_b, activation=est.activation,
                                     ntk=est.kernel == "ntk")
        else:
            *_, (_, k, theta) = est.layers(graph)
        kernel = theta if est.kernel == "ntk" else k
        self.kernel_ = est
        t1 = time.perf_counter()
        res = evaluate_kernel(kernel, graph, NUGGETS if self.nuggets is None else self.nuggets)
        self.sweep_, self.decision_ = res["sweep"], res["decision"]
        self.nugget_, self.alpha_ = res["nugget"], res["alpha"]
        self.train_accuracy_, self.val_accuracy_ = res["train_acc"], res["val_acc"]
        self.test_accuracy_ = res["test_acc"]
        self.classes_ = np.arange(graph.num_classes)
        t2 = time.perf_counter()
        self.kernel_seconds_, self.predict_seconds_, self.fit_seconds_ = t1 - t0, t2 - t1, t2 - t0
        return self

    def predict(self, nodes=None) -> np.ndarray:
        """The classes of ``nodes`` (indices or a bool mask of the fitted graph; default all nodes)."""
        scores = self.decision_ if nodes is None else self.decision_[torch.as_tensor(nodes)]
        return scores.argmax(1).numpy()


# --- helpers ---------------------------------------------------------------------------------


def _num_nodes(kernel) -> int:
    return kernel.num_nodes if isinstance(kernel, (LowRank, Columns)) else int(kernel.shape[0])


def _kernel_cross(kernel, rows, cols) -> torch.Tensor:
    """K[rows][:, cols] in float64 (dense, low-rank or the training columns)."""
    if isinstance(kernel, (LowRank, Columns)):
        return kernel.cross(rows, cols).to(torch.float64)
    return kernel[rows][:, cols].to(torch.float64)
