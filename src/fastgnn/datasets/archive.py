"""Datasets inside zip archives: ``ROOT/NAME.zip`` is extracted once into the cache, never into the data folder.

:func:`extracted` gives the folder holding an archive's contents: ``CACHE/archives/{NAME}-{sha}/{NAME}/``,
where ``sha`` begins the SHA-256 of the archive's bytes, so an archive that changes is extracted
afresh and two archives of one name never share a folder.  The extraction is
:func:`~fastgnn.datasets.download.extract_zip`'s: atomic, macOS metadata (``__MACOSX/``,
``.DS_Store``) left out, member paths checked against traversal, the expanded size capped.  A folder
extracted earlier is checked against the archive (each member's size and CRC-32) before it is used
again; one that differs (edited, truncated by a full disk) is extracted again with a one-line warning.

The archive itself is checked by reading it: a truncated archive has no central directory, a damaged
member fails its CRC-32; both are refused with a :class:`~fastgnn.datasets.download.DatasetFormatError`
naming the archive.  The format entry that reads a ``NAME.zip`` like a folder is ``"zip"`` in
:data:`fastgnn.datasets.formats.FORMATS`.
"""

from __future__ import annotations

import shutil
import warnings
import zipfile
import zlib
from pathlib import Path

from fastgnn.datasets.download import DatasetFormatError, archive_members, extract_zip

__all__ = ["extracted", "differs"]


def extracted(zip_path, cache_dir, sha256: str) -> Path:
    """The folder holding ``zip_path``'s contents (its single top folder stripped), extracted into
    ``cache_dir/archives/`` on first use and checked against the archive on every later use.

    Args:
        zip_path: the archive.
        cache_dir: the user cache.
        sha256: the archive's SHA-256 (hex), which names its folder.

    Raises:
        DatasetFormatError: the archive cannot be read, escapes its folder or expands beyond the cap.
    """
    zip_path = Path(zip_path)
    name = zip_path.stem
    root = Path(cache_dir).expanduser() / "archives" / f"{name}-{sha256[:16]}"
    dest = root / name
    if dest.is_dir():
        why = differs(zip_path, dest)
        if why is None:
            return dest
        warnings.warn(f"{dest}: extracted copy of {zip_path} not used, {why}; extracting it again",
                      RuntimeWarning, stacklevel=2)
        shutil.rmtree(root)
    try:
        return extract_zip(zip_path, dest)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # refused or interrupted: no empty folder left behind
        raise


def differs(zip_path, folder) -> str | None:
    """Why ``folder`` is not what extracting ``zip_path`` gives (a member missing, of another size or
    CRC-32), or None.  O(extracted bytes): CRC-32 runs at several GB/s."""
    zip_path, folder = Path(zip_path), Path(folder)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive_members(zip_path, archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetFormatError(zip_path, None, f"not a readable zip archive ({e})") from e
    for info, rel in members:
        path = folder / rel
        if info.is_dir():
            if not path.is_dir():
                return f"its folder {rel} is missing"
            continue
        if not path.is_file():
            return f"{rel} is missing"
        if path.stat().st_size != info.file_size:
            return f"{rel} has {path.stat().st_size} bytes, the archive {info.file_size}"
        if _crc32(path) != info.CRC:
            return f"{rel} differs from the archive's copy (CRC-32)"
    return None


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc
