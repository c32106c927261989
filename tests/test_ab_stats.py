"""A/B statistics on synthetic samples with known shifts, and the verdict rules."""

from __future__ import annotations

import numpy as np
import pytest

from vllm_workflow.ab import stats
from vllm_workflow.ab.compare import BISECT_CODES, EXIT_CODES, METRICS, compare, schedule

DEFAULT_REPS = 6  # CONFIG_VLLM_AB_REPETITIONS default
RULE = stats.Rule()  # threshold 5 %, equivalence 10 %, alpha 0.05


def test_mann_whitney_exact_matches_known_values() -> None:
    # complete separation of 6 vs 6: p = 2 / C(12, 6) = 2 / 924
    u, p = stats.mann_whitney_u([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
    assert u == 0 and p == pytest.approx(2 / 924)
    u, p = stats.mann_whitney_u([1, 3, 5], [2, 4, 6])
    assert u == 3 and p == pytest.approx(0.7, abs=1e-9)  # scipy: 0.7
    _, p = stats.mann_whitney_u([1.0] * 5, [1.0] * 5)
    assert p == 1.0


def test_mann_whitney_normal_approximation_with_ties() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 40).tolist()
    b = (rng.integers(0, 5, 40) + 2).tolist()
    _, p = stats.mann_whitney_u(a, b)
    assert p < 1e-4


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
