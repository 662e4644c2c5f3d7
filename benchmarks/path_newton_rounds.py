"""Are the path solver's Newton rounds (``path._newton_steps``) still reached? (issue 20's leftover)

Session 5's path ran SMO in chunks with Newton steps on the free set between them; session 7's
active-set method now solves every C after the first, and SMO only checks its answer.  The
Newton rounds are reached only when SMO, started from the active set's answer, has not converged
after a chunk of iterations.  This counts, on the GNTK paper's datasets (L=4, R=2, uniform, jk,
``svm_cv`` paper and nested protocols, 120 values of C, both normalisations), how many SMO chunks
ended unconverged and how many Newton rounds ran, and how many of those rounds changed α.

    .venv/bin/python benchmarks/path_newton_rounds.py --datasets MUTAG,PTC,IMDBBINARY,IMDBMULTI,PROTEINS,NCI1

Results: ``benchmarks/results/path_newton_rounds.txt``.
"""

from __future__ import annotations

import argparse
import time

from common import DATA_DIR, load_dataset


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="MUTAG,PTC,IMDBBINARY,IMDBMULTI,PROTEINS,NCI1")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--protocols", default="paper,nested")
    args = p.parse_args(argv)

    from fastgnn import GNTK
    from fastgnn.evaluate import svm_cv
    from fastgnn.model_selection import path

    counts = {"rounds": 0, "changed": 0}
    original = path._newton_steps  # the instrument: the solver's own private step, counted in place

    def counted(*a, **kw):
        changed = original(*a, **kw)
        counts["rounds"] += 1
        counts["changed"] += bool(changed)
        return changed

    path._newton_steps = counted
    print("dataset protocol newton_rounds rounds_that_changed_alpha accuracy seconds", flush=True)
    for name in args.datasets.split(","):
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        gram = GNTK(num_layers=4, num_mlp_layers=2, scale="uniform", jk=True, progress=False).fit_transform(data)
        for protocol in args.protocols.split(","):
            counts.update(rounds=0, changed=0)
            t0 = time.perf_counter()
            res = svm_cv(gram, data.y, data.folds, protocol=protocol)
            print(f"{name} {protocol} {counts['rounds']} {counts['changed']} {100 * res.mean:.2f} "
                  f"{time.perf_counter() - t0:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
