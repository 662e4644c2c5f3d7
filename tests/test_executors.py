"""fastgnn.executors: executors looked up by name; the GNTK finds "dask" there, never importing
fastgnn.distributed itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastgnn import executors
from fastgnn.datasets import synthetic
from fastgnn.gntk import GNTK, params
from fastgnn.gntk.engine import run_in_process


def test_names_and_checks():
    assert executors.EXECUTORS == ("local", "dask") and executors.LOCAL == "local"
    assert params.options("executor") == executors.EXECUTORS  # the GNTK's table reads them
    assert executors.check_executor("dask") == "dask"
    with pytest.raises(ValueError, match="executor must be one of"):
        executors.check_executor("ray")
    with pytest.raises(ValueError, match="runs in the caller"):
        executors.lookup("local")


def test_dask_is_registered_by_fastgnn_distributed():
    """Looking "dask" up imports its provider, which registers the tiles, tasks, budget and readiness check."""
    from fastgnn.distributed import DaskRun, active_client, dask_budget, dask_same_machine, dask_tiles, dask_workers

    ex = executors.lookup("dask")
    assert ex.name == "dask" and ex.tiles is dask_tiles and ex.tasks is DaskRun
    assert ex.budget is dask_budget and ex.ready is active_client
    assert ex.workers is dask_workers and ex.same_machine is dask_same_machine


def test_workers_on_this_machine_reads_the_workers_addresses():
    """The GNTK hands shares of its Gram back as files only where every worker is on this machine: loopback
    addresses (a LocalCluster, TLS or not) and this host's name are; another host's address, an address
    without a host, or no worker at all are not."""
    import socket

    from fastgnn.distributed import workers_on_this_machine

    class Client:
        def __init__(self, *addresses):
            self.addresses = addresses

        def scheduler_info(self):
            return {"workers": {a: {} for a in self.addresses}}

    here = socket.gethostname()
    assert workers_on_this_machine(Client("tls://127.0.0.1:40001", "tcp://127.0.0.1:40002"))
    assert workers_on_this_machine(Client("tcp://[::1]:40001", f"tcp://{here}:40002", "inproc://localhost/1/2"))
    assert not workers_on_this_machine(Client("tcp://127.0.0.1:40001", "tcp://203.0.113.9:40002"))
    assert not workers_on_this_machine(Client("ucx://"))
    assert not workers_on_this_machine(Client())


def test_register_replaces_and_the_gntk_runs_what_is_registered(monkeypatch):
    """GNTK(executor="dask") runs the tiles on whatever is registered under that name (here an in-process
    stand-in that counts its tiles): the same Gram as the local run, and the readiness check runs first."""
    graphs = synthetic(num_graphs=12, min_nodes=4, max_nodes=12, seed=2).graphs
    dask = executors.lookup("dask")
    seen, checked = [], []

    def counting(rows, cols, plan, tiles, **kwargs):
        seen.append(len(tiles))
        yield from run_in_process(rows, cols, plan, tiles, **kwargs)

    monkeypatch.setitem(executors._REGISTRY, "dask", dask)  # the registration as it was, restored after the test
    ex = executors.register("dask", tiles=lambda: counting, tasks=dask.tasks, budget=None,
                            ready=lambda: checked.append(1))
    assert executors.lookup("dask") is ex
    gram = GNTK(num_layers=3, max_memory=2**20, executor="dask").fit_transform(graphs)
    assert seen and sum(seen) > 0 and checked
    assert np.array_equal(gram, GNTK(num_layers=3, max_memory=2**20).fit_transform(graphs))


def test_the_gntk_never_imports_fastgnn_distributed():
    """A local GNTK run leaves fastgnn.distributed (and Dask) unimported: executors are found by name."""
    code = textwrap.dedent("""
        import sys
        from fastgnn import GNTK
        from fastgnn.datasets import synthetic
        GNTK(num_layers=2).fit_transform(synthetic(num_graphs=4, min_nodes=3, max_nodes=6, seed=0).graphs)
        print(sorted(m for m in sys.modules if m.startswith(("fastgnn.distributed", "distributed", "dask"))))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
