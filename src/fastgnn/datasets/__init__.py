"""Benchmark graph-classification datasets and a synthetic generator.

``load(name)`` returns a :class:`~fastgnn.graph.GraphDataset` for one of the
seven benchmarks of the GIN and GNTK papers (MUTAG, PTC, NCI1, PROTEINS,
COLLAB, IMDBBINARY, IMDBMULTI: the table :data:`~fastgnn.datasets.benchmarks.BENCHMARKS`,
one row each), one of the larger sets beyond them (REDDIT-BINARY, DD, ENZYMES:
:data:`~fastgnn.datasets.benchmarks.MORE_BENCHMARKS`) or ``"synthetic"``.  Node features follow
the papers: one-hot node tags for the bioinformatics sets, one-hot degree for the social ones,
the same vector for every node of REDDIT-BINARY (the GIN paper's); ``features=`` chooses
others (``"attributes"``: ENZYMES's 18 continuous ones, from its TU files).  Labels are mapped to
class indices (written 0 and 2, they are 0 and 1).  Folds are the dataset's ``10fold_idx`` when
present.  ``"ogbg-molhiv"`` (``"molhiv"``) is OGB's 41,127 molecules with their scaffold split
(:mod:`fastgnn.datasets.molhiv`; the ``chem`` extra).

Generated sets for scaling runs are functions, not names: :func:`synthetic_collab`
(COLLAB's size) and :func:`molhiv_like` (20,000 molecule-like graphs, ogbg-molhiv's
mean size).

A dataset of one's own loads the same way, by its folder (``load("path/MYSET")``, a folder in
the GIN or the TU format) or by its name when it sits in one of the places below
(``load("MYSET", root=...)``).  The formats are a registry
(:mod:`fastgnn.datasets.formats`): ``find`` and ``load`` try each in turn.

Where the files are looked for, in order (each place searched for the GIN text
format ``D/NAME/NAME.txt`` first, then the TU format ``D/TUNAME/TUNAME_A.txt``):

1. ``root`` (the ``root=`` argument, or ``--data-dir`` on the command line);
2. ``$FASTGNN_DATA``;
3. the user cache: ``cache_dir=``, else ``$FASTGNN_CACHE``, else
   ``$XDG_CACHE_HOME/fastgnn``, else ``~/.cache/fastgnn``.

In each place a dataset is a folder (``NAME/NAME.txt`` or the TU files) or a zip archive of one
(``NAME.zip``, read when the folder is absent or incomplete; extracted once into the cache, never
beside the data).  A text of 4 MiB or more, and any archive, is parsed once and kept in the cache
in a binary form keyed by the source's SHA-256 (:mod:`fastgnn.datasets.cache`): COLLAB's 84 MB
loads in about 1-2 s the second time.

If none has it and ``download=True``, a named dataset's archive (GIN text and the papers' folds) is
fetched from :data:`~fastgnn.datasets.benchmarks.ARCHIVE_URL` into the cache and checked against
the SHA-256 in its row of the benchmark table (other bytes are refused); with ``url=`` (or
``$FASTGNN_URL``) the TU Dortmund zip ``{url}/{TUNAME}.zip`` is fetched instead (:data:`DEFAULT_URL`
is TU Dortmund's address), unverified: a mirror's bytes have no known checksum.  Every archive's
expanded size is capped (a zip bomb is refused).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from fastgnn.datasets import benchmarks as benchmark_table
from fastgnn.datasets.benchmarks import (
    ALL_BENCHMARKS,
    BENCHMARK_NAMES,
    BENCHMARKS,
    MORE_BENCHMARK_NAMES,
    MORE_BENCHMARKS,
    Benchmark,
)
from fastgnn.datasets.download import (
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    default_cache_dir,
    download,
    extract_zip,
    search_dirs,
)
from fastgnn.datasets.formats import (
    FORMATS,
    DatasetFormat,
    expected,
    get_format,
    probe,
    probe_folder,
    read_found,
    register_format,
)
from fastgnn.datasets.gin import load_gin_dataset, read_gin
from fastgnn.datasets.molhiv import find_molhiv, is_molhiv, load_molhiv, read_molhiv
from fastgnn.datasets.molhiv_like import molhiv_like
from fastgnn.datasets.node import NodeData, row_normalize
from fastgnn.datasets.planetoid import (
    PLANETOID_NAMES,
    UnsafePickleError,
    find_planetoid,
    load_planetoid,
    read_planetoid,
)
from fastgnn.datasets.raw import RawGraph, build_dataset, read_folds, symmetrise
from fastgnn.datasets.sbm import sbm
from fastgnn.datasets.synthetic import synthetic, synthetic_collab
from fastgnn.datasets.tu import load_tu_dataset, read_tu
from fastgnn.graph import GraphDataset
from fastgnn.io import save_text

__all__ = [
    "load",
    "find",
    "search_dirs",
    "canonical_name",
    "DATASETS",
    "KNOWN_NAMES",
    "MOLECULE_NAMES",
    "BENCHMARKS",
    "BENCHMARK_NAMES",
    "MORE_BENCHMARKS",
    "MORE_BENCHMARK_NAMES",
    "ALL_BENCHMARKS",
    "Benchmark",
    "DEFAULT_URL",
    "synthetic",
    "synthetic_collab",
    "molhiv_like",
    "load_molhiv",
    "find_molhiv",
    "is_molhiv",
    "read_molhiv",
    "read_gin",
    "read_tu",
    "read_folds",
    "load_gin_dataset",
    "load_tu_dataset",
    "build_dataset",
    "symmetrise",
    "RawGraph",
    "download",
    "extract_zip",
    "default_cache_dir",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DatasetFormat",
    "FORMATS",
    "register_format",
    "DownloadError",
    "NodeData",
    "NODE_NAMES",
    "find_planetoid",
    "is_node_dataset",
    "load_planetoid",
    "read_planetoid",
    "row_normalize",
    "sbm",
    "UnsafePickleError",
]

DEFAULT_URL = "https://www.chrsmrrs.com/graphkerneldatasets"

#: name (as in the GIN/GNTK code) -> (TU Dortmund name, node features of the papers), from
#: :data:`~fastgnn.datasets.benchmarks.BENCHMARKS` and ``MORE_BENCHMARKS``
DATASETS: dict[str, tuple[str, str]] = {b.name: (b.tu_name, b.features) for b in ALL_BENCHMARKS}
#: molecule sets with their own loader and split (:mod:`fastgnn.datasets.molhiv`; the ``chem`` extra)
MOLECULE_NAMES = ["ogbg-molhiv"]
#: the graph datasets ``load`` knows by name: the GNTK paper's benchmarks, those beyond it, OGB's molecules,
#: then ``"synthetic"``
KNOWN_NAMES = [*BENCHMARK_NAMES, *MORE_BENCHMARK_NAMES, *MOLECULE_NAMES, "synthetic"]
#: node-classification datasets: ``load`` returns a NodeData for these
NODE_NAMES = [*PLANETOID_NAMES, "sbm"]


def is_node_dataset(name: str) -> bool:
    """Whether ``name`` (any case) is a node-classification dataset: Cora, CiteSeer or sbm."""
    return str(name).strip().lower() in {n.lower() for n in NODE_NAMES}
_ALIASES = {alias: b.name for b in ALL_BENCHMARKS for alias in b.aliases}


def canonical_name(name: str) -> str:
    """``"imdb-binary"`` -> ``"IMDBBINARY"`` etc.; ValueError listing the known names."""
    key = str(name).strip().upper()
    if key == "SYNTHETIC":
        return "synthetic"
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; known names: {', '.join(KNOWN_NAMES)} "
            f"(aliases: {', '.join(_ALIASES)}); node datasets: {', '.join(NODE_NAMES)}"
        )
    return key


def find(name: str, root=None, *, cache_dir=None) -> tuple[str, Path] | None:
    """Where a dataset's files are: ``(format, path)`` (``("gin", NAME.txt path)``, ``("tu", folder)``)
    or None.  ``name`` is a benchmark's name, a dataset folder's path, or the name of a folder in
    one of :func:`search_dirs`."""
    if _is_path(name):
        found = probe_folder(name)
    else:
        found = probe(search_dirs(root, cache_dir=cache_dir), _names(name))
    return (found.format, found.path) if found else None


def _names(name) -> list[str]:
    """The names a dataset's files may carry: a benchmark's GIN name and aliases, then its TU name
    (last: the TU probe's prefix), else the name itself."""
    try:
        key = canonical_name(name)
    except ValueError:
        return [str(name)]
    if key not in DATASETS:
        return [key]
    tu_name = DATASETS[key][0]
    aliases = [a for a in _ALIASES if _ALIASES[a] == key]
    return [n for n in dict.fromkeys([key, *aliases]) if n != tu_name] + [tu_name]


def _is_path(name) -> bool:
    """Whether ``name`` names a folder or file rather than a dataset: a path object, text with a
    separator, or an existing path that is not a known dataset's name."""
    if isinstance(name, os.PathLike):
        return True
    text = str(name)
    if "/" in text or os.sep in text or text.startswith("~"):
        return True
    known = {n.lower() for n in [*KNOWN_NAMES, *_ALIASES, *NODE_NAMES]}
    return text.strip().lower() not in known and Path(text).exists()


def load(
    name: str,
    root=None,
    *,
    cache_dir=None,
    download: bool = True,
    url: str | None = None,
    features: str | None = None,
    progress: bool = True,
    dtype: torch.dtype | None = None,
) -> GraphDataset | NodeData:
    """Load a benchmark dataset (or ``"synthetic"``) as a GraphDataset.

    ``"Cora"`` and ``"CiteSeer"`` (public split, via :func:`load_planetoid`) and ``"sbm"`` (the
    default :func:`sbm`) are node-classification datasets: for them a :class:`NodeData` is returned.

    Args:
        name: a benchmark's name (:data:`BENCHMARK_NAMES`) or synthetic;
            case-insensitive; each benchmark's aliases (IMDB-BINARY, IMDB-MULTI,
            PTC_MR ...) are accepted too.  Or a dataset of one's own: the path of its folder
            (GIN ``MYSET/MYSET.txt`` or TU ``MYSET/MYSET_A.txt`` ...), or its name
            when its folder sits in ``root`` (or the other searched places).  Its
            node features default to one-hot node labels (one-hot degree for a TU
            dataset without node labels).
        root: a folder to look in first (see the module docstring).
        cache_dir: the user cache: downloads, extracted archives, parsed datasets (default
            :func:`default_cache_dir`).
        download: fetch the dataset when its files are nowhere: the named dataset's archive, checked
            against its known SHA-256 (see the module docstring).
        url: base URL of TU Dortmund-format zips (or the full ``.zip`` address), instead of the
            verified archive; default ``$FASTGNN_URL``.
        features: ``"tags"``, ``"degree"``, ``"constant"``, ``"attributes"`` or ``"tags+attributes"``
            (:func:`~fastgnn.datasets.raw.build_dataset`); default the papers' choice.
        progress: show a progress bar while downloading.
        dtype: dtype of the node features ``x``; default float64 for the graph datasets
            (one-hot), float32 for the node datasets.

    Returns:
        the dataset: graphs with one-hot ``x`` ``[N, F]`` (F the same for every
        graph), labels ``y`` in ``0..C-1``, and 10 folds.

    Raises:
        ValueError: unknown name and no such folder (the message lists the known
            names and the paths looked for).
        DatasetNotFoundError: the files are nowhere and could not be
            downloaded; the message says where it looked and how to point at
            a data folder.
        DatasetFormatError: a file is malformed (message: ``path:line: ...``).
    """
    if is_node_dataset(name):  # node classification
        dtype = dtype or torch.float32
        if str(name).strip().lower() == "sbm":
            return sbm(dtype=dtype)
        return load_planetoid(name, root, cache_dir=cache_dir, download=download, progress=progress, dtype=dtype)
    if is_molhiv(name):  # "ogbg-molhiv" / "molhiv": OGB's molecules with their split (fastgnn.datasets.molhiv)
        return load_molhiv(root, cache_dir=cache_dir, progress=progress, dtype=dtype, features=features)
    dtype = dtype or torch.float64
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if _is_path(name):
        return _load_folder(Path(name).expanduser(), features, dtype, cache)
    try:
        name = canonical_name(name)
    except ValueError as unknown:  # not a benchmark: a dataset of one's own in a searched folder?
        found = probe(search_dirs(root, cache_dir=cache_dir), [str(name)])
        if found is None:
            looked = "\n  ".join(expected(search_dirs(root, cache_dir=cache_dir), [str(name)]))
            raise ValueError(f"{unknown}; nor is it a dataset folder: looked for\n  {looked}\n(or give the "
                             "folder's path)") from None
        return read_found(found, name=str(name), features=features, dtype=dtype, cache_dir=cache)
    if name == "synthetic":
        return synthetic(dtype=dtype)
    tu_name, default_features = DATASETS[name]
    features = features or default_features

    found = probe(search_dirs(root, cache_dir=cache_dir), _names(name))
    if found is None:
        if not download:
            raise DatasetNotFoundError(_not_found_message(name, root, cache_dir, None))
        try:
            if url is None and not os.environ.get("FASTGNN_URL") and name in benchmark_table.ARCHIVES:
                found = _fetch_verified(name, cache, progress)
            else:
                folder = _fetch(tu_name, cache_dir, url, progress)
                found = get_format("tu").probe(folder.parent, [tu_name])
        except DownloadError as e:
            raise DatasetNotFoundError(_not_found_message(name, root, cache_dir, e)) from e
    return read_found(found, name=name, features=features, dtype=dtype, cache_dir=cache)


def _fetch_verified(name: str, cache: Path, progress: bool):
    """Download ``name``'s archive from :data:`~fastgnn.datasets.benchmarks.ARCHIVE_URL` into ``cache/{name}.zip``,
    checked against its known SHA-256 (other bytes are refused, nothing kept); what the probe then finds."""
    dest = cache / f"{name}.zip"
    sha = benchmark_table.ARCHIVES[name]
    download(benchmark_table.ARCHIVE_URL.format(name=name), dest, progress=progress, sha256=sha)
    save_text(dest.with_name(dest.name + ".sha256"), sha + "\n")  # checked on every later read of it
    return get_format("zip").probe(cache, [name])


def _load_folder(path: Path, features, dtype, cache: Path) -> GraphDataset:
    """A dataset given by its folder (or GIN file): any registered format; a benchmark's name as
    the folder's name brings the papers' node features."""
    found = probe_folder(path)
    if found is None:
        looked = "\n  ".join(expected([path.parent], [path.name]))
        why = "does not exist" if not path.exists() else "holds no dataset in a known format"
        raise DatasetNotFoundError(f"{path} {why}: looked for\n  {looked}")
    name = path.stem if path.is_file() else path.name
    try:
        features = features or DATASETS[canonical_name(name)][1]
    except (ValueError, KeyError):
        pass
    return read_found(found, name=name, features=features, dtype=dtype, cache_dir=cache)


def _dataset_url(tu_name: str, url: str | None) -> str:
    base = url or os.environ.get("FASTGNN_URL") or DEFAULT_URL
    return base if base.endswith(".zip") else f"{base.rstrip('/')}/{tu_name}.zip"


def _fetch(tu_name: str, cache_dir, url: str | None, progress: bool) -> Path:
    """Download and unpack ``{url}/{tu_name}.zip`` into ``cache/tu_name``; return that folder."""
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / tu_name
    zip_path = download(_dataset_url(tu_name, url), cache / f"{tu_name}.zip", progress=progress)
    try:
        extract_zip(zip_path, target)
    finally:
        zip_path.unlink(missing_ok=True)
    if not (target / f"{tu_name}_A.txt").is_file():
        shutil.rmtree(target, ignore_errors=True)
        raise DatasetFormatError(zip_path, None, f"the archive holds no {tu_name}_A.txt")
    return target


def _not_found_message(name: str, root, cache_dir, error: Exception | None) -> str:
    tu_name = DATASETS[name][0]
    dirs = search_dirs(root, cache_dir=cache_dir)
    lines = [f"dataset {name} not found. Looked for"]
    for d in dirs:
        lines += [f"  {line}" for line in expected([d], _names(name))]
        if (d / name / "10fold_idx").is_dir() and not (d / name / f"{name}.txt").exists():
            lines.append(f"  ({d / name} holds 10fold_idx but not {name}.txt)")
    if error is None:
        lines.append("and download=False.")
    else:
        lines.append(f"and the download failed: {error}")
    lines.append(
        "Point fastgnn at a folder holding NAME/NAME.txt (or the TU files): "
        f"load({name!r}, root='/path/to/datasets'), or set FASTGNN_DATA=/path/to/datasets, "
        "or pass --data-dir /path/to/datasets on the command line; "
        f"or put the TU zip's contents in {dirs[-1] / tu_name}."
    )
    return "\n".join(lines)
