"""A/B statistics on synthetic samples with known shifts, and the verdict rules."""

from __future__ import annotations

import numpy as np
import pytest

from vllm_workflow.ab import stats
from vllm_workflow.ab.compare import BISECT_CODES, EXIT_CODES, METRICS, compare, look_levels, looks, schedule

DEFAULT_REPS = 6  # CONFIG_VLLM_AB_REPETITIONS default
RULE = stats.Rule()  # threshold 5 %, equivalence 10 %, alpha 0.05


def test_welch_matches_scipy_on_the_log_scale() -> None:
    from scipy.stats import ttest_ind

    a, b = [100.0, 104.0, 97.0], [120.0, 131.0, 118.0]
    res = stats.welch(a, b)
    ref = ttest_ind(np.log(b), np.log(a), equal_var=False)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-9)
    ratio = np.exp(np.mean(np.log(b)) - np.mean(np.log(a)))
    assert res.delta == pytest.approx(ratio - 1)
    lo, hi = ref.confidence_interval(0.95)
    assert res.ci == pytest.approx((np.expm1(lo), np.expm1(hi)))
    # on the raw scale (rates): a difference
    raw = stats.welch([0.2, 0.25, 0.22], [0.5, 0.55, 0.52], log=False)
    assert raw.delta == pytest.approx(0.3, abs=1e-9) and raw.ci[0] < 0.3 < raw.ci[1]
    with pytest.raises(ValueError):
        stats.welch([1.0], [2.0, 3.0])


def test_the_run_level_test_has_no_floor_on_its_p_value() -> None:
    """The issue's case: 3 runs per arm, TTFT 19.4 -> 81 ms. The old rank test could not go below
    p = 0.10 at three runs; Welch's t on the log values can."""
    base, dev = [19.0, 19.4, 20.1], [78.0, 81.0, 85.5]
    res = stats.welch(base, dev)
    assert res.p < 1e-4 and res.delta == pytest.approx(3.18, abs=0.05)
    assert res.ci[0] > 2.5


def test_the_per_run_measurement_error_is_a_floor_on_the_variance() -> None:
    same = [100.0, 100.0, 100.0]
    loose = stats.welch(same, [103.0, 103.0, 103.0])  # runs that agree exactly: zero spread
    assert loose.p == 0.0
    floored = stats.welch(same, [103.0, 103.0, 103.0], floor=(0.05 ** 2, 0.05 ** 2))
    assert floored.p > 0.3 and floored.floored == (True, True)
    assert floored.sd == pytest.approx((0.05, 0.05))


def test_minimum_detectable_effect_and_repetitions() -> None:
    assert stats.mde(0.05, 1) == float("inf")
    six, three = stats.mde(0.05, 6), stats.mde(0.05, 3)
    assert 0.08 < six < 0.10 and three > six  # about 2.6 to 2.7 times the noise at 6 runs
    assert stats.mde(0.05, 6, family=4) > six  # a larger family needs more
    assert stats.repetitions_for(six, 0.05) == 6
    assert stats.repetitions_for(0.001, 0.5, most=50) is None
    assert stats.mde(0.02, 6, log=False) == pytest.approx(np.log1p(stats.mde(0.02, 6)))


def test_alpha_spending() -> None:
    assert stats.spent(1.0) == 0.05 and stats.spent(0.0) == 0.0
    assert stats.spent(0.5) == pytest.approx(0.0056, abs=2e-4)  # O'Brien-Fleming: little spent early
    levels = look_levels([3, 6], 0.05)
    assert sum(levels) == pytest.approx(0.05) and levels[0] < 0.006 < levels[1]
    assert looks(6, True) == [3, 6] and looks(6, False) == [6] and looks(2, True) == [2]
    assert looks(4, True) == [4] and looks(5, True) == [3, 5]  # never a look at two runs per arm


def test_holm_adjustment() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5]) == [0.5]


def test_change_bootstrap_and_effect_size() -> None:
    assert stats.change([100, 100], [110, 110]) == pytest.approx(0.10)
    assert stats.change([0.2], [0.5], absolute=True) == pytest.approx(0.3)
    lo, hi = stats.bootstrap_ci([100, 101, 99, 100], [110, 111, 109, 110])
    assert 0.07 < lo < 0.10 < hi < 0.13
    assert stats.cliffs_delta([1, 2], [3, 4]) == 1.0 and stats.cliffs_delta([3, 4], [1, 2]) == -1.0


def test_verdict_rules() -> None:
    assert stats.verdict(0.2, (0.1, 0.3), 0.002, RULE, (6, 6)) == stats.IMPROVEMENT
    assert stats.verdict(-0.2, (-0.3, -0.1), 0.002, RULE, (6, 6)) == stats.REGRESSION
    assert stats.verdict(0.02, (0.01, 0.03), 0.002, RULE, (6, 6)) == stats.NO_CHANGE  # real but below threshold
    assert stats.verdict(0.01, (-0.04, 0.05), 0.5, RULE, (6, 6)) == stats.NO_CHANGE
    assert stats.verdict(0.05, (-0.2, 0.3), 0.3, RULE, (6, 6)) == stats.INCONCLUSIVE  # too noisy to tell
    assert stats.verdict(0.5, (0.4, 0.6), 0.001, RULE, (1, 6)) == stats.INCONCLUSIVE  # too few runs
    assert stats.overall([stats.NO_CHANGE, stats.IMPROVEMENT, stats.REGRESSION]) == stats.REGRESSION
    assert stats.overall([stats.NO_CHANGE, stats.IMPROVEMENT, stats.INCONCLUSIVE]) == stats.IMPROVEMENT
    assert stats.overall([stats.NO_CHANGE, stats.INCONCLUSIVE]) == stats.INCONCLUSIVE
    assert stats.overall([stats.NO_CHANGE]) == stats.NO_CHANGE


def summary(ttft: float, rps: float, hit: float | None = None, err: float = 0.0) -> dict:
    return {"latency_ms": {"ttft": {"p50": ttft}}, "throughput": {"requests_per_s": rps},
            "requests": {"error_rate": err},
            "engine_metrics": {"total": {"prefix_cache_hit_rate": hit}} if hit is not None else {}}


def trial(rng: np.random.Generator, shift: float, cv: float = 0.03) -> dict:
    base = [summary(t, r) for t, r in zip(rng.normal(100, 100 * cv, DEFAULT_REPS), rng.normal(20, 20 * cv, DEFAULT_REPS))]
    dev = [summary(t, r) for t, r in zip(rng.normal(100 * (1 + shift), 100 * cv, DEFAULT_REPS),
                                          rng.normal(20, 20 * cv, DEFAULT_REPS))]
    return compare(base, dev, RULE, seed=int(rng.integers(1 << 30)))


def test_detects_a_ten_percent_shift_with_the_default_repetitions() -> None:
    rng = np.random.default_rng(2026)
    results = [trial(rng, shift=0.10) for _ in range(100)]
    ttft = [next(m for m in r["metrics"] if m["metric"] == "ttft_p50") for r in results]
    detected = sum(m["verdict"] == stats.REGRESSION for m in ttft)
    assert detected >= 95, f"10 % TTFT increase found in only {detected}/100 trials"
    assert sum(r["verdict"] == stats.REGRESSION for r in results) >= 95
    assert all(m["delta"] == pytest.approx(0.10, abs=0.05) for m in ttft)


def test_identical_distributions_are_not_flagged() -> None:
    rng = np.random.default_rng(7)
    results = [trial(rng, shift=0.0) for _ in range(200)]
    quiet = sum(r["verdict"] == stats.NO_CHANGE for r in results)
    alarms = sum(r["verdict"] in (stats.REGRESSION, stats.IMPROVEMENT) for r in results)
    assert quiet >= 190, f"A/A said 'no significant change' in only {quiet}/200 trials"
    assert alarms <= 5


def test_direction_matters() -> None:
    base = [summary(100 + i, 20 + i * 0.1, hit=0.2) for i in range(6)]
    faster = [summary(50 + i, 30 + i * 0.1, hit=0.8) for i in range(6)]
    out = {m["metric"]: m for m in compare(base, faster, RULE)["metrics"]}
    assert out["ttft_p50"]["verdict"] == stats.IMPROVEMENT and out["ttft_p50"]["effect_size"] == 1.0
    assert out["requests_per_s"]["verdict"] == stats.IMPROVEMENT
    assert out["prefix_cache_hit_rate"]["verdict"] == stats.IMPROVEMENT
    assert out["prefix_cache_hit_rate"]["delta"] == pytest.approx(0.6)  # percentage points, not a ratio
    assert compare(faster, base, RULE)["verdict"] == stats.REGRESSION


def test_metrics_missing_in_both_arms_do_not_count() -> None:
    base = [summary(100 + i % 2, 20) for i in range(6)]
    out = compare(base, base, RULE)
    assert out["verdict"] == stats.NO_CHANGE
    itl = next(m for m in out["metrics"] if m["metric"] == "itl_p50")
    assert itl["n"] == [0, 0] and itl["verdict"] == stats.INCONCLUSIVE
    assert {m.key for m in METRICS} >= {"ttft_p50", "e2e_p95", "error_rate", "prefix_cache_hit_rate"}


def test_schedule_is_interleaved_and_counterbalanced() -> None:
    assert schedule(4) == ["baseline", "dev", "dev", "baseline", "baseline", "dev", "dev", "baseline"]
    order = schedule(6)
    assert order.count("baseline") == order.count("dev") == 6
    # each arm's mean position is the same: no arm systematically runs later
    assert sum(i for i, a in enumerate(order) if a == "baseline") == sum(i for i, a in enumerate(order) if a == "dev")


def test_exit_codes() -> None:
    assert EXIT_CODES == {stats.IMPROVEMENT: 0, stats.NO_CHANGE: 0, stats.REGRESSION: 1, stats.INCONCLUSIVE: 2}
    assert BISECT_CODES[stats.REGRESSION] == 1 and BISECT_CODES[stats.INCONCLUSIVE] == 125
    assert BISECT_CODES[stats.NO_CHANGE] == 0
