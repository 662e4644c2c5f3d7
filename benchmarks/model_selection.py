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
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from float32_accuracy import CONFIGS as FLOAT32_CONFIGS  # noqa: E402
from gram_speed import commit_line, machine_line, write_csv  # noqa: E402

from fastgnn import GNTK, datasets  # noqa: E402
from fastgnn.evaluate import DEFAULT_C_GRID, svm_cv  # noqa: E402
from fastgnn.io import save_npy  # noqa: E402

#: (num_layers, num_mlp_layers, scale, jk): docs/gntk-results.md's configurations (NCI1: the benchmark one),
#: float32_accuracy.py's table less its COLLAB-sized synthetic set (not a benchmark with folds here).
CONFIGS = {name: config for name, config in FLOAT32_CONFIGS.items() if name != "COLLAB"}
FIELDS = ["dataset", "graphs", "config", "protocol", "path_s", "libsvm_s", "libsvm_s_kind", "speedup",
          "path_acc", "path_std", "libsvm_acc", "libsvm_C_values", "threads", "commit"]


def config_gram(name: str, data, cache: Path | None) -> np.ndarray:
    """The dataset's Gram at its :data:`CONFIGS` configuration (from ``cache`` when there)."""
    L, R, scale, jk = CONFIGS[name]
    path = None if cache is None else cache / f"{name}_L{L}_R{R}_{scale}_jk{int(jk)}.npy"
    if path is not None and path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    gram = GNTK(num_layers=L, num_mlp_layers=R, scale=scale, jk=jk, progress=False).fit_transform(data)
    print(f"{name}: Gram in {time.perf_counter() - t0:.1f} s", flush=True)
    if path is not None:
        save_npy(path, gram)
    return gram


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["PROTEINS", "NCI1"], choices=list(CONFIGS))
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "datasets" / "tu"))
    ap.add_argument("--cache", default=str(REPO / "runs" / "grams"), help="where the Grams are kept")
    ap.add_argument("--libsvm-every", type=int, default=10, help="libsvm on every k-th C, time x k")
    ap.add_argument("--protocols", nargs="+", default=["paper", "nested"], choices=["paper", "nested"])
    ap.add_argument("--max-folds", type=int, default=None, help="only the first K outer folds (labelled)")
    ap.add_argument("--normalizations", nargs="+", default=["raw", "cosine"], choices=["raw", "cosine"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "model_selection"))
    args = ap.parse_args(argv)
    every = max(1, args.libsvm_every)
    print(machine_line(args.threads), flush=True)
    print(commit_line(), flush=True)
    rows = []
    for name in args.datasets:
        data = datasets.load(name, root=args.data_dir, progress=False)
        gram = config_gram(name, data, Path(args.cache) if args.cache else None)
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
                "dataset": name, "graphs": len(data), "config": "L{} R{} {} jk{}".format(*CONFIGS[name][:3],
                                                                                       int(CONFIGS[name][3])),
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
