"""Log-log slope fitting: the measured exponent of a sweep, and the predicted one.

The rule (:func:`fit_exponent`), for times t_i measured at sizes x_i:

1. **Noise floor.** Points with ``t <= noise_floor`` (default 1 µs, the order of the timer's
   resolution and of one Python call) carry no information and are dropped.
2. **Overhead floor.** A measured time is ``t = c + a·x^k``: a constant per-call overhead c
   (Python, dispatch, allocation) plus the work.  Since ``t >= c`` at every point, the smallest
   time ``t_min`` bounds c from above, and at a point with ``t >= R·t_min`` (R =
   ``overhead_ratio``, default 8) the overhead is at most 1/R of the time: the local log-log
   slope there is at least ``(1 - 1/R)·k``.  The fit uses those points.
3. **Too few points.** If fewer than ``min_points`` (3) points pass the overhead floor but the
   sweep's times do spread by R or more, the ``min_points`` largest sizes are used
   (``regime="top"``).  If the times spread by less than R over the whole sweep, the time
   hardly depends on the variable: every point is used (``regime="flat"``), which measures an
   exponent near 0 where 0 is the truth (an SGD step against the graph size) and a shallow
   one, flagged, where the sweep was too narrow.
4. **Fit.** Ordinary least squares of ``log t`` on ``log x`` over the chosen points; the
   slope is the measured exponent, with its standard error and R².

The predicted exponent of a cost formula (:func:`predicted_exponent`) is the same least-squares
slope of ``log cost(x)`` over the *same* chosen points, so a formula with several terms
(``E·F + N·F²``) is compared in the regime the sweep actually covered; for a single term it is
that term's power.

The verdict (:func:`verdict`) on a measured exponent against a predicted one is "agrees" within
:data:`AGREEMENT`; otherwise "disagrees" only where the data can support it.  A per-call
overhead only ever flattens a log-log slope, so a slope *shallower* than predicted from a fit
outside the ``"floor"`` regime (fewer than ``min_points`` points above the overhead floor) is
"inconclusive (overhead regime)"; a fit through 2 points has no error estimate ("inconclusive
(too few points)"), and a difference within twice the slope's standard error (plus the
tolerance) is "inconclusive (noisy fit)".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Fit", "fit_exponent", "loglog_slope", "predicted_exponent", "verdict", "AGREEMENT"]

#: |measured - predicted| within this counts as agreement.
AGREEMENT = 0.2


@dataclass
class Fit:
    """A fitted log-log slope.

    Attributes:
        slope: the measured exponent k in t ∝ x^k (nan when no fit was possible).
        stderr: its standard error (nan with 2 points).
        r2: coefficient of determination of the log-log fit.
        intercept: log t at log x = 0.
        used: indices (into the input arrays) of the points fitted.
        regime: ``"floor"`` (points above the overhead floor), ``"top"`` (the largest sizes),
            ``"flat"`` (all points: the time hardly grows) or ``"none"`` (fewer than 2 points).
        x0, x1: the smallest and largest size fitted.
    """

    slope: float
    stderr: float
    r2: float
    intercept: float
    used: list
    regime: str
    x0: float
    x1: float

    def to_dict(self) -> dict:
        return asdict(self)


def loglog_slope(x, t) -> tuple[float, float, float, float]:
    """``(slope, intercept, stderr, r2)`` of least squares ``log t = intercept + slope·log x``."""
    lx, lt = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(t, dtype=float))
    n = lx.size
    if n < 2 or np.ptp(lx) == 0:
        return math.nan, math.nan, math.nan, math.nan
    slope, intercept = np.polyfit(lx, lt, 1)
    resid = lt - (intercept + slope * lx)
    ss_res = float(resid @ resid)
    ss_tot = float(((lt - lt.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    sxx = float(((lx - lx.mean()) ** 2).sum())
    stderr = math.sqrt(ss_res / (n - 2) / sxx) if n > 2 else math.nan
    return float(slope), float(intercept), stderr, r2


def fit_exponent(x, t, *, overhead_ratio: float = 8.0, min_points: int = 3, noise_floor: float = 1e-6) -> Fit:
    """The measured exponent of times ``t`` at sizes ``x`` (the rule is in the module docstring).

    ``None`` or non-finite times (points that were skipped or failed) are ignored.
    """
    if overhead_ratio <= 1:
        raise ValueError(f"overhead_ratio must be > 1, got {overhead_ratio}")
    if min_points < 2:
        raise ValueError(f"min_points must be >= 2, got {min_points}")
    x = list(x)
    t = list(t)
    if len(x) != len(t):
        raise ValueError(f"x and t differ in length: {len(x)} != {len(t)}")
    valid = [i for i in range(len(x))
             if t[i] is not None and math.isfinite(t[i]) and t[i] > noise_floor and x[i] > 0]
    valid.sort(key=lambda i: x[i])
    if len(valid) < 2:
        return Fit(math.nan, math.nan, math.nan, math.nan, valid, "none", math.nan, math.nan)
    t_min = min(t[i] for i in valid)
    t_max = max(t[i] for i in valid)
    above = [i for i in valid if t[i] >= overhead_ratio * t_min]
    if len(above) >= min_points:
        used, regime = above, "floor"
    elif t_max < overhead_ratio * t_min:
        used, regime = valid, "flat"
    else:
        used, regime = valid[-min_points:], "top"
    slope, intercept, stderr, r2 = loglog_slope([x[i] for i in used], [t[i] for i in used])
    return Fit(slope, stderr, r2, intercept, used, regime, float(x[used[0]]), float(x[used[-1]]))


def predicted_exponent(cost, xs) -> float:
    """Least-squares log-log slope of the cost formula's values ``cost(x)`` at sizes ``xs``.

    For a single-term formula this is its power of x; for a sum of terms it is the effective
    exponent over the range the sweep covered.  With one size, the local slope around it.
    """
    xs = [float(x) for x in xs]
    if len(xs) == 1:
        x = xs[0]
        xs = [x / 1.1, x * 1.1]
    vals = [float(cost(x)) for x in xs]
    if min(vals) <= 0:
        raise ValueError("a cost formula must be positive on the swept sizes")
    return loglog_slope(xs, vals)[0]


def verdict(fit: Fit | dict, predicted: float, tolerance: float = AGREEMENT) -> str:
    """``"agrees"``, ``"disagrees"`` or ``"inconclusive (<why>)"`` for a measured exponent (the
    slope of ``fit``) against ``predicted``; the rule is in the module docstring."""
    f = fit if isinstance(fit, dict) else fit.to_dict()
    slope, stderr, regime, used = f["slope"], f["stderr"], f["regime"], f["used"]
    if not (math.isfinite(slope) and math.isfinite(predicted)):
        return "inconclusive (no fit)"
    diff = slope - predicted
    if abs(diff) <= tolerance:
        return "agrees"
    if diff < 0 and regime != "floor":
        return "inconclusive (overhead regime)"
    if len(used) < 3 or not math.isfinite(stderr):
        return "inconclusive (too few points)"
    if abs(diff) <= tolerance + 2 * stderr:
        return "inconclusive (noisy fit)"
    return "disagrees"
