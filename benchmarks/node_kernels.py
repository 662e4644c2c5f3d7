"""The infinitely wide GCN on node classification (issue 26.5): accuracy on Cora and CiteSeer, the
Nyström's error, and the Nyström's time and memory on the SBM generator up to 10⁶ nodes.

Three parts (``--part``), each writing ``benchmarks/results/node_kernels_<part>.csv`` and ``_run.txt``:

* ``accuracy``: on Cora and CiteSeer (public split), GCN-GP and GCN-NTK in GNNGP's configuration
  (2 layers, σ_w = 1, σ_b = 0, raw features, ε chosen on validation from GNNGP's grid), then GNNGP's grid
  of depth and σ_b (:data:`fastgnn.node.search.DEFAULT_GRID`) with raw and row-normalised features, beside
  the trained GCN (``fastgnn train --model gcn``: docs/gnn-results.md's 10 seeds, or ``--gcn-seeds``
  trained now).  Times are the median of ``--repeats`` fits (the data already loaded, numba warm).
* ``timing``: GNNGP's configuration alone, timed (``--repeats`` fits after a warm-up).
* ``nystroem``: the relative Frobenius error ‖K_m − K‖/‖K‖ of the recursive Nyström against the exact
  kernel (2 layers, GNNGP's configuration; NNGP and NTK), for m in ``--landmarks`` and each landmark rule,
  and the test accuracy with it.
* ``scaling``: the SBM generator (``fastgnn.datasets.sbm``: 5 classes, 32 features, mean degree 10) at
  ``--sizes`` nodes, 2-layer GCN-GP and GCN-NTK by the Nyström with m = 300 random landmarks in float32,
  σ_b = 0.1, GNNGP's regulariser grid; each (N, kernel) in a fresh process (its peak RSS is the process's
  ``ru_maxrss``), with the kernel's and the prediction's seconds; then the log-log exponent of the kernel's
  time against N (``fastgnn.complexity.fit``) beside the theory's O(N m² + E m).

    .venv/bin/python benchmarks/node_kernels.py --part accuracy
    .venv/bin/python benchmarks/node_kernels.py --part timing --repeats 20
    .venv/bin/python benchmarks/node_kernels.py --part nystroem
    nohup .venv/bin/python benchmarks/node_kernels.py --part scaling > /tmp/node_scaling.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, RESULTS, header_lines, load_average, write_results

PLANETOID = REPO.parent / "shared" / "datasets" / "planetoid"
#: GNNGP's test accuracy (public split; ICLR 2023 and its repository's notebook): Cora's GCN-GP, the trained GCN
GNNGP_FIGURES = {"Cora": {"gcn-gp": 0.828, "gcn": "0.818 ± 0.006"}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("accuracy", "timing", "nystroem", "scaling"), required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--gcn-seeds", type=int, default=0,
                   help="train the GCN over this many seeds (default 0: read docs/gnn-results.md's 10-seed run)")
    p.add_argument("--landmarks", default="100,300,1000")
    p.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    p.add_argument("--num-landmarks", type=int, default=300)
    p.add_argument("--child", nargs=2, metavar=("N", "KERNEL"), help=argparse.SUPPRESS)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.child:
        print(json.dumps(scaling_child(int(args.child[0]), args.child[1], args.num_landmarks)))
        return
    out = args.out or str(RESULTS / f"node_kernels_{args.part}")
    parts = {"accuracy": accuracy, "timing": timing, "nystroem": nystroem_error, "scaling": scaling}
    rows, lines = parts[args.part](args)
    write_results(rows, header_lines() + lines, out)


# --------------------------------------------------------------------------- accuracy


def accuracy(args):
    from fastgnn.datasets import load_planetoid
    from fastgnn.node.search import kernel_search
    from fastgnn.train.experiment import run_node_experiment

    rows, lines = [], []
    for name in ("Cora", "CiteSeer"):
        raw = load_planetoid(name, PLANETOID, download=False, normalize_features=False)
        normed = load_planetoid(name, PLANETOID, download=False, normalize_features=True)
        for kern in ("nngp", "ntk"):
            model = f"gcn-{'gp' if kern == 'nngp' else 'ntk'}"
            rows.append(gnngp_config(name, raw, kern, args.repeats))
            for label, data in (("raw", raw), ("row-normalised", normed)):
                res = kernel_search(data, kern)
                b = res.best
                rows.append(dict(dataset=name, model=model, config=f"grid ({len(res.rows)} points) chosen on val",
                                 features=label, num_layers=b["num_layers"], sigma_w=b["sigma_w"],
                                 sigma_b=b["sigma_b"], nugget=b["nugget"], val_acc=b["val_acc"],
                                 test_acc=b["test_acc"], seconds=res.seconds, kernel_seconds=res.kernel_seconds,
                                 predict_seconds=res.seconds - res.kernel_seconds, seeds=1))
        if args.gcn_seeds:
            info = run_node_experiment("gcn", name, PLANETOID, seeds=args.gcn_seeds, progress=False)
            source = "trained now"
        else:  # docs/gnn-results.md's run: the same trainer, 10 seeds (training it again here took 80-220 s a seed)
            info = json.loads((REPO / "docs" / "results" / f"train_gcn_{name}.json").read_text())
            source = f"docs/results/train_gcn_{name}.json"
        rows.append(dict(dataset=name, model="gcn (trained)", config=f"fastgnn train --model gcn ({source})",
                         features="row-normalised", num_layers=2, val_acc=info["val_acc_mean"],
                         test_acc=info["test_acc_mean"], test_std=info["test_acc_std"],
                         seconds=statistics.fmean(r["total_seconds"] for r in info["runs"]), seeds=len(info["runs"])))
    lines.append(f"load average at the end: {load_average()}")
    lines.append(f"GNNGP's published figures: {GNNGP_FIGURES}")
    for r in rows:
        std = f" ± {100 * r['test_std']:.1f}" if r.get("test_std") is not None else ""
        lines.append(f"{r['dataset']:8s} {r['model']:14s} {r['config']:50s} {r['features']:15s} "
                     f"L={r['num_layers']} sb={r.get('sigma_b', '-')} val {100 * r['val_acc']:.1f} test "
                     f"{100 * r['test_acc']:.1f}{std}  {r['seconds']:.2f} s"
                     + (f" (CPU {r['cpu_seconds']:.2f} s, load {r['load']})" if "cpu_seconds" in r else ""))
    print("\n".join(lines))
    return rows, lines


def gnngp_config(name: str, raw, kern: str, repeats: int) -> dict:
    """GNNGP's configuration (2 layers, σ_w = 1, σ_b = 0, raw features), timed: the median of ``repeats``
    fits (kernel + regulariser sweep + prediction, the data loaded), after one that warms numba's cache."""
    from fastgnn.node import GCNGP, GCNKernel

    times = []
    for _ in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        fit = GCNGP(GCNKernel(kern, num_layers=2, sigma_w=1.0, sigma_b=0.0)).fit(raw)
        times.append((time.perf_counter() - t0, time.process_time() - c0, fit.kernel_seconds_, fit.predict_seconds_))
    total, cpu, kernel_s, predict_s = (statistics.median(t[i] for t in times[1:]) for i in range(4))
    return dict(dataset=name, model=f"gcn-{'gp' if kern == 'nngp' else 'ntk'}", config="GNNGP: L=2 sw=1 sb=0 raw",
                features="raw", num_layers=2, sigma_w=1.0, sigma_b=0.0, nugget=fit.nugget_, val_acc=fit.val_accuracy_,
                test_acc=fit.test_accuracy_, seconds=total, cpu_seconds=cpu, kernel_seconds=kernel_s,
                predict_seconds=predict_s, min_seconds=min(t[0] for t in times[1:]), seeds=1, load=load_average())


def timing(args):
    """GNNGP's configuration alone on Cora and CiteSeer, timed (see :func:`gnngp_config`)."""
    from fastgnn.datasets import load_planetoid

    rows, lines = [], []
    for name in ("Cora", "CiteSeer"):
        raw = load_planetoid(name, PLANETOID, download=False, normalize_features=False)
        for kern in ("nngp", "ntk"):
            r = gnngp_config(name, raw, kern, args.repeats)
            rows.append(r)
            lines.append(f"{name:8s} {r['model']:8s} val {100 * r['val_acc']:.1f} test {100 * r['test_acc']:.1f}  "
                         f"median {r['seconds']:.3f} s (min {r['min_seconds']:.3f}, CPU {r['cpu_seconds']:.3f}; kernel "
                         f"{r['kernel_seconds']:.3f}, prediction {r['predict_seconds']:.3f}) over {args.repeats} fits, "
                         f"load {r['load']}")
            print(lines[-1], flush=True)
    return rows, lines


# --------------------------------------------------------------------------- Nyström error


def nystroem_error(args):
    import numpy as np

    from fastgnn.datasets import load_planetoid
    from fastgnn.node import GCNKernel, as_node_graph, exact_kernels, nystroem_kernels, select_landmarks
    from fastgnn.node.params import LANDMARK_RULES
    from fastgnn.node.predict import evaluate_kernel

    rows, lines = [], []
    for name in ("Cora", "CiteSeer"):
        data = load_planetoid(name, PLANETOID, download=False, normalize_features=False)
        g = as_node_graph(data)
        *_, (_, k_exact, t_exact) = exact_kernels(g, num_layers=2, ntk=True)
        exact_acc = {kind: evaluate_kernel(kern, g)["test_acc"] for kind, kern in (("nngp", k_exact), ("ntk", t_exact))}
        for m in map(int, args.landmarks.split(",")):
            for rule in LANDMARK_RULES:
                lm = select_landmarks(g, m, rule, random_state=0)
                t0 = time.perf_counter()
                *_, (_, k, t) = nystroem_kernels(g, lm, num_layers=2, ntk=True)
                seconds = time.perf_counter() - t0
                for kind, approx, exact in (("nngp", k, k_exact), ("ntk", t, t_exact)):
                    err = float(np.linalg.norm(approx.matrix().numpy() - exact) / np.linalg.norm(exact))
                    acc = evaluate_kernel(approx, g)["test_acc"]
                    rows.append(dict(dataset=name, kernel=kind, m=m, rule=rule, rel_error=err, test_acc=acc,
                                     exact_test_acc=exact_acc[kind], seconds=seconds))
                    lines.append(f"{name:8s} {kind:4s} m={m:5d} {rule:8s} error {err:.4f}  test {100 * acc:.1f} "
                                 f"(exact {100 * exact_acc[kind]:.1f})  {seconds:.2f} s (NNGP+NTK together)")
    del GCNKernel
    print("\n".join(lines))
    return rows, lines


# --------------------------------------------------------------------------- SBM scaling


def scaling(args):
    from fastgnn.complexity.fit import fit_exponent, predicted_exponent, verdict

    rows, lines = [], [f"sizes {args.sizes}, m = {args.num_landmarks}, each run a fresh process"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for n in map(int, args.sizes.split(",")):
        for kern in ("nngp", "ntk"):
            cmd = [sys.executable, __file__, "--part", "scaling", "--child", str(n), kern,
                   "--num-landmarks", str(args.num_landmarks)]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode != 0:
                lines.append(f"N={n} {kern}: failed ({res.returncode}): {res.stderr.strip().splitlines()[-1:]}")
                print(lines[-1], flush=True)
                continue
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["process_seconds"] = time.perf_counter() - t0
            row["load_after"] = load_average()
            rows.append(row)
            lines.append(f"N={n:8d} E={row['edges']:9d} {kern:4s} data {row['data_seconds']:6.1f} s  kernel "
                         f"{row['kernel_seconds']:7.1f} s  predict {row['predict_seconds']:6.1f} s  peak RSS "
                         f"{row['peak_rss_gb']:.2f} GB  val {100 * row['val_acc']:.1f} test {100 * row['test_acc']:.1f}"
                         f"  (load {row['load_after']})")
            print(lines[-1], flush=True)
    m = args.num_landmarks
    for kern in ("nngp", "ntk"):
        sel = [r for r in rows if r["kernel"] == kern]
        if len(sel) < 3:
            continue
        xs, ts = [r["nodes"] for r in sel], [r["kernel_seconds"] for r in sel]
        fit = fit_exponent(xs, ts)
        edges = {float(r["nodes"]): r["edges"] for r in sel}
        pred = predicted_exponent(lambda n, e=edges: n * m * m + e[n] * m, [xs[i] for i in fit.used])
        lines.append(f"{kern}: kernel time ~ N^{fit.slope:.2f} (± {fit.stderr:.2f}, R² {fit.r2:.3f}, "
                     f"{fit.regime}, N {fit.x0:.0f}..{fit.x1:.0f}); O(N m² + E m) predicts N^{pred:.2f}: "
                     f"{verdict(fit, pred)}")
        print(lines[-1], flush=True)
    return rows, lines


def scaling_child(n: int, kern: str, m: int) -> dict:
    """One (N, kernel) run in this process: the SBM, the Nyström kernel, the regulariser sweep."""
    from fastgnn.datasets import sbm
    from fastgnn.node import GCNGP, GCNKernel

    t0 = time.perf_counter()
    data = sbm(n, num_classes=5, num_features=32, avg_degree=10, seed=0)
    data_seconds = time.perf_counter() - t0
    fit = GCNGP(GCNKernel(kern, num_layers=2, sigma_b=0.1, method="nystroem", num_landmarks=m,
                          dtype="float32")).fit(data)
    return dict(nodes=n, edges=data.num_edges, kernel=kern, m=m, data_seconds=data_seconds,
                kernel_seconds=fit.kernel_seconds_, predict_seconds=fit.predict_seconds_, nugget=fit.nugget_,
                val_acc=fit.val_accuracy_, test_acc=fit.test_accuracy_,
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
