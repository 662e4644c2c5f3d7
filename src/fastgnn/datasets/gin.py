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

import warnings
from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.download import DatasetFormatError
from fastgnn.datasets.packed import Packed, index_dtype
from fastgnn.datasets.raw import RawGraph, build_dataset, decode_lines, is_int, read_bytes, read_folds, symmetrise
from fastgnn.graph import GraphDataset

__all__ = ["read_gin", "read_gin_packed", "load_gin_dataset"]


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

    Cost: see :func:`read_gin_packed`.
    """
    return read_gin_packed(path).to_raw()


def read_gin_packed(path) -> Packed:
    """:func:`read_gin`'s graphs as concatenated arrays (:class:`~fastgnn.datasets.packed.Packed`).

    A well-formed file of integers (no attributes) is parsed vectorised, at the speed of NumPy's
    number parser (COLLAB's 84 MB in a few seconds): the whole file is read at once, its tokens
    parsed by ``np.fromstring``, its line structure checked with array operations, and the edges
    symmetrised on one sparse matrix of the whole dataset (SciPy's transpose and sum, O(E)).
    Anything else (node attributes, bytes outside printable ASCII, any deviation) goes to the
    line-by-line parser, which gives the same graphs or locates the error.

    Cost: O(file size); peak memory about 8 bytes per token beyond the file (tokens, their
    positions and the edge arrays).
    """
    path = Path(path)
    data = read_bytes(path)
    packed = _parse_fast(data)
    if packed is None:
        packed = Packed.from_raw(_parse_strict(path, decode_lines(path, data)))
    return packed


# --------------------------------------------------------------------------- fast path

#: bytes the fast path accepts: printable ASCII, space, tab, LF, and CR (before an LF only)
_ACCEPTED = np.zeros(256, dtype=bool)
_ACCEPTED[32:127] = True
_ACCEPTED[[9, 10, 13]] = True


def _parse_fast(data: bytes) -> Packed | None:
    """The graphs of a GIN text without attributes, vectorised; None when the text is anything else
    (the strict parser then parses it or locates the error)."""
    a = np.frombuffer(data, dtype=np.uint8)
    if a.size == 0 or not _ACCEPTED[a].all():
        return None
    cr = np.flatnonzero(a == 13)
    if cr.size and (cr[-1] + 1 >= a.size or (a[cr + 1] != 10).any()):
        return None  # a lone CR ends a line for str.splitlines: the strict parser's business
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "string or file could not be read to its end": caught below
            tok = np.fromstring(data, dtype=np.int64, sep=" ")
    except ValueError:  # the same, raised (NumPy 2 when warnings are errors, or nothing parsed)
        return None
    # where each token starts, and each line's first token and token count
    ws = a <= 32
    starts = np.flatnonzero(ws[:-1] & ~ws[1:]) + 1
    if not ws[0]:
        starts = np.concatenate([[0], starts])
    del ws
    if starts.size != tok.size or not tok.size:
        return None  # a token that is not an integer, or no tokens
    if (tok == np.iinfo(np.int64).max).any() or (tok == np.iinfo(np.int64).min).any():
        return None  # clamped: Python's int would read another number
    newlines = np.flatnonzero(a == 10)
    begins = np.concatenate([[0], newlines + 1])
    if begins[-1] == a.size:
        begins = begins[:-1]
    first = np.searchsorted(starts, begins)  # index of each line's first token
    del starts, newlines
    count = np.diff(np.append(first, tok.size))  # tokens on each line
    return _structure(tok, first, count)


def _structure(tok: np.ndarray, first: np.ndarray, count: np.ndarray) -> Packed | None:
    """Check the line structure (``G``; per graph ``n label``, then ``n`` lines ``tag m nb_1..nb_m``;
    then blank lines only) and build the packed graphs; None at the first deviation."""
    num_lines = len(count)
    num_graphs = int(tok[0])
    if count[0] != 1 or num_graphs <= 0:
        return None
    headers = np.empty(num_graphs, dtype=np.int64)
    counts, firsts, tokens = count.tolist(), first, tok
    i = 1
    for k in range(num_graphs):  # headers depend on the node counts before them: one step per graph
        if i >= num_lines or counts[i] != 2:
            return None
        n = int(tokens[firsts[i]])
        if n <= 0:
            return None
        headers[k] = i
        i += n + 1
    if i > num_lines or count[i:].any():
        return None
    num_nodes = tok[first[headers]]
    labels = tok[first[headers] + 1]
    total = int(num_nodes.sum())
    node_start = np.cumsum(num_nodes) - num_nodes
    node_lines = np.arange(total) + np.repeat(headers + 1 - node_start, num_nodes)
    m = tok[first[node_lines] + 1]
    if (m < 0).any() or not np.array_equal(count[node_lines], m + 2):
        return None  # a negative count, or attributes after the neighbours
    tags = tok[first[node_lines]]
    neighbour = np.ones(tok.size, dtype=bool)  # every token but the first two of each line
    neighbour[first[count > 0]] = False
    neighbour[first[count > 1] + 1] = False
    nbrs = tok[neighbour]
    del neighbour
    if nbrs.size != int(m.sum()):
        return None
    graph_start = np.repeat(node_start, num_nodes)  # each node's graph's first node
    bound = np.repeat(np.repeat(num_nodes, num_nodes), m)
    if nbrs.size and ((nbrs < 0).any() or (nbrs >= bound).any()):
        return None
    del bound
    index = np.int32 if total < 2**31 else np.int64
    dst = (nbrs + np.repeat(graph_start, m)).astype(index)
    del nbrs
    rows, cols = _symmetric_pattern(dst, m, total)
    del dst
    edge_start = rows[node_start]
    edge_counts = np.append(edge_start[1:], rows[-1]) - edge_start
    per_row = np.diff(rows)
    local = index_dtype(int(num_nodes.max()))
    src = (np.repeat(np.arange(total, dtype=index) - graph_start.astype(index), per_row)).astype(local)
    dst = (cols - np.repeat(graph_start.astype(index), per_row)).astype(local)
    return Packed(num_nodes=num_nodes.astype(np.int64), labels=labels.astype(np.int64), tags=tags.astype(np.int64),
                  edge_counts=edge_counts.astype(np.int64), src=src, dst=dst)


def _symmetric_pattern(dst: np.ndarray, per_row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The CSR pattern (``indptr [n + 1]``, ``indices``) of ``A ∪ Aᵀ``, rows sorted and deduplicated, where
    row ``u`` of ``A`` lists ``dst`` over ``per_row[u]`` entries: :func:`~fastgnn.datasets.raw.symmetrise`
    for the whole dataset at once (the same pairs, in the same order).  SciPy's sort, transpose and sum,
    O(E) where the lists are already sorted and symmetric, as in the published files."""
    from scipy import sparse

    indptr = np.concatenate([[0], np.cumsum(per_row)])
    a = sparse.csr_matrix((np.ones(dst.size, dtype=bool), dst, indptr), shape=(n, n))
    a.sum_duplicates()  # sorts each row first where needed
    t = a.T.tocsr()
    if not (np.array_equal(t.indptr, a.indptr) and np.array_equal(t.indices, a.indices)):
        a = a + t
        a.sum_duplicates()
    return a.indptr.astype(np.int64), a.indices


def _parse_strict(path: Path, lines: list[str]) -> list[RawGraph]:
    """The line-by-line parser: every file the fast path declines (attributes, odd bytes, an error to
    locate) comes here, which parses it or raises the error naming ``path:line``.  O(file size) Python
    operations (about 2 s per 1 MB of neighbour lists)."""
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


