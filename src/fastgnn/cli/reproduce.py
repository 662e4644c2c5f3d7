"""``fastgnn reproduce``: the GNTK paper's tables regenerated end to end, by :func:`fastgnn.reproduce.reproduce`.

The datasets, the ``--quick`` preset and the number of configurations refined are those of
:mod:`fastgnn.reproduce.settings`; ``--update-doc FILE`` rewrites the generated block of a
Markdown document (:func:`fastgnn.reproduce.report.update_document`).
"""

from __future__ import annotations

import inspect

from fastgnn.cli import FILE, FOLDER
from fastgnn.cli.common import add_cluster_flags, add_common, dask_client
from fastgnn.io import to_json
from fastgnn.reproduce import reproduce
from fastgnn.reproduce.report import DOC_BEGIN, DOC_END, check_document, update_document
from fastgnn.reproduce.settings import Settings

__all__ = ["add_subparser", "run"]


def add_subparser(subparsers):
    """Register ``reproduce``; its ``func`` is :func:`run`."""
    full, quick = Settings.full(), Settings.quick_run()
    out = inspect.signature(reproduce).parameters["out"].default
    r = subparsers.add_parser("reproduce", help="regenerate the GNTK paper's tables (resumable)",
                              description="Regenerate the GNTK paper's tables end to end on the datasets found: "
                                          "accuracy against the paper, kernel time by algorithm, the sketch's effect "
                                          "(and GNNs with --gnn); writes OUT/report.md, CSVs and PNGs. A rerun skips "
                                          "the stages already finished.")
    r.add_argument("--datasets", nargs="+", metavar="NAME",
                   help=f"default: {' '.join(full.datasets)} (--quick: {' '.join(quick.datasets)}); "
                        "missing ones are skipped")
    r.add_argument("--out", metavar="DIR", default=out, help=f"output folder (default {out})")
    r.add_argument("--quick", action="store_true",
                   help=f"small subset: {' and '.join(quick.datasets)}, {_configurations(quick.grid)} configurations, "
                        f"{len(quick.C_grid)} values of C, few pairs and sketch sizes")
    r.add_argument("--fully-nested", action="store_true",
                   help="also choose the configuration inside each training fold (fully nested CV)")
    r.add_argument("--gnn", action="store_true",
                   help=f"also train {' and '.join(m.upper() for m in full.gnn_models)} by 10-fold CV")
    r.add_argument("--update-doc", metavar="FILE", default=None,
                   help=f"also rewrite the accuracy and stage-time tables between FILE's '{_marker(DOC_BEGIN)}' "
                        f"and '{DOC_END}' lines (e.g. docs/gntk-results.md)")
    r.add_argument("--refine-top", type=int, default=None, metavar="K",
                   help=f"configurations refined under both protocols after the screen (default {full.refine_top}; "
                        f"--quick {quick.refine_top})")
    r.add_argument("--whole-grid", action="store_true",
                   help=f"search the whole grid on every set; without it {' and '.join(full.dataset_grids)} search a "
                        "reduced one (one kernel pass: R=2, uniform, L=2..6 with and without jk; the whole grid's six "
                        "passes take hours each there)")
    add_cluster_flags(r, "the search's kernels and SVM paths")
    add_common(r)
    r.set_defaults(func=run, outputs={"out": FOLDER, "update_doc": FILE})
    return r


def run(args) -> int:
    """Run ``fastgnn reproduce`` for parsed ``args``; returns the exit status."""
    log = None if args.json else print
    if args.update_doc:  # a document without its markers fails now, not after hours of work
        check_document(args.update_doc)
    cluster = {}
    with dask_client(args, cluster) as client:
        summary = reproduce(
            args.datasets or None, data_dir=args.data_dir, out=args.out, quick=args.quick,
            fully_nested=args.fully_nested, gnn=args.gnn, refine_top=args.refine_top, whole_grid=args.whole_grid,
            workers=None if client is None else cluster["workers"], progress=not args.json, log=log,
        )
    if args.update_doc:
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


def _configurations(grid: dict) -> int:
    """The number of configurations of a GNTK grid (the product of its value counts)."""
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def _marker(line: str) -> str:
    """A marker line's opening, ``<!-- fastgnn reproduce: begin ... -->``, for the help text."""
    head = line.split("(")[0].strip()
    return f"{head} ... -->"
