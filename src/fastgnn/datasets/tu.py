"""The TU Dortmund raw format (https://chrsmrrs.github.io/datasets/docs/format/).

A dataset ``NAME`` is a folder of text files, nodes numbered ``1..N`` over the
whole dataset:

* ``NAME_A.txt``: one edge ``u, v`` per line (1-based node ids; each undirected
  edge usually appears in both directions);
* ``NAME_graph_indicator.txt``: line ``i`` holds the graph id (1-based) of node ``i``;
* ``NAME_graph_labels.txt``: line ``g`` holds the label of graph ``g``;
* ``NAME_node_labels.txt`` (optional): line ``i`` holds the tag of node ``i``;
* ``NAME_node_attributes.txt`` (optional): line ``i`` holds node ``i``'s floats.

:func:`read_tu` turns these into :class:`~fastgnn.datasets.raw.RawGraph` objects,
vectorised with NumPy (no Python loop over edges), with the same strict,
``path:line`` errors as the GIN reader.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.download import DatasetFormatError, DatasetNotFoundError
from fastgnn.datasets.raw import RawGraph, build_dataset, read_folds, read_int_table, read_lines

__all__ = ["read_tu", "load_tu_dataset", "tu_files"]


def tu_files(folder, prefix: str | None = None) -> dict[str, Path]:
    """The paths of a TU dataset's files (``prefix`` defaults to the folder's name)."""
    folder = Path(folder)
    prefix = prefix or folder.name
    parts = ["A", "graph_indicator", "graph_labels", "node_labels", "node_attributes"]
    return {p: folder / f"{prefix}_{p}.txt" for p in parts}


def read_tu(folder, prefix: str | None = None) -> list[RawGraph]:
    """Parse a TU-format dataset strictly.

    Raises :class:`DatasetFormatError` naming ``path:line`` for: a malformed
    line; a graph id that decreases (nodes must be grouped by graph) or skips a
    graph (which would then have no nodes); a node id in ``NAME_A.txt``
    outside ``1..N``; an edge joining two graphs; as many labels as graphs not
    given (labels that do not match the graphs); a node-label count that is
    not N.  A missing required file raises :class:`DatasetNotFoundError`.

    Cost: O(N + E log E) with NumPy.
    """
    files = tu_files(folder, prefix)
    for part in ("A", "graph_indicator", "graph_labels"):
        if not files[part].exists():
            raise DatasetNotFoundError(f"{files[part]}: no such file (TU dataset incomplete)")

    indicator = read_int_table(files["graph_indicator"], 1)[:, 0]
    num_nodes = len(indicator)
    if num_nodes == 0:
        raise DatasetFormatError(files["graph_indicator"], 1, "no nodes: the file is empty")
    starts, num_graphs = _check_indicator(files["graph_indicator"], indicator)

    labels = read_int_table(files["graph_labels"], 1)[:, 0]
    _check_count(files["graph_labels"], len(labels), num_graphs, "graph labels", "graphs",
                 files["graph_indicator"])

    tags = np.zeros(num_nodes, dtype=np.int64)
    if files["node_labels"].exists():
        tags = read_int_table(files["node_labels"], 1)[:, 0]
        _check_count(files["node_labels"], len(tags), num_nodes, "node labels", "nodes",
                     files["graph_indicator"])

    attributes = None
    if files["node_attributes"].exists():
        attributes = _read_float_table(files["node_attributes"])
        _check_count(files["node_attributes"], len(attributes), num_nodes, "attribute rows",
                     "nodes", files["graph_indicator"])

    edges = read_int_table(files["A"], 2) - 1  # 0-based global node ids, [E, 2]
    bad = np.nonzero((edges < 0) | (edges >= num_nodes))[0]
    if bad.size:
        u, v = edges[bad[0]] + 1
        raise DatasetFormatError(files["A"], int(bad[0]) + 1,
                                 f"edge ({u}, {v}) names a node outside 1..{num_nodes}")
    graph_of = indicator - 1
    cross = np.nonzero(graph_of[edges[:, 0]] != graph_of[edges[:, 1]])[0]
    if cross.size:
        u, v = edges[cross[0]]
        raise DatasetFormatError(
            files["A"], int(cross[0]) + 1,
            f"edge ({u + 1}, {v + 1}) joins graph {graph_of[u] + 1} and graph {graph_of[v] + 1}",
        )

    # Symmetrise and deduplicate all edges at once; sorting the global keys
    # groups them by graph, since each graph's nodes are contiguous.
    keys = np.unique(np.concatenate([edges[:, 0] * num_nodes + edges[:, 1],
                                     edges[:, 1] * num_nodes + edges[:, 0]]))
    src, dst = keys // num_nodes, keys % num_nodes
    bounds = np.append(starts, num_nodes)
    cuts = np.searchsorted(src, bounds)
    graphs = []
    for g in range(num_graphs):
        lo, hi = bounds[g], bounds[g + 1]
        e = slice(cuts[g], cuts[g + 1])
        graphs.append(
            RawGraph(
                num_nodes=int(hi - lo),
                edge_index=np.stack([src[e] - lo, dst[e] - lo]),
                tags=tags[lo:hi].copy(),
                label=int(labels[g]),
                attributes=None if attributes is None else attributes[lo:hi].copy(),
            )
        )
    return graphs


def load_tu_dataset(
    folder, prefix: str | None = None, *, name: str | None = None, features: str = "tags",
    dtype=torch.float64,
):
    """Read a TU-format folder into a :class:`~fastgnn.graph.GraphDataset`.

    Folds come from ``folder/10fold_idx`` when present, else seeded stratified
    10 folds.  ``features`` is ``"tags"`` (one-hot node labels; a dataset without
    node labels gives every node tag 0, so one constant column of ones) or
    ``"degree"``; see
    :func:`~fastgnn.datasets.raw.build_dataset`.
    """
    folder = Path(folder)
    raw = read_tu(folder, prefix)
    folds_dir = folder / "10fold_idx"
    folds = read_folds(folds_dir, len(raw)) if folds_dir.is_dir() else None
    return build_dataset(raw, features=features, folds=folds,
                         name=name or prefix or folder.name, dtype=dtype)


# --------------------------------------------------------------------------- checks


def _check_indicator(path: Path, indicator: np.ndarray) -> tuple[np.ndarray, int]:
    """First node of each graph and the number of graphs; raise on gaps or disorder."""
    if indicator[0] != 1:
        raise DatasetFormatError(path, 1, f"graph ids must start at 1, got {indicator[0]}")
    step = np.diff(indicator)
    bad = np.nonzero((step < 0) | (step > 1))[0]
    if bad.size:
        i = int(bad[0])
        a, b = indicator[i], indicator[i + 1]
        why = ("nodes must be grouped by graph in increasing order" if b < a
               else f"graph {a + 1} has no nodes")
        raise DatasetFormatError(path, i + 2, f"graph id goes from {a} to {b}: {why}")
    starts = np.concatenate([[0], np.nonzero(step)[0] + 1]).astype(np.int64)
    return starts, int(indicator[-1])


def _check_count(path: Path, got: int, want: int, what: str, of: str, ref: Path) -> None:
    if got != want:
        raise DatasetFormatError(
            path, min(got, want) + 1,
            f"{got} {what} for the {want} {of} of {ref.name}: the {what} do not match the {of}",
        )


def _read_float_table(path: Path) -> np.ndarray:
    """Comma-separated floats, the same number on every line, ``[rows, k]`` float64."""
    lines = read_lines(path)
    body = "\n".join(lines).rstrip()
    if not body:
        return np.zeros((0, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(io.StringIO(body), dtype=np.float64, delimiter=",", ndmin=2,
                               comments=None)
        if len(table) == body.count("\n") + 1:
            return table
    except ValueError:
        pass
    width = None
    for i, line in enumerate(body.split("\n")):
        parts = [p.strip() for p in line.split(",")]
        width = len(parts) if width is None else width
        try:
            [float(p) for p in parts]
        except ValueError:
            msg = f"expected comma-separated floats, got {line.strip()!r}"
            raise DatasetFormatError(path, i + 1, msg) from None
        if len(parts) != width:
            raise DatasetFormatError(path, i + 1, f"expected {width} values, got {len(parts)}")
    raise DatasetFormatError(path, None, "unreadable attribute table")
