"""Node pairs against the dataset's colour pairs, per depth, and the colour-pair engine's counted work (issue 21).

The GNTK on colour pairs (``fastgnn.gntk.colour_pairs``) computes C_l × C_l colour pairs per depth l
where the node-pair engine computes every node pair of every graph pair (i <= j): Σ_{i<=j} N_i N_j.
For each dataset this prints and writes, per depth 1..4 (L = 5), the colours C_l and the ratio node
pairs / colour pairs (C_l² / 2, the symmetric half), then what ``GNTK(colour_pairs="auto")`` decides at
L = 4, R = 2, uniform, jk: the counted work of both engines (``colour_pair_flops``,
``node_pair_flops`` on each graph's colour classes, over ``NODE_ENGINE_SPEEDUP``), and the engine
chosen.  Counting only: seconds per dataset.

    .venv/bin/python benchmarks/colour_counts.py            # the six GIN sets of ../shared/datasets/tu
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import DATA_DIR, RESULTS, command_line, header_lines, load_dataset, write_csv

from fastgnn import GNTK
from fastgnn.gntk.colour_pairs import NODE_ENGINE_SPEEDUP, colour_pair_flops, dataset_colours, node_pair_flops
from fastgnn.gntk.plan import RELU_PAIR_COST

DATASETS = ["MUTAG", "PTC", "NCI1", "PROTEINS", "IMDBBINARY", "IMDBMULTI"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=str(RESULTS / "colour_counts"))
    args = p.parse_args(argv)
    rows = []
    for name in args.datasets.split(","):
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        cols = dataset_colours(data.graphs, 4, "uniform")
        pairs = cols.node_pairs()
        est = GNTK(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True, progress=False).fit(data)
        k = np.array([op.num_rows for op in est.fitted_], dtype=np.float64)
        nnz = np.array([float(torch.count_nonzero(op.a)) for op in est.fitted_]) / k
        by_nodes = node_pair_flops(k, nnz, 3, 2, RELU_PAIR_COST)
        by_colours = colour_pair_flops(cols, 3, 2, RELU_PAIR_COST)
        row = {"dataset": name, "graphs": len(data), "nodes": int(cols.graph_of.shape[0]), "node_pairs": pairs,
               "class_pairs": int((k.sum() ** 2 + (k * k).sum()) // 2),
               **{f"C{d}": cols.sizes[d] for d in range(1, 5)},
               **{f"ratio{d}": round(pairs / (cols.sizes[d] ** 2 / 2), 1) for d in range(1, 5)},
               "colour_work_L4": f"{by_colours:.3g}", "node_work_L4": f"{by_nodes:.3g}",
               "engine_L4": "colour pairs" if est._dataset_colours() is not None else "node pairs"}
        rows.append(row)
        print(row, flush=True)
    lines = ["# Node pairs against colour pairs (benchmarks/colour_counts.py)", "", "```", *header_lines(),
             f"command: {command_line()}", f"NODE_ENGINE_SPEEDUP = {NODE_ENGINE_SPEEDUP}", "```", "",
             "node pairs / colour pairs (C_l² / 2) per depth l (L = 5 reaches depth 4), and the engine "
             "`colour_pairs=\"auto\"` picks at L = 4, R = 2 (counted multiply-adds; the node engine's over "
             "NODE_ENGINE_SPEEDUP)", "",
             "| set | graphs | nodes | C1 | C2 | C3 | C4 | depth 1 | depth 2 | depth 3 | depth 4 | colour work | "
             "node work | engine (L=4) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['graphs']} | {r['nodes']} | {r['C1']} | {r['C2']} | {r['C3']} | "
                     f"{r['C4']} | {r['ratio1']:,} | {r['ratio2']:,} | {r['ratio3']:,} | {r['ratio4']:,} | "
                     f"{r['colour_work_L4']} | {r['node_work_L4']} | {r['engine_L4']} |")
    from pathlib import Path

    write_csv(rows, Path(args.out + ".csv"))
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
