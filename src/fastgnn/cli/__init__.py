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
Every failure ends in one line on stderr, ``fastgnn COMMAND: error: ...`` naming the file or the
argument (:func:`error_message`), and exit status 1 (2 for a command line argparse refuses); with
``--json`` a JSON object ``{"error": ..., "type": ..., "command": ..., "exit_status": ...}`` is printed on
stdout as well.  The outputs a command names (its ``outputs`` default, e.g. ``--out``) are checked for
writability before any work (:func:`check_outputs`).  ``FASTGNN_TRACEBACK=1`` re-raises instead, for a
traceback.
A command's module is imported only when that command runs (or for the whole ``fastgnn --help``),
so ``fastgnn gntk`` does not pay for the GNN layers' imports, nor ``fastgnn train`` for the profiler's.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

from fastgnn import __version__
from fastgnn.deprecation import moved

__all__ = ["main", "build_parser", "command_module", "error_message", "check_outputs", "check_writable", "COMMANDS",
           "DESCRIPTION", "FOLDER", "FILE"]

#: the commands, in the order ``fastgnn --help`` lists them: name -> the module that defines it
COMMANDS = {name: f"fastgnn.cli.{name}" for name in ("gntk", "evaluate", "search", "demo", "train", "reproduce",
                                                     "datasets")} | {"complexity": "fastgnn.complexity.cli"}

#: what ``fastgnn --help`` says first
DESCRIPTION = (
    "Fast graph learning: compute the Graph Neural Tangent Kernel (GNTK) of a graph dataset, measure "
    "its 10-fold SVM accuracy, search its hyperparameters, reproduce the GNTK paper's tables, train "
    "GNNs, and profile how each operation scales.  Run `fastgnn COMMAND --help` for a command's options; "
    "every command takes --json.")


#: an ``outputs`` kind (see :func:`check_outputs`): the flag names a folder the command writes into
FOLDER = "folder"
#: an ``outputs`` kind: the flag names a file the command writes
FILE = "file"


def main(argv=None) -> int:
    """Run ``fastgnn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status: 0, 1 on an
    error (one line on stderr, ``fastgnn COMMAND: error: ...``; with ``--json`` also a JSON error object
    on stdout), 2 for a command line argparse refuses, or without a command (the help)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv
    first = next((a for a in argv if not a.startswith("-")), None)
    command = first if first in COMMANDS else None
    try:
        if first in COMMANDS:
            parser = build_parser(first)
        elif first is None and "--version" in argv and not {"-h", "--help"} & set(argv):  # no command's module
            parser = build_parser(())
        else:  # the whole help, or argparse's message naming the choices
            parser = build_parser()
        args = parser.parse_args(argv)
    except _UsageError as e:
        e.parser.print_usage(sys.stderr)
        return _fail(command, e.parser.prog, str(e), e, 2, as_json)
    except Exception as e:  # a command's module failed to import (a missing dependency, ...)
        return _report(command, e, as_json)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_outputs(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"fastgnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every failure ends in one line naming what failed
        return _report(args.command, e, as_json)


def error_message(e: BaseException) -> str:
    """The one line :func:`main` prints for an exception: its message, with the file it concerns and
    what to do for the failures a user can act on (permission, full disk, memory, a damaged file)."""
    text = str(e)
    filename = getattr(e, "filename", None)
    if isinstance(e, PermissionError):
        return f"permission denied: {filename or text} (choose a place you can write, e.g. with --out)"
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        where = f" writing {filename}" if filename else ""
        return f"no space left on the device{where}: free some space or write elsewhere ({e.strerror or text})"
    if isinstance(e, FileNotFoundError) and filename and str(filename) not in text:
        return f"{text}: {filename}"
    if isinstance(e, OSError) and not text.strip():
        return f"{type(e).__name__} (errno {e.errno}){f': {filename}' if filename else ''}"
    if isinstance(e, MemoryError):
        return (f"out of memory{': ' + text if text else ''} (lower --max-memory, use --out-of-core, or fewer "
                "graphs)")
    if isinstance(e, zipfile.BadZipFile):
        return f"a damaged or truncated zip/.npz file: {text}"
    if isinstance(e, ValueError | FileNotFoundError | RuntimeError | OSError | ImportError):
        return text
    return f"{type(e).__name__}: {text} (unexpected; FASTGNN_TRACEBACK=1 shows where)"


def check_outputs(args) -> None:
    """Check before any work that every output the command will write can be written: ``args.outputs``
    maps a flag's ``dest`` to :data:`FOLDER` or :data:`FILE` (set by the command's parser).  Raises
    ``ValueError`` naming the flag and the path (:func:`check_writable`)."""
    for dest, kind in (getattr(args, "outputs", None) or {}).items():
        value = getattr(args, dest, None)
        if value is not None:
            check_writable(value, kind, f"--{dest.replace('_', '-')}")


def check_writable(path, kind: str, flag: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a :data:`FOLDER` (or a :data:`FILE`) can be written there,
    else ``ValueError`` naming ``flag`` and the path.  Creates nothing: the nearest existing folder on the
    way is probed with a temporary file, removed at once."""
    path = Path(path).expanduser()
    if kind == FOLDER and path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path}: exists and is not a folder")
    if kind == FILE and path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; give a file name")
    if kind == FILE and path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{flag} {path}: the file is not writable")
    folder = path if kind == FOLDER else path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {path}: {existing} is a file, so no folder can be made there")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".fastgnn-probe-"):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {path}: cannot write in {existing} ({e.strerror or e})") from None
    return path


class _UsageError(Exception):
    """argparse's refusal of the command line, raised instead of exiting (:class:`_Parser`)."""

    def __init__(self, parser, message):
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose errors reach :func:`main` (which prints them, and a JSON object with --json)."""

    def error(self, message):
        raise _UsageError(self, message)


def _report(command, e: BaseException, as_json: bool) -> int:
    if os.environ.get("FASTGNN_TRACEBACK"):
        raise e
    return _fail(command, f"fastgnn{f' {command}' if command else ''}", error_message(e), e, 1, as_json)


def _fail(command, prog: str, message: str, e: BaseException, status: int, as_json: bool) -> int:
    """Print ``PROG: error: MESSAGE`` on stderr (and, with --json, the JSON error object on stdout); return
    ``status``."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "type": type(e).__name__, "command": command, "exit_status": status}))
    return status


def build_parser(command: str | tuple = None) -> argparse.ArgumentParser:
    """The ``fastgnn`` parser: ``--version`` and one subparser per command (each command's ``func``
    default is the function that runs it); with ``command``, that command's subparser alone (a tuple:
    those commands')."""
    p = _Parser(prog="fastgnn", description=DESCRIPTION)
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
