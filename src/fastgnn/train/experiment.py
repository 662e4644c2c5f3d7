"""Whole experiments by name, as ``fastgnn train`` runs them: the papers' settings per model.

:func:`run_node_experiment` trains a node classifier over several seeds on Cora, CiteSeer or a
generated SBM graph; :func:`run_graph_experiment` cross-validates a graph classifier on a
graph-classification dataset.  Both return a JSON-ready dict with the settings, per-seed (or
per-fold) results and the summary (accuracy mean ± std, time per epoch).

Each model's training settings (epochs, lr, weight decay, patience or batch size) are its
paper's, held by the model class in the registry (:data:`fastgnn.nn.models.NODE_MODELS`,
``GRAPH_MODELS``: ``training_defaults``); :data:`NODE_DEFAULTS` and :data:`GRAPH_DEFAULTS` are
views of it.
"""

from __future__ import annotations

import statistics
import time

import torch

from fastgnn import datasets
from fastgnn.datasets import is_node_dataset, load_planetoid, sbm
from fastgnn.nn.models import GIN, GRAPH_MODELS, MODEL_NAMES, NODE_MODELS, graph_model, node_model
from fastgnn.train.graph import cross_validate
from fastgnn.train.node import train_node

__all__ = ["NODE_DEFAULTS", "GRAPH_DEFAULTS", "MODEL_NAMES", "run_node_experiment", "run_graph_experiment",
           "is_node_dataset"]

#: node model name -> its paper's training settings (the registry's ``training_defaults``)
NODE_DEFAULTS = {name: cls.training_defaults for name, cls in NODE_MODELS.items()}
#: the graph models' training settings (GIN's, which :class:`~fastgnn.nn.models.GraphGCN` shares)
GRAPH_DEFAULTS = GIN.training_defaults


def _mean_std(values) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def load_node_data(dataset: str, data_dir=None, *, normalize_features: bool = True, sbm_args: dict | None = None,
                   progress: bool = True):
    """Cora / CiteSeer (public split; row-normalised features by default) or ``sbm`` (``sbm_args``)."""
    if str(dataset).strip().lower() == "sbm":
        return sbm(**(sbm_args or {}))
    return load_planetoid(dataset, data_dir, normalize_features=normalize_features, progress=progress)


def run_node_experiment(
    model: str,
    dataset: str,
    data_dir=None,
    *,
    seeds: int = 10,
    first_seed: int = 0,
    sgd: bool = False,
    batch_size: int = 512,
    fanouts=(10, 10),
    epochs: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    patience: int | None = -1,
    normalize_features: bool = True,
    sbm_args: dict | None = None,
    device=None,
    progress: bool = True,
    data=None,
) -> dict:
    """Train ``model`` (gcn, dense-gcn, gat, attention) on ``dataset`` once per seed.

    ``epochs``, ``lr``, ``weight_decay`` default to :data:`NODE_DEFAULTS`; ``patience=-1`` means
    the default too (None: no early stopping).  ``data`` skips loading (a NodeData).
    """
    key = str(model).strip().lower()
    if key not in NODE_MODELS:
        raise ValueError(f"model {model!r} is not a node classifier; node models: {', '.join(NODE_MODELS)}"
                         + (" (gin is for graph-classification datasets)" if key in GRAPH_MODELS else ""))
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    settings = dict(NODE_MODELS[key].training_defaults)
    for k, v in (("epochs", epochs), ("lr", lr), ("weight_decay", weight_decay)):
        if v is not None:
            settings[k] = v
    if patience != -1:
        settings["patience"] = patience
    t0 = time.perf_counter()
    if data is None:
        data = load_node_data(dataset, data_dir, normalize_features=normalize_features, sbm_args=sbm_args,
                              progress=progress)
    load_seconds = time.perf_counter() - t0
    runs = []
    for s in range(first_seed, first_seed + seeds):
        net = node_model(key, data.num_features, data.num_classes)
        res = train_node(net, data, seed=s, sgd=sgd, batch_size=batch_size, fanouts=fanouts, progress=progress,
                         device=device, **settings)
        runs.append(res.to_dict())
    test_mean, test_std = _mean_std(r["test_acc"] for r in runs)
    spe_mean, spe_std = _mean_std(r["seconds_per_epoch"] for r in runs)
    return {
        "task": "node",
        "model": key,
        "dataset": data.stats(),
        "mode": "sgd" if sgd else "full-batch",
        "settings": {**settings, "seeds": seeds, "first_seed": first_seed, "sgd": sgd,
                     "batch_size": batch_size if sgd else None,
                     "fanouts": list(runs[0]["config"]["fanouts"]) if sgd else None,
                     "normalize_features": normalize_features if data.meta.get("folder") else None,
                     "sbm": data.meta if str(dataset).strip().lower() == "sbm" else None},
        "test_acc_mean": test_mean,
        "test_acc_std": test_std,
        "val_acc_mean": _mean_std(r["val_acc"] for r in runs)[0],
        "seconds_per_epoch_mean": spe_mean,
        "seconds_per_epoch_std": spe_std,
        "cpu_seconds_per_epoch_mean": _mean_std(r["cpu_seconds_per_epoch"] for r in runs)[0],
        "epochs_mean": _mean_std(r["epochs"] for r in runs)[0],
        "load_seconds": load_seconds,
        "total_seconds": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }


def run_graph_experiment(
    model: str,
    dataset: str,
    data_dir=None,
    *,
    seeds: int = 1,
    first_seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    batch_size: int | None = None,
    readout: str | None = None,
    hidden: int = 64,
    num_layers: int = 5,
    device=None,
    progress: bool = True,
    data=None,
) -> dict:
    """10-fold CV of ``model`` (gin, gcn) on a graph-classification dataset, once per seed.

    ``epochs``, ``lr``, ``weight_decay``, ``batch_size`` default to the model's
    ``training_defaults`` (:data:`GRAPH_DEFAULTS`).
    """
    key = str(model).strip().lower()
    if key not in GRAPH_MODELS:
        raise ValueError(f"model {model!r} is not a graph classifier; graph models: {', '.join(GRAPH_MODELS)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    settings = dict(GRAPH_MODELS[key].training_defaults)
    for k, v in (("epochs", epochs), ("lr", lr), ("weight_decay", weight_decay), ("batch_size", batch_size)):
        if v is not None:
            settings[k] = v
    t0 = time.perf_counter()
    if data is None:
        data = datasets.load(dataset, data_dir, progress=progress)
    load_seconds = time.perf_counter() - t0
    if readout is None:  # GIN's choice: sum for the bioinformatics sets, mean for the social ones
        social = datasets.DATASETS.get(data.name, ("", "tags"))[1] == "degree"
        readout = "mean" if social else "sum"
    runs = []
    for s in range(first_seed, first_seed + seeds):
        res = cross_validate(
            lambda: graph_model(key, data.num_features, data.num_classes, hidden=hidden, num_layers=num_layers,
                                readout=readout),
            data, seed=s * 100, progress=progress, device=device, **settings,
        )
        runs.append(res.to_dict())
    return {
        "task": "graph",
        "model": key,
        "dataset": data.stats(),
        "settings": {**settings, "readout": readout, "hidden": hidden, "num_layers": num_layers, "seeds": seeds,
                     "first_seed": first_seed, "folds": len(data.folds)},
        "final_mean": _mean_std(r["final_mean"] for r in runs)[0],
        "final_std": statistics.fmean(r["final_std"] for r in runs),
        "best_epoch_mean": _mean_std(r["best_epoch_mean"] for r in runs)[0],
        "best_epoch_std": statistics.fmean(r["best_epoch_std"] for r in runs),
        "best_epoch": runs[0]["best_epoch"],
        "train_seconds": sum(r["train_seconds"] for r in runs),
        "cpu_seconds": sum(r["cpu_seconds"] for r in runs),
        "seconds_per_epoch": sum(r["train_seconds"] for r in runs) / (settings["epochs"] * len(data.folds) * seeds),
        "load_seconds": load_seconds,
        "total_seconds": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }
