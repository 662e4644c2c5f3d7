"""``fastgnn search DATASET``: the GNTK hyperparameter grid, by :func:`fastgnn.search.gntk_search`.

The grid's defaults are :data:`fastgnn.search.DEFAULT_GRID`; the values of C span
:data:`fastgnn.model_selection.solvers.DEFAULT_C_GRID`'s range (``--num-C`` of them, its length by
default); the protocols, solvers and their defaults are those of the model selection and of
:func:`~fastgnn.search.gntk_search`'s signature.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from fastgnn.cli import FILE, FOLDER
from fastgnn.cli.common import (
    BOTH,
    add_cluster_flags,
    add_common,
    add_kernel_flags,
    add_protocol_flag,
    dask_client,
    executor_name,
    graph_dataset_names,
    load_graphs,
    print_json,
    protocols,
    spelled,
    versions,
    warn_low_precision,
)
from fastgnn.gntk.params import DTYPES, PARAMETER_CONSTRAINTS, options
from fastgnn.io import save_json
from fastgnn.model_selection.solvers import DEFAULT_C_GRID, SOLVERS, SVM_MAX_ITER
from fastgnn.search import DEFAULT_GRID, gntk_search

__all__ = ["add_subparser", "run", "JK", "C_EXPONENTS", "GRID_FLAGS", "parse_ints", "c_grid", "parse_grid"]

#: ``--jk``: ``both`` (every value of the GNTK's ``jk``), ``yes`` or ``no``
JK = {BOTH: tuple(options("jk")), **{k: (v,) for k, v in spelled(options("jk")).items()}}
#: ``(low, high)``: the values of C are ``logspace(low, high, --num-C)``, the range of the default grid
C_EXPONENTS = (float(np.log10(DEFAULT_C_GRID[0])), float(np.log10(DEFAULT_C_GRID[-1])))
_SEARCH = inspect.signature(gntk_search).parameters
#: the flag of each GNTK parameter the grid spans (``--jk`` has fixed choices)
GRID_FLAGS = {"num_layers": "layers", "num_mlp_layers": "mlp_layers", "scale": "scales"}
#: what the search's C values belong to (its rows' ``paper_C``), as :class:`fastgnn.evaluate.CVResult`'s ``C``
C_NOTE = ("paper_C is the C of the Gram the SVM was fitted on: for paper_normalization 'raw' the GNTK Gram divided "
          "by its smallest entry (as Du et al.'s script), for 'cosine' the cosine-normalised Gram")


def add_subparser(subparsers):
    """Register ``search``; its ``func`` is :func:`run`."""
    grid = {k: ",".join(map(str, v)) for k, v in DEFAULT_GRID.items() if k != "jk"}
    lo, hi = (f"{e:g}" for e in C_EXPONENTS)
    s = subparsers.add_parser("search", help="search the GNTK hyperparameter grid",
                              description="Search num_layers x num_mlp_layers x scale x jk (x C).")
    s.add_argument("dataset", help=f"the graph dataset: {graph_dataset_names()}, or the path of a dataset folder "
                                   "in the GIN or TU format (path/MYSET)")
    s.add_argument("--layers", default=grid["num_layers"], help=f"num_layers values (default {grid['num_layers']})")
    s.add_argument("--mlp-layers", default=grid["num_mlp_layers"],
                   help=f"num_mlp_layers values (default {grid['num_mlp_layers']})")
    s.add_argument("--scales", default=grid["scale"], help=f"scale values (default {grid['scale']})")
    jk = next(k for k, v in JK.items() if v == tuple(DEFAULT_GRID["jk"]))
    s.add_argument("--jk", choices=tuple(JK), default=jk,
                   help=f"jumping knowledge searched: with and without ({BOTH}), only with (yes) or only without "
                        f"(no) (default {jk})")
    add_protocol_flag(s, "paper: best C on the test folds (as the GNTK paper); nested: C by inner CV; both: "
                         "each configuration under each")
    s.add_argument("--num-C", type=int, default=len(DEFAULT_C_GRID),
                   help=f"values of C in logspace({lo}, {hi}), for every protocol and the inner CV "
                        f"(default {len(DEFAULT_C_GRID)})")
    s.add_argument("--refine-top", type=int, default=_SEARCH["refine_top"].default, metavar="K",
                   help="two-stage search: screen every configuration by the paper protocol, then run the "
                        "nested protocol's inner CV on the K best only")
    s.add_argument("--fully-nested", action="store_true", default=_SEARCH["fully_nested"].default,
                   help="also choose the configuration inside each training fold (inner CV of every "
                        "configuration): the estimate of the whole search")
    s.add_argument("--solver", choices=SOLVERS, default=_SEARCH["solver"].default,
                   help=f"SVM solver: the warm-started C path (default {_SEARCH['solver'].default}) or libsvm fit "
                        f"by fit (capped at {SVM_MAX_ITER:,} iterations, the authors')")
    s.add_argument("--jobs", type=int, default=_SEARCH["n_jobs"].default,
                   help="parallel threads of the SVM cross-validation (default: all cores)")
    add_cluster_flags(s, "the kernels' tiles and the SVM paths")
    s.add_argument("--cache", metavar="DIR",
                   help="save and reuse the kernels' readouts and the SVM results here (a killed search resumes)")
    s.add_argument("--out", metavar="FILE", help="write the full result as JSON")
    add_kernel_flags(s)
    add_common(s)
    s.set_defaults(func=run, outputs={"out": FILE, "cache": FOLDER, "checkpoint_dir": FOLDER})
    return s


def run(args) -> int:
    """Run ``fastgnn search`` for parsed ``args``; returns the exit status."""
    grid = parse_grid(args)  # every value checked before the data is read or a bar is shown
    warn_low_precision(args, "search")
    data = load_graphs(args.dataset, args.data_dir)
    chosen = protocols(args.protocol)
    cluster = {}
    with dask_client(args, cluster):
        res = gntk_search(
            data, grid=grid, protocols=chosen, C_grid=c_grid(args.num_C), cache_dir=args.cache,
            refine_top=args.refine_top, fully_nested=args.fully_nested, solver=args.solver,
            device=args.device, dtype=DTYPES[args.dtype], max_memory=args.max_memory,
            progress=not args.json, log=None if args.json else print, n_jobs=args.jobs,
            checkpoint_dir=args.checkpoint_dir, executor=executor_name(args),
        )
    out = res.to_dict()
    out["versions"] = versions()
    out["folds"] = len(data.folds)
    out["C_note"] = C_NOTE
    if cluster:
        out["cluster"] = cluster
    if args.out:
        save_json(args.out, out)
    if args.json:
        print_json(out)
    else:
        print(res.table())
        for p in chosen:
            b = res.best(p)
            print(f"best ({p}): L={b['num_layers']} R={b['num_mlp_layers']} scale={b['scale']} "
                  f"jk={b['jk']}: {100 * b[p + '_mean']:.2f} ± {100 * b[p + '_std']:.2f} % over {len(data.folds)} "
                  "folds" + "".join(f"  [{q}: {100 * b[q + '_mean']:.2f}]" for q in chosen if q != p))
        if res.fully_nested is not None:
            print(f"fully nested: {100 * res.fully_nested['mean']:.2f} ± {100 * res.fully_nested['std']:.2f} % over "
                  f"{len(res.fully_nested['fold_accuracies'])} folds")
        ran = {k: v for k, v in res.stage_seconds.items() if k != "fully_nested" or res.fully_nested is not None}
        print(f"kernel time {res.kernel_seconds:.1f} s, evaluation time {res.eval_seconds:.1f} s ("
              + ", ".join(f"{k} {v:.1f} s" for k, v in ran.items()) + ")")
    return 0


def parse_grid(args) -> dict:
    """The grid of ``--layers``, ``--mlp-layers``, ``--scales`` and ``--jk``, every value checked against the
    GNTK's parameter table (:data:`fastgnn.gntk.params.PARAMETER_CONSTRAINTS`); ``ValueError`` naming the
    flag otherwise."""
    grid = {
        "num_layers": parse_ints(args.layers, "--layers"),
        "num_mlp_layers": parse_ints(args.mlp_layers, "--mlp-layers"),
        "scale": tuple(args.scales.split(",")),
        "jk": JK[args.jk],
    }
    for key, flag in GRID_FLAGS.items():
        for value in grid[key]:
            try:
                validate_parameter_constraints({key: PARAMETER_CONSTRAINTS[key]}, {key: value}, caller_name="GNTK")
            except InvalidParameterError as e:
                raise ValueError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: {value!r} is not a valid "
                                 f"{key} ({e})") from None
    return grid


def c_grid(num: int) -> np.ndarray:
    """``num`` values of C, log-spaced over the default grid's range (the default grid itself for its length)."""
    return np.logspace(*C_EXPONENTS, num)


def parse_ints(text, flag: str | None = None) -> tuple:
    """``"2,3,4"`` -> ``(2, 3, 4)``; ``ValueError`` naming the text (and ``flag``) otherwise."""
    try:
        return tuple(int(t) for t in str(text).split(","))
    except ValueError:
        raise ValueError(f"{flag + ': ' if flag else ''}expected comma-separated integers, got {text!r}") from None
