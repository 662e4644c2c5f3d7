"""ogbg-molhiv (issue 23.1): OGB's featurisation of HIV.csv, OGB's own layout, the scaffold split, the cache.

Small fixtures are written by the tests: a HIV.csv of a few molecules (one parsed only without RDKit's
valence check, as OGB's older RDKit accepted it; one RDKit cannot parse at all) and OGB's downloaded layout
(``ogbg_molhiv/raw/*.csv.gz``, ``split/scaffold``, ``mapping``).  The graphs are checked against
``ogb.utils.smiles2graph`` itself.  Tests that need RDKit and ogb skip without them (the ``chem`` extra);
the whole shared HIV.csv (41,127 molecules, about a minute to parse) is checked against SOURCES.md once.
"""

from __future__ import annotations

import csv
import gzip
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fastgnn.datasets import DatasetFormatError, DatasetNotFoundError, load
from fastgnn.datasets import molhiv as molhiv_module
from fastgnn.datasets.chem import ATOM_FEATURE_DIMS, EXTRA_HINT, MissingChemError
from fastgnn.datasets.molhiv import one_hot_atoms
from fastgnn.datasets.scaffold import compare_splits, scaffold_split

SHARED_MOLHIV = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "molhiv"

try:
    import ogb  # noqa: F401
    import rdkit  # noqa: F401

    HAVE_CHEM = True
except ImportError:
    HAVE_CHEM = False
needs_chem = pytest.mark.skipif(not HAVE_CHEM, reason=f"RDKit and ogb are not installed ({EXTRA_HINT})")

# chirality and a stereo bond (OGB's own example), an aromatic ring, a charged single atom, a salt (two parts),
# and HIV.csv's row 137 (6-valent Al: today's RDKit refuses it strictly, OGB's accepted it)
SMILES = ["Cl[C@H](/C=C/C)Br", "c1ccccc1O", "[Na+]", "CC(=O)[O-].[K+]",
          "O=C1O[Al]23(OC1=O)(OC(=O)C(=O)O2)OC(=O)C(=O)O3", "CCN(CC)CC", "C1CCNCC1", "c1ccc2ccccc2c1"]
LABELS = [0, 1, 0, 0, 0, 1, 0, 0]
RELAXED = [4]
SPLIT = {"train": [0, 2, 3, 5, 6], "valid": [1, 7], "test": [4]}


def write_csv(folder: Path, smiles=SMILES, labels=LABELS, split=SPLIT) -> Path:
    """MoleculeNet's layout: HIV.csv (CRLF, as the shared copy) and split_scaffold/*.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["smiles,activity,HIV_active"] + [f"{s},CI,{y}" for s, y in zip(smiles, labels)]
    (folder / "HIV.csv").write_bytes("\r\n".join(lines).encode())
    if split is not None:
        (folder / "split_scaffold").mkdir(exist_ok=True)
        for name, rows in split.items():
            (folder / "split_scaffold" / f"{name}.txt").write_text("".join(f"{r}\n" for r in rows))
    return folder / "HIV.csv"


def write_ogb(folder: Path, graphs: list[dict], labels, split, smiles=None) -> Path:
    """OGB's download layout from ``smiles2graph``-style dicts (each bond written once, as OGB's raw files)."""
    raw = folder / "raw"
    raw.mkdir(parents=True)

    def put(path: Path, rows) -> None:
        with gzip.open(path, "wt") as f:
            f.writelines(",".join(str(int(v)) for v in np.atleast_1d(r)) + "\n" for r in rows)

    put(raw / "num-node-list.csv.gz", [g["num_nodes"] for g in graphs])
    put(raw / "num-edge-list.csv.gz", [g["edge_index"].shape[1] // 2 for g in graphs])
    put(raw / "edge.csv.gz", [e for g in graphs for e in g["edge_index"][:, 0::2].T])
    put(raw / "node-feat.csv.gz", [r for g in graphs for r in g["node_feat"]])
    put(raw / "edge-feat.csv.gz", [r for g in graphs for r in g["edge_feat"][0::2]])
    put(raw / "graph-label.csv.gz", labels)
    (folder / "split" / "scaffold").mkdir(parents=True)
    for name, rows in split.items():
        put(folder / "split" / "scaffold" / f"{name}.csv.gz", rows)
    if smiles is not None:
        (folder / "mapping").mkdir()
        with gzip.open(folder / "mapping" / "mol.csv.gz", "wt", newline="") as f:
            w = csv.writer(f)
            w.writerow(["HIV_active", "smiles", "mol_id"])
            w.writerows([y, s, f"mol{i}"] for i, (y, s) in enumerate(zip(labels, smiles)))
    return folder


def hand_graphs() -> list[dict]:
    """Three molecules' OGB arrays written by hand (no RDKit needed): ethanol's heavy atoms C-C-O, a lone N,
    and a C=O."""
    def atom(num, degree, hs, hyb=2):
        return [num - 1, 0, degree, 5, hs, 0, hyb, 0, 0]

    return [
        {"num_nodes": 3, "edge_index": np.array([[0, 1, 1, 2], [1, 0, 2, 1]]),
         "node_feat": np.array([atom(6, 4, 3), atom(6, 4, 2), atom(8, 2, 1)]),
         "edge_feat": np.array([[0, 0, 0]] * 4)},
        {"num_nodes": 1, "edge_index": np.zeros((2, 0), np.int64), "node_feat": np.array([atom(7, 3, 3)]),
         "edge_feat": np.zeros((0, 3), np.int64)},
        {"num_nodes": 2, "edge_index": np.array([[0, 1], [1, 0]]),
         "node_feat": np.array([atom(6, 3, 2, 1), atom(8, 1, 0, 1)]),
         "edge_feat": np.array([[1, 0, 0]] * 2)},
    ]


def test_one_hot_columns_feature_after_feature():
    atoms = np.array([[5, 0, 4, 5, 1, 0, 2, 0, 0], [118, 4, 11, 11, 9, 5, 5, 1, 1]])
    x = one_hot_atoms(atoms)
    assert x.shape == (2, 174) and sum(ATOM_FEATURE_DIMS) == 174
    assert (x.sum(1) == 9).all()
    offsets = np.cumsum((0,) + ATOM_FEATURE_DIMS[:-1])
    assert np.nonzero(x[0])[0].tolist() == (offsets + atoms[0]).tolist()
    assert np.nonzero(x[1])[0].tolist() == (np.cumsum(ATOM_FEATURE_DIMS) - 1).tolist()  # each list's last value
    assert float(x[0] @ x[1]) == 0.0


@needs_chem
def test_atom_feature_dims_are_ogbs():
    from ogb.utils.features import get_atom_feature_dims

    assert tuple(get_atom_feature_dims()) == ATOM_FEATURE_DIMS


def test_ogb_layout_without_rdkit(isolated_data_env, tmp_path, monkeypatch):
    """OGB's arrays are read as they are (no RDKit: its import is made to fail), each bond both ways."""
    monkeypatch.setitem(sys.modules, "rdkit", None)
    graphs = hand_graphs()
    split = {"train": [0], "valid": [2], "test": [1]}
    write_ogb(tmp_path / "d" / "ogbg_molhiv", graphs, [0, 1, 0], split, smiles=["CCO", "N", "C=O"])
    data = load("ogbg-molhiv", root=tmp_path / "d", progress=False)
    assert len(data) == 3 and data.y.tolist() == [0, 1, 0]
    assert {k: v.tolist() for k, v in data.split.items()} == split
    assert data.folds[0][0].tolist() == [0] and data.folds[0][1].tolist() == [2]  # (train, valid): never test
    for g, ref in zip(data.graphs, graphs):
        assert g.edge_index.tolist() == ref["edge_index"].tolist()
        assert g.x.dtype == torch.float32 and g.x.shape == (ref["num_nodes"], 174)
        assert (g.x.numpy() == one_hot_atoms(ref["node_feat"])).all()
        assert g.meta["bond_features"].tolist() == ref["edge_feat"].tolist()
    assert [g.meta["smiles"] for g in data.graphs] == ["CCO", "N", "C=O"]
    # the folder itself loads too (the format registry), and the same
    again = load(tmp_path / "d" / "ogbg_molhiv", progress=False, dtype=torch.float32)
    assert [g.edge_index.tolist() for g in again.graphs] == [g.edge_index.tolist() for g in data.graphs]


def test_ogb_layout_refusals(isolated_data_env, tmp_path):
    folder = write_ogb(tmp_path / "ogbg_molhiv", hand_graphs(), [0, 1, 0], {"train": [0], "valid": [1], "test": [5]})
    with pytest.raises(DatasetFormatError, match=r"test\.csv\.gz:1: index 5 outside 0\.\.2"):
        load("molhiv", root=tmp_path, progress=False)
    with gzip.open(folder / "raw" / "edge.csv.gz", "wt") as f:
        f.write("0,1\n1,x\n0,1\n")
    with pytest.raises(DatasetFormatError, match=r"edge\.csv\.gz:2: expected 2 comma-separated integers"):
        load("molhiv", root=tmp_path, progress=False)


def test_not_found_names_the_places(isolated_data_env, tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"(?s)ogbg_molhiv/raw.*molhiv/HIV\.csv"):
        load("ogbg-molhiv", root=tmp_path, progress=False)


def test_missing_extra_named(isolated_data_env, tmp_path, monkeypatch):
    write_csv(tmp_path / "molhiv")
    monkeypatch.setitem(sys.modules, "rdkit", None)
    with pytest.raises(MissingChemError, match=r'pip install "fastgnn\[chem\]"'):
        load("ogbg-molhiv", root=tmp_path, progress=False)
    with pytest.raises(ImportError):  # an ImportError, for code that catches that
        load("molhiv", root=tmp_path, progress=False)


@needs_chem
def test_csv_graphs_are_ogbs(isolated_data_env, tmp_path):
    """Every molecule that today's RDKit parses is exactly ``smiles2graph``'s graph; the relaxed one is listed."""
    from ogb.utils import smiles2graph

    write_csv(tmp_path / "molhiv")
    data = load("ogbg-molhiv", root=tmp_path, progress=False)
    assert len(data) == len(SMILES) and data.y.tolist() == LABELS
    assert data.relaxed.tolist() == RELAXED
    assert {k: v.tolist() for k, v in data.split.items()} == SPLIT
    for i, g in enumerate(data.graphs):
        assert g.meta["smiles"] == SMILES[i] and g.meta["row"] == i
        if i in RELAXED:
            continue
        ref = smiles2graph(SMILES[i])
        assert g.num_nodes == ref["num_nodes"]
        assert g.edge_index.tolist() == ref["edge_index"].tolist()
        assert g.meta["atoms"].tolist() == ref["node_feat"].tolist()
        assert g.meta["bond_features"].tolist() == ref["edge_feat"].tolist()
        assert (g.x.numpy() == one_hot_atoms(ref["node_feat"])).all()
    al = data.graphs[RELAXED[0]]
    assert al.num_nodes == 19 and al.num_edges == 2 * 21  # Al bonded to six O of three oxalates
    assert sorted(al.meta["atoms"][:, 0].tolist()).count(12) == 1  # one Al (atomic number 13 -> index 12)


@needs_chem
def test_csv_matches_ogb_layout(isolated_data_env, tmp_path):
    """The same molecules through both layouts give the same graphs (OGB's layout from smiles2graph)."""
    from ogb.utils import smiles2graph

    keep = [i for i in range(len(SMILES)) if i not in RELAXED]
    smiles, labels = [SMILES[i] for i in keep], [LABELS[i] for i in keep]
    split = {"train": [0, 1, 2], "valid": [3, 4], "test": [5, 6]}
    write_csv(tmp_path / "a" / "molhiv", smiles, labels, split)
    write_ogb(tmp_path / "b" / "ogbg_molhiv", [smiles2graph(s) for s in smiles], labels, split, smiles)
    a = load("molhiv", root=tmp_path / "a", progress=False)
    b = load("molhiv", root=tmp_path / "b", progress=False)
    assert a.y.tolist() == b.y.tolist()
    assert all((ga.x == gb.x).all() and (ga.edge_index == gb.edge_index).all() for ga, gb in zip(a, b))
    assert all(ga.meta["smiles"] == gb.meta["smiles"] for ga, gb in zip(a, b))


@needs_chem
def test_unparsable_row_refused_by_line(isolated_data_env, tmp_path):
    write_csv(tmp_path / "molhiv", [*SMILES[:3], "C1CC(", *SMILES[3:]], [*LABELS[:3], 0, *LABELS[3:]], None)
    with pytest.raises(DatasetFormatError, match=r"HIV\.csv:5: row 3 refused: .*'C1CC\('"):
        load("ogbg-molhiv", root=tmp_path, progress=False)
    write_csv(tmp_path / "molhiv", SMILES[:2], [0, 7], None)
    with pytest.raises(DatasetFormatError, match=r"HIV\.csv:3: HIV_active must be 0 or 1, got '7'"):
        load("ogbg-molhiv", root=tmp_path, progress=False)


@needs_chem
def test_split_recomputed_without_files(isolated_data_env, tmp_path):
    """No split_scaffold/: the scaffold split recomputed; benzene's scaffold (phenol, the group of 1) and the
    acyclic ones (scaffold '') grouped as Hu et al. do."""
    smiles = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1O", "c1ccccc1N", "c1ccccc1C", "C1CCCCC1O", "C1CCNCC1", "c1ccncc1"]
    write_csv(tmp_path / "molhiv", smiles, [0] * 9 + [1], None)
    data = load("molhiv", root=tmp_path, progress=False)
    assert data.scaffolds[:4] == [""] * 4 and set(data.scaffolds[4:7]) == {"c1ccccc1"}
    # groups by size: '' (4: rows 0-3), benzene (3: rows 4-6), then three of one, larger first row first
    assert {k: v.tolist() for k, v in data.split.items()} == {"train": [0, 1, 2, 3, 4, 5, 6, 9], "valid": [8],
                                                              "test": [7]}


def test_scaffold_split_rule_and_compare():
    s = ["a", "b", "a", "c", "b", "a", "d", "e", "e", "f"]
    split = scaffold_split(s)
    # groups: a (0, 2, 5), b (1, 4), e (7, 8), then d (6), f (9), c (3) by (size, first row) descending
    assert {k: v.tolist() for k, v in split.items()} == {"train": [0, 1, 2, 4, 5, 7, 8, 9], "valid": [6],
                                                         "test": [3]}
    other = {"train": split["train"], "valid": split["test"], "test": split["valid"]}
    cmp = compare_splits(split, other)
    assert cmp["differ"] == 2 and cmp["rows"] == 10 and cmp["moved"] == {("valid", "test"): 1, ("test", "valid"): 1}
    assert compare_splits(split, split)["differ"] == 0


@needs_chem
def test_cache_hit_stale_and_damaged(isolated_data_env, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "molhiv")
    first = load("molhiv", root=tmp_path, progress=False)
    [cached] = list((isolated_data_env / "parsed").glob("ogbg-molhiv-*.npz"))

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:  # a hit: no parse
        m.setattr(molhiv_module, "_parse_csv", no_parse)
        hit = load("molhiv", root=tmp_path, progress=False)
    assert all((a.x == b.x).all() and (a.edge_index == b.edge_index).all() for a, b in zip(first, hit))
    assert hit.relaxed.tolist() == RELAXED and hit.scaffolds == first.scaffolds

    write_csv(tmp_path / "molhiv", SMILES[:5], [0, 1, 1, 1, 1], {"train": [0, 1, 2], "valid": [3], "test": [4]})
    stale = load("molhiv", root=tmp_path, progress=False)  # the source changed: parsed again, silently
    assert len(stale) == 5 and stale.y.tolist() == [0, 1, 1, 1, 1]
    assert path.is_file()

    for damage in (lambda b: b[: len(b) // 2], lambda b: b.replace(b"CC", b"CN", 1), lambda b: b"not a zip"):
        cached.write_bytes(damage(cached.read_bytes()))
        with pytest.warns(RuntimeWarning, match=rf"{cached.name}: cache not used"):
            again = load("molhiv", root=tmp_path, progress=False)
        assert len(again) == 5 and again.y.tolist() == [0, 1, 1, 1, 1]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # rewritten: read back without a warning
            load("molhiv", root=tmp_path, progress=False)


@pytest.fixture(scope="module")
def shared_molhiv(tmp_path_factory):
    if not HAVE_CHEM:
        pytest.skip(f"RDKit and ogb are not installed ({EXTRA_HINT})")
    if not (SHARED_MOLHIV / "HIV.csv").is_file():
        pytest.skip("../shared/datasets/molhiv/HIV.csv not found")
    from fastgnn.datasets.molhiv import read_molhiv

    return read_molhiv(SHARED_MOLHIV, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


@pytest.mark.slow
@pytest.mark.data
def test_shared_molhiv_as_sources_md(shared_molhiv):
    """SOURCES.md's counts: 41,127 molecules, 1,443 active, 1,049,163 atoms and 1,129,688 bonds, 7 relaxed."""
    data = shared_molhiv
    assert len(data) == 41_127 and int(data.y.sum()) == 1_443
    assert sum(g.num_nodes for g in data.graphs) == 1_049_163
    assert sum(g.num_edges for g in data.graphs) == 2 * 1_129_688
    assert data.relaxed.tolist() == [137, 987, 12882, 18293, 30784, 30785, 35728]
    assert {k: len(v) for k, v in data.split.items()} == {"train": 32_901, "valid": 4_113, "test": 4_113}
    assert [int(data.y[data.split[k]].sum()) for k in ("train", "valid", "test")] == [1_232, 81, 130]


@pytest.mark.slow
@pytest.mark.data
def test_shared_scaffold_split_recomputed(shared_molhiv, capsys):
    """The scaffold split recomputed with the installed RDKit against the shipped split_scaffold files:
    at most 0.1 % of the rows differ (0 with RDKit 2026.09.1)."""
    cmp = compare_splits(scaffold_split(shared_molhiv.scaffolds), shared_molhiv.split)
    with capsys.disabled():
        print(f"\nogbg-molhiv scaffold split recomputed vs shipped: {cmp['differ']} of {cmp['rows']} rows differ "
              f"({100 * cmp['fraction']:.3f} %) {cmp['moved']}")
    assert cmp["rows"] == 41_127 and cmp["fraction"] <= 0.001
