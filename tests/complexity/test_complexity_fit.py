"""complexity/fit.py: slope fitting on synthetic timings with known exponents, predicted exponents of
cost formulas, and the verdicts (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastgnn.complexity import fit_exponent, loglog_slope, predicted_exponent, verdict


def _sizes(lo=2**6, steps=8, factor=2.0):
    return [lo * factor**i for i in range(steps)]


# --------------------------------------------------------------------------- fitting


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0, 4.0])
def test_pure_power_law_is_recovered_exactly(k):
    x = _sizes()
    t = [1e-6 * v**k for v in x]
    fit = fit_exponent(x, t)
    assert fit.slope == pytest.approx(k, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("seed", range(5))
def test_noisy_power_law_within_tolerance(k, seed):
    """10% multiplicative (log-normal) noise on 8 points over a 128x range: within ±0.1."""
    rng = np.random.default_rng(seed)
    x = _sizes()
    t = [1e-7 * v**k * math.exp(rng.normal(0, 0.1)) for v in x]
    fit = fit_exponent(x, t)
    assert abs(fit.slope - k) < 0.1, fit
    assert fit.stderr > 0


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_constant_overhead_regime_is_excluded(k):
    """t = c + a x^k with the overhead dominating the first points: a naive fit over all points
    is far too shallow; the floor rule keeps the points where c is < 1/8 of t."""
    x = _sizes(lo=2**4, steps=10)
    c = 1e-3
    a = c / x[3] ** k  # the work equals the overhead at the 4th size
    t = [c + a * v**k for v in x]
    naive = loglog_slope(x, t)[0]
    fit = fit_exponent(x, t)
    assert naive < k - 0.3  # the overhead really does bias a naive fit
    assert fit.regime == "floor"
    assert min(t[i] for i in fit.used) >= 8 * min(t)
    assert abs(fit.slope - k) < 0.15, fit
    # the fitted points are the largest sizes, contiguous
    assert fit.used == list(range(len(x) - len(fit.used), len(x)))


def test_overhead_and_noise_together():
    rng = np.random.default_rng(0)
    x = _sizes(lo=2**4, steps=10)
    t = [2e-4 + 1e-9 * v**2 * math.exp(rng.normal(0, 0.08)) for v in x]
    fit = fit_exponent(x, t)
    assert abs(fit.slope - 2.0) < 0.2, fit  # within the agreement tolerance


def test_flat_sweep_measures_zero():
    """Time independent of the variable (an SGD step vs N): every point is used, slope ~ 0."""
    rng = np.random.default_rng(1)
    x = _sizes()
    t = [3e-3 * math.exp(rng.normal(0, 0.05)) for _ in x]
    fit = fit_exponent(x, t)
    assert fit.regime == "flat"
    assert len(fit.used) == len(x)
    assert abs(fit.slope) < 0.1


def test_too_few_points_above_floor_uses_the_largest_sizes():
    x = [1, 2, 4, 8, 16]
    t = [1.0, 1.0, 1.0, 1.1, 9.0]  # only the last point is above 8x the minimum
    fit = fit_exponent(x, t, min_points=3)
    assert fit.regime == "top"
    assert fit.used == [2, 3, 4]


def test_noise_floor_missing_and_unsorted_points():
    x = [64, 8, 32, 16, 4, 128]
    t = [64**2, 8**2, None, 16**2, 1e-9, float("nan")]  # 4: below the noise floor; None, nan: missing
    t = [v * 1e-6 if isinstance(v, int) else v for v in t]
    fit = fit_exponent(x, t)
    assert sorted(x[i] for i in fit.used) == [8, 16, 64]
    assert fit.slope == pytest.approx(2.0)
    none = fit_exponent([1], [1.0])
    assert none.regime == "none" and math.isnan(none.slope)


def test_fit_argument_errors():
    with pytest.raises(ValueError, match="overhead_ratio"):
        fit_exponent([1, 2], [1, 2], overhead_ratio=1)
    with pytest.raises(ValueError, match="min_points"):
        fit_exponent([1, 2], [1, 2], min_points=1)
    with pytest.raises(ValueError, match="length"):
        fit_exponent([1, 2, 3], [1, 2])


def test_predicted_exponent_of_a_sum_follows_the_regime():
    # E·F + N·F² with E = N·d: F << d -> ~1 in F, F >> d -> ~2
    n, d = 1000, 256

    def cost(f):
        return n * d * f + n * f**2

    assert predicted_exponent(cost, [1, 2, 4]) == pytest.approx(1.0, abs=0.05)
    assert predicted_exponent(cost, [4096, 8192, 16384]) == pytest.approx(2.0, abs=0.05)
    assert predicted_exponent(lambda x: x**3, [10]) == pytest.approx(3.0)
    assert predicted_exponent(lambda x: 1.0, [1, 10, 100]) == pytest.approx(0.0)


# --------------------------------------------------------------------------- verdicts (issue 14)


def test_overhead_regime_is_inconclusive_not_a_disagreement():
    """Sizes where a fixed overhead dominates (as --quick's are): the slope is shallower than the
    work's, and the verdict says the data cannot decide rather than "disagrees"."""
    x = [2**7, 2**8, 2**9]
    c = 1e-3
    t = [c + c / (2**10) ** 2 * v**2 for v in x]  # work below the overhead at every size
    fit = fit_exponent(x, t)
    assert fit.regime != "floor" and fit.slope < 1.5
    assert verdict(fit, 2.0) == "inconclusive (overhead regime)"
    # the same law over sizes reaching past the overhead floor: the fit recovers k and agrees
    x = _sizes(lo=2**7, steps=10)
    fit = fit_exponent(x, [c + c / (2**10) ** 2 * v**2 for v in x])
    assert fit.regime == "floor" and verdict(fit, 2.0) == "agrees"
    # a real disagreement above the floor stays one: the law is x^1, the prediction 2
    t = [c + c / 2**10 * v for v in _sizes(lo=2**10, steps=10)]
    fit = fit_exponent(_sizes(lo=2**10, steps=10), t)
    assert fit.regime == "floor" and verdict(fit, 2.0) == "disagrees"


def test_steeper_than_predicted_is_not_excused_by_overhead():
    fit = {"slope": 3.0, "stderr": 0.05, "regime": "top", "used": [2, 3, 4]}
    assert verdict(fit, 1.0) == "disagrees"  # overhead can only flatten a slope
    assert verdict({**fit, "stderr": 1.0}, 1.0) == "inconclusive (noisy fit)"
    assert verdict({**fit, "used": [3, 4], "stderr": math.nan}, 1.0) == "inconclusive (too few points)"
    assert verdict({**fit, "slope": 1.1}, 1.0) == "agrees"
