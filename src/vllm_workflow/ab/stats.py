"""Statistics of a two-arm comparison. Pure functions over numbers: NumPy for resampling, SciPy
for the rank test.

Relative change ``delta = dev / baseline - 1`` (absolute difference for metrics
that are already fractions, such as error rate and cache-hit rate), a
percentile-bootstrap confidence interval of that change (of a ratio of two
independently resampled arms, which scipy.stats.bootstrap does not offer), a
two-sided Mann-Whitney U p-value (SciPy), Cliff's delta as the effect size,
and Holm's adjustment over the metrics compared.
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


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """U statistic of ``a`` and the two-sided p-value: SciPy's Mann-Whitney U (exact for small
    samples without ties, normal approximation with tie and continuity correction otherwise)."""
    from scipy.stats import mannwhitneyu

    if len(a) == 0 or len(b) == 0:
        return 0.0, 1.0
    x, y = np.asarray(a, float), np.asarray(b, float)
    if np.unique(np.concatenate([x, y])).size == 1:  # every value equal: no evidence of a change
        return float(len(x) * len(y) / 2), 1.0
    result = mannwhitneyu(x, y, alternative="two-sided", method="auto")
    return float(result.statistic), float(min(1.0, result.pvalue))


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
class Rule:
    """How a verdict is reached. Changes are oriented so that positive means better."""

    threshold: float = 0.05  # a change smaller than this is not reported as one
    equivalence: float = 0.10  # a non-significant CI must lie within ±this to say "no change"
    alpha: float = 0.05


def verdict(better: float, ci_better: tuple[float, float], p: float, rule: Rule, n: tuple[int, int]) -> str:
    """Improvement / regression / no significant change / inconclusive for one metric.

    ``better`` and ``ci_better`` are the change oriented so that positive is an improvement.
    """
    if min(n) < 2 or any(math.isnan(v) for v in (better, *ci_better)):
        return INCONCLUSIVE
    lo, hi = ci_better
    significant = p < rule.alpha and (lo > 0 or hi < 0)
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
