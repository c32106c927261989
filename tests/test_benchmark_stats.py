"""Metric maths on hand-made request records."""

from __future__ import annotations

import numpy as np
import pytest

from vllm_workflow.benchmark.records import RequestRecord
from vllm_workflow.benchmark.stats import Slo, distribution, per_second, percentile, summarize


def rec(i: int, send: float, ttft: float, itl: float, n: int, **kw) -> RequestRecord:
    times = [send + ttft + k * itl for k in range(n)]
    return RequestRecord(index=i, send=send, end=times[-1], token_times=times, status=200,
                         prompt_tokens=100, output_tokens=n, **kw)


@pytest.mark.parametrize("q", [0, 1, 37.5, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_distribution_is_in_milliseconds() -> None:
    d = distribution([0.010, 0.020, 0.030])
    assert d["n"] == 3
    assert d["mean"] == pytest.approx(20.0)
    assert d["p50"] == pytest.approx(20.0)
    assert d["max"] == pytest.approx(30.0)
    assert distribution([])["p99"] is None


def test_record_derived_latencies() -> None:
    r = rec(0, send=1.0, ttft=0.2, itl=0.05, n=5)
    assert r.ttft == pytest.approx(0.2)
    assert r.e2e == pytest.approx(0.4)
    assert r.itls == pytest.approx([0.05] * 4)
    assert r.tpot == pytest.approx(0.05)
    one = rec(1, send=0.0, ttft=0.1, itl=0.0, n=1)
    assert one.tpot is None


def test_summary_excludes_warmup_and_counts_failures() -> None:
    records = [rec(0, 0.0, 5.0, 1.0, 2, warmup=True)]  # huge warm-up latency must not show
    records += [rec(i, float(i), 0.1, 0.01, 11) for i in range(1, 9)]
    records.append(RequestRecord(index=9, send=9.0, end=9.5, status=500, error="HTTP 500: boom"))
    records.append(RequestRecord(index=10, send=9.2, end=9.3, status=None, error="connection: reset"))
    s = summarize(records)
    assert s["requests"] == {"sent": 11, "warmup": 1, "cancelled": 0, "measured": 10, "ok": 8, "failed": 2,
                             "error_rate": 0.2, "errors": {"HTTP 500": 1, "connection": 1}}
    assert s["latency_ms"]["ttft"]["p50"] == pytest.approx(100.0)
    assert s["latency_ms"]["ttft"]["max"] == pytest.approx(100.0)
    assert s["latency_ms"]["itl"]["n"] == 8 * 10
    assert s["latency_ms"]["tpot"]["mean"] == pytest.approx(10.0)
    # window: first measured send (1.0) to last end (9.5) = 8.5 s; 8 ok requests of 11 tokens
    assert s["window_s"] == pytest.approx(8.5)
    assert s["throughput"]["requests_per_s"] == pytest.approx(8 / 8.5)
    assert s["throughput"]["output_tokens_per_s"] == pytest.approx(88 / 8.5)
    assert s["tokens"] == {"input": 800, "output": 88}


def test_goodput_applies_every_slo() -> None:
    fast = [rec(i, float(i), 0.1, 0.01, 10) for i in range(6)]
    slow_first = [rec(10 + i, 6.0 + i, 3.0, 0.01, 10) for i in range(2)]
    slow_tokens = [rec(20 + i, 8.0 + i, 0.1, 0.5, 10) for i in range(2)]
    records = fast + slow_first + slow_tokens
    s = summarize(records, Slo(ttft_ms=1000, tpot_ms=100))
    assert s["goodput"]["fraction"] == pytest.approx(0.6)
    assert s["goodput"]["slo"] == {"ttft_ms": 1000, "tpot_ms": 100, "e2e_ms": None}
    assert summarize(records, Slo())["goodput"]["fraction"] == pytest.approx(1.0)
    assert summarize(records, Slo(e2e_ms=500))["goodput"]["fraction"] == pytest.approx(0.6)


def test_cancelled_requests_are_not_failures() -> None:
    records = [rec(0, 0.0, 0.1, 0.01, 5), RequestRecord(index=1, send=0.5, end=0.6, cancelled=True,
                                                           error="cancelled: the run was stopped")]
    s = summarize(records)
    assert s["requests"]["cancelled"] == 1
    assert s["requests"]["failed"] == 0
    assert s["requests"]["error_rate"] == 0.0


def test_throughput_over_time_buckets() -> None:
    records = [rec(i, 0.0 + i * 0.5, 0.1, 0.1, 3) for i in range(4)]  # ends at 0.3, 0.8, 1.3, 1.8
    buckets = per_second(records)
    assert [b["requests_per_s"] for b in buckets] == [2.0, 2.0]
    assert sum(b["tokens_per_s"] for b in buckets) == 12.0
