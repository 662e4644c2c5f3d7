"""Old against new: no speed regression from issue 20's redesign, measured on two source trees side by side.

Issue 20 asks that ``benchmarks/gram_speed.py`` and ``benchmarks/model_selection.py`` lose no speed: the
median of at least 5 interleaved repeats of the old and the new code within 5 %, or within the repeats'
spread, whichever is larger.  This script times their measured quantities on two source trees, OLD
(``--old-src``, e.g. a git worktree of main before the redesign) and NEW (``--new-src``, this
checkout's ``src/``):

* ``gram``: ``GNTK(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True).fit_transform(graphs)`` (colour
  classes on, GNTK's default: ``gram_speed.py``'s "compressed CPU" column) on MUTAG, PTC, IMDBBINARY and a
  seeded random ``--proteins-graphs`` of PROTEINS' graphs;
* ``gram-nodes``: the same with ``compress=False`` (``gram_speed.py``'s "batched CPU" column, its main table);
* ``svm-paper`` and ``svm-nested``: ``svm_cv(gram, y, folds, protocol=..., n_jobs=--threads)`` (120 values
  of C, raw and cosine, the path solver: ``model_selection.py``'s measured call) on MUTAG and PTC, and
  ``svm-paper`` on IMDBBINARY, each on its Gram at ``model_selection.py``'s configuration
  (``common.CONFIGS``), computed once by NEW into a temporary ``.npy`` that both trees read.

Every measurement is a fresh process ``python redesign_speed.py --worker SPEC`` with
``PYTHONPATH=<tree>`` (it reports ``fastgnn.__file__``, checked to lie in that tree), so each tree
imports its own ``fastgnn``; inside it the dataset is loaded, the workload runs once untimed (the
compiled kernels are loaded, numba's caches are per tree and per process) and once timed: only the
timed call counts (``fit_transform`` or ``svm_cv``; not the process start nor the loading).  Per
workload a warm-up process runs for each tree first (numba compiles into the tree's cache there), then
``--repeats`` rounds of (old, new), alternating.  Each process also returns a digest of its result (the
Gram's bytes; the fold accuracies, chosen C and normalisation), so the summary says whether both trees
computed the same thing.

Writes ``--out``.csv (workload, tree, repeat, seconds, result) and ``--out``.md: the command, the
machine, both trees' commits and load averages, then per workload the median seconds of each tree,
new / old, each side's spread ((max - min) / median of its repeats) and the verdict: "within 5 % or
spread" when new / old - 1 <= max(5 %, both spreads), else "SLOWER".  Exits 1 when a workload is SLOWER.

    .venv/bin/python benchmarks/redesign_speed.py --old-src /tmp/base/src             # the full comparison
    .venv/bin/python benchmarks/redesign_speed.py --old-src /tmp/base/src --datasets MUTAG --repeats 1 \\
        --out /tmp/redesign_speed                                                       # a smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import (
    BENCH_GNTK,
    DATA_DIR,
    REPO,
    RESULTS,
    command_line,
    commit_line,
    config_gram,
    load_average,
    load_dataset,
    machine_line,
    spread,
    subset_indices,
    write_csv,
)

#: (kind, dataset) of the comparison, in the order they run.
WORKLOADS = [
    *(("gram", name) for name in ("MUTAG", "PTC", "IMDBBINARY", "PROTEINS")),
    *(("gram-nodes", name) for name in ("MUTAG", "PTC", "IMDBBINARY", "PROTEINS")),
    *((f"svm-{protocol}", name) for name in ("MUTAG", "PTC") for protocol in ("paper", "nested")),
    ("svm-paper", "IMDBBINARY"),
]
KINDS = list(dict.fromkeys(kind for kind, _ in WORKLOADS))
TOLERANCE = 0.05
FIELDS = ["workload", "tree", "repeat", "seconds", "result"]
_SEEN: set = set()  # (tree, message) of the DeprecationWarnings already printed


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    trees = {"old": Path(args.old_src).resolve(), "new": Path(args.new_src).resolve()}
    for tree, src in trees.items():
        if not (src / "fastgnn" / "__init__.py").is_file():
            raise SystemExit(f"--{tree}-src {src}: no fastgnn/__init__.py there")
    names = [s.strip() for s in args.datasets.split(",") if s.strip()]
    kinds = [s.strip() for s in args.workloads.split(",") if s.strip()]
    if not set(kinds) <= set(KINDS):
        raise SystemExit(f"--workloads: expected a subset of {','.join(KINDS)}, got {args.workloads!r}")
    workloads = [(kind, name) for kind, name in WORKLOADS if kind in kinds and name in names]
    header = [f"command: {command_line()}",
              machine_line(args.threads),
              f"old: {trees['old']} at {commit_line(trees['old'].parent)}",
              f"new: {trees['new']} at {commit_line(trees['new'].parent)}",
              f"started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load_average()}",
              f"{args.repeats} rounds of (old, new) per workload after a warm-up process of each; "
              f"{args.threads} torch threads (svm_cv: n_jobs={args.threads}); PROTEINS: "
              f"{args.proteins_graphs} graphs (seeded)"]
    print("\n".join(header), flush=True)

    rows, out = [], Path(args.out)
    with tempfile.TemporaryDirectory(prefix="redesign_speed_") as tmp:
        grams = {}  # dataset -> the .npy both trees' svm_cv read
        for kind, name in workloads:
            spec = {"kind": kind, "dataset": name, "threads": args.threads, "data_dir": str(args.data_dir),
                    "graphs": args.proteins_graphs if name == "PROTEINS" else None}
            if kind.startswith("svm"):
                if name not in grams:
                    grams[name] = str(Path(tmp) / f"{name}.npy")
                    run_child(trees["new"], dict(spec, kind="save-gram", gram_path=grams[name]))
                spec["gram_path"] = grams[name]
            workload = f"{kind} {name}"
            for tree in trees:  # numba's caches are per tree: each compiles (or loads) here
                got = run_child(trees[tree], spec)
                print(f"{workload:>22} {tree} warm-up: {got['seconds']:.4g} s (in-process warm-up "
                      f"{got['warmup_seconds']:.4g} s)", flush=True)
            for r in range(1, args.repeats + 1):
                for tree in trees:
                    got = run_child(trees[tree], spec)
                    rows.append({"workload": workload, "tree": tree, "repeat": r, "seconds": got["seconds"],
                                 "result": got["result"]})
                    print(f"{workload:>22} {tree} round {r}: {got['seconds']:.4g} s", flush=True)
                write_csv(rows, out.with_suffix(".csv"), FIELDS)  # after every round: a long run keeps its rows
    header.append(f"finished {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; "
                  f"load average {load_average()}")
    table, slower = summary(rows)
    text = "\n".join(["# Old against new: issue 20's speed check", "", "```", *header, "```", "", *table, "",
                      f"spread: (max - min) / median of a side's repeats; verdict: new / old - 1 <= max("
                      f"{TOLERANCE:.0%}, both spreads); same result: every process of both trees returned "
                      "the same digest (Gram bytes; fold accuracies, chosen C and normalisation)", ""])
    from fastgnn.io import save_text

    save_text(out.with_suffix(".md"), text)
    print("\n" + "\n".join(table))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}")
    return 1 if slower else 0


def summary(rows: list[dict]) -> tuple[list[str], bool]:
    """The Markdown table of medians, ratios, spreads and verdicts; whether a workload was SLOWER."""
    lines = ["| workload | old s (median) | new s (median) | new / old | spread old | spread new | verdict | "
             "same result |", "|---|---:|---:|---:|---:|---:|---|---|"]
    slower = False
    for workload in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == workload]
        times = {t: [r["seconds"] for r in mine if r["tree"] == t] for t in ("old", "new")}
        med = {t: statistics.median(v) for t, v in times.items()}
        spreads = {t: spread(v) for t, v in times.items()}
        ratio = med["new"] / med["old"]
        ok = ratio - 1 <= max(TOLERANCE, *spreads.values())
        slower |= not ok
        same = len({r["result"] for r in mine}) == 1
        lines.append(f"| {workload} | {med['old']:.4g} | {med['new']:.4g} | {ratio:.3f} | {spreads['old']:.1%} | "
                     f"{spreads['new']:.1%} | {'within 5 % or spread' if ok else 'SLOWER'} | "
                     f"{'yes' if same else 'NO'} |")
    return lines, slower


def run_child(src: Path, spec: dict) -> dict:
    """Run :func:`worker` on ``spec`` in a fresh interpreter importing ``fastgnn`` from ``src``; its report."""
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"worker failed (exit {done.returncode}) on {src} for {spec}:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(got["fastgnn"]).resolve().is_relative_to(src):
        raise SystemExit(f"the worker for {src} imported fastgnn from {got['fastgnn']}")
    for message in got["deprecations"]:
        if (src, message) not in _SEEN:  # each once per run
            _SEEN.add((src, message))
            print(f"  DeprecationWarning in {src}: {message}", flush=True)
    return got


# --------------------------------------------------------------------------- in the child process


def worker(spec: dict) -> dict:
    """Load the workload's data, run it once untimed and once timed; the seconds, a digest of the result,
    where ``fastgnn`` came from and the DeprecationWarnings seen."""
    import numpy as np
    import torch

    import fastgnn

    torch.set_num_threads(spec["threads"])
    data = load_dataset(spec["dataset"], spec["data_dir"])
    if spec["kind"] == "save-gram":
        np.save(spec["gram_path"], config_gram(spec["dataset"], data))
        return {"seconds": 0.0, "warmup_seconds": 0.0, "result": "", "fastgnn": fastgnn.__file__,
                "deprecations": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        run = _gram_run(spec, data) if spec["kind"].startswith("gram") else _svm_run(spec, data)
        t0 = time.perf_counter()
        run()
        warmup = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "warmup_seconds": warmup, "result": result, "fastgnn": fastgnn.__file__,
            "deprecations": sorted({str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)})}


def _gram_run(spec: dict, data):
    """``fit_transform`` of the benchmark GNTK on the graphs (a seeded subset when ``spec["graphs"]``)."""
    from fastgnn import GNTK

    graphs = [data.graphs[i] for i in subset_indices(len(data.graphs), spec["graphs"])]
    config = dict(BENCH_GNTK, progress=False, **({"compress": False} if spec["kind"] == "gram-nodes" else {}))

    def run() -> str:
        gram = GNTK(**config).fit_transform(graphs)
        return hashlib.sha1(gram.tobytes()).hexdigest()[:12]

    return run


def _svm_run(spec: dict, data):
    """``svm_cv`` with the workload's protocol on the saved Gram."""
    import numpy as np

    from fastgnn.evaluate import svm_cv

    gram = np.load(spec["gram_path"])
    protocol = spec["kind"].removeprefix("svm-")

    def run() -> str:
        res = svm_cv(gram, data.y, data.folds, protocol=protocol, n_jobs=spec["threads"])
        digest = hashlib.sha1(np.asarray(res.fold_accuracies, dtype=np.float64).tobytes())
        digest.update(np.asarray(res.C, dtype=np.float64).tobytes())
        digest.update(" ".join(map(str, np.atleast_1d(res.normalization))).encode())
        return digest.hexdigest()[:12]

    return run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--old-src", default="/tmp/base/src", help="the old tree's src/ (holding fastgnn/)")
    p.add_argument("--new-src", default=str(REPO / "src"), help="the new tree's src/")
    p.add_argument("--repeats", type=int, default=5, help="rounds of (old, new) per workload")
    p.add_argument("--datasets", default="MUTAG,PTC,IMDBBINARY,PROTEINS", help="comma-separated subset")
    p.add_argument("--workloads", default=",".join(KINDS), help="comma-separated subset")
    p.add_argument("--proteins-graphs", type=int, default=400, help="PROTEINS graphs timed (seeded random)")
    p.add_argument("--threads", type=int, default=2, help="torch threads, and svm_cv's n_jobs")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=str(RESULTS / "redesign_speed"),
                   help="output path without suffix: writes OUT.csv and OUT.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
