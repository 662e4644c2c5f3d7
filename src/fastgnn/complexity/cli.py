"""The ``fastgnn complexity`` subcommand, registered by :func:`add_subparser` (:mod:`fastgnn.cli` wires it).

Thin like the other subcommands: parse, call :func:`fastgnn.complexity.profile`, print the
table (or one JSON document with ``--json``), write the files with ``--out``.
"""

from __future__ import annotations

import argparse
import sys

import torch

from fastgnn.complexity.profile import profile
from fastgnn.complexity.registry import select
from fastgnn.io import to_json

__all__ = ["add_subparser", "run_cli"]

DESCRIPTION = (
    "Measure every operation's time and peak memory against the complexity note and the GNTK "
    "paper: sweep one variable at a time, fit the log-log slope, compare with the predicted exponent.")


def add_subparser(subparsers):
    """Register ``complexity`` on an ``argparse`` subparsers object; returns its parser.

    Its ``func`` default is :func:`run_cli`, as the other subcommands' ``cmd_*``.
    """
    c = subparsers.add_parser("complexity", help="measure time and memory scaling against the theory",
                              description=DESCRIPTION)
    c.add_argument("--quick", action="store_true", help="small sizes, 3 repeats: under a minute on 2 cores")
    c.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default cpu")
    c.add_argument("--ops", nargs="+", metavar="PATTERN", default=None,
                   help="operations to run: names op/variable, op names or groups, shell patterns allowed, "
                        "e.g. 'gcn-sparse-bwd' 'gntk-*/N' gntk (default: all; --list shows them)")
    c.add_argument("--repeats", type=int, default=None, help="timed repeats per point (default 5, quick 3)")
    c.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    c.add_argument("--max-call-seconds", type=float, default=None,
                   help="skip points extrapolated to take longer per call (default 2, quick 0.25)")
    c.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="times fitted: wall (default) or this process's CPU time (CPU only; leaves out "
                        "the time slices other jobs on a shared machine take)")
    c.add_argument("--no-memory", action="store_true", help="do not measure peak memory")
    c.add_argument("--out", metavar="DIR", default=None,
                   help="write complexity.json, complexity.csv (the table), complexity_points.csv and "
                        "complexity_GROUP.png here")
    c.add_argument("--list", action="store_true", help="list the operations and exit")
    c.add_argument("--json", action="store_true", help="print the result as one JSON object")
    c.set_defaults(func=run_cli)
    return c


def run_cli(args) -> int:
    """Run the ``complexity`` subcommand for parsed ``args``; returns the exit status."""
    if args.list:
        sweeps = select(args.ops)
        if args.json:
            _print_json({"operations": [
                {"name": s.name, "op": s.op, "variable": s.variable, "group": s.group, "values": list(s.values),
                 "quick": list(s.quick), "predicted": [f"{c.label} ({c.source})" for c in s.costs],
                 "available": s.unavailable() is None} for s in sweeps]})
        else:
            for s in sweeps:
                why = s.unavailable()
                print(f"{s.name:<28} {s.group:<10} {', '.join(c.label for c in s.costs)}"
                      + (f"  [{why}]" if why else ""))
        return 0
    if args.repeats is not None and args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    log = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    report = profile(args.ops, quick=args.quick, device=args.device, repeats=args.repeats,
                     max_call_seconds=args.max_call_seconds, memory=not args.no_memory, clock=args.clock,
                     log=log)
    written = report.write(args.out) if args.out else []
    if args.json:
        out = report.to_dict()
        out["written"] = [str(p) for p in written]
        _print_json(out)
    else:
        print(report.table())
        if written:
            print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _print_json(obj) -> None:
    print(to_json(obj))


def main(argv=None) -> int:
    """``python -m fastgnn.complexity``: the same as ``fastgnn complexity``."""
    p = argparse.ArgumentParser(prog="fastgnn")
    sub = p.add_subparsers(dest="command")
    add_subparser(sub)
    args = p.parse_args(["complexity", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (ValueError, RuntimeError) as e:
        print(f"fastgnn complexity: error: {e}", file=sys.stderr)
        return 1

