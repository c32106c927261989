"""The host's share of a run (issue 25, part 2): the counters read on the host, the figures over
the run, and the host figures in the A/B (explanatory: they never change the verdict)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import cpuquota
from vllm_workflow.ab import report, stats
from vllm_workflow.ab.compare import compare
from vllm_workflow.benchmark import hostmetrics
from vllm_workflow.benchmark.records import RequestRecord

READER = hostmetrics.READER


def read_counters(conf: Path) -> dict:
    """The reader as the benchmark runs it: its source handed to python -c."""
    out = subprocess.run([sys.executable, "-c", READER.read_text(), json.dumps({"conf": str(conf)})],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


@pytest.fixture
def runtime(tmp_path: Path):
    """A runtime root as deploy makes it: supervisord.conf naming the directory, a program that
    works in run/engine-0 and burns CPU, with a child (vLLM's EngineCore) that inherits it."""
    root = tmp_path / "runtime"
    run = root / "run" / "engine-0"
    run.mkdir(parents=True)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"[supervisord]\ndirectory = {root}\n")
    burn = "import subprocess, sys, time\n" \
           "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n" \
           "end = time.time() + 60\n" \
           "while time.time() < end: pass\n"
    proc = subprocess.Popen([sys.executable, "-c", burn], cwd=run)
    time.sleep(0.5)
    yield conf, proc
    proc.kill()
    proc.wait()
    subprocess.run(["pkill", "-f", "import time; time.sleep(60)"], check=False)


def test_the_reader_sums_a_program_and_its_children(runtime) -> None:
    conf, proc = runtime
    before = read_counters(conf)
    time.sleep(1.0)
    after = read_counters(conf)
    prog_before, prog_after = before["programs"]["engine-0"], after["programs"]["engine-0"]
    assert prog_after["processes"] == 2  # the program and its child
    assert prog_after["utime"] + prog_after["stime"] > prog_before["utime"] + prog_before["stime"]
    assert prog_after["rss_kb"] > 1000
    assert set(before["cpu"]) == set(hostmetrics.CPU_MODES) and after["ctxt"] >= before["ctxt"]
    assert after["uptime"] > before["uptime"]
    assert "throttle" in prog_after


def test_the_reader_reads_serving_sysctls(tmp_path: Path) -> None:
    sysctl = read_counters(tmp_path / "nothing.conf")["sysctl"]
    # net.ipv4.tcp_* is this network namespace's (the SSH test hosts each have their own)
    assert sysctl["net.ipv4.tcp_congestion_control"] == Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text().strip()
    assert sysctl["vm.swappiness"] == Path("/proc/sys/vm/swappiness").read_text().strip()
    assert not any(k.startswith(("net.ipv6", "kernel.hostname")) for k in sysctl)
    machine = {"kernel": "6.1", "kernel_details": {"cmdline": "quiet"}}
    merged = hostmetrics.with_sysctls(machine, {"sysctl": {"vm.swappiness": "1"}})
    assert merged == {"kernel": "6.1", "kernel_details": {"cmdline": "quiet", "sysctl": {"vm.swappiness": "1"}}}
    assert hostmetrics.with_sysctls(machine, {"unavailable": "x"}) is machine


def test_a_missing_runtime_is_said_not_guessed(tmp_path: Path) -> None:
    snap = read_counters(tmp_path / "nothing.conf")
    assert "unavailable" in snap["programs"] and "cpu" in snap


@pytest.mark.skipif(cpuquota.available() is not None, reason=f"cgroup CPU quota: {cpuquota.available()}")
def test_throttling_under_a_cpu_quota_shows(runtime) -> None:
    """A real kernel-level limit: the burning program in a 0.2-CPU cgroup is throttled in most periods."""
    conf, proc = runtime
    group = cpuquota.CpuQuota("vllm-workflow-test-hostmetrics", 0.2)
    try:
        group.add(cpuquota.descendants(proc.pid))
        before = read_counters(conf)
        time.sleep(1.5)
        after = read_counters(conf)
    finally:
        group.close()
    fig = hostmetrics.figures(before, after, [])
    engine = fig["programs"]["engine-0"]
    assert engine["throttle"]["cgroup"].endswith("vllm-workflow-test-hostmetrics")
    assert engine["throttle"]["throttled_fraction"] > 0.5
    assert engine["cpu_pct_of_core"] < 35  # 20 % of a core allowed
    assert fig["engines"]["throttled_fraction"] == engine["throttle"]["throttled_fraction"]


def snap(t: float, ticks: dict[str, int], ctxt: int, prog: dict | None = None, psi_us: int = 0) -> dict:
    return {"uptime": t, "clk_tck": 100, "cpus": 2, "cpu": ticks, "ctxt": ctxt, "intr": ctxt * 2,
            "procs_running": 3, "loadavg": [1.5, 1, 1], "vmstat": {"pgfault": ctxt, "pgmajfault": 0},
            "mem_available_kb": 2048 * 1024, "swap_used_kb": 0,
            "psi": {"cpu": {"some": psi_us}, "memory": {"some": 0, "full": 0}, "io": {"some": 0, "full": 0}},
            "tcp": {"OutSegs": 100, "RetransSegs": 1}, "net": {"rx_bytes": 0, "tx_bytes": 0},
            "programs": {"engine-0": prog or {}, "router": {"processes": 1, "utime": 0, "stime": 0, "rss_kb": 0,
                                                           "voluntary_ctxt_switches": 0,
                                                           "nonvoluntary_ctxt_switches": 0,
                                                           "throttle": {"unavailable": "no cpu controller"}}}}


def record(i: int, tokens: int = 10) -> RequestRecord:
    return RequestRecord(index=i, send=1.0, end=1.5, token_times=[1.1, 1.5], output_tokens=tokens, status=200)


def test_figures_over_the_run() -> None:
    zero = dict.fromkeys(hostmetrics.CPU_MODES, 0)
    prog0 = {"processes": 2, "utime": 100, "stime": 20, "rss_kb": 1024, "voluntary_ctxt_switches": 0,
             "nonvoluntary_ctxt_switches": 0,
             "throttle": {"cgroup": "/q", "nr_periods": 0, "nr_throttled": 0, "throttled_ns": 0}}
    prog1 = {**prog0, "utime": 400, "stime": 70, "rss_kb": 2048, "nonvoluntary_ctxt_switches": 500,
             "throttle": {"cgroup": "/q", "nr_periods": 100, "nr_throttled": 25, "throttled_ns": 2_000_000_000}}
    before = snap(100.0, zero, 1000, prog0)
    after = snap(110.0, {**zero, "user": 1200, "system": 300, "softirq": 100, "idle": 400}, 21000, prog1, 2_000_000)
    fig = hostmetrics.figures(before, after, [record(i) for i in range(40)])
    assert fig["window_s"] == 10 and fig["requests"] == 40 and fig["output_tokens"] == 400
    assert fig["cpu_pct"]["user"] == pytest.approx(60)  # 12 s of 2 CPUs × 10 s
    assert fig["cpu_pct"]["softirq"] == pytest.approx(5)
    assert fig["context_switches_per_s"] == 2000
    assert fig["per_request"]["cpu_ms"] == pytest.approx(16000 / 40)  # user+system+softirq = 16 s
    assert fig["per_request"]["system_cpu_ms"] == pytest.approx(75)
    assert fig["per_output_token"]["cpu_ms"] == pytest.approx(40)
    assert fig["psi_pct"]["cpu"]["some"] == pytest.approx(20)  # 2 s stalled of 10
    engine = fig["programs"]["engine-0"]
    assert engine["cpu_user_s"] == 3 and engine["cpu_system_s"] == 0.5 and engine["cpu_pct_of_core"] == 35
    assert engine["nonvoluntary_ctxt_switches_per_s"] == 50 and engine["rss_mb"] == 2
    assert engine["throttle"]["throttled_fraction"] == 0.25 and engine["throttle"]["throttled_s"] == 2
    assert fig["programs"]["router"]["throttle"] == {"unavailable": "no cpu controller"}
    head = hostmetrics.headline(fig)
    assert head["engine_throttled_fraction"] == 0.25 and head["engine_cpu_ms_per_request"] == 87.5
    assert head["psi_cpu_some_pct"] == pytest.approx(20)


def test_an_unreadable_host_is_unavailable_not_a_failure() -> None:
    fig = hostmetrics.figures({"unavailable": "host unreachable"}, {"uptime": 1}, [])
    assert fig == {"unavailable": "host unreachable"} and hostmetrics.headline(fig) == fig
    zero = dict.fromkeys(hostmetrics.CPU_MODES, 0)
    assert "reboot" in hostmetrics.figures(snap(50, zero, 0), snap(10, zero, 0), [])["unavailable"]


def summary(ttft: float, throttled: float | None, sys_ms: float) -> dict:
    out = {"latency_ms": {"ttft": {"p50": ttft}, "tpot": {"p50": 10.0}, "e2e": {"p50": 100.0}},
           "throughput": {"requests_per_s": 5.0}}
    out["host"] = {"engine_throttled_fraction": throttled, "system_cpu_ms_per_request": sys_ms}
    return out


def test_host_figures_explain_and_never_decide() -> None:
    rule = stats.Rule(threshold=0.05, equivalence=0.10)
    base = [summary(50 + i * 0.1, 0.0, 20 + i * 0.1) for i in range(4)]
    dev = [summary(50 - i * 0.1, 0.3 + i * 0.01, 30 + i * 0.1) for i in range(4)]
    comp = compare(base, dev, rule)
    rows = {m["metric"]: m for m in comp["metrics"]}
    assert rows["engine_throttled_fraction"]["family"] == "host"
    assert rows["engine_throttled_fraction"]["verdict"] == stats.HIGHER  # a direction, not a judgement
    assert rows["host_system_cpu_ms_per_request"]["verdict"] == stats.HIGHER
    assert rows["engine_throttled_fraction"]["better"] == "neither"
    suite = report.junit_suite({**comp, "label": "x"})
    assert not any(c.failure for c in suite.cases)  # host figures never fail a CI case
    assert "host_cpu_ms_per_request" not in rows  # recorded by neither arm: left out
    assert comp["verdict"] == stats.NO_CHANGE  # latency did not move: the host figures do not decide
    line = report.host_line({"metrics": comp["metrics"]})
    assert line.startswith("Host figures (explanatory, they do not change the verdict): ")
    assert "engine CPU-throttled periods 0.0 → 31.5 %" in line and "host system CPU per request +" in line
    older = compare([{k: v for k, v in s.items() if k != "host"} for s in base], dev, rule)
    assert all(m["n"][0] == 0 for m in older["metrics"] if m["family"] == "host")


def test_the_benchmark_report_has_a_host_table() -> None:
    from vllm_workflow.benchmark.report import host_table

    title, head, rows = host_table({"cpu_busy_pct": 61.25, "engine_throttled_fraction": 0.125,
                                    "context_switches_per_request": 812.4})
    assert title.startswith("Host (") and head == ["figure", "value"]
    assert ["host CPU busy (% of all CPUs)", "61.2"] in rows or ["host CPU busy (% of all CPUs)", "61.3"] in rows
    assert ["engine CPU-throttled periods", "12.5 %"] in rows and ["context switches per request", "812"] in rows
    assert ["host system CPU per request (ms)", "–"] in rows
    assert host_table({"unavailable": "kubernetes"})[2] == [["not recorded", "kubernetes"]]


def test_perf_stat_counts_the_engines_over_the_run(runtime) -> None:
    """perf stat attached at the start snapshot, read at the stop one; or unavailable with why."""
    import shutil

    conf, proc = runtime
    (conf.parent / "runtime" / "state").mkdir()
    start = read_counters_with(conf, "start")["perf"]
    time.sleep(1.0)
    stop = read_counters_with(conf, "stop")["perf"]
    if shutil.which("perf") is None:
        assert start == {"unavailable": "perf is not installed on this host (Debian: apt-get install linux-perf)"}
        return
    if "unavailable" in start:  # perf present but refused here: the reason is perf's own
        assert start["unavailable"].startswith(("perf stat exited", "kernel.perf_event_paranoid"))
        return
    assert start["started"] and sorted(start["pids"]) == sorted(cpuquota.descendants(proc.pid))
    assert stop["events"]["task-clock"] > 500  # ms: the program burns a core
    assert stop["pids"] == start["pids"]
    fig = hostmetrics.perf_figures(start, stop, 10, 100)
    assert fig["context_switches_per_request"] == stop["events"]["context-switches"] / 10
    assert (fig["ipc"] is None) == (stop["events"].get("cycles") is None)  # a VM without a PMU: not counted
    assert not (conf.parent / "runtime/state/perf-stat.json").exists()  # stopped and forgotten
    again = read_counters_with(conf, "stop")["perf"]
    assert again == {"unavailable": "no perf stat was started at the run's start"}


def read_counters_with(conf: Path, perf: str) -> dict:
    out = subprocess.run([sys.executable, "-c", READER.read_text(), json.dumps({"conf": str(conf), "perf": perf})],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_perf_figures_say_why_when_unavailable() -> None:
    why = {"unavailable": "perf is not installed on this host (Debian: apt-get install linux-perf)"}
    assert hostmetrics.perf_figures(why, {}, 10, 100) == why
    stop = {"events": {"task-clock": 2000.0, "context-switches": 50.0, "cycles": 4e9, "instructions": 6e9},
            "not_counted": ["cache-misses: not supported"]}
    fig = hostmetrics.perf_figures({"started": True}, stop, 10, 100)
    assert fig["ipc"] == 1.5 and fig["task_clock_ms_per_output_token"] == 20 and fig["cache_misses_per_request"] is None
    assert fig["not_counted"] == ["cache-misses: not supported"]


@pytest.mark.skipif(cpuquota.available() is not None, reason=f"cgroup CPU quota: {cpuquota.available()}")
def test_the_reader_reads_a_programs_cpu_limit(runtime) -> None:
    conf, proc = runtime
    assert read_counters(conf)["programs"]["engine-0"]["limits"].get("cpus") is None  # the root group: unlimited
    group = cpuquota.CpuQuota("vllm-workflow-test-limits", 0.5)
    try:
        group.add(cpuquota.descendants(proc.pid))
        snap = read_counters(conf)
    finally:
        group.close()
    assert snap["programs"]["engine-0"]["limits"]["cpus"] == 0.5
    fig = hostmetrics.figures(snap, snap | {"uptime": snap["uptime"] + 1}, [])
    assert hostmetrics.program_limits(fig)["engine-0"]["cpus"] == 0.5
    assert set(fig["per_cpu_busy_pct"]) == {f"cpu{i}" for i in range(len(snap["per_cpu"]))}
