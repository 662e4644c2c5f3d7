"""ogbg-molhiv: 41,127 molecules (MoleculeNet's HIV set), featurised as OGB does, with its scaffold split.

``fastgnn.datasets.load("ogbg-molhiv", root=...)`` (or ``"molhiv"``) reads either of two layouts, looked
for in ``root``, ``$FASTGNN_DATA`` and the user cache (:func:`fastgnn.datasets.search_dirs`), each folder
tried for both before the next:

* **MoleculeNet's CSV**: ``D/molhiv/HIV.csv`` (or ``D/HIV.csv``; header ``smiles,activity,HIV_active``),
  with the split in ``split_scaffold/{train,valid,test}.txt`` beside it (one 0-based data-row index per
  line).  Each SMILES is parsed by RDKit and featurised by OGB's own functions
  (:mod:`fastgnn.datasets.chem`: ``smiles2graph`` on the parsed molecule), so the ``chem`` extra is
  needed (``pip install "fastgnn[chem]"``).  The 7 rows today's RDKit refuses for a valence OGB's older
  RDKit accepted are parsed without the property check (:func:`~fastgnn.datasets.chem.mol_from_smiles`),
  as OGB's graphs have them: all 41,127 are kept, and their rows are listed in ``data.relaxed``.  A row
  RDKit cannot parse even so is refused: ``DatasetFormatError`` naming ``HIV.csv:LINE``, the SMILES and
  RDKit's reason (never dropped, which would shift every split index after it).  Without the split files,
  the split is recomputed (:func:`fastgnn.datasets.scaffold.scaffold_split`) from the scaffolds computed in
  the same pass.
* **OGB's download**: ``D/ogbg_molhiv/`` with ``raw/{num-node-list, num-edge-list, edge, node-feat,
  edge-feat, graph-label}.csv.gz``, ``split/scaffold/{train,valid,test}.csv.gz`` and (optional)
  ``mapping/mol.csv.gz`` (the SMILES): OGB's own arrays, read without RDKit.

**Node features** (``x``, ``[N, 174]``): OGB's 9 categorical atom features
(:data:`~fastgnn.datasets.chem.ATOM_FEATURES`: atomic number, chirality, degree, formal charge, number of
hydrogens, radical electrons, hybridisation, aromatic, in a ring), each one-hot over OGB's whole list of
values (:data:`~fastgnn.datasets.chem.ATOM_FEATURE_DIMS`: 119 + 5 + 12 + 12 + 10 + 6 + 6 + 2 + 2 = 174
columns, feature after feature, as OGB's ``AtomEncoder`` embeds them), so any molecule featurised anywhere
gets the same columns.  ``x · x'`` counts the features two atoms share.  Default dtype float32 (0 and 1 are
exact; 730 MB for the 1,049,163 atoms).  Each graph's ``meta`` holds ``row`` (its HIV.csv data row),
``smiles`` (when known), ``atoms`` (``[N, 9]`` int8, OGB's feature indices) and ``bond_features``
(``[2B, 3]`` int8, one row per directed edge).  Edges: each bond both ways, interleaved, as
``smiles2graph``.

**The split** is ``data.split`` (``{"train", "valid", "test"}`` -> int64 indices; 32,901 / 4,113 / 4,113)
and ``data.folds`` is the one fold ``(train, valid)``: cross-validation code run on it selects on the valid
set and never sees the test set (:mod:`fastgnn.model_selection.holdout` reports it once).

**Cache**: the parsed arrays are written once into ``CACHE/parsed/ogbg-molhiv-*.npz`` (atomically), keyed
by the SHA-256 of the source file(s), the reader, and the RDKit and ogb versions; every read checks a
digest of the arrays.  A stale cache (the source changed) is rebuilt silently; a damaged one (truncated,
edited, not a zip) is not used: a one-line ``RuntimeWarning`` naming the file, then rebuilt.  Cost: the
first build parses 41,127 SMILES (about 35 s on the loaded 2-core dev machine, a progress bar shown);
a cached load reads 20 MB and builds the graphs (benchmarks/molhiv.py times both).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fastgnn.datasets.cache import array_digest, cache_file, file_sha256
from fastgnn.datasets.chem import ATOM_FEATURE_DIMS, mol_from_smiles, mol_to_graph, require, versions
from fastgnn.datasets.download import DatasetFormatError, DatasetNotFoundError, default_cache_dir, search_dirs
from fastgnn.datasets.formats import DatasetFormat, Found, register_format
from fastgnn.datasets.raw import read_int_table
from fastgnn.datasets.scaffold import SPLIT_NAMES, scaffold, scaffold_split
from fastgnn.graph import Graph, GraphDataset
from fastgnn.io import atomic_path

__all__ = ["NAMES", "OGB_FOLDER", "CSV_FILE", "SPLIT_FOLDER", "MolhivSource", "Molecules", "is_molhiv",
           "find_molhiv", "load_molhiv", "read_molhiv", "molhiv_targets", "one_hot_atoms", "dataset_from_molecules"]

#: the names ``load`` knows it by (any case)
NAMES = ("ogbg-molhiv", "ogbg_molhiv", "molhiv")
#: OGB's folder name and the CSV layout's file and split folder
OGB_FOLDER, CSV_FILE, SPLIT_FOLDER = "ogbg_molhiv", "HIV.csv", "split_scaffold"
#: the CSV's columns read: the SMILES and the label
SMILES_COLUMN, LABEL_COLUMN = "smiles", "HIV_active"
#: OGB's raw files (``raw/NAME.csv.gz``) and their columns
OGB_RAW = {"num-node-list": 1, "num-edge-list": 1, "edge": 2, "node-feat": 9, "edge-feat": 3, "graph-label": 1}
#: the cache's layout version: part of every key
CACHE_FORMAT = 1


@dataclass(frozen=True)
class MolhivSource:
    """Where ogbg-molhiv is: ``layout`` ``"csv"`` (``path`` is HIV.csv) or ``"ogb"`` (``path`` is the
    ``ogbg_molhiv`` folder)."""

    layout: str
    path: Path


@dataclass(eq=False)
class Molecules:
    """G molecules as concatenated arrays (what the cache holds).

    Attributes:
        num_nodes, num_bonds: ``[G]`` int64 atoms and bonds of each molecule.
        atoms: ``[N, 9]`` int8, OGB's atom feature indices, molecule after molecule.
        bonds: ``[B, 2]`` int16, each bond once, local atom indices.
        bond_features: ``[B, 3]`` int8, OGB's bond feature indices.
        labels: ``[G]`` int64 (0 inactive, 1 active).
        relaxed: int64 rows parsed without RDKit's property check.
        smiles, scaffolds: a string per molecule, or None (the OGB layout has no scaffolds).
    """

    num_nodes: np.ndarray
    num_bonds: np.ndarray
    atoms: np.ndarray
    bonds: np.ndarray
    bond_features: np.ndarray
    labels: np.ndarray
    relaxed: np.ndarray
    smiles: list | None = None
    scaffolds: list | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: getattr(self, k) for k in ("num_nodes", "num_bonds", "atoms", "bonds", "bond_features", "labels",
                                             "relaxed")}
        for k in ("smiles", "scaffolds"):
            if getattr(self, k) is not None:
                out[k] = _pack_strings(getattr(self, k))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict) -> Molecules:
        m = cls(**{k: arrays[k] for k in ("num_nodes", "num_bonds", "atoms", "bonds", "bond_features", "labels",
                                          "relaxed")},
                smiles=_unpack_strings(arrays["smiles"]) if "smiles" in arrays else None,
                scaffolds=_unpack_strings(arrays["scaffolds"]) if "scaffolds" in arrays else None)
        m.check()
        return m

    def check(self, where: str = "molecules") -> None:
        """``ValueError`` naming the first inconsistency of sizes or indices."""
        g = len(self.num_nodes)
        n, b = int(self.num_nodes.sum()), int(self.num_bonds.sum())
        if self.num_bonds.shape != (g,) or self.labels.shape != (g,):
            raise ValueError(f"{where}: {g} molecules, but {self.num_bonds.shape} bond counts and {self.labels.shape} "
                             "labels")
        if self.atoms.shape != (n, 9) or self.bonds.shape != (b, 2) or self.bond_features.shape != (b, 3):
            raise ValueError(f"{where}: {n} atoms and {b} bonds, but atoms {self.atoms.shape}, bonds "
                             f"{self.bonds.shape}, bond features {self.bond_features.shape}")
        if g and (self.num_nodes.min() < 1 or self.num_bonds.min() < 0):
            raise ValueError(f"{where}: a molecule has no atom or a negative bond count")
        if b:
            owner = np.repeat(np.arange(g), self.num_bonds)
            if self.bonds.min() < 0 or (self.bonds.max(axis=1) >= self.num_nodes[owner]).any():
                raise ValueError(f"{where}: a bond names an atom outside its molecule")
        for k, dim in enumerate(ATOM_FEATURE_DIMS):
            column = self.atoms[:, k]
            if n and (column.min() < 0 or column.max() >= dim):
                raise ValueError(f"{where}: atom feature {k} outside OGB's 0..{dim - 1}")
        for k in ("smiles", "scaffolds"):
            values = getattr(self, k)
            if values is not None and len(values) != g:
                raise ValueError(f"{where}: {len(values)} {k} for {g} molecules")


def is_molhiv(name) -> bool:
    """Whether ``name`` (any case) is one of :data:`NAMES`."""
    return isinstance(name, str) and name.strip().lower() in NAMES


def find_molhiv(root=None, *, cache_dir=None) -> MolhivSource | None:
    """The first layout found in :func:`~fastgnn.datasets.search_dirs`, each folder tried for OGB's
    layout, then ``molhiv/HIV.csv``, then ``HIV.csv``."""
    for d in search_dirs(root, cache_dir=cache_dir):
        found = _probe(Path(d))
        if found is not None:
            return found
    return None


def load_molhiv(root=None, *, cache_dir=None, progress: bool = True, dtype: torch.dtype | None = None,
                features: str | None = None, source=None) -> GraphDataset:
    """ogbg-molhiv as a :class:`~fastgnn.graph.GraphDataset` with ``split`` (see the module docstring).

    Args:
        root: a folder to look in first; ``source``: the HIV.csv file or the ``ogbg_molhiv`` folder itself.
        cache_dir: the user cache (searched, and where the parsed arrays are cached).
        progress: show a progress bar while parsing the SMILES and building the graphs.
        dtype: of ``x``; default float32.
        features: None or ``"ogb"`` (the one choice: OGB's 9 atom features, one-hot).

    Raises:
        DatasetNotFoundError: neither layout anywhere (the message lists the paths looked for).
        MissingChemError: the CSV layout without RDKit or ogb (an ``ImportError`` naming the extra).
        DatasetFormatError: a malformed file or a SMILES RDKit cannot parse (``path:line``).
    """
    if features not in (None, "ogb"):
        raise ValueError(f"ogbg-molhiv's node features are OGB's atom features: features=None or 'ogb', "
                         f"got {features!r}")
    found = _probe_path(Path(source).expanduser()) if source is not None else find_molhiv(root, cache_dir=cache_dir)
    if found is None:
        where = [source] if source is not None else search_dirs(root, cache_dir=cache_dir)
        looked = "\n  ".join(line for d in where for line in _expected(Path(d)))
        raise DatasetNotFoundError(
            f"ogbg-molhiv not found. Looked for\n  {looked}\nPoint fastgnn at the folder holding molhiv/HIV.csv "
            "(MoleculeNet's HIV set, with split_scaffold/) or OGB's ogbg_molhiv/: load('ogbg-molhiv', "
            "root='/path/to/datasets'), FASTGNN_DATA=/path/to/datasets or --data-dir.")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if found.layout == "csv":
        molecules, split = _read_csv_layout(found.path, cache, progress)
    else:
        molecules, split = _read_ogb_layout(found.path, cache)
    data = dataset_from_molecules(molecules, split, dtype=dtype or torch.float32, progress=progress)
    data.source = found
    return data


def read_molhiv(path, *, cache_dir=None, progress: bool = True, dtype: torch.dtype | None = None) -> GraphDataset:
    """ogbg-molhiv from ``path``: HIV.csv, a folder holding it, or OGB's ``ogbg_molhiv`` folder."""
    return load_molhiv(cache_dir=cache_dir, progress=progress, dtype=dtype, source=path)


def molhiv_targets(root=None, *, cache_dir=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(labels, split)`` of ogbg-molhiv without building a graph: the ``HIV_active`` column (or
    ``raw/graph-label.csv.gz``) and the split files, read in a fraction of a second and without RDKit (for
    scoring a Gram computed earlier: ``fastgnn evaluate GRAM --holdout ogbg-molhiv``).  A CSV layout without
    split files needs the scaffolds: the whole dataset is loaded then."""
    found = find_molhiv(root, cache_dir=cache_dir)
    if found is not None and found.layout == "ogb":
        labels = _read_ints(found.path / "raw" / "graph-label.csv.gz", 1)[:, 0]
        split_dir = found.path / "split" / "scaffold"
        return labels, _read_split(split_dir, [split_dir / f"{k}.csv.gz" for k in SPLIT_NAMES], len(labels))
    if found is not None and (found.path.parent / SPLIT_FOLDER).is_dir():
        with open(found.path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows or LABEL_COLUMN not in rows[0]:
            raise DatasetFormatError(found.path, 1, f"expected a header with a {LABEL_COLUMN!r} column")
        column = rows[0].index(LABEL_COLUMN)
        try:
            labels = np.array([int(r[column]) for r in rows[1:]], dtype=np.int64)
        except (ValueError, IndexError):
            raise DatasetFormatError(found.path, None, f"a {LABEL_COLUMN} value is not an integer") from None
        split_dir = found.path.parent / SPLIT_FOLDER
        return labels, _read_split(split_dir, [split_dir / f"{k}.txt" for k in SPLIT_NAMES], len(labels))
    data = load_molhiv(root, cache_dir=cache_dir)  # or the not-found message
    return data.y, data.split


def one_hot_atoms(atoms: np.ndarray, dtype=np.float32) -> np.ndarray:
    """``[N, 9]`` OGB atom feature indices -> ``[N, 174]`` one-hot, feature after feature over OGB's value
    lists.  O(N · 174) memory."""
    atoms = np.asarray(atoms, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(ATOM_FEATURE_DIMS)[:-1]])
    x = np.zeros((len(atoms), sum(ATOM_FEATURE_DIMS)), dtype=dtype)
    x[np.arange(len(atoms))[:, None], atoms + offsets] = 1
    return x


def dataset_from_molecules(molecules: Molecules, split: dict[str, np.ndarray], *, dtype=torch.float32,
                           progress: bool = False, name: str = "ogbg-molhiv") -> GraphDataset:
    """The graphs of ``molecules`` (one-hot ``x``, both directions of each bond) with ``split``.

    Each graph's ``x`` and ``meta`` arrays are views of one block (no copy per graph; a graph pickles alone)."""
    np_dtype = torch.zeros(0, dtype=dtype).numpy().dtype
    x_all = one_hot_atoms(molecules.atoms, np_dtype)
    directed = np.empty((2 * len(molecules.bonds), 2), dtype=np.int64)
    directed[0::2] = molecules.bonds
    directed[1::2] = molecules.bonds[:, ::-1]
    bond_rows = np.repeat(molecules.bond_features, 2, axis=0)
    node_end = np.cumsum(molecules.num_nodes).tolist()
    edge_end = (2 * np.cumsum(molecules.num_bonds)).tolist()
    labels = molecules.labels.tolist()
    rows = range(len(labels))
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc=f"{name}: graphs", unit="graph", leave=False)
    graphs, n0, e0 = [], 0, 0
    for i in rows:
        n1, e1 = node_end[i], edge_end[i]
        meta = {"row": i, "atoms": molecules.atoms[n0:n1], "bond_features": bond_rows[e0:e1]}
        if molecules.smiles is not None:
            meta["smiles"] = molecules.smiles[i]
        edge_index = torch.from_numpy(np.ascontiguousarray(directed[e0:e1].T))
        graphs.append(Graph(edge_index, n1 - n0, torch.from_numpy(x_all[n0:n1]), labels[i], meta=meta))
        n0, e0 = n1, e1
    split = {k: np.asarray(split[k], dtype=np.int64) for k in SPLIT_NAMES}
    data = GraphDataset(graphs, molecules.labels, folds=[(split["train"], split["valid"])], name=name)
    data.split = split
    data.relaxed = np.asarray(molecules.relaxed, dtype=np.int64)
    data.scaffolds = molecules.scaffolds
    return data


# --------------------------------------------------------------------------- where


def _format_probe(d: Path, names) -> Found | None:
    """The dataset-format registry's probe: ``d/NAME`` holding OGB's layout or HIV.csv."""
    for n in dict.fromkeys(names):
        found = _probe_path(Path(d) / n)
        if found is not None:
            return Found("molhiv", found.path if found.layout == "ogb" else found.path.parent, n)
    return None


def _format_read(found: Found, *, name: str, features: str | None, dtype, cache_dir=None) -> GraphDataset:
    return load_molhiv(cache_dir=cache_dir, dtype=dtype, features=features, source=found.path)


def _format_expected(d: Path, names) -> list[str]:
    """Said in not-found messages only for the molhiv names."""
    return _expected(Path(d)) if any(is_molhiv(n) for n in names) else []


def _probe(d: Path) -> MolhivSource | None:
    for candidate in (d / OGB_FOLDER, d / "molhiv" / CSV_FILE, d / CSV_FILE):
        found = _probe_path(candidate)
        if found is not None:
            return found
    return None


def _probe_path(path: Path) -> MolhivSource | None:
    if path.is_dir() and (path / "raw" / "edge.csv.gz").is_file():
        return MolhivSource("ogb", path)
    if path.is_dir() and (path / CSV_FILE).is_file():
        return MolhivSource("csv", path / CSV_FILE)
    if path.is_file() and path.suffix.lower() == ".csv":
        return MolhivSource("csv", path)
    return None


def _expected(d: Path) -> list[str]:
    return [f"{d / OGB_FOLDER / 'raw' / 'edge.csv.gz'} (OGB's layout)",
            f"{d / 'molhiv' / CSV_FILE} (MoleculeNet's CSV)", f"{d / CSV_FILE}"]


# --------------------------------------------------------------------------- MoleculeNet's CSV


def _read_csv_layout(path: Path, cache: Path, progress: bool) -> tuple[Molecules, dict]:
    require("ogbg-molhiv from HIV.csv")
    key = {"reader": "molhiv-csv", "format": CACHE_FORMAT, "sha256": file_sha256(path),
           "bytes": path.stat().st_size, **versions()}
    target = cache_file(cache, "ogbg-molhiv", path)
    molecules = _load_cache(target, key)
    if molecules is None:
        molecules = _parse_csv(path, progress)
        _save_cache(target, key, molecules)
    split_dir = path.parent / SPLIT_FOLDER
    if split_dir.is_dir():
        split = _read_split(split_dir, [split_dir / f"{k}.txt" for k in SPLIT_NAMES], len(molecules.labels))
    else:
        split = scaffold_split(molecules.scaffolds)
    return molecules, split


def _parse_csv(path: Path, progress: bool) -> Molecules:
    """Every row of HIV.csv parsed and featurised; ``DatasetFormatError`` naming ``path:line`` on a bad row."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatasetFormatError(path, None, f"not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or SMILES_COLUMN not in header or LABEL_COLUMN not in header:
        raise DatasetFormatError(path, 1, f"expected a header with the columns {SMILES_COLUMN!r} and {LABEL_COLUMN!r},"
                                          f" got {header}")
    s_col, y_col = header.index(SMILES_COLUMN), header.index(LABEL_COLUMN)
    rows = list(reader)
    it = enumerate(rows)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(rows), desc="ogbg-molhiv: SMILES", unit="mol", leave=False)
    atoms, bonds, bond_features, num_nodes, num_bonds, labels, relaxed, smiles, scaffolds = ([] for _ in range(9))
    for i, row in it:
        line = i + 2
        if len(row) != len(header):
            raise DatasetFormatError(path, line, f"{len(row)} fields, the header has {len(header)}")
        if row[y_col].strip() not in ("0", "1"):
            raise DatasetFormatError(path, line, f"{LABEL_COLUMN} must be 0 or 1, got {row[y_col]!r}")
        s = row[s_col].strip()
        try:
            mol, was_relaxed = mol_from_smiles(s, where=f"{path}:{line}")
        except ValueError as e:
            raise DatasetFormatError(path, line, f"row {i} refused: {str(e).split(': ', 1)[-1]}") from None
        a, b, f = mol_to_graph(mol)
        if len(a) == 0:
            raise DatasetFormatError(path, line, f"row {i} refused: {s!r} has no atom")
        atoms.append(a)
        bonds.append(b)
        bond_features.append(f)
        num_nodes.append(len(a))
        num_bonds.append(len(b))
        labels.append(int(row[y_col]))
        smiles.append(s)
        scaffolds.append(scaffold(mol))
        if was_relaxed:
            relaxed.append(i)
    molecules = Molecules(
        num_nodes=np.array(num_nodes, dtype=np.int64), num_bonds=np.array(num_bonds, dtype=np.int64),
        atoms=np.concatenate(atoms).astype(np.int8) if atoms else np.zeros((0, 9), np.int8),
        bonds=np.concatenate(bonds).astype(np.int16) if bonds else np.zeros((0, 2), np.int16),
        bond_features=np.concatenate(bond_features).astype(np.int8) if bonds else np.zeros((0, 3), np.int8),
        labels=np.array(labels, dtype=np.int64), relaxed=np.array(relaxed, dtype=np.int64),
        smiles=smiles, scaffolds=scaffolds)
    molecules.check(str(path))
    return molecules


def _read_split(where: Path, files: list[Path], n: int) -> dict[str, np.ndarray]:
    """The three index files (text or ``.csv.gz``), checked in range and disjoint."""
    split = {}
    for name, f in zip(SPLIT_NAMES, files):
        if not f.is_file():
            raise DatasetNotFoundError(f"{f}: no such file (the {name} part of the split in {where})")
        idx = _read_ints(f, 1)[:, 0] if f.suffix == ".gz" else read_int_table(f, 1)[:, 0]
        bad = np.nonzero((idx < 0) | (idx >= n))[0]
        if bad.size:
            raise DatasetFormatError(f, int(bad[0]) + 1, f"index {idx[bad[0]]} outside 0..{n - 1} ({n} molecules)")
        split[name] = idx.astype(np.int64)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        both = np.intersect1d(split[SPLIT_NAMES[a]], split[SPLIT_NAMES[b]])
        if both.size:
            raise DatasetFormatError(files[b], None, f"molecule {both[0]} is in both {SPLIT_NAMES[a]} and "
                                                     f"{SPLIT_NAMES[b]}")
    return split


# --------------------------------------------------------------------------- OGB's layout


def _read_ogb_layout(folder: Path, cache: Path) -> tuple[Molecules, dict]:
    raw = folder / "raw"
    files = {name: raw / f"{name}.csv.gz" for name in OGB_RAW}
    for name, f in files.items():
        if not f.is_file():
            raise DatasetNotFoundError(f"{f}: no such file (OGB's layout needs raw/{name}.csv.gz)")
    mapping = folder / "mapping" / "mol.csv.gz"
    sources = [*files.values(), *([mapping] if mapping.is_file() else [])]
    key = {"reader": "molhiv-ogb", "format": CACHE_FORMAT,
           "sha256": {f.relative_to(folder).as_posix(): file_sha256(f) for f in sources}}
    target = cache_file(cache, "ogbg-molhiv", folder)
    molecules = _load_cache(target, key)
    if molecules is None:
        molecules = _parse_ogb(folder, files, mapping if mapping.is_file() else None)
        _save_cache(target, key, molecules)
    split_dir = folder / "split" / "scaffold"
    split = _read_split(split_dir, [split_dir / f"{k}.csv.gz" for k in SPLIT_NAMES], len(molecules.labels))
    return molecules, split


def _parse_ogb(folder: Path, files: dict, mapping: Path | None) -> Molecules:
    t = {name: _read_ints(f, OGB_RAW[name]) for name, f in files.items()}
    num_nodes, num_bonds, labels = t["num-node-list"][:, 0], t["num-edge-list"][:, 0], t["graph-label"][:, 0]
    for name, column in (("num-edge-list", num_bonds), ("graph-label", labels)):
        if len(column) != len(num_nodes):
            raise DatasetFormatError(files[name], None,
                                     f"{len(column)} rows, num-node-list.csv.gz has {len(num_nodes)}")
    if not np.isin(labels, (0, 1)).all():
        raise DatasetFormatError(files["graph-label"], int(np.nonzero(~np.isin(labels, (0, 1)))[0][0]) + 1,
                                 "labels must be 0 or 1")
    smiles = _read_mapping(mapping, len(num_nodes)) if mapping is not None else None
    molecules = Molecules(num_nodes=num_nodes, num_bonds=num_bonds, atoms=t["node-feat"].astype(np.int8),
                          bonds=t["edge"].astype(np.int16), bond_features=t["edge-feat"].astype(np.int8),
                          labels=labels, relaxed=np.zeros(0, np.int64), smiles=smiles)
    try:
        molecules.check(str(folder / "raw"))
    except ValueError as e:
        raise DatasetFormatError(folder / "raw", None, str(e).split(": ", 1)[-1]) from None
    return molecules


def _read_ints(path: Path, ncols: int) -> np.ndarray:
    """A gzipped (or plain) CSV of ``ncols`` integers per line, ``[rows, ncols]`` int64; a bad line named."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",") if lines else np.zeros(0, np.int64)
    except ValueError:  # NumPy >= 2.3 raises on a token that is not a number; older ones stop there
        values = None
    if values is not None and values.size == len(lines) * ncols:
        return values.reshape(len(lines), ncols)
    for k, line in enumerate(lines):  # locate the bad line
        parts = line.split(",")
        if len(parts) != ncols or not all(p.strip().lstrip("-").isdigit() for p in parts):
            raise DatasetFormatError(path, k + 1, f"expected {ncols} comma-separated integers, got {line.strip()!r}")
    raise DatasetFormatError(path, None, f"expected {ncols} integers per line")


def _read_mapping(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or SMILES_COLUMN not in rows[0]:
        raise DatasetFormatError(path, 1, f"expected a header with a {SMILES_COLUMN!r} column, got {rows[:1]}")
    column = rows[0].index(SMILES_COLUMN)
    if len(rows) - 1 != n:
        raise DatasetFormatError(path, None, f"{len(rows) - 1} molecules, raw/ holds {n}")
    return [r[column] for r in rows[1:]]


# --------------------------------------------------------------------------- the cache


def _save_cache(path: Path, key: dict, molecules: Molecules) -> None:
    """Write the arrays atomically with ``key`` and their digest; a cache that cannot be written costs a
    warning, not the load."""
    arrays = molecules.arrays()
    meta = {"key": key, "names": sorted(arrays), "digest": array_digest(key, arrays)}
    try:
        with atomic_path(path, ".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays, __meta__=np.array(json.dumps(meta)))
    except OSError as e:
        warnings.warn(f"{path}: the parsed molecules could not be cached ({e}); they will be parsed again next time",
                      RuntimeWarning, stacklevel=4)


def _load_cache(path: Path, key: dict) -> Molecules | None:
    """The cached molecules for ``key``; None when absent or stale, None with a one-line warning naming
    the file when it is damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if not isinstance(meta, dict) or meta.get("key") != key:
                return None  # stale: another source, reader or version
            arrays = {k: z[k] for k in meta["names"]}
    except Exception as exc:  # noqa: BLE001 (BadZipFile, EOFError, ValueError, KeyError ...: parse again)
        return _refuse(path, f"it cannot be read ({type(exc).__name__}: {exc})")
    if array_digest(key, arrays) != meta.get("digest"):
        return _refuse(path, "its contents do not match its digest (edited or damaged)")
    try:
        return Molecules.from_arrays(arrays)
    except (ValueError, KeyError) as exc:
        return _refuse(path, f"its arrays are inconsistent ({exc})")


def _refuse(path: Path, why: str) -> None:
    warnings.warn(f"{path}: cache not used, {why}; parsing the source again", RuntimeWarning, stacklevel=4)
    return None


def _pack_strings(values: list) -> np.ndarray:
    return np.frombuffer("\n".join(values).encode("utf-8"), dtype=np.uint8)


def _unpack_strings(blob: np.ndarray) -> list[str]:
    text = blob.tobytes().decode("utf-8")
    return text.split("\n") if text else []


#: ``load("path/to/ogbg_molhiv")`` (or a folder holding HIV.csv) finds it through the format registry
register_format(DatasetFormat("molhiv", _format_probe, _format_read, _format_expected, lambda found: "ogb"))
