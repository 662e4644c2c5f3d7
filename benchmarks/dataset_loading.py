"""The first and the second ``datasets.load`` of the large sets: parse, binary cache, peak memory (issue 22.2).

For each dataset (default COLLAB, REDDIT-BINARY, DD, read from ``../shared/datasets/tu/NAME.zip``), two fresh
Python processes load it one after the other into one new, empty cache folder: the first extracts the
archive into the cache, parses the GIN text (vectorised) and writes the binary cache; the second reads the
binary cache (checked against its SHA-256 digest).  Each process reports the seconds of the ``load`` call
(wall and CPU), its peak resident memory (``ru_maxrss``) and its resident memory just before the call
(the interpreter, NumPy, torch: what any process holds), so that ``peak - before`` is what loading took.
The targets (issue 22): COLLAB's 84 MB parsed in under 10 s on 2 cores, a second load under 2 s, peak
memory while loading under 2 GB.

Also, in one more process, COLLAB's text alone through the parser (``read_gin_packed``), without the
archive or the node features, with its own peak (the text, its tokens and the edge arrays).

    .venv/bin/python benchmarks/dataset_loading.py                    # COLLAB, REDDIT-BINARY, DD
    .venv/bin/python benchmarks/dataset_loading.py --datasets DD --repeats 3

On a shared machine the wall times follow the load average (printed with every row): the CPU seconds are
the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DATA_DIR, RESULTS, command_line, header_lines, load_average, write_results

DATASETS = ["COLLAB", "REDDIT-BINARY", "DD"]

#: what a child process runs: one load (or one parse), timed, with its memory
CHILD = r"""
import json, os, resource, sys, time
import torch
torch.set_num_threads(int(sys.argv[5]))
from fastgnn import datasets
from fastgnn.datasets.gin import read_gin_packed

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

mode, name, root, cache = sys.argv[1:5]
before = rss_mb()
wall, cpu = time.perf_counter(), time.process_time()
if mode == "parse":
    out = read_gin_packed(root)
    what = {"graphs": len(out), "directed_edges": int(out.edge_counts.sum())}
else:
    ds = datasets.load(name, root=root, cache_dir=cache, download=False, progress=False)
    what = {"graphs": len(ds), "features": ds.num_features}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "rss_before_mb": before, "peak_rss_mb": peak, **what}))
"""


def child(mode: str, name: str, root, cache, threads: int) -> dict:
    """Run :data:`CHILD` in a fresh interpreter; its JSON line as a dict."""
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, name, str(root), str(cache), str(threads)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--repeats", type=int, default=1, help="second loads per dataset (each in a new process)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in the loading processes")
    p.add_argument("--out", default=str(RESULTS / "dataset_loading"))
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastgnn-load-bench-") as tmp:
        for name in args.datasets.split(","):
            if not (data_dir / f"{name}.zip").is_file() and not (data_dir / name / f"{name}.txt").is_file():
                print(f"{name}: skipped, neither {name}.zip nor {name}/{name}.txt under {data_dir}", flush=True)
                continue
            cache = Path(tmp) / name
            loads = [("first", child("load", name, data_dir, cache, args.threads))]
            loads += [("second", child("load", name, data_dir, cache, args.threads)) for _ in range(args.repeats)]
            for kind, r in loads:
                row = {"dataset": name, "load": kind, **r, "load_peak_mb": r["peak_rss_mb"] - r["rss_before_mb"],
                       "load_average": load_average()}
                rows.append(row)
                print(row, flush=True)
            if name == "COLLAB":
                (text,) = (cache / "archives").rglob("COLLAB.txt")
                r = child("parse", name, text, cache, args.threads)
                row = {"dataset": name, "load": "parse text only", **r,
                       "load_peak_mb": r["peak_rss_mb"] - r["rss_before_mb"], "load_average": load_average()}
                rows.append(row)
                print(row, flush=True)
    lines = [*header_lines(args.threads), f"command: {command_line()}",
             "targets (issue 22.2): COLLAB's first load (its 84 MB text parsed) under 10 s on 2 cores, the second "
             "under 2 s, peak memory while loading under 2 GB.  Every process is single-threaded: on an idle machine "
             "its wall time is its CPU time; above 2, the load average stretches the wall time by about load / 2.",
             "",
             "dataset        load             wall s   cpu s  RSS before  peak RSS  peak-before (MB)  load avg"]
    for r in rows:
        lines.append(f"{r['dataset']:<14} {r['load']:<15} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
                     f"{r['rss_before_mb']:10.0f} {r['peak_rss_mb']:9.0f} {r['load_peak_mb']:17.0f}  "
                     f"{r['load_average']}")
    print("\n".join(lines))
    fields = ["dataset", "load", "wall_s", "cpu_s", "rss_before_mb", "peak_rss_mb", "load_peak_mb", "graphs",
              "features", "directed_edges", "load_average"]
    rows = [{f: r.get(f) for f in fields} for r in rows]
    write_results(rows, lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
