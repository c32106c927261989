"""Statistics of a two-arm comparison. Pure functions over numbers: NumPy for resampling, SciPy
for the t distribution.

The test (docs/ab-testing.md, "Statistics"): each repetition gives one value per metric (its
p50, its throughput); the arms are compared with Welch's t-test on the logarithms of those run
values (a ratio of geometric means, ``delta = dev / baseline - 1``; for metrics that are already
fractions, such as error and cache-hit rates, on the values themselves, a difference). That is
the summary-statistics estimator of a two-level model (runs, then requests within runs), so
run-to-run variation is the error term and the verdict does not pretend the requests of one run
are independent evidence. The requests enter through a floor: an arm's run-to-run variance is
never taken below the measurement error of one run's value (each run's requests resampled), so
three runs that agree by chance do not make a tiny interval.

Also: Holm's adjustment, the minimum detectable effect of a design, the repetitions a target
effect needs, and Lan-DeMets (O'Brien-Fleming type) alpha spending for sequential looks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IMPROVEMENT = "improvement"
REGRESSION = "regression"
NO_CHANGE = "no significant change"
INCONCLUSIVE = "inconclusive"
#: A host figure that moved: neither better nor worse in itself (fewer involuntary context switches
#: can mean an engine throttled more), so it is named by its direction.
HIGHER = "higher"
LOWER = "lower"


def change(baseline: Sequence[float], dev: Sequence[float], absolute: bool = False) -> float:
    """dev vs baseline: relative change of the means, or their difference when ``absolute``."""
    a, b = float(np.mean(baseline)), float(np.mean(dev))
    if absolute:
        return b - a
    if a == 0:
        return 0.0 if b == 0 else math.copysign(math.inf, b)
    return b / a - 1


def bootstrap_ci(baseline: Sequence[float], dev: Sequence[float], absolute: bool = False,
                 statistic: str = "mean", samples: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the change, resampling each arm independently.

    ``statistic`` is "mean" (over repetitions) or "median" (over pooled requests).
    """
    rng = np.random.default_rng(seed)
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(dev, dtype=float)
    ia = rng.integers(0, len(a), size=(samples, len(a)))
    ib = rng.integers(0, len(b), size=(samples, len(b)))
    reduce = np.mean if statistic == "mean" else np.median
    sa = reduce(a[ia], axis=1)
    sb = reduce(b[ib], axis=1)
    if absolute:
        d = sb - sa
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(sa == 0, np.where(sb == 0, 0.0, np.inf), sb / sa - 1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(d, [tail, 100 - tail])
    return float(lo), float(hi)


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """P(b > a) - P(b < a): +1 when every dev value exceeds every baseline value."""
    x = np.asarray(a, float)[:, None]
    y = np.asarray(b, float)[None, :]
    return float((np.sign(y - x)).mean()) if x.size and y.size else 0.0


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over all metrics compared)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class TestResult:
    """Welch's t-test on run-level values (log scale for relative metrics)."""

    delta: float  # dev vs baseline: ratio of geometric means - 1, or a difference
    ci: tuple[float, float]  # on the same scale as delta
    p: float  # two-sided
    df: float
    se: float  # standard error of the difference on the analysis scale (log or raw)
    sd: tuple[float, float]  # each arm's run-to-run standard deviation used (after the floor)
    floored: tuple[bool, bool]  # whether each arm's variance was raised to its per-run measurement error


def _scale(values: Sequence[float], log: bool) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return np.log(x) if log else x


def loggable(values: Sequence[float]) -> bool:
    return bool(len(values)) and all(v > 0 for v in values)


def welch(baseline: Sequence[float], dev: Sequence[float], log: bool = True,
          floor: tuple[float, float] = (0.0, 0.0), level: float = 0.95) -> TestResult:
    """Welch's t-test of dev vs baseline on run values; ``floor``: each arm's smallest credible
    variance of one run's value (on the analysis scale), from its requests. Needs two runs per arm."""
    xa, xb = _scale(baseline, log), _scale(dev, log)
    na, nb = len(xa), len(xb)
    if na < 2 or nb < 2:
        raise ValueError("Welch's test needs two runs per arm")
    sa2, sb2 = float(np.var(xa, ddof=1)), float(np.var(xb, ddof=1))
    va, vb = max(sa2, floor[0]), max(sb2, floor[1])
    d = float(xb.mean() - xa.mean())
    wa, wb = va / na, vb / nb
    se = math.sqrt(wa + wb)
    df = (wa + wb) ** 2 / (wa ** 2 / (na - 1) + wb ** 2 / (nb - 1)) if se > 0 else float(na + nb - 2)
    d, lo, hi, p = t_interval(d, se, df, level, log)
    return TestResult(d, (lo, hi), p, df, se, (math.sqrt(va), math.sqrt(vb)), (va > sa2, vb > sb2))


def t_interval(d: float, se: float, df: float, level: float = 0.95, log: bool = True
               ) -> tuple[float, float, float, float]:
    """A difference ``d`` on the analysis scale with standard error ``se``: (change, CI low, CI high,
    two-sided p) from Student's t with ``df``; back on the ratio scale (``expm1``) when ``log``."""
    from scipy.special import stdtr, stdtrit

    if se == 0:
        p, lo, hi = (1.0 if d == 0 else 0.0), d, d
    else:
        p = float(min(1.0, 2 * stdtr(df, -abs(d) / se)))
        half = float(stdtrit(df, (1 + level) / 2)) * se
        lo, hi = d - half, d + half
    if log:
        d, lo, hi = math.expm1(d), math.expm1(lo), math.expm1(hi)
    return d, lo, hi, p


def run_value_variance(values: np.ndarray, q: float, log: bool, rng: np.random.Generator,
                       samples: int = 200) -> float:
    """Variance of one run's q-th percentile (log scale when ``log``) from resampling its requests:
    the measurement error of that run's value."""
    if len(values) < 2:
        return 0.0
    qs = np.percentile(values[rng.integers(0, len(values), size=(samples, len(values)))], q, axis=1)
    if log:
        if np.any(qs <= 0):
            return 0.0
        qs = np.log(qs)
    return float(np.var(qs, ddof=1))


def mde(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, family: int = 1, log: bool = True) -> float:
    """Smallest change the run-level test finds with ``power`` at ``n`` runs per arm, for a run-to-run
    standard deviation ``sd`` on the analysis scale, testing at alpha / family (Holm's first step).
    Relative (an increase) when ``log``, else a difference."""
    from scipy.special import stdtrit

    if n < 2:
        return math.inf
    df = 2 * n - 2
    k = float(stdtrit(df, 1 - alpha / (2 * family)) + stdtrit(df, power))
    delta = k * sd * math.sqrt(2 / n)
    return math.expm1(delta) if log else delta


def repetitions_for(target: float, sd: float, alpha: float = 0.05, power: float = 0.8, family: int = 1,
                    log: bool = True, most: int = 1000) -> int | None:
    """Fewest runs per arm whose minimum detectable effect is at most ``target`` (None above ``most``)."""
    if sd <= 0:
        return 2
    for n in range(2, most + 1):
        if mde(sd, n, alpha, power, family, log) <= target:
            return n
    return None


def spent(fraction: float, alpha: float = 0.05) -> float:
    """Lan-DeMets alpha spending of O'Brien-Fleming type: alpha spent by information ``fraction``."""
    from scipy.special import ndtr, ndtri

    if fraction <= 0:
        return 0.0
    if fraction >= 1:
        return alpha
    return float(2 * (1 - ndtr(ndtri(1 - alpha / 2) / math.sqrt(fraction))))


@dataclass(frozen=True)
class Rule:
    """How a verdict is reached. Changes are oriented so that positive means better."""

    threshold: float = 0.05  # a change smaller than this is not reported as one
    equivalence: float = 0.10  # a non-significant CI must lie within ±this to say "no change"
    alpha: float = 0.05


def verdict(better: float, ci_better: tuple[float, float], p: float, rule: Rule, n: tuple[int, int],
            alpha: float | None = None) -> str:
    """Improvement / regression / no significant change / inconclusive for one metric.

    ``better`` and ``ci_better`` are the change oriented so that positive is an improvement.
    """
    if min(n) < 2 or any(math.isnan(v) for v in (better, *ci_better)):
        return INCONCLUSIVE
    lo, hi = ci_better
    significant = p < (rule.alpha if alpha is None else alpha) and (lo > 0 or hi < 0)
    if significant:
        if abs(better) < rule.threshold:
            return NO_CHANGE
        return IMPROVEMENT if better > 0 else REGRESSION
    if -rule.equivalence <= lo and hi <= rule.equivalence:
        return NO_CHANGE
    return INCONCLUSIVE


def overall(verdicts: Sequence[str]) -> str:
    """Any regression wins; then any improvement; then inconclusive; else no change."""
    for v in (REGRESSION, IMPROVEMENT, INCONCLUSIVE):
        if v in verdicts:
            return v
    return NO_CHANGE
