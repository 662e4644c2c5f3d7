"""Datasets in zip archives, the vectorised GIN parser, the binary cache, and the sets beyond the GNTK paper.

Small fixtures are written by the tests; the real COLLAB, REDDIT-BINARY, DD, ENZYMES and PTC_MR zips
of ``../shared/datasets/tu`` are checked against the counts of its SOURCES.md (skipped when absent).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fastgnn.datasets import DatasetFormatError, extract_zip, find, load, read_gin, symmetrise
from fastgnn.datasets import cache as cache_module
from fastgnn.datasets import formats as formats_module
from fastgnn.datasets.gin import _parse_fast, _parse_strict
from fastgnn.datasets.raw import read_folds, read_lines

# A GIN text of three graphs whose labels are written 0 and 2 (as MUTAG's, REDDIT-BINARY's, PTC_MR's):
# graph 1 a path with a neighbour listed twice, graph 2 a self-loop and an edge listed one way, graph 3 a triangle.
GIN = """3
3 0
0 1 1
1 3 0 2 2
2 1 1
2 2
5 2 0 1
5 1 0
3 2
1 2 1 2
1 2 0 2
4 2 0 1
"""
FOLDS = [([0, 1], [2]), ([1, 2], [0]), ([0, 2], [1])]


def gin_zip(name="MYSET", top: str | None = "MYSET", text=GIN, extra=(), folds=FOLDS) -> bytes:
    """A zip of a GIN dataset (``NAME.txt`` and ``10fold_idx``), under ``top/`` or at the top level,
    with macOS metadata as the published zips carry it."""
    buf = io.BytesIO()
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{prefix}{name}.txt", text)
        z.writestr(f"{prefix}.DS_Store", b"\0\0\0\1Bud1")
        z.writestr(f"__MACOSX/{prefix}._.DS_Store", b"junk")
        for k, (train, test) in enumerate(folds, 1):
            z.writestr(f"{prefix}10fold_idx/train_idx-{k}.txt", "".join(f"{i}\n" for i in train))
            z.writestr(f"{prefix}10fold_idx/test_idx-{k}.txt", "".join(f"{i}\n" for i in test))
        for member, data in extra:
            z.writestr(member, data)
    return buf.getvalue()


def tu_zip(name="MYSET", top: str | None = "MYSET") -> bytes:
    """The same three graphs in the TU format (1-based, one file per part), with 2 node attributes."""
    prefix = f"{top}/" if top else ""
    files = {
        "A": "1, 2\n2, 1\n2, 3\n3, 2\n4, 4\n4, 5\n6, 7\n7, 6\n6, 8\n8, 6\n7, 8\n8, 7\n",
        "graph_indicator": "1\n1\n1\n2\n2\n3\n3\n3\n",
        "graph_labels": "0\n2\n2\n",
        "node_labels": "0\n1\n2\n5\n5\n1\n1\n4\n",
        "node_attributes": "".join(f"{i}.5, {-i}\n" for i in range(8)),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part, text in files.items():
            z.writestr(f"{prefix}{name}_{part}.txt", text)
    return buf.getvalue()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def edges(ds) -> list:
    return [g.edge_index.tolist() for g in ds]


# --------------------------------------------------------------------------- archives


@pytest.mark.parametrize("top", ["MYSET", None], ids=["top-folder", "no-top-folder"])
def test_gin_archive_is_read_like_its_folder_and_extracted_into_the_cache(tmp_path, isolated_data_env, top):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "MYSET.zip").write_bytes(gin_zip(top=top))
    ds = load("MYSET", root=tmp_path / "data", download=False)
    # the same dataset as the unzipped folder, read by the strict reader
    (tmp_path / "plain" / "MYSET").mkdir(parents=True)
    (tmp_path / "plain" / "MYSET" / "MYSET.txt").write_text(GIN)
    expected = [g.edge_index.tolist() for g in read_gin(tmp_path / "plain" / "MYSET" / "MYSET.txt")]
    assert edges(ds) == expected
    assert [[tr.tolist(), te.tolist()] for tr, te in ds.folds] == [list(f) for f in FOLDS]
    # nothing written into the data folder; the extraction is in the cache, without the macOS metadata
    assert files_under(tmp_path / "data") == ["MYSET.zip"]
    (extracted,) = (isolated_data_env / "archives").iterdir()
    assert extracted.name.startswith("MYSET-")
    assert "MYSET/MYSET.txt" in files_under(extracted)
    assert not any("MACOSX" in f or "DS_Store" in f for f in files_under(extracted))
    assert find("MYSET", tmp_path / "data") == ("zip", tmp_path / "data" / "MYSET.zip")


@pytest.mark.parametrize("top", ["MYSET", None], ids=["top-folder", "no-top-folder"])
def test_tu_archive_with_attributes(tmp_path, isolated_data_env, top):
    (tmp_path / "MYSET.zip").write_bytes(tu_zip(top=top))
    ds = load("MYSET", root=tmp_path, download=False)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "MYSET.zip").write_bytes(gin_zip())
    assert edges(ds) == edges(load("MYSET", root=tmp_path / "g", download=False))
    assert ds.num_features == 5  # one-hot tags {0, 1, 2, 4, 5}, the TU default where node labels exist
    att = load("MYSET", root=tmp_path, features="attributes", download=False)
    assert att.num_features == 2
    assert att.graphs[2].x.tolist() == [[5.5, -5.0], [6.5, -6.0], [7.5, -7.0]]
    both = load("MYSET", root=tmp_path, features="tags+attributes", download=False)
    assert both.graphs[0].x[:, :2].tolist() == [[0.5, 0.0], [1.5, -1.0], [2.5, -2.0]]
    assert both.graphs[0].x[:, 2:].argmax(1).tolist() == [0, 1, 2]


def test_attributes_from_a_file_without_them_name_the_file_and_the_tu_copy(tmp_path, isolated_data_env):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip())
    with pytest.raises(ValueError, match=r"MYSET\.zip: MYSET has no node attributes.*NAME_node_attributes\.txt"):
        load("MYSET", root=tmp_path, features="attributes", download=False)


def test_complete_folder_wins_an_incomplete_one_falls_back_to_the_archive(tmp_path, isolated_data_env):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip())
    folds = tmp_path / "MYSET" / "10fold_idx"  # the folds alone, as ../shared's COLLAB/
    folds.mkdir(parents=True)
    for k, (train, test) in enumerate([(0, 1), (1, 0)], 1):
        (folds / f"train_idx-{k}.txt").write_text(f"{train}\n")
        (folds / f"test_idx-{k}.txt").write_text(f"{test}\n")
    assert find("MYSET", tmp_path)[0] == "zip"
    assert len(load("MYSET", root=tmp_path, download=False)) == 3
    (tmp_path / "MYSET" / "MYSET.txt").write_text("2\n1 0\n0 0\n1 1\n0 0\n")  # now complete: two graphs
    assert find("MYSET", tmp_path)[0] == "gin"
    assert len(load("MYSET", root=tmp_path, download=False)) == 2


def test_an_archive_given_by_its_path(tmp_path, isolated_data_env):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip())
    assert len(load(tmp_path / "MYSET.zip", download=False)) == 3


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "MYSET/../../evil.txt"])
def test_traversal_in_an_archive_is_refused_naming_it(tmp_path, isolated_data_env, member):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip(extra=[(member, "evil")]))
    with pytest.raises(DatasetFormatError, match=rf"{tmp_path / 'MYSET.zip'}: unsafe member path"):
        load("MYSET", root=tmp_path, download=False)
    assert not list(tmp_path.parent.rglob("evil.txt"))
    assert files_under(isolated_data_env / "archives") == []


def test_truncated_and_damaged_archives_are_refused_naming_them(tmp_path, isolated_data_env):
    good = gin_zip()
    (tmp_path / "MYSET.zip").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetFormatError, match=rf"{tmp_path / 'MYSET.zip'}: not a readable zip"):
        load("MYSET", root=tmp_path, download=False)
    # a flipped byte inside the compressed text: the member fails its CRC-32 (or does not inflate)
    damaged = bytearray(good)
    at = good.index(b"MYSET/MYSET.txt") + len("MYSET/MYSET.txt") + 5
    damaged[at] ^= 0xFF
    (tmp_path / "MYSET.zip").write_bytes(bytes(damaged))
    with pytest.raises(DatasetFormatError, match=rf"{tmp_path / 'MYSET.zip'}: not a readable zip"):
        load("MYSET", root=tmp_path, download=False)


def test_an_edited_extraction_is_extracted_again_with_a_warning(tmp_path, isolated_data_env):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip())
    first = edges(load("MYSET", root=tmp_path, download=False))
    for p in (isolated_data_env / "parsed").iterdir():  # the parsed cache gone: the extraction is read again
        p.unlink()
    (text,) = (isolated_data_env / "archives").rglob("MYSET.txt")
    text.write_text(GIN.replace("3 2\n", "3 0\n"))  # same size, another label
    with pytest.warns(RuntimeWarning, match=r"MYSET: extracted copy of .*MYSET\.zip not used, MYSET\.txt differs"):
        again = load("MYSET", root=tmp_path, download=False)
    assert edges(again) == first and again.label_names == [0, 2]


def test_extracted_folder_gets_the_umask_mode_not_0700(tmp_path):
    """A zip without a top folder used to become the temporary folder itself, mode 0700 (issue 24.7)."""
    (tmp_path / "flat.zip").write_bytes(gin_zip(top=None))
    old = os.umask(0o022)
    try:
        out = extract_zip(tmp_path / "flat.zip", tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "10fold_idx").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "MYSET.txt").stat().st_mode) == 0o644


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    """300 MB of zeros in a 300 KB zip (issue 24.7: such an archive was extracted and kept)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("BOMB/BOMB.txt", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                f.write(block)
    (tmp_path / "BOMB.zip").write_bytes(buf.getvalue())
    assert (tmp_path / "BOMB.zip").stat().st_size < 400_000
    with pytest.raises(DatasetFormatError, match=r"BOMB\.zip: expands to 314,572,800 bytes, \d+ times .*zip bomb"):
        extract_zip(tmp_path / "BOMB.zip", tmp_path / "out")
    with pytest.raises(DatasetFormatError, match=r"over the 1,000 allowed \(max_bytes="):
        extract_zip(tmp_path / "BOMB.zip", tmp_path / "out", max_bytes=1000)
    assert files_under(tmp_path) == ["BOMB.zip"]


# --------------------------------------------------------------------------- labels


def test_labels_written_0_and_2_become_class_indices(tmp_path, isolated_data_env):
    (tmp_path / "MYSET.zip").write_bytes(gin_zip())
    ds = load("MYSET", root=tmp_path, download=False)
    assert ds.label_names == [0, 2]
    assert ds.y.tolist() == [0, 1, 1] and ds.num_classes == 2
    assert [g.y for g in ds] == [0, 1, 1]


# --------------------------------------------------------------------------- the vectorised parser


def random_gin(rng, num_graphs: int) -> str:
    """A GIN text with every irregularity the format allows: unsorted and repeated neighbours, self-loops,
    edges listed one way, isolated nodes, negative labels and tags, CRLF line ends, trailing blank lines."""
    lines = [str(num_graphs)]
    for _ in range(num_graphs):
        n = int(rng.integers(1, 12))
        lines.append(f"{n} {int(rng.integers(-2, 3))}")
        for _v in range(n):
            m = int(rng.integers(0, 6))
            nbrs = rng.integers(0, n, size=m).tolist()
            lines.append(" ".join(map(str, [int(rng.integers(-1, 4)), m, *nbrs])))
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("seed", range(6))
def test_fast_parser_gives_the_strict_parsers_graphs(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "R.txt"
    path.write_bytes(random_gin(rng, 40).encode())
    fast = _parse_fast(path.read_bytes())
    assert fast is not None, "a well-formed integer file takes the fast path"
    strict = _parse_strict(path, read_lines(path))
    assert len(fast) == len(strict) == 40
    for g, s in zip(fast.to_raw(), strict):
        assert g.num_nodes == s.num_nodes and g.label == s.label
        assert np.array_equal(g.tags, s.tags)
        assert np.array_equal(g.edge_index, s.edge_index)
    # and both equal the definition: every listed pair, both ways, once, sorted
    text = path.read_text().split()
    pos, graphs = 1, []
    for _ in range(int(text[0])):
        n = int(text[pos])
        pos += 2
        src, dst = [], []
        for v in range(n):
            m = int(text[pos + 1])
            src += [v] * m
            dst += [int(t) for t in text[pos + 2:pos + 2 + m]]
            pos += 2 + m
        graphs.append(symmetrise(src, dst, n))
    assert all(np.array_equal(g.edge_index, e) for g, e in zip(fast.to_raw(), graphs))


@pytest.mark.parametrize("text", ["1\n1 0\n0 0 0.5\n", "1\n1 0\n0 0\n\x0c\n", "1\n1\xc2\xa00\n0 0\n", "1\r1 0\r0 0\r"])
def test_fast_parser_leaves_attributes_and_odd_bytes_to_the_strict_one(tmp_path, text):
    assert _parse_fast(text.encode()) is None


# --------------------------------------------------------------------------- the binary cache


@pytest.fixture
def big_enough(monkeypatch):
    """Every GIN text goes through the binary cache (the fixtures are far below its 4 MiB threshold)."""
    monkeypatch.setattr(formats_module, "MIN_CACHED_BYTES", 0)


def plain_set(root: Path, text=GIN) -> Path:
    """The unzipped folder: ``MYSET/MYSET.txt`` and its folds."""
    (root / "MYSET" / "10fold_idx").mkdir(parents=True, exist_ok=True)
    (root / "MYSET" / "MYSET.txt").write_text(text)
    for k, (train, test) in enumerate(FOLDS, 1):
        (root / "MYSET" / "10fold_idx" / f"train_idx-{k}.txt").write_text("".join(f"{i}\n" for i in train))
        (root / "MYSET" / "10fold_idx" / f"test_idx-{k}.txt").write_text("".join(f"{i}\n" for i in test))
    return root / "MYSET" / "MYSET.txt"


def first_load(root: Path, cache: Path, source: str):
    """MYSET from a zip or its folder in ``root``, loaded once: the dataset and its one cache file."""
    if source == "zip":
        (root / "MYSET.zip").write_bytes(gin_zip())
    else:
        plain_set(root)
    ds = load("MYSET", root=root, download=False)
    (cached,) = (cache / "parsed").iterdir()
    return ds, cached


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_cache_hit_does_not_parse(tmp_path, isolated_data_env, big_enough, monkeypatch, source):
    first, cached = first_load(tmp_path, isolated_data_env, source)
    assert cached.name.startswith("MYSET-") and cached.suffix == ".npz"

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed although the cache holds the dataset")

    monkeypatch.setattr(formats_module, "read_gin_packed", no_parsing)
    monkeypatch.setattr(formats_module, "extracted", no_parsing)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        second = load("MYSET", root=tmp_path, download=False)
    assert edges(second) == edges(first) and second.y.tolist() == first.y.tolist()
    assert [[tr.tolist(), te.tolist()] for tr, te in second.folds] == [[tr.tolist(), te.tolist()] for tr, te in
                                                                       first.folds]
    assert [g.x.tolist() for g in second] == [g.x.tolist() for g in first]


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_stale_cache_is_parsed_again(tmp_path, isolated_data_env, big_enough, source):
    write = (lambda text: (tmp_path / "MYSET.zip").write_bytes(gin_zip(text=text))) if source == "zip" else \
        (lambda text: plain_set(tmp_path, text))
    write(GIN)
    assert len(load("MYSET", root=tmp_path, download=False)) == 3
    write("3\n2 7\n0 1 1\n0 1 0\n1 7\n0 0\n1 7\n0 0\n")  # the source changed
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a changed source is no fault: no warning
        again = load("MYSET", root=tmp_path, download=False)
    assert len(again) == 3 and again.label_names == [7]
    assert len(list((isolated_data_env / "parsed").iterdir())) == 1, "one cache file per source, replaced"


def damage_truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_array(path: Path):
    """Rewrite one array (a label) keeping the metadata: a cache edited by hand, or a copy of another's."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["labels"] = arrays["labels"] + 1
    np.savez(path, **arrays)


def damage_garbage(path: Path):
    path.write_bytes(b"not a zip at all")


@pytest.mark.parametrize("damage", [damage_truncate, damage_array, damage_garbage])
@pytest.mark.parametrize("source", ["folder", "zip"])
def test_damaged_cache_is_never_used(tmp_path, isolated_data_env, big_enough, damage, source):
    first, cached = first_load(tmp_path, isolated_data_env, source)
    damage(cached)
    with pytest.warns(RuntimeWarning, match=rf"{cached}: cache not used, .*; parsing the source again"):
        again = load("MYSET", root=tmp_path, download=False)
    assert edges(again) == edges(first) and again.label_names == first.label_names == [0, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # rewritten: the next load is a clean hit
        assert load("MYSET", root=tmp_path, download=False).label_names == [0, 2]


def test_small_files_are_not_cached(tmp_path, isolated_data_env):
    plain_set(tmp_path)
    load("MYSET", root=tmp_path, download=False)
    assert not (isolated_data_env / "parsed").exists()
    assert cache_module.MIN_CACHED_BYTES == 4 * 2**20


# --------------------------------------------------------------------------- the shared sets beyond the paper

# From ../shared/datasets/SOURCES.md, "Added": graphs, {label as written: count}, avg nodes, avg edges
# (self-loops counted once), node tags
SHARED = {
    "COLLAB": (5000, {0: 2600, 1: 775, 2: 1625}, 74.49, 2457.78, 1),
    "DD": (1178, {0: 691, 1: 487}, 284.32, 715.66, 82),
    "REDDIT-BINARY": (2000, {0: 1000, 2: 1000}, 429.63, 497.75, 1),
    "ENZYMES": (600, {k: 100 for k in range(6)}, 32.63, 62.14, 3),
    "PTC_MR": (344, {0: 192, 2: 152}, 14.29, 14.69, 18),
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-cache")


@pytest.mark.data
@pytest.mark.parametrize("name", list(SHARED))
def test_shared_archives_match_sources(name, shared_datasets, shared_cache):
    graphs, classes, avg_nodes, avg_edges, tags = SHARED[name]
    zip_path = shared_datasets / f"{name}.zip"
    if not zip_path.is_file():
        pytest.skip(f"{zip_path} absent")
    # COLLAB with its constant tags (one column): the default one-hot degree is 1.1 GB of float64
    features = "tags" if name == "COLLAB" else None
    ds = load(zip_path if name == "PTC_MR" else name, root=shared_datasets, cache_dir=shared_cache,
              download=False, features=features)
    assert len(ds) == graphs and ds.num_classes == len(classes)
    assert dict(zip(ds.label_names, np.bincount(ds.y).tolist())) == classes
    assert [g.y for g in ds] == ds.y.tolist()
    nodes = np.array([g.num_nodes for g in ds])
    loops = np.array([int((g.edge_index[0] == g.edge_index[1]).sum()) for g in ds])
    edges_once = (np.array([g.num_edges for g in ds]) + loops) / 2
    assert nodes.mean() == pytest.approx(avg_nodes, abs=0.006)
    assert edges_once.mean() == pytest.approx(avg_edges, abs=0.006)
    assert len(np.unique(np.concatenate([g.meta["tags"] for g in ds]))) == tags
    assert len(ds.folds) == 10
    for train, test in ds.folds:
        assert np.intersect1d(train, test).size == 0 and len(test) == graphs // 10
    if name == "COLLAB":
        assert int(loops.sum()) == 2837  # SOURCES.md: COLLAB.txt lists 2,837 self-loops
        beside = read_folds(shared_datasets / "COLLAB" / "10fold_idx", graphs)  # the folds of the folder
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(ds.folds, beside))


@pytest.mark.data
def test_benchmark_features_of_the_new_names(shared_datasets, shared_cache):
    for name, width in (("DD", 82), ("ENZYMES", 3), ("REDDIT-BINARY", 1)):
        if not (shared_datasets / f"{name}.zip").is_file():
            pytest.skip(f"{name}.zip absent")
        ds = load(name.lower(), root=shared_datasets, cache_dir=shared_cache, download=False)
        assert ds.num_features == width and ds.name == name
    assert load("REDDITBINARY", root=shared_datasets, cache_dir=shared_cache, download=False).name == "REDDIT-BINARY"


@pytest.mark.data
def test_enzymes_attributes_from_the_tu_copy_match_the_zip(shared_datasets, shared_cache):
    raw_root = shared_datasets.parent / "tu_raw"
    if not (raw_root / "ENZYMES" / "ENZYMES_A.txt").is_file() or not (shared_datasets / "ENZYMES.zip").is_file():
        pytest.skip("ENZYMES's TU copy or zip absent")
    attr = load("ENZYMES", root=raw_root, cache_dir=shared_cache, features="attributes", download=False)
    assert len(attr) == 600 and attr.num_features == 18
    assert sum(g.num_nodes for g in attr) == 19580
    assert sum(g.num_edges for g in attr) == 2 * 37282
    gin = load("ENZYMES", root=shared_datasets, cache_dir=shared_cache, download=False)
    assert edges(attr) == edges(gin)  # graph by graph, as SOURCES.md says
    assert attr.y.tolist() == gin.y.tolist()  # TU labels 1..6, GIN 0..5: both mapped to 0..5
    first = np.loadtxt(raw_root / "ENZYMES" / "ENZYMES_node_attributes.txt", delimiter=",", max_rows=3)
    assert np.array_equal(attr.graphs[0].x[:3].numpy(), first)


def test_a_cache_that_cannot_be_written_costs_a_warning_not_the_load(tmp_path, isolated_data_env, monkeypatch):
    real = formats_module.extracted

    def read_only_cache(archive, cache, sha):
        if Path(cache) == isolated_data_env:
            raise PermissionError(13, "Permission denied", str(cache))
        return real(archive, cache, sha)

    monkeypatch.setattr(formats_module, "extracted", read_only_cache)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "MYSET.zip").write_bytes(gin_zip())
    with pytest.warns(RuntimeWarning, match=rf"{isolated_data_env}: cannot extract MYSET\.zip into the cache"):
        ds = load("MYSET", root=tmp_path / "data", download=False)
    assert ds.label_names == [0, 2] and files_under(tmp_path / "data") == ["MYSET.zip"]
