"""Errors, the user cache and atomic downloads.

Everything that touches the network or the cache lives here:

* :class:`DatasetFormatError`, :class:`DatasetNotFoundError` and
  :class:`DownloadError`, the errors the ``fastgnn.datasets`` package raises;
* :func:`default_cache_dir`, where downloads go, and :func:`search_dirs`, the folders
  searched for a dataset's files (the cache last);
* :func:`download`, which fetches a URL into a temporary file next to the
  destination and renames it into place only once complete, so a failed or
  partial download leaves nothing behind;
* :func:`extract_zip`, which unpacks an archive the same atomic way (into a
  temporary folder, then one rename), refusing paths that escape the folder and archives that
  expand beyond a cap (zip bombs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from http.client import HTTPException
from pathlib import Path, PurePosixPath

__all__ = [
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DownloadError",
    "default_cache_dir",
    "search_dirs",
    "download",
    "extract_zip",
    "archive_members",
    "MAX_EXTRACTED_BYTES",
]

CHUNK = 1 << 16  # bytes read per call while downloading


# --------------------------------------------------------------------------- errors


class DatasetFormatError(ValueError):
    """A dataset file is malformed.

    The message starts with ``PATH:LINE:`` (1-based line number) so editors and
    terminals can jump to the offending line.
    """

    def __init__(self, path, line: int | None, message: str):
        self.path = Path(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        super().__init__(f"{where}: {message}")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are nowhere to be found (and could not be downloaded)."""

    def __str__(self) -> str:  # FileNotFoundError would print "[Errno None] ..."
        return str(self.args[0]) if self.args else ""


class DownloadError(OSError):
    """A download failed: offline, refused, HTTP error or truncated transfer."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """The user cache for downloaded datasets.

    ``$FASTGNN_CACHE`` if set, else ``$XDG_CACHE_HOME/fastgnn``, else
    ``~/.cache/fastgnn``.  The folder is not created here.
    """
    if os.environ.get("FASTGNN_CACHE"):
        return Path(os.environ["FASTGNN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "fastgnn"
    return Path.home() / ".cache" / "fastgnn"


def search_dirs(root=None, *, cache_dir=None) -> list[Path]:
    """The folders :func:`fastgnn.datasets.load` searches, in order: ``root``, ``$FASTGNN_DATA``,
    the cache (``cache_dir``, else :func:`default_cache_dir`)."""
    dirs = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    if os.environ.get("FASTGNN_DATA"):
        dirs.append(Path(os.environ["FASTGNN_DATA"]).expanduser())
    dirs.append(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir())
    return dirs


# --------------------------------------------------------------------------- download


def download(url: str, dest_path, *, progress: bool = True, timeout: float = 30.0, sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest_path`` atomically and return ``dest_path``.

    The bytes go to a hidden temporary file in the destination's folder, which
    is renamed onto ``dest_path`` only when the transfer is complete (its size
    matches ``Content-Length`` when the server sends one).  On any failure the
    temporary file is removed, so nothing partial is ever left behind.

    Args:
        url: the address (``http``, ``https`` or ``file``).
        dest_path: where the file ends up; parent folders are created.
        progress: show a tqdm progress bar on stderr.
        timeout: seconds to wait for the server on each socket operation.
        sha256: the SHA-256 (hex) the file must have; other bytes are refused and never renamed into place.

    Raises:
        DownloadError: offline, connection refused or dropped, HTTP error
            status (404 ...), fewer bytes than announced, or bytes whose SHA-256 is not ``sha256``.
    """
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            _fetch(url, _Hashing(out, digest), progress=progress, timeout=timeout)
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise DownloadError(f"download of {url} refused: its SHA-256 is {digest.hexdigest()}, not the known "
                                f"{sha256.lower()} (a changed, substituted or corrupted file)")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


class _Hashing:
    """A binary file that also feeds what is written to a hash."""

    def __init__(self, out, digest):
        self.out, self.digest = out, digest

    def write(self, chunk: bytes) -> int:
        self.digest.update(chunk)
        return self.out.write(chunk)


def _fetch(url: str, out, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` into the open binary file ``out``; raise DownloadError on failure."""
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            received = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"downloading {PurePosixPath(url).name}",
                disable=not progress,
                leave=False,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot reach {url}: {e.reason}") from e
    except (HTTPException, OSError) as e:  # dropped connection, timeout, reset ...
        raise DownloadError(f"download of {url} was interrupted: {e!r}") from e
    if total is not None and received != total:
        raise DownloadError(
            f"download of {url} was cut short: got {received} of {total} bytes"
        )


# --------------------------------------------------------------------------- zip

#: the most bytes an archive may expand to (``max_bytes=`` of :func:`extract_zip`; ``$FASTGNN_MAX_EXTRACT``
#: overrides it): TU Dortmund's largest graph-classification sets expand to a few hundred MB
MAX_EXTRACTED_BYTES = 4 * 2**30
#: an archive expanding to more than this many times its own size, and beyond :data:`RATIO_FLOOR` bytes,
#: is refused as a zip bomb (the datasets' text compresses 3-25x)
MAX_RATIO = 200
RATIO_FLOOR = 64 * 2**20


def extract_zip(zip_path, dest_dir, *, max_bytes: int | None = None) -> Path:
    """Extract ``zip_path`` into ``dest_dir`` atomically and return ``dest_dir``.

    The archive is unpacked into a hidden temporary folder beside ``dest_dir``,
    which is then renamed to ``dest_dir`` in one step.  When every entry sits
    under one top-level folder (as in the TU Dortmund zips, ``MUTAG/MUTAG_A.txt``
    ...), that folder is stripped, so ``dest_dir`` holds the files themselves.
    macOS metadata (``__MACOSX/``, ``.DS_Store``) is skipped.  If ``dest_dir`` already exists
    (another process got there first), it is left untouched.  The folders get the mode
    ``mkdir`` gives under the umask (not the temporary folder's 0700).

    Args:
        max_bytes: the most bytes the archive may expand to (default ``$FASTGNN_MAX_EXTRACT`` or
            :data:`MAX_EXTRACTED_BYTES`); an archive expanding to more than :data:`MAX_RATIO` times its
            size beyond :data:`RATIO_FLOOR` bytes is refused too.  Checked against the sizes the
            archive declares before anything is written, and against the bytes actually written.

    Raises:
        DatasetFormatError: not a zip file, a corrupt member (truncated, bad CRC-32), a member whose
            path would escape ``dest_dir`` (absolute or containing ``..``), or an archive that
            expands beyond the limits above (a zip bomb).
    """
    src = Path(zip_path)
    dest = Path(dest_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extract", dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(src) as archive:
                members = archive_members(src, archive)
                budget = _check_expansion(src, members, max_bytes)
                for info, rel in members:
                    budget -= _extract_member(src, archive, info, tmp / rel, budget)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as e:
            raise DatasetFormatError(src, None, f"not a readable zip archive ({e})") from e
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would become the dataset folder's mode
        if not dest.exists():
            try:
                os.replace(tmp, dest)
            except OSError:
                if not dest.exists():  # a real failure, not a race lost to another process
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def archive_members(zip_path, archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The members :func:`extract_zip` extracts, each with the relative path it gets: macOS metadata
    left out, the single top-level folder (if every member sits under one) stripped.  Raises
    :class:`DatasetFormatError` naming the archive for a member whose path would escape the folder."""
    kept = [m for m in archive.infolist() if _keep_member(Path(zip_path), m.filename)]
    paths = [PurePosixPath(m.filename) for m in kept]
    tops = {p.parts[0] for p in paths if p.parts}
    strip = len(tops) == 1 and all(len(p.parts) > 1 or m.is_dir() for p, m in zip(paths, kept))
    out = []
    for m, p in zip(kept, paths):
        rel = PurePosixPath(*p.parts[1:]) if strip else p
        if rel.parts:
            out.append((m, rel))
    return out


def _check_expansion(src: Path, members, max_bytes: int | None) -> int:
    """The bytes the archive may expand to; :class:`DatasetFormatError` when its declared sizes exceed them."""
    if max_bytes is None:
        max_bytes = int(os.environ.get("FASTGNN_MAX_EXTRACT") or MAX_EXTRACTED_BYTES)
    declared = sum(m.file_size for m, _ in members)
    size = src.stat().st_size
    if declared > max_bytes:
        raise DatasetFormatError(src, None, f"expands to {declared:,} bytes, over the {max_bytes:,} allowed "
                                            "(max_bytes= or $FASTGNN_MAX_EXTRACT): refused")
    if declared > RATIO_FLOOR and declared > MAX_RATIO * size:
        raise DatasetFormatError(src, None, f"expands to {declared:,} bytes, {declared / max(size, 1):.0f} times "
                                            f"its {size:,} bytes (more than {MAX_RATIO}x): refused as a zip bomb")
    return max_bytes


def _extract_member(src: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Write one member to ``target``; return the bytes written (at most ``budget``: beyond, refused)."""
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as fin, open(target, "wb") as fout:
        while chunk := fin.read(CHUNK):
            written += len(chunk)
            if written > budget or written > info.file_size:
                raise DatasetFormatError(src, None, f"member {info.filename!r} expands beyond the size it declares "
                                                    "or the bytes allowed: refused")
            fout.write(chunk)
    return written


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _keep_member(zip_path: Path, name: str) -> bool:
    """False for macOS metadata; raise for names that would escape the target folder."""
    path = PurePosixPath(name)
    if (path.parts and path.parts[0] == "__MACOSX") or path.name == ".DS_Store":
        return False
    if path.is_absolute() or ".." in path.parts or ":" in name.split("/")[0]:
        raise DatasetFormatError(zip_path, None, f"unsafe member path {name!r} in the archive")
    return True
