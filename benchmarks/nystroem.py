"""The Nyström GNTK against the exact kernel on NCI1 and PROTEINS (issue 23.3): kernel error and 10-fold accuracy.

For each dataset, the exact Gram K at its best configuration (``common.CONFIGS``: NCI1 L4 R2, PROTEINS L2 R3,
uniform, jk; kept in ``runs/grams``), then for each m in ``--sizes`` (m >= n: every graph a landmark, the
exact kernel again), each landmark rule (uniform, stratified by label and size) and each seed in
``0..--seeds-1``: :class:`fastgnn.gntk.GNTKNystroem` fitted on the whole dataset (the landmarks drawn from
it, as an unsupervised transformer is used before a split; the stratified rule reads the labels) and its
features Φ, then

* the kernel error of K̃ = Φ Φᵀ: ``max_rel`` (largest entry error over K's largest entry), ``fro_rel``
  (Frobenius norm of the error over K's), ``diag_rel`` (mean of the diagonal's relative error: the
  residual's diagonal bounds every entry, see the module docstring);
* the 10-fold accuracy of K̃ and of K under one protocol, :func:`fastgnn.evaluate.svm_cv` on the GIN
  folds (``--protocol``: ``paper``, the GNTK paper's best mean test accuracy over C and normalisation, or
  ``nested``; ``--c-grid``), so the difference is the approximation's alone;
* the seconds of the features (K_mm, its eigendecomposition, K_nm) and the graph pairs computed
  (``m (m + 1) / 2 + n m`` against the exact ``n (n + 1) / 2``).

Writes ``--out``.csv (one row per dataset, m, rule, seed; the exact kernel's row has rule ``exact``) and
``--out``_run.txt (the header lines and the mean ± std over seeds).  On the loaded 2-core dev machine::

    nohup nice -n 10 .venv/bin/python benchmarks/nystroem.py > runs/nystroem.log 2>&1 &
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from common import (
    GRAM_CACHE,
    RESULTS,
    command_line,
    config_gram,
    config_kwargs,
    config_label,
    header_lines,
    load_dataset,
    write_results,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["PROTEINS", "NCI1"])
    p.add_argument("--sizes", default="250,500,1000,2000")
    p.add_argument("--rules", default="uniform,stratified")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--protocol", default="paper", choices=("paper", "nested"))
    p.add_argument("--c-grid", default="coarse", choices=("coarse", "fine"),
                   help="svm_cv's C grid for the exact and the approximate Gram alike: coarse, 25 values of "
                        "1e-2..1e4 (default: NCI1's 120-value fine grid took over 7 min per Gram on the loaded dev "
                        "machine), or fine")
    p.add_argument("--out", default=str(RESULTS / "nystroem"))
    args = p.parse_args()

    from fastgnn import GNTK
    from fastgnn.evaluate import svm_cv
    from fastgnn.gntk import GNTKNystroem
    from fastgnn.model_selection.solvers import COARSE_C_GRID, DEFAULT_C_GRID

    grid = COARSE_C_GRID if args.c_grid == "coarse" else DEFAULT_C_GRID

    rows, summary = [], []
    for name in args.datasets:
        data = load_dataset(name)
        if data is None:
            continue
        n = len(data)
        t0 = time.perf_counter()
        gram = config_gram(name, data, GRAM_CACHE)
        exact_s = time.perf_counter() - t0
        folds = data.folds
        exact_acc = svm_cv(gram, data.y, folds, protocol=args.protocol, C_grid=grid).mean
        rows.append({"dataset": name, "config": config_label(name), "n": n, "m": n, "rule": "exact", "seed": "",
                     "rank": "", "pairs": n * (n + 1) // 2, "seconds": round(exact_s, 2), "max_rel": 0.0,
                     "fro_rel": 0.0, "diag_rel": 0.0, "accuracy": round(exact_acc, 4),
                     "exact_accuracy": round(exact_acc, 4)})
        summary.append(f"{name} ({config_label(name)}, n={n}): exact 10-fold accuracy {100 * exact_acc:.2f} % "
                       f"({args.protocol} protocol)")
        print(summary[-1], flush=True)
        scale, fro = np.abs(gram).max(), np.linalg.norm(gram)
        diag = np.diag(gram)
        for m in (int(s) for s in args.sizes.split(",")):
            m_eff = min(m, n)
            for rule in args.rules.split(","):
                found = []
                for seed in range(args.seeds if m_eff < n else 1):
                    ny = GNTKNystroem(GNTK(**config_kwargs(name), progress=False), n_components=m_eff,
                                      landmarks=rule, random_state=seed)
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        phi = ny.fit(data, data.y).transform(data)
                    seconds = time.perf_counter() - t0
                    approx = phi @ phi.T
                    err = gram - approx
                    acc = svm_cv(approx, data.y, folds, protocol=args.protocol, C_grid=grid).mean
                    row = {"dataset": name, "config": config_label(name), "n": n, "m": m_eff, "rule": rule,
                           "seed": seed, "rank": ny.rank_, "pairs": m_eff * (m_eff + 1) // 2 + n * m_eff,
                           "seconds": round(seconds, 2), "max_rel": float(np.abs(err).max() / scale),
                           "fro_rel": float(np.linalg.norm(err) / fro),
                           "diag_rel": float(np.mean(np.diag(err) / diag)), "accuracy": round(acc, 4),
                           "exact_accuracy": round(exact_acc, 4)}
                    rows.append(row)
                    found.append(row)
                    print({k: row[k] for k in ("dataset", "m", "rule", "seed", "rank", "seconds", "max_rel",
                                               "fro_rel", "accuracy")}, flush=True)
                    if m_eff == n:
                        break
                summary.append(_summary(name, m, m_eff, rule, found, exact_acc))
                print(summary[-1], flush=True)
                # written after each (m, rule): an interrupted run keeps what it measured
                write_results(rows, [*header_lines(), f"command: {command_line()}", *summary], args.out)


def _summary(name: str, m: int, m_eff: int, rule: str, found: list, exact_acc: float) -> str:
    def ms(key, pct=False):
        v = np.array([r[key] for r in found]) * (100 if pct else 1)
        return f"{v.mean():.3g} ± {v.std():.2g}" if len(v) > 1 else f"{v.mean():.3g}"

    label = f"m={m}" if m == m_eff else f"m={m} -> {m_eff} (all)"
    return (f"{name} {label} {rule} ({len(found)} seed(s)): accuracy {ms('accuracy', True)} % (exact "
            f"{100 * exact_acc:.2f} %), max entry error {ms('max_rel')}, Frobenius {ms('fro_rel')}, "
            f"diagonal {ms('diag_rel')}, {ms('seconds')} s, {found[0]['pairs']:,} pairs")


if __name__ == "__main__":
    main()
