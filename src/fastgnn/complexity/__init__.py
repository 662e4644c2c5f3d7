"""The complexity profiler: every operation's time and memory measured against the theory.

Sweeps one variable at a time (N, E, F, L, the SGD batch size B, the sketch size b, the number
of graphs n) for the GCN (sparse and dense, forward and backward), dense self-attention and
edge-wise attention, a full-batch GD step against a neighbour-sampled SGD step, and the GNTK
(per pair under kron, decoupled and sketch; per dataset under the batched engine); fits the
log-log slope of each sweep and compares it with the exponent the complexity note or the GNTK
paper predicts.

    >>> from fastgnn.complexity import profile
    >>> report = profile(["gntk-aggregate-*"], quick=True)
    >>> print(report.table())
    >>> report.write("out/")          # complexity.json, .csv, .md, complexity_points.csv, PNGs

Modules: :mod:`~fastgnn.complexity.registry` (the declarative :class:`Sweep` entries and
:func:`select`; it imports no sweep), :mod:`~fastgnn.complexity.sweeps` (the sweeps, one module
per subject; importing the package, as this one does, registers them),
:mod:`~fastgnn.complexity.cache` (the one input the sweeps reuse while a profile runs),
:mod:`~fastgnn.complexity.measure` (timing, peak memory, machine baselines),
:mod:`~fastgnn.complexity.fit` (the slope-fitting rule), :mod:`~fastgnn.complexity.profile`
(:func:`profile`, :class:`Report`), :mod:`~fastgnn.complexity.plots`,
:mod:`~fastgnn.complexity.cli` (the ``fastgnn complexity`` subcommand).
:mod:`~fastgnn.complexity.operations` is a deprecated alias of :mod:`~fastgnn.complexity.sweeps`.
"""

from fastgnn.complexity import sweeps  # noqa: F401  (the one place the sweeps are loaded: registers them)
from fastgnn.complexity.cli import add_subparser, run_cli
from fastgnn.complexity.fit import AGREEMENT, Fit, fit_exponent, loglog_slope, predicted_exponent, verdict
from fastgnn.complexity.measure import copy_gbps, matmul_gflops, peak_memory, time_call
from fastgnn.complexity.profile import Report, load_report, profile
from fastgnn.complexity.registry import REGISTRY, Cost, Sweep, register, select, sweep_names

__all__ = [
    "AGREEMENT",
    "REGISTRY",
    "Cost",
    "Fit",
    "Report",
    "Sweep",
    "add_subparser",
    "copy_gbps",
    "fit_exponent",
    "load_report",
    "loglog_slope",
    "matmul_gflops",
    "peak_memory",
    "predicted_exponent",
    "profile",
    "register",
    "run_cli",
    "select",
    "sweep_names",
    "time_call",
    "verdict",
]
