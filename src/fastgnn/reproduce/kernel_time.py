"""Stage ``kernel_time``: the whole Gram's time by each of the paper's algorithms, per dataset.

At one configuration (the dataset's found one, else L=4, R=2, uniform, jk), on the graphs' nodes:

* per pair, the paper's algorithms (:func:`fastgnn.gntk.pairwise.pair_readouts`): ``kron``
  (Eq. 1, ``(A_G ⊗ A_H) vec Σ``, the GNTK paper's baseline, O(N⁴) per pair), ``decoupled``
  (``A_G Σ A_Hᵀ``, O(N³)) and ``sketch`` at each b (O(N² b)), on one torch thread.  Each is
  timed on a seeded uniform sample of the n(n+1)/2 graph pairs i <= j (each pair the best of
  ``pair_repeats`` runs, or of the runs that fit in half a second; the sample cut short when the
  method's time budget runs out; one untimed warm-up pair first); the whole Gram is extrapolated
  as the mean time per sampled pair × n(n+1)/2, plus the measured preparation of every graph (its
  self-diagonals): rows
  ``how = "extrapolated ..."``.  A Kronecker pair whose operator would not fit the memory limit is
  not run; its time is the measured pairs' seconds per operator entry times its entries (said in
  ``note``).
* ``batched``: ``GNTK(...).fit_transform(dataset)`` (the engine, colour-class compression on),
  measured whole after an untimed warm-up on a few graphs: ``how = "measured"``.

Cost: the batched Gram once, plus ``pair_seconds`` (or ``min_pairs`` pairs) per per-pair method, plus each
per-pair method's preparation of every graph.  Memory of the per-pair methods: the operands of the sampled
pairs' graphs only, and one chunk of the preparation (:func:`_prepare`).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from fastgnn.gntk import GNTK
from fastgnn.gntk.pairwise import pair_readouts, prepare_many
from fastgnn.gntk.plan import plan_chunks
from fastgnn.reproduce.settings import CONFIG_KEYS

__all__ = ["run", "sample_pairs", "warm_up", "one_torch_thread", "KRON_BYTES_PER_ENTRY"]

#: a pair that took this long is not repeated: an interruption of the machine is small beside it
LONG_PAIR_SECONDS = 0.5
#: peak bytes per entry of the sparse Kronecker operator (COO then CSR: int64 indices, float64 values)
KRON_BYTES_PER_ENTRY = 40


def run(dataset, config: dict, settings, *, progress=True, log=print) -> dict:
    """Time every algorithm on ``dataset`` at ``config`` (num_layers, num_mlp_layers, scale, jk)."""
    graphs = list(dataset.graphs)
    n = len(graphs)
    total = n * (n + 1) // 2
    sample = sample_pairs(n, settings.sample_pairs, np.random.default_rng(settings.seed))
    keep = np.unique(sample)  # the sampled pairs' graphs: the only operands a per-pair method reads
    methods = []
    threads = torch.get_num_threads()
    with one_torch_thread():  # a pair's products are small: on a busy machine 2 threads ran up to 1000x slower
        ops, prep = _prepare(graphs, config, None, settings.seed, keep)
        for method in ("kron", "decoupled"):
            methods.append(_time_pairs(method, ops, sample, total, prep, config, settings, None))
            log(_line(dataset.name, methods[-1]))
        ops = None  # freed before the next preparation
        for b in settings.pair_sketch_sizes:
            ops, prep = _prepare(graphs, config, int(b), settings.seed, keep)
            methods.append(_time_pairs("sketch", ops, sample, total, prep, config, settings, int(b)))
            log(_line(dataset.name, methods[-1]))
            ops = None
    est = GNTK(num_layers=config["num_layers"], num_mlp_layers=config["num_mlp_layers"], scale=config["scale"],
               jk=bool(config["jk"]), progress=progress)
    warm_up(est, dataset)
    t0 = time.perf_counter()
    est.fit_transform(dataset)
    seconds = time.perf_counter() - t0
    methods.append({"method": "batched", "b": None, "seconds": seconds, "how": "measured", "pairs_timed": None,
                    "seconds_per_pair": seconds / total, "prepare_seconds": None, "note": "whole Gram, prepare "
                    "included; colour-class compression on (GNTK's default)"})
    log(_line(dataset.name, methods[-1]))
    return {"dataset": dataset.name, "config": {k: config[k] for k in CONFIG_KEYS},
            "graphs": n, "graph_pairs": total, "pair_threads": 1, "batched_threads": threads, "methods": methods}


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one thread inside the block (restored after): small products on a shared 2-core machine
    run faster, and far more steadily, on one thread than on two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def warm_up(est, dataset, graphs: int = 4) -> None:
    """``est.fit_transform`` on the first few graphs, untimed: the first call in a process loads the
    compiled kernels (numba), which a timing of the whole Gram must not include."""
    est.fit_transform(list(dataset.graphs)[:graphs])


def sample_pairs(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(min(k, P), 2)`` distinct pairs (i, j), i <= j, drawn uniformly without replacement from the
    P = n(n+1)/2 pairs of the symmetric half of an n x n Gram (diagonal included).  O(k log n)."""
    total = n * (n + 1) // 2
    flat = np.sort(rng.choice(total, size=min(int(k), total), replace=False))
    rows = np.arange(n, dtype=np.int64)
    starts = rows * n - rows * (rows - 1) // 2  # flat index of (i, i): row i holds n - i pairs
    i = np.searchsorted(starts, flat, side="right") - 1
    j = i + (flat - starts[i])
    return rng.permutation(np.stack([i, j], axis=1))


#: Bytes of dense operands (``C Ã``, ``[N, N]`` float64 per graph) prepared at once by :func:`_prepare`: a
#: preparation of all REDDIT-BINARY's graphs at once held 7.9 GB, and three of them (the exact one and two
#: sketched ones) ran a 24 GB machine out of memory.
PREPARE_CHUNK_BYTES = 2**28


def _prepare(graphs, config, b, seed, keep) -> tuple[list, float]:
    """Every graph prepared for the per-pair method (exact when ``b`` is None, else sketched at ``b``), timed:
    its self-diagonals are part of that method's whole Gram.

    Prepared in chunks of graphs of similar size (:func:`~fastgnn.gntk.plan.plan_chunks` on N², a larger graph
    alone) of at most :data:`PREPARE_CHUNK_BYTES` of dense operands, keeping only the graphs whose indices are in
    ``keep`` (the sampled pairs'): returns ``(ops, seconds)``, ``ops[i]`` the operand of graph i if kept, else
    None, and the seconds of all the chunks' preparation.  Peak memory O(chunk + Σ_{i in keep} N_i²) instead of
    O(Σ_i N_i²).
    """
    keep = {int(i) for i in keep}
    ops, seconds = [None] * len(graphs), 0.0
    for chunk in plan_chunks([g.num_nodes ** 2 for g in graphs], PREPARE_CHUNK_BYTES // 8):
        t0 = time.perf_counter()
        prepared = prepare_many([graphs[i] for i in chunk], num_blocks=config["num_layers"] - 1,
                                num_mlp_layers=config["num_mlp_layers"], scale=config["scale"],
                                method="decoupled" if b is None else "sketch", sketch_size=b, sketch_kind="ams",
                                seed=seed, dtype=torch.float64, device="cpu", compress=False)
        seconds += time.perf_counter() - t0
        for i, op in zip(chunk.tolist(), prepared):
            if i in keep:
                ops[i] = op
        del prepared
    return ops, seconds


def _time_pairs(method, ops, sample, total, prep, config, settings, b) -> dict:
    """One per-pair method on the sample: the extrapolated whole-Gram row."""
    kw = {"method": method, "num_blocks": config["num_layers"] - 1, "num_mlp_layers": config["num_mlp_layers"]}
    nnz = None
    if method == "kron":  # the operator's entries of a pair: nnz(A_G) · nnz(A_H), for the sampled graphs only
        nnz = np.array([np.nan if op is None else int(torch.count_nonzero(op.a)) for op in ops], dtype=np.float64)

    def too_big(i, j):
        return nnz is not None and nnz[i] * nnz[j] * KRON_BYTES_PER_ENTRY > settings.kron_max_bytes

    runnable = [(i, j) for i, j in sample if not too_big(i, j)]
    if runnable:  # warm-up, untimed
        pair_readouts(ops[runnable[0][0]], ops[runnable[0][1]], **kw)
    times, costs, skipped, spent = [], [], [], 0.0
    for i, j in sample:
        if too_big(i, j):
            skipped.append(nnz[i] * nnz[j])
            continue
        runs = []
        while len(runs) < settings.pair_repeats and sum(runs) < LONG_PAIR_SECONDS:
            t0 = time.perf_counter()
            pair_readouts(ops[i], ops[j], **kw)
            runs.append(time.perf_counter() - t0)
        times.append(min(runs))
        costs.append(nnz[i] * nnz[j] if nnz is not None else 1.0)
        spent += sum(runs)
        if spent > settings.pair_seconds and len(times) >= settings.min_pairs:
            break
    name = method if b is None else f"sketch b={b}"
    out = {"method": name, "b": b, "pairs_timed": len(times), "prepare_seconds": prep, "note": ""}
    if not times:
        return {**out, "seconds": None, "seconds_per_pair": None, "how": "not run",
                "note": f"every sampled pair's Kronecker operator exceeds {settings.kron_max_bytes:.3g} bytes"}
    estimated = float(sum(times) / sum(costs) * sum(skipped)) if skipped else 0.0
    per_pair = (sum(times) + estimated) / (len(times) + len(skipped))
    if skipped:
        out["note"] = (f"{len(skipped)} sampled pairs too large to run (operator over {settings.kron_max_bytes:.3g} "
                       "bytes): timed as the run pairs' seconds per operator entry")
    return {**out, "seconds": per_pair * total + prep, "seconds_per_pair": per_pair,
            "how": f"extrapolated from {len(times) + len(skipped)} of {total} pairs"}


def _line(name, m) -> str:
    secs = "not run" if m["seconds"] is None else f"{m['seconds']:.4g} s"
    return f"[kernel_time] {name}: {m['method']}: {secs} ({m['how']})"
