"""The Gram's tiles as Dask futures: an executor for :func:`fastgnn.gntk.engine.gram_readouts`.

:class:`DaskTiles` has the signature of :func:`fastgnn.gntk.engine.run_in_process`: it takes the
operands, the tile plan and the tiles still to compute, and yields ``(tile, block)`` as the
cluster finishes them.  The engine keeps everything else (the plan, the checkpoints, the
progress bar, placing the blocks), so a Dask run has the same tile plan, the same operands and
the same per-tile function (:func:`fastgnn.gntk.engine.compute_tile`) as the in-process run,
and its Gram is bitwise equal to it (given the same ``max_memory``: see :func:`worker_budget`).

How the work moves:

* the operands and the plan are scattered once to every worker (``broadcast=True``), one
  object (packed into flat arrays, :func:`pack`), and each worker keeps the operands and the
  stacked chunks it builds for the run (:func:`_run_cache`), so no task rebuilds or re-sends them;
* at most ``in_flight`` tiles are queued at a time (default four per worker thread); the next is
  submitted as one completes, so the client holds few finished blocks and a checkpoint records
  each tile soon after it is done; tiles go largest first (by node pairs), so the run does not
  end on one large tile while the other workers idle (the blocks do not depend on the order);
* a worker that dies loses its running tiles: the scheduler reschedules them on the others
  (every worker holds the operands), and the result is the same.  A client that dies loses the
  run: the scheduler cancels its tiles; rerun with the same ``checkpoint_dir`` and only the tiles
  without a file are computed.

Bytes moved: the operands' values once per worker (:func:`pack`), and each block
``[L, |I|, |J|]`` float64 once to the client.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fastgnn.budget import default_max_memory
from fastgnn.distributed.client import active_client
from fastgnn.gntk.engine import release_freed_memory
from fastgnn.gntk.pairwise import Operand
from fastgnn.gntk.plan import TilePlan

__all__ = ["DaskTiles", "worker_budget"]


@dataclass
class _Operands:
    """What every tile reads, scattered as one object: the operands packed into one flat array per
    dtype (:func:`pack`), and the plan."""

    rows: tuple
    cols: tuple | None
    plan: TilePlan

    @classmethod
    def of(cls, rows, cols, plan: TilePlan) -> _Operands:
        return cls(pack(rows), None if cols is None else pack(cols), plan)


def pack(ops: Sequence) -> tuple[dict, list]:
    """Operands as ``(buffers, layout)``: one flat NumPy array per dtype holding every tensor, and
    per operand where its tensors lie.  Unpickling ten tensors per graph took about 1 s per 1000
    NCI1 graphs on each worker; flat arrays take milliseconds, and only the values are sent (a
    tensor that is a view sends its whole storage).  :func:`unpack` restores equal operands (the
    colouring, which the tiles do not read, is left out).
    """
    chunks: dict[str, list] = {}
    sizes: dict[str, int] = {}

    def put(t):
        if t is None:
            return None
        a = t.detach().cpu().contiguous().numpy().reshape(-1)
        key = a.dtype.str
        chunks.setdefault(key, []).append(a)
        off = sizes.get(key, 0)
        sizes[key] = off + a.size
        return key, off, tuple(t.shape), t.device.type

    layout = [(put(op.x), put(op.a), [put(d) for d in op.diags], put(op.sizes), put(op.sketch),
               put(op.sketched_a)) for op in ops]
    return {k: np.concatenate(v) for k, v in chunks.items()}, layout


def unpack(packed: tuple[dict, list]) -> list:
    """The operands of :func:`pack`: tensors are views of the flat arrays (the tiles only read them)."""
    buffers, layout = packed
    flat = {k: torch.from_numpy(v if v.flags.writeable else v.copy()) for k, v in buffers.items()}

    def get(spec):
        if spec is None:
            return None
        key, off, shape, device = spec
        t = flat[key][off:off + math.prod(shape)].view(shape)
        return t if device == "cpu" else t.to(device)

    return [Operand(x=get(x), a=get(a), diags=[get(d) for d in diags], sizes=get(s), sketch=get(sk),
                    sketched_a=get(ska)) for x, a, diags, s, sk, ska in layout]


#: run id -> that run's operands and stacked chunks, in this worker process (the latest few runs
#: only: a run whose client died is never told it is over)
_RUNS: OrderedDict[str, dict] = OrderedDict()
_KEEP_RUNS = 2


def _run_cache(run: str, data: _Operands) -> dict:
    if run not in _RUNS:
        _RUNS[run] = {"rows": unpack(data.rows), "cols": None if data.cols is None else unpack(data.cols),
                      "stacks": {}}
        while len(_RUNS) > _KEEP_RUNS:
            _RUNS.popitem(last=False)
    _RUNS.move_to_end(run)
    return _RUNS[run]


def _forget(run: str) -> None:
    _RUNS.pop(run, None)


def _tile_task(data: _Operands, tile: tuple[int, int], run: str, tile_fn: Callable, kwargs: dict) -> np.ndarray:
    """One tile on a worker, with the worker's cache of stacked chunks for this run."""
    _heap_for_tiles()
    cache = _run_cache(run, data)
    block = tile_fn(cache["rows"], cache["cols"], data.plan, tile, stacks=cache["stacks"], **kwargs)
    release_freed_memory()
    return block


_HEAP_TUNED = False


def _heap_for_tiles() -> None:
    """Undo, once per worker process, what Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` does to tiles.

    Dask's nannies start workers with that variable (``distributed.nanny.pre-spawn-environ``), and
    any such setting turns off glibc's dynamic mmap threshold: every array above 128 kB is then a
    fresh ``mmap`` whose pages fault in on first touch, which made COLLAB-sized tiles 1.6x slower
    than in a process without it (measured).  Where the variable is set, the mmap threshold goes to
    32 MiB (the dynamic threshold's ceiling) and the trim threshold to 64 MiB, so mid-sized arrays
    reuse the heap as in a plain process; the engine's ``malloc_trim`` after each tile still gives
    the freed memory back.  :func:`fastgnn.distributed.cluster_client` starts its workers without
    the variable.
    """
    global _HEAP_TUNED
    if _HEAP_TUNED:
        return
    _HEAP_TUNED = True
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD


class DaskTiles:
    """Runs tiles on the active Dask client (or ``client``), yielding ``(tile, block)`` as they finish.

    Args:
        client: a ``distributed.Client``; default the active one at the time of the call
            (:func:`fastgnn.distributed.client.active_client`).
        in_flight: most tiles queued on the cluster at a time; default four per worker thread.
    """

    def __init__(self, client=None, *, in_flight: int | None = None):
        self.client = client
        self.in_flight = in_flight

    def __call__(self, rows: Sequence, cols: Sequence | None, plan: TilePlan, tiles: Sequence[tuple[int, int]], *,
                 tile_fn: Callable[..., np.ndarray], **kwargs) -> Iterator[tuple[tuple[int, int], np.ndarray]]:
        if not tiles:
            return
        from distributed import as_completed

        client = self.client if self.client is not None else active_client()
        threads = sum(client.nthreads().values())
        if threads == 0:
            raise RuntimeError(f"the Dask cluster at {client.scheduler.address} has no workers")
        window = self.in_flight or 4 * threads
        run = uuid.uuid4().hex[:12]
        data = client.scatter(_Operands.of(rows, cols, plan), broadcast=True, hash=False)
        todo = iter(sorted(tiles, key=plan.pairs, reverse=True))  # largest first: a short tail
        tile_of, pending = {}, {}
        queue = as_completed(with_results=True)

        def submit_next() -> None:
            tile = next(todo, None)
            if tile is not None:
                future = client.submit(_tile_task, data, tile, run, tile_fn, kwargs, pure=False,
                                       key=f"gntk-tile-{plan.name(tile)}-{run}")
                tile_of[future.key], pending[future.key] = tile, future
                queue.add(future)

        for _ in range(window):
            submit_next()
        try:
            for future, block in queue:
                tile = tile_of.pop(future.key)
                del pending[future.key]
                submit_next()
                yield tile, block
        finally:  # the client or the cluster may be gone already: nothing to clean then
            queue.clear()
            with contextlib.suppress(Exception):
                client.cancel([data, *pending.values()])
            with contextlib.suppress(Exception):
                client.run(_forget, run)


def worker_budget(client=None, device="cpu") -> int:
    """The memory budget of one tile on the smallest worker of the cluster, bytes.

    Per worker, the least of :func:`fastgnn.budget.default_max_memory` measured on the worker
    shared by the workers of its host and by its threads, and of its Dask ``memory_limit`` (when set)
    shared by its threads; then the least over the workers, rounded down to a power of two (so the
    plan stays the same while free memory drifts).  The plan is made once from it, on the client.
    """
    client = client if client is not None else active_client()
    info = client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers(client) else \
        client.scheduler_info()["workers"]
    free = client.run(default_max_memory, str(device))
    per_host: dict[str, int] = {}
    for w in info.values():
        per_host[w["host"]] = per_host.get(w["host"], 0) + 1
    budgets = []
    for addr, w in info.items():
        threads = max(int(w.get("nthreads", 1)), 1)
        b = free.get(addr, default_max_memory(device)) / per_host[w["host"]] / threads
        if w.get("memory_limit"):
            b = min(b, w["memory_limit"] / threads)
        budgets.append(b)
    if not budgets:
        raise RuntimeError("the Dask cluster has no workers")
    return 2 ** int(math.log2(max(min(budgets), 2**20)))


def _takes_n_workers(client) -> bool:
    return "n_workers" in inspect.signature(client.scheduler_info).parameters
