"""Statistics of a history: one new run against the runs before it, and where a series stepped.
Pure functions over numbers (docs/benchmarking.md, "History").

**One run against N.** A rank test of one value against ten cannot go below p = 2/11, so it could
never decide. The A/B's model is used instead, with the history as the baseline arm: run values on
the log scale; the history's run-to-run spread ``s`` (N - 1 degrees of freedom) is the variance a
new run of the same setup would have, never taken below each run's own measurement error (its
per-request interval). The newest run's distance from the history's mean is a prediction-interval t
statistic, ``t = (y - mean) / sqrt(v_new + v_hist / N)`` with ``v_new = max(s², own error)`` and
``v_hist = max(s², mean error)``, df = N - 1. Holm over the four primary metrics, then the A/B's
rule: a significant change smaller than the threshold is "no significant change"; a regression
needs p below alpha after Holm and a change of at least the threshold.

**Change points.** Binary segmentation: in a series of run values (log scale), the split that best
separates a before and an after by a pooled two-sample t statistic; kept when its p-value times the
number of candidate splits (Bonferroni) is below alpha and the step is at least the threshold; then
each side is searched again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..ab import stats as ab_stats

MIN_HISTORY = 3  # runs before the newest: fewer give too few degrees of freedom to decide
EXIT_WITHIN, EXIT_REGRESSION, EXIT_TOO_FEW = 0, 1, 2
BISECT_CODES = {ab_stats.IMPROVEMENT: 0, ab_stats.NO_CHANGE: 0, ab_stats.INCONCLUSIVE: 125,
                ab_stats.REGRESSION: 1}


@dataclass(frozen=True)
class Shift:
    """The newest run's value against its history, for one metric."""

    delta: float  # newest / history's geometric mean - 1 (or a difference for fractions)
    ci: tuple[float, float]  # prediction-based interval of delta
    p: float
    df: float
    sd: float  # the run-to-run standard deviation used (log scale), after the floor
    floored: bool


def shift(history: Sequence[float], newest: float, errors: Sequence[float] = (), newest_error: float = 0.0,
          log: bool = True, level: float = 0.95) -> Shift:
    """The newest value against N earlier ones (N >= 2). ``errors``: each history run's measurement
    variance on the analysis scale; ``newest_error``: the newest run's."""

    x = np.log(np.asarray(history, float)) if log else np.asarray(history, float)
    y = math.log(newest) if log else float(newest)
    n = len(x)
    if n < 2:
        raise ValueError("a history needs two runs")
    s2 = float(np.var(x, ddof=1))
    floor = float(np.mean(errors)) if len(errors) else 0.0
    v_hist, v_new = max(s2, floor), max(s2, newest_error)
    se = math.sqrt(v_new + v_hist / n)
    d = y - float(x.mean())
    df = float(n - 1)
    d, lo, hi, p = ab_stats.t_interval(d, se, df, level, log)
    return Shift(d, (lo, hi), p, df, math.sqrt(max(v_hist, v_new)), max(v_hist, v_new) > s2)


def detectable(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, family: int = 4,
               log: bool = True) -> float:
    """Smallest step of the newest run that the check finds with ``power``, against ``n`` earlier
    runs of run-to-run standard deviation ``sd`` (log scale), at alpha / family (Holm's first step)."""
    from scipy.special import stdtrit

    if n < 2:
        return math.inf
    df = n - 1
    k = float(stdtrit(df, 1 - alpha / (2 * family)) + stdtrit(df, power))
    delta = k * sd * math.sqrt(1 + 1 / n)
    return math.expm1(delta) if log else delta


@dataclass(frozen=True)
class Step:
    """A change point: the series stepped between run ``at - 1`` and run ``at``."""

    at: int  # index of the first run after the step
    before: float  # geometric mean (or mean) before, within the segment searched
    after: float
    delta: float  # after / before - 1 (or a difference)
    p: float  # Bonferroni-adjusted over the candidate splits


def _split(x: np.ndarray) -> tuple[int, float, float] | None:
    """Best split of ``x`` by the pooled two-sample t statistic: (index, t, df)."""
    n = len(x)
    if n < 3:
        return None
    x = x - x.mean()  # centred: the sums of squares below keep their precision
    csum, csq = np.cumsum(x)[:-1], np.cumsum(x * x)[:-1]
    total, total_sq = float(x.sum()), float((x * x).sum())
    n1 = np.arange(1, n, dtype=float)
    n2 = n - n1
    m1, m2 = csum / n1, (total - csum) / n2
    ss = (csq - n1 * m1 * m1) + ((total_sq - csq) - n2 * m2 * m2)
    se = np.sqrt(np.maximum(ss / (n - 2), 0.0) * (1 / n1 + 1 / n2))
    diff = np.abs(m2 - m1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 1e-12, diff / se, np.where(diff > 1e-12, np.inf, 0.0))
    k = int(np.argmax(t))
    return k + 1, float(t[k]), float(n - 2)


def change_points(values: Sequence[float], log: bool = True, alpha: float = 0.05, threshold: float = 0.05,
                  min_size: int = 1) -> list[Step]:
    """Where a series of run values stepped (binary segmentation), in series order."""
    from scipy.special import stdtr

    x = np.log(np.asarray(values, float)) if log else np.asarray(values, float)
    steps: list[Step] = []

    def search(lo: int, hi: int) -> None:
        seg = x[lo:hi]
        found = _split(seg)
        if found is None:
            return
        k, t, df = found
        if k < min_size or len(seg) - k < min_size:
            return
        p = 1.0 if t == 0 else (0.0 if math.isinf(t) else float(2 * stdtr(df, -t)))
        p_adj = min(1.0, p * (len(seg) - 1))
        before, after = float(seg[:k].mean()), float(seg[k:].mean())
        delta = math.expm1(after - before) if log else after - before
        if p_adj >= alpha or abs(delta) < threshold:
            return
        steps.append(Step(lo + k, math.exp(before) if log else before, math.exp(after) if log else after,
                          delta, p_adj))
        search(lo, lo + k)
        search(lo + k, hi)

    search(0, len(x))
    return sorted(steps, key=lambda s: s.at)
