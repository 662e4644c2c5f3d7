"""The Dask client fastgnn runs on: the active one, or a cluster started for one command.

fastgnn never takes a client object as a parameter (that would break scikit-learn's ``clone``,
pickling and ``GridSearchCV``): like joblib's Dask backend it runs on the *active*
``distributed.Client`` (:func:`active_client`), the one made last in this process or entered by
``with Client(...):``.  The CLI makes one with :func:`cluster_client` (``--workers N`` or
``--scheduler ADDRESS``).

**The local cluster is closed.**  ``--workers N`` (:func:`cluster_client` with ``workers``) starts
a cluster that only this process and its workers can use: every connection is mutual TLS with a
certificate made for this cluster (``distributed.security.Security.temporary()``: a fresh
self-signed key and certificate that live only in memory, in this process and, passed through the
pipe that starts them, its worker processes; never written to disk), so another process, of this
user or another, that connects to the scheduler or a worker without them cannot submit a task or
read a result.  No dashboard or other HTTP page is served unless ``dashboard=True``: the HTTP
servers Dask starts in any case (which answered on 127.0.0.1:8787 even with
``dashboard_address=None``) listen on a random port of 127.0.0.1 with no route.  What is trusted:
processes of the same user can read this process's memory (``ptrace``, ``/proc``) and so its
key; they are trusted, as with any process the user runs.

``dask[distributed]`` is an optional dependency (``pip install "fastgnn[dask]"``, which brings
``cryptography`` for the certificates); without it every entry point here raises an ``ImportError``
that says so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["INSTALL", "require_distributed", "active_client", "cluster_client", "workers_on_this_machine"]

#: how to install the optional dependency (quoted in every error that needs it)
INSTALL = 'pip install "fastgnn[dask]"  (or: pip install "dask[distributed]")'


def require_distributed(what: str = "executor='dask'"):
    """The ``distributed`` module, or ``ImportError`` naming ``what`` needs it and how to install it."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"{what} needs Dask's distributed scheduler, which is not installed ({e}); "
                          f"install it with: {INSTALL}") from None
    return distributed


def active_client(what: str = "executor='dask'"):
    """The active ``distributed.Client``; ``RuntimeError`` saying how to start one when there is none.

    The active client is the one ``distributed.get_client()`` returns: the client made last in this
    process (``Client(cluster)``, ``with Client(...):``), or the worker's own when called in a task.
    A client that is closed does not count.
    """
    distributed = require_distributed(what)
    try:
        client = distributed.get_client()
    except ValueError:
        client = None
    if client is None or client.status in ("closed", "closing"):
        raise RuntimeError(
            f"{what} runs on the active Dask client, and there is none: start one first, e.g. "
            "`from distributed import Client, LocalCluster; client = Client(LocalCluster(n_workers=2, "
            "threads_per_worker=1))`, or `Client('tcp://scheduler:8786')` for an existing cluster "
            "(the CLI: --workers N or --scheduler ADDRESS)")
    return client


@contextlib.contextmanager
def cluster_client(workers: int | None = None, scheduler: str | None = None, *,
                   timeout: float = 60.0, dashboard: bool = False) -> Iterator:
    """A ``distributed.Client`` for the duration of the block, active inside it.

    Args:
        workers: start a ``LocalCluster`` of this many single-threaded worker processes on
            127.0.0.1, closed to every other process (TLS with a temporary certificate, no
            dashboard: see the module's docstring), shut down when the block ends.
        scheduler: instead, connect to an existing cluster's scheduler (``tcp://host:8786``);
            the cluster is left running.
        timeout: seconds to wait for the scheduler (and the local workers) to answer.
        dashboard: with ``workers``, serve Dask's dashboard on 127.0.0.1 (port 8787, or a free one; the
            client's ``dashboard_link``): read-only, but visible to every local user.

    Yields the client; its ``startup_seconds`` attribute holds the seconds the cluster (or the
    connection) took to start, for reports that keep it apart from the work.
    """
    if (workers is None) == (scheduler is None):
        raise ValueError("give exactly one of workers (start a local cluster) or scheduler (an address)")
    distributed = require_distributed("--workers" if workers is not None else "--scheduler")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workers is not None:
            import dask

            # no MALLOC_TRIM_THRESHOLD_ in the workers: it makes the tiles' arrays fresh mmaps (see
            # fastgnn.distributed.tiles._heap_for_tiles); the engine trims the heap after each tile
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}))
            if not dashboard:  # Dask's HTTP servers start whatever dashboard_address says: give them nothing to serve
                stack.enter_context(dask.config.set({"distributed.scheduler.http.routes": [],
                                                     "distributed.worker.http.routes": []}))
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                security=_temporary_security(distributed),
                dashboard_address="127.0.0.1:8787" if dashboard else "127.0.0.1:0",
                scheduler_kwargs={"dashboard": bool(dashboard)}))
            client = stack.enter_context(distributed.Client(cluster, timeout=timeout))
            client.wait_for_workers(int(workers), timeout=timeout)
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=timeout))
            except OSError as e:
                raise RuntimeError(f"--scheduler {scheduler}: no Dask scheduler answered there within "
                                   f"{timeout:g} s ({e})") from None
        client.startup_seconds = time.perf_counter() - t0
        with client.as_current():
            yield client


def _temporary_security(distributed):
    """``Security.temporary()`` (TLS everywhere, a fresh certificate in memory), or ``ImportError`` saying how to
    get ``cryptography``, which it needs."""
    try:
        return distributed.security.Security.temporary()
    except ImportError as e:
        raise ImportError(f"--workers closes its local cluster with TLS, which needs the 'cryptography' package "
                          f"({e}); install it with: {INSTALL}") from None


def workers_on_this_machine(client) -> bool:
    """Whether every worker of ``client`` runs on this machine: its address's host is a loopback address,
    this host's name, or one of its addresses (a ``LocalCluster``'s workers listen on 127.0.0.1).  False
    when there are no workers or an address cannot be read."""
    import socket
    from urllib.parse import urlsplit

    workers = client.scheduler_info().get("workers", {})
    if not workers:
        return False
    here = {"localhost", socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        here.update(socket.gethostbyname_ex(socket.gethostname())[2])
    for address in workers:
        host = urlsplit(address).hostname
        if host is None or not (host in here or host.startswith("127.") or host == "::1"):
            return False
    return True
