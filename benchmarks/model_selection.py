"""Model selection time: the warm-started path solver against libsvm, side by side (issue 11).

For each dataset, one GNTK configuration (``docs/gntk-results.md``'s; NCI1: L = 4, R = 2,
uniform, jk), its whole Gram, then in one run:

* the paper protocol (120 values of C, raw and cosine, 10 given folds) and the nested protocol
  (the same 120 values inside a stratified 5-fold CV of each training fold) with
  ``svm_cv(solver="path")``, the default;
* the same two with ``svm_cv(solver="libsvm")`` and its defaults (the authors' 5e5-iteration
  cap), on every ``--libsvm-every``-th value of C only, its time multiplied by that factor
  (labelled "extrapolated": per-C libsvm fits cost about the same along the grid, or rise
  with C, so this is a fair-to-low estimate of libsvm's full-grid time).

Both solvers run on ``--threads`` threads over (fold, normalisation) jobs.  It prints and
writes ``--out``.csv: per dataset and protocol, the seconds of each solver, the speed-up,
and the accuracies (the path solver's on the full grid; libsvm's on its subgrid, so these
two need not agree: ``benchmarks/svm_agreement.py`` compares the solvers at equal C).

    .venv/bin/python benchmarks/model_selection.py                         # PROTEINS and NCI1
    .venv/bin/python benchmarks/model_selection.py --datasets MUTAG --libsvm-every 1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import add_config_arguments, commit_line, config_grams, config_label, header_lines, write_csv

from fastgnn.evaluate import DEFAULT_C_GRID, svm_cv

FIELDS = ["dataset", "graphs", "config", "protocol", "path_s", "libsvm_s", "libsvm_s_kind", "speedup",
          "path_acc", "path_std", "libsvm_acc", "libsvm_C_values", "threads", "commit"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(ap, datasets=["PROTEINS", "NCI1"], out="model_selection")
    ap.add_argument("--libsvm-every", type=int, default=10, help="libsvm on every k-th C, time x k")
    ap.add_argument("--protocols", nargs="+", default=["paper", "nested"], choices=["paper", "nested"])
    ap.add_argument("--max-folds", type=int, default=None, help="only the first K outer folds (labelled)")
    ap.add_argument("--normalizations", nargs="+", default=["raw", "cosine"], choices=["raw", "cosine"])
    args = ap.parse_args(argv)
    every = max(1, args.libsvm_every)
    print("\n".join(header_lines(args.threads)), flush=True)
    rows = []
    for name, data, gram in config_grams(args):
        folds = data.folds[: args.max_folds] if args.max_folds else data.folds
        for protocol in args.protocols:
            t0 = time.perf_counter()
            fast = svm_cv(gram, data.y, folds, protocol=protocol, normalizations=args.normalizations,
                          n_jobs=args.threads)
            path_s = time.perf_counter() - t0
            sub = DEFAULT_C_GRID[::every]
            t0 = time.perf_counter()
            slow = svm_cv(gram, data.y, folds, protocol=protocol, C_grid=sub, solver="libsvm",
                          normalizations=args.normalizations, n_jobs=args.threads)
            libsvm_s = (time.perf_counter() - t0) * len(DEFAULT_C_GRID) / len(sub)
            row = {
                "dataset": name, "graphs": len(data), "config": config_label(name),
                "protocol": protocol + ("" if len(folds) == len(data.folds) else f" ({len(folds)} of "
                                        f"{len(data.folds)} folds)") + ("" if len(args.normalizations) == 2
                                                                        else f" ({args.normalizations[0]} only)"),
                "path_s": path_s, "libsvm_s": libsvm_s,
                "libsvm_s_kind": "measured" if every == 1 else f"extrapolated from every {every}th C",
                "speedup": libsvm_s / path_s, "path_acc": 100 * fast.mean, "path_std": 100 * fast.std,
                "libsvm_acc": 100 * slow.mean, "libsvm_C_values": len(sub), "threads": args.threads,
                "commit": commit_line(),
            }
            rows.append(row)
            print(f"{name} {protocol}: path {path_s:.1f} s ({row['path_acc']:.2f} %), libsvm {libsvm_s:.1f} s "
                  f"({row['libsvm_s_kind']}; {row['libsvm_acc']:.2f} % on {len(sub)} C) -> {row['speedup']:.1f}x",
                  flush=True)
            write_csv(rows, Path(args.out + ".csv"), FIELDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
