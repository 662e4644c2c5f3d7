"""Stage ``sketch``: accuracy and kernel time against the sketch size b (the paper's supplementary
analysis), on the batched sketched kernel.

At the dataset's configuration, the exact Gram (``b = None``) and ``GNTK(sketch_size=b)`` for each
b (AMS sketches, ``seed``) are computed by the batched engine and timed (after an untimed
warm-up on a few graphs); each Gram's largest
entry difference from the exact one over the exact one's largest entry (``kernel_error``) is
reported with its 10-fold C-SVM accuracy under the paper protocol and the nested one
(:func:`fastgnn.evaluate.svm_cv`, in percent).  A graph of N <= b nodes is aggregated exactly
(see :class:`fastgnn.GNTK`), so b at least the largest graph gives the exact kernel.

Cost: 1 + len(sizes) batched Grams (a sketched one costs O(N² b) per pair instead of O(N³)) and
two SVM cross-validations each.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from fastgnn.evaluate import svm_cv
from fastgnn.gntk import GNTK
from fastgnn.reproduce.kernel_time import warm_up
from fastgnn.reproduce.settings import CONFIG_KEYS

__all__ = ["run"]


def run(dataset, config: dict, settings, *, progress=True, log=print) -> dict:
    """Rows ``{b, seconds, kernel_error, paper_protocol, paper_protocol_std, nested, nested_std}``."""
    C_grid = None if settings.C_grid is None else np.asarray(settings.C_grid)
    rows, exact = [], None
    for b in (None, *settings.sketch_sizes):
        est = GNTK(num_layers=config["num_layers"], num_mlp_layers=config["num_mlp_layers"], scale=config["scale"],
                   jk=bool(config["jk"]), sketch_size=None if b is None else int(b), seed=settings.seed,
                   progress=progress)
        with warnings.catch_warnings():  # the sizes are the stage's own: whether sketching pays is what it measures
            warnings.filterwarnings("ignore", message=r"GNTK\(sketch_size=", category=UserWarning)
            warm_up(est, dataset)
            t0 = time.perf_counter()
            gram = est.fit_transform(dataset)
            seconds = time.perf_counter() - t0
        if exact is None:
            exact = gram
        row = {"b": b, "seconds": seconds, "kernel_error": float(np.abs(gram - exact).max() / np.abs(exact).max())}
        for protocol, key in (("paper", "paper_protocol"), ("nested", "nested")):
            res = svm_cv(gram, dataset.y, dataset.folds, protocol=protocol, C_grid=C_grid)
            row[key], row[f"{key}_std"] = 100.0 * res.mean, 100.0 * res.std
        rows.append(row)
        log(f"[sketch] {dataset.name}: b={'exact' if b is None else b}: {seconds:.3g} s, kernel error "
            f"{row['kernel_error']:.2e}, paper {row['paper_protocol']:.2f} %, nested {row['nested']:.2f} %")
    max_nodes = max(g.num_nodes for g in dataset.graphs)
    return {"dataset": dataset.name, "config": {k: config[k] for k in CONFIG_KEYS},
            "max_nodes": max_nodes, "rows": rows}
