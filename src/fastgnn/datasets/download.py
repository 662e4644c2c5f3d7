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
  temporary folder, then one rename).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
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


def download(url: str, dest_path, *, progress: bool = True, timeout: float = 30.0) -> Path:
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

    Raises:
        DownloadError: offline, connection refused or dropped, HTTP error
            status (404 ...), or fewer bytes than announced.
    """
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, progress=progress, timeout=timeout)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


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


def extract_zip(zip_path, dest_dir) -> Path:
    """Extract ``zip_path`` into ``dest_dir`` atomically and return ``dest_dir``.

    The archive is unpacked into a hidden temporary folder beside ``dest_dir``,
    which is then renamed to ``dest_dir`` in one step.  When every entry sits
    under one top-level folder (as in the TU Dortmund zips, ``MUTAG/MUTAG_A.txt``
    ...), that folder is stripped, so ``dest_dir`` holds the files themselves.
    macOS metadata (``__MACOSX/``) is skipped.  If ``dest_dir`` already exists
    (another process got there first), it is left untouched.

    Raises:
        DatasetFormatError: not a zip file, a corrupt member, or a member whose
            path would escape ``dest_dir`` (absolute or containing ``..``).
    """
    src = Path(zip_path)
    dest = Path(dest_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extract", dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(src) as archive:
                members = [m for m in archive.infolist() if _keep_member(src, m.filename)]
                for member in members:
                    archive.extract(member, tmp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            raise DatasetFormatError(src, None, f"not a readable zip archive ({e})") from e
        root = _single_top_folder(tmp)
        if not dest.exists():
            try:
                os.replace(root, dest)
            except OSError:
                if not dest.exists():  # a real failure, not a race lost to another process
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _keep_member(zip_path: Path, name: str) -> bool:
    """False for macOS metadata; raise for names that would escape the target folder."""
    path = PurePosixPath(name)
    if (path.parts and path.parts[0] == "__MACOSX") or path.name == ".DS_Store":
        return False
    if path.is_absolute() or ".." in path.parts or ":" in name.split("/")[0]:
        raise DatasetFormatError(zip_path, None, f"unsafe member path {name!r} in the archive")
    return True


def _single_top_folder(folder: Path) -> Path:
    """``folder``'s only child if that child is a folder, else ``folder`` itself."""
    children = list(folder.iterdir())
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return folder
