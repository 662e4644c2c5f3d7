"""The GIN / GNTK text format, fold files, and the raw-graph -> dataset step.

The GIN text format (Xu et al. 2019, ``powerful-gnns/dataset/NAME/NAME.txt``,
also used by DGCNN and the GNTK code) is::

    G                          number of graphs
    n label                    graph 1: n nodes and its label
    tag m nb_1 ... nb_m [a_1 ... a_k]   node 0: its tag, its m neighbours (0-based,
    ...                                 within the graph), optional float attributes
    n label                    graph 2 ...

Cross-validation folds sit beside it in ``NAME/10fold_idx/train_idx-K.txt`` and
``test_idx-K.txt`` (K = 1..10), one 0-based graph index per line.

This module also holds the pieces the TU reader and the synthetic generator
share: :class:`RawGraph` (a parsed graph before features are chosen),
:func:`symmetrise` (edge lists to sorted, deduplicated, two-way ``edge_index``),
:func:`build_dataset` (one-hot tag or degree features over the whole dataset)
and :func:`read_int_table` (a strict, fast reader of integer text tables).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.download import DatasetFormatError, DatasetNotFoundError
from fastgnn.graph import Graph, GraphDataset, stratified_folds

__all__ = [
    "RawGraph",
    "read_gin",
    "read_folds",
    "load_gin_dataset",
    "build_dataset",
    "symmetrise",
    "degrees",
    "read_int_table",
    "FEATURES",
]

FEATURES = ("tags", "degree")


@dataclass(eq=False)
class RawGraph:
    """A graph as read from a file, before node features are chosen.

    Attributes:
        num_nodes: N >= 1.
        edge_index: ``[2, E]`` int64 NumPy array, symmetric, deduplicated and
            sorted (see :func:`symmetrise`).
        tags: ``[N]`` int64 NumPy array of the raw node tags (labels).
        label: the graph's label as written in the file.
        attributes: ``[N, k]`` float64 NumPy array of node attributes, or None.
    """

    num_nodes: int
    edge_index: np.ndarray
    tags: np.ndarray
    label: int
    attributes: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- edges


def symmetrise(src, dst, num_nodes: int) -> np.ndarray:
    """Two-way, deduplicated, sorted ``[2, E]`` int64 edge array.

    Every pair ``(u, v)`` gives both ``(u, v)`` and ``(v, u)``; duplicates are
    dropped and a self-loop ``(u, u)`` is kept once.  The result is sorted by
    source, then target.  Cost: O(E log E).
    """
    src = np.asarray(src, dtype=np.int64).reshape(-1)
    dst = np.asarray(dst, dtype=np.int64).reshape(-1)
    if src.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    keys = np.unique(np.concatenate([src * num_nodes + dst, dst * num_nodes + src]))
    return np.stack([keys // num_nodes, keys % num_nodes])


def degrees(edge_index: np.ndarray, num_nodes: int) -> np.ndarray:
    """Number of distinct neighbours of each node (self-loops not counted), ``[N]`` int64.

    ``edge_index`` must be symmetric and deduplicated, as :func:`symmetrise` makes it.
    """
    src, dst = edge_index
    return np.bincount(src[src != dst], minlength=num_nodes).astype(np.int64)


# --------------------------------------------------------------------------- dataset


def build_dataset(
    raw_graphs: list[RawGraph],
    *,
    features: str = "tags",
    folds=None,
    name: str = "dataset",
    dtype: torch.dtype = torch.float64,
) -> GraphDataset:
    """Turn parsed graphs into a :class:`~fastgnn.graph.GraphDataset`.

    Node features are one-hot, as in the GIN and GNTK papers:

    * ``features="tags"``: one-hot node tag, over the sorted vocabulary of tags
      seen anywhere in the dataset (feature dimension = number of distinct tags);
    * ``features="degree"``: one-hot degree (number of distinct neighbours),
      over the sorted vocabulary of degrees seen anywhere in the dataset.

    The raw tags are kept in ``graph.meta["tags"]`` (and attributes, if any, in
    ``graph.meta["attributes"]``).  Labels are mapped to ``0..C-1`` by
    :class:`GraphDataset`; ``folds`` defaults to seeded stratified 10 folds.

    Cost: O(total nodes x feature dimension) memory for the dense one-hot ``x``.
    """
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
    if features == "tags":
        values = [g.tags for g in raw_graphs]
    else:
        values = [degrees(g.edge_index, g.num_nodes) for g in raw_graphs]
    vocab = np.unique(np.concatenate(values)) if values else np.zeros(0, dtype=np.int64)
    np_dtype = _numpy_dtype(dtype)
    graphs = []
    for g, v in zip(raw_graphs, values):
        x = np.zeros((g.num_nodes, len(vocab)), dtype=np_dtype)  # NumPy: cheaper per small graph
        x[np.arange(g.num_nodes), np.searchsorted(vocab, v)] = 1
        x = torch.from_numpy(x).to(dtype)
        meta = {"tags": g.tags, **g.meta}
        if g.attributes is not None:
            meta["attributes"] = g.attributes
        graphs.append(Graph(torch.from_numpy(g.edge_index), g.num_nodes, x, g.label, meta=meta))
    labels = np.array([g.label for g in raw_graphs], dtype=np.int64)
    if folds is None:
        folds = stratified_folds(labels)
    return GraphDataset(graphs, labels, folds=folds, name=name)


def _numpy_dtype(dtype: torch.dtype):
    """The NumPy dtype of a torch dtype (float32 for those NumPy lacks, e.g. bfloat16)."""
    try:
        return torch.zeros(0, dtype=dtype).numpy().dtype
    except TypeError:
        return np.float32


def load_gin_dataset(
    path, *, name: str | None = None, features: str = "tags", folds_dir=None, dtype=torch.float64
) -> GraphDataset:
    """Read a GIN-format ``NAME.txt`` (and its ``10fold_idx``) into a dataset.

    Args:
        path: the ``NAME.txt`` file.
        name: the dataset's name (default: the file's stem).
        features: ``"tags"`` or ``"degree"`` (see :func:`build_dataset`).
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
    lines = _read_lines(path)

    def fail(i: int, message: str):
        raise DatasetFormatError(path, i + 1, message)  # i is the 0-based line index

    if not lines:
        fail(0, "empty file: expected the number of graphs on line 1")
    tokens = lines[0].split()
    if len(tokens) != 1 or not _is_int(tokens[0]) or int(tokens[0]) < 0:
        fail(0, f"expected the number of graphs, got {lines[0][:60]!r}")
    num_graphs = int(tokens[0])

    graphs: list[RawGraph] = []
    num_attributes = None  # set by the first node line; must stay the same
    i = 1
    for k in range(1, num_graphs + 1):
        if i >= len(lines):
            fail(i, f"expected the 'n label' line of graph {k} of {num_graphs}, got end of file")
        tokens = lines[i].split()
        if len(tokens) != 2 or not all(map(_is_int, tokens)):
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
                bad = next(t for t in tokens[2 : 2 + m] if not _is_int(t))
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


def read_folds(folder, num_graphs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read ``train_idx-K.txt`` / ``test_idx-K.txt`` for K = 1, 2, ... (fold 1 first).

    Returns a list of ``(train_idx, test_idx)`` int64 arrays.  Raises
    :class:`DatasetFormatError` if a file is malformed, an index is outside
    ``0..num_graphs-1``, the numbering has a gap, or a graph is in both the
    train and the test part of a fold.
    """
    folder = Path(folder)
    numbers = sorted(
        int(m.group(1))
        for p in folder.iterdir()
        if (m := re.fullmatch(r"test_idx-(\d+)\.txt", p.name))
    )
    if not numbers:
        raise DatasetFormatError(folder, None, "no test_idx-K.txt fold files")
    if numbers[0] == 0:  # some copies carry an extra fold 0: the GIN folds are 1..10
        numbers = numbers[1:]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DatasetFormatError(folder, None, f"fold files are not numbered 1..K: {numbers}")
    folds = []
    for k in numbers:
        parts = []
        for kind in ("train", "test"):
            path = folder / f"{kind}_idx-{k}.txt"
            if not path.exists():
                raise DatasetFormatError(path, None, f"fold {k}: {path.name} is missing")
            idx = read_int_table(path, 1)[:, 0]
            bad = np.nonzero((idx < 0) | (idx >= num_graphs))[0]
            if bad.size:
                raise DatasetFormatError(
                    path, int(bad[0]) + 1,
                    f"graph index {idx[bad[0]]} outside 0..{num_graphs - 1} "
                    f"(the dataset has {num_graphs} graphs)",
                )
            parts.append(idx)
        both = np.intersect1d(*parts)
        if both.size:
            raise DatasetFormatError(
                folder / f"test_idx-{k}.txt", None,
                f"fold {k}: graph {both[0]} is in both the train and the test part",
            )
        folds.append((parts[0], parts[1]))
    return folds


# --------------------------------------------------------------------------- text helpers


def read_int_table(path, ncols: int, delimiter: str = ",") -> np.ndarray:
    """Read a text file of ``ncols`` integers per line into an ``[rows, ncols]`` int64 array.

    Strict: every line must hold exactly ``ncols`` integers separated by
    ``delimiter`` (spaces around them are fine), blank lines are allowed only
    at the end, so row ``r`` is line ``r + 1``.  A bad line raises
    :class:`DatasetFormatError` naming ``path:line``.

    Cost: NumPy's C parser on the fast path; a Python scan only to locate an error.
    """
    path = Path(path)
    text = "\n".join(_read_lines(path))
    body = text.rstrip()
    if not body:
        return np.zeros((0, ncols), dtype=np.int64)
    num_lines = body.count("\n") + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(
                io.StringIO(body), dtype=np.int64, delimiter=delimiter, ndmin=2, comments=None
            )
        if table.shape == (num_lines, ncols):
            return table
    except ValueError:
        pass
    _locate_table_error(path, body.split("\n"), ncols, delimiter)
    raise DatasetFormatError(path, None, f"expected {ncols} integers per line")  # not reached


def _locate_table_error(path: Path, lines: list[str], ncols: int, delimiter: str) -> None:
    what = f"{ncols} integer" if ncols == 1 else f"{ncols} {delimiter!r}-separated integers"
    for i, line in enumerate(lines):
        if not line.strip():
            raise DatasetFormatError(path, i + 1, f"empty line: expected {what}")
        parts = line.split(delimiter)
        if len(parts) != ncols:
            raise DatasetFormatError(path, i + 1, f"expected {what}, got {line.strip()!r}")
        for p in parts:
            if not _is_int(p.strip()):
                raise DatasetFormatError(path, i + 1, f"{p.strip()!r} is not an integer")


def _read_lines(path: Path) -> list[str]:
    """The file's lines (no line ends); FileNotFoundError / DatasetFormatError if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise DatasetNotFoundError(f"{path}: no such file") from e
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DatasetFormatError(path, line, f"not a text file (byte {e.start}: {e.reason})") from e


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True
