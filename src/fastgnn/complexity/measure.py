"""Measuring one point: wall time (median of repeats) and peak memory, each point isolated.

Time (:func:`time_call`): a warm-up call, then ``repeats`` repeats; a repeat loops the call
until it lasts ``min_time`` seconds (so microsecond calls are timed reliably) and is divided
by the number of calls; the median repeat is reported, by the wall clock and by the process's
CPU clock.  On CUDA every repeat ends with ``torch.cuda.synchronize()``.

Peak memory (:func:`peak_memory`), measured on one call of its own after the warm-up call (so
one-time compilation and caches are not counted) and before the timing:

* **CPU**: Linux's resident-set high-water mark.  Writing ``5`` to ``/proc/self/clear_refs``
  resets ``VmHWM`` to the current ``VmRSS``; after ``gc.collect(0)`` and ``malloc_trim(0)``
  (glibc keeps freed memory otherwise) the baseline ``VmRSS`` is read, the call is made, and
  ``VmHWM - baseline`` is the extra memory the call touched.  Earlier points do not pollute it
  because the mark is reset per point.  Where the file cannot be written (not Linux, or a
  restricted kernel), memory is reported as None ("n/a").
* **CUDA**: ``torch.cuda.reset_peak_memory_stats()``, then
  ``max_memory_allocated() - memory_allocated()`` around the call (the caching allocator's
  view: bytes of live tensors, not reserved blocks).

The inputs of a point are built before the baseline, so both numbers are the memory of the
operation on top of its inputs.
"""

from __future__ import annotations

import ctypes
import gc
import math
import statistics
import time
import warnings
from functools import cache

import torch

from fastgnn import environment

__all__ = [
    "time_call",
    "peak_memory",
    "cpu_peak_supported",
    "machine_info",
    "matmul_gflops",
    "spmm_gflops",
    "softmax_gelems",
    "copy_gbps",
    "synchronize",
]


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn, *, device="cpu", repeats: int = 5, min_time: float = 0.01, warmup: int = 1,
              once: float | None = None) -> dict:
    """Median seconds per call of ``fn()``: ``warmup`` calls, then ``repeats`` repeats.

    The number of calls per repeat comes from one more (calibration) call after the warm-up,
    so a slow first call (compilation, caches) does not shorten the repeats (``once``: the
    seconds of a call already made after the warm-up, which then replaces the calibration
    call).  Both clocks are
    read: ``seconds`` is wall time (``time.perf_counter``), ``cpu_seconds`` the process CPU time
    (``time.process_time``), which on a CPU shared with other jobs counts only the time this
    process ran (meaningless on CUDA, where the GPU works while the CPU waits).

    Returns ``{"seconds", "min", "max", "cpu_seconds", "loops", "repeats"}`` (medians, per call).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        fn()
    if once is None:
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        once = time.perf_counter() - t0
    loops = max(1, math.ceil(min_time / max(once, 1e-7)))
    times, cpu = [], []
    for _ in range(repeats):
        synchronize(device)
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(loops):
            fn()
        synchronize(device)
        times.append((time.perf_counter() - t0) / loops)
        cpu.append((time.process_time() - c0) / loops)
    return {"seconds": statistics.median(times), "min": min(times), "max": max(times),
            "cpu_seconds": statistics.median(cpu), "loops": loops, "repeats": repeats}


# --------------------------------------------------------------------------- memory

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def _status_kib(key: str) -> int:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"{key} not in {_STATUS}")


def _reset_hwm() -> None:
    with open(_CLEAR_REFS, "w") as f:
        f.write("5")


@cache
def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _trim() -> None:
    gc.collect(0)  # the young generation only: a full collection costs ~0.2 s with torch and scipy loaded
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@cache
def cpu_peak_supported() -> bool:
    """Whether ``VmHWM`` can be reset and read here (Linux with a writable clear_refs)."""
    try:
        _reset_hwm()
        _status_kib("VmHWM")
        _status_kib("VmRSS")
        return True
    except OSError:
        return False


def peak_memory(fn, *, device="cpu") -> int | None:
    """Extra bytes one call of ``fn()`` holds at its peak (see the module docstring), or None."""
    dev = torch.device(device)
    if dev.type == "cuda":
        synchronize(dev)
        gc.collect(0)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        out = fn()
        synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) - base
        del out
        return int(peak)
    if not cpu_peak_supported():
        return None
    _trim()
    base = _status_kib("VmRSS")
    _reset_hwm()
    out = fn()
    peak = _status_kib("VmHWM") - base
    del out
    return max(0, peak) * 1024


# --------------------------------------------------------------------------- machine


def matmul_gflops(*, device="cpu", dtype=torch.float32, n: int = 1024, repeats: int = 3,
                  min_time: float = 0.05) -> float:
    """Measured ``torch.matmul`` GFLOP/s on ``n × n`` matrices (2n³ flops per product)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen, dtype=dtype).to(device)
    b = torch.randn(n, n, generator=gen, dtype=dtype).to(device)
    t = time_call(lambda: a @ b, device=device, repeats=repeats, min_time=min_time)["seconds"]
    return 2 * n**3 / t / 1e9


def spmm_gflops(*, device="cpu", dtype=torch.float32, n: int = 2**14, degree: int = 16, f: int = 32,
                repeats: int = 3, min_time: float = 0.05) -> float:
    """Measured CSR sparse × dense GFLOP/s (2·E·F flops), random graph of ``n`` nodes, ``n·degree`` edges."""
    gen = torch.Generator().manual_seed(0)
    e = n * degree
    idx = torch.randint(0, n, (2, e), generator=gen)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        a = torch.sparse_coo_tensor(idx, torch.rand(e, generator=gen), (n, n)).coalesce()
        a = a.to_sparse_csr().to(device=device, dtype=dtype)
    z = torch.randn(n, f, generator=gen, dtype=dtype).to(device)
    t = time_call(lambda: torch.sparse.mm(a, z), device=device, repeats=repeats, min_time=min_time)["seconds"]
    return 2 * a.values().numel() * f / t / 1e9


def softmax_gelems(*, device="cpu", dtype=torch.float32, n: int = 2**22, repeats: int = 3,
                   min_time: float = 0.05) -> float:
    """Measured ``torch.softmax`` rate in 10⁹ elements/s over rows of 1024 (an elementwise, exp-bound pass)."""
    s = torch.randn(n // 1024, 1024, generator=torch.Generator().manual_seed(0), dtype=dtype).to(device)
    t = time_call(lambda: torch.softmax(s, dim=-1), device=device, repeats=repeats, min_time=min_time)["seconds"]
    return n / t / 1e9


def copy_gbps(*, device="cpu", nbytes: int = 64 * 2**20, repeats: int = 3, min_time: float = 0.05) -> float:
    """Measured memory-copy GB/s: ``dst.copy_(src)`` of ``nbytes``, counted as read + write."""
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    t = time_call(lambda: dst.copy_(src), device=device, repeats=repeats, min_time=min_time)["seconds"]
    return 2 * nbytes / t / 1e9


def machine_info(device="cpu") -> dict:
    """The machine, the thread count and the versions, for the report's header (from :mod:`fastgnn.environment`)."""
    m, v = environment.machine(device), environment.versions()
    info = {k: m[k] for k in ("platform", "processor", "cpus", "torch_threads", "omp_num_threads")}
    info.update(python=v["python"], torch=v["torch"], device=m["device"])
    if "gpu" in m:
        info["gpu"] = m["gpu"]
    info["cpu_peak_memory"] = "VmHWM via /proc/self/clear_refs" if cpu_peak_supported() else "n/a"
    return info
