"""Planetoid citation graphs (Cora, CiteSeer) with the standard public split.

The files are the original ``ind.{name}.{x,y,tx,ty,allx,ally,graph,test.index}``
of Yang et al. (2016), as used by Kipf & Welling (GCN) and Veličković et al.
(GAT): Python 2 pickles of SciPy CSR matrices, NumPy arrays and a
``defaultdict(list)`` adjacency, plus a text file of test indices.

**Security.** A pickle can name any importable callable and have it called
while loading, so ``pickle.load`` on a tampered file runs arbitrary code.
These files are read with :class:`RestrictedUnpickler`, which resolves only
the few exact globals the genuine files use (:data:`ALLOWED_GLOBALS`) and
refuses everything else with :class:`UnsafePickleError`, naming the file and
the refused global.  What comes out is then checked for the expected types
and shapes.

**Split** (Kipf's ``load_data``, PyG's ``Planetoid(split="public")``): the
first ``len(y)`` nodes (20 per class) train, the next 500 validate, the 1000
nodes of ``test.index`` test.  Test rows are put back in graph order.
CiteSeer's ``test.index`` skips 15 nodes that have no row in ``tx`` (missing
from the citation data, though the graph file links some of them): they get
zero features and label 0 and are in no mask, as in Kipf's code and PyG.

**Edges**: the adjacency lists, symmetrised, self-loops and duplicates
removed, sorted (PyG's ``edge_index`` exactly: Cora 10556, CiteSeer 9104
directed edges).

Where the files are looked for: each of :func:`~fastgnn.datasets.download.search_dirs`
(``root``, ``$FASTGNN_DATA``, the cache), in the folder itself, then in
``planetoid/`` and ``NAME/raw/`` (PyG's layout) below it.  If none has them
and ``download=True``, the eight files are fetched from
:data:`DEFAULT_PLANETOID_URL` into ``CACHE/planetoid/``, one atomic download
each.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.download import (
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    default_cache_dir,
    search_dirs,
)
from fastgnn.datasets.download import download as _download
from fastgnn.datasets.node import NodeData, row_normalize

__all__ = [
    "load_planetoid",
    "read_planetoid",
    "find_planetoid",
    "restricted_load",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "ALLOWED_GLOBALS",
    "PLANETOID_NAMES",
    "PLANETOID_PARTS",
    "DEFAULT_PLANETOID_URL",
]

#: canonical name -> the file prefix (``ind.{prefix}.x`` ...)
PLANETOID_NAMES = {"Cora": "cora", "CiteSeer": "citeseer"}
PLANETOID_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
DEFAULT_PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
NUM_VAL = 500


class UnsafePickleError(DatasetFormatError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`; nothing was executed."""


def _numpy_reconstruct():
    try:  # NumPy 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError(f"_codecs.encode refused for {type(obj).__name__} / {encoding!r}")
    return obj.encode(encoding, errors)


def _csr_matrix():
    from scipy.sparse import csr_matrix

    return csr_matrix


#: (module, name) as written in the pickle -> a function returning the object.  Python 2
#: pickles (the originals) say ``numpy.core.multiarray`` / ``scipy.sparse.csr`` / ``__builtin__``;
#: the modern spellings are accepted too, for files re-pickled by current NumPy/SciPy.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("scipy.sparse.csr", "csr_matrix"): _csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): _csr_matrix,
    ("collections", "defaultdict"): lambda: collections.defaultdict,
    ("__builtin__", "list"): lambda: list,
    ("builtins", "list"): lambda: list,
    # Python 3 writes bytes as _codecs.encode(str, "latin1") under protocol 2 (NumPy array data);
    # torch.load(weights_only=True) admits it too: it only encodes a string
    ("_codecs", "encode"): lambda: _codecs_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` (exact module and name)."""

    def __init__(self, file, path=None, **kwargs):
        kwargs.setdefault("encoding", "latin1")
        super().__init__(file, **kwargs)
        self.path = path

    def find_class(self, module, name):
        factory = ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise UnsafePickleError(
                self.path or "<pickle>", None,
                f"refused to load the global {module}.{name}: this pickle asks for code outside the "
                "NumPy/SciPy types a Planetoid file holds (the file may have been tampered with); "
                "nothing was executed"
            )
        return factory()


def restricted_load(path):
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``encoding="latin1"``).

    Raises:
        UnsafePickleError: the pickle names a refused global.
        DatasetFormatError: not a readable pickle (truncated, garbage ...).
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), path=path).load()
    except DatasetFormatError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError from a mangled stream ...
        raise DatasetFormatError(path, None, f"not a readable Planetoid pickle ({type(e).__name__}: {e})") from e


# --------------------------------------------------------------------------- locating and fetching


def canonical_planetoid_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"``, ``"citeseer"`` -> ``"CiteSeer"``; ValueError listing the known names."""
    for canon in PLANETOID_NAMES:
        if str(name).strip().lower() == canon.lower():
            return canon
    raise ValueError(f"unknown Planetoid dataset {name!r}; known names: {', '.join(PLANETOID_NAMES)}")


def _files(folder: Path, prefix: str) -> dict[str, Path]:
    return {p: folder / f"ind.{prefix}.{p}" for p in PLANETOID_PARTS}


def _candidate_folders(name: str, root, cache_dir) -> list[Path]:
    out = []
    for d in search_dirs(root, cache_dir=cache_dir):
        out += [d, d / "planetoid", d / name / "raw"]
    return list(dict.fromkeys(out))


def find_planetoid(name: str, root=None, *, cache_dir=None) -> Path | None:
    """The folder holding all eight ``ind.NAME.*`` files, or None."""
    name = canonical_planetoid_name(name)
    prefix = PLANETOID_NAMES[name]
    for folder in _candidate_folders(name, root, cache_dir):
        if all(p.is_file() for p in _files(folder, prefix).values()):
            return folder
    return None


def _fetch(name: str, cache_dir, url: str | None, progress: bool) -> Path:
    prefix = PLANETOID_NAMES[name]
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = cache / "planetoid"
    base = (url or os.environ.get("FASTGNN_PLANETOID_URL") or DEFAULT_PLANETOID_URL).rstrip("/")
    for part, path in _files(folder, prefix).items():
        if not path.is_file():
            _download(f"{base}/ind.{prefix}.{part}", path, progress=progress)
    return folder


def _not_found_message(name, root, cache_dir, error) -> str:
    prefix = PLANETOID_NAMES[name]
    lines = [f"dataset {name} not found. Looked for ind.{prefix}.{{{','.join(PLANETOID_PARTS)}}} in"]
    for folder in _candidate_folders(name, root, cache_dir):
        missing = [p for p in _files(folder, prefix).values() if not p.is_file()]
        if len(missing) < len(PLANETOID_PARTS):
            lines.append(f"  {folder} (incomplete: missing {', '.join(p.name for p in missing)})")
        else:
            lines.append(f"  {folder}")
    lines.append("and download=False." if error is None else f"and the download failed: {error}")
    lines.append(f"Point fastgnn at a folder holding the ind.{prefix}.* files: "
                 f"load({name!r}, root='/path/to/planetoid'), or set FASTGNN_DATA, or pass --data-dir.")
    return "\n".join(lines)


def load_planetoid(
    name: str,
    root=None,
    *,
    cache_dir=None,
    download: bool = True,
    url: str | None = None,
    progress: bool = True,
    normalize_features: bool = False,
    dtype: torch.dtype = torch.float32,
) -> NodeData:
    """Cora or CiteSeer with the public split, as :class:`NodeData`.

    Args:
        name: ``"Cora"`` or ``"CiteSeer"`` (case-insensitive).
        root: a folder to look in first (see the module docstring).
        cache_dir: the download cache (default :func:`~fastgnn.datasets.default_cache_dir`).
        download: fetch the files when they are nowhere.
        url: base address of the ``ind.*`` files (default ``$FASTGNN_PLANETOID_URL`` or
            :data:`DEFAULT_PLANETOID_URL`).
        progress: progress bar while downloading.
        normalize_features: divide each feature row by its sum (GCN's and GAT's preprocessing).
        dtype: dtype of ``x``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
        DatasetNotFoundError: the files are nowhere and could not be downloaded.
        DatasetFormatError: a file is malformed (the message names it); :class:`UnsafePickleError`
            when a pickle asks for a global it should not.
    """
    name = canonical_planetoid_name(name)
    folder = find_planetoid(name, root, cache_dir=cache_dir)
    if folder is None:
        if not download:
            raise DatasetNotFoundError(_not_found_message(name, root, cache_dir, None))
        try:
            folder = _fetch(name, cache_dir, url, progress)
        except DownloadError as e:
            raise DatasetNotFoundError(_not_found_message(name, root, cache_dir, e)) from e
    return read_planetoid(folder, name, normalize_features=normalize_features, dtype=dtype)


# --------------------------------------------------------------------------- reading


#: the largest dense matrix a Planetoid file may ask for (PubMed's allx, the largest, is 18,717 x 500: 75 MB)
MAX_DENSE_BYTES = 2**31


def _dense(obj, path: Path, what: str) -> np.ndarray:
    from scipy import sparse

    if sparse.issparse(obj):
        rows, cols = (int(d) for d in obj.shape)
        _check_size(path, what, rows, cols)
        try:  # a pickle sets the arrays as it likes: indptr, indices and shape must agree before toarray reads them
            obj.check_format(full_check=True)
        except (ValueError, TypeError, AttributeError) as e:
            raise DatasetFormatError(path, None, f"the {what} matrix is an inconsistent sparse matrix ({e})") from e
        obj = obj.toarray()
    if not isinstance(obj, np.ndarray) or obj.ndim != 2:
        raise DatasetFormatError(path, None, f"expected a 2-D {what} matrix, got {type(obj).__name__}"
                                 + (f" of shape {obj.shape}" if isinstance(obj, np.ndarray) else ""))
    if obj.dtype == object or not np.issubdtype(obj.dtype, np.number):
        raise DatasetFormatError(path, None, f"expected a numeric {what} matrix, got dtype {obj.dtype}")
    if not np.isfinite(obj).all():
        raise DatasetFormatError(path, None, f"the {what} matrix holds non-finite values")
    return obj


def _check_size(path: Path, what: str, rows: int, cols: int) -> None:
    """Refuse, before anything is allocated, a matrix larger than :data:`MAX_DENSE_BYTES` as float64 (a
    54-byte pickle can declare a 300,000 x 300,000 sparse matrix: 671 GiB dense)."""
    need = 8 * rows * cols
    if rows < 0 or cols < 0 or need > MAX_DENSE_BYTES:
        raise DatasetFormatError(
            path, None, f"the {what} matrix is declared {rows:,} x {cols:,}: {need / 2**30:,.1f} GiB as a dense "
                        f"float64 array, over the {MAX_DENSE_BYTES / 2**30:.0f} GiB a Planetoid file can need "
                        "(PubMed's allx is 18,717 x 500); refused before allocating it")


def _labels(obj, path: Path, rows: int) -> np.ndarray:
    y = _dense(obj, path, "one-hot label")
    if y.shape[0] != rows:
        raise DatasetFormatError(path, None, f"{y.shape[0]} label rows for {rows} feature rows")
    return y


def _graph(obj, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(obj, dict):
        raise DatasetFormatError(path, None, f"expected a dict of adjacency lists, got {type(obj).__name__}")
    src, dst = [], []
    for k, v in obj.items():
        if not isinstance(k, (int, np.integer)) or not isinstance(v, (list, tuple)):
            raise DatasetFormatError(path, None, f"adjacency entry {k!r}: expected int -> list of ints")
        if any(not isinstance(u, (int, np.integer)) for u in v):
            raise DatasetFormatError(path, None, f"adjacency list of node {k} holds a non-integer")
        src.append(np.full(len(v), int(k), dtype=np.int64))
        dst.append(np.asarray(v, dtype=np.int64))
    if not src:
        raise DatasetFormatError(path, None, "the adjacency dict is empty")
    return np.concatenate(src), np.concatenate(dst)


def _test_index(path: Path) -> np.ndarray:
    out = []
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as e:
        raise DatasetFormatError(path, None, "not a text file of node indices") from e
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(int(line))
        except ValueError:
            raise DatasetFormatError(path, i, f"expected one node index per line, got {line.strip()!r}") from None
    if not out:
        raise DatasetFormatError(path, None, "no test indices: the file is empty")
    return np.asarray(out, dtype=np.int64)


def read_planetoid(folder, name: str, *, normalize_features: bool = False,
                   dtype: torch.dtype = torch.float32) -> NodeData:
    """Read the eight ``ind.NAME.*`` files of ``folder`` (see the module docstring)."""
    name = canonical_planetoid_name(name)
    files = _files(Path(folder), PLANETOID_NAMES[name])
    for p in files.values():
        if not p.is_file():
            raise DatasetNotFoundError(f"{p}: no such file (Planetoid dataset {name} incomplete)")
    obj = {part: restricted_load(files[part]) for part in PLANETOID_PARTS if part != "test.index"}
    x, tx, allx = (_dense(obj[p], files[p], "feature") for p in ("x", "tx", "allx"))
    y, ty, ally = (_labels(obj[p], files[p], m.shape[0]) for p, m in (("y", x), ("ty", tx), ("ally", allx)))
    num_features, num_classes = allx.shape[1], ally.shape[1]
    for p, m in (("x", x), ("tx", tx)):
        if m.shape[1] != num_features:
            raise DatasetFormatError(files[p], None, f"{m.shape[1]} feature columns, but allx has {num_features}")
    for p, m in (("y", y), ("ty", ty)):
        if m.shape[1] != num_classes:
            raise DatasetFormatError(files[p], None, f"{m.shape[1]} label columns, but ally has {num_classes}")
    test_index = _test_index(files["test.index"])
    if len(test_index) != tx.shape[0]:
        raise DatasetFormatError(files["test.index"], None,
                                 f"{len(test_index)} test indices, but tx has {tx.shape[0]} rows")
    if test_index.min() < allx.shape[0]:
        raise DatasetFormatError(files["test.index"], None,
                                 f"test index {int(test_index.min())} falls inside allx's {allx.shape[0]} rows")
    if len(np.unique(test_index)) != len(test_index):
        raise DatasetFormatError(files["test.index"], None, "a test index appears twice")

    # Test rows in graph order; CiteSeer's missing (isolated) test nodes get zero rows.
    lo, hi = int(test_index.min()), int(test_index.max())
    n = hi + 1
    gaps = n - allx.shape[0] - len(test_index)  # CiteSeer's 15 missing test nodes; a handful in any genuine file
    if gaps > len(test_index):
        raise DatasetFormatError(files["test.index"], None,
                                 f"test index {hi} leaves {gaps:,} nodes between allx's {allx.shape[0]} rows and the "
                                 f"{len(test_index)} test rows without features; refused before allocating "
                                 f"{n:,} rows")
    _check_size(files["test.index"], "feature", n, num_features)
    features = np.zeros((n, num_features), dtype=np.float64)
    onehot = np.zeros((n, num_classes), dtype=np.float64)
    features[: allx.shape[0]] = allx
    onehot[: ally.shape[0]] = ally
    features[test_index] = tx
    onehot[test_index] = ty
    if lo != allx.shape[0]:  # nodes between allx and the first test index would be featureless
        raise DatasetFormatError(files["test.index"], None,
                                 f"test indices start at {lo}, expected {allx.shape[0]} (right after allx)")

    src, dst = _graph(obj["graph"], files["graph"])
    if src.max(initial=0) >= n or dst.max(initial=0) >= n or src.min(initial=0) < 0 or dst.min(initial=0) < 0:
        bad = max(int(src.max()), int(dst.max())) if max(src.max(), dst.max()) >= n else min(src.min(), dst.min())
        raise DatasetFormatError(files["graph"], None, f"node {int(bad)} outside 0..{n - 1}")
    if len(obj["graph"]) > n:
        raise DatasetFormatError(files["graph"], None, f"adjacency of {len(obj['graph'])} nodes, features of {n}")
    ei = np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1)
    ei = ei[:, ei[0] != ei[1]]
    key = np.unique(ei[1] * n + ei[0])  # sorted by target, then source (PyG's order)
    edge_index = torch.from_numpy(np.stack([key % n, key // n]))

    labels = onehot.argmax(1)
    num_train = x.shape[0]
    if num_train + NUM_VAL > allx.shape[0]:
        raise DatasetFormatError(files["allx"], None,
                                 f"{allx.shape[0]} rows: too few for {num_train} training + {NUM_VAL} validation nodes")
    train = np.zeros(n, dtype=bool)
    val = np.zeros(n, dtype=bool)
    test = np.zeros(n, dtype=bool)
    train[:num_train] = True
    val[num_train: num_train + NUM_VAL] = True
    test[test_index] = True

    xt = torch.from_numpy(features)
    if normalize_features:
        xt = row_normalize(xt)
    return NodeData(
        x=xt.to(dtype), edge_index=edge_index, y=torch.from_numpy(labels), train_mask=torch.from_numpy(train),
        val_mask=torch.from_numpy(val), test_mask=torch.from_numpy(test), num_classes=num_classes, name=name,
        meta={"folder": str(folder), "normalize_features": normalize_features,
              "missing_test_nodes": int(n - allx.shape[0] - len(test_index))},
    )
