"""Colour pairs against node pairs, side by side, per dataset and depth (issue 21).

For each dataset and ``--layers`` (L = 4, 5, 6 by default), R = ``--mlp-layers``, uniform, jk, it
times ``GNTK(colour_pairs=True)`` and ``GNTK(colour_pairs=False)`` (the node-pair engine, on colour
classes where they help) in interleaved rounds after one warm-up each (numba compiled), the median
of ``--repeats``, and records what ``colour_pairs="auto"`` picks, the colours per depth, the node
pairs and colour pairs (C_l² / 2) per depth, the compiled path's plan under the default budget (the
depth held whole, the rows per block of the deeper ones) and the support rows it recomputes. The
ratio node / colour above 1 means colour pairs are faster; "auto right" says whether the pick was
the faster engine. Writes ``--out``.csv/.md with the command and the machine.

    .venv/bin/python benchmarks/colour_engine.py --datasets MUTAG PTC NCI1 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import DATA_DIR, RESULTS, command_line, header_lines, load_dataset, write_csv

from fastgnn import GNTK, budget
from fastgnn.gntk import colour_blocks
from fastgnn.gntk.colour_blocks import renumbered_counts
from fastgnn.gntk.colour_pairs import dataset_colours

DATASETS = ["MUTAG", "PTC", "NCI1", "PROTEINS", "IMDBBINARY", "IMDBMULTI"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--layers", nargs="+", type=int, default=[4, 5, 6])
    p.add_argument("--mlp-layers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=600.0,
                   help="skip the remaining repeats of a configuration whose first run took longer")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=str(RESULTS / "colour_engine"))
    args = p.parse_args(argv)
    have = budget.resolve("auto", "cpu")
    rows = []
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        for num_layers in args.layers:
            rows.append(measure(name, data, num_layers, args.mlp_layers, args.repeats, args.max_seconds, have))
            print(rows[-1], flush=True)
    lines = ["# Colour pairs against node pairs (benchmarks/colour_engine.py)", "", "```", *header_lines(),
             f"command: {command_line()}", f"budget: {have / 2**30:.2f} GiB (max_memory='auto')", "```", "",
             f"R = {args.mlp_layers}, uniform, jk; warm, median of interleaved repeats. held: the deepest depth "
             "held whole (the deeper ones by row blocks, recomputing their support rows).", "",
             "| set | L | colours per depth | node/colour pairs, top depth | held | recomputed rows·width | "
             "colour s | node s | node/colour | auto picks | auto right |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['num_layers']} | {r['colours']} | {r['ratio_top']:,} | {r['held']} | "
                     f"{r['recomputed']:.3g} | {r['colour_s']:.3g} | {r['node_s']:.3g} | {r['speedup']:.2f} | "
                     f"{r['auto']} | {r['auto_right']} |")
    write_csv(rows, Path(args.out + ".csv"))
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def measure(name, data, num_layers, num_mlp_layers, repeats, max_seconds, have) -> dict:
    depth = num_layers - 1
    cols = dataset_colours(data.graphs, depth, "uniform")
    sizes, n = cols.sizes, cols.num_graphs
    held = colour_blocks.plan_held(sizes, depth, 8, have, n)
    counts, _ = renumbered_counts(cols, held, depth)
    recomputed = colour_blocks.recomputed_pairs(
        counts, sizes, depth, held, lambda d: colour_blocks.block_rows(sizes, d, held, 8, n, have))
    auto = GNTK(num_layers=num_layers, num_mlp_layers=num_mlp_layers, progress=False).fit(data)
    picks = "colour pairs" if auto._dataset_colours() is not None else "node pairs"
    times = {True: [], False: []}
    for engine in (True, False):  # warm-up (numba compiled, the dataset's caches built)
        run(data, num_layers, num_mlp_layers, engine)
    for _ in range(repeats):
        for engine in (True, False):
            if times[engine] and times[engine][0] > max_seconds:
                continue
            times[engine].append(run(data, num_layers, num_mlp_layers, engine))
    colour_s, node_s = statistics.median(times[True]), statistics.median(times[False])
    faster = "colour pairs" if colour_s < node_s else "node pairs"
    return {"dataset": name, "num_layers": num_layers, "num_mlp_layers": num_mlp_layers, "graphs": n,
            "nodes": int(cols.graph_of.shape[0]), "colours": "/".join(str(c) for c in sizes[1:]),
            "ratio_top": round(cols.node_pairs() / (sizes[depth] ** 2 / 2), 1), "held": held,
            "recomputed": recomputed, "colour_s": colour_s, "node_s": node_s, "speedup": node_s / colour_s,
            "colour_runs": len(times[True]), "node_runs": len(times[False]), "auto": picks,
            "auto_right": "yes" if picks == faster else "no"}


def run(data, num_layers, num_mlp_layers, colour_pairs) -> float:
    t0 = time.perf_counter()
    GNTK(num_layers=num_layers, num_mlp_layers=num_mlp_layers, colour_pairs=colour_pairs,
         progress=False).fit_transform(data)
    return time.perf_counter() - t0


if __name__ == "__main__":
    torch.set_num_threads(2)
    raise SystemExit(main())
