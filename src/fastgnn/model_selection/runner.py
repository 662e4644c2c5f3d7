"""The runner of model-selection tasks: threads in this process, or a registered executor (Dask).

Model selection is a list of independent, pure tasks (:func:`.protocols.fold_curves` for every
(normalisation, fold), then the nested protocol's refits).  :class:`Runner` runs
``[fn(*a) for a in args]``:

* ``executor="local"``: in ``n_jobs`` threads (libsvm, LAPACK and the numba SMO release the GIL, so
  nothing is copied), BLAS limited to one thread inside the tasks (the threads go to tasks
  instead; a 140 × 140 Cholesky on several BLAS threads of a busy 2-core machine took 65 ms);
* any other name of :data:`fastgnn.executors.EXECUTORS`: the executor's ``tasks`` entry point
  (``"dask"``: :class:`fastgnn.distributed.DaskRun` on the active client).

Results come back in the order of ``args`` and are the same on every executor (the tasks are
deterministic).  One tqdm bar per stage counts finished work (``start``/``advance``/``stop``),
weighted per task (e.g. C paths: one per task plus one per inner fold).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from fastgnn import executors

__all__ = ["Runner", "effective_jobs"]


def effective_jobs(n_jobs, n_tasks: int) -> int:
    """Threads for ``n_tasks`` tasks: ``None``/-1 all cores, else ``n_jobs``; at most ``n_tasks``, at least 1."""
    if n_jobs is None or n_jobs == -1:
        n = os.cpu_count() or 1
    elif not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be None, -1 or a positive integer, got {n_jobs!r}")
    else:
        n = int(n_jobs)
    return max(1, min(n, n_tasks))


class Runner:
    """Runs lists of tasks on one executor and counts them on a progress bar.

    Args:
        n_jobs: threads (``executor="local"`` only): ``None`` or -1 all cores, else a positive count.
        executor: a name from :data:`fastgnn.executors.EXECUTORS`.
    """

    def __init__(self, n_jobs=None, executor: str = executors.LOCAL):
        if n_jobs is not None:
            effective_jobs(n_jobs, 1)  # checked now, not at the first task
        self.n_jobs = n_jobs
        self.executor = executors.check_executor(executor)
        self.bar = None
        self._counted = 0

    # -- progress ---------------------------------------------------------------
    def start(self, total: int, desc: str, progress: bool, unit: str = "task") -> None:
        """Open a bar of ``total`` units for the next calls (none when ``progress`` is false)."""
        self._counted = 0
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, smoothing=0.05)

    def advance(self, n: int) -> None:
        """Count ``n`` units done since the last ``advance``, the ones not run here (a cache hit) included."""
        if self.bar is not None:
            self.bar.update(max(0, n - self._counted))
        self._counted = 0

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None

    # -- running ----------------------------------------------------------------
    def __call__(self, fn: Callable, args: Sequence[tuple], weights: Sequence[int] | None = None) -> list:
        """``[fn(*a) for a in args]``, run on the executor; each finished task counts ``weights[i]`` (1)."""
        args = list(args)
        weights = [1] * len(args) if weights is None else list(weights)

        def done(i, _result=None):
            if self.bar is not None:
                self.bar.update(weights[i])
            self._counted += weights[i]

        if self.executor != executors.LOCAL:
            return executors.lookup(self.executor).tasks(on_done=done)(fn, args)
        from joblib import Parallel, delayed
        from threadpoolctl import threadpool_limits

        workers = effective_jobs(self.n_jobs, len(args))
        out = []
        with threadpool_limits(limits=1, user_api="blas"):
            gen = Parallel(n_jobs=workers, backend="threading", return_as="generator")(
                delayed(fn)(*a) for a in args) if workers > 1 else (fn(*a) for a in args)
            for i, r in enumerate(gen):
                out.append(r)
                done(i)
        return out
