"""Downloads against a local HTTP server on 127.0.0.1: success, cut-off, 404, offline."""

from __future__ import annotations

import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fastgnn.datasets import (
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    default_cache_dir,
    download,
    extract_zip,
    load,
)

# A TU-format MUTAG of 4 graphs (2 per class): triangles (label 1) and paths (label -1).
TU_FILES = {
    "A": ["1, 2", "2, 1", "2, 3", "3, 2", "1, 3", "3, 1", "4, 5", "5, 4", "5, 6", "6, 5",
          "7, 8", "8, 7", "8, 9", "9, 8", "7, 9", "9, 7", "10, 11", "11, 10"],
    "graph_indicator": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
    "graph_labels": [1, -1, 1, -1],
    "node_labels": [0, 1, 2, 0, 0, 0, 3, 3, 3, 1, 1, 2],
}


def tu_zip(name="MUTAG", folder: str | None = "MUTAG", files=TU_FILES, extra=()) -> bytes:
    """A zip of TU files, under ``folder/`` (or at the top level if None)."""
    buf = io.BytesIO()
    prefix = f"{folder}/" if folder else ""
    with zipfile.ZipFile(buf, "w") as z:
        for part, lines in files.items():
            z.writestr(f"{prefix}{name}_{part}.txt", "".join(f"{x}\n" for x in lines))
        for member, data in extra:
            z.writestr(member, data)
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, mode)``; mode "drop" stops halfway."""

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, mode = route
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":  # announce everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server: ``(base_url, routes)``; serve with ``routes["/x"] = (bytes, mode)``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.routes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# --------------------------------------------------------------------------- load + download


def test_load_downloads_and_reads_a_tu_zip(server, tmp_path, isolated_data_env):
    base, routes = server
    routes["/data/MUTAG.zip"] = (tu_zip(), "ok")
    cache = tmp_path / "c"
    ds = load("MUTAG", tmp_path / "empty", cache_dir=cache, url=f"{base}/data", progress=False)
    assert len(ds) == 4 and ds.num_classes == 2 and ds.num_features == 4
    assert [g.num_nodes for g in ds] == [3, 3, 3, 3]
    assert [g.num_edges for g in ds] == [6, 4, 6, 2]  # graph 4 has an isolated node
    assert ds.label_names == [-1, 1]
    # extracted in place, the zip and every temporary removed
    assert files_under(cache) == ["MUTAG"] + [f"MUTAG/MUTAG_{p}.txt" for p in sorted(TU_FILES)]
    # the second time it comes from the cache, without the server
    routes.clear()
    again = load("MUTAG", cache_dir=cache, download=False)
    assert [g.num_edges for g in again] == [6, 4, 6, 2]


def test_url_from_environment_and_full_zip_url(server, tmp_path, isolated_data_env, monkeypatch):
    base, routes = server
    routes["/IMDB-BINARY.zip"] = (tu_zip("IMDB-BINARY", "IMDB-BINARY"), "ok")
    monkeypatch.setenv("FASTGNN_URL", base)
    ds = load("imdb-binary", progress=False)  # into $FASTGNN_CACHE (isolated_data_env)
    assert ds.name == "IMDBBINARY" and ds.num_features == 3  # degrees {1, 2, 0}
    assert (isolated_data_env / "IMDB-BINARY" / "IMDB-BINARY_A.txt").is_file()

    routes["/any/name.zip"] = (tu_zip("PTC_MR", folder=None), "ok")  # files at the top level
    ds = load("PTC", cache_dir=tmp_path / "c2", url=f"{base}/any/name.zip", progress=False)
    assert ds.name == "PTC" and len(ds) == 4
    assert (tmp_path / "c2" / "PTC_MR" / "PTC_MR_A.txt").is_file()


@pytest.mark.parametrize("mode", ["drop", "404"])
def test_failed_download_leaves_nothing_behind(server, tmp_path, isolated_data_env, mode):
    base, routes = server
    if mode == "drop":
        routes["/MUTAG.zip"] = (tu_zip() * 20, "drop")
    cache = tmp_path / "c"
    with pytest.raises(DatasetNotFoundError) as err:
        load("MUTAG", cache_dir=cache, url=base, progress=False)
    assert files_under(cache) == []
    assert isinstance(err.value.__cause__, DownloadError)
    expected = "cut short" if mode == "drop" else "HTTP 404"
    assert expected in str(err.value)

    dest = tmp_path / "d" / "MUTAG.zip"
    with pytest.raises(DownloadError, match=expected):
        download(f"{base}/MUTAG.zip", dest, progress=False)
    assert files_under(tmp_path / "d") == []


def test_failed_download_keeps_the_previous_file(server, tmp_path):
    base, routes = server
    routes["/f.bin"] = (b"x" * 100_000, "drop")
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old")
    with pytest.raises(DownloadError):
        download(f"{base}/f.bin", dest, progress=False)
    assert dest.read_bytes() == b"old" and files_under(tmp_path) == ["f.bin"]


def test_download_writes_the_whole_file(server, tmp_path, capsys):
    base, routes = server
    body = bytes(range(256)) * 1000
    routes["/f.bin"] = (body, "ok")
    path = download(f"{base}/f.bin", tmp_path / "sub" / "f.bin", progress=True)
    assert path.read_bytes() == body and files_under(tmp_path) == ["sub", "sub/f.bin"]


def test_offline_message_says_where_it_looked_and_what_to_do(tmp_path, isolated_data_env):
    url = closed_port_url()
    with pytest.raises(DatasetNotFoundError) as err:
        load("NCI1", tmp_path / "mydata", url=url, progress=False)
    msg = str(err.value)
    assert str(tmp_path / "mydata" / "NCI1" / "NCI1.txt") in msg
    assert str(isolated_data_env / "NCI1" / "NCI1_A.txt") in msg
    assert f"cannot reach {url}/NCI1.zip" in msg
    assert "root=" in msg and "FASTGNN_DATA" in msg and "--data-dir" in msg
    assert files_under(isolated_data_env) == []


def test_a_download_that_is_not_a_usable_zip(server, tmp_path, isolated_data_env):
    base, routes = server
    routes["/MUTAG.zip"] = (b"this is not a zip", "ok")
    with pytest.raises(DatasetFormatError, match="not a readable zip"):
        load("MUTAG", cache_dir=tmp_path / "c", url=base, progress=False)
    assert files_under(tmp_path / "c") == []

    routes["/MUTAG.zip"] = (tu_zip("OTHER", "MUTAG"), "ok")
    with pytest.raises(DatasetFormatError, match="holds no MUTAG_A.txt"):
        load("MUTAG", cache_dir=tmp_path / "c", url=base, progress=False)
    assert files_under(tmp_path / "c") == []


# --------------------------------------------------------------------------- extract_zip


def test_extract_zip_strips_one_top_folder_and_skips_macos_metadata(tmp_path):
    (tmp_path / "a.zip").write_bytes(tu_zip(extra=[("__MACOSX/MUTAG/._x", "junk")]))
    out = extract_zip(tmp_path / "a.zip", tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"MUTAG_{p}.txt" for p in TU_FILES)
    assert files_under(tmp_path) == ["a.zip", "out"] + [
        f"out/MUTAG_{p}.txt" for p in sorted(TU_FILES)
    ]


def test_extract_zip_keeps_an_existing_folder(tmp_path):
    (tmp_path / "a.zip").write_bytes(tu_zip())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    extract_zip(tmp_path / "a.zip", tmp_path / "out")
    assert files_under(tmp_path) == ["a.zip", "out", "out/mine.txt"]


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "x/../../evil.txt"])
def test_extract_zip_rejects_paths_escaping_the_folder(tmp_path, member):
    (tmp_path / "a.zip").write_bytes(tu_zip(extra=[(member, "evil")]))
    with pytest.raises(DatasetFormatError, match="unsafe member path"):
        extract_zip(tmp_path / "a.zip", tmp_path / "out")
    assert files_under(tmp_path) == ["a.zip"]


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTGNN_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("FASTGNN_CACHE")
    assert default_cache_dir() == tmp_path / "b" / "fastgnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "fastgnn"


# --------------------------------------------------------------------------- verified archives (issue 24.7)


def gin_archive(name="MUTAG", labels=(1, -1)) -> bytes:
    """A GIN-format archive as ARCHIVE_URL serves them: ``NAME/NAME.txt`` (two graphs) and no folds."""
    text = f"2\n2 {labels[0]}\n0 1 1\n0 1 0\n1 {labels[1]}\n0 0\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}/{name}.txt", text)
    return buf.getvalue()


@pytest.fixture
def verified_source(server, monkeypatch):
    """ARCHIVE_URL pointed at the local server; ``publish(name, bytes)`` serves an archive and makes its SHA-256
    the known one; ``serve(name, bytes)`` serves bytes without changing what is known."""
    import hashlib

    from fastgnn.datasets import benchmarks

    base, routes = server
    monkeypatch.setattr(benchmarks, "ARCHIVE_URL", f"{base}/pinned/{{name}}.zip")

    def serve(name, body):
        routes[f"/pinned/{name}.zip"] = (body, "ok")

    def publish(name, body):
        monkeypatch.setitem(benchmarks.ARCHIVES, name, hashlib.sha256(body).hexdigest())
        serve(name, body)

    return publish, serve


def test_known_checksums_are_those_of_the_shared_archives(shared_datasets):
    """The table's SHA-256 of each archive equals that of the byte-identical copy in ../shared (where present)."""
    import hashlib

    from fastgnn.datasets.benchmarks import ARCHIVE_URL, ARCHIVES, BENCHMARK_NAMES, MORE_BENCHMARK_NAMES

    assert set(ARCHIVES) == {*BENCHMARK_NAMES, *MORE_BENCHMARK_NAMES}
    assert "/dcb2c23cdc06f3ed8cc1dd0f0dced9ddd9156bad/" in ARCHIVE_URL, "pinned to a commit"
    checked = 0
    for name, sha in ARCHIVES.items():
        copy = shared_datasets / f"{name}.zip"
        if copy.is_file():
            assert hashlib.sha256(copy.read_bytes()).hexdigest() == sha, name
            checked += 1
    assert checked >= 4  # COLLAB, DD, ENZYMES, REDDIT-BINARY


def test_default_download_is_verified_then_read_from_the_cache(verified_source, tmp_path, isolated_data_env):
    publish, _ = verified_source
    publish("MUTAG", gin_archive())
    ds = load("MUTAG", tmp_path / "empty", progress=False)
    assert len(ds) == 2 and ds.label_names == [-1, 1]
    from fastgnn.datasets.benchmarks import ARCHIVES

    assert (isolated_data_env / "MUTAG.zip").read_bytes() == gin_archive()
    assert (isolated_data_env / "MUTAG.zip.sha256").read_text().strip() == ARCHIVES["MUTAG"]
    assert load("MUTAG", download=False).label_names == [-1, 1]


def test_a_download_with_other_bytes_is_refused_and_not_kept(verified_source, tmp_path, isolated_data_env):
    publish, serve = verified_source
    publish("MUTAG", gin_archive())
    serve("MUTAG", gin_archive(labels=(1, 1)))  # substituted on the server: same name, other bytes
    with pytest.raises(DatasetNotFoundError, match=r"MUTAG\.zip refused: its SHA-256 is [0-9a-f]{64}, not the known"):
        load("MUTAG", tmp_path / "empty", progress=False)
    assert files_under(isolated_data_env) == []


def test_a_downloaded_archive_changed_in_the_cache_is_refused(verified_source, tmp_path, isolated_data_env):
    publish, _ = verified_source
    publish("MUTAG", gin_archive())
    load("MUTAG", tmp_path / "empty", progress=False)
    cached = isolated_data_env / "MUTAG.zip"
    cached.write_bytes(gin_archive(labels=(1, 1)))
    with pytest.raises(DatasetFormatError, match=rf"{cached}: its SHA-256 [0-9a-f]{{16}}\.\.\. is not the "
                                                 r"[0-9a-f]{16}\.\.\. it had when it was downloaded"):
        load("MUTAG", download=False)
    # an archive of one's own in a data folder has no record: it is read as it is
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "MUTAG.zip").write_bytes(gin_archive(labels=(1, 1)))
    assert load("MUTAG", tmp_path / "own", download=False).label_names == [1]


def test_a_downloaded_zip_bomb_is_refused(verified_source, tmp_path, isolated_data_env, monkeypatch):
    """Even with a matching checksum (a compromised table), the archive's expansion is capped."""
    publish, _ = verified_source
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MUTAG/MUTAG.txt", "2\n" + "1 0\n0 0\n" * 2 + " " * 5_000_000)
    monkeypatch.setenv("FASTGNN_MAX_EXTRACT", "1000000")
    publish("MUTAG", buf.getvalue())
    with pytest.raises(DatasetFormatError, match=r"MUTAG\.zip: expands to 5,000,018 bytes, over the 1,000,000 allowed"):
        load("MUTAG", tmp_path / "empty", progress=False)
    assert not list((isolated_data_env / "archives").rglob("*.txt"))
