"""The whole GNTK Gram on real large graphs: COLLAB, REDDIT-BINARY and DD (issue 22, point 3).

Per dataset (``fastgnn.datasets.load(NAME, root=--data-dir)``: the zips of ``../shared/datasets/tu``, the
papers' node features as the dataset table gives them), optionally a random ``--sample N`` of its graphs:

* **fastgnn's whole Gram** ``GNTK(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True)``
  (``common.BENCH_GNTK``; every other parameter at its default: float64, ``compress="auto"``,
  ``colour_pairs="auto"``), ``fit_transform`` once, progress bar on stderr: wall seconds (the
  preparation, i.e. colour classes and self-diagonals, and the Gram apart), CPU seconds of the
  process (all threads: on a shared machine, CPU seconds / threads is what a quiet machine would take),
  node pairs ``Σ_{i<=j} N_i N_j`` and row pairs (colour classes) per second, and the peak resident
  memory: sampled every 0.1 s from ``/proc/self/status`` while the kernel runs, and the process's
  lifetime maximum (``ru_maxrss``, the data loading included).  ``--checkpoint-dir`` runs it with
  checkpoints (resumable; the colour-pair engine then does not run).
* **The per-pair decoupled algorithm** (``method="decoupled"``: the matrix-decoupling paper's
  ``A_G Σ A_Hᵀ`` per graph pair, on nodes, one thread) on ``--pairs`` (200) graph pairs ``i <= j``
  drawn uniformly (seeded): seconds per pair, and the whole Gram **extrapolated** as seconds per pair ×
  n(n+1)/2 / 2 cores, labelled as such; its values on those pairs are checked against fastgnn's Gram
  (largest relative difference).
* **Colour classes exact**: ``--check`` (30) of the graphs computed on nodes (``compress=False``,
  ``colour_pairs=False``) against the Gram's entries (largest relative difference: summation order only).

Writes ``--out``.csv (a row per dataset) and ``--out``.md (command, machine, commit, load averages, the
targets of issue 22 and the table), default ``results/real_graphs`` (``results/real_graphs_sample<N>``
with ``--sample``), after each dataset.  Whole sets take tens of minutes on 2 cores: run them with nohup.

    .venv/bin/python benchmarks/real_graphs.py --datasets COLLAB --sample 300      # a quick run
    nohup .venv/bin/python benchmarks/real_graphs.py --datasets COLLAB > /tmp/collab.log 2>&1 &
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import threading
import time
from pathlib import Path

from common import (
    BENCH_GNTK,
    DATA_DIR,
    GRAM_CACHE,
    RESULTS,
    command_line,
    header_lines,
    load_average,
    subset_indices,
    write_csv,
)

NAMES = ["COLLAB", "REDDIT-BINARY", "DD"]
#: issue 22's targets on the 2-core development machine: whole Gram seconds, and peak memory
TARGET_SECONDS = {"COLLAB": 15 * 60, "REDDIT-BINARY": 45 * 60, "DD": 60 * 60}
TARGET_PEAK_GB = 8.0
FIELDS = ["dataset", "graphs", "sample", "nodes", "rows", "node_pairs", "row_pairs", "engine", "load_s",
          "prepare_s", "gram_s", "total_s", "target_s", "cpu_s", "cpu_s_per_thread", "node_pairs_per_s",
          "row_pairs_per_s", "peak_rss_gb", "max_rss_gb", "threads", "decoupled_pairs", "decoupled_s_per_pair",
          "decoupled_whole_s_extrapolated", "ratio", "decoupled_max_rel_diff", "uncompressed_max_rel_diff",
          "load_before", "load_after"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder of the datasets (NAME.zip or NAME/)")
    parser.add_argument("--sample", type=int, default=None, help="a random sample of N graphs (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=200, help="graph pairs timed by method='decoupled' (0: none)")
    parser.add_argument("--check", type=int, default=30,
                        help="graphs computed on nodes (uncompressed) and compared with the Gram (0: none)")
    parser.add_argument("--save-gram", default=str(GRAM_CACHE),
                        help="folder to keep the Gram in, for later scripts (benchmarks/sketch_large.py); '': not kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-dir", default=None, help="run the Gram with checkpoints in this folder")
    parser.add_argument("--gram-from", default=None,
                        help="read each Gram from DIR/NAME/gram.npy (fastgnn gntk NAME --out DIR/NAME) with its "
                             "kernel seconds from gntk.json, instead of computing it (the peak RSS then from "
                             "DIR/NAME.json's peak_rss_gb_children, when a runner wrote one)")
    parser.add_argument("--out", default=None, help="output path without suffix")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    default = "real_graphs" if args.sample is None else f"real_graphs_sample{args.sample}"
    out = Path(args.out) if args.out else RESULTS / default
    header = [f"command: {command_line()}", *header_lines(),
              f"started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average {load_average()}"]
    print("\n".join(header), flush=True)
    rows = []
    for name in args.datasets:
        rows.append(measure(name, args))
        write_csv(rows, out.with_suffix(".csv"), FIELDS)  # after each dataset: an interrupted run keeps its rows
        write_markdown(out.with_suffix(".md"), header, rows, args)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}", flush=True)
    return 0


def measure(name: str, args) -> dict:
    """One dataset's row of the table (see the module docstring)."""
    import numpy as np
    import torch

    from fastgnn import GNTK, datasets

    t0 = time.perf_counter()
    data = datasets.load(name, root=args.data_dir, progress=False)
    load_s = time.perf_counter() - t0
    graphs = list(data)
    idx = subset_indices(len(graphs), args.sample, args.seed)
    graphs = [graphs[i] for i in idx]
    nodes = np.array([g.num_nodes for g in graphs], dtype=np.float64)
    print(f"{name}: {len(graphs)} graphs ({nodes.sum():.0f} nodes, largest {nodes.max():.0f}) loaded in "
          f"{load_s:.1f} s", flush=True)
    kernel = GNTK(**BENCH_GNTK, progress=True, checkpoint_dir=args.checkpoint_dir)
    load_before = load_average()
    if args.gram_from:  # the Gram of an earlier `fastgnn gntk NAME --out DIR/NAME` run
        gram, total_s, cpu_s, peak_gb = _gram_from(Path(args.gram_from), name, len(graphs))
        kernel.fit(graphs)
        used = [True] if kernel._dataset_colours() is not None else []  # the engine "auto" chose
        gram_s = total_s
    else:
        with PeakRSS() as peak, _engine_used() as used:
            cpu0, t0 = time.process_time(), time.perf_counter()
            gram = kernel.fit_transform(graphs)
            total_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        gram_s, peak_gb = float(kernel.time_), peak.peak / 2**30
    if args.save_gram and not args.gram_from:
        from fastgnn.io import save_npy

        Path(args.save_gram).mkdir(parents=True, exist_ok=True)
        save_npy(Path(args.save_gram) / gram_name(name, args.sample, args.seed), gram)
    rows_per = np.array([op.num_rows for op in kernel.fitted_], dtype=np.float64)
    engine = "colour pairs" if used else _engine(kernel)
    row = {
        "dataset": name, "graphs": len(graphs), "sample": args.sample or "", "nodes": int(nodes.sum()),
        "rows": int(rows_per.sum()), "node_pairs": pairs_upper(nodes), "row_pairs": pairs_upper(rows_per),
        "engine": engine, "load_s": load_s, "prepare_s": total_s - gram_s, "gram_s": gram_s, "total_s": total_s,
        "target_s": TARGET_SECONDS[name], "cpu_s": cpu_s, "cpu_s_per_thread": cpu_s / args.threads,
        "peak_rss_gb": peak_gb, "max_rss_gb": max_rss_bytes() / 2**30, "threads": args.threads,
        "load_before": load_before, "load_after": load_average(),
    }
    row["node_pairs_per_s"] = row["node_pairs"] / total_s
    row["row_pairs_per_s"] = row["row_pairs"] / total_s
    print(f"{name}: Gram of {len(graphs)} graphs in {total_s:.1f} s (preparation {row['prepare_s']:.1f} s, "
          f"engine {engine}), {cpu_s:.0f} CPU s; {row['node_pairs']:.3g} node pairs "
          f"({row['node_pairs_per_s']:.3g}/s), peak RSS {row['peak_rss_gb']:.2f} GB", flush=True)
    if args.check:
        row["uncompressed_max_rel_diff"] = uncompressed_difference(graphs, gram, args)
        print(f"{name}: {args.check} graphs uncompressed against the Gram: max rel. diff "
              f"{row['uncompressed_max_rel_diff']:.2g}", flush=True)
    if args.pairs:
        row.update(decoupled(graphs, gram, args))
        row["ratio"] = row["decoupled_whole_s_extrapolated"] / total_s
        print(f"{name}: decoupled {row['decoupled_s_per_pair']:.4g} s per pair, whole extrapolated "
              f"{row['decoupled_whole_s_extrapolated']:.4g} s ({row['ratio']:.1f}x ours), max rel. diff "
              f"{row['decoupled_max_rel_diff']:.2g}", flush=True)
    del gram, kernel
    torch.set_num_threads(args.threads)
    return row


def _gram_from(folder: Path, name: str, n: int):
    """``(gram, seconds, cpu seconds (nan), peak GB (nan if unrecorded))`` of an earlier CLI run."""
    import json

    import numpy as np

    gram = np.load(folder / name / "gram.npy")
    if gram.shape != (n, n):
        raise SystemExit(f"{folder / name / 'gram.npy'} is {gram.shape}, not the Gram of {n} graphs")
    info = json.loads((folder / name / "gntk.json").read_text())
    runner = folder / f"{name}.json"
    peak = json.loads(runner.read_text()).get("peak_rss_gb_children", float("nan")) if runner.exists() else float("nan")
    return gram, float(info["kernel_seconds"]), float("nan"), float(peak)


def uncompressed_difference(graphs, gram, args) -> float:
    """The largest relative difference between ``gram`` and the node-pair engine on nodes
    (``compress=False, colour_pairs=False``) on ``args.check`` of the graphs drawn at random (seeded): the colour
    classes are exact, so only the summation order differs."""
    import numpy as np

    from fastgnn import GNTK

    pick = subset_indices(len(graphs), args.check, args.seed + 1)
    plain = GNTK(**BENCH_GNTK, compress=False, colour_pairs=False, progress=False).fit_transform(
        [graphs[k] for k in pick])
    ref = gram[np.ix_(pick, pick)]
    return float(np.max(np.abs(plain - ref) / np.maximum(np.abs(ref), 1e-300)))


def decoupled(graphs, gram, args) -> dict:
    """``method="decoupled"`` on ``args.pairs`` pairs i <= j drawn uniformly (seeded), one thread: seconds
    per pair, the whole Gram extrapolated over 2 cores, and the largest relative difference to ``gram``."""
    import numpy as np
    import torch

    from fastgnn import GNTK
    from fastgnn.gntk.pairwise import pair_readouts
    from fastgnn.gntk.recursion import combine_readouts

    n = len(graphs)
    rng = np.random.default_rng(args.seed)
    draws = rng.choice(n * (n + 1) // 2, size=min(args.pairs, n * (n + 1) // 2), replace=False)
    i = (np.sqrt(2 * draws + 0.25) - 0.5).astype(np.int64)  # draws = i (i + 1) / 2 + j, j <= i
    i += (i + 1) * (i + 2) // 2 <= draws
    i -= i * (i + 1) // 2 > draws
    j = draws - i * (i + 1) // 2
    used = sorted(set(i.tolist()) | set(j.tolist()))
    ref = GNTK(**BENCH_GNTK, method="decoupled", compress=False, progress=False)
    ref.graphs_ = [graphs[k] for k in used]
    torch.set_num_threads(1)
    ops = dict(zip(used, ref._prepare(ref.graphs_, None)))  # nodes, not colour classes: the paper's algorithm
    worst, seconds = 0.0, 0.0
    for a, b in zip(i.tolist(), j.tolist()):
        t0 = time.perf_counter()
        parts = pair_readouts(ops[a], ops[b], method="decoupled", num_blocks=ref.num_blocks,
                              num_mlp_layers=ref.num_mlp_layers)
        seconds += time.perf_counter() - t0
        value = float(combine_readouts(parts.numpy()[:, None, None], ref.num_layers, ref.jk)[0, 0])
        worst = max(worst, abs(value - gram[a, b]) / max(abs(gram[a, b]), 1e-300))
    torch.set_num_threads(args.threads)
    per_pair = seconds / len(draws)
    return {"decoupled_pairs": len(draws), "decoupled_s_per_pair": per_pair,
            "decoupled_whole_s_extrapolated": per_pair * n * (n + 1) / 2 / 2, "decoupled_max_rel_diff": worst}


def gram_name(name: str, sample: int | None, seed: int) -> str:
    """The file name a Gram is kept under (``--save-gram``): dataset, configuration, sample."""
    return f"{name}_L4_R2_uniform_jk1{'' if sample is None else f'_sample{sample}_seed{seed}'}.npy"


def pairs_upper(sizes) -> int:
    """``Σ_{i<=j} N_i N_j``: the pairs of a symmetric Gram's upper triangle, its diagonal included."""
    s = float(sum(sizes))
    return int(round((s * s + float((sizes * sizes).sum())) / 2))


@contextlib.contextmanager
def _engine_used():
    """A list that the block's GNTK fills with True when the colour-pair engine computes its Gram (the
    estimator's call to it counted: it records no attribute saying which engine ran)."""
    from fastgnn.gntk import estimator

    used, original = [], estimator.colour_pair_readouts

    def counted(*a, **k):
        used.append(True)
        return original(*a, **k)

    estimator.colour_pair_readouts = counted
    try:
        yield used
    finally:
        estimator.colour_pair_readouts = original


def _engine(kernel) -> str:
    ops = kernel.fitted_
    compressed = sum(op.colouring is not None for op in ops)
    return f"node pairs ({compressed}/{len(ops)} graphs on colour classes)"


class PeakRSS:
    """The largest resident set size (``VmRSS`` of ``/proc/self/status``) sampled every ``interval``
    seconds while the block runs (``.peak``, bytes; 0 where ``/proc`` is absent)."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())


def rss_bytes() -> int:
    """This process's resident set size now (0 where ``/proc/self/status`` is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def max_rss_bytes() -> int:
    """The process's lifetime peak resident size (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def write_markdown(path: Path, header: list[str], rows: list[dict], args) -> None:
    from fastgnn.io import atomic_path

    lines = ["# The GNTK on real large graphs: COLLAB, REDDIT-BINARY, DD (issue 22)", "", "```", *header,
             f"finished {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average {load_average()}",
             f"fastgnn: GNTK({', '.join(f'{k}={v!r}' for k, v in BENCH_GNTK.items())}), defaults otherwise "
             f"(float64, compress='auto', colour_pairs='auto'), {args.threads} torch threads, one fit_transform",
             "decoupled: method='decoupled' (per pair, on nodes), one thread, on sampled pairs i <= j; "
             "whole = per pair x n(n+1)/2 / 2 cores, EXTRAPOLATED", "```", "",
             "| dataset | graphs | node pairs | engine | preparation s | Gram s | total s | target s | CPU s / thread "
             "| node pairs/s | peak RSS GB | decoupled s/pair | decoupled whole s (extrapolated) | ratio |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['graphs']} | {r['node_pairs']:.3g} | {r['engine']} | {r['prepare_s']:.1f} | "
            f"{r['gram_s']:.1f} | {r['total_s']:.1f} | {r['target_s'] if not r['sample'] else '-'} | "
            f"{r['cpu_s_per_thread']:.1f} | {r['node_pairs_per_s']:.3g} | {r['peak_rss_gb']:.2f} | "
            f"{_g(r.get('decoupled_s_per_pair'))} | {_g(r.get('decoupled_whole_s_extrapolated'))} | "
            f"{_g(r.get('ratio'), '.1f')} |")
    lines += ["", "total: preparation (colour classes, self-diagonals) + Gram, wall seconds on a shared machine; "
              "CPU s / thread: the process's CPU seconds over its threads, what a quiet machine would take; peak RSS: "
              "sampled while the kernel runs (the loaded data included); ratio: decoupled whole (extrapolated) / "
              f"total.  Targets (issue 22, 2 cores): COLLAB < 15 min, REDDIT-BINARY < 45 min, DD < 60 min, peak "
              f"< {TARGET_PEAK_GB:g} GB.  The CSV has the rest (row pairs, load averages, agreement)."]
    with atomic_path(Path(path), ".md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def _g(value, fmt: str = ".4g") -> str:
    return "-" if value is None or value == "" else format(value, fmt)


if __name__ == "__main__":
    sys.exit(main())
