"""The GNTK's inputs and its result are finite, or a ``ValueError`` says which graph and why.

A :class:`~fastgnn.graph.Graph` checks its features when it is built, but an array can be written
afterwards (``g.x[0, 0] = float("nan")``), and finite features can still overflow: the first layer's
covariance is ``Σ⁽⁰⁾(u, v) = x_u · x_v``, so features of 1e200 give ``inf`` in float64 (1e20 in
float32), and every later layer, the readout's sum over node pairs and the Gram inherit it.  Without
these checks the Gram comes back full of NaN, with at most a numpy ``RuntimeWarning``.

* :func:`check_inputs` (at ``fit`` and ``transform``): every graph's features and edge weights
  finite, and ``F · max|x|²`` (the largest first-layer entry) within the dtype's range.
* :func:`check_result` (on the Gram): every entry finite; otherwise the first offending pair of
  graphs, and the largest feature magnitude, which is what overflowed when the inputs are finite.

The GNTK is homogeneous of degree 2 in the features (the ReLU's arc-cosine kernels are, and the
aggregation and readout are linear), so dividing every feature by a constant ``s`` divides the Gram by
``s²`` and changes no SVM accuracy (:func:`fastgnn.evaluate.svm_cv` divides the Gram by its smallest
entry anyway): the remedy both messages give.

Cost: O(total nodes · F) for the inputs, O(n²) for the result.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_inputs", "check_result"]


def check_inputs(graphs, what: str, dtype=torch.float64) -> None:
    """``ValueError`` naming the graph (its index in the list given to ``what``), node and feature of the
    first non-finite feature or edge weight, or of the largest feature when ``F · max|x|²`` exceeds
    ``dtype``'s largest value (the first layer would overflow)."""
    limit = torch.finfo(dtype).max
    for i, g in enumerate(graphs):
        x = g.x
        if x.numel() and not bool(torch.isfinite(x).all()):
            u, f = torch.nonzero(~torch.isfinite(x))[0].tolist()
            raise ValueError(f"GNTK.{what}: graph {i} has a non-finite feature, x[{u}, {f}] = {x[u, f].item()} "
                             "(written after the graph was built?); every feature must be a finite number")
        w = getattr(g, "edge_weight", None)
        if w is not None and w.numel() and not bool(torch.isfinite(w).all()):
            e = int(torch.nonzero(~torch.isfinite(w))[0])
            raise ValueError(f"GNTK.{what}: graph {i} has a non-finite edge weight, edge_weight[{e}] = "
                             f"{w[e].item()}")
        if x.numel():
            top = float(x.abs().max())
            if x.shape[1] * top * top > limit:
                u, f = divmod(int(x.abs().argmax()), x.shape[1])
                raise ValueError(
                    f"GNTK.{what}: graph {i}'s features are too large for {_name(dtype)}: |x[{u}, {f}]| = {top:.3g}, "
                    f"so x·x over its {x.shape[1]} features exceeds {limit:.3g} and the kernel would overflow; "
                    f"{_remedy(dtype)}")


def check_result(gram, what: str, graphs, fitted=None, dtype=torch.float64) -> np.ndarray:
    """``gram`` if every entry is finite, else ``ValueError`` naming the first non-finite entry's graphs
    (row ``i`` of ``graphs``, column ``j`` of ``fitted``, or of ``graphs`` when ``fitted`` is None) and
    the largest feature magnitude among them: the kernel overflowed although its inputs were finite."""
    finite = np.isfinite(gram)
    if finite.all():
        return gram
    i, j = (int(a) for a in np.argwhere(~finite)[0])
    side = "graph" if fitted is None else "fitted graph"
    top = max(_largest_feature(graphs, "graph"), _largest_feature(fitted or [], "fitted graph"))
    raise ValueError(
        f"GNTK.{what}: the kernel of graph {i} and {side} {j} is {gram[i, j]} ({int((~finite).sum())} entries not "
        f"finite): the computation overflowed {_name(dtype)} although every input is finite (the largest feature "
        f"magnitude is {top[0]:.3g}, in {top[1]}); {_remedy(dtype)}")


def _remedy(dtype) -> str:
    return ("divide every feature by a constant, e.g. their largest magnitude (the GNTK is homogeneous of degree 2 in "
            "the features: the Gram is divided by its square and no SVM accuracy changes)"
            + ("" if dtype == torch.float64 else ", or compute in float64"))


def _largest_feature(graphs, label: str) -> tuple[float, str]:
    """The largest feature magnitude among ``graphs`` and where it is (``"graph 3"``)."""
    top = (0.0, f"no {label}")
    for k, g in enumerate(graphs):
        if g.x.numel():
            top = max(top, (float(g.x.abs().max()), f"{label} {k}"))
    return top


def _name(dtype) -> str:
    return str(dtype).replace("torch.", "")
