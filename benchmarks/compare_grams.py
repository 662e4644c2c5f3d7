"""How far apart two whole Grams on disk are: max over all entries of |A - B| / |B|, read by bands of rows.

Two runs of the same kernel by different paths (one process against a Dask cluster, the triangle against
shares or bands) sum the same float32 terms in another order, so their Grams agree to rounding, not bit for
bit; this says by how much over every entry, in O(rows x n) memory per band instead of two n x n arrays
(ogbg-molhiv's float64 ``gram.npy`` is 13.5 GB)::

    python benchmarks/compare_grams.py runs/molhiv_exact_shares/gram.npy runs/molhiv_exact_tri/gram.npy \
        --out benchmarks/results/molhiv_exact_shares_vs_tri.txt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import command_line, header_lines


def compare(path_a: str, path_b: str, rows: int = 2000) -> dict:
    """Max relative difference of ``A`` from ``B`` (entries where ``B`` is 0 count ``|A|``), and whether bitwise."""
    a = np.load(path_a, mmap_mode="r")
    b = np.load(path_b, mmap_mode="r")
    if a.shape != b.shape:
        raise SystemExit(f"{path_a} is {a.shape} but {path_b} is {b.shape}")
    worst, bitwise = 0.0, True
    for start in range(0, a.shape[0], rows):
        x = np.asarray(a[start:start + rows], dtype=np.float64)
        y = np.asarray(b[start:start + rows], dtype=np.float64)
        bitwise = bitwise and bool(np.array_equal(x, y))
        scale = np.where(y == 0, 1.0, np.abs(y))
        worst = max(worst, float(np.max(np.abs(x - y) / scale)))
    return {"a": path_a, "b": path_b, "n": int(a.shape[0]), "max_rel_diff": worst, "bitwise_equal": bitwise}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="a Gram saved with np.save (n x n)")
    p.add_argument("b", help="the Gram to compare it with (the reference: differences are relative to it)")
    p.add_argument("--rows", type=int, default=2000, help="rows read at a time")
    p.add_argument("--out", default=None, help="also write the machine, the command and the result to this file")
    args = p.parse_args(argv)
    result = json.dumps(compare(args.a, args.b, rows=args.rows))
    print(result)
    if args.out:
        from fastgnn.io import atomic_path

        with atomic_path(Path(args.out), ".txt") as tmp:
            Path(tmp).write_text("\n".join([*header_lines(), f"command: {command_line()}", result]) + "\n")


if __name__ == "__main__":
    main()
