"""The path solver against libsvm run without an iteration cap, on the benchmark datasets (issue 11).

For each dataset at its configuration (``benchmarks/common.py``'s ``CONFIGS``), the Gram,
then for the paper protocol's chosen (normalisation, C) — found by the path solver on the whole
120-value grid, or given by ``--C-index`` — and the two grid values either side of it, on every
fold: the path solver's test predictions (its path run up to the largest of these C, which gives
exactly the full path's solutions there) against ``sklearn.svm.SVC(kernel="precomputed", C=C,
max_iter=-1)``, the same problem solved by libsvm to convergence.  It prints and writes
``--out``.csv: per dataset and C, the test graphs classified alike, the fraction, the largest
difference of the two solvers' accuracies over the folds, and the seconds of each.

With ``--paper-libsvm`` it also runs the whole paper protocol with ``svm_cv(solver="libsvm")``
(its defaults: the authors' 5e5-iteration cap) beside ``svm_cv(solver="path")`` and reports both
accuracies (slow on PROTEINS and NCI1: 20-80 minutes of libsvm); ``--paper-only`` then skips the
uncapped fits at the five values of C.

    .venv/bin/python benchmarks/svm_agreement.py --datasets MUTAG PTC --paper-libsvm
    .venv/bin/python benchmarks/svm_agreement.py --datasets NCI1 --C-index NCI1=55:raw
    .venv/bin/python benchmarks/svm_agreement.py --datasets NCI1 --paper-libsvm --paper-only
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from common import FOLDED, add_config_arguments, commit_line, config_grams, config_label, header_lines, write_csv
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from fastgnn.evaluate import DEFAULT_C_GRID, cosine_normalize, scale_gram, svm_cv
from fastgnn.model_selection import svm_path

FIELDS = ["dataset", "config", "normalization", "C_index", "C", "chosen", "same_predictions", "test_graphs",
          "fraction_same", "path_acc", "libsvm_acc", "max_fold_acc_diff", "path_s", "libsvm_s",
          "libsvm_iterations_max", "paper_path_acc", "paper_libsvm_acc", "paper_path_s", "paper_libsvm_s", "commit"]


#: The paper protocol's 120 values of C.
GRID = DEFAULT_C_GRID


def uncapped_rows(name: str, config: str, data, gram, norm: str, g_star: int, paper: dict) -> list:
    """The path's test predictions against converged libsvm at ``GRID[g_star]`` and two values either side.

    One row per C (printed as it goes); ``paper`` (the paper-protocol figures) goes into the chosen C's row.
    """
    y = np.asarray(data.y)
    k = scale_gram(gram)
    if norm == "cosine":
        k = cosine_normalize(k)
    idx = [g for g in range(g_star - 2, g_star + 3) if 0 <= g < len(GRID)]
    prefix = GRID[: max(idx) + 1]
    same = dict.fromkeys(idx, 0)
    total = 0
    acc_path = {g: [] for g in idx}
    acc_lib = {g: [] for g in idx}
    secs = {"path": 0.0, "libsvm": 0.0}
    iters = dict.fromkeys(idx, 0)
    for tr, te in data.folds:
        k_tr, k_te = k[np.ix_(tr, tr)], k[np.ix_(te, tr)]
        t0 = time.perf_counter()
        path = svm_path(k_tr, y[tr], k_te, prefix)
        secs["path"] += time.perf_counter() - t0
        total += len(te)
        for g in idx:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = SVC(kernel="precomputed", C=float(GRID[g]), max_iter=-1, cache_size=1000).fit(k_tr, y[tr])
            pred = model.predict(k_te)
            secs["libsvm"] += time.perf_counter() - t0
            iters[g] = max(iters[g], int(np.max(model.n_iter_)))
            same[g] += int(np.sum(pred == path.predictions[g]))
            acc_path[g].append(np.mean(path.predictions[g] == y[te]))
            acc_lib[g].append(np.mean(pred == y[te]))
    rows = []
    for g in idx:
        row = {"dataset": name, "config": config, "normalization": norm, "C_index": g, "C": float(GRID[g]),
               "chosen": g == g_star, "same_predictions": same[g], "test_graphs": total,
               "fraction_same": same[g] / total,
               "path_acc": 100 * np.mean(acc_path[g]), "libsvm_acc": 100 * np.mean(acc_lib[g]),
               "max_fold_acc_diff": 100 * float(np.max(np.abs(np.subtract(acc_path[g], acc_lib[g])))),
               "path_s": secs["path"], "libsvm_s": secs["libsvm"], "libsvm_iterations_max": iters[g],
               "commit": commit_line(), **(paper if g == g_star else {})}
        rows.append(row)
        print(f"{name} {norm} C[{g}]={GRID[g]:.4g}{' (chosen)' if g == g_star else ''}: "
              f"{same[g]}/{total} same ({100 * same[g] / total:.2f} %), accuracy path {row['path_acc']:.2f} "
              f"libsvm {row['libsvm_acc']:.2f}; libsvm iterations up to {iters[g]}", flush=True)
    print(f"{name}: path {secs['path']:.1f} s (prefix of {len(prefix)} C, 10 folds), "
          f"libsvm uncapped {secs['libsvm']:.1f} s ({len(idx)} C, 10 folds)", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(ap, datasets=FOLDED, out="svm_agreement")
    ap.add_argument("--C-index", action="append", default=[], metavar="NAME=INDEX:NORM",
                    help="use this grid index and normalisation instead of running the paper protocol")
    ap.add_argument("--paper-libsvm", action="store_true", help="also the whole paper protocol with libsvm")
    ap.add_argument("--paper-only", action="store_true",
                    help="with --paper-libsvm: only the two paper protocols, not the uncapped libsvm fits")
    args = ap.parse_args(argv)
    if args.paper_only and not args.paper_libsvm:
        ap.error("--paper-only needs --paper-libsvm (without it there would be nothing to compare)")
    given = {s.split("=")[0]: (int(s.split("=")[1].split(":")[0]), s.split(":")[1]) for s in args.C_index}
    print("\n".join(header_lines(args.threads)), flush=True)
    rows = []
    for name, data, gram in config_grams(args):
        y = np.asarray(data.y)
        config = config_label(name)
        paper, libsvm_choice = {}, ""
        if name in given:
            g_star, norm = given[name]
        else:
            t0 = time.perf_counter()
            res = svm_cv(gram, y, data.folds, n_jobs=args.threads)
            paper = {"paper_path_acc": 100 * res.mean, "paper_path_s": time.perf_counter() - t0}
            g_star, norm = int(np.flatnonzero(GRID == res.C)[0]), res.normalization
        if args.paper_libsvm:
            t0 = time.perf_counter()
            lib = svm_cv(gram, y, data.folds, solver="libsvm", n_jobs=args.threads)
            paper.update(paper_libsvm_acc=100 * lib.mean, paper_libsvm_s=time.perf_counter() - t0)
            libsvm_choice = f"; libsvm chose C = {lib.C:.4g}, {lib.normalization}"
        if args.paper_only:
            rows.append({"dataset": name, "config": config, "normalization": norm, "C_index": g_star,
                         "C": float(GRID[g_star]), "chosen": True, "commit": commit_line(), **paper})
        else:
            rows += uncapped_rows(name, config, data, gram, norm, g_star, paper)
        if paper:
            print(f"{name} paper protocol: " + ", ".join(f"{k} {v:.2f}" for k, v in paper.items()) + libsvm_choice,
                  flush=True)
        write_csv(rows, Path(args.out + ".csv"), FIELDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
