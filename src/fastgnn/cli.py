"""The ``fastgnn`` command: thin, it parses, calls the library and prints.

Subcommands: ``gntk`` (a Gram matrix), ``evaluate`` (10-fold accuracy of a
Gram), ``search`` (the GNTK grid), ``reproduce`` (the GNTK paper's tables), ``demo``
(the whole job on an embedded default), ``datasets`` (what is where), ``train`` (a GNN:
node classification over seeds, or graph classification by 10-fold CV), ``complexity``
(measured scaling against the theory).  Every command takes ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"fastgnn {args.command}: error: {e}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- commands


def cmd_gntk(args) -> int:
    from fastgnn.gntk import GNTK
    from fastgnn.io import atomic_path, save_json, save_npy

    data = _load(args.dataset, args.data_dir)
    est = GNTK(
        num_layers=args.num_layers, num_mlp_layers=args.num_mlp_layers, scale=args.scale,
        jk=args.jk, normalize=args.normalize, method=args.method, sketch_size=args.sketch_size, sketch=args.sketch,
        seed=args.seed, device=args.device, dtype=_dtype(args.dtype), max_memory=args.max_memory,
        progress=None if not args.json else False, checkpoint_dir=args.checkpoint_dir,
        executor="local" if args.workers is None and args.scheduler is None else "dask",
        compress={"auto": "auto", "yes": True, "no": False}[args.compress],
    )
    on_disk, cluster = _out_of_core(args, est, len(data)), {}
    with _dask_client(args, cluster):
        t0 = time.perf_counter()
        if on_disk:
            from fastgnn.distributed import fit_transform_to_disk

            gram = fit_transform_to_disk(est, data, args.out).gram
        else:
            gram = est.fit_transform(data)
        seconds = time.perf_counter() - t0
    info = {
        "dataset": data.stats(),
        "config": _config(est),
        "kernel_seconds": seconds,
        "versions": _versions(),
        **({"cluster": cluster} if cluster else {}),
        **({"out_of_core": True} if on_disk else {}),
    }
    if args.evaluate:
        info["evaluation"] = _evaluate(gram, data.y, data.folds, ("paper", "nested"), "svm",
                                       args.json)
    if args.out:
        out = Path(args.out)
        if not on_disk:  # else gram.npy and readouts.npy are written already
            save_npy(out / "gram.npy", gram)
        save_npy(out / "labels.npy", data.y)
        with atomic_path(out / "folds.npz", ".npz") as tmp:
            np.savez(tmp, **_folds_arrays(data.folds))
        save_json(out / "gntk.json", info)
        info["out"] = str(out)
    if args.json:
        _print_json(info)
    else:
        s = data.stats()
        print(f"{data.name}: {s['graphs']} graphs, avg {s['avg_nodes']:.1f} nodes; "
              f"GNTK {_describe(est)}: {seconds:.2f} s")
        for res in info.get("evaluation", {}).values():
            print(f"  {res['protocol']:>6}: {100 * res['mean']:.2f} ± {100 * res['std']:.2f} %")
        if args.out:
            print(f"wrote {args.out}/gram.npy, labels.npy, folds.npz, gntk.json")
    return 0


@contextlib.contextmanager
def _dask_client(args, info: dict):
    """``--workers N`` / ``--scheduler ADDRESS``: the Dask client of the run, active inside the block
    (``info`` gets its workers and start-up seconds); neither: nothing."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    from fastgnn.distributed import cluster_client, require_distributed

    try:
        require_distributed("--workers" if args.scheduler is None else "--scheduler")
    except ImportError as e:
        raise RuntimeError(str(e)) from None
    with cluster_client(args.workers, args.scheduler) as c:
        info.update(workers=len(c.nthreads()), threads=sum(c.nthreads().values()),
                    scheduler=args.scheduler or "local", startup_seconds=c.startup_seconds)
        yield c


def _out_of_core(args, est, n_graphs: int) -> bool:
    """Write the Gram straight to disk: asked (``--out-of-core``), or ``--out`` given and the Gram with
    its readouts exceeds the memory budget."""
    if args.out_of_core and not args.out:
        raise ValueError("--out-of-core writes gram.npy and readouts.npy into --out DIR: give --out")
    if not args.out or est.method != "batched":
        if args.out_of_core:
            raise ValueError(f"--out-of-core needs --method batched, got {est.method}")
        return False
    from fastgnn.distributed import gram_bytes
    from fastgnn.gntk.engine import default_max_memory
    from fastgnn.gntk.estimator import _auto_memory, parse_memory

    budget = default_max_memory(est.device) if _auto_memory(est.max_memory) else parse_memory(est.max_memory)
    return bool(args.out_of_core) or gram_bytes(n_graphs, est.num_layers) > budget


def cmd_evaluate(args) -> int:
    path = Path(args.gram)
    folder = path if path.is_dir() else path.parent
    gram = _load_gram(path / "gram.npy" if path.is_dir() else path, args.by_blocks)
    labels = Path(args.labels) if args.labels else folder / "labels.npy"
    if not labels.exists():
        raise FileNotFoundError(f"labels not found: {labels} (give --labels FILE.npy)")
    y = np.load(labels)
    folds = _read_folds(args, folder, y)
    protocols = ("paper", "nested") if args.protocol == "both" else (args.protocol,)
    result = _evaluate(gram, y, folds, protocols, args.classifier, args.json)
    if args.json:
        _print_json(result)
    else:
        for res in result.values():
            chosen = (f"{res['normalization']}, {res['param_name']}={res['C']:.4g}"
                      if res["protocol"] == "paper" else "chosen per fold by inner CV")
            print(f"{args.classifier} {res['protocol']:>6}: {100 * res['mean']:.2f} ± "
                  f"{100 * res['std']:.2f} % ({chosen}; {res['seconds']:.1f} s)")
    return 0


def _load_gram(file: Path, by_blocks: str) -> np.ndarray:
    """The Gram of ``fastgnn evaluate``: a read-only memory map when evaluated by blocks (``yes``, or ``auto``
    and larger than :data:`fastgnn.distributed.outofcore.BY_BLOCKS_BYTES`: ``svm_cv`` then transforms it by
    bands and reads each fold's blocks from disk), else read whole into memory."""
    from fastgnn.distributed.outofcore import BY_BLOCKS_BYTES

    if not file.exists():
        raise FileNotFoundError(f"gram not found: {file}")
    gram = np.load(file, mmap_mode="r")
    if by_blocks == "no" or (by_blocks == "auto" and gram.nbytes <= BY_BLOCKS_BYTES):
        return np.array(gram)
    return gram


def cmd_search(args) -> int:
    from fastgnn.io import save_json
    from fastgnn.search import gntk_search

    data = _load(args.dataset, args.data_dir)
    grid = {
        "num_layers": _ints(args.layers),
        "num_mlp_layers": _ints(args.mlp_layers),
        "scale": tuple(args.scales.split(",")),
        "jk": {"both": (True, False), "yes": (True,), "no": (False,)}[args.jk],
    }
    protocols = ("paper", "nested") if args.protocol == "both" else (args.protocol,)
    C_grid = np.logspace(-2, 4, args.num_C)
    cluster = {}
    with _dask_client(args, cluster) as client:
        res = gntk_search(
            data, grid=grid, protocols=protocols, C_grid=C_grid, cache_dir=args.cache,
            refine_top=args.refine_top, fully_nested=args.fully_nested, solver=args.solver,
            device=args.device, dtype=_dtype(args.dtype), max_memory=args.max_memory,
            progress=not args.json, log=None if args.json else print, n_jobs=args.jobs,
            checkpoint_dir=args.checkpoint_dir, executor="local" if client is None else "dask",
        )
    out = res.to_dict()
    out["versions"] = _versions()
    if cluster:
        out["cluster"] = cluster
    if args.out:
        save_json(args.out, out)
    if args.json:
        _print_json(out)
    else:
        print(res.table())
        for p in protocols:
            b = res.best(p)
            print(f"best ({p}): L={b['num_layers']} R={b['num_mlp_layers']} scale={b['scale']} "
                  f"jk={b['jk']}: {100 * b[p + '_mean']:.2f} ± {100 * b[p + '_std']:.2f} %"
                  + "".join(f"  [{q}: {100 * b[q + '_mean']:.2f}]" for q in protocols if q != p))
        if res.fully_nested is not None:
            print(f"fully nested: {100 * res.fully_nested['mean']:.2f} ± {100 * res.fully_nested['std']:.2f} %")
        print(f"kernel time {res.kernel_seconds:.1f} s, evaluation time {res.eval_seconds:.1f} s ("
              + ", ".join(f"{k} {v:.1f} s" for k, v in res.stage_seconds.items()) + ")")
    return 0


def cmd_demo(args) -> int:
    from fastgnn import datasets
    from fastgnn.evaluate import svm_cv
    from fastgnn.gntk import GNTK
    from fastgnn.io import save_json
    from fastgnn.plot import gram_heatmap

    t_start = time.perf_counter()
    name = "MUTAG" if datasets.find("MUTAG", args.data_dir) else "synthetic"
    data = datasets.load(name, args.data_dir, download=False)
    est = GNTK(num_layers=3, num_mlp_layers=2, scale="uniform", jk=True,
               progress=None if not args.json else False)
    t0 = time.perf_counter()
    gram = est.fit_transform(data)
    kernel_s = time.perf_counter() - t0
    results = {p: svm_cv(gram, data.y, data.folds, protocol=p) for p in ("paper", "nested")}
    out = Path(args.out)
    png = gram_heatmap(gram, data.y, out / f"gntk_{name.lower()}.png",
                       title=f"GNTK of {name} ({len(data)} graphs)\n{_describe(est)}")
    summary = {
        "dataset": data.stats(),
        "config": _config(est),
        "kernel_seconds": kernel_s,
        "accuracy": {p: r.to_dict() for p, r in results.items()},
        "heatmap": str(png),
        "total_seconds": time.perf_counter() - t_start,
        "versions": _versions(),
    }
    save_json(out / "demo.json", summary)
    if args.json:
        _print_json(summary)
        return 0
    s = data.stats()
    print(f"dataset     {name}: {s['graphs']} graphs, {s['classes']} classes, "
          f"avg {s['avg_nodes']:.1f} nodes" + ("" if name == "MUTAG" else
                                              " (generated; pass --data-dir for MUTAG)"))
    print(f"kernel      GNTK {_describe(est)}: {kernel_s:.2f} s "
          f"({len(data) * (len(data) + 1) // 2} graph pairs)")
    for p, r in results.items():
        print(f"accuracy    10-fold SVM, {p:>6} protocol: {100 * r.mean:.2f} ± {100 * r.std:.2f} %")
    print(f"heat map    {png}")
    print(f"total       {summary['total_seconds']:.1f} s")
    return 0


def cmd_reproduce(args) -> int:
    from fastgnn.io import to_json
    from fastgnn.reproduce import reproduce

    log = None if args.json else print
    if args.update_doc:  # a document without its markers fails now, not after hours of work
        from fastgnn.reproduce.report import check_document

        check_document(args.update_doc)
    cluster = {}
    with _dask_client(args, cluster) as client:
        summary = reproduce(
            args.datasets or None, data_dir=args.data_dir, out=args.out, quick=args.quick,
            fully_nested=args.fully_nested, gnn=args.gnn, refine_top=args.refine_top,
            workers=None if client is None else cluster["workers"], progress=not args.json, log=log,
        )
    if args.update_doc:
        from fastgnn.reproduce.report import update_document

        update_document(args.update_doc, summary, source=f"Regenerated from `{summary['report']}` by `fastgnn "
                        f"reproduce --update-doc`.")
        if log:
            log(f"[reproduce] updated {args.update_doc}")
    if args.json:
        print(to_json(summary))
        return 0
    for r in summary["accuracy"]:
        paper = "-" if r["paper"] is None else f"{r['paper']:.1f}"
        print(f"{r['dataset']:>11}: paper {paper:>5} %, fastgnn paper protocol {r['paper_protocol']:.2f} %, "
              f"nested {r['nested']:.2f} %" + (f", fully nested {r['fully_nested']:.2f} %"
                                               if r.get("fully_nested") is not None else ""))
    return 0


def cmd_datasets(args) -> int:
    from fastgnn import datasets

    rows = []
    for name in datasets.KNOWN_NAMES:
        where = datasets.find(name, args.data_dir) if name != "synthetic" else ("generated", "")
        rows.append({"name": name, "format": where[0] if where else None,
                     "path": str(where[1]) if where else None})
    for name in datasets.PLANETOID_NAMES:  # node classification: a folder of ind.* files
        folder = datasets.find_planetoid(name, args.data_dir)
        rows.append({"name": name, "format": "planetoid" if folder else None,
                     "path": str(folder) if folder else None})
    rows.append({"name": "sbm", "format": "generated", "path": ""})
    if args.json:
        _print_json({"datasets": rows, "searched": [str(d) for d in datasets.search_dirs(args.data_dir)]})
    else:
        for r in rows:
            print(f"{r['name']:>11}  {r['format'] or 'not found':>9}  {r['path'] or ''}")
    return 0


def cmd_train(args) -> int:
    from fastgnn.io import save_json
    from fastgnn.train import experiment, parse_fanouts

    progress = not args.json and not args.no_progress
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.model not in experiment.MODEL_NAMES:
        raise ValueError(f"unknown model {args.model!r}; known models: {', '.join(experiment.MODEL_NAMES)}")
    fanouts = parse_fanouts(args.fanouts)
    patience = None if args.patience == 0 else args.patience
    node = experiment.is_node_dataset(args.dataset)
    args.seeds = args.seeds if args.seeds is not None else (10 if node else 1)
    if node:
        sbm_args = {"num_nodes": args.nodes, "num_classes": args.classes, "num_features": args.features,
                    "avg_degree": args.avg_degree, "homophily": args.homophily, "seed": args.data_seed,
                    "feature_signal": args.feature_signal}
        info = experiment.run_node_experiment(
            args.model, args.dataset, args.data_dir, seeds=args.seeds, first_seed=args.seed, sgd=args.sgd,
            batch_size=args.batch_size or 512, fanouts=fanouts, epochs=args.epochs, lr=args.lr,
            weight_decay=args.weight_decay, patience=patience, normalize_features=args.normalize_features,
            sbm_args=sbm_args, device=args.device, progress=progress,
        )
    else:
        if args.sgd:
            raise ValueError("--sgd (neighbour sampling) is for node datasets (Cora, CiteSeer, sbm); graph "
                             "datasets are trained in mini-batches of whole graphs (--batch-size)")
        info = experiment.run_graph_experiment(
            args.model, args.dataset, args.data_dir, seeds=args.seeds, first_seed=args.seed, epochs=args.epochs,
            lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size, readout=args.readout,
            device=args.device, progress=progress,
        )
    info["versions"] = _versions()
    if args.out:
        name = f"train_{info['model']}_{info['dataset']['name']}{'_sgd' if info.get('mode') == 'sgd' else ''}.json"
        info["out"] = str(save_json(Path(args.out) / name.replace("/", "-"), info))
    if args.json:
        _print_json(info)
        return 0
    d = info["dataset"]
    if info["task"] == "node":
        extra = f", batches of {args.batch_size or 512}, fanouts {info['settings']['fanouts']}" if args.sgd else ""
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


# --------------------------------------------------------------------------- helpers


def _load(name, data_dir):
    """A graph dataset by name or folder; a node dataset (Cora, CiteSeer, sbm) is refused by name."""
    from fastgnn import datasets

    if datasets.is_node_dataset(name):
        raise ValueError(f"{name} is a node-classification dataset (one graph whose nodes are labelled); this "
                         "command compares whole graphs: give a graph dataset (MUTAG, PTC, NCI1, PROTEINS, COLLAB, "
                         f"IMDBBINARY, IMDBMULTI, synthetic, or a folder), or train a GNN on {name} with "
                         f"`fastgnn train --model gcn --dataset {name}`")
    return datasets.load(name, data_dir)


def _evaluate(gram, y, folds, protocols, classifier, quiet) -> dict:
    from fastgnn.evaluate import krr_cv, svm_cv

    fn = svm_cv if classifier == "svm" else krr_cv
    out = {}
    for p in protocols:
        out[p] = fn(gram, y, folds, protocol=p, progress=not quiet).to_dict()
        for k in ("curve", "curve_folds", "grid"):
            out[p].pop(k, None)
    return out


def _read_folds(args, folder, y):
    from fastgnn import datasets
    from fastgnn.graph import stratified_folds

    if args.folds_from:
        return datasets.load(args.folds_from, args.data_dir).folds
    if (folder / "folds.npz").exists():
        z = np.load(folder / "folds.npz")
        k = len(z.files) // 2
        return [(z[f"train_{i}"], z[f"test_{i}"]) for i in range(k)]
    return stratified_folds(y)


def _folds_arrays(folds) -> dict:
    out = {}
    for i, (tr, te) in enumerate(folds):
        out[f"train_{i}"], out[f"test_{i}"] = tr, te
    return out


def _dtype(name):
    import torch

    return {"float64": torch.float64, "float32": torch.float32}[name]


def _describe(est) -> str:
    s = f"L={est.num_layers} R={est.num_mlp_layers} {est.scale} jk={'yes' if est.jk else 'no'} {est.method}"
    if est.sketch_size:
        s += f" b={est.sketch_size}"
    return s


def _config(est) -> dict:
    p = est.get_params()
    p["dtype"] = str(p["dtype"]).replace("torch.", "")
    p["device"] = str(p["device"])
    return p


def _versions() -> dict:
    import scipy
    import sklearn
    import torch

    import fastgnn

    return {"fastgnn": fastgnn.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "machine": platform.machine(),
            "cpus": __import__("os").cpu_count()}


def _ints(text) -> tuple:
    try:
        return tuple(int(t) for t in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None


def _print_json(obj) -> None:
    from fastgnn.io import to_json

    print(to_json(obj))


def _parser() -> argparse.ArgumentParser:
    from fastgnn import __version__
    from fastgnn.gntk.params import options

    p = argparse.ArgumentParser(prog="fastgnn", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"fastgnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(sp, data=True):
        sp.add_argument("--json", action="store_true", help="print the result as one JSON object")
        if data:
            sp.add_argument("--data-dir", metavar="DIR", default=None,
                            help="folder holding NAME/NAME.txt (GIN format) or the TU files; "
                                 "default $FASTGNN_DATA, then the download cache")

    def kernel_flags(sp):
        sp.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
        sp.add_argument("--dtype", default="float64", choices=options("dtype"))
        sp.add_argument("--max-memory", default="auto",
                        help="memory budget of the batched engine, e.g. 4GB or 512MiB (default auto: "
                             "1/4 of the available RAM, at most 4 GiB; on CUDA 1/2 of the free memory)")
        sp.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                        help="save each finished tile of the kernel here, and resume an interrupted "
                             "run with the same data and settings from it")

    g = sub.add_parser("gntk", help="compute a GNTK Gram matrix",
                       description="Compute the GNTK Gram matrix of a dataset.")
    g.add_argument("dataset", help="MUTAG, PTC, NCI1, PROTEINS, COLLAB, IMDBBINARY, IMDBMULTI, synthetic, or the "
                                   "path of a dataset folder in the GIN or TU format (path/MYSET)")
    g.add_argument("--num-layers", type=int, default=3, help="GNN layers incl. the input layer (>= 2)")
    g.add_argument("--num-mlp-layers", type=int, default=2, help="ReLU layers per block (>= 1)")
    g.add_argument("--scale", choices=options("scale"), default="uniform",
                   help="neighbour scaling c_u: 1 or 1/(deg+1)")
    g.add_argument("--jk", action=argparse.BooleanOptionalAction, default=True,
                   help="jumping knowledge: sum every layer's readout (default on)")
    g.add_argument("--method", choices=options("method"), default="batched",
                   help="aggregation algorithm (default batched)")
    g.add_argument("--sketch-size", type=int, default=None, help="b, rows of each sketch matrix")
    g.add_argument("--sketch", choices=options("sketch"), default="ams", help="sketch entries")
    g.add_argument("--compress", choices=("auto", "yes", "no"), default="auto",
                   help="run the recursion on each graph's colour classes (same kernel; auto: where a graph "
                        "has fewer classes than nodes; the sketched kernel runs on nodes)")
    g.add_argument("--normalize", action="store_true",
                   help="write the cosine-normalised kernel K(G,H)/sqrt(K(G,G) K(H,H)) (default: raw)")
    g.add_argument("--seed", type=int, default=0, help="seed of the sketches")
    g.add_argument("--out", metavar="DIR", help="write gram.npy, labels.npy, folds.npz, gntk.json")
    g.add_argument("--evaluate", action="store_true", help="also run the 10-fold SVM (both protocols)")
    g.add_argument("--out-of-core", action="store_true",
                   help="write gram.npy and readouts.npy (every depth) into --out as memory maps, tile by "
                        "tile, never whole in RAM (default: when they exceed the memory budget)")
    dask = g.add_mutually_exclusive_group()
    dask.add_argument("--workers", type=int, metavar="N", default=None,
                      help="run the tiles on a local Dask cluster of N single-threaded worker processes "
                           '(needs pip install "fastgnn[dask]")')
    dask.add_argument("--scheduler", metavar="ADDRESS", default=None,
                      help="run the tiles on the Dask cluster of this scheduler (tcp://host:8786)")
    kernel_flags(g)
    common(g)
    g.set_defaults(func=cmd_gntk)

    e = sub.add_parser("evaluate", help="10-fold accuracy of a Gram matrix",
                       description="Cross-validated accuracy of a precomputed Gram matrix.")
    e.add_argument("gram", help="gram.npy, or a folder written by `fastgnn gntk --out`")
    e.add_argument("--labels", help="labels .npy (default: labels.npy beside the Gram)")
    e.add_argument("--folds-from", metavar="DATASET",
                   help="use this dataset's folds (default: folds.npz beside the Gram, else stratified)")
    e.add_argument("--protocol", choices=("paper", "nested", "both"), default="both",
                   help="paper: best C on the test folds (as the GNTK paper); nested: C by inner CV")
    e.add_argument("--classifier", choices=("svm", "krr"), default="svm",
                   help="C-SVM or kernel ridge regression")
    e.add_argument("--by-blocks", choices=("auto", "yes", "no"), default="auto",
                   help="read the Gram from disk by blocks (a memory map: transformed by bands, each fold's "
                        "blocks read as needed) instead of whole into memory; auto: when over 1 GiB, e.g. the "
                        "gram.npy of `fastgnn gntk --out-of-core`")
    common(e)
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("search", help="search the GNTK hyperparameter grid",
                       description="Search num_layers x num_mlp_layers x scale x jk (x C).")
    s.add_argument("dataset")
    s.add_argument("--layers", default="2,3,4,5,6", help="num_layers values (default 2,3,4,5,6)")
    s.add_argument("--mlp-layers", default="1,2,3", help="num_mlp_layers values (default 1,2,3)")
    s.add_argument("--scales", default="uniform,degree", help="scale values (default both)")
    s.add_argument("--jk", choices=("both", "yes", "no"), default="both")
    s.add_argument("--protocol", choices=("paper", "nested", "both"), default="both")
    s.add_argument("--num-C", type=int, default=120,
                   help="values of C in logspace(-2, 4), for every protocol and the inner CV (default 120)")
    s.add_argument("--refine-top", type=int, default=None, metavar="K",
                   help="two-stage search: screen every configuration by the paper protocol, then run the "
                        "nested protocol's inner CV on the K best only")
    s.add_argument("--fully-nested", action="store_true",
                   help="also choose the configuration inside each training fold (inner CV of every "
                        "configuration): the estimate of the whole search")
    s.add_argument("--solver", choices=("path", "libsvm"), default="path",
                   help="SVM solver: the warm-started C path (default) or libsvm fit by fit (capped at 5e5 "
                        "iterations, the authors')")
    s.add_argument("--jobs", type=int, default=None,
                   help="parallel threads of the SVM cross-validation (default: all cores)")
    sdask = s.add_mutually_exclusive_group()
    sdask.add_argument("--workers", type=int, metavar="N", default=None,
                       help="run the kernels' tiles and the SVM paths on a local Dask cluster of N single-threaded "
                            'worker processes (needs pip install "fastgnn[dask]")')
    sdask.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run them on the Dask cluster of this scheduler (tcp://host:8786)")
    s.add_argument("--cache", metavar="DIR",
                   help="save and reuse the kernels' readouts and the SVM results here (a killed search resumes)")
    s.add_argument("--out", metavar="FILE", help="write the full result as JSON")
    kernel_flags(s)
    common(s)
    s.set_defaults(func=cmd_search)

    d = sub.add_parser("demo", help="the main job on an embedded default, in under a minute",
                       description="GNTK of MUTAG (if --data-dir holds it) or of the generated "
                                   "dataset, its 10-fold accuracy, the time taken and a heat map.")
    d.add_argument("--out", default="fastgnn-demo", help="folder for the PNG and JSON (default fastgnn-demo)")
    common(d)
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a GNN (node classification, or graph classification by 10-fold CV)",
                       description="Train a GNN: GCN / dense GCN / GAT / dense self-attention node classifiers on "
                                   "Cora, CiteSeer (public split) or a generated SBM graph, over seeds; or GIN / GCN "
                                   "graph classifiers on MUTAG, PROTEINS, IMDBBINARY ... by 10-fold CV.")
    t.add_argument("--model", required=True, help="gcn, dense-gcn, gat, attention (node datasets); gin, gcn (graph "
                                                   "datasets)")
    t.add_argument("--dataset", required=True, help="Cora, CiteSeer, sbm, or a graph dataset (MUTAG, PROTEINS, ...)")
    t.add_argument("--sgd", action="store_true", help="mini-batch SGD with neighbour sampling (node datasets)")
    t.add_argument("--batch-size", type=int, default=None,
                   help="seed nodes per SGD step (default 512), or graphs per batch (default 32)")
    t.add_argument("--fanouts", default="10,10", help="neighbours sampled per node at each hop (default 10,10)")
    t.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the paper's, per model)")
    t.add_argument("--seeds", type=int, default=None, help="runs with seeds --seed.. (default 10 for node datasets, "
                                                          "1 for graph datasets)")
    t.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the paper's)")
    t.add_argument("--weight-decay", type=float, default=None, help="L2 weight decay (default: the paper's)")
    t.add_argument("--patience", type=int, default=-1,
                   help="early-stopping patience in epochs (default 100; 0 turns early stopping off)")
    t.add_argument("--normalize-features", action=argparse.BooleanOptionalAction, default=True,
                   help="row-normalise Planetoid features (default on, as the GCN and GAT papers)")
    t.add_argument("--readout", choices=("sum", "mean"), default=None,
                   help="graph pooling (default sum for bioinformatics sets, mean for social ones)")
    sbm = t.add_argument_group("--dataset sbm", "size of the generated stochastic block model")
    sbm.add_argument("--nodes", type=int, default=10_000, help="number of nodes (default 10000)")
    sbm.add_argument("--classes", type=int, default=5, help="number of classes (default 5)")
    sbm.add_argument("--features", type=int, default=32, help="number of features (default 32)")
    sbm.add_argument("--avg-degree", type=float, default=10.0, help="mean degree (default 10)")
    sbm.add_argument("--homophily", type=float, default=0.8, help="fraction of same-class edges (default 0.8)")
    sbm.add_argument("--feature-signal", type=float, default=0.1,
                     help="separation of the class means in feature space (default 0.1: weak features)")
    sbm.add_argument("--data-seed", type=int, default=0, help="seed of the generated graph (default 0)")
    t.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--out", metavar="DIR", help="write train_MODEL_DATASET[_sgd].json (settings, per-seed histories)")
    common(t)
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("reproduce", help="regenerate the GNTK paper's tables (resumable)",
                       description="Regenerate the GNTK paper's tables end to end on the datasets found: "
                                   "accuracy against the paper, kernel time by algorithm, the sketch's effect "
                                   "(and GNNs with --gnn); writes OUT/report.md, CSVs and PNGs. A rerun skips "
                                   "the stages already finished.")
    r.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="default: MUTAG PTC NCI1 PROTEINS COLLAB IMDBBINARY IMDBMULTI (--quick: MUTAG PTC); "
                        "missing ones are skipped")
    r.add_argument("--out", metavar="DIR", default="reproduce", help="output folder (default reproduce)")
    r.add_argument("--quick", action="store_true",
                   help="small subset: MUTAG and PTC, 2 configurations, 25 values of C, few pairs and sketch sizes")
    r.add_argument("--fully-nested", action="store_true",
                   help="also choose the configuration inside each training fold (fully nested CV)")
    r.add_argument("--gnn", action="store_true", help="also train GCN and GIN by 10-fold CV")
    r.add_argument("--update-doc", metavar="FILE", default=None,
                   help="also rewrite the accuracy and stage-time tables between FILE's '<!-- fastgnn reproduce: "
                        "begin ... -->' and '<!-- fastgnn reproduce: end -->' lines (e.g. docs/gntk-results.md)")
    r.add_argument("--refine-top", type=int, default=None, metavar="K",
                   help="configurations refined under both protocols after the screen (default 5; --quick 1)")
    rdask = r.add_mutually_exclusive_group()
    rdask.add_argument("--workers", type=int, metavar="N", default=None,
                       help="run the search's kernels and SVM paths on a local Dask cluster of N single-threaded "
                            'worker processes (needs pip install "fastgnn[dask]")')
    rdask.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run them on the Dask cluster of this scheduler (tcp://host:8786)")
    common(r)
    r.set_defaults(func=cmd_reproduce)

    ls = sub.add_parser("datasets", help="list the known datasets and where they are found")
    common(ls)
    ls.set_defaults(func=cmd_datasets)

    from fastgnn.complexity.cli import add_subparser as add_complexity

    add_complexity(sub)  # `fastgnn complexity`: the profiler owns its flags
    return p


if __name__ == "__main__":
    sys.exit(main())
