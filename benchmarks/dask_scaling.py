"""The GNTK Gram on a Dask LocalCluster against the in-process engine, in the same run (issue 13).

For each dataset (``--datasets``: NCI1 from ``../shared/datasets`` and the COLLAB-sized synthetic set
``COLLAB`` = ``fastgnn.datasets.synthetic_collab()``, each a random subset of ``--graphs`` graphs to
keep the run short on a shared 2-core machine), at num_layers = 4, num_mlp_layers = 2, uniform, jk,
float64, colour classes on (GNTK's defaults), it measures:

* **prepare**: the operands (``GNTK.fit``), once, shared by every run below (not in the Gram times);
* **local default**: ``engine.gram_readouts`` in this process on ``--threads`` torch threads (2) with
  the tile plan GNTK makes by default (``plan_tile_nodes`` at the default budget): today's run;
* **local same plan**: the same, with the plan the Dask run uses (see below), so that the Dask
  run's overhead is measured on identical work (and its Gram compared bitwise);
* **dask**: ``DaskTiles`` on ``LocalCluster(n_workers=--workers, threads_per_worker=1)``
  (processes, 127.0.0.1, no dashboard; started by ``fastgnn.distributed.cluster_client``, as
  ``fastgnn gntk --workers N`` does): **startup** (cluster and client) and **warm-up** (a few
  graphs, so every worker has imported fastgnn and loaded the compiled kernels) reported apart
  from **gram** (scatter of the operands included);
* the Dask plan: chunks of at most the default tile size and at least ``--chunks-per-worker`` x
  workers chunks, so there are enough tiles to keep every worker busy to the end;
* **overhead**: dask gram over local-same-plan gram minus 1 (and over local default); the three runs
  are repeated ``--rounds`` times, interleaved, and their medians compared (the machine is shared);
* **throughput**: pairs of operand rows (colour classes or nodes: what the tiles compute) per second,
  per worker; node pairs (Σ_{i<=j} N_i N_j) per second for comparison with gram_speed;
* **workers busy**: the fraction of the Dask run's wall time x workers spent inside tile tasks
  (Dask's task stream), which separates slower tiles from idle workers, and the seconds before the
  first tile started (the scatter of the operands and the first submissions);
* **bytes**: the pickled operands (``fastgnn.distributed.tiles.pack``) and plan x workers (scattered
  once) and the blocks sent back (8 bytes x readouts x entries of the tiles); **peak RSS** of the
  client and of each worker (``ru_maxrss``).

Writes ``--out`` (CSV, default benchmarks/results/distributed.csv: this script was ``distributed.py``
before issue 20, and its results keep that name) and prints a table.

    .venv/bin/python benchmarks/dask_scaling.py
    .venv/bin/python benchmarks/dask_scaling.py --datasets NCI1 --graphs NCI1=100 --rounds 1 --out /tmp/dask.csv
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import BENCH_GNTK, DATA_DIR, RESULTS, load_dataset, subset_indices, write_csv


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load(name: str, k: int, data_dir=DATA_DIR) -> list:
    """A seeded random ``k`` of the dataset's graphs (COLLAB: the COLLAB-sized synthetic set)."""
    graphs = load_dataset(name, data_dir).graphs
    return [graphs[i] for i in subset_indices(len(graphs), k)]


def dask_tile_nodes(ops, default: int, workers: int, per_worker: int) -> int:
    rows = sum(op.num_rows for op in ops)
    return int(min(default, max(64, math.ceil(rows / (per_worker * workers)))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="NCI1,COLLAB")
    ap.add_argument("--graphs", default="NCI1=1200,COLLAB=600", help="subset size per dataset (NAME=k,...)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the in-process runs")
    ap.add_argument("--chunks-per-worker", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repeats of the three runs (medians)")
    ap.add_argument("--num-layers", type=int, default=BENCH_GNTK["num_layers"])
    ap.add_argument("--data-dir", default=str(DATA_DIR))
    ap.add_argument("--out", default=str(RESULTS / "distributed.csv"))
    args = ap.parse_args(argv)

    from distributed import get_task_stream

    import fastgnn.gntk.engine as engine
    from fastgnn.budget import default_max_memory
    from fastgnn.distributed import DaskTiles, cluster_client
    from fastgnn.distributed.tiles import pack
    from fastgnn.gntk import GNTK
    from fastgnn.gntk.plan import plan_tile_nodes, plan_tiles

    torch.set_num_threads(args.threads)
    sizes = dict(kv.split("=") for kv in args.graphs.split(",") if kv)
    kw = dict(num_blocks=args.num_layers - 1, num_mlp_layers=BENCH_GNTK["num_mlp_layers"], sketched=False)
    rows_out = []
    cm = cluster_client(args.workers)  # LocalCluster(n x 1 thread, processes, 127.0.0.1, no dashboard)
    client = cm.__enter__()
    startup = client.startup_seconds
    print(f"cluster start-up: {startup:.1f} s ({args.workers} workers x 1 thread)", flush=True)
    try:
        for name in args.datasets.split(","):
            graphs = load(name, int(sizes.get(name, 10**9)), args.data_dir)
            est = GNTK(num_layers=args.num_layers, num_mlp_layers=kw["num_mlp_layers"])
            t = time.perf_counter()
            ops = est.fit(graphs).fitted_
            prepare = time.perf_counter() - t
            itemsize = ops[0].x.element_size()
            default = plan_tile_nodes(ops, None, default_max_memory(), itemsize, kw["num_blocks"],
                                             sketched=False)
            dtn = dask_tile_nodes(ops, default, args.workers, args.chunks_per_worker)
            warm = ops[:8]
            engine.gram_readouts(warm, None, tile_nodes=64, **kw)  # compiled kernels loaded here
            t = time.perf_counter()
            engine.gram_readouts(warm, None, tile_nodes=64, executor=DaskTiles(client), **kw)
            warmup = time.perf_counter() - t

            def timed(tile_nodes, executor=None, ops=ops):
                t = time.perf_counter()
                out = engine.gram_readouts(ops, None, tile_nodes=tile_nodes, executor=executor, **kw)
                return time.perf_counter() - t, out

            runs, busy, first = {"local_default": [], "local_same": [], "dask": []}, [], []
            for _ in range(args.rounds):  # interleaved: the shared machine's load hits all three alike
                runs["local_default"].append(timed(default)[0])
                t, ref = timed(dtn)
                runs["local_same"].append(t)
                with get_task_stream(client) as stream:
                    wall0 = time.time()
                    t, got = timed(dtn, DaskTiles(client))
                runs["dask"].append(t)
                starts = [s["start"] for task in stream.data for s in task["startstops"] if s["action"] == "compute"]
                first.append(min(starts) - wall0)
                busy.append(sum(s["stop"] - s["start"] for task in stream.data for s in task["startstops"]
                                if s["action"] == "compute") / (args.workers * t))
            local_default, local_same, dask_s = (float(np.median(runs[k])) for k in ("local_default", "local_same",
                                                                                      "dask"))
            plan = plan_tiles(ops, None, dtn)
            n_nodes = np.array([op.num_nodes for op in ops], dtype=np.float64)
            n_rows = np.array([op.num_rows for op in ops], dtype=np.float64)
            node_pairs = (n_nodes.sum() ** 2 + (n_nodes ** 2).sum()) / 2
            row_pairs = (n_rows.sum() ** 2 + (n_rows ** 2).sum()) / 2
            operand_bytes = len(pickle.dumps((pack(ops), plan), protocol=5))
            block_bytes = 8 * (kw["num_blocks"] + 1) * sum(len(plan.row_chunks[i]) * len(plan.col_chunks[j])
                                                           for i, j in plan.tiles)
            worker_rss = client.run(peak_rss)
            row = {
                "dataset": name, "graphs": len(ops), "nodes": int(n_nodes.sum()), "rows": int(n_rows.sum()),
                "node_pairs": node_pairs, "row_pairs": row_pairs, "workers": args.workers,
                "local_threads": args.threads, "rounds": args.rounds, "prepare_s": prepare,
                "default_tile_nodes": default,
                "dask_tile_nodes": dtn, "dask_tiles": len(plan.tiles),
                "default_tiles": len(plan_tiles(ops, None, default).tiles),
                "local_default_s": local_default, "local_same_plan_s": local_same, "dask_s": dask_s,
                "cluster_startup_s": startup, "dask_warmup_s": warmup,
                "all_runs_s": " ".join(f"{k}={','.join(f'{v:.2f}' for v in vs)}" for k, vs in runs.items()),
                "load_average": os.getloadavg()[0],
                "overhead_vs_same_plan": dask_s / local_same - 1, "overhead_vs_default": dask_s / local_default - 1,
                "bitwise_equal": bool(np.array_equal(ref, got)),
                "dask_workers_busy": float(np.median(busy)),
                "dask_first_task_s": float(np.median(first)),
                "row_pairs_per_s_per_worker": row_pairs / dask_s / args.workers,
                "node_pairs_per_s_per_worker": node_pairs / dask_s / args.workers,
                "node_pairs_per_s_local": node_pairs / local_default,
                "operand_bytes_scattered": operand_bytes * args.workers, "block_bytes_gathered": block_bytes,
                "client_peak_rss": peak_rss(), "worker_peak_rss_max": max(worker_rss.values()),
            }
            rows_out.append(row)
            print(f"{name}: {len(ops)} graphs, {row['row_pairs']:.3g} row pairs; local default {local_default:.1f} s "
                  f"({row['default_tiles']} tiles), local same plan {local_same:.1f} s, dask {dask_s:.1f} s "
                  f"({row['dask_tiles']} tiles; overhead {100 * row['overhead_vs_same_plan']:+.1f} % vs same plan, "
                  f"{100 * row['overhead_vs_default']:+.1f} % vs default; workers computing "
                  f"{100 * row['dask_workers_busy']:.0f} % of the time, first task after "
                  f"{row['dask_first_task_s']:.1f} s); warm-up {warmup:.1f} s; "
                  f"bitwise {row['bitwise_equal']}; {row['row_pairs_per_s_per_worker']:.3g} row pairs/s/worker; "
                  f"scattered {operand_bytes * args.workers / 1e6:.1f} MB, gathered {block_bytes / 1e6:.1f} MB; "
                  f"peak RSS client {row['client_peak_rss'] / 2**20:.0f} MiB, worker "
                  f"{row['worker_peak_rss_max'] / 2**20:.0f} MiB", flush=True)
    finally:
        cm.__exit__(None, None, None)
    write_csv(rows_out, Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
