"""Dataset readers and ``load``: the shared benchmarks, strict parsing, search order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastgnn.datasets import (
    KNOWN_NAMES,
    DatasetFormatError,
    DatasetNotFoundError,
    canonical_name,
    find,
    load,
    load_gin_dataset,
    read_folds,
    read_gin,
    read_tu,
    symmetrise,
)

# From ../shared/datasets/SOURCES.md: graphs, classes {raw label: count}, avg nodes,
# avg edges, node tags (feature dimension of the bio sets), test-fold size (None: varies).
TABLE = {
    "MUTAG": (188, {2: 125, 0: 63}, 17.93, 19.79, 7, 18),
    "PTC": (344, {0: 192, 1: 152}, 25.56, 25.96, 19, 34),
    "NCI1": (4110, {0: 2053, 1: 2057}, 29.87, 32.30, 37, None),
    "PROTEINS": (1113, {0: 663, 1: 450}, 39.06, 72.82, 3, 111),
    "IMDBBINARY": (1000, {0: 500, 1: 500}, 19.77, 96.53, None, 100),
    "IMDBMULTI": (1500, {0: 500, 1: 500, 2: 500}, 13.00, 65.94, None, 150),
}


# --------------------------------------------------------------------------- shared data


@pytest.mark.data
@pytest.mark.parametrize("name", list(TABLE))
def test_shared_dataset_matches_sources_table(name, load_shared):
    graphs, classes, avg_nodes, avg_edges, tags, test_size = TABLE[name]
    ds = load_shared(name)
    s = ds.stats()
    assert ds.name == name
    assert s["graphs"] == graphs
    assert s["classes"] == len(classes)
    assert s["avg_nodes"] == pytest.approx(avg_nodes, abs=0.006)
    assert s["avg_edges"] == pytest.approx(avg_edges, abs=0.006)
    counts = dict(zip(ds.label_names, np.bincount(ds.y).tolist()))
    assert counts == classes
    if tags is not None:  # bio sets: one-hot node tags over the dataset's tag vocabulary
        assert ds.num_features == tags
        all_tags = np.concatenate([g.meta["tags"] for g in ds])
        assert len(np.unique(all_tags)) == tags

    for g in ds.graphs[:50]:
        assert g.x.dtype == torch.float64
        assert g.x.shape == (g.num_nodes, ds.num_features)
        assert torch.all(g.x.sum(1) == 1)
        ei = g.edge_index.numpy()
        keys = ei[0] * g.num_nodes + ei[1]
        assert np.all(np.diff(keys) > 0), "edges sorted and deduplicated"
        assert set(map(tuple, ei.T)) == set(map(tuple, ei[::-1].T)), "edges symmetric"

    assert len(ds.folds) == 10
    for train, test in ds.folds:
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.union1d(train, test), np.arange(graphs))
        if test_size is not None:
            assert len(test) == test_size


@pytest.mark.data
def test_shared_folds_are_the_files_fold_one_first(shared_datasets, load_shared):
    ds = load_shared("MUTAG")
    first = np.loadtxt(shared_datasets / "MUTAG" / "10fold_idx" / "test_idx-1.txt", dtype=int)
    assert np.array_equal(ds.folds[0][1], first)


@pytest.mark.data
@pytest.mark.parametrize("name", ["IMDBBINARY", "IMDBMULTI"])
def test_social_sets_get_one_hot_degree(name, load_shared):
    ds = load_shared(name)
    vocab = np.unique(np.concatenate([g.degrees().numpy() for g in ds]))
    assert ds.num_features == len(vocab)
    for g in ds.graphs[:100]:
        assert np.array_equal(vocab[g.x.argmax(1).numpy()], g.degrees().numpy())


@pytest.mark.data
def test_aliases_and_case(shared_datasets, load_shared):
    a = load("imdb-binary", root=shared_datasets, download=False)
    b = load_shared("IMDBBINARY")
    assert a.name == "IMDBBINARY" and len(a) == len(b)
    assert load("PTC_MR", root=shared_datasets, download=False).name == "PTC"
    assert canonical_name("Imdb-Multi") == "IMDBMULTI"


def test_collab_folds_only_fails_clearly(tmp_path, isolated_data_env):
    """A COLLAB folder with its folds but neither COLLAB.txt nor COLLAB.zip beside it (the shared folder
    before COLLAB.zip was added): the message names the missing file and the ways to point at data."""
    write_folds(tmp_path / "COLLAB" / "10fold_idx", [([0], [1]), ([1], [0])])
    with pytest.raises(DatasetNotFoundError) as err:
        load("COLLAB", root=tmp_path, download=False)
    msg = str(err.value)
    assert "holds 10fold_idx but not COLLAB.txt" in msg
    assert str(tmp_path / "COLLAB" / "COLLAB.txt") in msg and str(tmp_path / "COLLAB.zip") in msg
    assert "root=" in msg and "FASTGNN_DATA" in msg and "--data-dir" in msg


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as err:
        load("NOT-A-SET")
    for known in KNOWN_NAMES:
        assert known in str(err.value)


def test_load_synthetic():
    ds = load("synthetic")
    assert len(ds) == 200 and ds.num_classes == 2 and ds.name == "synthetic"


# --------------------------------------------------------------------------- GIN format

GOOD = """3
3 1
0 1 1
1 3 0 2 2
2 1 1
2 -1
5 2 0 1
5 1 0
1 7
4 0
"""


def write(tmp_path, text, name="T.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_gin_symmetrises_and_keeps_isolated_nodes_and_self_loops(tmp_path):
    g1, g2, g3 = read_gin(write(tmp_path, GOOD))
    # graph 1: path 0-1-2, with 1 -> 2 listed twice
    assert g1.num_nodes == 3 and g1.label == 1
    assert g1.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert g1.tags.tolist() == [0, 1, 2]
    # graph 2: node 0 has a self-loop (kept once) and an edge listed one way only
    assert g2.edge_index.tolist() == [[0, 0, 1], [0, 1, 0]]
    # graph 3: one isolated node
    assert g3.num_nodes == 1 and g3.edge_index.shape == (2, 0)


def test_gin_dataset_features_labels_and_default_folds(tmp_path):
    ds = load_gin_dataset(write(tmp_path, GOOD), name="T")
    assert ds.num_features == 5  # tags {0, 1, 2, 4, 5}
    assert ds.graphs[1].x.tolist() == [[0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]
    assert ds.label_names == [-1, 1, 7] and ds.y.tolist() == [1, 0, 2]
    assert len(ds.folds) == 3  # one graph per class: unstratified 3-fold
    deg = load_gin_dataset(write(tmp_path, GOOD), features="degree")
    # degrees as networkx counts them: g1 (1, 2, 1), g2 (3, 1): the self-loop counts 2, g3 (0,)
    assert deg.num_features == 4
    assert deg.graphs[2].x.tolist() == [[1, 0, 0, 0]]
    assert deg.graphs[1].x.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0]]


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("", 1, "empty file"),
        ("two\n", 1, "expected the number of graphs"),
        ("1\n2\n", 2, "expected 'n label'"),
        ("1\n2 0 extra\n", 2, "expected 'n label'"),
        ("1\n2 x\n", 2, "expected 'n label'"),
        ("1\n2 0\n0 1 1\n0 2 0\n", 4, "expected 2 + 2 neighbour indices, got 3 tokens"),
        ("1\n2 0\n0 1 1\n0 1 a\n", 4, "neighbour index 'a' is not an integer"),
        ("1\n2 0\n0 1 2\n0 1 0\n", 3, "neighbour index 2 outside 0..1"),
        ("1\n2 0\n0 1 -1\n0 1 0\n", 3, "outside 0..1"),
        ("1\n2 0\n0 -1\n0 0\n", 3, "negative neighbour count"),
        ("1\n2 0\n0\n0 0\n", 3, "expected 'tag m nb_1 .. nb_m'"),
        ("1\n2 0\nt 0\n0 0\n", 3, "must be integers"),
        ("1\n2 0\n0 0\n", 4, "expected node 1 of 2, got end of file"),
        ("2\n1 0\n0 0\n", 4, "graph 2 of 2, got end of file"),
        ("1\n1 0\n0 0\n1 0\n", 4, "trailing data after the 1 graphs"),
        ("1\n1 0\n0 0\n\n0 0\n", 5, "trailing data"),
        ("1\n2 0\n0 0 0.5\n0 0\n", 4, "and 1 attributes"),
        ("1\n2 0\n0 0 0.5\n0 0 b\n", 4, "are not floats"),
        ("1\n0 1\n", 2, "graph 1 has 0 nodes"),
        ("1\n\n1 0\n0 0\n", 2, "expected 'n label'"),
    ],
)
def test_read_gin_rejects_malformed_files_naming_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text, "BAD.txt")
    with pytest.raises(DatasetFormatError) as err:
        read_gin(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert fragment in str(err.value)
    assert err.value.line == line and isinstance(err.value, ValueError)


def test_read_gin_attributes(tmp_path):
    (g,) = read_gin(write(tmp_path, "1\n2 0\n3 1 1 0.5 1e-3\n4 1 0 -2 7\n"))
    assert g.attributes.tolist() == [[0.5, 1e-3], [-2.0, 7.0]]
    ds = load_gin_dataset(tmp_path / "T.txt")
    assert ds.graphs[0].meta["attributes"].shape == (2, 2)


def test_read_gin_tolerates_crlf_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "W.txt"
    path.write_bytes(b"1\r\n2 0\r\n0 1 1\r\n0 1 0\r\n\r\n\n")
    (g,) = read_gin(path)
    assert g.edge_index.tolist() == [[0, 1], [1, 0]]


def test_binary_file_is_a_format_error(tmp_path):
    path = tmp_path / "B.txt"
    path.write_bytes(b"1\n1 0\n\xff\xfe\n")
    with pytest.raises(DatasetFormatError, match=r"B\.txt:3: not a text file"):
        read_gin(path)


# --------------------------------------------------------------------------- folds


def write_folds(folder, folds):
    folder.mkdir(parents=True, exist_ok=True)
    for k, (train, test) in enumerate(folds, 1):
        (folder / f"train_idx-{k}.txt").write_text("".join(f"{i}\n" for i in train))
        (folder / f"test_idx-{k}.txt").write_text("".join(f"{i}\n" for i in test))


def test_read_folds(tmp_path):
    write_folds(tmp_path / "f", [([0, 1], [2]), ([1, 2], [0]), ([0, 2], [1])])
    folds = read_folds(tmp_path / "f", 3)
    assert [t.tolist() for _, t in folds] == [[2], [0], [1]]
    assert folds[0][0].dtype == np.int64


@pytest.mark.parametrize(
    "folds, fragment, file, line",
    [
        ([([0, 5], [2])], "graph index 5 outside 0..2", "train_idx-1.txt", 2),
        ([([0, 1], [1])], "graph 1 is in both", "test_idx-1.txt", None),
        ([([0, "x"], [2])], "'x' is not an integer", "train_idx-1.txt", 2),
        ([([0, "1 2"], [2])], "'1 2' is not an integer", "train_idx-1.txt", 2),
        ([([0, "1,2"], [2])], "expected 1 integer", "train_idx-1.txt", 2),
    ],
)
def test_read_folds_errors(tmp_path, folds, fragment, file, line):
    write_folds(tmp_path / "f", folds)
    with pytest.raises(DatasetFormatError) as err:
        read_folds(tmp_path / "f", 3)
    assert fragment in str(err.value)
    assert err.value.path.name == file and err.value.line == line


def test_read_folds_gap_and_blank_line(tmp_path):
    write_folds(tmp_path / "f", [([0, 1], [2]), ([1, 2], [0])])
    (tmp_path / "f" / "test_idx-2.txt").rename(tmp_path / "f" / "test_idx-3.txt")
    with pytest.raises(DatasetFormatError, match=r"not numbered 1\.\.K: \[1, 3\]"):
        read_folds(tmp_path / "f", 3)
    write_folds(tmp_path / "g", [([0, 1], [2])])
    (tmp_path / "g" / "train_idx-1.txt").write_text("0\n\n1\n")
    with pytest.raises(DatasetFormatError, match=r"train_idx-1\.txt:2: empty line"):
        read_folds(tmp_path / "g", 3)


def test_gin_folds_beside_the_file_are_used(tmp_path):
    (tmp_path / "T").mkdir()
    path = write(tmp_path / "T", GOOD)
    write_folds(tmp_path / "T" / "10fold_idx", [([0, 1], [2]), ([1, 2], [0])])
    ds = load_gin_dataset(path)
    assert len(ds.folds) == 2 and ds.folds[1][1].tolist() == [0]


# --------------------------------------------------------------------------- TU format


def write_tu(folder, name="X", *, A, indicator, labels, node_labels=None, attributes=None):
    """Write a TU-format dataset; each argument is the list of lines of one file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"A": A, "graph_indicator": indicator, "graph_labels": labels,
             "node_labels": node_labels, "node_attributes": attributes}
    for part, lines in files.items():
        if lines is not None:
            (folder / f"{name}_{part}.txt").write_text("".join(f"{x}\n" for x in lines))
    return folder


# two graphs: a triangle (nodes 1-3) and a path 4-5 plus an isolated node 6
TU = dict(
    A=["1, 2", "2, 1", "2, 3", "3, 2", "1, 3", "3, 1", "4, 5", "5, 4", "4,5"],
    indicator=[1, 1, 1, 2, 2, 2],
    labels=[1, -1],
    node_labels=[0, 0, 1, 2, 2, 0],
)


def test_read_tu(tmp_path):
    g1, g2 = read_tu(write_tu(tmp_path / "X", **TU))
    assert g1.num_nodes == 3 and g1.label == 1 and g1.tags.tolist() == [0, 0, 1]
    assert g1.edge_index.tolist() == [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    assert g2.num_nodes == 3 and g2.label == -1
    assert g2.edge_index.tolist() == [[0, 1], [1, 0]]  # duplicate dropped, node 2 isolated


def test_tu_and_gin_give_the_same_graphs(tmp_path):
    gin = "2\n3 1\n0 2 1 2\n0 2 0 2\n1 2 0 1\n3 -1\n2 1 1\n2 1 0\n0 0\n"
    a = load_gin_dataset(write(tmp_path, gin))
    from fastgnn.datasets import load_tu_dataset

    b = load_tu_dataset(write_tu(tmp_path / "X", **TU))
    for g, h in zip(a, b):
        assert torch.equal(g.edge_index, h.edge_index) and torch.equal(g.x, h.x) and g.y == h.y


def test_read_tu_attributes_and_missing_node_labels(tmp_path):
    spec = dict(TU, node_labels=None, attributes=["0.5, 1"] * 6)
    g1, _ = read_tu(write_tu(tmp_path / "X", **spec))
    assert g1.tags.tolist() == [0, 0, 0] and g1.attributes.shape == (3, 2)


@pytest.mark.parametrize(
    "change, file, line, fragment",
    [
        (dict(labels=[1]), "graph_labels", 2,
         "1 graph labels for the 2 graphs of X_graph_indicator.txt: the graph labels do not match"),
        (dict(labels=[1, 2, 3]), "graph_labels", 3, "3 graph labels for the 2 graphs"),
        (dict(node_labels=[0, 0, 0]), "node_labels", 4, "3 node labels for the 6 nodes"),
        (dict(A=["1, 2", "2, 7"]), "A", 2, "edge (2, 7) names a node outside 1..6"),
        (dict(A=["1, 2", "0, 1"]), "A", 2, "edge (0, 1) names a node outside"),
        (dict(A=["1, 2", "3, 4"]), "A", 2, "edge (3, 4) joins graph 1 and graph 2"),
        (dict(A=["1, 2", "3 4"]), "A", 2, "expected 2 ','-separated integers, got '3 4'"),
        (dict(A=["1, 2", "3, 4, 5"]), "A", 2, "expected 2 ','-separated integers"),
        (dict(A=["1, 2", "a, 1"]), "A", 2, "'a' is not an integer"),
        (dict(A=["1, 2", "", "2, 1"]), "A", 2, "empty line"),
        (dict(indicator=[1, 1, 1, 3, 3, 3], labels=[0, 1, 2]), "graph_indicator", 4,
         "graph id goes from 1 to 3: graph 2 has no nodes"),
        (dict(indicator=[1, 2, 1, 2, 2, 2]), "graph_indicator", 3, "grouped by graph"),
        (dict(indicator=[2, 2, 2, 2, 2, 2]), "graph_indicator", 1, "must start at 1"),
        (dict(indicator=[]), "graph_indicator", 1, "no nodes"),
        (dict(attributes=["0.5"] * 5 + ["x"]), "node_attributes", 6, "expected comma-separated"),
    ],
)
def test_read_tu_errors(tmp_path, change, file, line, fragment):
    folder = write_tu(tmp_path / "X", **dict(TU, **change))
    with pytest.raises(DatasetFormatError) as err:
        read_tu(folder)
    assert str(err.value).startswith(f"{folder / f'X_{file}.txt'}:{line}: ")
    assert fragment in str(err.value)


def test_read_tu_missing_file(tmp_path):
    folder = write_tu(tmp_path / "X", **TU)
    (folder / "X_graph_labels.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="X_graph_labels.txt: no such file"):
        read_tu(folder)


# --------------------------------------------------------------------------- load()


def gin_text(num_graphs):
    return f"{num_graphs}\n" + "2 0\n0 1 1\n0 1 0\n" * (num_graphs - 2) + "1 1\n0 0\n" * 2


def test_search_order_root_then_env_then_cache(tmp_path, isolated_data_env, monkeypatch):
    for folder, count in [("root", 4), ("env", 5), ("cache", 6)]:
        (tmp_path / folder / "MUTAG").mkdir(parents=True)
        (tmp_path / folder / "MUTAG" / "MUTAG.txt").write_text(gin_text(count))
    kw = dict(cache_dir=tmp_path / "cache", download=False)
    monkeypatch.setenv("FASTGNN_DATA", str(tmp_path / "env"))
    assert len(load("MUTAG", tmp_path / "root", **kw)) == 4
    assert len(load("MUTAG", tmp_path / "nowhere", **kw)) == 5
    monkeypatch.delenv("FASTGNN_DATA")
    assert len(load("MUTAG", tmp_path / "nowhere", **kw)) == 6
    monkeypatch.setenv("FASTGNN_CACHE", str(tmp_path / "cache"))
    assert len(load("mutag", download=False)) == 6


def test_load_reads_tu_folders_and_prefers_gin(tmp_path, isolated_data_env):
    write_tu(tmp_path / "IMDB-BINARY", "IMDB-BINARY", **dict(TU, node_labels=None))
    ds = load("IMDBBINARY", tmp_path, download=False)
    assert ds.name == "IMDBBINARY" and len(ds) == 2
    assert ds.num_features == 3  # one-hot degree: degrees {0, 1, 2}
    write_tu(tmp_path / "MUTAG", "MUTAG", **TU)
    assert len(load("MUTAG", tmp_path, download=False)) == 2
    (tmp_path / "MUTAG" / "MUTAG.txt").write_text(gin_text(4))
    assert len(load("MUTAG", tmp_path, download=False)) == 4


def test_not_found_without_download(tmp_path, isolated_data_env):
    with pytest.raises(DatasetNotFoundError) as err:
        load("PTC", tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "PTC" / "PTC.txt") in msg
    assert str(isolated_data_env / "PTC_MR" / "PTC_MR_A.txt") in msg
    assert "download=False" in msg and "--data-dir" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_symmetrise_empty_and_self_loop():
    assert symmetrise([], [], 3).shape == (2, 0)
    assert symmetrise([1, 0, 1], [1, 2, 1], 3).tolist() == [[0, 1, 2], [2, 1, 0]]


# --------------------------------------------------------------------------- a dataset of one's own


def test_own_tu_folder_by_path_and_by_name(tmp_path, isolated_data_env):
    folder = write_tu(tmp_path / "MYSET", "MYSET", **TU)  # was refused as an unknown name
    by_path = load(folder)
    by_text = load(str(folder))
    by_name = load("MYSET", root=tmp_path)
    direct = read_tu(folder)
    for ds in (by_path, by_text, by_name):
        assert ds.name == "MYSET" and len(ds) == 2
        assert [g.num_nodes for g in ds.graphs] == [g.num_nodes for g in direct]
        assert ds.label_names == [-1, 1]
        assert ds.num_features == 3  # one-hot of the node labels 0, 1, 2
    assert find("MYSET", tmp_path) == ("tu", folder) and find(folder) == ("tu", folder)


def test_own_tu_folder_without_node_labels_uses_degrees(tmp_path, isolated_data_env):
    no_tags = {k: v for k, v in TU.items() if k != "node_labels"}
    ds = load(write_tu(tmp_path / "SOCIAL", "SOCIAL", **no_tags))
    degrees = sorted({int(d) for g in ds.graphs for d in g.degrees()})
    assert ds.num_features == len(degrees) and ds.num_features > 1


def test_own_folder_with_another_prefix(tmp_path, isolated_data_env):
    folder = write_tu(tmp_path / "mydata", "GRAPHS", **TU)
    ds = load(folder)
    assert len(ds) == 2 and ds.name == "mydata"


def test_own_gin_folder_by_path_and_file(tmp_path, isolated_data_env):
    folder = tmp_path / "MINE"
    folder.mkdir()
    (folder / "MINE.txt").write_text(gin_text(5))
    for arg in (folder, folder / "MINE.txt"):
        ds = load(arg)
        assert len(ds) == 5 and ds.name == "MINE"
    assert len(load("MINE", tmp_path)) == 5
    assert find(folder) == ("gin", folder / "MINE.txt")


def test_own_folder_errors(tmp_path, isolated_data_env):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no dataset in a known format"):
        load(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"unknown dataset 'OTHER'.*looked for"):
        load("OTHER", root=tmp_path, download=False)


def test_a_format_is_one_registry_entry(tmp_path, isolated_data_env, monkeypatch):
    """A new format plugs in with register_format; find and load loop over the registry."""
    from fastgnn.datasets import FORMATS, DatasetFormat, register_format
    from fastgnn.datasets.formats import Found

    def probe(d, names):
        path = d / names[0] / "graphs.json"
        return Found("json", path, names[0]) if path.is_file() else None

    def read(found, *, name, features, dtype):
        return load_gin_dataset(found.path.with_name("as_gin.txt"), name=name, dtype=dtype)

    monkeypatch.setattr("fastgnn.datasets.formats.FORMATS", list(FORMATS))
    register_format(DatasetFormat("json", probe, read, lambda d, names: [f"{d}/{names[0]}/graphs.json"],
                                  lambda found: "tags"), first=True)
    (tmp_path / "J").mkdir()
    (tmp_path / "J" / "graphs.json").write_text("{}")
    (tmp_path / "J" / "as_gin.txt").write_text(gin_text(4))
    assert find("J", tmp_path) == ("json", tmp_path / "J" / "graphs.json")
    assert len(load("J", tmp_path)) == 4
    with pytest.raises(ValueError, match="already registered"):
        register_format(DatasetFormat("json", probe, read, None, None))
