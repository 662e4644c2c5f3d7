"""``fastgnn demo``: the whole job on an embedded default, in under a minute.

The GNTK (its default hyperparameters) of MUTAG from ``--data-dir`` (an error naming it when it does not
hold MUTAG), or without ``--data-dir`` from ``$FASTGNN_DATA`` or the cache, else of the generated dataset;
its 10-fold SVM accuracy under every protocol; the time taken; a heat map of the Gram.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastgnn import datasets
from fastgnn.cli import FOLDER
from fastgnn.cli.common import add_common, describe_estimator, estimator_config, print_json, versions
from fastgnn.evaluate import svm_cv
from fastgnn.gntk import GNTK
from fastgnn.io import save_json
from fastgnn.model_selection.protocols import PROTOCOLS
from fastgnn.plot import gram_heatmap

__all__ = ["add_subparser", "run", "DATASET", "FALLBACK"]

#: the demo's dataset when its files are found, else :data:`FALLBACK` (generated, always there)
DATASET = "MUTAG"
FALLBACK = "synthetic"


def add_subparser(subparsers):
    """Register ``demo``; its ``func`` is :func:`run`."""
    d = subparsers.add_parser("demo", help="the main job on an embedded default, in under a minute",
                              description=f"GNTK of {DATASET} (from --data-dir, which must hold it; without "
                                          "--data-dir from $FASTGNN_DATA or the cache, else the generated "
                                          "dataset), its 10-fold accuracy, the time taken and a heat map.")
    d.add_argument("--out", default="fastgnn-demo", help="folder for the PNG and JSON (default fastgnn-demo)")
    add_common(d)
    d.set_defaults(func=run, outputs={"out": FOLDER})
    return d


def run(args) -> int:
    """Run ``fastgnn demo`` for parsed ``args``; returns the exit status."""
    t_start = time.perf_counter()
    # --data-dir given: it must hold MUTAG (a wrong folder is an error naming it, never the generated data)
    name = DATASET if args.data_dir is not None or datasets.find(DATASET, None) else FALLBACK
    data = datasets.load(name, args.data_dir, download=False)
    est = GNTK(progress=None if not args.json else False)  # the estimator's default hyperparameters
    t0 = time.perf_counter()
    gram = est.fit_transform(data)
    kernel_s = time.perf_counter() - t0
    results = {p: svm_cv(gram, data.y, data.folds, protocol=p) for p in PROTOCOLS}
    out = Path(args.out)
    png = gram_heatmap(gram, data.y, out / f"gntk_{name.lower()}.png",
                       title=f"GNTK of {name} ({len(data)} graphs)\n{describe_estimator(est)}")
    summary = {
        "dataset": data.stats(),
        "config": estimator_config(est),
        "kernel_seconds": kernel_s,
        "accuracy": {p: r.to_dict() for p, r in results.items()},
        "heatmap": str(png),
        "total_seconds": time.perf_counter() - t_start,
        "versions": versions(),
    }
    save_json(out / "demo.json", summary)
    if args.json:
        print_json(summary)
        return 0
    s = data.stats()
    print(f"dataset     {name}: {s['graphs']} graphs, {s['classes']} classes, "
          f"avg {s['avg_nodes']:.1f} nodes" + ("" if name == DATASET else
                                              f" (generated; pass --data-dir for {DATASET})"))
    print(f"kernel      GNTK {describe_estimator(est)}: {kernel_s:.2f} s "
          f"({len(data) * (len(data) + 1) // 2} graph pairs)")
    for p, r in results.items():
        print(f"accuracy    {r.n_folds}-fold SVM, {p:>6} protocol: {100 * r.mean:.2f} ± {100 * r.std:.2f} %")
    print(f"heat map    {png}")
    print(f"total       {summary['total_seconds']:.1f} s")
    return 0
