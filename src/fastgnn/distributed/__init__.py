"""fastgnn beyond one process: the Gram's tiles on a Dask cluster, and Grams larger than memory.

* :mod:`.client` -- the active ``distributed.Client`` (the joblib convention), and a client for
  one command (``--workers N`` starts a local cluster, ``--scheduler ADDRESS`` joins one).
* :mod:`.tiles` -- :class:`DaskTiles`, the engine's executor on Dask (what ``GNTK(executor="dask")``
  runs), and :func:`worker_budget`, the tile budget of the smallest worker.
* :mod:`.outofcore` -- deprecated aliases: the out-of-core Gram is
  :meth:`fastgnn.gntk.GNTK.fit_transform_to_disk` (it runs on Dask too, with ``executor="dask"``).
* :mod:`.selection` -- :class:`DaskRun`, the model selection's (normalisation, fold) C-path tasks on
  the same client (the ``run`` of :func:`fastgnn.model_selection.protocols.svm_curves`).

Importing this package registers the executor ``"dask"`` (:func:`fastgnn.executors.register`):
``GNTK(executor="dask")`` and the model selection look it up by name
(:func:`fastgnn.executors.lookup`), so they never import this package themselves.

Needs the optional dependency ``dask[distributed]`` (``pip install "fastgnn[dask]"``); importing
this package does not, only using it.
"""

from fastgnn import executors
from fastgnn.deprecation import moved
from fastgnn.distributed.client import (
    INSTALL,
    active_client,
    cluster_client,
    require_distributed,
    workers_on_this_machine,
)
from fastgnn.distributed.outofcore import fit_transform_to_disk as fit_transform_to_disk  # deprecated: warns
from fastgnn.distributed.selection import DaskRun
from fastgnn.distributed.tiles import DaskTiles, worker_budget

__all__ = ["INSTALL", "active_client", "cluster_client", "require_distributed", "DaskTiles", "worker_budget",
           "DaskRun", "dask_tiles", "dask_budget", "dask_workers", "dask_same_machine", "workers_on_this_machine"]


def dask_tiles() -> DaskTiles:
    """The engine's executor on the active client (``RuntimeError`` when there is none): the ``tiles``
    entry point of the registered executor ``"dask"``."""
    return DaskTiles(active_client())


def dask_budget(device="cpu") -> int:
    """The smallest worker's tile budget on the active client (:func:`worker_budget`): the cap of an
    ``"auto"`` budget on the executor ``"dask"``."""
    return worker_budget(active_client(), device)


def dask_workers() -> int:
    """Threads of the active client's workers: how many tasks run at once."""
    return max(1, sum(active_client().nthreads().values()))


def dask_same_machine() -> bool:
    """Whether every worker of the active client runs on this machine (its address is a loopback one or
    this host's name or address): a ``LocalCluster``, whose workers write to this machine's disk."""
    return workers_on_this_machine(active_client())


executors.register("dask", tiles=dask_tiles, tasks=DaskRun, budget=dask_budget, ready=active_client,
                   workers=dask_workers, same_machine=dask_same_machine)

#: deprecated aliases (one release): the memory budget's functions live in :mod:`fastgnn.budget`, the
#: out-of-core Gram in the GNTK (``fit_transform_to_disk`` above warns when called)
__getattr__ = moved(__name__, {"gram_bytes": "fastgnn.budget:gram_bytes",
                               "DiskGram": "fastgnn.gntk.outofcore:DiskGram"})
