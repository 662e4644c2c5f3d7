"""Per-tile checkpoints of a Gram: a folder named by a fingerprint of the inputs, one file per tile.

With ``checkpoint_dir`` the engine (:func:`fastgnn.gntk.engine.gram_readouts`) saves every finished
tile as it completes (``fastgnn.io.save_npy``: temporary file, then rename) in a folder named by a
:func:`fingerprint` of everything that determines the result (the operands' tensors, the depth, the
dtype and device, rows vs columns...).  A run restarted with the same arguments loads the finished
tiles and computes the rest; the result is bitwise the same as an uninterrupted run's.  A tile file
is named by the graph ranges it holds and carries a :func:`block_digest` of its contents: a damaged
file is detected and recomputed, never used.  The folder stays after the run (a finished run is then
read back, not recomputed); delete it to free the space.  A :class:`Checkpoint` can be shared
between workers, since each tile is one file written atomically.

Cost: the fingerprint hashes every operand once (O(total operand bytes)); a tile's digest hashes
its block (O(block bytes)) when it is saved and when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fastgnn.gntk.pairwise import Operand
from fastgnn.io import save_json, save_npy

__all__ = ["FORMAT", "Checkpoint", "block_digest", "fingerprint"]

#: the checkpoint format (2: operands' row weights, i.e. class sizes, in the fingerprint)
FORMAT = 2


def fingerprint(
    rows: Sequence[Operand],
    cols: Sequence[Operand] | None,
    *,
    num_blocks: int,
    num_mlp_layers: int,
    sketched: bool,
    config: dict | None = None,
) -> str:
    """A hex digest of everything that determines the readouts.

    Every operand's tensors (features, aggregation matrix, sketch factors,
    self-diagonals: so the graphs, ``scale``, the sketch and its seed, and the
    dtype), their device type, the depth, rows vs columns (``cols=None``: the
    symmetric Gram), and ``config`` (any further settings, JSON-serialisable).
    The tile plan is not in it: tile files are named by their graph ranges.
    """
    h = hashlib.blake2b(digest_size=20)
    head = {
        "format": FORMAT,
        "num_blocks": int(num_blocks),
        "num_mlp_layers": int(num_mlp_layers),
        "sketched": bool(sketched),
        "symmetric": cols is None,
        "n_rows": len(rows),
        "n_cols": None if cols is None else len(cols),
        "config": config or {},
    }
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for side in (rows, [] if cols is None else cols):
        h.update(b"|side|")
        for op in side:
            for t in (op.x, op.a, op.sizes, op.sketch, op.sketched_a, *op.diags):
                _hash_tensor(h, t)
    return h.hexdigest()


def block_digest(block: np.ndarray) -> str:
    """A 16-hex-digit digest (BLAKE2b) of a tile's block: its shape, dtype and bytes; the name a tile
    file carries, checked when it is loaded."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{block.shape}{block.dtype.str}".encode())
    h.update(np.ascontiguousarray(block).data)
    return h.hexdigest()


class Checkpoint:
    """The folder of one run's finished tiles: ``{root}/{kind}-{fingerprint[:24]}/``.

    It holds ``manifest.json`` (the run: fingerprint, settings, plan, state) and
    one ``{tile name}.{digest}.npy`` per finished tile.  Files are written
    atomically; a tile whose file cannot be read, has the wrong shape or whose
    contents do not match its digest is reported (a warning), deleted and
    recomputed.
    """

    def __init__(self, root, key: str, *, symmetric: bool, manifest: dict | None = None):
        self.key = key
        self.folder = Path(root) / f"{'gram' if symmetric else 'cross'}-{key[:24]}"
        self.manifest_path = self.folder / "manifest.json"
        self.manifest = dict(manifest or {})
        self.manifest["fingerprint"] = key
        old = self.read_manifest()
        if old is not None and old.get("fingerprint") != key:
            raise RuntimeError(
                f"checkpoint {self.folder}: its manifest is for fingerprint {old.get('fingerprint')!r}, "
                f"not {key!r}; remove the folder or use another checkpoint_dir"
            )
        self.previous = old

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.exists():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"checkpoint {self.folder}: unreadable manifest.json ({exc})") from None

    def write_manifest(self, **updates) -> None:
        self.manifest.update(updates, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        save_json(self.manifest_path, self.manifest)

    def finished(self) -> set[str]:
        """Names of the tiles with a file (not yet verified)."""
        if not self.folder.is_dir():
            return set()
        return {p.name.split(".", 1)[0] for p in self.folder.glob("r*_c*.*.npy")}

    def load(self, name: str, shape: tuple) -> np.ndarray | None:
        """A finished tile's block, or None (absent, or damaged: then deleted, with a warning)."""
        for path in sorted(self.folder.glob(f"{name}.*.npy")):
            digest = path.name.split(".")[1]
            try:
                block = np.load(path, allow_pickle=False)
                ok = block.shape == tuple(shape) and block_digest(block) == digest
                why = "wrong shape or contents"
            except Exception as exc:  # noqa: BLE001 (any unreadable file is recomputed)
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                return block
            warnings.warn(f"checkpoint tile {path} is damaged ({why}); recomputing it", RuntimeWarning,
                          stacklevel=3)
            path.unlink(missing_ok=True)
        return None

    def save(self, name: str, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block)
        save_npy(self.folder / f"{name}.{block_digest(block)}.npy", block)


def _hash_tensor(h, t) -> None:
    if t is None:
        h.update(b"none;")
        return
    h.update(f"{tuple(t.shape)}{t.dtype}{t.device.type};".encode())
    h.update(np.ascontiguousarray(t.detach().cpu().numpy()).data)
