"""The operation registry: each sweep is one small declarative entry.

A :class:`Sweep` names an operation (``"gcn-sparse-bwd"``), the one variable it sweeps
(``"E"``) over which values (full and ``quick``), the fixed values of the others, how to
build the timed callable for one point, the cost formulas it is compared against (from the
complexity note or the GNTK paper), and its FLOP and byte counts.  :func:`register` adds one;
:func:`select` picks them by shell-style patterns (``"gcn-*"``, ``"gntk-pair-*/N"``).

This module only holds the entries; it imports no sweep.  The sweeps are declared in
:mod:`fastgnn.complexity.sweeps`, which registers them when it is imported (as
``import fastgnn.complexity`` does), so the dependency runs one way: sweeps -> registry.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["Cost", "KERNELS", "Sweep", "Context", "REGISTRY", "register", "select", "sweep_names"]


@dataclass(frozen=True)
class Cost:
    """A predicted cost: ``fn(params) -> cost`` (any unit; only its growth matters).

    Attributes:
        source: where it comes from, e.g. ``"note §3.8"`` or ``"paper Thm 4.1"``.
        label: the formula as written there, e.g. ``"LEF + LNF²"``.
        fn: the formula on a point's parameters.
        terms: instead of ``fn``, a *machine-weighted* cost: ``{kernel: work(params)}`` with
            kernel one of :data:`KERNELS`; the cost is ``Σ work / rate`` with the rates this
            machine measured in the same run (``matmul`` in flops at the matmul rate, ``spmm``
            in flops at the CSR SpMM rate, ``elementwise`` in elements at the softmax rate).
            A term's weight is then what it costs here, not its flop count.
    """

    source: str
    label: str
    fn: Callable[[dict], float] | None = None
    terms: dict | None = None

    def evaluate(self, params: dict, rates: dict | None = None) -> float:
        if self.terms is None:
            return float(self.fn(params))
        if rates is None:
            raise ValueError(f"the cost {self.label!r} is weighted by measured rates: pass rates")
        return sum(float(work(params)) / rates[kernel] for kernel, work in self.terms.items())


#: Kernels whose measured rate weights a :class:`Cost`'s terms.
KERNELS = ("matmul", "spmm", "elementwise")


@dataclass
class Context:
    """What a builder gets besides the parameters: device, dtype and a seeded generator."""

    device: torch.device
    dtype: torch.dtype
    generator: torch.Generator

    def randn(self, *shape, dtype=None, requires_grad: bool = False) -> torch.Tensor:
        t = torch.randn(*shape, generator=self.generator, dtype=dtype or self.dtype).to(self.device)
        return t.requires_grad_(requires_grad)


@dataclass
class Sweep:
    """One operation swept along one variable.

    Attributes:
        op: operation name, e.g. ``"gcn-sparse-bwd"``.
        variable: the swept parameter, e.g. ``"N"``.
        values, quick: its values in full and in ``--quick`` mode.
        fixed: the other parameters (``quick_fixed`` overrides some in quick mode).
        build: ``build(params, ctx) -> fn`` where ``fn()`` is the timed call; everything not
            part of the operation (inputs, a forward pass before a timed backward) is done
            in ``build``.
        costs: predictions; each row of the report's table is one of them.
        flops, bytes: ``f(params) -> float``: arithmetic and minimal memory traffic of one call
            (None where not meaningful).
        space: the predicted extra memory of one call, or None.
        derive: fills derived parameters (e.g. ``E = N·deg``) before anything else sees them.
        group: for the plots: ``reference``, ``gcn``, ``attention``, ``training``, ``gntk``.
        impl: what is timed (``"fastgnn.nn.GCNConv"``, ``"torch.matmul"``), or a callable
            returning that string (decided when the profile runs).
        available: ``() -> None`` when runnable, else the reason it is not (e.g. no CUDA device).
        dtype: ``"float32"`` or ``"float64"`` (the GNTK's default).
        grows: the largest exponent the time can have in the variable, for skipping points
            whose extrapolated time exceeds the per-call limit.
        note: a line for the report.
    """

    op: str
    variable: str
    values: tuple
    quick: tuple
    fixed: dict
    build: Callable
    costs: tuple
    flops: Callable | None = None
    bytes: Callable | None = None
    space: Cost | None = None
    derive: Callable | None = None
    group: str = "reference"
    impl: object = "torch"
    available: Callable | None = None
    dtype: str = "float32"
    grows: float = 3.0
    quick_fixed: dict = field(default_factory=dict)
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.op}/{self.variable}"

    def params(self, value, quick: bool = False) -> dict:
        p = {**self.fixed, **(self.quick_fixed if quick else {}), self.variable: value}
        return self.derive(p) if self.derive else p

    def sizes(self, quick: bool = False) -> tuple:
        return tuple(self.quick if quick else self.values)

    def unavailable(self) -> str | None:
        return self.available() if self.available else None

    def implementation(self) -> str:
        return self.impl() if callable(self.impl) else str(self.impl)


REGISTRY: list[Sweep] = []


def register(sweep: Sweep) -> Sweep:
    """Add a sweep to :data:`REGISTRY` (names must be unique)."""
    if any(s.name == sweep.name for s in REGISTRY):
        raise ValueError(f"a sweep named {sweep.name!r} is already registered")
    if not sweep.costs:
        raise ValueError(f"sweep {sweep.name!r} has no predicted cost")
    REGISTRY.append(sweep)
    return sweep


def sweep_names() -> list[str]:
    """The registered sweeps' names (``op/variable``), in the registry's order."""
    return [s.name for s in REGISTRY]


def select(patterns=None) -> list[Sweep]:
    """Sweeps whose name (``op/variable``), op or group matches any pattern (fnmatch).

    ``None`` or empty: all.  Patterns may also be comma-separated.  An unmatched pattern is a
    ValueError listing the known names.
    """
    registry = REGISTRY
    if not patterns:
        return list(registry)
    if isinstance(patterns, str):
        patterns = [patterns]
    pats = [p.strip() for item in patterns for p in str(item).split(",") if p.strip()]
    chosen = []
    for pat in pats:
        hit = [s for s in registry
               if fnmatch.fnmatchcase(s.name, pat) or fnmatch.fnmatchcase(s.op, pat) or s.group == pat]
        if not hit:
            raise ValueError(f"no operation matches {pat!r}; known: {', '.join(sweep_names())} "
                             f"(groups: {', '.join(sorted({s.group for s in registry}))})")
        chosen += [s for s in hit if s not in chosen]
    return [s for s in registry if s in chosen]
