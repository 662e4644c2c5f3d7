"""The whole GNTK Gram of the molhiv-like generated set, out of core, on a Dask LocalCluster (issue 13).

``fastgnn.datasets.molhiv_like()`` (20,000 molecule-like graphs, 25.5 nodes and 27.5 edges on
average; ``--graphs K`` takes a seeded random subset of K of them), at num_layers = 4,
num_mlp_layers = 2, uniform, jk, float32, colour classes on (GNTK's defaults), written by
:meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` into ``--data-out`` (``readouts.npy``
``[4, n, n]`` and ``gram.npy`` ``[n, n]``, float64 memory maps), the tiles run on
``LocalCluster(--workers x 1 thread)`` started by ``fastgnn.distributed.cluster_client`` (as
``fastgnn gntk --workers N --out-of-core`` does).  It measures:

* **total** seconds (the operands' preparation, the tiles, the Gram combined by bands), the
  **kernel** seconds (the tiles only, ``GNTK.time_``) and the cluster start-up apart;
* **throughput**: node pairs (sum over i <= j of N_i N_j) and row pairs (colour classes: what the
  tiles compute) per second, per worker;
* **peak RSS of every process**: the client (which, in a ``LocalCluster``, also runs the
  scheduler), each worker and each nanny: ``VmHWM`` from ``/proc/PID/status`` read at the end, and,
  from a sampling thread (every ``--sample`` s), the peak of ``RssAnon`` (private memory) and of
  ``RssFile`` (mapped file pages: the client's memory maps of the outputs count there, and the
  kernel can drop them any time);
* the **load average** of the machine (1-minute), sampled every ``--sample`` s: min, median, max;
* **disk**: the bytes of ``gram.npy``, ``readouts.npy`` and the checkpoint folder.

Writes ``--results``.json (figures, the command, the load series) and prints a summary.  Run the
full set in the background on a shared machine::

    nohup nice -n 15 .venv/bin/python benchmarks/molhiv_outofcore.py --graphs 20000 > log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from common import BENCH_GNTK, REPO, RESULTS, command_line


def status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/PID/status`` (``VmHWM``, ``RssAnon``, ...) in bytes, None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Every ``period`` s: the 1-minute load average, and per process of ``pids()`` its RssAnon and
    RssFile (peaks kept) and VmHWM (last seen)."""

    def __init__(self, pids, period: float):
        super().__init__(daemon=True)
        self.pids, self.period = pids, period
        self.stop = threading.Event()
        self.load: list[tuple[float, float]] = []
        self.peak: dict[int, dict] = {}
        self.t0 = time.time()

    def sample(self) -> None:
        self.load.append((round(time.time() - self.t0, 1), os.getloadavg()[0]))
        for pid, role in self.pids().items():
            p = self.peak.setdefault(pid, {"role": role, "rss_anon": 0, "rss_file": 0, "vm_hwm": 0})
            for key, field in (("rss_anon", "RssAnon"), ("rss_file", "RssFile"), ("vm_hwm", "VmHWM")):
                v = status_kb(pid, field)
                if v is not None:
                    p[key] = max(p[key], v)

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.sample()


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", type=int, default=20_000, help="a seeded random subset of this many graphs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--num-layers", type=int, default=BENCH_GNTK["num_layers"])
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--data-out", default=str(REPO.parent / "molhiv_outofcore"),
                    help="folder for gram.npy and readouts.npy (large: 40 n^2 bytes; outside the repo)")
    ap.add_argument("--checkpoint", action=argparse.BooleanOptionalAction, default=True,
                    help="checkpoint the tiles into DATA_OUT/checkpoints (a killed run resumes there)")
    ap.add_argument("--keep", action="store_true", help="keep gram.npy and readouts.npy (default: delete)")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between RSS and load samples")
    ap.add_argument("--results", default=None,
                    help="JSON file (default benchmarks/results/molhiv_outofcore_<graphs>.json)")
    args = ap.parse_args(argv)

    import psutil

    from fastgnn import environment
    from fastgnn.datasets.molhiv_like import molhiv_like
    from fastgnn.distributed import cluster_client
    from fastgnn.distributed.tiles import pack
    from fastgnn.gntk import GNTK

    results = Path(args.results or RESULTS / f"molhiv_outofcore_{args.graphs}.json")
    out = Path(args.data_out) / f"n{args.graphs}"
    command = command_line()
    t_all = time.perf_counter()
    data = molhiv_like()  # the 20,000-graph set, seed 0
    generate = time.perf_counter() - t_all
    idx = np.sort(np.random.default_rng(0).choice(len(data), args.graphs, replace=False)) \
        if args.graphs < len(data) else np.arange(len(data))
    graphs = [data.graphs[i] for i in idx]
    nodes = np.array([g.num_nodes for g in graphs], dtype=np.float64)
    node_pairs = float((nodes.sum() ** 2 + (nodes ** 2).sum()) / 2)
    print(f"molhiv-like: {len(graphs)} graphs, {nodes.mean():.2f} nodes, "
          f"{np.mean([g.num_edges / 2 for g in graphs]):.2f} edges on average, {node_pairs:.3g} node pairs; "
          f"generated in {generate:.1f} s", flush=True)
    del data

    me = psutil.Process()
    roles: dict[int, str] = {me.pid: "client+scheduler"}

    def pids() -> dict[int, str]:
        for c in me.children(recursive=True):
            if c.pid not in roles:
                try:  # a LocalCluster's nannies run in this process; its workers are children
                    cmd = " ".join(c.cmdline())
                except psutil.Error:
                    continue
                roles[c.pid] = "multiprocessing resource tracker" if "resource_tracker" in cmd else "worker"
        return roles

    worker_pids: set[int] = set()
    sampler = Sampler(pids, args.sample)
    sampler.start()
    config = dict(BENCH_GNTK, num_layers=args.num_layers)
    est = GNTK(**config,
               dtype={"float32": torch.float32, "float64": torch.float64}[args.dtype], executor="dask",
               checkpoint_dir=str(out / "checkpoints") if args.checkpoint else None, progress=True)
    with cluster_client(args.workers) as client:
        startup = client.startup_seconds
        worker_pids.update(client.run(os.getpid).values())
        for pid in worker_pids:
            roles[pid] = "worker"
        print(f"cluster start-up {startup:.1f} s: {args.workers} workers x 1 thread, pids {sorted(worker_pids)}",
              flush=True)
        t0 = time.perf_counter()
        disk = est.fit_transform_to_disk(graphs, out)
        total = time.perf_counter() - t0
        worker_hwm = {pid: status_kb(pid, "VmHWM") for pid in worker_pids}
        sampler.sample()
    sampler.stop.set()
    sampler.sample()
    ops = est.fitted_
    rows = np.array([op.num_rows for op in ops], dtype=np.float64)
    row_pairs = float((rows.sum() ** 2 + (rows ** 2).sum()) / 2)
    kernel = float(est.time_)
    diag_ok = bool(np.all(np.isfinite(np.asarray(disk.gram[:64, :64]))))
    sizes = {"gram_npy": disk.gram_path.stat().st_size, "readouts_npy": disk.readouts_path.stat().st_size,
             "checkpoints": du(out / "checkpoints")}
    operand_bytes = int(sum(v.nbytes for v in pack(ops)[0].values()))
    procs = []
    for pid, p in sampler.peak.items():
        hwm = worker_hwm.get(pid) or status_kb(pid, "VmHWM") or p["vm_hwm"]
        role = "worker" if pid in worker_pids else roles.get(pid, p["role"])
        procs.append({"pid": pid, "role": role, "vm_hwm": hwm, "rss_anon_peak": p["rss_anon"],
                      "rss_file_peak": p["rss_file"]})
    load = [v for _, v in sampler.load]
    report = {
        "command": command,
        "dataset": {"graphs": len(graphs), "avg_nodes": float(nodes.mean()), "node_pairs": node_pairs,
                    "rows": float(rows.sum()), "row_pairs": row_pairs,
                    "rows_per_node": float(rows.sum() / nodes.sum())},
        "settings": {**config,
                     "dtype": args.dtype, "workers": args.workers, "threads_per_worker": 1,
                     "checkpoint": args.checkpoint, "max_memory": "auto"},
        "seconds": {"generate_20000": generate, "cluster_startup": startup, "total": total, "kernel_tiles": kernel,
                    "prepare_and_combine": total - kernel},
        "throughput_per_worker": {"node_pairs_per_s": node_pairs / kernel / args.workers,
                                  "row_pairs_per_s": row_pairs / kernel / args.workers},
        "processes": procs,
        "disk_bytes": sizes,
        "operands_packed_bytes": operand_bytes,
        "load_average_1min": {"min": min(load), "median": float(np.median(load)), "max": max(load),
                              "series": sampler.load},
        "gram_finite": diag_ok,
        "machine": {**environment.machine(), **environment.versions()},
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    tmp = results.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    os.replace(tmp, results)
    print(json.dumps({k: v for k, v in report.items() if k != "load_average_1min"}, indent=1))
    print(f"load average (1 min): min {min(load):.2f}, median {np.median(load):.2f}, max {max(load):.2f}")
    if not args.keep:
        disk.gram_path.unlink()
        disk.readouts_path.unlink()
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    print(f"wrote {results}; all done in {time.perf_counter() - t_all:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
