"""What the sketch buys on the graphs it was made for (issue 22.6): the sketched GNTK against the exact one.

The GNTK paper's sketching (§4.3) aggregates a graph of N > b nodes through AMS matrices S_G (b x N, entries
±1/√b), O(N² b) per pair instead of O(N³) per graph pair of the decoupled recursion.  For each dataset
(default REDDIT-BINARY and DD, the sets with large graphs) and each b in ``--sizes``:

* the exact Gram, read from ``--exact-dir/NAME/gram.npy`` as ``fastgnn gntk NAME --out DIR`` wrote it (its
  kernel seconds from ``gntk.json``, and its 10-fold accuracies when it ran with ``--evaluate``; computed
  here otherwise);
* ``GNTK(sketch_size=b, seed=s)``'s whole Gram, wall seconds (one process, 2 threads), for the seeds
  ``0..--seeds−1``;
* its error: ``fro`` = ‖K_b − K‖_F / ‖K‖_F, ``mean_rel`` = mean |K_b − K| / K over the entries that involve
  a sketched graph (N > b), and the same two on the cosine-normalised kernels (what the SVM reads);
* the 10-fold accuracies of ``--protocols`` (:func:`fastgnn.evaluate.svm_cv` on ``--normalizations``, the
  archive's folds) of seed 0, and the exact Gram's by the same selection.

A size whose whole Gram is estimated (from ``--probe`` graphs timed first, warm, scaled by the sketched
node pairs ``Σ_{i<=j} min(N_i, b) min(N_j, b)``) to take more than ``--max-seconds`` is not run whole: its
row has the estimate (labelled so) and the errors on the probe graphs' entries (``error_on``).
``--subset N``: the same on a seeded stratified subset of N graphs with its own stratified 10 folds (the
exact Gram's block; its time left blank): the sketch's effect on accuracy where the whole sketched Gram
costs hours.  Writes ``--out``.csv and ``--out``_run.txt.

    .venv/bin/python benchmarks/sketch_large.py --exact-dir /tmp/real --out benchmarks/results/sketch_large
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from common import DATA_DIR, RESULTS, command_line, header_lines, load_average, load_dataset, write_results

FIELDS = ["dataset", "subset", "b", "seed", "graphs", "sketched_graphs", "node_pairs", "seconds", "estimated",
          "exact_seconds", "speedup", "error_on", "fro", "mean_rel", "cos_fro", "cos_mean_rel", "paper_acc",
          "paper_std", "nested_acc", "nested_std", "exact_paper_acc", "exact_nested_acc", "load_average"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="REDDIT-BINARY,DD")
    p.add_argument("--sizes", default="32,64,128,256", help="sketch sizes b, comma-separated")
    p.add_argument("--seeds", type=int, default=1, help="sketch seeds per size (accuracies: seed 0)")
    p.add_argument("--exact-dir", required=True, help="folder holding NAME/gram.npy (fastgnn gntk NAME --out)")
    p.add_argument("--probe", type=int, default=60, help="graphs timed first to estimate each size's whole Gram")
    p.add_argument("--max-seconds", type=float, default=1800.0, help="skip a size estimated to take longer")
    p.add_argument("--protocols", default="paper,nested", help="the accuracies' protocols (each a 10-fold run)")
    p.add_argument("--normalizations", default="raw,cosine",
                   help="the SVM's Gram normalisations (REDDIT-BINARY: cosine; its raw Gram spans 12 orders of "
                        "magnitude and the C path on it did not end in an hour)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--subset", type=int, default=0,
                   help="a seeded stratified subset of N graphs (0: all), its own stratified 10 folds, the exact "
                        "Gram's block: the sketch's effect on accuracy where the whole sketched Gram costs hours")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--out", default=str(RESULTS / "sketch_large"))
    args = p.parse_args()

    import torch

    from fastgnn import GNTK
    from fastgnn.evaluate import svm_cv
    from fastgnn.gram import cosine
    from fastgnn.graph import stratified_folds

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=r"GNTK\(sketch_size=.*will not be faster", category=UserWarning)
    kw = dict(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True, progress=False)
    rows, lines = [], [*header_lines(args.threads), f"command: {command_line()}",
                       f"GNTK: {kw}, method='batched', sketch='ams'; exact: --exact-dir's gram.npy"]
    for name in args.datasets.split(","):
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        folder = Path(args.exact_dir) / name
        exact = np.load(folder / "gram.npy")
        info = json.loads((folder / "gntk.json").read_text())
        exact_seconds = float(info.get("kernel_seconds") or info.get("seconds", {}).get("kernel", float("nan")))
        graphs, y, folds = list(data.graphs), data.y, data.folds
        if args.subset:  # the same graphs for the exact and every sketched Gram; the exact Gram's time is the whole's
            sub = _stratified_subset(y, args.subset)
            graphs, y, exact = [graphs[i] for i in sub], y[sub], exact[np.ix_(sub, sub)]
            folds = stratified_folds(y, 10, seed=0)
            exact_seconds = float("nan")
        protocols = args.protocols.split(",") if args.protocols else []
        norms = tuple(args.normalizations.split(","))
        evaluation = {pr: svm_cv(exact, y, folds, protocol=pr, normalizations=norms).to_dict() for pr in protocols}
        exact_acc = {pr: 100 * evaluation[pr]["mean"] if pr in evaluation else float("nan")
                     for pr in ("paper", "nested")}
        sizes = np.array([g.num_nodes for g in graphs], dtype=np.float64)
        subset = " (a stratified subset, seed 0, its own 10 folds)" if args.subset else ""
        lines.append(f"{name}: {len(sizes)} graphs{subset}, {sizes.mean():.0f} nodes on average "
                     f"(max {sizes.max():.0f}); "
                     f"exact Gram {exact_seconds:.0f} s; exact accuracy paper {exact_acc['paper']:.2f}, "
                     f"nested {exact_acc['nested']:.2f}")
        probe = np.random.default_rng(0).choice(len(sizes), min(args.probe, len(sizes)), replace=False)
        for b in (int(s) for s in args.sizes.split(",")):
            m = np.minimum(sizes, b)
            pairs = float((m.sum() ** 2 + (m * m).sum()) / 2)
            pm = m[probe]
            probe_graphs = [graphs[i] for i in probe]
            GNTK(sketch_size=b, seed=0, **kw).fit_transform(probe_graphs[:2])  # compiled, warm
            t0 = time.perf_counter()
            probe_gram = GNTK(sketch_size=b, seed=0, **kw).fit_transform(probe_graphs)
            estimate = (time.perf_counter() - t0) * pairs / float((pm.sum() ** 2 + (pm * pm).sum()) / 2)
            probe_exact = exact[np.ix_(probe, probe)]
            probe_moved = (sizes[probe][:, None] > b) | (sizes[probe][None, :] > b)
            base = {"dataset": name, "subset": args.subset or "", "b": b, "graphs": len(sizes),
                    "sketched_graphs": int((sizes > b).sum()),
                    "node_pairs": pairs, "exact_seconds": exact_seconds,
                    "exact_paper_acc": exact_acc["paper"], "exact_nested_acc": exact_acc["nested"]}
            if estimate > args.max_seconds:  # not run whole: the error on the probe graphs' entries
                rows.append({**base, "seed": 0, "seconds": estimate, "estimated": True,
                             "speedup": exact_seconds / estimate, "load_average": load_average(),
                             **_errors(probe_gram, probe_exact, probe_moved, cosine),
                             "error_on": f"{len(probe)} graphs"})
                print(f"{name} b={b}: skipped, estimated {estimate:.0f} s from {len(probe)} graphs "
                      f"(over --max-seconds {args.max_seconds:g})", flush=True)
                continue
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                gram = GNTK(sketch_size=b, seed=seed, **kw).fit_transform(graphs)
                seconds = time.perf_counter() - t0
                moved = (sizes[:, None] > b) | (sizes[None, :] > b)
                row = {**base, "seed": seed, "seconds": seconds, "estimated": False, "speedup": exact_seconds / seconds,
                       **_errors(gram, exact, moved, cosine), "error_on": "all graphs", "load_average": load_average()}
                if seed == 0:
                    for pr in protocols:
                        res = svm_cv(gram, y, folds, protocol=pr, normalizations=norms)
                        row[f"{pr}_acc"], row[f"{pr}_std"] = 100 * res.mean, 100 * res.std
                rows.append(row)
                print({k: row.get(k) for k in FIELDS}, flush=True)
    lines.append("seconds: the whole sketched Gram (estimated = True: not run, estimated from the probe graphs); "
                 "speedup: exact seconds / sketched seconds; fro: ||K_b - K||_F / ||K||_F; mean_rel: mean "
                 "|K_b - K| / K over entries with a sketched graph; cos_*: the same on the cosine-normalised "
                 "kernels; accuracies: 10 folds, seed 0")
    write_results(rows, lines, args.out)


def _stratified_subset(y, n: int) -> np.ndarray:
    """``n`` sorted graph indices, each class in proportion (scikit-learn's stratified split, seed 0)."""
    from sklearn.model_selection import train_test_split

    if n >= len(y):
        return np.arange(len(y))
    keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=0)
    return np.sort(keep)


def _errors(gram, exact, moved, cosine) -> dict:
    """``fro``, ``mean_rel`` (over the entries ``moved``: with a sketched graph) of ``gram`` against ``exact``, and the
    same on both cosine-normalised."""
    import numpy as np

    cos, exact_cos = cosine(gram, np.diag(gram).copy()), cosine(exact, np.diag(exact).copy())
    any_moved = bool(moved.any())
    return {"fro": float(np.linalg.norm(gram - exact) / np.linalg.norm(exact)),
            "mean_rel": float((np.abs(gram - exact) / np.abs(exact))[moved].mean()) if any_moved else 0.0,
            "cos_fro": float(np.linalg.norm(cos - exact_cos) / np.linalg.norm(exact_cos)),
            "cos_mean_rel": float((np.abs(cos - exact_cos) / np.abs(exact_cos))[moved].mean()) if any_moved else 0.0}


if __name__ == "__main__":
    main()
