"""``fastgnn train --model M --dataset D``: a GNN, by :mod:`fastgnn.train.experiment`.

Node classification (GCN, dense GCN, GAT, dense self-attention on Cora, CiteSeer or a generated
SBM graph) over seeds, full batch or mini-batch SGD with neighbour sampling; or graph
classification (GIN, GCN) by 10-fold CV.  The models are the registry's
(:data:`fastgnn.nn.models.NODE_MODELS`, ``GRAPH_MODELS``), their training defaults the papers',
held by each model class (``training_defaults``); the other defaults are
those of :func:`~fastgnn.train.experiment.run_node_experiment`,
:func:`~fastgnn.train.experiment.run_graph_experiment` and :func:`fastgnn.datasets.sbm`.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import torch

from fastgnn import datasets
from fastgnn.cli import FOLDER
from fastgnn.cli.common import add_common, graph_dataset_names, print_json, versions
from fastgnn.io import save_json
from fastgnn.nn.models import GRAPH_MODELS, MODEL_NAMES, NODE_MODELS
from fastgnn.node.params import LANDMARK_RULES
from fastgnn.node.params import MODELS as KERNEL_MODELS
from fastgnn.train import parse_fanouts
from fastgnn.train.experiment import run_graph_experiment, run_node_experiment

__all__ = ["add_subparser", "run", "training_default"]

_NODE = {k: p.default for k, p in inspect.signature(run_node_experiment).parameters.items()}
_GRAPH = {k: p.default for k, p in inspect.signature(run_graph_experiment).parameters.items()}
_SBM = {k: p.default for k, p in inspect.signature(datasets.sbm).parameters.items()}


def add_subparser(subparsers):
    """Register ``train``; its ``func`` is :func:`run`."""
    t = subparsers.add_parser(
        "train", help="train a GNN (node classification, or graph classification by 10-fold CV)",
        description="Train a GNN: GCN / dense GCN / GAT / dense self-attention node classifiers on "
                    f"{', '.join(datasets.NODE_NAMES)} (Planetoid's public split, or a generated SBM graph), over "
                    "seeds; or GIN / GCN graph classifiers on MUTAG, PROTEINS, IMDBBINARY ... by 10-fold CV.")
    t.add_argument("--model", required=True, help=f"{', '.join(NODE_MODELS)}, or the infinitely wide GCN "
                                                   f"{', '.join(KERNEL_MODELS)} (node datasets); "
                                                   f"{', '.join(GRAPH_MODELS)} (graph datasets)")
    t.add_argument("--dataset", required=True,
                   help=f"{', '.join(datasets.NODE_NAMES)}, or a graph dataset ({graph_dataset_names()})")
    t.add_argument("--sgd", action="store_true", help="mini-batch SGD with neighbour sampling (node datasets)")
    t.add_argument("--batch-size", type=int, default=None,
                   help=f"seed nodes per SGD step (default {_NODE['batch_size']}), or graphs per batch "
                        f"(default {training_default(GRAPH_MODELS, 'batch_size')})")
    fanouts = ",".join(map(str, _NODE["fanouts"]))
    t.add_argument("--fanouts", default=fanouts, help=f"neighbours sampled per node at each hop (default {fanouts})")
    t.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the paper's, per model)")
    t.add_argument("--seeds", type=int, default=None,
                   help=f"runs with seeds --seed.. (default {_NODE['seeds']} for node datasets, {_GRAPH['seeds']} for "
                        "graph datasets)")
    t.add_argument("--seed", type=int, default=_NODE["first_seed"], help=f"first seed (default {_NODE['first_seed']})")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the paper's)")
    t.add_argument("--weight-decay", type=float, default=None, help="L2 weight decay (default: the paper's)")
    patience = training_default(NODE_MODELS, "patience")
    t.add_argument("--patience", type=int, default=_NODE["patience"],
                   help=f"early-stopping patience in epochs (default {patience}; 0 turns early stopping off)")
    t.add_argument("--normalize-features", action=argparse.BooleanOptionalAction, default=None,
                   help="row-normalise Planetoid features (default on for the GNNs, as the GCN and GAT papers; "
                        "off for gcn-gp and gcn-ntk, as GNNGP)")
    t.add_argument("--readout", choices=("sum", "mean"), default=None,
                   help="graph pooling (default sum for bioinformatics sets, mean for social ones)")
    sbm = t.add_argument_group("--dataset sbm", "size of the generated stochastic block model")
    for flag, key, kind, text in (("--nodes", "num_nodes", int, "number of nodes (default {})"),
                                  ("--classes", "num_classes", int, "number of classes (default {})"),
                                  ("--features", "num_features", int, "number of features (default {})"),
                                  ("--avg-degree", "avg_degree", float, "mean degree (default {})"),
                                  ("--homophily", "homophily", float, "fraction of same-class edges (default {})"),
                                  ("--feature-signal", "feature_signal", float,
                                   "separation of the class means in feature space (default {}: weak features)"),
                                  ("--data-seed", "seed", int, "seed of the generated graph (default {})")):
        sbm.add_argument(flag, type=kind, default=_SBM[key], help=text.format(f"{_SBM[key]:g}"))
    gp = t.add_argument_group("--model gcn-gp / gcn-ntk", "each fixes one axis of GNNGP's grid (default: the "
                              "grid, chosen on the validation nodes)")
    gp.add_argument("--num-layers", type=int, default=None, help="GCN layers")
    gp.add_argument("--sigma-w", type=float, default=None, help="weight standard deviation")
    gp.add_argument("--sigma-b", type=float, default=None, help="bias standard deviation")
    gp.add_argument("--landmarks", type=int, default=None, metavar="M",
                    help="the recursive Nystrom on M landmark nodes (float32) instead of the exact N x N kernel")
    gp.add_argument("--landmark-rule", choices=LANDMARK_RULES, default=LANDMARK_RULES[0],
                    help=f"how landmarks are chosen (default {LANDMARK_RULES[0]})")
    t.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--out", metavar="DIR", help="write train_MODEL_DATASET[_sgd].json (settings, per-seed histories)")
    add_common(t)
    t.set_defaults(func=run, outputs={"out": FOLDER})
    return t


def run(args) -> int:
    """Run ``fastgnn train`` for parsed ``args``; returns the exit status."""
    progress = not args.json and not args.no_progress
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model not in MODEL_NAMES and args.model not in KERNEL_MODELS:
        raise ValueError(f"unknown model {args.model!r}; known models: {', '.join([*MODEL_NAMES, *KERNEL_MODELS])}")
    kernel = args.model in KERNEL_MODELS
    if args.normalize_features is None:
        args.normalize_features = False if kernel else _NODE["normalize_features"]
    fanouts = parse_fanouts(args.fanouts)
    patience = None if args.patience == 0 else args.patience
    node = datasets.is_node_dataset(args.dataset)
    args.seeds = args.seeds if args.seeds is not None else (_NODE["seeds"] if node else _GRAPH["seeds"])
    batch_size = args.batch_size or _NODE["batch_size"]
    if kernel:
        info = _run_kernel(args, node)
    elif node:
        sbm_args = {"num_nodes": args.nodes, "num_classes": args.classes, "num_features": args.features,
                    "avg_degree": args.avg_degree, "homophily": args.homophily, "seed": args.data_seed,
                    "feature_signal": args.feature_signal}
        info = run_node_experiment(
            args.model, args.dataset, args.data_dir, seeds=args.seeds, first_seed=args.seed, sgd=args.sgd,
            batch_size=batch_size, fanouts=fanouts, epochs=args.epochs, lr=args.lr,
            weight_decay=args.weight_decay, patience=patience, normalize_features=args.normalize_features,
            sbm_args=sbm_args, device=args.device, progress=progress,
        )
    else:
        if args.sgd:
            raise ValueError(f"--sgd (neighbour sampling) is for node datasets ({', '.join(datasets.NODE_NAMES)}); "
                             "graph datasets are trained in mini-batches of whole graphs (--batch-size)")
        info = run_graph_experiment(
            args.model, args.dataset, args.data_dir, seeds=args.seeds, first_seed=args.seed, epochs=args.epochs,
            lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size, readout=args.readout,
            device=args.device, progress=progress,
        )
    info["versions"] = versions()
    if args.out:
        name = f"train_{info['model']}_{info['dataset']['name']}{'_sgd' if info.get('mode') == 'sgd' else ''}.json"
        info["out"] = str(save_json(Path(args.out) / name.replace("/", "-"), info))
    if args.json:
        print_json(info)
        return 0
    d = info["dataset"]
    if kernel:
        c = info["chosen"]
        print(f"{d['name']}: {d['nodes']} nodes, {d['edges']} edges, {d['features']} features, {d['classes']} classes; "
              f"train/val/test {d['train']}/{d['val']}/{d['test']}")
        print(f"{info['model']} ({info['mode']}; chosen on validation: {c['num_layers']} layers, sigma_w "
              f"{c['sigma_w']:g}, sigma_b {c['sigma_b']:g}, nugget {c['nugget']:.3g}): test accuracy "
              f"{100 * info['test_acc_mean']:.2f} ± {100 * info['test_acc_std']:.2f} % over {len(info['runs'])} "
              f"run(s); {info['seconds_mean']:.2f} s per run ({info['runs'][0]['grid_points']} grid points)")
    elif info["task"] == "node":
        extra = f", batches of {batch_size}, fanouts {info['settings']['fanouts']}" if args.sgd else ""
        print(f"{d['name']}: {d['nodes']} nodes, {d['edges']} edges, {d['features']} features, {d['classes']} classes; "
              f"train/val/test {d['train']}/{d['val']}/{d['test']}")
        print(f"{info['model']} ({info['mode']}{extra}): test accuracy {100 * info['test_acc_mean']:.2f} ± "
              f"{100 * info['test_acc_std']:.2f} % over {args.seeds} seed(s); "
              f"{1000 * info['seconds_per_epoch_mean']:.1f} ms per epoch, {info['epochs_mean']:.0f} epochs on average")
    else:
        s = info["settings"]
        print(f"{d['name']}: {d['graphs']} graphs, {d['classes']} classes, avg {d['avg_nodes']:.1f} nodes")
        print(f"{info['model']} ({s['readout']} readout, {s['epochs']} epochs, {s['folds']}-fold CV): "
              f"final {100 * info['final_mean']:.2f} ± {100 * info['final_std']:.2f} %; best epoch "
              f"{info['best_epoch']} (GIN protocol) {100 * info['best_epoch_mean']:.2f} ± "
              f"{100 * info['best_epoch_std']:.2f} %")
        print(f"training time {info['train_seconds']:.1f} s ({1000 * info['seconds_per_epoch']:.1f} ms per epoch "
              f"and fold)")
    if args.out:
        print(f"wrote {info['out']}")
    return 0


def _run_kernel(args, node: bool) -> dict:
    """``--model gcn-gp|gcn-ntk``: :func:`fastgnn.node.experiment.run_kernel_experiment` on the node dataset."""
    from fastgnn.node.experiment import run_kernel_experiment
    from fastgnn.train.experiment import load_node_data

    if not node:
        raise ValueError(f"--model {args.model} is for node datasets ({', '.join(datasets.NODE_NAMES)})")
    sbm_args = {"num_nodes": args.nodes, "num_classes": args.classes, "num_features": args.features,
                "avg_degree": args.avg_degree, "homophily": args.homophily, "seed": args.data_seed,
                "feature_signal": args.feature_signal}
    data = load_node_data(args.dataset, args.data_dir, normalize_features=args.normalize_features,
                          sbm_args=sbm_args, progress=not args.json and not args.no_progress)
    return run_kernel_experiment(args.model, data, num_layers=args.num_layers, sigma_w=args.sigma_w,
                                 sigma_b=args.sigma_b, num_landmarks=args.landmarks, landmarks=args.landmark_rule,
                                 seeds=args.seeds or 1, first_seed=args.seed)


def training_default(registry: dict, key: str) -> str:
    """The models' training default ``key`` for a help text: its value, or its distinct values (``"100, 200"``)."""
    return ", ".join(dict.fromkeys(str(cls.training_defaults[key]) for cls in registry.values()))
