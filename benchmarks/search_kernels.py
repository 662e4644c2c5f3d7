"""The kernel stage of ``fastgnn search`` / ``fastgnn reproduce`` on its own (issue 21's NCI1 target).

The search computes the readouts of every depth once per (num_mlp_layers, scale) at the grid's largest
num_layers; every (num_layers, jk) of the grid is a sum of those readouts, so the 60 configurations of
:data:`fastgnn.search.DEFAULT_GRID` cost 6 passes at L = 6.  This script runs exactly those passes
(``fastgnn.search._readouts``, no cache), one after the other in one process, and records per pass the
seconds, the engine ``colour_pairs="auto"`` chose, the dataset's WL colours per depth and colour pairs
against node pairs; the sum is the search's "kernels" stage (``docs/gntk-results.md``'s "inside the
accuracy stage" table: NCI1 956 s before the colour-pair engine).  One warm-up pass on 50 graphs first
(numba compiled).  Writes ``--out``.csv and ``--out``_run.txt.

    .venv/bin/python benchmarks/search_kernels.py --dataset NCI1
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from common import DATA_DIR, RESULTS, command_line, header_lines, load_dataset, write_results

from fastgnn import GNTK
from fastgnn.gntk.colour_pairs import dataset_colours
from fastgnn.search import DEFAULT_GRID, _readouts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="NCI1")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--out", default=None, help="default benchmarks/results/search_kernels_DATASET")
    args = p.parse_args()
    out = args.out or str(RESULTS / f"search_kernels_{args.dataset.lower()}")
    data = load_dataset(args.dataset, args.data_dir)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    max_layers = max(DEFAULT_GRID["num_layers"])
    groups = list(itertools.product(DEFAULT_GRID["num_mlp_layers"], DEFAULT_GRID["scale"]))
    print(f"{args.dataset}: {len(data)} graphs; {len(groups)} passes at num_layers={max_layers}", flush=True)

    warm = data[:50]
    for scale in DEFAULT_GRID["scale"]:
        _readouts(warm, max_layers, 1, scale, None, "cpu", args.dtype, "auto", False, None)

    rows = []
    for R, scale in groups:
        est = GNTK(num_layers=max_layers, num_mlp_layers=R, scale=scale, dtype=args.dtype, progress=False)
        est.fit(data)
        engine = "colour pairs" if est._dataset_colours() is not None else "node pairs"
        t0 = time.perf_counter()
        parts, _, seconds = _readouts(data, max_layers, R, scale, None, "cpu", args.dtype, "auto", False, None)
        wall = time.perf_counter() - t0
        rows.append({"dataset": args.dataset, "num_mlp_layers": R, "scale": scale, "num_layers": max_layers,
                     "engine": engine, "seconds": round(seconds, 2), "wall_s": round(wall, 2),
                     "readouts_shape": "x".join(map(str, parts.shape))})
        print(rows[-1], flush=True)
    cols = dataset_colours(list(data), max_layers - 1, "uniform", dtype)
    node_pairs = cols.node_pairs()
    total = sum(r["seconds"] for r in rows)
    lines = [*header_lines(), f"command: {command_line()}",
             f"colours per depth (uniform): {cols.sizes}",
             "node pairs / colour pairs per depth: "
             + ", ".join(f"{node_pairs / max(c * (c + 1) / 2, 1):.1f}" for c in cols.sizes),
             f"kernel stage (the sum of the {len(rows)} passes): {total:.1f} s"]
    print("\n".join(lines[-3:]))
    write_results(rows, lines, out)


if __name__ == "__main__":
    main()
