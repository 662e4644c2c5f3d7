"""The scikit-learn estimator of the node kernels: :class:`GCNKernel`, exact or by the recursive Nyström.

It checks its parameters against :data:`fastgnn.node.params.PARAMETER_CONSTRAINTS` at ``fit``, reads the
graph with :func:`fastgnn.node.inputs.as_node_graph`, checks the dense recursion against the memory
budget (:mod:`fastgnn.budget`) and runs :func:`fastgnn.node.kernels.exact_kernels` or
:func:`fastgnn.node.nystroem.nystroem_kernels`.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator

from fastgnn import budget
from fastgnn.node.inputs import NodeGraph, as_node_graph
from fastgnn.node.kernels import DENSE_COPIES, dense_bytes, exact_kernels
from fastgnn.node.nystroem import nystroem_kernels, select_landmarks
from fastgnn.node.params import DTYPES, PARAMETER_CONSTRAINTS

__all__ = ["GCNKernel"]


class GCNKernel(BaseEstimator):
    """The NNGP kernel or NTK of an infinitely wide GCN over the nodes of one graph (scikit-learn style).

    Args:
        kernel: ``"nngp"`` (GCN-GP) or ``"ntk"`` (GCN-NTK).
        num_layers: L >= 1 ``GCNConv`` layers (the last one's output is the kernel's).
        sigma_w, sigma_b: standard deviations of the weights (times 1/sqrt(fan_in)) and biases.
        activation: ``"relu"`` or ``"identity"``.
        method: ``"exact"`` (dense N × N) or ``"nystroem"`` (the recursive Nyström of
            :mod:`fastgnn.node.nystroem`: ``features_ [N, r]`` with kernel ≈ features_ featuresᵀ).
        num_landmarks: m, the landmark nodes of ``method="nystroem"``.
        landmarks: ``"random"``, ``"train"``, ``"pivoted"`` (:data:`fastgnn.node.params.LANDMARK_RULES`)
            or the landmark nodes' indices.
        dtype: ``"float64"`` (default) or ``"float32"``.
        max_memory: the memory budget (:func:`fastgnn.budget.resolve`: bytes, ``"4GB"``, ``"auto"``).
        random_state: seed of the landmark draw.

    ``fit(data)`` reads a :class:`~fastgnn.datasets.NodeData` or a PyG ``Data`` (:mod:`fastgnn.node.inputs`).
    Attributes after it: ``kernel_ [N, N]`` (exact) or ``features_ [N, r]`` and ``landmarks_ [m]``
    (Nyström), ``fit_seconds_``.  ``fit_transform(data)`` returns ``kernel_`` or ``features_``.

    Cost: see the module docstring (exact) and :mod:`fastgnn.node.nystroem` (O(L (N m² + E m)) time,
    O(N m) memory).

    Raises:
        MemoryError: the dense recursion does not fit ``max_memory``; the message gives the bytes
            needed and names ``method="nystroem"``.
    """

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def __init__(self, kernel: str = "nngp", *, num_layers: int = 2, sigma_w: float = 1.0, sigma_b: float = 0.0,
                 activation: str = "relu", method: str = "exact", num_landmarks: int = 300,
                 landmarks="random", dtype: str = "float64", max_memory="auto", random_state: int = 0):
        self.kernel = kernel
        self.num_layers = num_layers
        self.sigma_w = sigma_w
        self.sigma_b = sigma_b
        self.activation = activation
        self.method = method
        self.num_landmarks = num_landmarks
        self.landmarks = landmarks
        self.dtype = dtype
        self.max_memory = max_memory
        self.random_state = random_state

    def fit(self, X, y=None) -> GCNKernel:
        """Compute the kernel of the graph ``X`` (``y`` is ignored: the labels, if any, are ``X``'s)."""
        self._validate_params()
        t0 = time.perf_counter()
        graph = as_node_graph(X, dtype=DTYPES[self.dtype], what="X")
        for _depth, k, theta in self.layers(graph):
            last = theta if self.kernel == "ntk" else k
        if self.method == "exact":
            self.kernel_ = last
        else:
            self.features_ = last.features().numpy()
        self.n_nodes_ = graph.num_nodes
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X)``, then ``kernel_ [N, N]`` (exact) or ``features_ [N, r]`` (Nyström)."""
        self.fit(X, y)
        return self.kernel_ if self.method == "exact" else self.features_

    def layers(self, graph: NodeGraph, max_layers: int | None = None):
        """Yield ``(depth, K, Θ)`` for depth 1..``max_layers`` (default ``num_layers``) on a read
        ``graph``: dense arrays (:func:`exact_kernels`) or :class:`~fastgnn.node.nystroem.LowRank`
        factors (:func:`~fastgnn.node.nystroem.nystroem_kernels`); Θ is None for the NNGP."""
        num_layers = int(max_layers or self.num_layers)
        ntk = self.kernel == "ntk"
        if self.method == "exact":
            self._check_memory(graph)
            yield from exact_kernels(graph, num_layers=num_layers, sigma_w=self.sigma_w, sigma_b=self.sigma_b,
                                     activation=self.activation, ntk=ntk)
            return
        self.landmarks_ = select_landmarks(graph, self.num_landmarks, self.landmarks, random_state=self.random_state)
        yield from nystroem_kernels(graph, self.landmarks_, num_layers=num_layers, sigma_w=self.sigma_w,
                                    sigma_b=self.sigma_b, activation=self.activation, ntk=ntk)

    def _check_memory(self, graph: NodeGraph) -> None:
        need = dense_bytes(graph.num_nodes, self.kernel, graph.x.dtype)
        have = budget.resolve(self.max_memory)
        if need > have:
            raise MemoryError(
                f"the exact {self.kernel.upper()} of {graph.num_nodes} nodes needs about {need / 1e9:.2f} GB "
                f"({DENSE_COPIES[self.kernel]} dense N × N arrays of {self.dtype}), over the memory budget of "
                f"{have / 1e9:.2f} GB (max_memory={self.max_memory!r}): use method='nystroem' with num_landmarks=m "
                "(the recursive Nyström: O(N m) memory, never an N × N matrix), or raise max_memory")
