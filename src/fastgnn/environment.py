"""Where a result was computed: the library versions and the machine, written once.

Every saved result records them, so that a number can be traced to the software and the
hardware that produced it: the CLI's JSON (``"versions"``), ``fastgnn reproduce``'s report,
the profiler's header (:func:`fastgnn.complexity.measure.machine_info`) and the benchmarks'
run files each pick the entries they print from here.

* :func:`versions` -- fastgnn, Python, torch, NumPy, SciPy, scikit-learn.
* :func:`machine` -- platform, processor, architecture, CPU count, torch threads,
  ``OMP_NUM_THREADS``, the device (and the GPU's name on CUDA).
* :func:`describe` -- both on one line, for a log, a run file or a plot's title.

Cost: a read of ``/proc/cpuinfo`` per :func:`machine` call (well under a millisecond).
"""

from __future__ import annotations

import os
import platform

import numpy as np
import scipy
import sklearn
import torch

from fastgnn import __version__

__all__ = ["versions", "machine", "describe", "processor_name"]


def versions() -> dict:
    """``{"fastgnn", "python", "torch", "numpy", "scipy", "scikit-learn"}``: version strings, in this order."""
    return {"fastgnn": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def machine(device="cpu") -> dict:
    """The machine a run is on, in this order:

    ``platform`` (:func:`platform.platform`), ``processor`` (:func:`processor_name`), ``machine``
    (the architecture, e.g. ``x86_64``), ``cpus`` (:func:`os.cpu_count`), ``torch_threads``,
    ``omp_num_threads`` (the variable, or None), ``device`` (``str(torch.device(device))``), and
    ``gpu`` (the CUDA device's name) when ``device`` is a CUDA device.
    """
    dev = torch.device(device)
    info = {
        "platform": platform.platform(),
        "processor": processor_name(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "device": str(dev),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def describe(device="cpu") -> str:
    """One line: ``"Linux-...-x86_64, AMD EPYC ..., 2 CPUs; python 3.12.3, torch 2.5.1, fastgnn 0.1.0, 2 torch
    thread(s) (OMP_NUM_THREADS=unset)"`` (and the GPU's name on CUDA)."""
    m, v = machine(device), versions()
    return (f"{m['platform']}, {m['processor']}, {m['cpus']} CPUs; python {v['python']}, torch {v['torch']}, "
            f"fastgnn {v['fastgnn']}, {m['torch_threads']} torch thread(s) "
            f"(OMP_NUM_THREADS={m['omp_num_threads'] or 'unset'})" + (f"; GPU {m['gpu']}" if "gpu" in m else ""))


def processor_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else :func:`platform.processor`, else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
