"""Executors: where independent units of work run, looked up by name.

Two kinds of work in fastgnn are sets of independent units: the GNTK engine's tiles and the
model selection's (normalisation, fold) C-path tasks.  Both run in this process by default
(``"local"``: the engine's loop, threads for the tasks) or on an executor registered here by
name.  An optional package registers its executor when it is imported (``fastgnn.distributed``
registers ``"dask"``); :func:`lookup` imports the provider of a known name, so that the engine
and the model selection never import the optional package themselves.

* :data:`EXECUTORS` -- the names accepted everywhere (``executor=`` arguments, the CLI's choices).
* :func:`register` -- called by a provider: ``register("dask", tiles=..., tasks=..., budget=..., ready=...,
  workers=...)``.
* :func:`lookup` -- ``Executor`` of a name (not for ``"local"``, which each caller runs itself).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EXECUTORS", "LOCAL", "Executor", "register", "lookup", "check_executor"]

#: runs in this process (tiles in the engine's loop, tasks in threads)
LOCAL = "local"
#: executor name -> the module that registers it when imported
PROVIDERS = {"dask": "fastgnn.distributed"}
#: every executor name fastgnn accepts, in the order the CLI lists them
EXECUTORS = (LOCAL, *PROVIDERS)


@dataclass(frozen=True)
class Executor:
    """An executor's entry points.

    Attributes:
        name: its registered name.
        tiles: ``tiles()`` -> a callable ``(rows, cols, plan, tiles, *, tile_fn, **kwargs)``
            yielding ``(tile, block)`` as tiles complete (the ``executor`` argument of
            :func:`fastgnn.gntk.engine.gram_readouts`).
        tasks: ``tasks(on_done=None)`` -> a callable ``(fn, list of argument tuples) -> list of
            results`` in order, calling ``on_done(index, result)`` as each finishes.
        budget: ``budget(device)`` -> bytes one tile may take on the executor's smallest worker,
            the cap of an ``"auto"`` memory budget (:func:`fastgnn.budget.tile_budget`); None: no cap.
        ready: ``ready()`` raises, saying what to do, when the executor cannot run now (its
            package not installed, no cluster to run on), so callers fail before any work; None:
            always ready.
        workers: ``workers()`` -> how many tasks run at once (Dask: the cluster's threads), to cut
            work into enough pieces; None: one.
        same_machine: ``same_machine()`` -> whether every worker runs on this machine, so that a task
            may hand a large result back as a file on its disk (the GNTK's shares of colour pairs,
            :mod:`fastgnn.gntk.colour_shares`); None: never assumed.
    """

    name: str
    tiles: Callable
    tasks: Callable
    budget: Callable | None = None
    ready: Callable | None = None
    workers: Callable | None = None
    same_machine: Callable | None = None


_REGISTRY: dict[str, Executor] = {}


def register(name: str, *, tiles: Callable, tasks: Callable, budget: Callable | None = None,
             ready: Callable | None = None, workers: Callable | None = None,
             same_machine: Callable | None = None) -> Executor:
    """Register (or replace) the executor ``name`` (see :class:`Executor` for the entry points); returns it."""
    ex = Executor(name, tiles, tasks, budget, ready, workers, same_machine)
    _REGISTRY[name] = ex
    return ex


def check_executor(name) -> str:
    """``name`` if it is one of :data:`EXECUTORS`, else ``ValueError`` naming ``executor``."""
    if name not in EXECUTORS and name not in _REGISTRY:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {name!r}")
    return name


def lookup(name: str) -> Executor:
    """The registered executor ``name``, importing its provider module first if needed."""
    check_executor(name)
    if name == LOCAL:
        raise ValueError("the 'local' executor runs in the caller; there is nothing to look up")
    if name not in _REGISTRY and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    if name not in _REGISTRY:
        raise ValueError(f"executor {name!r} is not registered (its provider {PROVIDERS.get(name)} did not "
                         "register it)")
    return _REGISTRY[name]
