"""The dataset-format registry: the on-disk formats :func:`fastgnn.datasets.load` and ``find`` know.

A format is a :class:`DatasetFormat`: a ``probe`` that says whether a folder holds a dataset in
that format (and where its files are), and a ``read`` that loads what the probe found.
``find`` and ``load`` loop over :data:`FORMATS` in order (the GIN text format first, then the
TU format), so a new format is one new entry (:func:`register_format`), not new
branches in ``find`` and ``load``.

Probing is by name: ``probe(d, names)`` looks in the folder ``d`` for the dataset called by one
of ``names`` (the GIN name and the TU name of a benchmark, e.g. ``("PTC", "PTC_MR")``, or one
user name).  A dataset given by its own folder (``load("path/MYSET")``) is probed as
``probe(path.parent, ["MYSET"])``; a TU folder whose files carry another prefix than the
folder's name is found by its single ``*_A.txt`` file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastgnn.datasets.gin import load_gin_dataset
from fastgnn.datasets.tu import load_tu_dataset, tu_files

__all__ = ["DatasetFormat", "Found", "FORMATS", "register_format", "probe", "probe_folder"]


@dataclass(frozen=True)
class Found:
    """Where a dataset is: its format's name, the path its reader takes, and the file prefix."""

    format: str
    path: Path
    prefix: str


@dataclass(frozen=True)
class DatasetFormat:
    """One on-disk format.

    Attributes:
        name: short name (``"gin"``, ``"tu"``), printed by ``fastgnn datasets``.
        probe: ``probe(d, names) -> Found | None``: the dataset called by one of ``names`` in the
            folder ``d``, if it is there in this format.
        read: ``read(found, name=, features=, dtype=) -> GraphDataset``; ``features`` None means
            the format's default (:attr:`default_features`).
        expected: ``expected(d, names) -> list[str]``: the paths it looked for, for the
            not-found message.
        default_features: ``default_features(found) -> "tags" | "degree"``: node features of a
            dataset that is not a benchmark (the benchmarks use the papers' choice).
    """

    name: str
    probe: Callable[[Path, Sequence[str]], Found | None]
    read: Callable
    expected: Callable[[Path, Sequence[str]], list]
    default_features: Callable[[Found], str]


# --------------------------------------------------------------------------- GIN text format


def _gin_probe(d: Path, names: Sequence[str]) -> Found | None:
    for n in dict.fromkeys(names):
        if (d / n / f"{n}.txt").is_file():
            return Found("gin", d / n / f"{n}.txt", n)
    return None


def _gin_read(found: Found, *, name: str, features: str | None, dtype):
    return load_gin_dataset(found.path, name=name, features=features or "tags", dtype=dtype)


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


def _tu_read(found: Found, *, name: str, features: str | None, dtype):
    return load_tu_dataset(found.path, found.prefix, name=name,
                           features=features or _tu_default_features(found), dtype=dtype)


def _tu_default_features(found: Found) -> str:
    """One-hot node labels when the dataset has them, else one-hot degree (the papers' choice for
    the social datasets, which have none)."""
    return "tags" if tu_files(found.path, found.prefix)["node_labels"].is_file() else "degree"


def _tu_expected(d: Path, names: Sequence[str]) -> list:
    prefix = names[-1]
    return [f"{d / prefix / (prefix + '_A.txt')} (TU format)"]


#: the known formats, probed in this order
FORMATS: list[DatasetFormat] = [
    DatasetFormat("gin", _gin_probe, _gin_read, _gin_expected, lambda found: "tags"),
    DatasetFormat("tu", _tu_probe, _tu_read, _tu_expected, _tu_default_features),
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
    """The dataset in the folder ``path`` (or the GIN file ``path/NAME.txt`` itself), any format."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".txt":
        return Found("gin", path, path.stem)
    return probe([path.parent], [path.name]) if path.is_dir() else None


def expected(dirs: Sequence[Path], names: Sequence[str]) -> list[str]:
    """The paths :func:`probe` looked for, for the not-found message."""
    return [line for d in dirs for fmt in FORMATS for line in fmt.expected(Path(d), names)]
