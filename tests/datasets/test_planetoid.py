"""Planetoid (Cora, CiteSeer): counts, public split, restricted unpickling, bad files, download."""

from __future__ import annotations

import functools
import os
import pickle
import shutil
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from fastgnn.datasets import (
    DatasetFormatError,
    DatasetNotFoundError,
    NodeData,
    UnsafePickleError,
    load,
    load_planetoid,
    read_planetoid,
)
from fastgnn.datasets.planetoid import PLANETOID_PARTS, restricted_load

pytestmark = pytest.mark.usefixtures("isolated_data_env")

# name -> nodes, directed edges, features, classes, train, val, test (Kipf & Welling, Table 1; PyG)
KNOWN = {"Cora": (2708, 10556, 1433, 7, 140, 500, 1000), "CiteSeer": (3327, 9104, 3703, 6, 120, 500, 1000)}


@functools.cache
def _read(folder: str, name: str) -> NodeData:
    return read_planetoid(folder, name)


@pytest.mark.data
@pytest.mark.parametrize("name", list(KNOWN))
def test_counts_and_public_split(name, shared_planetoid):
    d = _read(str(shared_planetoid), name)
    n, e, f, c, tr, va, te = KNOWN[name]
    assert (d.num_nodes, d.num_edges, d.num_features, d.num_classes) == (n, e, f, c)
    assert (int(d.train_mask.sum()), int(d.val_mask.sum()), int(d.test_mask.sum())) == (tr, va, te)
    assert d.x.dtype == torch.float32 and d.y.dtype == torch.long and d.edge_index.dtype == torch.long
    assert d.name == name
    # 20 training nodes per class; train = first nodes, val = the next 500
    assert torch.bincount(d.y[d.train_mask], minlength=c).tolist() == [20] * c
    assert d.train_mask[:tr].all() and d.val_mask[tr: tr + va].all()
    assert not (d.train_mask & d.val_mask).any() and not (d.val_mask & d.test_mask).any()
    # undirected, both directions, no self-loops, no duplicates
    ei = d.edge_index
    assert (ei[0] != ei[1]).all()
    keys = ei[0] * n + ei[1]
    assert torch.unique(keys).numel() == e
    assert torch.equal(torch.sort(keys).values, torch.sort(ei[1] * n + ei[0]).values)
    assert set(np.unique(d.x.numpy()).tolist()) <= {0.0, 1.0}  # bag-of-words


@pytest.mark.data
def test_citeseer_isolated_test_nodes_are_zero_rows_outside_every_mask(shared_planetoid):
    d = _read(str(shared_planetoid), "CiteSeer")
    assert d.meta["missing_test_nodes"] == 15
    outside = ~(d.train_mask | d.val_mask | d.test_mask)
    tail = torch.arange(d.num_nodes) >= 2312  # the test range
    missing = outside & tail
    assert int(missing.sum()) == 15
    assert (d.x[missing] == 0).all() and (d.y[missing] == 0).all()


@pytest.mark.data
def test_matches_torch_geometric(shared_planetoid, tmp_path):
    pytest.importorskip("torch_geometric")
    import warnings

    from torch_geometric.datasets import Planetoid

    raw = tmp_path / "Cora" / "raw"
    raw.mkdir(parents=True)
    for p in shared_planetoid.glob("ind.cora.*"):
        shutil.copyfile(p, raw / p.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Planetoid(str(tmp_path), "Cora")[0]
    d = _read(str(shared_planetoid), "Cora")
    for attr in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(d, attr), getattr(ref, attr)), attr


@pytest.mark.data
def test_row_normalisation_and_load_entry_point(shared_planetoid):
    d = load_planetoid("cora", root=shared_planetoid, download=False, normalize_features=True)
    s = d.x.sum(1)
    assert torch.allclose(s[s != 0], torch.ones_like(s[s != 0]))
    d2 = load("Cora", root=shared_planetoid, download=False)
    assert isinstance(d2, NodeData) and d2.num_nodes == 2708
    assert torch.equal(d2.x.sum(1).clamp(max=1), (d.x.sum(1) > 0).float())


@pytest.mark.data
def test_pyg_raw_layout_is_found(shared_planetoid, tmp_path):
    raw = tmp_path / "CiteSeer" / "raw"
    raw.mkdir(parents=True)
    for p in shared_planetoid.glob("ind.citeseer.*"):
        os.symlink(p.resolve(), raw / p.name)
    assert load_planetoid("CITESEER", root=tmp_path, download=False).num_nodes == 3327


# --------------------------------------------------------------------------- bad files


def _copy_cora(shared: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for p in shared.glob("ind.cora.*"):
        shutil.copyfile(p, dest / p.name)
    return dest


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.data
@pytest.mark.parametrize("part", ["x", "graph"])
def test_malicious_pickle_is_refused_without_running_code(part, shared_planetoid, tmp_path):
    folder = _copy_cora(shared_planetoid, tmp_path / "data")
    marker = tmp_path / "pwned"
    (folder / f"ind.cora.{part}").write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(UnsafePickleError) as err:
        load_planetoid("Cora", root=folder, download=False)
    msg = str(err.value)
    assert f"ind.cora.{part}" in msg and "system" in msg and "refused" in msg
    assert not marker.exists()


def test_refused_builtin_global_names_it(tmp_path):
    p = tmp_path / "ind.cora.y"
    p.write_bytes(pickle.dumps(_EvalEvil(), protocol=2))
    with pytest.raises(UnsafePickleError,
                       match=r"ind\.cora\.y: refused to load the global (__builtin__|builtins)\.eval"):
        restricted_load(p)


def test_allowed_globals_round_trip(tmp_path):
    import collections

    from scipy import sparse

    p = tmp_path / "obj"
    obj = {"m": sparse.random(5, 4, density=0.5, format="csr", random_state=0), "a": np.arange(6).reshape(2, 3),
           "g": collections.defaultdict(list, {0: [1, 2]})}
    p.write_bytes(pickle.dumps(obj, protocol=2))
    out = restricted_load(p)
    assert (out["m"] != obj["m"]).nnz == 0 and np.array_equal(out["a"], obj["a"]) and out["g"] == obj["g"]


def _huge_sparse() -> bytes:
    """A 57-byte pickle (issue 24.7 used 54): a Python 2 ``csr_matrix`` (as the genuine files) whose state is
    only ``_shape = (300000, 300000)``: 671 GiB as a dense array, which ``toarray`` allocated first."""
    n = struct.pack("<i", 300_000)
    data = (b"\x80\x02cscipy.sparse.csr\ncsr_matrix\n)\x81}(U\x06_shapeJ" + n + b"J" + n + b"\x86ub.")
    assert len(data) == 57
    return data


def _inconsistent_sparse() -> bytes:
    """A sparse matrix whose index pointer does not fit its shape (toarray would read past its arrays)."""
    from scipy import sparse

    m = sparse.csr_matrix(np.eye(3))
    m.indptr = np.array([0, 1, 2, 9], dtype=m.indptr.dtype)
    return pickle.dumps(m, protocol=2)


def _far_test_index(shared: Path) -> bytes:
    """Cora's test indices with the last one moved to 300,000: a feature matrix of 300,001 rows."""
    lines = (shared / "ind.cora.test.index").read_text().split()
    return ("\n".join(lines[:-1] + ["300000"]) + "\n").encode()


@pytest.mark.data
@pytest.mark.parametrize(
    "part, content, fragment",
    [
        ("tx", b"\x80\x02garbage", "not a readable Planetoid pickle"),
        ("allx", b"", "not a readable Planetoid pickle"),
        ("x", pickle.dumps([1, 2, 3], protocol=2), "expected a 2-D feature matrix"),
        ("ty", pickle.dumps(np.zeros((999, 7)), protocol=2), "999 label rows for 1000 feature rows"),
        ("y", pickle.dumps(np.zeros((140, 5)), protocol=2), "5 label columns, but ally has 7"),
        ("graph", pickle.dumps({0: "abc"}, protocol=2), "expected int -> list of ints"),
        ("graph", pickle.dumps({0: [99999]}, protocol=2), "node 99999 outside"),
        ("test.index", b"1708\nabc\n", "ind.cora.test.index:2: expected one node index per line"),
        ("test.index", b"1708\n1709\n", "2 test indices, but tx has 1000 rows"),
        # issue 24.7: a tiny pickle declaring a 300,000 x 300,000 matrix asked for 671 GiB (MemoryError)
        ("x", _huge_sparse(), "the feature matrix is declared 300,000 x 300,000: 670.6 GiB"),
        ("allx", _inconsistent_sparse(), "the feature matrix is an inconsistent sparse matrix"),
        ("test.index", _far_test_index, "test index 300000 leaves 297,293 nodes between allx's 1708 rows"),
    ],
)
def test_malformed_files_name_the_file(part, content, fragment, shared_planetoid, tmp_path):
    if callable(content):
        content = content(shared_planetoid)
    folder = _copy_cora(shared_planetoid, tmp_path / "data")
    (folder / f"ind.cora.{part}").write_bytes(content)
    with pytest.raises(DatasetFormatError) as err:
        read_planetoid(folder, "Cora")
    assert fragment in str(err.value)
    assert str(folder / f"ind.cora.{part}") in str(err.value)


@pytest.mark.data
def test_missing_file_lists_where_it_looked(shared_planetoid, tmp_path):
    folder = _copy_cora(shared_planetoid, tmp_path / "data")
    (folder / "ind.cora.ty").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        load_planetoid("Cora", root=folder, download=False)
    msg = str(err.value)
    assert "dataset Cora not found" in msg and "missing ind.cora.ty" in msg and "--data-dir" in msg
    with pytest.raises(DatasetNotFoundError, match="ind.cora.ty: no such file"):
        read_planetoid(folder, "Cora")


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="known names: Cora, CiteSeer"):
        load_planetoid("PubMed", download=False)
    with pytest.raises(ValueError, match="node datasets: Cora, CiteSeer, sbm"):
        load("NoSuchSet", download=False)


# --------------------------------------------------------------------------- download


class _Files(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    server.files = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.data
def test_download_into_cache_then_offline(shared_planetoid, file_server, isolated_data_env):
    for p in shared_planetoid.glob("ind.cora.*"):
        file_server.files[f"/data/{p.name}"] = p.read_bytes()
    url = f"http://127.0.0.1:{file_server.server_port}/data"
    d = load_planetoid("Cora", url=url, progress=False)
    assert d.num_nodes == 2708
    cached = sorted(p.name for p in (isolated_data_env / "planetoid").iterdir())
    assert cached == sorted(f"ind.cora.{p}" for p in PLANETOID_PARTS)  # nothing partial left
    file_server.files.clear()  # now "offline": the cache serves
    assert load_planetoid("Cora", url=url, progress=False).num_edges == 10556


def test_download_failure_is_not_found_and_leaves_nothing(file_server, isolated_data_env):
    url = f"http://127.0.0.1:{file_server.server_port}/nothing"
    with pytest.raises(DatasetNotFoundError, match="download failed.*HTTP 404"):
        load_planetoid("CiteSeer", url=url, progress=False)
    folder = isolated_data_env / "planetoid"
    assert not folder.exists() or not any(folder.iterdir())


def test_load_passes_dtype_to_the_node_datasets(shared_planetoid):
    from fastgnn import datasets

    assert datasets.is_node_dataset("cora") and datasets.is_node_dataset("SBM")
    assert not datasets.is_node_dataset("MUTAG")
    assert datasets.load("Cora", root=shared_planetoid, download=False).x.dtype == torch.float32  # the default
    assert datasets.load("Cora", root=shared_planetoid, download=False, dtype=torch.float64).x.dtype == torch.float64
    assert datasets.load("sbm", dtype=torch.float64).x.dtype == torch.float64
