"""The GNTK hyperparameter search of Du et al. (2019), under the paper, nested and fully nested protocols.

The grid is ``num_layers × num_mlp_layers × scale × jk`` (and C, and the Gram's
normalisation).  A GNTK pass at the largest depth yields the readouts of every
shallower depth, with or without jk (:meth:`fastgnn.GNTK.readouts`), so the
kernel is computed once per ``(num_mlp_layers, scale)``.  Every configuration's
Gram then gives its accuracy curves (:mod:`fastgnn.model_selection.protocols`:
test accuracy per (normalisation, C, fold), and with the nested protocols the
inner-CV accuracy too), by the warm-started C path solver by default.  The
protocols are selections from those curves.

Stages (each timed in ``SearchResult.stage_seconds``):

1. ``kernels``: the readouts, cached as ``.npy`` under ``cache_dir``.
2. ``screen``: every configuration's paper-protocol curves (all of them, unless
   ``refine_top`` is None, in which case this stage evaluates every protocol).
3. ``refine``: with ``refine_top=K``, the K best configurations of the screen
   get their inner curves (nested protocol).
4. ``fully_nested``: with ``fully_nested=True``, every configuration's inner curves,
   and the configuration chosen inside each training fold.

Every configuration's curves are cached under ``cache_dir/svm/`` (keyed by the
data, the folds, the grid and the solver), so a killed search resumes where it
stopped; one progress bar with an ETA runs over all SVM paths of a stage.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fastgnn import gram as grams_
from fastgnn.gntk import GNTK, combine_readouts
from fastgnn.gntk.aggregate import graph_key
from fastgnn.gntk.params import options
from fastgnn.io import atomic_path, save_npy
from fastgnn.model_selection.protocols import (
    PROTOCOLS,
    Curves,
    check_folds,
    check_grid,
    grid_curves,
    select_fully_nested,
    select_paper,
)
from fastgnn.model_selection.runner import Runner
from fastgnn.model_selection.solvers import DEFAULT_C_GRID, svm_solver

__all__ = ["SearchResult", "gntk_search", "DEFAULT_GRID", "dataset_digest"]

#: The grid searched by default: the GNTK paper's hyperparameters.
DEFAULT_GRID = {
    "num_layers": (2, 3, 4, 5, 6),
    "num_mlp_layers": (1, 2, 3),
    "scale": options("scale"),
    "jk": options("jk"),
}


@dataclass
class SearchResult:
    """Every configuration's accuracy, and the best one under each protocol.

    ``rows`` holds one dict per configuration: ``num_layers``, ``num_mlp_layers``,
    ``scale``, ``jk``, ``screen_mean`` (paper protocol, every row), and for the
    evaluated rows, per protocol, ``{protocol}_mean``, ``{protocol}_std``
    (fractions), ``paper_C``, ``paper_normalization``; ``kernel_seconds`` is the
    time of the GNTK pass that produced the configuration's Gram (shared by the
    configurations of one ``(num_mlp_layers, scale)``).  ``fully_nested`` holds
    the fully nested estimate (``mean``, ``std``, ``fold_accuracies``, ``choices``:
    per fold the configuration, normalisation and C chosen inside it), or None.
    """

    dataset: str
    rows: list = field(default_factory=list)
    protocols: tuple = PROTOCOLS
    kernel_seconds: float = 0.0
    eval_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)
    fully_nested: dict | None = None

    def best(self, protocol: str) -> dict:
        """The evaluated row with the best ``protocol`` mean (ties: the shallower, then the first row)."""
        key = f"{protocol}_mean"
        rows = self.evaluated()
        return max(rows, key=lambda r: (r[key], -r["num_layers"], -rows.index(r)))

    def evaluated(self) -> list:
        """The rows evaluated under every protocol (all rows, unless the search was two-stage)."""
        return [r for r in self.rows if all(f"{p}_mean" in r for p in self.protocols)]

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "kernel_seconds": self.kernel_seconds,
            "eval_seconds": self.eval_seconds,
            "stage_seconds": self.stage_seconds,
            "best": {p: self.best(p) for p in self.protocols},
            "fully_nested": None if self.fully_nested is None else {
                **self.fully_nested, "fold_accuracies": [float(a) for a in self.fully_nested["fold_accuracies"]]},
            "rows": self.rows,
        }

    def table(self) -> str:
        head = f"{'L':>2} {'R':>2} {'scale':>8} {'jk':>3} " + " ".join(
            f"{p + ' acc %':>16}" for p in self.protocols
        )
        lines = [head]
        for r in sorted(self.evaluated(), key=lambda r: -r[f"{self.protocols[0]}_mean"]):
            accs = " ".join(
                f"{100 * r[f'{p}_mean']:7.2f} ± {100 * r[f'{p}_std']:5.2f}" for p in self.protocols
            )
            lines.append(
                f"{r['num_layers']:>2} {r['num_mlp_layers']:>2} {r['scale']:>8} "
                f"{'yes' if r['jk'] else 'no':>3} {accs}"
            )
        if self.fully_nested is not None:
            fn = self.fully_nested
            lines.append(f"fully nested (configuration chosen inside each training fold): "
                         f"{100 * fn['mean']:.2f} ± {100 * fn['std']:.2f}")
        return "\n".join(lines)


def gntk_search(
    dataset,
    *,
    grid: dict | None = None,
    protocols=PROTOCOLS,
    C_grid=None,
    refine_top: int | None = None,
    fully_nested: bool = False,
    solver: str = "path",
    normalizations=grams_.NORMALIZATIONS,
    inner_folds: int = 5,
    seed: int = 0,
    cache_dir=None,
    device="cpu",
    dtype=torch.float64,
    max_memory="auto",
    checkpoint_dir=None,
    n_jobs=None,
    executor: str = "local",
    progress: bool = True,
    log=print,
) -> SearchResult:
    """Search the GNTK grid on ``dataset`` (a :class:`fastgnn.GraphDataset`).

    Args:
        grid: dict with any of the keys of :data:`DEFAULT_GRID`.
        protocols: ``"paper"`` and/or ``"nested"`` (see :mod:`fastgnn.model_selection.protocols`).
        C_grid: the values of C, default :data:`fastgnn.evaluate.DEFAULT_C_GRID` (the authors'
            120); the inner grid of the nested protocols is the same.
        refine_top: a two-stage search: every configuration is screened by the paper
            protocol, and only the ``refine_top`` best get the nested protocol's inner CV.
            None: every configuration is evaluated under every protocol.
        fully_nested: also estimate the accuracy of the whole search, the configuration
            chosen inside each training fold (inner curves of every configuration).
        solver: one of :data:`fastgnn.model_selection.solvers.SOLVERS`, ``"path"`` (default) or
            ``"libsvm"`` (as in :func:`fastgnn.evaluate.svm_cv`).
        normalizations, inner_folds, seed: as in :func:`fastgnn.evaluate.svm_cv`.
        cache_dir: where readouts and SVM curves are saved and looked up; None: no cache.
        max_memory, checkpoint_dir, device, dtype: passed to :class:`fastgnn.GNTK`.
        n_jobs: threads over the SVM paths (None: all cores; ``executor="local"`` only).
        executor: one of :data:`fastgnn.executors.EXECUTORS`: ``"local"`` (threads in this process)
            or ``"dask"``: the GNTK tiles and the (normalisation, fold) C-path tasks run on the active
            ``distributed.Client`` (:class:`fastgnn.model_selection.runner.Runner`); the results are
            the same.
        progress: tqdm bars (kernels, and each stage's SVM paths with an ETA).
        log: a function taking one string (progress lines), or None.

    Cost: ``|num_mlp_layers| · |scale|`` GNTK passes at the largest depth; per
    configuration screened, ``F · |normalizations|`` C paths; per configuration
    refined (or fully nested), ``inner_folds`` times more, on 80 % of the items.
    """
    grid = {**DEFAULT_GRID, **(grid or {})}
    protocols = tuple(protocols)
    if not protocols or any(p not in PROTOCOLS for p in protocols):
        raise ValueError(f"protocols must be a non-empty subset of {PROTOCOLS}, got {protocols!r}")
    if refine_top is not None and (not isinstance(refine_top, int | np.integer) or refine_top < 1):
        raise ValueError(f"refine_top must be None or a positive integer, got {refine_top!r}")
    C = check_grid(DEFAULT_C_GRID if C_grid is None else C_grid, "C_grid")
    norms = grams_.check_normalizations(normalizations)
    solve = svm_solver(solver)
    log = log or (lambda s: None)
    y = np.asarray(dataset.y)
    folds = check_folds(dataset.folds, y)
    result = SearchResult(dataset=dataset.name, protocols=protocols)
    fingerprint = _fingerprint(dataset, folds, C, norms, solver, inner_folds, seed)
    svm_cache = None if cache_dir is None else Path(cache_dir) / "svm"
    runner = Runner(n_jobs, executor)

    # 1. kernels
    t0 = time.perf_counter()
    max_layers = max(grid["num_layers"])
    groups = list(itertools.product(grid["num_mlp_layers"], grid["scale"]))
    parts = {}
    for R, scale in groups:
        parts[R, scale], seconds = _readouts(dataset, max_layers, R, scale, cache_dir, device, dtype, max_memory,
                                             progress, log, checkpoint_dir, executor)
        result.kernel_seconds += seconds
        for L, jk in itertools.product(grid["num_layers"], grid["jk"]):
            result.rows.append({"num_layers": L, "num_mlp_layers": R, "scale": scale, "jk": jk,
                                "kernel_seconds": seconds})
    result.stage_seconds["kernels"] = time.perf_counter() - t0

    def curves(row, nested: bool) -> Curves:
        stem = None if svm_cache is None else svm_cache / f"{fingerprint}_{_config_name(row)}"
        if stem is not None:  # a nested file holds the paper curves too
            for kind in ("nested",) if nested else ("nested", "paper"):
                if stem.with_name(f"{stem.name}_{kind}.npz").exists():
                    with np.load(stem.with_name(f"{stem.name}_{kind}.npz")) as z:
                        return Curves.from_npz(z)
        path = None if stem is None else stem.with_name(f"{stem.name}_{'nested' if nested else 'paper'}.npz")
        gram = combine_readouts(parts[row["num_mlp_layers"], row["scale"]], row["num_layers"], row["jk"])
        grams = grams_.transform(gram, norms)
        cv = grid_curves(grams, y, folds, C, solve, nested=nested, inner_folds=inner_folds, seed=seed, run=runner,
                         weigh=_paths_per_task)
        if path is not None:
            with atomic_path(path, ".npz") as tmp:
                np.savez(tmp, **cv.to_npz())
        return cv

    # 2. screen (or, without refine_top, everything)
    evaluate_all = refine_top is None
    nested_everywhere = "nested" in protocols and evaluate_all
    stage = "screen" if not evaluate_all else "evaluate"
    t0 = time.perf_counter()
    per_config = len(folds) * len(norms) * ((1 + inner_folds) if nested_everywhere else 1)
    runner.start(len(result.rows) * per_config, f"{dataset.name} {stage}", progress, unit="path")
    found = {}
    for row in result.rows:
        cv = curves(row, nested_everywhere)
        found[_config_name(row)] = cv
        _fill_row(row, cv, protocols if evaluate_all else ())
        runner.advance(per_config)
        log(f"  {stage} {_describe(row)}: paper {100 * row['screen_mean']:.2f}%"
            + (f", nested {100 * row['nested_mean']:.2f}%" if "nested_mean" in row else ""))
    runner.stop()
    result.stage_seconds["screen"] = time.perf_counter() - t0

    # 3. refine the top K
    if not evaluate_all:
        t0 = time.perf_counter()
        order = sorted(range(len(result.rows)), key=lambda i: (-result.rows[i]["screen_mean"], i))[:refine_top]
        nested = "nested" in protocols
        per_config = len(folds) * len(norms) * ((1 + inner_folds) if nested else 1)
        runner.start(len(order) * per_config, f"{dataset.name} refine top {refine_top}", progress, unit="path")
        for i in order:
            row = result.rows[i]
            cv = curves(row, nested)
            found[_config_name(row)] = cv
            _fill_row(row, cv, protocols)
            runner.advance(per_config)
            log(f"  refine {_describe(row)}: " + ", ".join(f"{p} {100 * row[f'{p}_mean']:.2f}%" for p in protocols))
        runner.stop()
        result.stage_seconds["refine"] = time.perf_counter() - t0

    # 4. fully nested: every configuration's inner curves, the configuration chosen per fold
    if fully_nested:
        t0 = time.perf_counter()
        per_config = len(folds) * len(norms) * (1 + inner_folds)
        runner.start(len(result.rows) * per_config, f"{dataset.name} fully nested", progress, unit="path")
        inner = {}
        for row in result.rows:
            name = _config_name(row)
            cv = found.get(name)
            inner[name] = cv if cv is not None and cv.inner is not None else curves(row, True)
            runner.advance(per_config)
        runner.stop()
        fn = select_fully_nested(inner)
        by_name = {_config_name(r): r for r in result.rows}
        fn["choices"] = [{**{k: by_name[c][k] for k in ("num_layers", "num_mlp_layers", "scale", "jk")},
                          "normalization": nm, "C": c_value} for c, nm, c_value in fn["choices"]]
        result.fully_nested = fn
        result.stage_seconds["fully_nested"] = time.perf_counter() - t0
        log(f"  fully nested: {100 * fn['mean']:.2f} ± {100 * fn['std']:.2f}%")
    result.eval_seconds = sum(v for k, v in result.stage_seconds.items() if k != "kernels")
    return result


def _fill_row(row, cv: Curves, protocols) -> None:
    """Write the protocols' figures of one configuration's curves into its row (and its screen_mean)."""
    paper = select_paper(cv)
    row["screen_mean"] = paper["mean"]
    if "paper" in protocols:
        row["paper_mean"], row["paper_std"] = paper["mean"], paper["std"]
        row["paper_C"], row["paper_normalization"] = paper["C"], paper["normalization"]
    if "nested" in protocols:
        nested = select_fully_nested({None: cv})
        row["nested_mean"], row["nested_std"] = nested["mean"], nested["std"]


def _describe(row) -> str:
    return f"L={row['num_layers']} R={row['num_mlp_layers']} scale={row['scale']} jk={int(row['jk'])}"


def _config_name(row) -> str:
    return f"L{row['num_layers']}_R{row['num_mlp_layers']}_{row['scale']}_jk{int(row['jk'])}"


def _paths_per_task(args) -> list[int]:
    """Progress units of :func:`~fastgnn.model_selection.protocols.fold_curves` tasks: C paths, one per
    task plus one per inner fold."""
    return [1 + (len(a[6]) if a[6] is not None else 0) for a in args]


def _readouts(dataset, max_layers, R, scale, cache_dir, device, dtype, max_memory, progress, log,
              checkpoint_dir=None, executor="local"):
    name = f"{dataset.name}-{dataset_digest(dataset)}_R{R}_{scale}_{str(dtype).replace('torch.', '')}"
    if cache_dir is not None:
        for path in sorted(Path(cache_dir).glob(f"{name}_L*.npy")):
            depth = int(path.stem.rsplit("_L", 1)[1])
            if depth >= max_layers:
                parts = np.load(path, mmap_mode="r")
                if parts.shape[1] == len(dataset):
                    log(f"GNTK R={R} scale={scale}: reusing {path}")
                    return parts, 0.0
    est = GNTK(num_layers=max_layers, num_mlp_layers=R, scale=scale, device=device, dtype=dtype,
               max_memory=max_memory, progress=progress, checkpoint_dir=checkpoint_dir, executor=executor)
    t0 = time.perf_counter()
    parts = est.readouts(dataset)
    seconds = time.perf_counter() - t0
    log(f"GNTK R={R} scale={scale} up to num_layers={max_layers}: {seconds:.1f} s")
    if cache_dir is not None:
        save_npy(Path(cache_dir) / f"{name}_L{max_layers}.npy", parts)
    return parts, seconds


def dataset_digest(dataset) -> str:
    """A short digest of the graphs (structure and features), so a cache never serves other data."""
    h = hashlib.blake2b(digest_size=6)
    for g in dataset.graphs:
        h.update(graph_key(g.edge_index, g.x, g.num_nodes))
    return h.hexdigest()


def _fingerprint(dataset, folds, grid, norms, solver, inner_folds, seed) -> str:
    """Names the SVM curves of one search setting: data, labels, folds, grid, solver, inner CV."""
    h = hashlib.blake2b(digest_size=8)
    h.update(dataset_digest(dataset).encode())
    h.update(np.asarray(dataset.y).astype(np.float64).tobytes())
    for tr, te in folds:
        h.update(np.asarray(tr, dtype=np.int64).tobytes() + b"|" + np.asarray(te, dtype=np.int64).tobytes())
    h.update(np.asarray(grid, dtype=np.float64).tobytes())
    h.update(repr((tuple(norms), solver, int(inner_folds), int(seed))).encode())
    return f"{dataset.name}-{h.hexdigest()}"
