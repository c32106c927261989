"""The streaming client and runner against the stub server (a test double with known timing)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.doubles.streaming_stub import MODEL, StubBehaviour, StubInThread
from vllm_workflow.benchmark.client import (
    TokenPromptBody,
    chunk_token,
    completion_body,
    event_data,
    scan_plain,
    split_events,
)
from vllm_workflow.benchmark.client import Target
from vllm_workflow.benchmark.runner import HttpTokenizer, Runner, preflight
from vllm_workflow.benchmark.stats import summarize
from vllm_workflow.benchmark.workloads import Workload
from vllm_workflow.errors import WorkflowError


def test_split_events_keeps_the_incomplete_tail() -> None:
    events, rest = split_events(b"data: 1\n\ndata: 2\n\ndata: 3")
    assert events == [b"data: 1", b"data: 2"] and rest == b"data: 3"
    events, rest = split_events(b"data: a\r\n\r\n: comment\r\n\r\n")
    assert events == [b"data: a", b": comment"] and rest == b""
    assert event_data(b": comment") is None
    assert event_data(b"data: [DONE]") == b"[DONE]"


def test_fast_scan_counts_tokens_and_reads_usage_without_parsing_each_event() -> None:
    tok = b'data: {"id":"x","choices":[{"index":0,"text":"say \\"role\\": \\"usage\\":{ \\"choices\\":[{"}]}\n\n'
    usage = b'data: {"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n'
    assert scan_plain(tok * 3 + usage + b"data: [DONE]\n\n") == (3, {"prompt_tokens": 7, "completion_tokens": 3})
    assert scan_plain(tok) == (1, None)
    assert scan_plain(b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n') is None
    assert scan_plain(b'data: {"error":{"message":"x"}}\n\n') is None
    assert scan_plain(b"data: [DONE]\n\n") is None


def test_pre_encoded_body_equals_the_json_body() -> None:
    make = TokenPromptBody("m", 7)
    assert json.loads(make([5, 6, 7])) == json.loads(completion_body("m", [5, 6, 7], 7))


def test_chunk_token_counts_empty_tokens_but_not_role_or_usage() -> None:
    assert chunk_token({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) is None
    assert chunk_token({"choices": [{"delta": {"content": ""}, "finish_reason": "stop"}]}) == ""
    assert chunk_token({"choices": [{"delta": {"content": "hi"}}]}) == "hi"
    assert chunk_token({"choices": [{"text": " x"}]}) == " x"
    assert chunk_token({"choices": [], "usage": {"completion_tokens": 3}}) is None


def run(url: str, workload: Workload) -> list:
    target = Target(url, MODEL)
    runner = Runner(target, workload, show_progress=False)
    runner.prepare(HttpTokenizer(target))
    return asyncio.run(runner.run()).records


@pytest.mark.slow
def test_measured_ttft_and_itl_match_the_stub() -> None:
    with StubInThread(StubBehaviour(ttft_s=0.050, itl_s=0.010)) as url:
        records = run(url, Workload(name="concurrent", users=2, duration_s=1.5, warmup_s=0.3,
                                    prompt_tokens=8, output_tokens=10))
    s = summarize(records)
    assert s["requests"]["failed"] == 0 and s["requests"]["ok"] >= 10
    # generous bounds for a loaded CI machine; bench/client_fidelity.py measures the real error
    assert 50 <= s["latency_ms"]["ttft"]["p50"] < 90
    assert 9.5 <= s["latency_ms"]["itl"]["p50"] < 25
    assert all(r.output_tokens == 10 and len(r.token_times) == 10 for r in records if r.ok)


@pytest.mark.slow
def test_failures_are_counted_and_the_run_completes() -> None:
    with StubInThread(StubBehaviour(ttft_s=0.005, itl_s=0.002, fail_every=5, drop_every=7)) as url:
        records = run(url, Workload(name="concurrent", users=3, duration_s=1.0, warmup_s=0,
                                    prompt_tokens=4, output_tokens=5))
    s = summarize(records)
    errors = s["requests"]["errors"]
    assert s["requests"]["failed"] == sum(errors.values()) > 0
    assert errors.get("HTTP 500", 0) > 0
    assert any(k in errors for k in ("connection", "bad stream", "no tokens streamed")), errors
    assert s["requests"]["ok"] > s["requests"]["failed"]


def test_request_timeout_is_a_counted_failure() -> None:
    with StubInThread(StubBehaviour(ttft_s=2.0)) as url:
        records = run(url, Workload(name="concurrent", users=1, duration_s=0.2, warmup_s=0, timeout_s=0.3,
                                    prompt_tokens=4, output_tokens=2))
    assert records and all(r.error and r.error.startswith("timeout") for r in records)


@pytest.mark.slow
def test_rate_sweep_stages() -> None:
    with StubInThread(StubBehaviour()) as url:
        target = Target(url, MODEL)
        runner = Runner(target, Workload(name="rate-sweep", rates=(20.0, 60.0), stage_s=1.0, warmup_s=0.5,
                                         prompt_tokens=4, output_tokens=3), show_progress=False)
        runner.prepare(HttpTokenizer(target))
        result = asyncio.run(runner.run())
    assert [s["name"] for s in result.stages] == ["20/s", "60/s"]
    by_stage = {name: sum(1 for r in result.records if r.stage == name) for name in ("20/s", "60/s")}
    assert 8 <= by_stage["20/s"] <= 35 and 35 <= by_stage["60/s"] <= 90, by_stage
    assert all(r.warmup for r in result.records if r.stage is None)
    assert len({r.session for r in result.records}) == len(result.records)


def test_dead_endpoint_fails_fast_with_the_url() -> None:
    start = time.monotonic()
    with pytest.raises(WorkflowError, match=r"http://127.0.0.1:9/v1/models does not answer.*vllm-status-simplified"):
        preflight(Target("http://127.0.0.1:9", MODEL))
    assert time.monotonic() - start < 10


def test_preflight_names_a_missing_model() -> None:
    with StubInThread() as url, pytest.raises(WorkflowError, match="not 'other'"):
        preflight(Target(url, "other"))


def test_requests_running_past_the_duration_are_cancelled_after_the_grace(monkeypatch) -> None:
    """An engine that never answers must not hold the run for the request timeout (300 s here)."""
    from vllm_workflow.benchmark import runner as runner_module

    monkeypatch.setattr(runner_module, "DRAIN_GRACE_S", 0.3)
    with StubInThread(StubBehaviour(ttft_s=600.0)) as url:
        target = Target(url, MODEL)
        r = Runner(target, Workload(name="concurrent", users=2, duration_s=0.3, warmup_s=0, timeout_s=300.0,
                                    prompt_tokens=4, output_tokens=2), show_progress=False)
        r.prepare(HttpTokenizer(target))
        result = asyncio.run(r.run())
    assert len(result.records) == 2 and r.overrun == 2
    assert all(rec.cancelled and rec.error == runner_module.OVERRUN and not rec.token_times for rec in result.records)
    assert "2 request(s) still running" in result.stop_reason and result.complete
    s = summarize(result.records)
    assert s["requests"]["cancelled"] == 2 and s["requests"]["measured"] == 0


def test_progress_rate_means_something_for_slow_requests() -> None:
    """Requests of 5 s each, one finishing every 2.5 s: a 2 s window would mostly read 0.0 req/s."""
    from vllm_workflow.benchmark.records import RequestRecord
    from vllm_workflow.benchmark.runner import Progress

    now = {"t": 0.0}
    records = []
    for i in range(12):  # ends at 5.0, 7.5, ..., 32.5 s
        rec = RequestRecord(index=i, send=2.5 * i)
        rec.end, rec.status, rec.token_times = 5.0 + 2.5 * i, 200, [5.0 + 2.5 * i]
        records.append(rec)
    progress = Progress("s", 60.0, records, lambda: now["t"])
    now["t"] = 34.0  # last completion 1.5 s ago, the one before 4 s ago
    rps, _, errors = progress.rates()
    assert errors == 0 and rps == pytest.approx(12 / 30.0)  # 12 completions in the last 30 s
    for rec in records:  # early in the run (20 s): later requests are still in flight
        if rec.end > 20.0:
            rec.end, rec.token_times = None, []
    now["t"] = 20.0
    assert progress.rates()[0] == pytest.approx(7 / 20.0)  # the window is the run so far


def test_counters_are_read_just_before_the_measured_window_opens() -> None:
    """The engines' counters that open the measured window are read WINDOW_LEAD_S before warm-up ends,
    not at the next 1 s sample: a fast measured request could otherwise finish before the read and
    be measured but not counted (engine requests_finished below the client's ok count)."""
    import aiohttp

    from vllm_workflow.benchmark import runner as rn

    w = Workload(name="concurrent", users=1, duration_s=0.1, warmup_s=0.4)
    runner = Runner(Target("http://127.0.0.1:9", "m"), w, engines=[("engine-0", "http://127.0.0.1:9/metrics")],
                    show_progress=False)
    read_at: list[float] = []

    async def read(http: object, url: str) -> dict[str, float]:
        read_at.append(runner.clock())
        return {"requests_finished": 7.0}

    runner._read = read  # type: ignore[method-assign]

    async def open_window() -> dict:
        before: dict = {}
        async with aiohttp.ClientSession() as http:
            await runner._window_start(http, before)
        return before

    assert asyncio.run(open_window()) == {"engine-0": {"requests_finished": 7.0}}
    assert w.warmup_s - rn.WINDOW_LEAD_S - 0.01 <= read_at[0] < w.warmup_s
