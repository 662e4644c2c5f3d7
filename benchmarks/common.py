"""What the benchmark scripts share: their header lines (machine, commit, command, load), CSV
writing, plotting, timing medians, dataset loading, the configuration tables (the benchmark GNTK,
each dataset's best configuration) and those configurations' Grams, and one libsvm comparison of
two Grams (the float32 scripts').

Every script in ``benchmarks/`` imports it by its plain name (``from common import ...``): run as
a script, a file's own folder heads ``sys.path``.  At module level it imports only the standard
library; numpy, torch and fastgnn are imported by the functions that use them, so that a child
process started with ``PYTHONPATH=<a source tree>`` (``redesign_speed.py``) imports that tree's
``fastgnn`` however it got here.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The benchmark datasets in GIN's text format (``NAME/NAME.txt`` and ``NAME/10fold_idx``), never downloaded.
DATA_DIR = REPO.parent / "shared" / "datasets" / "tu"
RESULTS = REPO / "benchmarks" / "results"
#: Where the Grams of :data:`CONFIGS` are kept between runs (:func:`config_gram`); not tracked by git.
GRAM_CACHE = REPO / "runs" / "grams"

#: The benchmark GNTK (issue 3's): L = 4 layers, R = 2 MLP layers, uniform scale, jumping knowledge.
BENCH_GNTK = {"num_layers": 4, "num_mlp_layers": 2, "scale": "uniform", "jk": True}

#: (num_layers, num_mlp_layers, scale, jk) per dataset: ``docs/gntk-results.md``'s best configurations
#: (found by ``fastgnn search``); NCI1 and the COLLAB-sized synthetic set, which have no row there, the
#: benchmark one.
CONFIGS = {
    "MUTAG": (2, 1, "uniform", True),
    "PTC": (4, 1, "uniform", True),
    "PROTEINS": (2, 3, "uniform", True),
    "IMDBBINARY": (2, 3, "uniform", True),
    "IMDBMULTI": (3, 2, "degree", True),
    "NCI1": (4, 2, "uniform", True),
    "COLLAB": (4, 2, "uniform", True),
}
#: The :data:`CONFIGS` datasets with the GIN paper's 10 given folds: all but the COLLAB-sized synthetic set.
FOLDED = [name for name in CONFIGS if name != "COLLAB"]


# --------------------------------------------------------------------------- header lines


def machine_line(threads: int | None = None) -> str:
    """``machine: ``, :func:`fastgnn.environment.describe` (platform, CPU, versions, torch threads,
    ``OMP_NUM_THREADS``), whether the compiled (numba) kernels run, and ``threads``, the run's own thread
    count (e.g. its ``n_jobs``), where it differs from torch's."""
    import torch

    from fastgnn import environment
    from fastgnn.gntk import compiled_tile

    line = f"machine: {environment.describe()}; numba kernels {'on' if compiled_tile.available() else 'OFF'}"
    if threads is not None and threads != torch.get_num_threads():
        line += f"; {threads} thread(s) for this run's jobs"
    return line


def commit_line(repo: Path = REPO) -> str:
    """Short HEAD of ``repo``, and whether its library sources differ from it (others may be editing them)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "HEAD", "--", "src"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not dirty:
        return head
    return f"{head} (+ uncommitted changes under src/, diff sha1 {hashlib.sha1(dirty.encode()).hexdigest()[:10]})"


def header_lines(threads: int | None = None) -> list[str]:
    """The lines a run's output starts with: :func:`machine_line` and ``commit: ``:func:`commit_line`."""
    return [machine_line(threads), f"commit: {commit_line()}"]


def command_line() -> str:
    """The command that started this process, as one would type it again (``nice -n N`` when niced)."""
    python = sys.executable
    if python.startswith(str(REPO) + os.sep):
        python = os.path.relpath(python, REPO)
    niceness = os.nice(0)
    return ("" if niceness == 0 else f"nice -n {niceness} ") + shlex.join([python, *sys.argv])


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, e.g. ``"0.82 0.62 0.30"``."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --------------------------------------------------------------------------- results


def write_csv(rows: list[dict], path: Path, fields: list[str] | None = None) -> None:
    """``rows`` (dicts) as a CSV of ``fields`` (default: the first row's keys), floats to 6 significant
    digits, None as an empty cell, written atomically (a reader never sees half a file)."""
    from fastgnn.io import atomic_path

    fields = list(rows[0]) if fields is None else fields
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items() if k in fields})


def write_results(rows: list[dict], lines: list[str], out) -> None:
    """``out``.csv (:func:`write_csv` of ``rows``) and ``out``_run.txt (``lines``, e.g. :func:`header_lines`
    and the printed summary), both atomically; prints where they went."""
    from fastgnn.io import atomic_path

    write_csv(rows, Path(f"{out}.csv"))
    with atomic_path(Path(f"{out}_run.txt"), ".txt") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print(f"wrote {out}.csv, {out}_run.txt")


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, title: str, fontsize: float = 7) -> None:
    """``fig`` under the super-title ``title`` (the run's header lines), laid out, written atomically as a
    120-dpi PNG at ``path``, then closed."""
    from fastgnn.io import atomic_path

    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    with atomic_path(Path(path), ".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    pyplot().close(fig)


# --------------------------------------------------------------------------- timing


def seconds(fn) -> float:
    """Wall seconds of one call ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(once, repeats: int, max_seconds: float = math.inf) -> float:
    """Median of ``repeats`` calls of ``once()`` (each returns the seconds it measured); a single call
    when the first one, times ``repeats``, exceeds ``max_seconds``."""
    times = [once()]
    if times[0] * repeats <= max_seconds:
        times += [once() for _ in range(repeats - 1)]
    return statistics.median(times)


def spread(times) -> float:
    """(max - min) / median of repeated timings: how far apart the repeats lie, relative."""
    return (max(times) - min(times)) / statistics.median(times)


# --------------------------------------------------------------------------- datasets


def load_dataset(name: str, data_dir=DATA_DIR, *, dtype=None):
    """The benchmark dataset ``name`` from ``data_dir`` (never downloaded), or None, with a line saying
    so, when its files are absent.  ``COLLAB``, whose graph file is absent from ``../shared/datasets/tu``,
    is then :func:`fastgnn.datasets.synthetic_collab` (5000 graphs of the same sizes; a line says so)."""
    from fastgnn import datasets

    data_dir = Path(data_dir)
    found = datasets.find(name, data_dir, cache_dir=data_dir) is not None
    if name == "COLLAB" and not found:
        t0 = time.perf_counter()
        ds = datasets.synthetic_collab() if dtype is None else datasets.synthetic_collab(dtype=dtype)
        print(f"COLLAB: graph file absent under {data_dir}; using synthetic_collab() "
              f"(COLLAB-sized, built in {time.perf_counter() - t0:.1f} s)", flush=True)
        return ds
    if not found:
        print(f"{name}: skipped, no {name}/{name}.txt (nor TU files) under {data_dir}", flush=True)
        return None
    # the cache (archives extracted, big texts parsed) under runs/, never the data folder
    return datasets.load(name, root=data_dir, cache_dir=REPO / "runs" / "datasets", download=False, progress=False,
                         dtype=dtype)


def subset_indices(n: int, k: int | None, seed: int = 0):
    """``k`` of ``range(n)`` drawn without replacement (seeded), sorted; all of them when ``k`` is None or
    at least ``n``."""
    import numpy as np

    if k is None or k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def config_kwargs(name: str) -> dict:
    """The :data:`CONFIGS` configuration of ``name`` as ``GNTK`` keyword arguments."""
    return dict(zip(("num_layers", "num_mlp_layers", "scale", "jk"), CONFIGS[name]))


def config_label(name: str) -> str:
    """``"L4 R2 uniform jk1"``: the :data:`CONFIGS` configuration of ``name``, short."""
    layers, mlp, scale, jk = CONFIGS[name]
    return f"L{layers} R{mlp} {scale} jk{int(jk)}"


def add_config_arguments(parser, *, datasets: list[str], out: str) -> None:
    """The options of a script over :data:`CONFIGS` Grams (:func:`config_grams`): ``--datasets`` (of
    :data:`FOLDED`; default ``datasets``), ``--data-dir``, ``--cache``, ``--threads`` and ``--out`` (default
    ``results/<out>``, a path without suffix)."""
    parser.add_argument("--datasets", nargs="+", default=datasets, choices=FOLDED)
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--cache", default=str(GRAM_CACHE), help="where the Grams are kept ('': not kept)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / out), help="output path without suffix")


def config_grams(args):
    """``(name, dataset, Gram)`` for each of ``args.datasets`` whose files are in ``args.data_dir``: the Gram at
    its :data:`CONFIGS` configuration (:func:`config_gram`, kept in ``args.cache``); the options of
    :func:`add_config_arguments`."""
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is not None:
            yield name, data, config_gram(name, data, args.cache or None)


def config_gram(name: str, data, cache: Path | None = None):
    """The dataset's Gram at its :data:`CONFIGS` configuration (from ``cache`` when there, else computed
    and saved there)."""
    import numpy as np

    from fastgnn import GNTK
    from fastgnn.io import save_npy

    path = None if cache is None else Path(cache) / f"{name}_{config_label(name).replace(' ', '_')}.npy"
    if path is not None and path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    gram = GNTK(**config_kwargs(name), progress=False).fit_transform(data)
    print(f"{name}: Gram in {time.perf_counter() - t0:.1f} s", flush=True)
    if path is not None:
        save_npy(path, gram)
    return gram


# --------------------------------------------------------------------------- two Grams, one SVM


def fit_both(gram_a, gram_b, y, folds, c: float, normalization: str, max_iter: int) -> dict:
    """Both Grams (scaled, then normalised as the protocol does) fitted by one libsvm C-SVM per fold at
    (``normalization``, ``c``) with ``max_iter`` (-1: no cap): ``changed`` test predictions between
    them, ``tested`` graphs, ``right`` (correct predictions of each), ``iterations`` (libsvm's, per fit)."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import SVC

    from fastgnn.evaluate import cosine_normalize, scale_gram

    def transform(k):
        k = scale_gram(k)
        return cosine_normalize(k) if normalization == "cosine" else k

    grams = [transform(gram_a), transform(gram_b)]
    fit = {"changed": 0, "tested": 0, "right": [0, 0], "iterations": []}
    for tr, te in folds:
        tr, te = np.asarray(tr), np.asarray(te)
        preds = []
        for k in grams:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # reported as ``iterations`` == max_iter
                model = SVC(kernel="precomputed", C=c, max_iter=max_iter).fit(k[np.ix_(tr, tr)], y[tr])
            fit["iterations"].append(int(np.max(model.n_iter_)))
            preds.append(model.predict(k[np.ix_(te, tr)]))
        fit["changed"] += int((preds[0] != preds[1]).sum())
        fit["tested"] += len(te)
        fit["right"] = [r + int((pred == y[te]).sum()) for r, pred in zip(fit["right"], preds)]
    return fit
