"""Whole-Gram seconds of the sketched GNTK against the exact one, before and after the compiled sketched tile
(issue 12), side by side in one run.

For each dataset (``--datasets``: ``COLLAB150``, the 150 largest graphs of
``fastgnn.datasets.synthetic_collab()`` (COLLAB-sized, 283 nodes on average), of which a
seeded random ``--collab-graphs`` are run; and MUTAG, PROTEINS, IMDBBINARY from
``../shared/datasets/tu``, all graphs or a seeded random ``--graphs``), at num_layers = 4,
num_mlp_layers = 2, jk, uniform scale, float64, ``--threads`` torch threads, it times
``GNTK(...).fit_transform`` of:

* **exact**: ``sketch_size=None`` with the default ``compress="auto"`` (colour classes where a
  graph has fewer than its nodes): what a user gets without sketching;
* **exact nodes**: ``compress=False``, the exact kernel on nodes (the sketched kernel runs on nodes);
* for each b of ``--sizes``: **torch tile** (``compiled_tile.config_context(sketched_tile=False)``: the
  sketched tiles on the torch tile as before, its ReLU steps fused as before) and **compiled tile** (the
  default now).

Every configuration runs ``--repeats`` times, interleaved round by round (so that a change of load
hits all of them alike); the medians are reported, of the whole ``fit_transform`` (``*_s``) and of
its Gram part alone (``GNTK.time_``, ``*_gram_s``: the per-graph preparation, sketches and
self-diagonals, excluded).  A torch-tile configuration whose first run exceeds ``--max-seconds``
runs once (its ``repeats`` column says so).  Also per b: the compiled tile's largest entry
difference from the torch tile's Gram over its largest entry (``compiled_vs_torch_rel``: the
same kernel, should be ~1e-13), the sketched Gram's relative error against the exact one, the
cost model's predicted sketched/exact ratio (``fastgnn.gntk.plan.sketch_cost_ratio``) and
whether ``GNTK`` warned that sketching will not pay.

Writes ``--out``.csv and ``--out``_run.txt (the command, machine, load averages, commit, table).

    nice -n 10 .venv/bin/python benchmarks/sketch_speed.py
    nice -n 10 .venv/bin/python benchmarks/sketch_speed.py --datasets MUTAG --sizes 16 --repeats 1 --out /tmp/sk
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import (
    BENCH_GNTK,
    DATA_DIR,
    RESULTS,
    command_line,
    commit_line,
    load_average,
    load_dataset,
    machine_line,
    subset_indices,
    write_csv,
)

from fastgnn import GNTK, datasets
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.plan import sketch_cost_ratio
from fastgnn.io import save_text

KW = dict(BENCH_GNTK, progress=False)
FIELDS = ["dataset", "graphs", "mean_nodes", "max_nodes", "b", "sketched_graphs", "repeats",
          "exact_s", "exact_gram_s", "exact_nodes_s", "exact_nodes_gram_s",
          "torch_tile_s", "torch_tile_gram_s", "torch_tile_repeats", "compiled_tile_s", "compiled_tile_gram_s",
          "compiled_over_torch_gram", "exact_over_compiled_gram", "exact_nodes_over_compiled_gram",
          "exact_over_compiled_fit", "predicted_sketch_over_exact", "warned", "compiled_vs_torch_rel",
          "sketch_vs_exact_rel", "load_before", "load_after"]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [int(b) for b in args.sizes.split(",")]
    lines = [f"command: {command_line()}",
             f"started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load_average()}",
             machine_line(args.threads), f"commit: {commit_line()}", ""]
    print("\n".join(lines), flush=True)
    rows = []
    for name in args.datasets.split(","):
        graphs = load(name, args)
        if graphs is None:
            continue
        rows += run_dataset(name, graphs, sizes, args)
        write(rows, lines, args)
    lines.append(f"finished {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load_average()}")
    write(rows, lines, args)
    return 0


def load(name: str, args) -> list | None:
    """The graphs of ``name`` (all, or a seeded random ``--graphs`` / ``--collab-graphs``); None when absent."""
    if name == "COLLAB150":
        t0 = time.perf_counter()
        graphs = list(datasets.synthetic_collab())
        largest = np.argsort([g.num_nodes for g in graphs], kind="stable")[-150:]
        graphs = [graphs[i] for i in largest]
        print(f"COLLAB150: synthetic_collab() built in {time.perf_counter() - t0:.1f} s; the 150 largest graphs "
              f"average {np.mean([g.num_nodes for g in graphs]):.1f} nodes", flush=True)
        k = args.collab_graphs
    else:
        data = load_dataset(name, args.data_dir)
        if data is None:
            return None
        graphs, k = list(data), args.graphs
    return [graphs[i] for i in subset_indices(len(graphs), k or None, args.seed)]


def run_dataset(name, graphs, sizes, args) -> list[dict]:
    nodes = np.array([g.num_nodes for g in graphs])
    print(f"\n== {name}: {len(graphs)} graphs, {nodes.mean():.1f} nodes on average, at most {nodes.max()}",
          flush=True)
    configs = {"exact": dict(KW), "exact_nodes": dict(KW, compress=False)}
    for b in sizes:
        configs[f"torch_{b}"] = dict(KW, sketch_size=b)
        configs[f"compiled_{b}"] = dict(KW, sketch_size=b)
    times = {c: [] for c in configs}
    grams = {}
    warned = {}
    load_before = load_average()
    for r in range(args.repeats):
        for c, kw in configs.items():
            if c.startswith("torch") and r and times[c][0][0] > args.max_seconds:
                continue  # too slow to repeat: one run
            with compiled_tile.config_context(sketched_tile=not c.startswith("torch")):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    est = GNTK(**kw)
                    t0 = time.perf_counter()
                    gram = est.fit_transform(graphs)
                    total = time.perf_counter() - t0
            times[c].append((total, est.time_))
            if r == 0:
                grams[c] = gram
                warned[c] = any("sketch_size" in str(w.message) for w in caught)
            print(f"  round {r + 1} {c:>12}: fit_transform {total:8.3f} s, gram {est.time_:8.3f} s", flush=True)
    med = {c: (statistics.median(t for t, _ in v), statistics.median(g for _, g in v)) for c, v in times.items()}
    rows = []
    for b in sizes:
        tor, com = med[f"torch_{b}"], med[f"compiled_{b}"]
        rows.append({
            "dataset": name, "graphs": len(graphs), "mean_nodes": float(nodes.mean()), "max_nodes": int(nodes.max()),
            "b": b, "sketched_graphs": int((nodes > b).sum()), "repeats": args.repeats,
            "exact_s": med["exact"][0], "exact_gram_s": med["exact"][1],
            "exact_nodes_s": med["exact_nodes"][0], "exact_nodes_gram_s": med["exact_nodes"][1],
            "torch_tile_s": tor[0], "torch_tile_gram_s": tor[1], "torch_tile_repeats": len(times[f"torch_{b}"]),
            "compiled_tile_s": com[0], "compiled_tile_gram_s": com[1],
            "compiled_over_torch_gram": tor[1] / com[1],
            "exact_over_compiled_gram": med["exact"][1] / com[1],
            "exact_nodes_over_compiled_gram": med["exact_nodes"][1] / com[1],
            "exact_over_compiled_fit": med["exact"][0] / com[0],
            "predicted_sketch_over_exact": sketch_cost_ratio(
                nodes, b, num_blocks=KW["num_layers"] - 1, num_mlp_layers=KW["num_mlp_layers"],
                entries=[int(g.edge_index.shape[1]) + g.num_nodes for g in graphs]),
            "warned": warned[f"compiled_{b}"],
            "compiled_vs_torch_rel": rel(grams[f"compiled_{b}"], grams[f"torch_{b}"]),
            "sketch_vs_exact_rel": rel(grams[f"compiled_{b}"], grams["exact"]),
            "load_before": load_before, "load_after": load_average(),
        })
    return rows


def rel(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


COLUMNS = [("dataset", "dataset", "{}"), ("graphs", "graphs", "{}"), ("mean N", "mean_nodes", "{:.1f}"),
           ("b", "b", "{}"), ("N > b", "sketched_graphs", "{}"), ("exact gram s", "exact_gram_s", "{:.3g}"),
           ("exact nodes gram s", "exact_nodes_gram_s", "{:.3g}"),
           ("torch tile gram s", "torch_tile_gram_s", "{:.3g}"),
           ("compiled gram s", "compiled_tile_gram_s", "{:.3g}"),
           ("torch/compiled", "compiled_over_torch_gram", "{:.3g}"),
           ("exact/compiled", "exact_over_compiled_gram", "{:.3g}"),
           ("exact nodes/compiled", "exact_nodes_over_compiled_gram", "{:.3g}"),
           ("fit exact/compiled", "exact_over_compiled_fit", "{:.3g}"),
           ("predicted sk/exact", "predicted_sketch_over_exact", "{:.3g}"), ("warned", "warned", "{}"),
           ("compiled vs torch", "compiled_vs_torch_rel", "{:.1e}"),
           ("sketch vs exact", "sketch_vs_exact_rel", "{:.1e}")]


def table(rows) -> str:
    cells = [[h for h, _, _ in COLUMNS]] + [[fmt.format(r[k]) for _, k, fmt in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join(" | ".join(s.rjust(w) if i else s.ljust(w) for i, (s, w) in enumerate(zip(c, widths)))
                     for c in cells)


def write(rows, lines, args) -> None:
    out = Path(args.out)
    write_csv(rows, out.with_suffix(".csv"), FIELDS)
    text = "\n".join([*lines, "", table(rows), "",
                      "gram s: GNTK.time_ (the Gram alone, median); exact: compress='auto'; "
                      "exact nodes: compress=False; torch tile: the sketched kernel as before "
                      "(compiled_tile sketched_tile=False); compiled: now",
                      "x/compiled: seconds of x over the compiled sketched tile's (> 1: the sketch is faster)"])
    save_text(out.parent / (out.name + "_run.txt"), text + "\n")
    print("\n" + table(rows), flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="COLLAB150,MUTAG,PROTEINS,IMDBBINARY")
    p.add_argument("--sizes", default="16,32,64", help="sketch sizes b, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--collab-graphs", type=int, default=40,
                   help="graphs of the 150 largest COLLAB-sized ones run (seeded random; 0: all 150)")
    p.add_argument("--graphs", type=int, default=0, help="graphs of each TU dataset run (seeded random; 0: all)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="a torch-tile configuration whose first run takes longer runs once")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=str(RESULTS / "sketch_speed"))
    return p


if __name__ == "__main__":
    sys.exit(main())
