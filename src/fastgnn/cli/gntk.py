"""``fastgnn gntk DATASET``: a dataset's GNTK Gram matrix, optionally its 10-fold accuracy and its files.

The flags are :class:`~fastgnn.gntk.GNTK`'s parameters, with its defaults and the choices of
:mod:`fastgnn.gntk.params`.  ``--out DIR`` writes ``gram.npy``, ``labels.npy``, ``folds.npz`` and
``gntk.json``; the Gram goes to disk tile by tile (:meth:`fastgnn.GNTK.fit_transform_to_disk`)
when ``--out-of-core`` asks for it or when it exceeds the memory budget (:mod:`fastgnn.budget`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fastgnn import budget
from fastgnn.cli import FOLDER
from fastgnn.cli.common import (
    GNTK_DEFAULTS,
    add_cluster_flags,
    add_common,
    add_kernel_flags,
    add_normalizations_flag,
    dask_client,
    describe_estimator,
    estimator_config,
    evaluate_gram,
    executor_name,
    graph_dataset_names,
    load_graphs,
    print_json,
    result_line,
    spell,
    spelled,
    versions,
    warn_low_precision,
)
from fastgnn.gntk import GNTK
from fastgnn.gntk.params import COMPRESS as COMPRESS_VALUES
from fastgnn.gntk.params import DTYPES, options
from fastgnn.io import atomic_path, save_json, save_npy
from fastgnn.model_selection.protocols import PROTOCOLS

__all__ = ["add_subparser", "run", "COMPRESS", "COLOUR_PAIRS"]

#: ``--compress``: the command line's spelling of the GNTK's ``compress`` values
COMPRESS = spelled(COMPRESS_VALUES)
#: ``--colour-pairs``: the same for ``colour_pairs``
COLOUR_PAIRS = spelled(options("colour_pairs"))


def add_subparser(subparsers):
    """Register ``gntk``; its ``func`` is :func:`run`."""
    d = GNTK_DEFAULTS
    g = subparsers.add_parser("gntk", help="compute a GNTK Gram matrix",
                              description="Compute the GNTK Gram matrix of a dataset.")
    g.add_argument("dataset", help=f"{graph_dataset_names()}, or the path of a dataset folder in the GIN or TU "
                                   "format (path/MYSET)")
    g.add_argument("--num-layers", type=int, default=d["num_layers"], help="GNN layers incl. the input layer (>= 2)")
    g.add_argument("--num-mlp-layers", type=int, default=d["num_mlp_layers"], help="ReLU layers per block (>= 1)")
    g.add_argument("--scale", choices=options("scale"), default=d["scale"],
                   help="neighbour scaling c_u: 1 or 1/(deg+1)")
    g.add_argument("--jk", action=argparse.BooleanOptionalAction, default=d["jk"],
                   help=f"jumping knowledge: sum every layer's readout (default {'on' if d['jk'] else 'off'})")
    g.add_argument("--method", choices=options("method"), default=d["method"],
                   help=f"aggregation algorithm (default {d['method']})")
    g.add_argument("--sketch-size", type=int, default=d["sketch_size"], help="b, rows of each sketch matrix")
    g.add_argument("--sketch", choices=options("sketch"), default=d["sketch"], help="sketch entries")
    g.add_argument("--compress", choices=tuple(COMPRESS), default=spell(d["compress"]),
                   help="run the recursion on each graph's colour classes (same kernel; auto: where a graph "
                        "has fewer classes than nodes; the sketched kernel runs on nodes)")
    g.add_argument("--colour-pairs", choices=tuple(COLOUR_PAIRS), default=spell(d["colour_pairs"]),
                   help="compute the Gram on the dataset's WL colour pairs (same kernel; auto: where its counted "
                        "work is below the node-pair engine's)")
    g.add_argument("--self-loop-weight", type=int, choices=options("self_loop_weight"), default=d["self_loop_weight"],
                   help="Ã's diagonal entry where a graph lists a self-loop (3: Du et al.'s A = E + Eᵀ + I; "
                        "1: loops ignored, Ã = A + I, e.g. for PyG graphs after add_self_loops)")
    g.add_argument("--normalize", action="store_true", default=d["normalize"],
                   help="write the cosine-normalised kernel K(G,H)/sqrt(K(G,G) K(H,H)) (default: raw)")
    g.add_argument("--seed", type=int, default=d["seed"], help="seed of the sketches")
    g.add_argument("--out", metavar="DIR", help="write gram.npy, labels.npy, folds.npz, gntk.json")
    g.add_argument("--evaluate", action="store_true", help="also run the 10-fold SVM (both protocols)")
    add_normalizations_flag(g)
    g.add_argument("--out-of-core", action="store_true",
                   help="write gram.npy and readouts.npy (every depth) into --out as memory maps, tile by "
                        "tile, never whole in RAM (default: when they exceed the memory budget)")
    g.add_argument("--readouts", action=argparse.BooleanOptionalAction, default=True,
                   help="out of core: keep readouts.npy beside gram.npy; --no-readouts writes gram.npy alone "
                        "(on colour pairs summed straight into it, 8 n^2 bytes of disk: ogbg-molhiv's 41,127 "
                        "graphs in 13.5 GB)")
    add_cluster_flags(g, "the tiles", more="the tiles")
    add_kernel_flags(g)
    add_common(g)
    g.set_defaults(func=run, outputs={"out": FOLDER, "checkpoint_dir": FOLDER})
    return g


def run(args) -> int:
    """Run ``fastgnn gntk`` for parsed ``args``; returns the exit status."""
    data = load_graphs(args.dataset, args.data_dir)
    est = GNTK(
        num_layers=args.num_layers, num_mlp_layers=args.num_mlp_layers, scale=args.scale,
        jk=args.jk, normalize=args.normalize, method=args.method, sketch_size=args.sketch_size, sketch=args.sketch,
        seed=args.seed, device=args.device, dtype=DTYPES[args.dtype], max_memory=args.max_memory,
        progress=None if not args.json else False, checkpoint_dir=args.checkpoint_dir,
        executor=executor_name(args),
        compress=COMPRESS[args.compress],
        colour_pairs=COLOUR_PAIRS[args.colour_pairs],
        self_loop_weight=args.self_loop_weight,
    )
    if args.evaluate:
        warn_low_precision(args, "gntk")
    on_disk, cluster = out_of_core(args, est, len(data)), {}
    with dask_client(args, cluster):
        t0 = time.perf_counter()
        gram = (est.fit_transform_to_disk(data, args.out, readouts=args.readouts).gram if on_disk
                else est.fit_transform(data))
        seconds = time.perf_counter() - t0
    info = {
        "dataset": data.stats(),
        "config": estimator_config(est),
        "kernel_seconds": seconds,
        "versions": versions(),
        **({"cluster": cluster} if cluster else {}),
        **({"out_of_core": True} if on_disk else {}),
    }
    if args.evaluate:
        info["evaluation"] = evaluate_gram(gram, data.y, data.folds, PROTOCOLS, "svm", args.json,
                                           args.normalizations)
    if args.out:
        out = Path(args.out)
        if not on_disk:  # else gram.npy (and readouts.npy) are written already
            save_npy(out / "gram.npy", gram)
        save_npy(out / "labels.npy", data.y)
        with atomic_path(out / "folds.npz", ".npz") as tmp:
            np.savez(tmp, **folds_arrays(data.folds))
        save_json(out / "gntk.json", info)
        info["out"] = str(out)
    if args.json:
        print_json(info)
    else:
        s = data.stats()
        print(f"{data.name}: {s['graphs']} graphs, avg {s['avg_nodes']:.1f} nodes; "
              f"GNTK {describe_estimator(est)}: {seconds:.2f} s")
        for res in info.get("evaluation", {}).values():
            print(f"  {result_line(res)}")
        if args.out:
            print(f"wrote {args.out}/gram.npy, labels.npy, folds.npz, gntk.json")
    return 0


def out_of_core(args, est, n_graphs: int) -> bool:
    """Write the Gram straight to disk: asked (``--out-of-core``), or ``--out`` given and the Gram with
    its readouts (:func:`fastgnn.budget.gram_bytes`) exceeds the memory budget (:func:`fastgnn.budget.resolve`)."""
    if args.out_of_core and not args.out:
        raise ValueError("--out-of-core writes gram.npy and readouts.npy into --out DIR: give --out")
    if not args.out or est.method != "batched":
        if args.out_of_core:
            raise ValueError(f"--out-of-core needs --method batched, got {est.method}")
        return False
    return bool(args.out_of_core) or budget.gram_bytes(n_graphs, est.num_layers) > budget.resolve(
        est.max_memory, est.device)


def folds_arrays(folds) -> dict:
    """``folds.npz``'s arrays: ``train_i`` and ``test_i`` of each fold ``i``."""
    out = {}
    for i, (tr, te) in enumerate(folds):
        out[f"train_{i}"], out[f"test_{i}"] = tr, te
    return out
