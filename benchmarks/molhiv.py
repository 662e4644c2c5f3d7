"""ogbg-molhiv with the Nyström GNTK (issue 23.4): time, peak memory, valid and test ROC-AUC under OGB's protocol.

The real molecules (``fastgnn.datasets.load("ogbg-molhiv")`` from ``../shared/datasets/molhiv``: 41,127
graphs, OGB's featurisation and scaffold split; the first load parses the SMILES and caches them under
``runs/datasets``), then for each m in ``--sizes`` and each seed in ``0..--seeds-1``:

1. :class:`fastgnn.gntk.GNTKNystroem` fitted on the *train* graphs (``--rule``: ``stratified`` by label and
   size, or ``uniform``; the landmarks never come from valid or test), at the GNTK of ``--num-layers`` /
   ``--num-mlp-layers`` (uniform scale, jk), ``--dtype``;
2. the features of all 41,127 graphs (``n m`` pairs; the GNTK's ``transform`` picks its engine);
3. :func:`fastgnn.model_selection.holdout.holdout` on them (``--learner``: ridge, whose whole C path is one
   eigendecomposition, or ``LinearSVC``, 1,160 s for the 52 settings at m = 250), C, the normalisation (raw
   or cosine) and the class weight (none or balanced) chosen on valid by ROC-AUC, the test ROC-AUC reported
   once for that choice.

``--gram-from DIR`` (a whole Gram that ``benchmarks/molhiv_exact.py`` wrote, ``DIR/gram.npy``, raw, in the
dataset's order): the same landmarks (:func:`fastgnn.gntk.nystroem.choose_landmarks`, same rule and seed) and
the same features ``Φ = K_nm K_mm^{-1/2}`` (:func:`~fastgnn.gntk.nystroem.inverse_square_root`), with
``K_mm`` and ``K_nm`` read from the Gram's landmark rows instead of computed: the accuracies of many seeds
for the cost of the holdout (``tests/gntk/test_nystroem.py`` checks the two ways agree); its seconds are
then those of reading the Gram, not of the kernel (the ``kernel_from`` column says which).

Recorded per run: the seconds of the load, the landmarks' kernel (``K_mm``), the features (``K_nm``) and the
holdout, the process's peak RSS so far (``ru_maxrss``: run one m per process for a per-m peak), the chosen
setting, valid and test ROC-AUC.  Writes ``--out``.csv and ``--out``_run.txt (header lines, the command, mean
± std over the seeds per m).  GIN reaches 75.58 ± 1.40 test ROC-AUC and GCN 76.06 ± 0.97 on OGB's
leaderboard.  On the loaded 2-core dev machine, one m at a time in the background::

    nohup nice -n 10 .venv/bin/python benchmarks/molhiv.py --sizes 1000 --seeds 1 --dtype float32 \\
        --out benchmarks/results/molhiv_nystroem_m1000 > runs/molhiv_m1000.log 2>&1 &
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
from common import REPO, RESULTS, command_line, header_lines, write_results

MOLHIV_DIR = REPO.parent / "shared" / "datasets"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,2000,4000")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--rule", default="stratified", choices=("stratified", "uniform"))
    p.add_argument("--learner", default="ridge", choices=("ridge", "linear_svc"))
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--num-layers", type=int, default=4)
    p.add_argument("--num-mlp-layers", type=int, default=2)
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--data-dir", default=str(MOLHIV_DIR))
    p.add_argument("--graphs", type=int, default=None, help="a seeded subset of the split's parts (a quick try)")
    p.add_argument("--gram-from", default=None,
                   help="read K_mm and K_nm from DIR/gram.npy (molhiv_exact.py's whole raw Gram) instead of computing")
    p.add_argument("--out", default=str(RESULTS / "molhiv_nystroem"))
    args = p.parse_args()

    from fastgnn import datasets
    from fastgnn.gntk import GNTK, GNTKNystroem
    from fastgnn.gntk.nystroem import choose_landmarks, inverse_square_root
    from fastgnn.model_selection.holdout import CLASS_WEIGHTS, holdout

    t0 = time.perf_counter()
    data = datasets.load("ogbg-molhiv", root=args.data_dir, cache_dir=REPO / "runs" / "datasets", progress=False)
    load_s = time.perf_counter() - t0
    split = data.split
    if args.graphs:  # the same fraction of each part
        rng = np.random.default_rng(0)
        frac = args.graphs / len(data)
        split = {k: np.sort(rng.choice(v, max(2, int(len(v) * frac)), replace=False)) for k, v in split.items()}
    rows_all = np.concatenate([split["train"], split["valid"], split["test"]])
    graphs = [data.graphs[i] for i in rows_all]
    y = data.y[rows_all]
    n_tr, n_va = len(split["train"]), len(split["valid"])
    local = {"train": np.arange(n_tr), "valid": np.arange(n_tr, n_tr + n_va),
             "test": np.arange(n_tr + n_va, len(rows_all))}
    print(f"ogbg-molhiv: {len(data)} graphs loaded in {load_s:.1f} s; {len(rows_all)} used "
          f"({n_tr}/{n_va}/{len(local['test'])})", flush=True)

    gram = None
    if args.gram_from:
        gram = np.load(f"{args.gram_from}/gram.npy", mmap_mode="r")
        if gram.shape != (len(data), len(data)):
            raise SystemExit(f"{args.gram_from}/gram.npy is {gram.shape}, not the whole dataset's "
                             f"{len(data)} x {len(data)} Gram")
    rows, summary = [], []
    for m in (int(s) for s in args.sizes.split(",")):
        found = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if gram is None:
                kernel = GNTK(num_layers=args.num_layers, num_mlp_layers=args.num_mlp_layers, dtype=args.dtype,
                              progress=False)
                ny = GNTKNystroem(kernel, n_components=m, landmarks=args.rule, random_state=seed)
                t0 = time.perf_counter()
                ny.fit([graphs[i] for i in local["train"]], y[local["train"]])
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    phi = ny.transform(graphs)
                transform_s = time.perf_counter() - t0
                rank = ny.rank_
            else:  # the same landmarks and features, K read from the stored Gram
                t0 = time.perf_counter()
                train = local["train"]
                lm = rows_all[choose_landmarks(args.rule, len(train), m, sizes=[graphs[i].num_nodes for i in train],
                                               y=y[train], random_state=seed)]
                norm, _, rank = inverse_square_root(np.asarray(gram[np.ix_(lm, lm)]), GNTKNystroem().rcond)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                phi = np.asarray(gram[lm], dtype=np.float64)[:, rows_all].T @ norm  # K symmetric: K_nm = K_mnᵀ
                transform_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = holdout(phi, y, local, normalizations=("raw", "cosine"), class_weights=CLASS_WEIGHTS,
                          random_state=seed, learner=args.learner)
            holdout_s = time.perf_counter() - t0
            row = {"m": m, "seed": seed, "rule": args.rule, "learner": args.learner, "graphs": len(rows_all),
                   "rank": rank, "kernel_from": args.gram_from or "gntk",
                   "fit_s": round(fit_s, 1), "transform_s": round(transform_s, 1), "holdout_s": round(holdout_s, 1),
                   "total_s": round(fit_s + transform_s + holdout_s, 1), "load_s": round(load_s, 1),
                   "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                   "valid_rocauc": round(100 * res.valid, 2), "test_rocauc": round(100 * res.test, 2),
                   "C": res.choice["C"], "normalization": res.choice["normalization"],
                   "class_weight": res.choice["class_weight"]}
            rows.append(row)
            found.append(row)
            print(row, flush=True)
        summary.append(_summary(m, found))
        print(summary[-1], flush=True)
        config = (f"GNTK L{args.num_layers} R{args.num_mlp_layers} uniform jk {args.dtype}; landmarks {args.rule} "
                  f"from train; {args.learner}, C x normalisation x class weight chosen on valid"
                  + (f"; K_mm and K_nm read from {args.gram_from}/gram.npy (seconds: reading, not the kernel)"
                     if args.gram_from else ""))
        # written after each m: an interrupted run keeps what it measured
        write_results(rows, [*header_lines(), f"command: {command_line()}", config, *summary], args.out)


def _summary(m: int, found: list) -> str:
    def ms(key):
        v = np.array([r[key] for r in found], dtype=float)
        return f"{v.mean():.2f} ± {v.std():.2f}" if len(v) > 1 else f"{v.mean():.2f}"

    return (f"m={m} ({len(found)} seed(s)): test ROC-AUC {ms('test_rocauc')}, valid {ms('valid_rocauc')}; "
            f"{ms('total_s')} s end to end after the load ({ms('fit_s')} K_mm, {ms('transform_s')} K_nm), "
            f"peak RSS {max(r['peak_rss_gb'] for r in found):.2f} GB")


if __name__ == "__main__":
    main()
