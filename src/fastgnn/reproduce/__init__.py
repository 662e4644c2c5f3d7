"""``fastgnn reproduce``: the GNTK paper's tables regenerated end to end, resumably.

Per dataset found (by default the GNTK paper's seven, :data:`ALL_DATASETS`, read from the benchmark
table :mod:`fastgnn.datasets.benchmarks`; missing ones are skipped with a line), four stages, one
module each:

* :mod:`.accuracy` -- the paper's Table 1 against the grid search (paper protocol, nested, and
  fully nested on request);
* :mod:`.kernel_time` -- the whole Gram by Kronecker (the paper's baseline), decoupled and
  sketched per pair (extrapolated from a sample of pairs) and by the batched engine (measured),
  beside the model-selection time;
* :mod:`.sketch` -- accuracy and kernel time against the sketch size b (a dataset or two);
* :mod:`.gnn` -- with ``gnn=True``: GCN and GIN trained by 10-fold CV, accuracy and training time.

Each (stage, dataset) result is saved under ``<out>/stages/`` when it ends (:mod:`.store`); a rerun
skips what is finished, and the search's kernels and SVM results are cached under
``<out>/cache`` and each kernel's finished tiles under ``<out>/checkpoints``, so an interrupted stage
resumes inside itself too, a kernel from its last finished tile (delete ``<out>/checkpoints`` once
the run is over: the cache holds what the stages read).  :mod:`.report` writes
``<out>/report.md``, CSVs, PNGs and ``<out>/summary.json`` after every dataset.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from fastgnn.datasets import canonical_name, find, load, search_dirs
from fastgnn.reproduce import accuracy, gnn, kernel_time, report, sketch
from fastgnn.reproduce.settings import ALL_DATASETS, CONFIG_KEYS, FALLBACK_CONFIG, QUICK_DATASETS, Settings
from fastgnn.reproduce.store import StageStore, fingerprint, plain

__all__ = ["reproduce", "Settings", "ALL_DATASETS", "QUICK_DATASETS", "PAPER"]

PAPER = accuracy.PAPER


def reproduce(
    datasets=None,
    *,
    data_dir=None,
    out="reproduce",
    quick: bool = False,
    fully_nested: bool = False,
    gnn: bool = False,
    refine_top: int | None = None,
    whole_grid: bool = False,
    workers: int | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    log=print,
) -> dict:
    """Run every stage on every dataset found and write the report; return its summary (JSON-able).

    Args:
        datasets: names (any case, aliases accepted) or :class:`fastgnn.GraphDataset` objects;
            default the settings' (all seven, or MUTAG and PTC with ``quick``).
        data_dir: a folder searched first for the datasets' files (then ``$FASTGNN_DATA`` and the
            download cache; nothing is downloaded).
        out: the output folder (stages, cache, report).
        quick: :meth:`Settings.quick_run` instead of :meth:`Settings.full`.
        fully_nested: also the fully nested estimate (configuration chosen inside each fold).
        gnn: also the GCN and GIN stage.
        refine_top: configurations refined after the screen (default the settings', 5 full).
        whole_grid: search the settings' grid on every dataset, those with a reduced grid
            (:data:`fastgnn.reproduce.settings.REDUCED_GRIDS`: REDDIT-BINARY, DD) too.
        workers: with a Dask client active (``fastgnn reproduce --workers N`` opens one), the
            number of its workers: the search runs its kernels and SVM paths on it.
        settings: every stage size at once (overrides ``quick``).
        progress: tqdm bars inside the stages.
        log: a function taking one line (progress lines), or None.

    Returns:
        the summary: ``units`` ("percent"), ``accuracy`` (one row per dataset: dataset, paper,
        paper_protocol, nested, config, ...), ``kernel_time``, ``sketch``, ``gnn``, ``stages`` (each
        stage's wall time), ``skipped`` (datasets not found), ``settings``, ``report`` (its path).

    Cost: per dataset, the search (:func:`fastgnn.search.gntk_search`), the kernel timings and the
    sketch stage; a finished (stage, dataset) costs a file read on a rerun.
    """
    log = log or (lambda s: None)
    settings = settings or (Settings.quick_run() if quick else Settings.full())
    changes = {"fully_nested": bool(fully_nested) or settings.fully_nested}
    if refine_top is not None:
        if int(refine_top) < 1:
            raise ValueError(f"refine_top must be a positive integer, got {refine_top!r}")
        changes["refine_top"] = int(refine_top)
    if whole_grid:
        changes["dataset_grids"] = {}
    settings = replace(settings, **changes)
    executor = "local"
    if workers is not None:
        from fastgnn.distributed import active_client

        active_client("reproduce(workers=...)")  # the caller opens the cluster (fastgnn reproduce --workers N)
        executor = "dask"
        log(f"[reproduce] the search's kernels and SVM paths run on the Dask client ({workers} workers); "
            "the timing stages stay in this process")
    out = Path(out)
    store = StageStore(out, log)
    t0 = time.perf_counter()
    records, skipped = [], []
    items = list(settings.datasets if datasets is None else datasets)
    for item in items:  # a misspelt name fails now, not after hours of the datasets before it
        if isinstance(item, str):
            canonical_name(item)
    for item in items:
        data = _load(item, data_dir, log, skipped)
        if data is None:
            continue
        records.append(_run_dataset(data, settings, store, out, gnn, progress, log, executor))
        _write(out, records, skipped, settings, store, gnn)
    summary = _write(out, records, skipped, settings, store, gnn)
    summary["run_seconds"] = time.perf_counter() - t0
    log(f"[reproduce] wrote {summary['report']} ({len(summary['accuracy'])} datasets, {len(summary['skipped'])} "
        f"skipped) in {summary['run_seconds']:.1f} s")
    return summary


def _write(out: Path, records: list, skipped: list, settings: Settings, store: StageStore, gnn: bool) -> dict:
    """The report of this run's datasets and of every other dataset finished under ``out`` with the same
    settings (another process, e.g. NCI1 run alone beside the others), in the paper's order."""
    ran = {r["dataset"] for r in records}
    saved = [r for r in _saved_records(store, settings) if r["dataset"] not in ran]
    order = {name: i for i, name in enumerate(ALL_DATASETS)}
    every = sorted(records + saved, key=lambda r: (order.get(r["dataset"], len(order)), r["dataset"]))
    have = {r["dataset"] for r in every}
    return report.write(out, every, [s for s in skipped if s["dataset"] not in have], settings, gnn=gnn)


def _saved_records(store: StageStore, settings: Settings) -> list:
    """Per dataset with a saved accuracy stage made with these settings, its saved stages (those made with
    these settings, from the same data, at its configuration)."""
    out = []
    for path in sorted((store.out / "stages" / "accuracy").glob("*.json")):
        name = path.stem
        acc = store.load("accuracy", name)
        if acc is None or not _same(acc["key"], settings.stage_key("accuracy", name)):
            continue
        found = acc["result"]["config"]
        config = {k: found[k] for k in CONFIG_KEYS}
        rec = {"dataset": name, "accuracy": {**acc, "resumed": True}}
        for stage, extra in (("kernel_time", {"config": config}), ("sketch", {"config": config}), ("gnn", {})):
            saved = store.load(stage, name)
            if saved is not None and saved["key"].get("data") == acc["key"].get("data") and \
                    _same(saved["key"], {**settings.stage_key(stage, name), **extra}):
                rec[stage] = {**saved, "resumed": True}
        out.append(rec)
    return out


def _same(saved_key: dict, key: dict) -> bool:
    """Whether a saved key, the data fingerprint aside, is ``key``."""
    return {k: v for k, v in saved_key.items() if k != "data"} == plain(key)


def _run_dataset(data, settings: Settings, store: StageStore, out: Path, with_gnn: bool, progress, log,
                 executor: str = "local") -> dict:
    name = data.name
    digest = fingerprint(data)
    rec = {"dataset": name}

    def key(stage, **extra):
        return {"data": digest, **settings.stage_key(stage, name), **extra}

    rec["accuracy"] = store.run("accuracy", name, key("accuracy"), lambda: accuracy.run(
        data, settings, cache_dir=out / "cache", evidence_dir=out / "search", checkpoint_dir=out / "checkpoints",
        progress=progress, log=log, executor=executor))
    found = rec["accuracy"]["result"]["config"]
    config = {k: found[k] for k in CONFIG_KEYS} if found else dict(FALLBACK_CONFIG)
    rec["kernel_time"] = store.run("kernel_time", name, key("kernel_time", config=config), lambda: kernel_time.run(
        data, config, settings, progress=progress, log=log))
    if name in settings.sketch_datasets:
        rec["sketch"] = store.run("sketch", name, key("sketch", config=config), lambda: sketch.run(
            data, config, settings, progress=progress, log=log))
    if with_gnn:
        rec["gnn"] = store.run("gnn", name, key("gnn"), lambda: gnn.run(data, settings, progress=progress, log=log))
    return rec


def _load(item, data_dir, log, skipped: list):
    """The dataset ``item`` (a name or a dataset object), or None with a line and a ``skipped`` entry."""
    if not isinstance(item, str | Path):
        return item
    name = canonical_name(item)
    if name != "synthetic" and find(name, data_dir) is None:
        where = ", ".join(str(d) for d in search_dirs(data_dir))
        reason = f"not found (looked in {where})"
        log(f"[datasets] {name}: skipped: {reason}")
        skipped.append({"dataset": name, "reason": reason})
        return None
    try:
        data = load(name, data_dir, download=False, progress=False)
    except (ValueError, OSError) as e:
        log(f"[datasets] {name}: skipped: {e}")
        skipped.append({"dataset": name, "reason": str(e)})
        return None
    log(f"[datasets] {name}: {len(data)} graphs")
    return data
