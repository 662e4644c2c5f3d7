"""The ``fastgnn`` command line: one module per command, each registering its own parser.

Every command module has ``add_subparser(subparsers)`` (its flags, whose choices and defaults are
read from the library: the GNTK's parameter table and signature, the search grid, the protocols,
solvers, executors and dataset tables) and ``run(args) -> exit status``, which parses nothing
itself: it calls the library and prints a summary, or one JSON object with ``--json``.

* :mod:`.gntk` -- a dataset's Gram matrix; :mod:`.evaluate` -- 10-fold accuracy of a Gram;
  :mod:`.search` -- the GNTK grid; :mod:`.demo` -- the whole job on an embedded default;
  :mod:`.train` -- a GNN; :mod:`.reproduce` -- the GNTK paper's tables; :mod:`.datasets` --
  what is where; ``complexity`` -- :mod:`fastgnn.complexity.cli` (the profiler owns its flags).
* :mod:`.common` -- the flags and helpers several commands share.

:func:`main` is the console script (``fastgnn = "fastgnn.cli:main"``) and ``python -m fastgnn``.
A command's module is imported only when that command runs (or for the whole ``fastgnn --help``),
so ``fastgnn gntk`` does not pay for the GNN layers' imports, nor ``fastgnn train`` for the profiler's.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from fastgnn import __version__
from fastgnn.deprecation import moved

__all__ = ["main", "build_parser", "command_module", "COMMANDS", "DESCRIPTION"]

#: the commands, in the order ``fastgnn --help`` lists them: name -> the module that defines it
COMMANDS = {name: f"fastgnn.cli.{name}" for name in ("gntk", "evaluate", "search", "demo", "train", "reproduce",
                                                     "datasets")} | {"complexity": "fastgnn.complexity.cli"}

#: what ``fastgnn --help`` says first
DESCRIPTION = (
    "Fast graph learning: compute the Graph Neural Tangent Kernel (GNTK) of a graph dataset, measure "
    "its 10-fold SVM accuracy, search its hyperparameters, reproduce the GNTK paper's tables, train "
    "GNNs, and profile how each operation scales.  Run `fastgnn COMMAND --help` for a command's options; "
    "every command takes --json.")


def main(argv=None) -> int:
    """Run ``fastgnn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status: 0, 1 on an
    error (one line on stderr, ``fastgnn COMMAND: error: ...``), 2 without a command (the help)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMANDS:
        parser = build_parser(first)
    elif first is None and "--version" in argv and not {"-h", "--help"} & set(argv):  # no command's module
        parser = build_parser(())
    else:  # the whole help, or argparse's message naming the choices
        parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"fastgnn {args.command}: error: {e}", file=sys.stderr)
        return 1


def build_parser(command: str | tuple = None) -> argparse.ArgumentParser:
    """The ``fastgnn`` parser: ``--version`` and one subparser per command (each command's ``func``
    default is the function that runs it); with ``command``, that command's subparser alone (a tuple:
    those commands')."""
    p = argparse.ArgumentParser(prog="fastgnn", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"fastgnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if command is None else (command,) if isinstance(command, str) else command:
        command_module(name).add_subparser(sub)
    return p


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (``add_subparser(subparsers)`` and ``run(args)``), imported now."""
    return importlib.import_module(COMMANDS[name])


# the command functions' old names (``fastgnn.cli.cmd_gntk`` ...), for one release: each is its module's ``run``
__getattr__ = moved(__name__, {f"cmd_{name}": f"{module}:run" for name, module in COMMANDS.items()
                               if name != "complexity"})
