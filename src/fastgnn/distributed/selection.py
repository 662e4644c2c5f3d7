"""The model selection's tasks on Dask: a ``run`` for :func:`fastgnn.model_selection.protocols.svm_curves`.

:func:`~fastgnn.model_selection.protocols.svm_curves` hands its pure per-(normalisation, fold) task
(:func:`~fastgnn.model_selection.protocols.fold_curves`: one C path on the training fold, plus
one per inner fold) and the list of argument tuples to ``run(fn, args) -> list of results``.
:class:`DaskRun` is such a ``run`` on the active Dask client: every large array among the
arguments (the normalised Grams, shared by all folds), and every other object that all the tasks share
(the GNTK's colour bands' inputs, :class:`fastgnn.gntk.colour_bands.BandInputs`: Python's own types
aside), is scattered once to every worker (``broadcast=True``), each tuple becomes one task, and the
results come back in the order of ``args``.  The solver is deterministic, so the curves equal the serial
ones exactly.

Bytes moved per call: each distinct large array x workers, plus the small arguments and the
``(G,)`` curves per task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np

from fastgnn.distributed.client import active_client

__all__ = ["DaskRun", "SCATTER_BYTES"]

#: arrays at least this large are scattered once instead of sent with every task
SCATTER_BYTES = 1 << 20


class DaskRun:
    """``run(fn, args)`` on the active Dask client (or ``client``): ``[fn(*a) for a in args]``, as tasks.

    Args:
        client: a ``distributed.Client``; default the active one when called.
        on_done: called as ``on_done(index, result)`` as each task finishes (a progress bar).
        keep: keep the results and return them (False: ``on_done`` takes each, the call returns
            ``None`` in its place, so that large results are not all held at once).
    """

    def __init__(self, client=None, *, on_done: Callable[[int, object], None] | None = None, keep: bool = True):
        self.client = client
        self.on_done = on_done
        self.keep = keep

    def __call__(self, fn: Callable, args: Sequence[tuple]) -> list:
        from distributed import as_completed

        client = self.client if self.client is not None else active_client("DaskRun")
        big = {}
        for a in args:
            for v in a:
                if isinstance(v, np.ndarray) and v.nbytes >= SCATTER_BYTES and id(v) not in big:
                    big[id(v)] = v
        if args:  # an object every task shares (not an array, not one of Python's own types): scattered too
            for v in args[0]:
                if (not isinstance(v, np.ndarray) and type(v).__module__ != "builtins"
                        and all(any(w is v for w in a) for a in args)):
                    big[id(v)] = v
        ids = list(big)
        futures = dict(zip(ids, client.scatter([big[i] for i in ids], broadcast=True, hash=False))) if ids else {}
        tasks = [client.submit(fn, *[futures.get(id(v), v) for v in a], pure=False) for a in args]
        index = {t.key: i for i, t in enumerate(tasks)}
        out: list = [None] * len(tasks)
        try:
            for future, result in as_completed(tasks, with_results=True):
                i = index[future.key]
                out[i] = result if self.keep else None
                if self.on_done is not None:
                    self.on_done(i, result)
        finally:
            with contextlib.suppress(Exception):
                client.cancel([*tasks, *futures.values()])
        return out
