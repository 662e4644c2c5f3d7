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

1. ``kernels``: the readouts of each ``(num_mlp_layers, scale)`` pass, cached as ``.npy`` under
   ``cache_dir``; a pass not in the cache is computed when a configuration of it first needs curves
   (inside the next stage, its time counted here), so each pass's configurations are screened as soon
   as it ends, and a pass whose configurations' curves are all cached is never computed (the cache may
   keep only the readouts' small metadata: their digest keys the curves).
2. ``screen``: every configuration's paper-protocol curves (all of them, unless
   ``refine_top`` is None, in which case this stage evaluates every protocol).
3. ``refine``: with ``refine_top=K``, the K best configurations of the screen
   get their inner curves (nested protocol).
4. ``fully_nested``: with ``fully_nested=True``, every configuration's inner curves,
   and the configuration chosen inside each training fold.

Every configuration's curves are cached under ``cache_dir/svm/``, so a killed search resumes where
it stopped; one progress bar with an ETA runs over all SVM paths of a stage.

**What the cache serves.**  A cached file is used only for the request it was made for.  The
readouts' file is named and keyed by :func:`kernel_key` (the graphs' digest, every GNTK parameter
that can change a value: all of :meth:`fastgnn.GNTK.get_params` but :data:`NOT_KERNEL_PARAMS`, with
the device's class and the dtype's name, and :data:`CACHE_FORMAT`); the curves' files by
:func:`curves_key` (that kernel key and the readouts' own digest, so the engine that computed
them, the labels, folds, C grid, normalisations, solver with its tolerance, inner folds, seed and
the configuration).  Each file carries its key and a digest of its contents
(:func:`fastgnn.io.save_npz_checked`, :func:`fastgnn.io.save_npy_checked`): a truncated, damaged,
edited or substituted file is recomputed with a one-line warning naming it.  Two searches sharing
``cache_dir`` share the work: a configuration (or a kernel) being computed by one is locked
(:func:`fastgnn.io.file_lock`, under ``cache_dir/locks``); the other does the rest first, then
reads it.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fastgnn import gram as grams_
from fastgnn.gntk import GNTK, combine_readouts
from fastgnn.gntk.aggregate import graph_key
from fastgnn.gntk.params import options
from fastgnn.io import (
    checked_meta,
    digest,
    file_lock,
    load_npy_checked,
    load_npz_checked,
    save_npy_checked,
    save_npz_checked,
    sweep_temporaries,
)
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

__all__ = ["SearchResult", "gntk_search", "DEFAULT_GRID", "dataset_digest", "kernel_key", "kernel_params", "curves_key",
           "CACHE_FORMAT", "NOT_KERNEL_PARAMS"]

#: the format of the search's cache files, part of every key (2: keys and digests checked on read)
CACHE_FORMAT = 2
#: the GNTK parameters that cannot change the readouts' values, left out of :func:`kernel_key` (every
#: other parameter, present or added later, is in it): the depth (the file holds every depth up to its
#: own), the combination (``jk``, ``normalize``: applied after), the progress bar and the checkpoint folder
NOT_KERNEL_PARAMS = ("num_layers", "jk", "normalize", "progress", "checkpoint_dir")

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
    configurations of one ``(num_mlp_layers, scale)``; 0 when read from the cache).  ``stage_seconds``: the wall
    time of each stage in this run (a pass computed inside a later stage counts as the kernels');
    ``work_seconds``: what each stage's results took to make, in whichever run made them (the readouts'
    metadata and the curves' files record it), so that a search resumed across runs or machines still
    reports its whole cost (a pass resumed from its checkpointed tiles counts the seconds the earlier runs
    recorded for them, :attr:`GNTK.resumed_time_ <fastgnn.GNTK>`: tiles saved by a fastgnn older than that
    record count nothing; "kernels" is absent where an older cache recorded no time).  ``fully_nested`` holds
    the fully nested estimate (``mean``, ``std``, ``fold_accuracies``, ``choices``:
    per fold the configuration, normalisation and C chosen inside it), or None.
    """

    dataset: str
    rows: list = field(default_factory=list)
    protocols: tuple = PROTOCOLS
    kernel_seconds: float = 0.0
    eval_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)
    work_seconds: dict = field(default_factory=dict)
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
            "work_seconds": self.work_seconds,
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
    svm_cache = None if cache_dir is None else Path(cache_dir) / "svm"
    runner = Runner(n_jobs, executor)

    # 1. kernels: each pass read from the cache, or computed when a configuration of it first needs it (in the
    # later stages, whose times leave it out: it counts as the kernels'), so that a search screens each pass's
    # configurations as soon as the pass ends, and never computes a pass whose configurations are all cached
    t0 = time.perf_counter()
    max_layers = max(grid["num_layers"])
    groups = list(itertools.product(grid["num_mlp_layers"], grid["scale"]))
    passes = {}
    for R, scale in groups:
        passes[R, scale] = _Readouts(dataset, max_layers, R, scale, cache_dir, device, dtype, max_memory, progress,
                                     log, checkpoint_dir, executor)
        for L, jk in itertools.product(grid["num_layers"], grid["jk"]):
            result.rows.append({"num_layers": L, "num_mlp_layers": R, "scale": scale, "jk": jk,
                                "kernel_seconds": 0.0})
    result.stage_seconds["kernels"] = time.perf_counter() - t0
    deferred = {"seconds": 0.0}  # the passes' seconds, run inside the later stages
    work = {}  # per stage, the seconds its results took to make, in whichever run made them (see SearchResult)

    def pass_of(row, compute: bool) -> _Readouts:
        found = passes[row["num_mlp_layers"], row["scale"]]
        if compute and found.parts is None:
            seconds = found.ensure()
            deferred["seconds"] += seconds
            result.kernel_seconds += seconds
            result.stage_seconds["kernels"] += seconds
            for r in result.rows:
                if (r["num_mlp_layers"], r["scale"]) == (row["num_mlp_layers"], row["scale"]):
                    r["kernel_seconds"] = seconds
        return found

    def cached_as(row, kernel: dict) -> tuple[dict, Path]:
        """The key of the row's curves and their files' stem (``<stem>_paper.npz``, ``<stem>_nested.npz``)."""
        base = curves_key(kernel=kernel, config=row, y=y, folds=folds, C_grid=C, norms=norms, solver=solve,
                          inner_folds=inner_folds, seed=seed)
        return base, svm_cache / f"{dataset.name}-{digest(base)[:16]}_{_config_name(row)}"

    if svm_cache is not None:  # where a resumed search stands, before it starts
        def has_curves(row) -> bool:
            key = passes[row["num_mlp_layers"], row["scale"]].key
            stem = None if key is None else cached_as(row, key)[1]
            return stem is not None and any(stem.with_name(f"{stem.name}_{kind}.npz").exists()
                                            for kind in ("paper", "nested"))

        done = sum(has_curves(r) for r in result.rows)
        read = sum(p.parts is not None for p in passes.values())
        named = sum(p.parts is None and p.key is not None for p in passes.values())
        log(f"{dataset.name}: {len(passes)} kernel passes ({read} in the cache, {named} known by their metadata, "
            f"{len(passes) - read - named} to compute); {done} of {len(result.rows)} configurations have curves "
            "in the cache")

    def curves(row, nested: bool, wait: bool = True) -> Curves | None:
        """The row's curves: from the cache when a file made for this request is there, else computed (and
        saved).  With ``wait=False``, None at once when another search is computing them."""
        if svm_cache is None:
            return _compute_curves(pass_of(row, True).parts, row, nested, norms, y, folds, C, solve, inner_folds,
                                   seed, runner)
        kernel = pass_of(row, False).key or pass_of(row, True).key  # the key is known once the pass is read
        base, stem = cached_as(row, kernel)
        with file_lock(svm_cache / "locks" / f"{stem.name}.lock", wait=wait, on_wait=log) as held:
            if not held:
                return None
            for kind in ("nested",) if nested else ("paper", "nested"):  # a nested file holds the paper curves too
                path = stem.with_name(f"{stem.name}_{kind}.npz")
                sweep_temporaries(path.parent, path.name)
                arrays = load_npz_checked(path, {**base, "nested": kind == "nested"})
                if arrays is not None:
                    return Curves.from_npz(arrays)
            readouts = pass_of(row, True).parts
            cv = _compute_curves(readouts, row, nested, norms, y, folds, C, solve, inner_folds, seed, runner)
            kind = "nested" if nested else "paper"
            save_npz_checked(stem.with_name(f"{stem.name}_{kind}.npz"), cv.to_npz(), {**base, "nested": nested})
        return cv

    # 2. screen (or, without refine_top, everything)
    evaluate_all = refine_top is None
    nested_everywhere = "nested" in protocols and evaluate_all
    stage = "screen" if not evaluate_all else "evaluate"
    t0 = time.perf_counter()
    k0 = deferred["seconds"]
    per_config = len(folds) * len(norms) * ((1 + inner_folds) if nested_everywhere else 1)
    runner.start(len(result.rows) * per_config, f"{dataset.name} {stage}", progress, unit="path")
    found = {}
    for row, cv in _shared(result.rows, lambda row, wait: curves(row, nested_everywhere, wait)):
        found[_config_name(row)] = cv
        work[stage] = work.get(stage, 0.0) + cv.seconds
        _fill_row(row, cv, protocols if evaluate_all else ())
        runner.advance(per_config)
        log(f"  {stage} {_describe(row)}: paper {100 * row['screen_mean']:.2f}%"
            + (f", nested {100 * row['nested_mean']:.2f}%" if "nested_mean" in row else ""))
    runner.stop()
    result.stage_seconds["screen"] = time.perf_counter() - t0 - (deferred["seconds"] - k0)

    # 3. refine the top K
    if not evaluate_all:
        t0 = time.perf_counter()
        k0 = deferred["seconds"]
        order = sorted(range(len(result.rows)), key=lambda i: (-result.rows[i]["screen_mean"], i))[:refine_top]
        nested = "nested" in protocols
        per_config = len(folds) * len(norms) * ((1 + inner_folds) if nested else 1)
        runner.start(len(order) * per_config, f"{dataset.name} refine top {refine_top}", progress, unit="path")
        for row, cv in _shared([result.rows[i] for i in order], lambda row, wait: curves(row, nested, wait)):
            found[_config_name(row)] = cv
            work["refine"] = work.get("refine", 0.0) + cv.seconds
            _fill_row(row, cv, protocols)
            runner.advance(per_config)
            log(f"  refine {_describe(row)}: " + ", ".join(f"{p} {100 * row[f'{p}_mean']:.2f}%" for p in protocols))
        runner.stop()
        result.stage_seconds["refine"] = time.perf_counter() - t0 - (deferred["seconds"] - k0)

    # 4. fully nested: every configuration's inner curves, the configuration chosen per fold
    if fully_nested:
        t0 = time.perf_counter()
        k0 = deferred["seconds"]
        per_config = len(folds) * len(norms) * (1 + inner_folds)
        runner.start(len(result.rows) * per_config, f"{dataset.name} fully nested", progress, unit="path")
        inner = {}
        have = [r for r in result.rows if getattr(found.get(_config_name(r)), "inner", None) is not None]
        for row in have:
            inner[_config_name(row)] = found[_config_name(row)]
            runner.advance(per_config)
        work["fully_nested"] = 0.0
        for row, cv in _shared([r for r in result.rows if r not in have], lambda row, wait: curves(row, True, wait)):
            inner[_config_name(row)] = cv
            work["fully_nested"] += cv.seconds
            runner.advance(per_config)
        inner = {_config_name(r): inner[_config_name(r)] for r in result.rows}  # the grid's order
        runner.stop()
        fn = select_fully_nested(inner)
        by_name = {_config_name(r): r for r in result.rows}
        fn["choices"] = [{**{k: by_name[c][k] for k in ("num_layers", "num_mlp_layers", "scale", "jk")},
                          "normalization": nm, "C": c_value} for c, nm, c_value in fn["choices"]]
        result.fully_nested = fn
        result.stage_seconds["fully_nested"] = time.perf_counter() - t0 - (deferred["seconds"] - k0)
        log(f"  fully nested: {100 * fn['mean']:.2f} ± {100 * fn['std']:.2f}%")
    result.eval_seconds = sum(v for k, v in result.stage_seconds.items() if k != "kernels")
    made = [p.made_seconds for p in passes.values() if p.parts is not None or p.key is not None]
    if made and all(m is not None for m in made):
        work = {"kernels": float(sum(made)), **work}
    result.work_seconds = {k: float(v) for k, v in work.items()}
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


def _compute_curves(part, row, nested, norms, y, folds, C, solve, inner_folds, seed, runner) -> Curves:
    gram = combine_readouts(part, row["num_layers"], row["jk"])
    grams = grams_.transform(gram, norms)
    return grid_curves(grams, y, folds, C, solve, nested=nested, inner_folds=inner_folds, seed=seed, run=runner,
                       weigh=_paths_per_task)


def _shared(rows: list, fn) -> Iterator[tuple[dict, Curves]]:
    """``(row, fn(row, wait))`` for every row: first each row not locked by another search (``fn(row, False)``
    is None for those), then the locked ones, waiting for them (most are then read from the cache)."""
    later = []
    for row in rows:
        cv = fn(row, False)
        if cv is None:
            later.append(row)
        else:
            yield row, cv
    for row in later:
        yield row, fn(row, True)


class _Readouts:
    """One ``(R, scale)`` pass's readouts up to ``max_layers``, computed when first needed.

    ``parts``: the readouts (None until read or computed); ``key``: their cache key with the readouts' digest
    under ``"readouts"`` (None while unknown, and always without a cache); ``made_seconds``: what computing them
    took, in whichever run did (their metadata's note; None where an older cache recorded none).  On construction
    the pass is read from the cache if it is there; otherwise its ``key`` is known without the readouts where the
    cache holds their metadata (``<name>_L<D>.npy.meta.json``, made for this key, the ``.npy`` deleted to free the
    disk or never brought to this machine).  The search calls :meth:`ensure` only for a configuration whose curves
    are not cached, so a pass whose configurations are all cached is never computed (a reproduction resumed on
    another machine with its small files), and a search screens each pass's configurations as soon as that pass
    is done (a search killed half way keeps them).
    """

    def __init__(self, dataset, max_layers, R, scale, cache_dir, device, dtype, max_memory, progress, log,
                 checkpoint_dir=None, executor="local"):
        self.dataset, self.R, self.scale, self.log = dataset, R, scale, log
        self.options = {"num_mlp_layers": R, "scale": scale, "device": device, "dtype": dtype,
                        "max_memory": max_memory, "progress": progress, "checkpoint_dir": checkpoint_dir,
                        "executor": executor}
        self.depth, self.parts, self.key, self.made_seconds = max_layers, None, None, None
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        if self.cache_dir is None:
            return
        self.base = kernel_key(dataset, GNTK(num_layers=max_layers, **self.options))
        self.name = f"{dataset.name}-{digest(self.base)[:16]}"
        with file_lock(self.cache_dir / "locks" / f"{self.name}.lock", on_wait=log):
            if self._read():
                return
            known = self._known_meta()
            if known is not None:
                self.depth, meta = known
                self._take(meta)

    def ensure(self) -> float:
        """Read or compute the readouts (at the depth the metadata names, if any) and save them; the seconds
        computing took (0 if none).  Readouts whose digest differs from the metadata's (another engine or library)
        warn and take the new key: the configurations evaluated from then on get curves of the new readouts."""
        if self.parts is not None:
            return 0.0
        if self.cache_dir is None:
            return self._compute()
        known = None if self.key is None else self.key["readouts"]
        with file_lock(self.cache_dir / "locks" / f"{self.name}.lock", on_wait=self.log):
            seconds = 0.0 if self._read() else self._compute()
        if known is not None and self.key["readouts"] != known:
            warnings.warn(f"GNTK R={self.R} scale={self.scale}: the recomputed readouts differ from those the cache's "
                          f"metadata names ({self.name}_L{self.depth}.npy.meta.json; another fastgnn or device?); the "
                          "configurations evaluated from now on use the new ones", RuntimeWarning, stacklevel=2)
        return seconds

    def _read(self) -> bool:
        """Load the shallowest cached readouts at least ``depth`` deep (a damaged file is deleted); whether found."""
        found = [(_depth(p, self.name), p) for p in self.cache_dir.glob(f"{self.name}_L*.npy")]
        for depth, path in sorted((d, p) for d, p in found if d is not None and d >= self.depth):
            sweep_temporaries(self.cache_dir, path.name)
            parts = load_npy_checked(path, {**self.base, "num_layers": depth})
            if parts is not None:
                self.log(f"GNTK R={self.R} scale={self.scale}: reusing {path}")
                self.parts = parts
                self._take(checked_meta(path, {**self.base, "num_layers": depth}))
                return True
            for bad in (path, path.with_name(path.name + ".meta.json")):  # damaged: recomputed
                bad.unlink(missing_ok=True)
        return False

    def _compute(self) -> float:
        est = GNTK(num_layers=self.depth, **self.options)
        t0 = time.perf_counter()
        self.parts = est.readouts(self.dataset)
        seconds = time.perf_counter() - t0
        # what the pass cost: this run's seconds and those of the checkpointed tiles it read back (a pass resumed
        # from checkpoint_dir after a kill), so that the search's work counts every run
        self.made_seconds = seconds + est.resumed_time_
        resumed = f" (and {est.resumed_time_:.1f} s in earlier runs, resumed)" if est.resumed_time_ else ""
        self.log(f"GNTK R={self.R} scale={self.scale} up to num_layers={self.depth}: {seconds:.1f} s{resumed}")
        if self.cache_dir is not None:
            path = self.cache_dir / f"{self.name}_L{self.depth}.npy"
            sweep_temporaries(self.cache_dir, path.name)
            key = {**self.base, "num_layers": self.depth}
            save_npy_checked(path, self.parts, key, {"seconds": self.made_seconds})
            self._take(checked_meta(path, key))
        return seconds

    def _take(self, meta: dict) -> None:
        """The key and recorded seconds from the readouts' metadata (:func:`fastgnn.io.checked_meta`)."""
        self.key = {**self.base, "readouts": meta["digest"]}
        note = meta.get("note")
        self.made_seconds = note.get("seconds") if isinstance(note, dict) else None

    def _known_meta(self) -> tuple[int, dict] | None:
        """``(depth, metadata)`` of the shallowest readouts at least ``depth`` deep whose metadata, made for this
        key, is in the cache without its ``.npy``."""
        found = []
        for meta_path in self.cache_dir.glob(f"{self.name}_L*.npy.meta.json"):
            array = meta_path.with_name(meta_path.name[: -len(".meta.json")])
            depth = _depth(array, self.name)
            if depth is None or depth < self.depth or array.exists():
                continue
            meta = checked_meta(array, {**self.base, "num_layers": depth})
            if meta is not None:
                found.append((depth, meta))
        return min(found, key=lambda f: f[0], default=None)


def kernel_key(dataset, estimator) -> dict:
    """Everything that determines the readouts ``estimator.readouts(dataset)``: the graphs' digest (structure and
    features), every parameter of the estimator but :data:`NOT_KERNEL_PARAMS` (the device by its class, the dtype
    by its name) and :data:`CACHE_FORMAT`.  A parameter added to :class:`fastgnn.GNTK` enters it by itself."""
    return {"format": CACHE_FORMAT, "data": dataset_digest(dataset, 16), "n_graphs": len(dataset),
            "params": kernel_params(estimator)}


def kernel_params(estimator) -> dict:
    """The parameters of a :class:`fastgnn.GNTK` that can change its readouts' values, as JSON values: all of
    ``get_params()`` but :data:`NOT_KERNEL_PARAMS`, the device by its class (``cuda:1`` -> ``cuda``), the dtype
    by its name, other objects by their ``str``."""
    params = {k: v for k, v in estimator.get_params().items() if k not in NOT_KERNEL_PARAMS}
    if "device" in params:
        params["device"] = torch.device(params["device"]).type
    if "dtype" in params:
        params["dtype"] = str(params["dtype"]).replace("torch.", "")
    return {k: params[k] if isinstance(params[k], bool | int | float | str | None) else str(params[k])
            for k in sorted(params)}


def curves_key(*, kernel: dict, config: dict, y, folds, C_grid, norms, solver, inner_folds: int, seed: int) -> dict:
    """Everything that determines one configuration's accuracy curves: the kernel (:func:`kernel_key`, with the
    readouts' digest: so also the engine that computed them), the configuration (depth, jk), the labels, folds,
    C grid, normalisations, the solver with its settings (its ``repr``: tolerance, iteration cap), the inner
    folds and the seed."""
    return {"format": CACHE_FORMAT, "kernel": kernel,
            "config": {k: config[k] for k in ("num_layers", "num_mlp_layers", "scale", "jk")},
            "labels": digest(None, np.asarray(y)),
            "folds": digest(None, *(np.asarray(a, dtype=np.int64) for tr, te in folds for a in (tr, te))),
            "C_grid": [float(c) for c in np.asarray(C_grid, dtype=np.float64)],
            "normalizations": list(norms), "solver": repr(solver), "inner_folds": int(inner_folds),
            "seed": int(seed)}


def dataset_digest(dataset, digest_size: int = 6) -> str:
    """A digest of the graphs (structure and features), so a cache never serves other data (``digest_size``
    bytes, as hex)."""
    h = hashlib.blake2b(digest_size=digest_size)
    for g in dataset.graphs:
        h.update(graph_key(g.edge_index, g.x, g.num_nodes))
    return h.hexdigest()


def _depth(path: Path, name: str) -> int | None:
    tail = path.stem[len(name) + 2:]
    return int(tail) if tail.isdigit() else None

