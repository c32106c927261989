"""A load spread over several models (issue 27): the mix setting, the runner's draws, figures per
model, the A/B per model, and the fault test's isolation variant (one model's engines all killed)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.doubles.streaming_stub import MODEL, StubBehaviour, StubInThread
from vllm_workflow import validate
from vllm_workflow.benchmark.client import Target
from vllm_workflow.benchmark.records import RequestRecord
from vllm_workflow.benchmark.runner import HttpTokenizer, Runner
from vllm_workflow.benchmark.stats import Slo
from vllm_workflow.benchmark.summary import model_summaries
from vllm_workflow.benchmark.workloads import Workload, from_vars, parse_mix
from vllm_workflow.errors import WorkflowError
from vllm_workflow.fault import analysis
from vllm_workflow.fault.driver import plan_from_vars

SERVED = ("tiny-llama", "small-llama")


def test_the_mix_reads_weights_names_and_all() -> None:
    assert parse_mix("tiny-llama=3, small-llama=1", SERVED) == (("tiny-llama", 3.0), ("small-llama", 1.0))
    assert parse_mix("all", SERVED) == (("tiny-llama", 1.0), ("small-llama", 1.0))
    assert parse_mix("small-llama", SERVED) == (("small-llama", 1.0),)
    assert parse_mix("", SERVED) == ()
    assert parse_mix("org/model:v1=0.5", ("org/model:v1", "b")) == (("org/model:v1", 0.5),)


@pytest.mark.parametrize(("text", "words"), [
    ("huge-llama=1", "'huge-llama' is not a served model (tiny-llama, small-llama). Fix: name served models"),
    ("tiny-llama=1,tiny-llama=2", "'tiny-llama' appears twice. Fix: name each model once"),
    ("tiny-llama=0", "'tiny-llama' has weight 0. Fix: give every model a weight > 0"),
    ("tiny-llama=x", "CONFIG_VLLM_BENCHMARK_MODEL_MIX='x' is not a number"),
    (" , ", "names no model. Fix"),
])
def test_a_bad_mix_is_named_with_the_fix(text: str, words: str) -> None:
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_BENCHMARK_MODEL_MIX") as err:
        parse_mix(text, SERVED)
    assert words in str(err.value)


def test_the_workload_takes_the_mix_only_with_several_models() -> None:
    v = {"vllm_benchmark_workload": "concurrent", "vllm_benchmark_model_mix": "small-llama=2,tiny-llama=1"}
    w = from_vars(v, SERVED)
    assert w.model_mix == (("small-llama", 2.0), ("tiny-llama", 1.0))
    assert w.describe()["model_mix"] == {"small-llama": 2.0, "tiny-llama": 1.0}
    assert from_vars(v).model_mix == ()  # the served models unknown (one model's view): no mix
    with pytest.raises(WorkflowError, match="only 'tiny-llama' is served. Fix: enable more models"):
        from_vars(v, ("tiny-llama",))
    assert "model_mix" not in from_vars({"vllm_benchmark_workload": "concurrent"}, SERVED).describe()
    # the isolation fault test spreads its load over every model unless a mix is given
    fault = from_vars({"vllm_benchmark_workload": "fault", "vllm_fault_model": "small-llama"}, SERVED)
    assert fault.model_mix == (("tiny-llama", 1.0), ("small-llama", 1.0))


def test_make_checks_the_mix_and_the_fault_model_against_the_configured_models(vars_for) -> None:
    ok = vars_for("vllm-local-multi-model", 'CONFIG_VLLM_BENCHMARK_MODEL_MIX="tiny-llama=3,small-llama=1"')
    assert ok["vllm_benchmark_model_mix"] == "tiny-llama=3,small-llama=1" and validate.check(ok) == []
    bad = "\n".join(validate.check(vars_for("vllm-local-multi-model", 'CONFIG_VLLM_BENCHMARK_MODEL_MIX="big=1"')))
    assert "CONFIG_VLLM_BENCHMARK_MODEL_MIX='big=1': 'big' is not a served model (tiny-llama, small-llama)" in bad
    assert not vars_for("vllm-local").get("vllm_benchmark_model_mix")  # one model: the setting is not offered
    fault = ("CONFIG_VLLM_BENCHMARK_WORKLOAD_FAULT=y", "CONFIG_VLLM_REPLICA_COUNT=1")
    good = vars_for("vllm-local-multi-model", *fault, 'CONFIG_VLLM_FAULT_MODEL="small-llama"')
    assert validate.check(good) == []  # one engine per model: the outage needs no second engine of it
    wrong = "\n".join(validate.check(vars_for("vllm-local-multi-model", *fault, 'CONFIG_VLLM_FAULT_MODEL="big"')))
    assert "CONFIG_VLLM_FAULT_MODEL: 'big' is not a served model (tiny-llama, small-llama). Fix:" in wrong


class CountingTokenizer(HttpTokenizer):
    """The stub's tokenizer, counting the calls made for each model."""

    calls: Counter = Counter()

    def encode(self, text: str) -> list[int]:
        CountingTokenizer.calls[self.model] += 1
        return super().encode(text)


def run_mixed(w: Workload) -> tuple[list[tuple[str, dict, dict]], list[RequestRecord]]:
    behaviour = StubBehaviour(record=True)
    CountingTokenizer.calls = Counter()
    with StubInThread(behaviour) as url:
        target = Target(url, MODEL, session_header="x-session-id")
        runner = Runner(target, w, show_progress=False)
        tokenizers = {name: CountingTokenizer(target, url, name) for name, _ in w.model_mix}
        runner.prepare(HttpTokenizer(target), tokenizers)
        result = asyncio.run(runner.run())
    assert result.complete
    return behaviour.seen, result.records


@pytest.mark.slow
def test_requests_name_models_by_weight_and_are_summarised_per_model() -> None:
    w = Workload(name="concurrent", users=4, duration_s=1.5, warmup_s=0, prompt_tokens=8, output_tokens=2,
                 model_mix=(("a", 3.0), ("b", 1.0)))
    seen, records = run_mixed(w)
    completions = [body for path, _, body in seen if path == "/v1/completions"]
    counts = Counter(body["model"] for body in completions)
    assert set(counts) == {"a", "b"} and len(completions) > 200
    assert 0.65 <= counts["a"] / len(completions) <= 0.85  # 3:1
    assert Counter(r.model for r in records) == counts
    assert set(CountingTokenizer.calls) == {"a", "b"}  # each model's prompts from its own tokenizer
    per_model = model_summaries(records, Slo())
    assert set(per_model) == {"a", "b"}
    assert per_model["a"]["requests"]["measured"] == counts["a"]
    assert per_model["a"]["share"] + per_model["b"]["share"] == pytest.approx(1.0)
    assert per_model["b"]["latency_ms"]["ttft"]["n"] == counts["b"]


@pytest.mark.slow
def test_a_conversation_keeps_one_model_for_all_its_rounds() -> None:
    w = Workload(name="multi-round-qa", qa_users=8, qa_rounds=3, qa_system_tokens=10, qa_question_tokens=4,
                 qa_answer_tokens=2, warmup_s=0, seed=3, model_mix=(("a", 1.0), ("b", 1.0)))
    seen, records = run_mixed(w)
    by_session: dict[str, set[str]] = {}
    for path, headers, body in seen:
        if path == "/v1/chat/completions":
            by_session.setdefault(headers["x-session-id"], set()).add(body["model"])
    assert len(by_session) == 8 and all(len(models) == 1 for models in by_session.values())
    assert {m for models in by_session.values() for m in models} == {"a", "b"}
    assert len(records) == 24 and all(r.ok for r in records)


def test_one_model_load_has_no_per_model_figures() -> None:
    recs = [RequestRecord(index=0, send=0.0, end=1.0, status=200, token_times=[0.1, 0.2])]
    assert model_summaries(recs, Slo()) == {}


def summary(model_ttft: dict[str, float]) -> dict:
    return {"latency_ms": {"ttft": {"p50": 10.0}}, "throughput": {"requests_per_s": 5.0},
            "models": {name: {"latency_ms": {"ttft": {"p50": t}, "tpot": {"p50": 5.0}, "e2e": {"p50": 50.0}},
                              "throughput": {"requests_per_s": 2.0}, "requests": {"error_rate": 0.0}}
                       for name, t in model_ttft.items()}}


def test_the_ab_compares_each_model_as_its_own_explanatory_family() -> None:
    from vllm_workflow.ab import compare, stats

    base = [summary({"a": 10.0 + i * 0.1, "b": 20.0 + i * 0.1}) for i in range(5)]
    dev = [summary({"a": 10.0 + i * 0.1, "b": 40.0 + i * 0.1}) for i in range(5)]  # b twice as slow
    out = compare.compare(base, dev, stats.Rule())
    rows = {r["metric"]: r for r in out["metrics"]}
    assert rows["b:ttft_p50"]["family"] == "model" and rows["b:ttft_p50"]["model"] == "b"
    assert rows["b:ttft_p50"]["verdict"] == stats.REGRESSION and rows["b:ttft_p50"]["label"] == "b: TTFT p50"
    assert rows["b:ttft_p50"]["delta"] == pytest.approx(1.0, rel=0.02)
    assert rows["a:ttft_p50"]["verdict"] in (stats.NO_CHANGE, stats.INCONCLUSIVE)
    assert sum(1 for r in out["metrics"] if r["family"] == "model") == 2 * len(compare.PER_MODEL)
    # the per-model rows explain; the primary (overall) metrics decide
    assert out["verdict"] != stats.REGRESSION
    plain = compare.compare([{"latency_ms": {"ttft": {"p50": 10.0}}}] * 3, [{"latency_ms": {"ttft": {"p50": 10.0}}}] * 3,
                            stats.Rule())
    assert not [r for r in plain["metrics"] if r["family"] == "model"]


def test_the_outage_plan_kills_every_engine_of_the_model() -> None:
    engines = ["engine-0", "engine-1", "engine-2"]
    serves = {"engine-0": "tiny-llama", "engine-1": "small-llama", "engine-2": "small-llama"}
    plan = plan_from_vars({"vllm_fault_model": "small-llama"}, engines, serves)
    assert plan.model == "small-llama" and plan.outage == ("engine-1", "engine-2")
    assert plan.describe()["engines"] == ["engine-1", "engine-2"]
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_FAULT_MODEL='big': no engine serves it"):
        plan_from_vars({"vllm_fault_model": "big"}, engines, serves)
    with pytest.raises(WorkflowError, match="the only model served"):
        plan_from_vars({"vllm_fault_model": "small-llama"}, ["engine-1"], {"engine-1": "small-llama"})
    assert plan_from_vars({}, engines, serves).outage == ("engine-1",)  # the one-engine fault as before


def rows_for(engine: str) -> list[dict]:
    """The engine down from 10 s, healthy at 20 s, serving again at 22 s (router counters)."""
    out = []
    for i in range(160):
        t = i * 0.25
        out.append({"t": t, "engine": engine, "engine_health": not 10 <= t < 20,
                    "router_health": 0 if 11 <= t < 21 else 1, "router_processed": 5 + (t >= 22),
                    "router_success": 5 + (t >= 22), "cb_state": 0})
    return out


def outage_records(other_fails: bool) -> list[RequestRecord]:
    recs = []
    for i in range(70):
        t = i * 0.5
        recs.append(RequestRecord(index=2 * i, send=t, end=t + 0.3, status=200, token_times=[t + 0.1], model="tiny"))
        down = 10 <= t < 22
        recs.append(RequestRecord(index=2 * i + 1, send=t, end=t + 0.01 if down else t + 0.3,
                                  status=503 if down else 200, token_times=[] if down else [t + 0.1], model="small"))
    if other_fails:
        recs[60].status, recs[60].token_times = 500, []  # the tiny request sent at 15 s fails
    return recs


def test_isolation_passes_when_only_the_killed_model_fails() -> None:
    faults = [{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}]
    pm = [{"t": 10.1, "engine": "engine-1", "event": "spawned"}]
    out = analysis.analyse(faults, rows_for("engine-1"), pm, outage_records(False), 35.0, 2.0,
                           analysis.Goals(5, 10), outage_model="small")
    iso = out["isolation"]
    assert iso["start"] == 10.0 and iso["end"] == 22.0
    assert iso["models"]["tiny"]["failed"] == 0 and iso["models"]["tiny"]["sent"] == 24
    assert iso["models"]["small"]["failed"] == 24 and iso["models"]["small"]["failed_kinds"] == {"HTTP 503": 24}
    assert iso["goal"]["verdict"] == "pass" and out["verdict"] == "pass"
    failing = analysis.analyse(faults, rows_for("engine-1"), pm, outage_records(True), 35.0, 2.0,
                               analysis.Goals(5, 10), outage_model="small")
    assert failing["isolation"]["goal"]["verdict"] == "fail" and failing["isolation"]["goal"]["value"] == 1
    assert failing["verdict"] == "fail"
    from vllm_workflow.fault.cli import junit_suite
    from vllm_workflow.fault.report import tables

    titles = [t for t, _, _ in tables(failing)]
    assert "Outage of small: requests per model from 10.0 s to 22.0 s" in titles
    cases = junit_suite("h", failing, Path("bundle")).cases
    assert [c.failure is not None for c in cases if "outage of small" in c.name] == [True]


def test_isolation_is_not_measurable_without_requests_for_the_other_models() -> None:
    faults = [{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}]
    recs = [r for r in outage_records(False) if r.model == "small"]
    out = analysis.analyse(faults, rows_for("engine-1"), [], recs, 35.0, 2.0, analysis.Goals(5, 10),
                           outage_model="small")
    assert out["isolation"]["goal"]["verdict"] == "not measurable" and out["verdict"] != "pass"
