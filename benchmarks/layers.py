"""Forward+backward time and peak memory per epoch of the fastgnn.nn layers against PyG's (issue 4).

For each graph — Cora and CiteSeer (public Planetoid files, when ``fastgnn.datasets.planetoid``
and ``../shared/datasets/planetoid`` are there; F_in = their feature width) and synthetic random
directed graphs of ``--sizes`` nodes (default 10⁴, 10⁵, 10⁶) with ``--degree`` (10) random
in-edges per node and F_in = 64 — and each layer, F_out = 64:

* ``fastgnn GCNConv spmm`` / ``fastgnn GCNConv scatter``: the two aggregation paths;
* ``PyG GCNConv``: ``torch_geometric.nn.GCNConv(cached=True)``;
* ``fastgnn DenseGCNConv``: dense A' [N, N] (only for N <= ``--dense-max-nodes``);
* ``fastgnn GATConv`` and ``PyG GATConv``: 8 heads of 8 channels, concatenated;
* ``fastgnn SelfAttention``: one head of 64 over all node pairs (only for N <= ``--dense-max-nodes``).

An *epoch* is one forward and one backward (``out.sum().backward()``, gradients wrt x and every
parameter, set to None before each epoch). The graph's preprocessing is done once, outside the
epoch, for every layer: fastgnn layers get a prebuilt ``normalized_adjacency`` / ``gat_graph``; PyG's
GCNConv is ``cached=True`` (warmed up), PyG's GATConv gets the self-loops added beforehand and
``add_self_loops=False``.

Each (graph, layer) point runs in its own subprocess (``--worker``), so its peak memory is its
own: after one warm-up epoch, freed memory is returned to the OS (``malloc_trim``; glibc's mmap
threshold is fixed by ``MALLOC_MMAP_THRESHOLD_`` so large blocks are unmapped when freed), the
peak-RSS counter is reset (``/proc/self/clear_refs`` ← 5), and one epoch runs: **peak MB** is
VmHWM during that epoch minus VmRSS before it (the epoch's own memory: activations, saved
tensors, gradients). **time** is the median of ``--repeats`` epochs after the warm-up (fewer when
one epoch times the repeats exceeds ``--max-seconds``). The ratios compare each fastgnn layer
with PyG's corresponding layer *in the same run*.

Writes ``--out``.csv and ``--out``.png atomically (``fastgnn.io.atomic_path``); prints a table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/layers.py            # all sizes (long)
    .venv/bin/python benchmarks/layers.py --quick --out /tmp/layers    # small sizes, a minute
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from common import REPO, RESULTS, commit_line, machine_line, pyplot, save_figure, seconds, write_csv

PLANETOID_DIR = REPO.parent / "shared" / "datasets" / "planetoid"

LAYERS = [
    "fastgnn GCNConv spmm",
    "fastgnn GCNConv scatter",
    "PyG GCNConv",
    "fastgnn DenseGCNConv",
    "fastgnn GATConv",
    "PyG GATConv",
    "fastgnn SelfAttention",
]
DENSE_LAYERS = {"fastgnn DenseGCNConv", "fastgnn SelfAttention"}
PYG_PEER = {  # fastgnn layer -> the PyG layer its ratios are taken against
    "fastgnn GCNConv spmm": "PyG GCNConv",
    "fastgnn GCNConv scatter": "PyG GCNConv",
    "fastgnn DenseGCNConv": "PyG GCNConv",
    "fastgnn GATConv": "PyG GATConv",
    "fastgnn SelfAttention": "PyG GATConv",
}
FIELDS = [
    "graph", "nodes", "edges", "in_channels", "layer", "time_s", "repeats", "peak_mb",
    "time_vs_pyg", "peak_vs_pyg", "note", "threads", "commit",
]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    torch.set_num_threads(args.threads)
    sizes = [1000, 10000] if args.quick else [int(float(s)) for s in args.sizes.split(",")]
    repeats = 3 if args.quick else args.repeats
    commit = commit_line()
    header = [machine_line(args.threads), f"commit: {commit}"]
    print("\n".join(header), flush=True)

    graphs = [g for g in planetoid_graphs(args) if not args.quick] + [
        {"kind": "random", "name": f"random N={n:.0e}", "nodes": n, "degree": args.degree} for n in sizes
    ]
    rows = []
    for graph in graphs:
        for layer in LAYERS:
            row = {"graph": graph["name"], "layer": layer, "threads": args.threads, "commit": commit.split()[0]}
            if layer in DENSE_LAYERS and graph.get("nodes", 0) > args.dense_max_nodes:
                rows.append(dict(row, note=f"skipped: N > --dense-max-nodes={args.dense_max_nodes}"))
                continue
            spec = dict(graph=graph, layer=layer, out_channels=64, heads=8, repeats=repeats,
                        max_seconds=args.max_seconds, threads=args.threads)
            rows.append(dict(row, **run_worker(spec, args.timeout)))
            r = rows[-1]
            print(f"  {r['graph']:<16} {layer:<24} time {_fmt(r.get('time_s'))} s  peak {_fmt(r.get('peak_mb'))} MB"
                  f"  {r.get('note', '')}", flush=True)
    add_ratios(rows)
    print_table(rows)
    write_csv(rows, Path(args.out + ".csv"), FIELDS)
    plot(rows, Path(args.out + ".png"), header)
    print(f"wrote {args.out}.csv and {args.out}.png")
    return 0


# --- one point, in its own process -----------------------------------------------------------


def run_worker(spec: dict, timeout: float) -> dict:
    """Run :func:`worker` in a fresh interpreter; its JSON result, or a note saying why not."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), MALLOC_MMAP_THRESHOLD_=str(1 << 20))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"note": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"note": f"failed (exit {done.returncode}): {last[:160]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(spec: dict) -> dict:
    """Build the graph and the layer, warm up, measure one epoch's peak memory, time the epochs."""
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    x, edge_index = make_graph(spec["graph"])
    layer, graph = make_layer(spec["layer"], x.shape[1], spec["out_channels"], spec["heads"], edge_index, x.shape[0])
    x.requires_grad_(True)

    def clear():
        x.grad = None
        layer.zero_grad(set_to_none=True)

    def epoch():
        clear()
        layer(x, graph).sum().backward()

    first = seconds(epoch)  # warm-up (PyG's cache fills here)
    clear()  # the previous epoch's gradients are freed before the baseline, not inside the epoch
    peak = epoch_peak_bytes(epoch)
    repeats = max(1, min(spec["repeats"], int(spec["max_seconds"] // max(first, 1e-9))))
    times = [seconds(epoch) for _ in range(repeats)]
    return {"nodes": int(x.shape[0]), "edges": int(edge_index.shape[1]), "in_channels": int(x.shape[1]),
            "time_s": statistics.median(times), "repeats": repeats, "peak_mb": peak / 2**20}


def make_graph(graph: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, F_in], edge_index [2, E]) of a synthetic random graph or a Planetoid dataset."""
    if graph["kind"] == "planetoid":
        from fastgnn.datasets.planetoid import load_planetoid

        data = load_planetoid(graph["name"], root=graph["root"], download=False, progress=False)
        return data.x.float().contiguous(), data.edge_index
    n, degree = graph["nodes"], graph["degree"]
    gen = torch.Generator().manual_seed(n)
    dst = torch.arange(n).repeat_interleave(degree)
    src = torch.randint(0, n, (n * degree,), generator=gen)
    return torch.randn(n, 64, generator=gen), torch.stack([src, dst])


def make_layer(name: str, f_in: int, f_out: int, heads: int, edge_index: torch.Tensor, n: int):
    """The layer and the graph argument it is called with (preprocessed once, outside the epoch)."""
    import fastgnn.nn as fnn

    if name.startswith("PyG"):
        import torch_geometric.nn as pyg_nn
        from torch_geometric.utils import add_self_loops, remove_self_loops

        if name == "PyG GCNConv":
            return pyg_nn.GCNConv(f_in, f_out, cached=True), edge_index
        loops, _ = add_self_loops(remove_self_loops(edge_index)[0], num_nodes=n)
        return pyg_nn.GATConv(f_in, f_out // heads, heads=heads, add_self_loops=False), loops
    if name.startswith("fastgnn GCNConv"):
        return fnn.GCNConv(f_in, f_out, aggr_impl=name.split()[-1]), fnn.normalized_adjacency(edge_index, n)
    if name == "fastgnn DenseGCNConv":
        return fnn.DenseGCNConv(f_in, f_out), fnn.DenseAdjacency(fnn.normalized_adjacency(edge_index, n).to_dense())
    if name == "fastgnn GATConv":
        return fnn.GATConv(f_in, f_out // heads, heads=heads), fnn.gat_graph(edge_index, n)
    if name == "fastgnn SelfAttention":
        return fnn.SelfAttention(f_in, f_out, heads=1), None
    raise ValueError(f"unknown layer {name!r}")


def epoch_peak_bytes(epoch) -> int:
    """Peak resident memory added by one call of ``epoch`` (VmHWM reset just before it)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    epoch()
    return (_status_kb("VmHWM") - before) * 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


# --- the graphs ------------------------------------------------------------------------------


def planetoid_graphs(args) -> list[dict]:
    """Cora and CiteSeer, when the loader and the files are both there (else a line says so)."""
    try:
        import fastgnn.datasets.planetoid  # noqa: F401
    except ImportError:
        print("fastgnn.datasets.planetoid not available: no Cora/CiteSeer rows")
        return []
    if not PLANETOID_DIR.is_dir():
        print(f"{PLANETOID_DIR} not found: no Cora/CiteSeer rows")
        return []
    return [{"kind": "planetoid", "name": name, "root": str(PLANETOID_DIR)} for name in ("Cora", "CiteSeer")]


# --- results ---------------------------------------------------------------------------------


def add_ratios(rows) -> None:
    """time_vs_pyg and peak_vs_pyg: a fastgnn layer over its PyG peer on the same graph."""
    by_key = {(r["graph"], r["layer"]): r for r in rows}
    for r in rows:
        peer = by_key.get((r["graph"], PYG_PEER.get(r["layer"], "")))
        if peer is None:
            continue
        for key, ratio in (("time_s", "time_vs_pyg"), ("peak_mb", "peak_vs_pyg")):
            if r.get(key) and peer.get(key):
                r[ratio] = r[key] / peer[key]


def print_table(rows) -> None:
    cols = [("graph", "graph"), ("N", "nodes"), ("E", "edges"), ("layer", "layer"), ("time s", "time_s"),
            ("peak MB", "peak_mb"), ("time/PyG", "time_vs_pyg"), ("peak/PyG", "peak_vs_pyg"), ("note", "note")]
    cells = [[h for h, _ in cols]] + [[_fmt(r.get(k)) for _, k in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    for c in cells:
        print(" | ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip())
    print("time: median forward+backward epoch; peak: the epoch's own resident memory; "
          "ratios against PyG's GCNConv (GCN layers) or GATConv (attention layers), same run")


def _fmt(v) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def plot(rows, path: Path, header) -> None:
    """Grouped bars per graph (log scale): time per epoch and peak memory per epoch."""
    import numpy as np

    plt = pyplot()
    graphs = list(dict.fromkeys(r["graph"] for r in rows))
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 2.2 * len(graphs)), 8))
    width = 0.8 / len(LAYERS)
    for ax, key, label in ((axes[0], "time_s", "forward+backward s / epoch"), (axes[1], "peak_mb", "peak MB / epoch")):
        for k, layer in enumerate(LAYERS):
            vals = [next((r.get(key) for r in rows if r["graph"] == g and r["layer"] == layer), None) for g in graphs]
            xs = np.arange(len(graphs)) + (k - len(LAYERS) / 2 + 0.5) * width
            ax.bar(xs, [v if v else np.nan for v in vals], width, label=layer,
                   hatch="//" if layer.startswith("PyG") else None)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(np.arange(len(graphs)), graphs)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2)
    save_figure(fig, path, "\n".join(header), fontsize=7)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1e4,1e5,1e6", help="synthetic graph sizes N (default 1e4,1e5,1e6)")
    p.add_argument("--degree", type=int, default=10, help="in-edges per node of the synthetic graphs")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs per point (median)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="fewer repeats when an epoch x repeats exceeds this")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per point before it is abandoned")
    p.add_argument("--dense-max-nodes", type=int, default=10000, help="largest N for the dense layers")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="N = 1e3, 1e4 only, 3 repeats, no Planetoid rows")
    p.add_argument("--out", default=str(RESULTS / "layers"), help="path without suffix")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    raise SystemExit(main())
