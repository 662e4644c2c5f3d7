"""The Gram summed on colour pairs into a whole square or its upper triangle only (issue 21: ogbg-molhiv's peak memory).

``colour_pair_gram(..., upper=False)`` adds each half form to whole rows of an ``n × n`` array and symmetrises it
at the end: every page of the array is written.  ``upper=True`` folds each term onto the upper triangle as it
comes (two passes per block, the second writing down columns) and never writes the lower triangle, so a fresh
``np.zeros`` maps about half the pages.  Each mode runs in a child process of its own (``--repeats`` rounds,
interleaved), which reports the seconds of ``colour_pair_gram`` and the growth of its peak resident memory
(``VmHWM`` after ``clear_refs``, Linux) over the run; both Grams are compared entry by entry.

    .venv/bin/python benchmarks/gram_upper.py --datasets NCI1 MUTAGx100 --molhiv 4000 \
        --out benchmarks/results/gram_upper

``NAMExK`` repeats a set K times (MUTAGx100: 18,800 graphs of MUTAG's colours, a 1.3 GiB float32 Gram that
dominates the memory, as ogbg-molhiv's 6.8 GB one does).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
from common import DATA_DIR, REPO, RESULTS, command_line, header_lines, write_results

CHILD = r"""
import json, sys, time
import numpy as np, torch
from fastgnn import datasets
from fastgnn.gntk import colour_pairs
from fastgnn.gntk.outofcore import lazy_zeros
name, graphs_arg, upper, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
if name == "ogbg-molhiv":
    data = datasets.load(name, root=sys.argv[5], cache_dir=sys.argv[6], progress=False)
    graphs = data.graphs[:graphs_arg]
else:  # NAME or NAMExK: the set repeated K times (many graphs, few colours: the Gram dominates the memory)
    base, _, times = name.partition("x")
    graphs = datasets.load(base, root=sys.argv[5]).graphs * int(times or 1)
dtype = torch.float32
cols = colour_pairs.dataset_colours(graphs, 3, "uniform", dtype)
n = len(graphs)
warm = colour_pairs.dataset_colours(graphs[:50], 3, "uniform", dtype)  # numba compiled first
colour_pairs.colour_pair_gram(warm, 3, 2, np.zeros((50, 50), np.float32), range(4), dtype=dtype, upper=upper)
def status(field):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field))
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
t0 = time.perf_counter()
into = lazy_zeros((n, n), np.float32)  # as fit_transform_to_disk allocates it
colour_pairs.colour_pair_gram(cols, 3, 2, into, range(4), dtype=dtype, max_bytes=2**30, upper=upper)
seconds = time.perf_counter() - t0
growth = status("VmHWM:") - before
if upper:
    into = np.triu(into) + np.triu(into, 1).T
np.save(out, into)
print(json.dumps({"seconds": seconds, "growth": growth, "n": n, "colours": cols.sizes}))
"""


def run(name, graphs, upper, out, args):
    cmd = [sys.executable, "-c", CHILD, name, str(graphs), "1" if upper else "0", out,
           args.molhiv_dir if name == "ogbg-molhiv" else args.data_dir, str(REPO / "runs" / "datasets")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="*", default=["NCI1"])
    p.add_argument("--molhiv", type=int, default=12000, help="the first N molecules of ogbg-molhiv (0: none)")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--molhiv-dir", default=str(REPO.parent / "shared" / "datasets"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "gram_upper"))
    args = p.parse_args()
    sets = [(name, 0) for name in args.datasets] + ([("ogbg-molhiv", args.molhiv)] if args.molhiv else [])
    rows = []
    for name, graphs in sets:
        found = {False: [], True: []}
        for _ in range(args.repeats):
            for upper in (False, True):
                found[upper].append(run(name, graphs, upper, f"/tmp/gram_upper_{int(upper)}.npy", args))
        whole, half = np.load("/tmp/gram_upper_0.npy"), np.load("/tmp/gram_upper_1.npy")
        err = float(np.abs(whole - half).max() / np.abs(whole).max())
        med = {u: (float(np.median([r["seconds"] for r in found[u]])),
                   float(np.median([r["growth"] for r in found[u]])) / 2**30) for u in found}
        row = {"dataset": name, "graphs": found[False][0]["n"], "colours": found[False][0]["colours"],
               "whole_s": round(med[False][0], 2), "upper_s": round(med[True][0], 2),
               "time_ratio": round(med[True][0] / med[False][0], 3),
               "whole_peak_gib": round(med[False][1], 3), "upper_peak_gib": round(med[True][1], 3),
               "gram_gib": round(4 * found[False][0]["n"] ** 2 / 2**30, 3), "max_rel_diff": f"{err:.2e}"}
        rows.append(row)
        print(row, flush=True)
    write_results(rows, [*header_lines(), f"command: {command_line()}",
                         "float32, L=4 R=2 jk uniform, max_memory 1 GiB; medians of --repeats interleaved runs, "
                         "each a child process; peak = VmHWM growth over colour_pair_gram"], args.out)


if __name__ == "__main__":
    main()
