"""The fault workload: timeline and goals from observations, parsers of each source, the driver."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from tests.doubles.streaming_stub import MODEL, StubInThread
from vllm_workflow.benchmark.client import Target, monotonic_clock
from vllm_workflow.benchmark.records import RequestRecord
from vllm_workflow.benchmark.runner import HttpTokenizer, Runner
from vllm_workflow.benchmark.workloads import Workload, from_vars
from vllm_workflow.errors import WorkflowError
from vllm_workflow.fault import analysis, inject, report
from vllm_workflow.fault.driver import FaultDriver, FaultPlan, plan_from_vars
from vllm_workflow.fault.observe import Observer, router_view
from vllm_workflow.target import agent_supervisord as agent

ROUTER_TEXT = """\
# TYPE vllm_router_worker_health gauge
vllm_router_worker_health{worker="http://127.0.0.1:8100"} 1
vllm_router_worker_health{worker="http://127.0.0.1:8101"} 0
# TYPE vllm_router_processed_requests_total counter
vllm_router_processed_requests_total{worker="http://127.0.0.1:8100"} 50
vllm_router_processed_requests_total{worker="http://127.0.0.1:8101"} 41
# TYPE vllm_router_cb_outcomes_total counter
vllm_router_cb_outcomes_total{worker="http://127.0.0.1:8101",outcome="success"} 31
vllm_router_cb_outcomes_total{worker="http://127.0.0.1:8101",outcome="failure"} 10
# TYPE vllm_router_cb_state gauge
vllm_router_cb_state{worker="http://127.0.0.1:8101"} 1
vllm_router_cb_state{worker="http://127.0.0.1:9999"} 0
"""


def test_router_view_matches_engines_by_port_and_reads_each_figure() -> None:
    view = router_view(ROUTER_TEXT, {8100: "engine-0", 8101: "engine-1"})
    assert view["engine-1"] == {"router_health": 0.0, "router_processed": 41.0, "router_success": 31.0,
                                "cb_state": 1.0}
    assert view["engine-0"] == {"router_health": 1.0, "router_processed": 50.0}
    assert set(view) == {"engine-0", "engine-1"}  # port 9999 is nobody's


def row(t: float, health: bool, rh: int | None, sent: float | None, ok: float | None) -> dict:
    return {"t": t, "engine": "engine-1", "engine_health": health, "router_health": rh,
            "router_processed": sent, "router_success": ok, "cb_state": None}


def story() -> list[dict]:
    """engine-1 serves, is killed at 10.0, detected at 11.5, healthy at 30, readmitted 31, serves at 32.5."""
    rows = [row(9.0, True, 1, 100, 100), row(9.5, True, 1, 102, 102), row(10.0, True, 1, 103, 103),
            row(10.25, False, 1, 108, 103), row(11.0, False, 1, 113, 103), row(11.5, False, 0, 113, 103)]
    rows += [row(12 + i, False, 0, 113, 103) for i in range(18)]
    rows += [row(30.0, True, 0, 113, 103), row(31.0, True, 1, 113, 103), row(32.5, True, 1, 114, 104),
             row(33.0, True, 1, 120, 110)]
    return rows


PM = [{"t": 10.1, "engine": "engine-1", "event": "exited"}, {"t": 10.1, "engine": "engine-1", "event": "spawned"},
      {"t": 15.2, "engine": "engine-1", "event": "running"}, {"t": 3.0, "engine": "engine-1", "event": "spawned"}]


def test_timeline_takes_each_event_from_its_own_source() -> None:
    tl = analysis.timeline({"engine": "engine-1", "t": 10.0}, story(), PM)
    ev = tl["events"]
    assert ev == {"kill": 10.0, "engine_down": 10.25, "detected": 11.5, "last_success": 10.0, "healthy": 30.0,
                  "router_stopped": 11.0, "restarted": 10.1, "readmitted": 31.0, "serving": 32.5}
    assert tl["missing"] == {}
    assert tl["sources"]["restarted"] == "process manager"


def test_goals_pass_and_fail_on_the_figures() -> None:
    records = []
    for i in range(40):  # steady 2 req/s; a failed request is in flight at the kill
        r = RequestRecord(index=i, send=i * 0.5, status=200, end=i * 0.5 + 0.4, token_times=[i * 0.5 + 0.1])
        records.append(r)
    hung = RequestRecord(index=99, send=9.9, status=200, end=10.3, error="ClientPayloadError: cut")
    records.append(hung)
    out = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}], story(), PM, records,
                           40.0, 2.0, analysis.Goals(5, 10))
    f = out["faults"][0]
    assert f["figures"]["detection_s"] == 1.5
    assert f["figures"]["recovery_s"] == 22.5
    assert f["figures"]["engine_start_s"] == pytest.approx(19.9)
    assert f["figures"]["sent_after_detection"] == 0
    req = f["figures"]["requests"]
    assert req["in_flight_at_kill"] == 2 and req["in_flight_failed"] == 1
    assert req["in_flight_longest_end_s"] == pytest.approx(0.4)  # the request sent at 10.0 ends at 10.4
    assert req["failed_kinds"] == {"ClientPayloadError": 1}
    assert req["throughput_before_rps"] == pytest.approx(2.0)
    assert {g["goal"]: g["verdict"] for g in f["goals"]} == {
        "in-flight requests end": "pass", "no traffic to the dead engine": "pass", "recovery": "pass"}
    assert out["verdict"] == "pass"
    # stricter goals fail: recovery 22.5 s > 19.9 + 2; a request hanging past the kill by 10 s
    hung.end = 20.0
    out = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}], story(), PM, records,
                           40.0, 2.0, analysis.Goals(5, 2))
    verdicts = {g["goal"]: g["verdict"] for g in out["faults"][0]["goals"]}
    assert verdicts == {"in-flight requests end": "fail", "no traffic to the dead engine": "pass", "recovery": "fail"}
    assert out["verdict"] == "fail"


def test_requests_sent_after_detection_fail_the_goal() -> None:
    rows = story()
    for r in rows:
        if r["t"] >= 15:
            r["router_processed"] += 2  # the router kept sending after marking it unhealthy
    f = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}], rows, PM, [], 40, 2,
                         analysis.Goals())["faults"][0]
    assert f["figures"]["sent_after_detection"] == 2
    assert f["goals"][1]["verdict"] == "fail"


def test_without_router_figures_the_goal_is_not_measurable_never_passed() -> None:
    rows = [{**r, "router_health": None, "router_processed": None, "router_success": None} for r in story()]
    out = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}], rows, PM, [], 40, 2,
                           analysis.Goals())
    f = out["faults"][0]
    assert f["goals"][1]["verdict"] == "not measurable"
    assert f["goals"][2]["verdict"] == "fail"  # "serving again" cannot be seen: not recovered
    assert "router exports no per-engine" in f["missing"]["detected"]
    assert out["verdict"] == "fail"


def test_never_recovered_is_a_failed_goal() -> None:
    rows = [r for r in story() if r["t"] < 20]
    f = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "m"}], rows, PM, [], 20, 2,
                         analysis.Goals())["faults"][0]
    assert f["events"]["serving"] is None and f["missing"]["serving"] == "not observed before the run ended"
    assert f["goals"][2]["verdict"] == "fail" and "never recovered" in f["goals"][2]["detail"]


def test_report_tables_list_every_event_and_goal_without_emoji() -> None:
    out = analysis.analyse([{"n": 1, "engine": "engine-1", "t": 10.0, "method": "SIGKILL"}], story(), PM, [],
                           40, 2, analysis.Goals())
    tables = {title: rows for title, _head, rows in report.tables(out)}
    timeline = tables["Fault 1: engine-1 (SIGKILL) — timeline"]
    assert [r[0] for r in timeline][0] == "engine killed" and len(timeline) == len(analysis.EVENTS)
    assert [r[3] for r in tables["Fault 1: goals"]] == ["PASS", "PASS", "PASS"]


def test_supervisord_log_lines_become_epoch_events() -> None:
    lines = ["2026-11-30 22:27:18,850 WARN exited: engine-1 (terminated by SIGKILL; not expected)\n",
             "2026-11-30 22:27:18,851 INFO spawned: 'engine-1' with pid 19829\n",
             "2026-11-30 22:27:23,946 INFO success: engine-1 entered RUNNING state, process has stayed up\n",
             "2026-11-30 22:20:00,000 INFO spawned: 'engine-0' with pid 1\n", "garbage\n"]
    since = time.mktime(time.strptime("2026-11-30 22:27:00", "%Y-%m-%d %H:%M:%S"))
    got = agent.log_events(lines, since)
    assert [(e["program"], e["event"]) for e in got] == [("engine-1", "exited"), ("engine-1", "spawned"),
                                                         ("engine-1", "running")]
    assert got[1]["pid"] == 19829 and got[1]["at"] - since == pytest.approx(18.851)
    assert got[0]["detail"] == "terminated by SIGKILL; not expected"


def test_pod_events_follow_the_deleted_pod_and_its_replacement() -> None:
    listing = {"items": [
        {"involvedObject": {"kind": "Pod", "name": "vllm-tiny-abc"}, "reason": "Killing",
         "lastTimestamp": "2026-11-30T10:00:05Z"},
        {"involvedObject": {"kind": "Pod", "name": "vllm-tiny-xyz"}, "reason": "Scheduled",
         "eventTime": "2026-11-30T10:00:05.500000Z"},
        {"involvedObject": {"kind": "Pod", "name": "vllm-tiny-xyz"}, "reason": "Started",
         "lastTimestamp": "2026-11-30T10:00:09Z"},
        {"involvedObject": {"kind": "Pod", "name": "old"}, "reason": "Started", "lastTimestamp": "2026-11-30T09:00:00Z"},
        {"involvedObject": {"kind": "Pod", "name": "vllm-tiny-xyz"}, "reason": "Pulled",
         "lastTimestamp": "2026-11-30T10:00:08Z"},
    ]}
    since = inject._stamp("2026-11-30T10:00:04Z")
    got = inject.pod_events(listing, {"vllm-tiny-abc": "engine-1"}, since)
    assert [(e["engine"], e["event"], e["pod"]) for e in got] == [
        ("engine-1", "exited", "vllm-tiny-abc"), ("engine-1", "pod-created", "vllm-tiny-xyz"),
        ("engine-1", "spawned", "vllm-tiny-xyz")]
    assert got[1]["at"] - since == pytest.approx(1.5)


def test_plan_refuses_an_engine_the_stack_does_not_have() -> None:
    plan = plan_from_vars({"vllm_fault_engine": 1, "vllm_fault_kill_at_s": 7, "vllm_fault_second_at_s": None},
                          ["engine-0", "engine-1"])
    assert (plan.engine, plan.kill_at_s, plan.second_engine, plan.goals.recovery_margin_s) == ("engine-1", 7, None, 10)
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_FAULT_ENGINE=2.*choose 0 to 1"):
        plan_from_vars({"vllm_fault_engine": 2}, ["engine-0", "engine-1"])
    two = plan_from_vars({"vllm_fault_second_at_s": 5, "vllm_fault_second_engine": 0}, ["engine-0", "engine-1"])
    assert two.second_engine == "engine-0" and two.second_after_s == 5


def test_fault_workload_is_selected_from_its_kconfig_choice() -> None:
    w = from_vars({"vllm_benchmark_workload": "fault", "vllm_benchmark_concurrent_users": 6})
    assert w.name == "fault" and w.describe()["users"] == 6 and "duration_s" not in w.describe()


class FakeInjector:
    """Test double: "kills" by telling the observer rows what a real engine would go through."""

    method = "test double"

    def __init__(self, observer: "ScriptedObserver") -> None:
        self.observer = observer
        self.kills: list[str] = []

    def kill(self, engine: str) -> dict:
        self.kills.append(engine)
        self.observer.killed_at = self.observer.clock()
        return {"at": time.time(), "detail": "pretend"}

    def events(self, since: float, engines: list[str]) -> list[dict]:
        return [{"at": since + self.observer.killed_at + 0.05, "engine": engines[0], "event": "spawned"}]


class ScriptedObserver(Observer):
    """Test double: after the kill the engine's /health fails for 1 s, the router marks it unhealthy
    from 0.3 s to 1.2 s, and its success count stands still until 1.5 s (then it serves again)."""

    killed_at: float | None = None

    async def poll_once(self, http) -> None:  # noqa: ANN001
        t = self.clock()
        k = self.killed_at
        since = None if k is None else t - k
        down = since is not None and 0 <= since < 1.0
        health = 0 if since is not None and 0.3 <= since < 1.2 else 1
        frozen = since is not None and since < 1.5
        served = 10 + int((k if frozen else t) * 4)  # 4 successes a second, none while it is down
        self.rows.append({"t": t, "engine": "engine-1", "engine_health": not down, "router_health": health,
                          "router_processed": served, "router_success": served, "cb_state": 0})


@pytest.mark.slow
def test_driver_kills_waits_for_recovery_and_ends_the_run() -> None:
    w = dataclasses.replace(Workload(name="fault"), warmup_s=0.5, users=2, prompt_tokens=8, output_tokens=4)
    plan = FaultPlan(engine="engine-1", kill_at_s=1.0, after_recovery_s=0.5, recovery_timeout_s=10)
    with StubInThread() as url:
        target = Target(url, MODEL, session_header="x-session-id")
        clock = monotonic_clock()
        observer = ScriptedObserver([("engine-1", "http://127.0.0.1:1")], None, {}, clock)
        injector = FakeInjector(observer)
        driver = FaultDriver(plan, injector, observer)
        runner = Runner(target, w, show_progress=False, fault=driver, clock=clock)  # built complete
        runner.prepare(HttpTokenizer(target))
        result = asyncio.run(runner.run())
    assert injector.kills == ["engine-1"]
    assert result.complete and result.records and all(r.ok for r in result.records)
    kill_t = driver.faults[0]["t"]
    assert 1.4 <= kill_t <= 2.5  # warm-up 0.5 + 1.0
    last_send = max(r.send for r in result.records)
    assert kill_t + 1.5 + 0.5 - 0.3 <= last_send <= kill_t + 1.5 + 0.5 + 0.6  # recovery, then 0.5 s more
    from vllm_workflow.fault.session import finish

    out = finish(driver, result.records, w.warmup_s)
    f = out["faults"][0]
    assert f["events"]["restarted"] == pytest.approx(kill_t + 0.05, abs=0.1)
    assert f["figures"]["recovery_s"] == pytest.approx(1.5, abs=0.3)


def test_check_stack_needs_a_router_and_two_engines() -> None:
    from vllm_workflow.fault.session import check_stack
    from vllm_workflow.stack import Stack

    base = {"host": "h", "backend": "local", "model": MODEL, "routing": "session", "api_url": "http://x",
            "engines": [{"name": "engine-0", "url": "http://x:1", "metrics_url": "http://x:1/metrics"}],
            "router": {"url": "http://x", "metrics_url": "http://x/metrics"}, "process_manager": {}, "logs_dir": "/"}
    with pytest.raises(WorkflowError, match="REPLICA_COUNT=2"):
        check_stack(Stack.from_dict(base))
    with pytest.raises(WorkflowError, match="ROUTER_ENABLED=y"):
        check_stack(Stack.from_dict(base | {"router": None}))


def test_scale_workload_ramps_up_holds_and_ramps_down() -> None:
    w = from_vars({"vllm_benchmark_workload": "scale", "vllm_scale_peak_rate": "8", "vllm_scale_steps": 4,
                   "vllm_scale_step_s": 30, "vllm_scale_hold_s": 120})
    assert w.name == "scale"
    assert [(name, rate, t) for name, rate, t in w.stage_plan()] == [
        ("up 2/s", 2, 30), ("up 4/s", 4, 30), ("up 6/s", 6, 30), ("hold 8/s", 8, 120),
        ("down 6/s", 6, 30), ("down 4/s", 4, 30), ("down 2/s", 2, 30)]
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_SCALE_PEAK_RATE"):
        from_vars({"vllm_benchmark_workload": "scale", "vllm_scale_peak_rate": "fast"})


def test_replica_counts_are_read_from_the_deployment_listing() -> None:
    from vllm_workflow.kubernetes import replicas

    listing = {"items": [
        {"metadata": {"name": "vllm-opt-deployment-vllm"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 2}},
        {"metadata": {"name": "vllm-deployment-router"}, "spec": {"replicas": 1}, "status": {}}]}
    rows = [{"t": t, **r} for t, r in ((0.0, replicas.parse(listing)[0]), (5.0, replicas.parse(listing)[1]))]
    rows.append({"t": 10.0, "deployment": "vllm-opt-deployment-vllm", "desired": 3, "ready": 3})
    rows.append({"t": 15.0, "error": "timeout"})
    assert replicas.parse(listing)[1] == {"deployment": "vllm-deployment-router", "desired": 1, "ready": 0}
    assert replicas.summarize(rows)["vllm-opt-deployment-vllm"] == {
        "ready_min": 2, "ready_max": 3, "desired_max": 3, "first_at_max_s": 10.0, "samples": 2}


def test_make_refuses_a_fault_test_with_nothing_to_fail_over_to(vars_for) -> None:
    from vllm_workflow import validate

    fault = "CONFIG_VLLM_BENCHMARK_WORKLOAD_FAULT=y"
    assert validate.check(vars_for("vllm-local", fault)) == []
    one = "\n".join(validate.check(vars_for("vllm-local", fault, "CONFIG_VLLM_REPLICA_COUNT=1")))
    assert "CONFIG_VLLM_BENCHMARK_WORKLOAD_FAULT: 1 engine(s): killing one leaves nothing to fail over to" in one
    missing = "\n".join(validate.check(vars_for("vllm-local", fault, "CONFIG_VLLM_FAULT_ENGINE=2")))
    assert "CONFIG_VLLM_FAULT_ENGINE: engine-2 does not exist (CONFIG_VLLM_REPLICA_COUNT=2). Fix: choose 0 to 1." in missing
