"""ogbg-molhiv's exact GNTK Gram on colour pairs (issues 21 and 23): counted cost, time, peak memory, a check.

The real molecules (``fastgnn.datasets.load("ogbg-molhiv")``, 41,127 graphs, OGB's featurisation), then:

1. **the count** (issue 21's "put the counted cost into the benchmark"): the dataset's WL colours per depth
   ``C_l``, node pairs against colour pairs, the plan of :mod:`fastgnn.gntk.colour_blocks` for
   ``--max-memory`` (held depth, rows per block, recomputed support entries), the counted multiply-adds;
2. **the Gram**: ``GNTK(num_layers, num_mlp_layers, jk, uniform, dtype, colour_pairs=True)
   .fit_transform_to_disk(graphs, --out-dir, readouts=False)``: Σ_l K_l summed straight from the colour
   pairs into one ``n × n`` float64 memory map (13.5 GB for all graphs), raw; the seconds of
   the fit (colour classes of each graph), of the colours, of the kernel; peak resident memory
   (``/proc/self/status`` sampled every 0.2 s): private (``RssAnon + RssShmem``: the Gram summed in RAM is a
   shared anonymous map, counted in ``RssShmem``) and file-backed (``RssFile``: the memory map's pages,
   written back by the OS as it pleases and reclaimable);
3. **a check** against the node-pair engine in float64 on ``--check`` graphs sampled at random (their
   Gram against themselves, the max relative error);
With ``--checkpoint-dir`` (each finished piece saved there, a killed run resumed from them) or ``--workers N``
(the pieces as tasks on a Dask LocalCluster of N single-threaded workers) the Gram runs in pieces: shares of
the triangle's row blocks (:mod:`fastgnn.gntk.colour_shares`, the default since session 17), or with
``--pieces bands`` bands of graphs (:mod:`fastgnn.gntk.colour_bands`, what the GNTK runs where the workers are
on other machines); the peak memory is then also summed over the worker
processes (``RssAnon`` of the whole process tree).

4. with ``--svm``: :func:`fastgnn.model_selection.holdout.holdout` on the precomputed Gram (``SVC``, cosine,
   class weight balanced, C on ``--svm-c``) under OGB's protocol, valid and test ROC-AUC.

Writes ``--out``.json and ``--out``_run.txt.  Run in the background, e.g.::

    nohup .venv/bin/python benchmarks/molhiv_exact.py --out-dir runs/molhiv_exact \\
        --out benchmarks/results/molhiv_exact > runs/molhiv_exact.log 2>&1 &
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from pathlib import Path

import numpy as np
from common import REPO, RESULTS, command_line, header_lines

MOLHIV_DIR = REPO.parent / "shared" / "datasets"


class PeakMemory:
    """The process's peak private memory ``RssAnon + RssShmem`` (``private``: a shared anonymous ``mmap``, such as
    :func:`fastgnn.gntk.outofcore.lazy_zeros`, counts in ``RssShmem``) and ``RssFile`` (bytes), sampled from
    ``/proc/self/status``, and the peak of the private memory summed over the process and its descendants
    (Dask's workers), ``tree``.  (Before session 14 this was ``anon``, ``RssAnon`` alone, and ``RssShmem`` counted as
    file: the molhiv results up to then understate private memory by the Gram's shared pages.)"""

    def __init__(self, every: float = 0.2):
        self.every, self.private, self.file, self.tree = every, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        fields = {}
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    fields[key] = int(value.split()[0]) * 1024
        private = fields.get("RssAnon", 0) + fields.get("RssShmem", 0)
        self.private = max(self.private, private)
        self.file = max(self.file, fields.get("RssFile", 0))
        self.tree = max(self.tree, private + _children_private())

    def _run(self):
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def _children_private() -> int:
    """``RssAnon + RssShmem`` (bytes) summed over this process's descendants."""
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/status") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num-layers", type=int, default=4)
    p.add_argument("--num-mlp-layers", type=int, default=2)
    p.add_argument("--dtype", default="float32", choices=("float64", "float32"))
    p.add_argument("--max-memory", default="5GB", help="the GNTK's max_memory (the Gram's map is outside it)")
    p.add_argument("--graphs", type=int, default=None, help="the first N graphs only (a quick try)")
    p.add_argument("--check", type=int, default=40, help="graphs checked against the node-pair engine (0: none)")
    p.add_argument("--svm", action="store_true", help="also run OGB's holdout with an SVC on the Gram")
    p.add_argument("--svm-c", default="0.1,1,10", help="C values the holdout tries")
    p.add_argument("--svm-norms", default="cosine", help="the Gram's normalisations the holdout tries (raw,cosine)")
    p.add_argument("--svm-only", action="store_true",
                   help="no kernel: the holdout on --out-dir/gram.npy that an earlier run of this script wrote "
                        "(its settings in --out.json); writes --out_svm.json")
    p.add_argument("--checkpoint-dir", default=None, help="save each finished piece of the Gram here (resumable)")
    p.add_argument("--workers", type=int, default=0, help="run the pieces on a Dask LocalCluster of N workers")
    p.add_argument("--pieces", default="shares", choices=("shares", "bands"),
                   help="with --checkpoint-dir or --workers: shares of the triangle (the GNTK's choice on one "
                        "machine) or bands of graphs (its choice for workers on other machines)")
    p.add_argument("--data-dir", default=str(MOLHIV_DIR))
    p.add_argument("--out-dir", default=str(REPO / "runs" / "molhiv_exact"), help="where gram.npy goes")
    p.add_argument("--out", default=str(RESULTS / "molhiv_exact"))
    args = p.parse_args()

    import torch

    from fastgnn import budget, datasets
    from fastgnn.gntk import GNTK, colour_blocks, colour_pairs

    report: dict = {"command": command_line(), "header": header_lines(), "settings": vars(args), "seconds": {}}
    sec = report["seconds"]
    t0 = time.perf_counter()
    data = datasets.load("ogbg-molhiv", root=args.data_dir, cache_dir=REPO / "runs" / "datasets", progress=False)
    sec["load"] = time.perf_counter() - t0
    if args.svm_only:
        gram = np.load(f"{args.out_dir}/gram.npy", mmap_mode="r")
        if gram.shape != (len(data), len(data)):
            raise SystemExit(f"{args.out_dir}/gram.npy is {gram.shape}, not the whole dataset's Gram")
        report["holdout"] = _holdout(gram, data, args, sec)
        _write(report, f"{args.out}_svm")
        return
    graphs = list(data.graphs[: args.graphs] if args.graphs else data.graphs)
    n = len(graphs)
    print(f"ogbg-molhiv: {n} graphs (loaded in {sec['load']:.1f} s)", flush=True)

    kernel = GNTK(num_layers=args.num_layers, num_mlp_layers=args.num_mlp_layers, jk=True, scale="uniform",
                  dtype=args.dtype, colour_pairs=True, max_memory=args.max_memory, progress=True)
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    itemsize = 4 if args.dtype == "float32" else 8
    depth = args.num_layers - 1

    # 1. the count
    t0 = time.perf_counter()
    cols = colour_pairs.dataset_colours(graphs, depth, "uniform", dtype)
    sec["colours"] = time.perf_counter() - t0
    sizes = cols.sizes
    have = budget.resolve(args.max_memory, "cpu")
    held = colour_blocks.plan_held(sizes, depth, itemsize, have, n, in_memory=False)
    counts, _ = colour_blocks.renumbered_counts(cols, held, depth)
    rows = {d: colour_blocks.block_rows(sizes, d, held, itemsize, n, have, in_memory=False)
            for d in range(held + 1, depth + 1)}
    recomputed = colour_blocks.recomputed_pairs(counts, sizes, depth, held, lambda d: rows[d])
    node_pairs = cols.node_pairs()
    report["count"] = {
        "graphs": n, "nodes": int(cols.graph_of.shape[0]), "colours": sizes, "node_pairs": node_pairs,
        "colour_pairs": [c * (c + 1) // 2 for c in sizes],
        "node_over_colour_pairs": [round(node_pairs / max(c * (c + 1) / 2, 1), 1) for c in sizes],
        "held_depth": held, "rows_per_block": rows, "recomputed_support_entries": recomputed,
        "blocked_pairs": sum(sizes[d] * (sizes[d] + 1) // 2 for d in range(held + 1, depth + 1)),
        "counted_multiply_adds": colour_pairs.colour_pair_flops(cols, depth, args.num_mlp_layers, 20.0,
                                                                itemsize=itemsize, max_bytes=have, in_memory=False),
        "budget_bytes": have}
    print(json.dumps(report["count"]), flush=True)

    # 2. the Gram
    with contextlib.ExitStack() as stack:
        if args.pieces == "bands":  # as on workers of other machines
            GNTK._by_shares = lambda self: False
        if args.checkpoint_dir:
            kernel.set_params(checkpoint_dir=args.checkpoint_dir)
            report["pieces_saved_at_start"] = len(list(Path(args.checkpoint_dir).glob(
                "bands-*/band-*.npz" if args.pieces == "bands" else "shares-*/share-*.npz")))
        if args.workers:
            from fastgnn.distributed import cluster_client

            client = stack.enter_context(cluster_client(workers=args.workers))
            sec["cluster_start"] = client.startup_seconds
            kernel.set_params(executor="dask")
        with PeakMemory() as peak:
            t0 = time.perf_counter()
            disk = kernel.fit_transform_to_disk(graphs, args.out_dir, readouts=False)
            sec["fit_transform_to_disk"] = time.perf_counter() - t0
    sec["kernel"] = kernel.time_
    report["memory"] = {"peak_rss_private_gb": round(peak.private / 1e9, 2),
                        "peak_rss_file_gb": round(peak.file / 1e9, 2),
                        "peak_rss_private_with_workers_gb": round(peak.tree / 1e9, 2),
                        "gram_file_gb": round(disk.gram.nbytes / 1e9, 2)}
    print(f"Gram {n} x {n} in {sec['fit_transform_to_disk']:.0f} s (kernel {sec['kernel']:.0f} s); "
          f"{report['memory']}", flush=True)

    # 3. the check
    if args.check:
        pick = np.sort(np.random.default_rng(0).choice(n, min(args.check, n), replace=False))
        ref = GNTK(num_layers=args.num_layers, num_mlp_layers=args.num_mlp_layers, jk=True, scale="uniform",
                   colour_pairs=False, progress=False).fit_transform([graphs[i] for i in pick])
        got = np.asarray(disk.gram[np.ix_(pick, pick)])
        report["check"] = {"graphs": len(pick), "max_rel_err_vs_node_engine_float64":
                           float(np.max(np.abs(got - ref) / np.abs(ref)))}
        print(report["check"], flush=True)

    # 4. the holdout
    if args.svm and not args.graphs:
        report["holdout"] = _holdout(disk.gram, data, args, sec)
    _write(report, args.out)


def _holdout(gram, data, args, sec) -> dict:
    """OGB's protocol on the precomputed Gram: C and the normalisation on valid by ROC-AUC, test once."""
    from fastgnn.model_selection.holdout import holdout

    t0 = time.perf_counter()
    res = holdout(gram, data.y, data.split, precomputed=True, normalizations=tuple(args.svm_norms.split(",")),
                  class_weights=("balanced",), C_grid=[float(c) for c in args.svm_c.split(",")])
    sec["holdout"] = time.perf_counter() - t0
    found = {"valid_rocauc": round(100 * res.valid, 2), "test_rocauc": round(100 * res.test, 2),
             "choice": {k: str(v) for k, v in res.choice.items()}, "sizes": res.sizes,
             "valid_curves": {f"{nm}/{cw}": [round(100 * float(v), 2) for v in curve]
                              for (nm, cw), curve in res.curves.items()},
             "C_grid": [float(c) for c in res.C_grid]}
    print(found, flush=True)
    return found


def _write(report: dict, out) -> None:
    from fastgnn.io import atomic_path

    with atomic_path(Path(f"{out}.json"), ".json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, default=str))
    lines = [*report["header"], f"command: {report['command']}",
             *(json.dumps(report[k])
               for k in ("count", "pieces_saved_at_start", "seconds", "memory", "check", "holdout") if k in report)]
    with atomic_path(Path(f"{out}_run.txt"), ".txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}.json and {out}_run.txt")


if __name__ == "__main__":
    main()
