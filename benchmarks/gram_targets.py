"""Issue 3's CPU targets, measured in full (no extrapolation): whole-Gram GNTK time and peak memory.

Runs ``GNTK(num_layers=4, num_mlp_layers=2, jk=True, scale="uniform").fit_transform`` on the
whole of each dataset, each in its own subprocess so that its peak RSS (``ru_maxrss``) is its
own, and prints and writes a CSV row per dataset: seconds (preparation included), node pairs
per second, peak RSS, threads, and the target.  Targets (issue 3, a 2-core machine):
IMDBBINARY < 10 s, NCI1 < 5 min, the COLLAB-sized synthetic set < 60 min with peak < 8 GB.

    .venv/bin/python benchmarks/gram_targets.py                        # all three, 2 threads
    .venv/bin/python benchmarks/gram_targets.py --datasets IMDBBINARY --threads 1

One measurement per dataset (the COLLAB-sized run takes most of an hour); `gram_speed.py` gives
medians of repeats on the smaller sets.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_GNTK, DATA_DIR, RESULTS, load_dataset, write_csv

TARGETS = {"IMDBBINARY": 10.0, "NCI1": 300.0, "COLLAB": 3600.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="IMDBBINARY,NCI1,COLLAB")
    ap.add_argument("--data-dir", default=str(DATA_DIR))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "gram_targets.csv"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_measure(args.worker, args.data_dir, args.threads)))
        return 0

    rows = []
    for name in args.datasets.split(","):
        cmd = [sys.executable, __file__, "--worker", name, "--data-dir", args.data_dir, "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["target_seconds"] = TARGETS.get(name)
        row["met"] = row["target_seconds"] is None or row["seconds"] < row["target_seconds"]
        rows.append(row)
        write_csv(rows, Path(args.out))  # after each dataset: an interrupted run keeps what it measured
        print(f"{name:>11}: {row['graphs']} graphs, {row['seconds']:.1f} s (target {row['target_seconds']} s), "
              f"{row['node_pairs_per_s']:.3g} node pairs/s, peak RSS {row['peak_rss_gb']:.2f} GB, "
              f"{row['threads']} threads", flush=True)

    print(f"wrote {args.out}")
    return 0


def _measure(name: str, data_dir: str, threads: int) -> dict:
    import torch

    from fastgnn import GNTK, environment

    torch.set_num_threads(threads)
    data = load_dataset(name, data_dir)
    sizes = [g.num_nodes for g in data.graphs]
    est = GNTK(**BENCH_GNTK, progress=False)
    t0 = time.perf_counter()
    gram = est.fit_transform(data)
    seconds = time.perf_counter() - t0
    total = sum(sizes)
    return {
        "dataset": name, "graphs": len(sizes), "nodes": total, "seconds": seconds,
        "node_pairs_per_s": total * (total + 1) / 2 / seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "threads": threads, "finite": bool(torch.isfinite(torch.as_tensor(gram)).all()),
        "machine": environment.describe(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
