"""The path solver on raw GNTK Grams: the active set's ridge relative to each K_ii against one ε for all.

A raw GNTK Gram (divided by its smallest entry, the GNTK authors' normalisation) of a set with graphs of very
different sizes has self-kernels spanning ten orders of magnitude or more (COLLAB 5e11, REDDIT-BINARY 3e11).
The path solver's active set and its Newton steps factorise Q_FF + E; with one ε = 1e-10 · mean(K_ii) for every
variable (the rule before session 15) the ridge swamped the small graphs' rows, the Newton steps went wrong, and
SMO, which checks every answer, did the work.  Since session 15 ε_i = min(1e-10 · mean, 1e-7 · K_ii)
(``path._ridge``).  For each fold of ``--folds`` and each normalisation, this script times ``svm_path`` over
the authors' 120 values of C under both rules, interleaved, ``--repeats`` times (median), and reports the SMO
iterations, the seconds and the predictions that differ between the rules (both stop on libsvm's rule at the
same tolerance).

``--gram-dir DIR``: a folder as ``fastgnn gntk NAME --out DIR`` writes it (``gram.npy``, ``labels.npy``,
``folds.npz``).  Writes ``--out``.csv and ``--out``_run.txt.

    .venv/bin/python benchmarks/svm_raw_ridge.py --gram-dir /tmp/real/COLLAB --folds 0,1 \\
        --out benchmarks/results/svm_raw_ridge_collab
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from common import RESULTS, command_line, header_lines, load_average, write_results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gram-dir", required=True, help="folder with gram.npy, labels.npy, folds.npz")
    p.add_argument("--folds", default="0", help="fold indices, comma-separated")
    p.add_argument("--normalizations", default="raw,cosine")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS / "svm_raw_ridge"))
    args = p.parse_args()

    import fastgnn.model_selection.path as path_module
    from fastgnn.gram import transform
    from fastgnn.model_selection.path import svm_path
    from fastgnn.model_selection.solvers import DEFAULT_C_GRID

    folder = Path(args.gram_dir)
    gram = np.load(folder / "gram.npy")
    y = np.load(folder / "labels.npy")
    folds = np.load(folder / "folds.npz")
    norms = tuple(args.normalizations.split(","))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the spread warning: this script is about that Gram
        grams = transform(gram, norms)
    diag = np.diag(gram)
    lines = header_lines(threads=1) + [command_line(), f"gram: {folder / 'gram.npy'} ({len(y)} graphs), self-kernels "
                                       f"{diag.min():.3g} to {diag.max():.3g} (span {diag.max() / diag.min():.2g})"]
    per_variable = path_module._ridge

    def one_epsilon(diag):  # the rule before session 15, in the active set and the Newton steps alike
        return np.full(len(diag), 1e-10 * float(np.mean(diag)) + 1e-300)

    rules = {"per K_ii": per_variable, "one epsilon": one_epsilon}
    rows = []
    for f in (int(x) for x in args.folds.split(",")):
        tr, te = folds[f"train_{f}"], folds[f"test_{f}"]
        for norm in norms:
            k = grams[norm]
            k_tr, k_te = np.ascontiguousarray(k[np.ix_(tr, tr)]), np.ascontiguousarray(k[np.ix_(te, tr)])
            times = {r: [] for r in rules}
            found = {}
            for _ in range(args.repeats):
                for rule, ridge in rules.items():  # interleaved: the machine's drift hits both alike
                    path_module._ridge = ridge
                    try:
                        t0 = time.perf_counter()
                        found[rule] = svm_path(k_tr, y[tr], k_te, DEFAULT_C_GRID)
                        times[rule].append(time.perf_counter() - t0)
                    finally:
                        path_module._ridge = per_variable
            differ = int(np.sum(found["per K_ii"].predictions != found["one epsilon"].predictions))
            for rule in rules:
                res = found[rule]
                rows.append({"fold": f, "normalization": norm, "rule": rule, "train": len(tr),
                             "seconds": statistics.median(times[rule]), "repeats": args.repeats,
                             "smo_iterations": int(res.iterations.sum()),
                             "best_accuracy": float((res.predictions == y[te]).mean(axis=1).max()),
                             "predictions_differing_between_rules": differ, "of": int(res.predictions.size),
                             "load_average": load_average()})
                lines.append(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in rows[-1].items()))
                print(lines[-1], flush=True)
    write_results(rows, lines, args.out)


if __name__ == "__main__":
    main()
