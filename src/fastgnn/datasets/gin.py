"""The GIN / GNTK text format.

The GIN text format (Xu et al. 2019, ``powerful-gnns/dataset/NAME/NAME.txt``,
also used by DGCNN and the GNTK code) is::

    G                          number of graphs
    n label                    graph 1: n nodes and its label
    tag m nb_1 ... nb_m [a_1 ... a_k]   node 0: its tag, its m neighbours (0-based,
    ...                                 within the graph), optional float attributes
    n label                    graph 2 ...

Cross-validation folds sit beside it in ``NAME/10fold_idx/train_idx-K.txt`` and
``test_idx-K.txt`` (K = 1..10), one 0-based graph index per line
(:func:`~fastgnn.datasets.raw.read_folds`).

The pieces every reader shares (:class:`~fastgnn.datasets.raw.RawGraph`,
:func:`~fastgnn.datasets.raw.symmetrise`, :func:`~fastgnn.datasets.raw.build_dataset`,
:func:`~fastgnn.datasets.raw.read_folds` ...) live in :mod:`fastgnn.datasets.raw`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.download import DatasetFormatError
from fastgnn.datasets.raw import RawGraph, build_dataset, is_int, read_folds, read_lines, symmetrise
from fastgnn.graph import GraphDataset

__all__ = ["read_gin", "load_gin_dataset"]


# --------------------------------------------------------------------------- dataset


def load_gin_dataset(
    path, *, name: str | None = None, features: str = "tags", folds_dir=None, dtype=torch.float64
) -> GraphDataset:
    """Read a GIN-format ``NAME.txt`` (and its ``10fold_idx``) into a dataset.

    Args:
        path: the ``NAME.txt`` file.
        name: the dataset's name (default: the file's stem).
        features: ``"tags"`` or ``"degree"`` (see :func:`~fastgnn.datasets.raw.build_dataset`).
        folds_dir: folder of ``{train,test}_idx-K.txt``; default
            ``path.parent / "10fold_idx"`` when it exists, else stratified folds.
    """
    path = Path(path)
    raw = read_gin(path)
    folds_dir = Path(folds_dir) if folds_dir is not None else path.parent / "10fold_idx"
    folds = read_folds(folds_dir, len(raw)) if folds_dir.is_dir() else None
    return build_dataset(raw, features=features, folds=folds, name=name or path.stem, dtype=dtype)


# --------------------------------------------------------------------------- GIN text


def read_gin(path) -> list[RawGraph]:
    """Parse a GIN-format text file strictly.

    Any deviation raises :class:`DatasetFormatError` naming ``path:line``: a
    header that is not ``n label``, a node line with fewer than ``2 + m``
    tokens, a non-integer, a neighbour index outside ``0..n-1``, attributes
    that are not floats or whose count changes, a graph with 0 nodes (a graph
    kernel cannot use it), fewer graphs than line 1 announces, or non-blank
    lines after the last graph.  Edges are symmetrised and deduplicated.

    Cost: one pass over the file, O(file size).
    """
    path = Path(path)
    lines = read_lines(path)

    def fail(i: int, message: str):
        raise DatasetFormatError(path, i + 1, message)  # i is the 0-based line index

    if not lines:
        fail(0, "empty file: expected the number of graphs on line 1")
    tokens = lines[0].split()
    if len(tokens) != 1 or not is_int(tokens[0]) or int(tokens[0]) < 0:
        fail(0, f"expected the number of graphs, got {lines[0][:60]!r}")
    num_graphs = int(tokens[0])

    graphs: list[RawGraph] = []
    num_attributes = None  # set by the first node line; must stay the same
    i = 1
    for k in range(1, num_graphs + 1):
        if i >= len(lines):
            fail(i, f"expected the 'n label' line of graph {k} of {num_graphs}, got end of file")
        tokens = lines[i].split()
        if len(tokens) != 2 or not all(map(is_int, tokens)):
            fail(i, f"graph {k}: expected 'n label' (2 integers), got {lines[i][:60]!r}")
        n, label = int(tokens[0]), int(tokens[1])
        if n <= 0:
            fail(i, f"graph {k} has {n} nodes: a graph needs at least one node")
        header = i
        i += 1
        tags = np.empty(n, dtype=np.int64)
        src: list[int] = []
        dst: list[int] = []
        attrs: list[list[float]] = []
        for v in range(n):
            if i >= len(lines):
                fail(i, f"graph {k}: expected node {v} of {n}, got end of file")
            tokens = lines[i].split()
            if len(tokens) < 2:
                fail(i, f"graph {k}, node {v}: expected 'tag m nb_1 .. nb_m', got {lines[i]!r}")
            try:
                tag, m = int(tokens[0]), int(tokens[1])
            except ValueError:
                fail(i, f"graph {k}, node {v}: tag and neighbour count must be integers, "
                        f"got {lines[i]!r}")
            if m < 0:
                fail(i, f"graph {k}, node {v}: negative neighbour count {m}")
            if len(tokens) < 2 + m:
                fail(i, f"expected 2 + {m} neighbour indices, got {len(tokens)} tokens")
            try:
                nbrs = [int(t) for t in tokens[2 : 2 + m]]
            except ValueError:
                bad = next(t for t in tokens[2 : 2 + m] if not is_int(t))
                fail(i, f"graph {k}, node {v}: neighbour index {bad!r} is not an integer")
            if m and (min(nbrs) < 0 or max(nbrs) >= n):
                bad = next(u for u in nbrs if not 0 <= u < n)
                fail(i, f"graph {k}, node {v}: neighbour index {bad} outside 0..{n - 1} "
                        f"(the graph has {n} nodes, header on line {header + 1})")
            extra = tokens[2 + m :]
            if num_attributes is None:
                num_attributes = len(extra)
            if len(extra) != num_attributes:
                fail(i, f"expected 2 + {m} neighbour indices and {num_attributes} attributes, "
                        f"got {len(tokens)} tokens")
            if extra:
                try:
                    attrs.append([float(t) for t in extra])
                except ValueError:
                    fail(i, f"graph {k}, node {v}: trailing tokens {extra} are not floats")
            tags[v] = tag
            src.extend([v] * m)
            dst.extend(nbrs)
            i += 1
        graphs.append(
            RawGraph(
                num_nodes=n,
                edge_index=symmetrise(src, dst, n),
                tags=tags,
                label=label,
                attributes=np.array(attrs, dtype=np.float64) if attrs else None,
            )
        )
    for j in range(i, len(lines)):
        if lines[j].strip():
            fail(j, f"trailing data after the {num_graphs} graphs announced on line 1: "
                    f"{lines[j][:60]!r}")
    return graphs


# --------------------------------------------------------------------------- text helpers


