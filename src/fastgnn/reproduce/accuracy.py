"""Stage ``accuracy``: the GNTK paper's Table 1 against fastgnn's search, per dataset.

One :func:`fastgnn.search.gntk_search` per dataset (screen every configuration, refine the
best ``refine_top`` under the paper protocol and the nested one; fully nested on request),
its kernels and SVM results cached under ``<out>/cache``.  The row reports, in percent, the
paper's number, the paper protocol's best configuration and that configuration's nested
accuracy (the configuration itself chosen on the test folds; ``fully_nested`` chooses it inside
each training fold too).

Cost: that of the search (see :func:`fastgnn.search.gntk_search`).
"""

from __future__ import annotations

from fastgnn.datasets.benchmarks import BENCHMARKS
from fastgnn.io import save_json
from fastgnn.reproduce.settings import CONFIG_KEYS
from fastgnn.search import gntk_search

__all__ = ["PAPER", "run", "row", "config_text", "choices_text"]

#: GNTK paper (Du et al. 2019, "Graph Neural Tangent Kernel: Fusing Graph Neural Networks with Graph
#: Kernels"), Table 1: 10-fold accuracy, mean and std in percent (the benchmark table's column)
PAPER = {b.name: b.gntk_accuracy for b in BENCHMARKS}


def run(dataset, settings, *, cache_dir, evidence_dir=None, checkpoint_dir=None, progress=True, log=print,
        executor="local") -> dict:
    """Search ``dataset`` and return its accuracy row (percentages; see the module docstring).

    ``evidence_dir``: where the whole search result (every row) is saved as ``search_<name>.json``.
    ``checkpoint_dir``: where the kernels' finished tiles are saved as they complete
    (:mod:`fastgnn.gntk.checkpoints`), so a kernel killed half way resumes from its last tile rather
    than from the start (not part of the stage's key: the result is bitwise the same).
    ``executor``: ``"dask"`` runs the search's kernels and SVM paths on the active Dask client
    (same results, so it is not part of the stage's key).
    """
    kwargs = {"refine_top": settings.refine_top, "cache_dir": str(cache_dir), "progress": progress, "log": log}
    if checkpoint_dir is not None:
        kwargs["checkpoint_dir"] = str(checkpoint_dir)
    if executor != "local":
        kwargs["executor"] = executor
    grid = settings.grid_for(dataset.name)
    if grid is not None:
        kwargs["grid"] = {k: tuple(v) for k, v in grid.items()}
    norms = settings.normalizations_for(dataset.name)
    if norms is not None:
        kwargs["normalizations"] = norms
    if settings.C_grid is not None:
        kwargs["C_grid"] = list(settings.C_grid)
    if settings.fully_nested:
        kwargs["fully_nested"] = True
    res = gntk_search(dataset, **kwargs)
    if evidence_dir is not None:
        save_json(evidence_dir / f"search_{dataset.name}.json", res.to_dict())
    out = row(dataset.name, res, settings.fully_nested)
    if dataset.name in settings.dataset_grids:
        out["grid"] = {k: list(v) for k, v in grid.items()}  # its own (reduced) grid, named in the report
    if norms is not None:
        out["normalizations"] = list(norms)
    return out


def row(name: str, res, fully_nested: bool) -> dict:
    """The accuracy row of a search result ``res`` (a :class:`fastgnn.search.SearchResult`)."""
    best = res.best("paper")
    paper = PAPER.get(name, (None, None))
    out = {
        "dataset": name,
        "paper": paper[0],
        "paper_std": paper[1],
        "paper_protocol": _pct(best.get("paper_mean")),
        "paper_protocol_std": _pct(best.get("paper_std")),
        "nested": _pct(best.get("nested_mean")),
        "nested_std": _pct(best.get("nested_std")),
        "difference": None,
        "config": {"num_layers": best["num_layers"], "num_mlp_layers": best["num_mlp_layers"],
                   "scale": best["scale"], "jk": bool(best["jk"]), "C": best.get("paper_C"),
                   "normalization": best.get("paper_normalization")},
        "configurations": len(res.rows),
        "refined": len(res.evaluated()),
        "kernel_seconds": float(res.kernel_seconds),
        "model_selection_seconds": float(res.eval_seconds),
        "search_stage_seconds": dict(getattr(res, "stage_seconds", None) or {}),
        "search_work_seconds": dict(getattr(res, "work_seconds", None) or {}),
    }
    if out["paper"] is not None and out["paper_protocol"] is not None:
        out["difference"] = out["paper_protocol"] - out["paper"]
    fn = getattr(res, "fully_nested", None) if fully_nested else None
    if fn:
        out["fully_nested"] = _pct(fn.get("mean"))
        out["fully_nested_std"] = _pct(fn.get("std"))
        out["fully_nested_choices"] = [_choice(c) for c in fn.get("choices", [])]
    elif fully_nested:
        out["fully_nested"] = out["fully_nested_std"] = None
    return out


def config_text(config: dict) -> str:
    """``"L=2, R=1, uniform, jk; C=6285, raw"``."""
    text = (f"L={config['num_layers']}, R={config['num_mlp_layers']}, {config['scale']}, "
            f"{'jk' if config['jk'] else 'no jk'}")
    if config.get("C") is not None:
        text += f"; C={config['C']:.4g}, {config.get('normalization')}"
    return text


def _pct(x):
    return None if x is None else 100.0 * float(x)


def _choice(c) -> dict:
    """One fold's fully nested choice as a dict: a dict as it is, or ``(config, normalisation, C)``
    with ``config`` a dict or a ``(L, R, scale, jk)`` tuple."""
    if isinstance(c, dict):
        return dict(c)
    if isinstance(c, list | tuple) and len(c) == 3:
        config, normalization, C = c
        if isinstance(config, dict):
            out = dict(config)
        elif isinstance(config, list | tuple) and len(config) == len(CONFIG_KEYS):
            out = dict(zip(CONFIG_KEYS, config))
        else:
            out = {"config": config}
        return {**out, "normalization": normalization, "C": C}
    return {"choice": c}


def choices_text(choices: list) -> str:
    """``"L=2, R=1, uniform, jk ×7; L=3, R=1, uniform, jk ×3"``: the configurations the folds chose."""
    counts = {}
    for c in choices:
        key = config_text({k: c[k] for k in CONFIG_KEYS}) if all(k in c for k in CONFIG_KEYS) else str(c)
        counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{k} ×{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
