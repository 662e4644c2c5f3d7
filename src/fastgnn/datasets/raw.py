"""The format-neutral pieces every graph-dataset reader shares.

* :class:`RawGraph`: a graph as parsed from a file, before node features are chosen;
* :func:`symmetrise` (edge lists to sorted, deduplicated, two-way ``edge_index``) and
  :func:`degrees`;
* :func:`build_dataset`: parsed graphs to a :class:`~fastgnn.graph.GraphDataset`, with one-hot
  tag or degree features over the whole dataset, as the GIN and GNTK papers;
* :func:`read_folds`: the ``10fold_idx/{train,test}_idx-K.txt`` fold files (beside GIN and TU
  datasets alike);
* :func:`read_int_table` and :func:`read_lines`: strict text readers whose errors name
  ``path:line``.

A reader of a new format (see :mod:`fastgnn.datasets.formats`) parses its files into
RawGraphs and hands them to :func:`build_dataset`.
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
    "FEATURES",
    "symmetrise",
    "degrees",
    "build_dataset",
    "read_folds",
    "read_int_table",
    "read_lines",
    "read_bytes",
    "decode_lines",
    "is_int",
]

#: the node features :func:`build_dataset` makes
FEATURES = ("tags", "degree", "constant", "attributes", "tags+attributes")


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
    """Each node's degree as networkx counts it, ``[N]`` int64: its distinct neighbours, and 2 for a
    listed self-loop.  That is the degree Du et al.'s and Xu et al.'s ``util.py`` one-hot encode
    (``degree_as_tag``: ``g.degree`` of a networkx ``Graph``), so the features of COLLAB, whose file
    lists 2,837 self-loops, are theirs.

    ``edge_index`` must be symmetric and deduplicated, as :func:`symmetrise` makes it.
    """
    src, dst = edge_index
    loop = src == dst
    return (np.bincount(src[~loop], minlength=num_nodes) + 2 * np.bincount(src[loop], minlength=num_nodes)
            ).astype(np.int64)


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
    * ``features="degree"``: one-hot degree (distinct neighbours, a self-loop counting 2: :func:`degrees`),
      over the sorted vocabulary of degrees seen anywhere in the dataset;
    * ``features="constant"``: one column of ones, the same for every node (the GIN paper's
      choice for REDDIT: "we set all node feature vectors to be the same");

    or continuous, where the file has node attributes (the TU format's ``NAME_node_attributes.txt``):

    * ``features="attributes"``: the attributes as they are, ``[N, k]``;
    * ``features="tags+attributes"``: the attributes, then the one-hot tags (PyG's
      ``TUDataset(use_node_attr=True)`` order).

    The raw tags are kept in ``graph.meta["tags"]`` (and attributes, if any, in
    ``graph.meta["attributes"]``).  Labels are mapped to ``0..C-1`` by
    :class:`GraphDataset`; ``folds`` defaults to seeded stratified 10 folds.

    Cost: O(total nodes x feature dimension) memory for the dense one-hot ``x``.
    """
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
    with_attributes = features in ("attributes", "tags+attributes")
    if with_attributes and any(g.attributes is None for g in raw_graphs):
        raise ValueError(f"{name}: features={features!r} needs node attributes, and some graphs have none")
    if features in ("tags", "tags+attributes"):
        values = [g.tags for g in raw_graphs]
    elif features == "degree":
        values = [degrees(g.edge_index, g.num_nodes) for g in raw_graphs]
    elif features == "constant":
        values = [np.zeros(g.num_nodes, dtype=np.int64) for g in raw_graphs]
    else:
        values = [np.zeros(0, dtype=np.int64) for g in raw_graphs]  # no one-hot part
    vocab = np.unique(np.concatenate(values)) if values else np.zeros(0, dtype=np.int64)
    np_dtype = _numpy_dtype(dtype)
    labels = np.array([g.label for g in raw_graphs], dtype=np.int64)
    classes = np.unique(labels, return_inverse=True)[1].reshape(-1)  # each graph's y: its class index
    graphs = []
    for g, v in zip(raw_graphs, values):
        x = np.zeros((g.num_nodes, len(vocab)), dtype=np_dtype)  # NumPy: cheaper per small graph
        if len(vocab):
            x[np.arange(g.num_nodes), np.searchsorted(vocab, v)] = 1
        if with_attributes:
            x = np.concatenate([g.attributes.astype(np_dtype), x], axis=1)
        x = torch.from_numpy(x).to(dtype)
        meta = {"tags": g.tags, **g.meta}
        if g.attributes is not None:
            meta["attributes"] = g.attributes
        graphs.append(Graph(torch.from_numpy(g.edge_index), g.num_nodes, x, int(classes[len(graphs)]), meta=meta))
    if folds is None:
        folds = stratified_folds(labels)
    return GraphDataset(graphs, labels, folds=folds, name=name)


def _numpy_dtype(dtype: torch.dtype):
    """The NumPy dtype of a torch dtype (float32 for those NumPy lacks, e.g. bfloat16)."""
    try:
        return torch.zeros(0, dtype=dtype).numpy().dtype
    except TypeError:
        return np.float32


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


def read_int_table(path, ncols: int, delimiter: str = ",") -> np.ndarray:
    """Read a text file of ``ncols`` integers per line into an ``[rows, ncols]`` int64 array.

    Strict: every line must hold exactly ``ncols`` integers separated by
    ``delimiter`` (spaces around them are fine), blank lines are allowed only
    at the end, so row ``r`` is line ``r + 1``.  A bad line raises
    :class:`DatasetFormatError` naming ``path:line``.

    Cost: NumPy's C parser on the fast path; a Python scan only to locate an error.
    """
    path = Path(path)
    text = "\n".join(read_lines(path))
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
            if not is_int(p.strip()):
                raise DatasetFormatError(path, i + 1, f"{p.strip()!r} is not an integer")


def read_lines(path: Path) -> list[str]:
    """The file's lines (no line ends); FileNotFoundError / DatasetFormatError if unreadable."""
    return decode_lines(path, read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The file's bytes; :class:`DatasetNotFoundError` naming it if it does not exist."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as e:
        raise DatasetNotFoundError(f"{path}: no such file") from e


def decode_lines(path: Path, data: bytes) -> list[str]:
    """``data`` (the bytes of ``path``) as UTF-8 lines; :class:`DatasetFormatError` naming the line of a
    byte that is not UTF-8."""
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DatasetFormatError(path, line, f"not a text file (byte {e.start}: {e.reason})") from e


def is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True
