"""``fastgnn.environment``: the versions and the machine, and the callers that print parts of them."""

from __future__ import annotations

import os
import platform

import numpy as np
import scipy
import sklearn
import torch

import fastgnn
from fastgnn import environment


def test_versions_in_order():
    v = environment.versions()
    assert list(v) == ["fastgnn", "python", "torch", "numpy", "scipy", "scikit-learn"]
    assert v == {"fastgnn": fastgnn.__version__, "python": platform.python_version(), "torch": torch.__version__,
                 "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def test_machine_and_describe(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    m = environment.machine()
    assert list(m) == ["platform", "processor", "machine", "cpus", "torch_threads", "omp_num_threads", "device"]
    assert m["cpus"] == os.cpu_count() and m["machine"] == platform.machine() and m["device"] == "cpu"
    assert m["omp_num_threads"] == "1" and m["torch_threads"] == torch.get_num_threads()
    assert m["processor"] == environment.processor_name() and m["processor"]
    line = environment.describe()
    assert "\n" not in line and f"{os.cpu_count()} CPUs" in line and "OMP_NUM_THREADS=1" in line
    assert f"torch {torch.__version__}" in line and f"fastgnn {fastgnn.__version__}" in line


def test_the_callers_keep_their_keys():
    """The profiler's header and the reproduce report print subsets, with the keys they always had."""
    from fastgnn.complexity.measure import machine_info
    from fastgnn.reproduce.report import summary
    from fastgnn.reproduce.settings import Settings

    info = machine_info("cpu")
    assert list(info) == ["platform", "processor", "cpus", "torch_threads", "omp_num_threads", "python", "torch",
                          "device", "cpu_peak_memory"]
    assert info["processor"] == environment.processor_name()
    versions = summary([], [], Settings())["versions"]
    assert list(versions) == ["fastgnn", "python", "torch", "numpy", "scikit-learn", "machine"]
    assert versions["machine"] == f"{platform.machine()}, {os.cpu_count()} CPUs"
