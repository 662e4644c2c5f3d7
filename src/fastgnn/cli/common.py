"""What several ``fastgnn`` commands share: flags, loading a graph dataset, evaluating a Gram, printing.

Flags, each with its choices and defaults read from the library:

* :func:`add_common` -- ``--json`` and ``--data-dir`` (every command).
* :func:`add_kernel_flags` -- ``--device``, ``--dtype``, ``--max-memory``, ``--checkpoint-dir``
  (``gntk``, ``search``): defaults of :class:`~fastgnn.gntk.GNTK`.
* :func:`add_cluster_flags` -- ``--workers N`` / ``--scheduler ADDRESS`` (``gntk``, ``search``,
  ``reproduce``); :func:`dask_client`, the Dask client they ask for, and :func:`executor_name`.
* :func:`add_protocol_flag` -- ``--protocol``: one of
  :data:`~fastgnn.model_selection.protocols.PROTOCOLS`, or ``both``; :func:`protocols` reads it.

Helpers: :func:`load_graphs` (a graph dataset; a node dataset is refused with the command to use),
:func:`evaluate_gram` (``svm_cv`` / ``krr_cv`` under each protocol, as JSON-ready dicts) and
:func:`result_line` (one of them in a line, with its fold count and the Gram its C belongs to),
:func:`describe_estimator` and :func:`estimator_config` (a fitted GNTK in a line, in JSON),
:func:`versions` (what ``"versions"`` of every command's JSON holds) and :func:`print_json`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from fastgnn import datasets, environment
from fastgnn.distributed import cluster_client, require_distributed
from fastgnn.evaluate import LOW_PRECISION_NOTE, describe_choice, krr_cv, svm_cv
from fastgnn.executors import LOCAL
from fastgnn.gntk import GNTK
from fastgnn.gntk.params import options
from fastgnn.gram import NORMALIZATIONS, check_normalizations
from fastgnn.io import to_json
from fastgnn.model_selection.protocols import PROTOCOLS

__all__ = ["GNTK_DEFAULTS", "CLASSIFIERS", "BOTH", "DASK", "add_common", "add_kernel_flags", "add_cluster_flags",
           "add_protocol_flag", "add_normalizations_flag", "normalization_list", "protocols", "spell", "spelled",
           "load_graphs", "dask_client", "executor_name", "evaluate_gram", "result_line", "describe_estimator",
           "estimator_config", "versions", "print_json", "graph_dataset_names", "warn_low_precision"]

#: :class:`~fastgnn.gntk.GNTK`'s parameters and their defaults: the defaults of the kernel flags
GNTK_DEFAULTS = GNTK().get_params()
#: ``--classifier`` of ``evaluate``: the cross-validation each name runs
CLASSIFIERS = {"svm": svm_cv, "krr": krr_cv}
#: the choice of ``--protocol`` (and of ``search --jk``) that means every value
BOTH = "both"
#: the executor that ``--workers`` / ``--scheduler`` select (one of :data:`fastgnn.executors.EXECUTORS`)
DASK = "dask"


def add_common(parser) -> None:
    """``--json`` and ``--data-dir``."""
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="folder holding NAME/NAME.txt (GIN format) or the TU files; "
                             "default $FASTGNN_DATA, then the download cache")


def add_kernel_flags(parser) -> None:
    """``--device``, ``--dtype``, ``--max-memory``, ``--checkpoint-dir``: the GNTK's, with its defaults."""
    d = GNTK_DEFAULTS
    parser.add_argument("--device", default=d["device"], help=f"cpu or cuda (default {d['device']})")
    parser.add_argument("--dtype", default=d["dtype"], choices=options("dtype"))
    parser.add_argument("--max-memory", default=d["max_memory"],
                        help=f"memory budget of the batched engine, e.g. 4GB or 512MiB (default {d['max_memory']}: "
                             "1/4 of the available RAM, at most 4 GiB; on CUDA 1/2 of the free memory)")
    parser.add_argument("--checkpoint-dir", metavar="DIR", default=d["checkpoint_dir"],
                        help="save each finished tile of the kernel here, and resume an interrupted "
                             "run with the same data and settings from it")


def add_cluster_flags(parser, what: str, *, more: str = "them") -> None:
    """``--workers N`` or ``--scheduler ADDRESS`` (mutually exclusive): run ``what`` on Dask."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, metavar="N", default=None,
                       help=f"run {what} on a local Dask cluster of N single-threaded worker processes "
                            '(needs pip install "fastgnn[dask]")')
    group.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help=f"run {more} on the Dask cluster of this scheduler (tcp://host:8786)")


def add_protocol_flag(parser, help: str | None = None) -> None:
    """``--protocol``: one of :data:`~fastgnn.model_selection.protocols.PROTOCOLS`, or ``both`` (the default)."""
    parser.add_argument("--protocol", choices=(*PROTOCOLS, BOTH), default=BOTH, help=help)


def add_normalizations_flag(parser) -> None:
    """``--normalizations``: the Gram transforms the model selection compares (comma-separated, in tie-break
    order; default both of :data:`fastgnn.gram.NORMALIZATIONS`)."""
    parser.add_argument("--normalizations", type=normalization_list, default=NORMALIZATIONS, metavar="LIST",
                        help="the Gram's normalisations the SVM compares, comma-separated (default: "
                             f"{','.join(NORMALIZATIONS)}; 'cosine' alone where the raw self-kernels span many "
                             "orders of magnitude, e.g. REDDIT-BINARY)")


def normalization_list(text: str) -> tuple:
    """``"raw,cosine"`` -> ``("raw", "cosine")``, each checked (argparse's error names the bad one)."""
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    try:
        return check_normalizations(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def protocols(choice: str) -> tuple:
    """The protocols a ``--protocol`` value runs: ``both`` is every one of ``PROTOCOLS``."""
    return tuple(PROTOCOLS) if choice == BOTH else (choice,)


def spell(value) -> str:
    """A parameter's value as the command line spells it: ``True`` is ``yes``, ``False`` is ``no``."""
    return "yes" if value is True else "no" if value is False else str(value)


def spelled(values) -> dict:
    """``{spelling: value}`` of a parameter's values (:func:`spell`), in their order."""
    return {spell(v): v for v in values}


def graph_dataset_names() -> str:
    """The graph datasets known by name, for help texts: ``MUTAG, PTC, ..., synthetic``."""
    return ", ".join(datasets.KNOWN_NAMES)


def load_graphs(name, data_dir):
    """A graph dataset by name or folder; a node dataset (Cora, CiteSeer, sbm) is refused by name."""
    if datasets.is_node_dataset(name):
        raise ValueError(f"{name} is a node-classification dataset (one graph whose nodes are labelled); this "
                         f"command compares whole graphs: give a graph dataset ({graph_dataset_names()}, or a "
                         f"folder), or train a GNN on {name} with `fastgnn train --model gcn --dataset {name}`")
    return datasets.load(name, data_dir)


@contextlib.contextmanager
def dask_client(args, info: dict):
    """``--workers N`` / ``--scheduler ADDRESS``: the Dask client of the run, active inside the block
    (``info`` gets its workers and start-up seconds); neither: ``None``."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    try:
        require_distributed("--workers" if args.scheduler is None else "--scheduler")
    except ImportError as e:
        raise RuntimeError(str(e)) from None
    with cluster_client(args.workers, args.scheduler) as c:
        info.update(workers=len(c.nthreads()), threads=sum(c.nthreads().values()),
                    scheduler=args.scheduler or "local", startup_seconds=c.startup_seconds)
        yield c


def executor_name(args) -> str:
    """The ``executor=`` of a run: :data:`DASK` with ``--workers`` or ``--scheduler``, else ``"local"``."""
    return LOCAL if args.workers is None and args.scheduler is None else DASK


def evaluate_gram(gram, y, folds, protocols, classifier: str, quiet: bool,
                  normalizations: Sequence[str] = NORMALIZATIONS) -> dict:
    """``{protocol: result dict}`` of ``CLASSIFIERS[classifier]`` (curves and grid left out)."""
    fn = CLASSIFIERS[classifier]
    out = {}
    for p in protocols:
        out[p] = fn(gram, y, folds, protocol=p, progress=not quiet, normalizations=normalizations).to_dict()
        for k in ("curve", "curve_folds", "grid"):
            out[p].pop(k, None)
    return out


def result_line(res: dict) -> str:
    """One result of :func:`evaluate_gram` in a line: ``paper: 89.44 ± 6.1 % over 10 folds (raw = gram /
    0.0123, C=1561; 2.0 s)`` (the C is that of the Gram named, see :class:`fastgnn.evaluate.CVResult`)."""
    if res["protocol"] == "paper":
        chosen = describe_choice(res["normalization"], res["param_name"], res["C"], res.get("gram_scale", 1.0))
    else:
        chosen = f"{res['param_name']} and normalisation chosen per fold by inner CV"
    return (f"{res['protocol']:>6}: {100 * res['mean']:.2f} ± {100 * res['std']:.2f} % over {res['folds']} folds "
            f"({chosen}; {res['seconds']:.1f} s)")


def warn_low_precision(args, command: str) -> None:
    """``--dtype float32`` where an accuracy is computed from the kernel: one warning line on stderr
    (:data:`fastgnn.evaluate.LOW_PRECISION_NOTE`)."""
    if args.dtype != "float64":
        print(f"fastgnn {command}: warning: --dtype {args.dtype}: {LOW_PRECISION_NOTE}.", file=sys.stderr)


def describe_estimator(est) -> str:
    """``L=3 R=2 uniform jk=yes batched`` (and ``b=`` when sketched)."""
    s = f"L={est.num_layers} R={est.num_mlp_layers} {est.scale} jk={'yes' if est.jk else 'no'} {est.method}"
    if est.sketch_size:
        s += f" b={est.sketch_size}"
    return s


def estimator_config(est) -> dict:
    """The GNTK's parameters as JSON (dtype and device as their names)."""
    p = est.get_params()
    p["dtype"] = str(p["dtype"]).replace("torch.", "")
    p["device"] = str(p["device"])
    return p


def versions() -> dict:
    """The ``"versions"`` entry of every command's JSON: :func:`fastgnn.environment.versions`, the
    architecture and the CPU count."""
    m = environment.machine()
    return {**environment.versions(), "machine": m["machine"], "cpus": m["cpus"]}


def print_json(obj) -> None:
    print(to_json(obj))
