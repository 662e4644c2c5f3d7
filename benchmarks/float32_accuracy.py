"""float32 vs float64 GNTK: the kernel's error and its effect on 10-fold SVM accuracy (issue 3).

For each dataset the whole Gram is computed twice by the batched engine, in float64 and in
float32, with the configuration of ``docs/gntk-results.md``'s table (the best one found by
``fastgnn search``; NCI1 and the COLLAB-sized set, which have no row there, the benchmark
configuration L = 4, R = 2, uniform, jk), and both are evaluated by the same C-SVM protocol:
the paper's (the best mean test accuracy over the given 10 folds) on the 25-value C grid
``fastgnn.evaluate.COARSE_C_GRID``, raw and cosine normalisations, libsvm capped at
``--max-iter`` iterations.  The same grid and cap for both dtypes, so the difference is the
float32 kernel's alone (the accuracies are not the reproduction's, which uses 120 values of C).

It prints and writes (``--out``.csv) per dataset: the Gram seconds of each dtype, the
largest entry difference over the largest entry, both accuracies (mean ± std over the folds),
the chosen C and normalisation of each, and how many test graphs are classified differently
at float64's chosen (normalisation, C).

The COLLAB-sized synthetic set is evaluated on a random subset (``--collab-graphs``, seeded
stratified 10 folds): its whole Gram takes most of an hour per dtype on 2 cores.

    .venv/bin/python benchmarks/float32_accuracy.py
    .venv/bin/python benchmarks/float32_accuracy.py --datasets MUTAG,PTC --out /tmp/f32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import (
    CONFIGS,
    DATA_DIR,
    RESULTS,
    commit_line,
    config_kwargs,
    config_label,
    fit_both,
    load_dataset,
    machine_line,
    subset_indices,
    write_csv,
)

from fastgnn import GNTK, datasets
from fastgnn.evaluate import COARSE_C_GRID, svm_cv

FIELDS = ["dataset", "graphs", "config", "float64_gram_s", "float32_gram_s", "float32_vs_float64_rel",
          "acc_float64", "std_float64", "acc_float32", "std_float32", "acc_diff", "C_float64", "norm_float64",
          "C_float32", "norm_float32", "test_predictions_changed", "test_graphs", "threads", "commit"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(CONFIGS))
    ap.add_argument("--data-dir", default=str(DATA_DIR))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=100_000, help="libsvm iteration cap (default 1e5)")
    ap.add_argument("--collab-graphs", type=int, default=1000)
    ap.add_argument("--out", default=str(RESULTS / "float32_accuracy"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    commit = commit_line()
    print(machine_line(args.threads))
    print(f"commit: {commit}; C grid: {len(COARSE_C_GRID)} values 1e-2..1e4, raw and cosine, "
          f"libsvm max_iter {args.max_iter}; paper protocol on the given folds")
    rows = []
    for name in [datasets.canonical_name(s) for s in args.datasets.split(",") if s.strip()]:
        ds = _load(name, args)
        if ds is None:
            continue
        row = run(name, ds, args)
        row.update(threads=args.threads, commit=commit.split()[0])
        rows.append(row)
        write_csv(rows, Path(args.out).with_suffix(".csv"), FIELDS)
        print(f"{row['dataset']:>12}: float64 {row['acc_float64']:.2f} ± {row['std_float64']:.2f}  "
              f"float32 {row['acc_float32']:.2f} ± {row['std_float32']:.2f}  (diff {row['acc_diff']:+.2f}; "
              f"kernel rel. error {row['float32_vs_float64_rel']:.1e}; {row['test_predictions_changed']} of "
              f"{row['test_graphs']} test predictions changed at float64's C; Gram {row['float64_gram_s']:.1f} s / "
              f"{row['float32_gram_s']:.1f} s)", flush=True)
    print(f"wrote {Path(args.out).with_suffix('.csv')}")
    return 0


def _load(name: str, args):
    ds = load_dataset(name, args.data_dir)
    if ds is None:
        return None
    if name == "COLLAB":
        sub = ds[subset_indices(len(ds), args.collab_graphs)]  # seeded stratified 10 folds of the subset
        return sub.graphs, sub.y, sub.folds, f"COLLAB-sized subset ({len(sub)} of {len(ds)})"
    return ds.graphs, ds.y, ds.folds, name


def run(name: str, ds, args) -> dict:
    graphs, y, folds, label = ds
    grams, seconds = {}, {}
    for dtype in (torch.float64, torch.float32):
        est = GNTK(**config_kwargs(name), dtype=dtype, progress=False)
        t0 = time.perf_counter()
        grams[dtype] = np.asarray(est.fit_transform(graphs), dtype=np.float64)
        seconds[dtype] = time.perf_counter() - t0
    k64, k32 = grams[torch.float64], grams[torch.float32]
    res = {dt: svm_cv(grams[dt], y, folds, C_grid=COARSE_C_GRID, max_iter=args.max_iter, n_jobs=args.threads)
           for dt in grams}
    r64, r32 = res[torch.float64], res[torch.float32]
    changed, tested = _changed_predictions(k64, k32, y, folds, r64.C, r64.normalization, args.max_iter)
    return {
        "dataset": label, "graphs": len(graphs), "config": config_label(name),
        "float64_gram_s": seconds[torch.float64], "float32_gram_s": seconds[torch.float32],
        "float32_vs_float64_rel": float(np.abs(k32 - k64).max() / np.abs(k64).max()),
        "acc_float64": 100 * r64.mean, "std_float64": 100 * r64.std, "acc_float32": 100 * r32.mean,
        "std_float32": 100 * r32.std, "acc_diff": 100 * (r32.mean - r64.mean), "C_float64": r64.C,
        "norm_float64": r64.normalization, "C_float32": r32.C, "norm_float32": r32.normalization,
        "test_predictions_changed": changed, "test_graphs": tested,
    }


def _changed_predictions(k64, k32, y, folds, c, normalization, max_iter) -> tuple[int, int]:
    """Test graphs whose predicted class differs between the two Grams, both at float64's chosen
    (normalisation, C), summed over the folds."""
    fit = fit_both(k64, k32, y, folds, c, normalization, max_iter)
    return fit["changed"], fit["tested"]


if __name__ == "__main__":
    raise SystemExit(main())
