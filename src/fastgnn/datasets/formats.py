"""The dataset-format registry: the on-disk formats :func:`fastgnn.datasets.load` and ``find`` know.

A format is a :class:`DatasetFormat`: a ``probe`` that says whether a folder holds a dataset in
that format (and where its files are), and a ``read`` that loads what the probe found.
``find`` and ``load`` loop over :data:`FORMATS` in order (the GIN text format first, then the
TU format, then a zip archive of either), so a new format is one new entry
(:func:`register_format`), not new branches in ``find`` and ``load``.

Probing is by name: ``probe(d, names)`` looks in the folder ``d`` for the dataset called by one
of ``names`` (the GIN name and the TU name of a benchmark, e.g. ``("PTC", "PTC_MR")``, or one
user name).  A dataset given by its own folder (``load("path/MYSET")``) is probed as
``probe(path.parent, ["MYSET"])``; a TU folder whose files carry another prefix than the
folder's name is found by its single ``*_A.txt`` file.  Every format is tried in a folder before
the next folder, so ``ROOT/NAME.zip`` is read when ``ROOT/NAME/`` is absent or incomplete (COLLAB's
``10fold_idx`` without ``COLLAB.txt``).

The built-in formats parse into :class:`~fastgnn.datasets.packed.Packed` arrays (their ``parse``),
which the binary cache (:mod:`fastgnn.datasets.cache`) stores: a GIN text of
:data:`~fastgnn.datasets.cache.MIN_CACHED_BYTES` or more, and whatever an archive holds, keyed by the
SHA-256 of the source file.  An archive is extracted once into the cache
(:mod:`fastgnn.datasets.archive`).
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from fastgnn.datasets.archive import extracted
from fastgnn.datasets.cache import MIN_CACHED_BYTES, cache_file, file_sha256, load_parsed, save_parsed
from fastgnn.datasets.download import DatasetFormatError, default_cache_dir
from fastgnn.datasets.gin import read_gin_packed
from fastgnn.datasets.packed import Packed
from fastgnn.datasets.raw import build_dataset, read_folds
from fastgnn.datasets.tu import load_tu_dataset, read_tu, tu_files

__all__ = ["DatasetFormat", "Found", "Parsed", "FORMATS", "register_format", "probe", "probe_folder", "read_found"]


@dataclass(frozen=True)
class Found:
    """Where a dataset is: its format's name, the path its reader takes, and the file prefix."""

    format: str
    path: Path
    prefix: str


class Parsed(NamedTuple):
    """A format's parse of a dataset: the graphs, the folds beside them (or None) and the node
    features a dataset that is not a benchmark gets by default."""

    packed: Packed
    folds: list | None
    default_features: str


@dataclass(frozen=True)
class DatasetFormat:
    """One on-disk format.

    Attributes:
        name: short name (``"gin"``, ``"tu"``, ``"zip"``), printed by ``fastgnn datasets``.
        probe: ``probe(d, names) -> Found | None``: the dataset called by one of ``names`` in the
            folder ``d``, if it is there in this format.
        read: ``read(found, name=, features=, dtype=[, cache_dir=]) -> GraphDataset``; ``features``
            None means the format's default (:attr:`default_features`); ``cache_dir`` (the user cache,
            for the binary cache and extracted archives) is passed when ``read`` takes it.
        expected: ``expected(d, names) -> list[str]``: the paths it looked for, for the
            not-found message.
        default_features: ``default_features(found) -> "tags" | "degree"``: node features of a
            dataset that is not a benchmark (the benchmarks use the papers' choice).
        parse: ``parse(found, cache_dir) -> Parsed``, or None: the graphs before node features are
            chosen; an archive holding this format is cached through it.
    """

    name: str
    probe: Callable[[Path, Sequence[str]], Found | None]
    read: Callable
    expected: Callable[[Path, Sequence[str]], list]
    default_features: Callable[[Found], str]
    parse: Callable[[Found, Path | None], Parsed] | None = None


def read_found(found: Found, *, name: str, features: str | None, dtype, cache_dir=None):
    """Read what a probe found with its format's ``read`` (``cache_dir`` passed where it is taken)."""
    read = get_format(found.format).read
    params = inspect.signature(read).parameters
    takes_cache = "cache_dir" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    extra = {"cache_dir": cache_dir} if takes_cache else {}
    return read(found, name=name, features=features, dtype=dtype, **extra)


def _reader(parse: Callable[[Found, Path | None], Parsed]) -> Callable:
    """The ``read`` of a format that parses into :class:`Parsed`: parse, then build the dataset."""

    def read(found: Found, *, name: str, features: str | None, dtype, cache_dir=None):
        packed, folds, default = parse(found, cache_dir)
        features = features or default
        if features in ("attributes", "tags+attributes") and packed.attributes is None:
            raise ValueError(
                f"{found.path}: {name} has no node attributes here, so features={features!r} cannot be built "
                "(GIN text files rarely carry them); read the TU files, whose NAME_node_attributes.txt holds them "
                "(for ENZYMES: load('ENZYMES', root='<folder holding ENZYMES/ENZYMES_A.txt>', "
                f"features={features!r})), "
                "or use features='tags' or 'degree'")
        raw = packed.to_raw()
        del packed  # the graphs' own arrays from here on: COLLAB's packed edges are 200 MB
        return build_dataset(raw, features=features, folds=folds, name=name, dtype=dtype)

    return read


def _cached(source: Path, reader: str, parse: Callable[[], Packed], cache_dir, name: str) -> Packed:
    """``parse()``, through the binary cache when ``source`` is large enough and a cache is given."""
    size = source.stat().st_size
    if cache_dir is None or size < MIN_CACHED_BYTES:
        return parse()
    key = {"reader": reader, "sha256": file_sha256(source), "bytes": size}
    path = cache_file(cache_dir, name, source)
    hit = load_parsed(path, key)
    if hit is not None:
        return hit[0]
    packed = parse()
    _save(path, key, packed)
    return packed


def _save(path: Path, key: dict, packed: Packed, folds=None, info=None) -> None:
    """Write the cache; a cache that cannot be written (read-only, full disk) costs a warning, not the load."""
    try:
        save_parsed(path, key, packed, folds, info)
    except OSError as e:
        warnings.warn(f"{path}: the parsed dataset could not be cached ({e}); it will be parsed again next time",
                      RuntimeWarning, stacklevel=3)


# --------------------------------------------------------------------------- GIN text format


def _gin_probe(d: Path, names: Sequence[str]) -> Found | None:
    for n in dict.fromkeys(names):
        if (d / n / f"{n}.txt").is_file():
            return Found("gin", d / n / f"{n}.txt", n)
    return None


def _gin_parse(found: Found, cache_dir=None) -> Parsed:
    path = Path(found.path)
    packed = _cached(path, "gin", lambda: read_gin_packed(path), cache_dir, found.prefix)
    folds_dir = path.parent / "10fold_idx"
    folds = read_folds(folds_dir, len(packed)) if folds_dir.is_dir() else None
    return Parsed(packed, folds, "tags")


def _gin_expected(d: Path, names: Sequence[str]) -> list:
    return [f"{d / names[0] / (names[0] + '.txt')} (GIN text format)"]


# --------------------------------------------------------------------------- TU format


def _tu_probe(d: Path, names: Sequence[str]) -> Found | None:
    names = list(dict.fromkeys(names))
    prefix = names[-1]  # the TU name of a benchmark (PTC_MR), else the one name
    for folder in dict.fromkeys([d / prefix, *(d / n for n in names)]):
        if (folder / f"{prefix}_A.txt").is_file():
            return Found("tu", folder, prefix)
    if len(names) == 1:  # a user's folder whose files carry another prefix
        folder = d / names[0]
        found = sorted(folder.glob("*_A.txt")) if folder.is_dir() else []
        if len(found) == 1:
            return Found("tu", folder, found[0].name[: -len("_A.txt")])
    return None


def _tu_parse(found: Found, cache_dir=None) -> Parsed:
    folder = Path(found.path)
    graphs = read_tu(folder, found.prefix)
    folds_dir = folder / "10fold_idx"
    folds = read_folds(folds_dir, len(graphs)) if folds_dir.is_dir() else None
    return Parsed(Packed.from_raw(graphs), folds, _tu_default_features(found))


def _tu_read(found: Found, *, name: str, features: str | None, dtype, cache_dir=None):
    if features in ("attributes", "tags+attributes"):  # checked where the attributes are known
        return _reader(_tu_parse)(found, name=name, features=features, dtype=dtype)
    return load_tu_dataset(found.path, found.prefix, name=name,
                           features=features or _tu_default_features(found), dtype=dtype)


def _tu_default_features(found: Found) -> str:
    """One-hot node labels when the dataset has them, else one-hot degree (the papers' choice for
    the social datasets, which have none)."""
    return "tags" if tu_files(found.path, found.prefix)["node_labels"].is_file() else "degree"


def _tu_expected(d: Path, names: Sequence[str]) -> list:
    prefix = names[-1]
    return [f"{d / prefix / (prefix + '_A.txt')} (TU format)"]


# --------------------------------------------------------------------------- zip archive of either


def _zip_probe(d: Path, names: Sequence[str]) -> Found | None:
    for n in dict.fromkeys(names):
        if (d / f"{n}.zip").is_file():
            return Found("zip", d / f"{n}.zip", n)
    return None


def _zip_parse(found: Found, cache_dir=None) -> Parsed:
    """The archive's dataset: from the binary cache (keyed by the archive's SHA-256), else extracted once
    into the cache, parsed by the format it holds, and cached."""
    archive = Path(found.path)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    sha = file_sha256(archive)
    record = archive.with_name(archive.name + ".sha256")  # written beside a verified download
    if record.is_file() and record.read_text().strip() != sha:
        raise DatasetFormatError(archive, None, f"its SHA-256 {sha[:16]}... is not the {record.read_text()[:16]}... "
                                                f"it had when it was downloaded ({record.name}): it was altered or cut "
                                                "short since; delete both files and load again to download it afresh")
    key = {"reader": "zip", "sha256": sha, "bytes": archive.stat().st_size}
    path = cache_file(cache, found.prefix, archive)
    hit = load_parsed(path, key)
    if hit is not None:
        packed, folds, info = hit
        return Parsed(packed, folds, info.get("default_features", "tags"))
    try:
        packed, folds, default, fmt = _parse_inside(extracted(archive, cache, sha), archive)
    except OSError as e:  # a cache that cannot be written (read-only): a temporary folder for this load
        warnings.warn(f"{cache}: cannot extract {archive.name} into the cache ({e}); extracting it into a temporary "
                      "folder for this load (it will be extracted and parsed again next time)", RuntimeWarning,
                      stacklevel=3)
        with tempfile.TemporaryDirectory() as tmp:
            packed, folds, default, fmt = _parse_inside(extracted(archive, tmp, sha), archive)
    _save(path, key, packed, folds, {"format": fmt, "default_features": default})
    return Parsed(packed, folds, default)


def _parse_inside(folder: Path, archive: Path) -> tuple:
    inner = _inside(folder, archive)
    return (*get_format(inner.format).parse(inner, None), inner.format)


def _inside(folder: Path, archive: Path) -> Found:
    """The dataset in an archive's extracted ``folder`` (named as the archive): a format's probe, else the
    one GIN text file at its top."""
    for fmt in FORMATS:
        if fmt.parse is not None and fmt.name != "zip":
            found = fmt.probe(folder.parent, [folder.name])
            if found is not None:
                return found
    texts = [p for p in folder.glob("*.txt") if p.name.lower() != "readme.txt"]
    if len(texts) == 1:
        return Found("gin", texts[0], texts[0].stem)
    held = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    raise DatasetFormatError(
        archive, None, f"holds no dataset in a known format: expected {folder.name}/{folder.name}.txt (GIN text) or "
                       f"{folder.name}/{folder.name}_A.txt (TU); it holds {held[:8]}{' ...' if len(held) > 8 else ''}")


def _zip_expected(d: Path, names: Sequence[str]) -> list:
    return [f"{d / (names[0] + '.zip')} (a zip archive of either)"]


#: the known formats, probed in this order
FORMATS: list[DatasetFormat] = [
    DatasetFormat("gin", _gin_probe, _reader(_gin_parse), _gin_expected, lambda found: "tags", _gin_parse),
    DatasetFormat("tu", _tu_probe, _tu_read, _tu_expected, _tu_default_features, _tu_parse),
    DatasetFormat("zip", _zip_probe, _reader(_zip_parse), _zip_expected, lambda found: "tags", _zip_parse),
]


def register_format(fmt: DatasetFormat, *, first: bool = False) -> None:
    """Add a format (probed after the others, or before them with ``first=True``)."""
    if any(f.name == fmt.name for f in FORMATS):
        raise ValueError(f"a dataset format named {fmt.name!r} is already registered")
    FORMATS.insert(0 if first else len(FORMATS), fmt)


def get_format(name: str) -> DatasetFormat:
    for f in FORMATS:
        if f.name == name:
            return f
    raise KeyError(f"no dataset format {name!r}; known: {', '.join(f.name for f in FORMATS)}")


def probe(dirs: Sequence[Path], names: Sequence[str]) -> Found | None:
    """The first dataset called by one of ``names`` in the folders ``dirs``, in any format: every
    format is tried in a folder before the next folder."""
    for d in dirs:
        for fmt in FORMATS:
            found = fmt.probe(Path(d), names)
            if found is not None:
                return found
    return None


def probe_folder(path) -> Found | None:
    """The dataset in the folder ``path`` (or the GIN file ``path/NAME.txt``, or the archive
    ``path/NAME.zip``, itself), any format."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".txt":
        return Found("gin", path, path.stem)
    if path.is_file() and path.suffix == ".zip":
        return Found("zip", path, path.stem)
    return probe([path.parent], [path.name]) if path.is_dir() else None


def expected(dirs: Sequence[Path], names: Sequence[str]) -> list[str]:
    """The paths :func:`probe` looked for, for the not-found message."""
    return [line for d in dirs for fmt in FORMATS for line in fmt.expected(Path(d), names)]
