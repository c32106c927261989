"""Results bundles, reports, `vllm-workflow benchmark` / `results` end to end against the stub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.doubles.streaming_stub import MODEL, StubBehaviour, StubInThread
from tests.helpers import stub_project, stub_stack
from vllm_workflow.benchmark import bundle
from vllm_workflow.benchmark.engine_metrics import engine_delta, read, summarize

CLI = [sys.executable, "-m", "vllm_workflow.cli"]
PNGS = {"ttft-cdf.png", "e2e-cdf.png", "latency-over-time.png", "throughput-over-time.png"}


def test_bundle_folders_are_never_reused(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)
    a = bundle.new_bundle_dir(tmp_path, "x", now)
    b = bundle.new_bundle_dir(tmp_path, "x", now)
    assert a.name == "20261127T120000Z-x" and b.name == "20261127T120000Z-x-2"
    with pytest.raises(Exception, match="CONFIG_VLLM_BENCHMARK_LABEL"):
        bundle.new_bundle_dir(tmp_path, "../escape", now)


def test_secrets_are_redacted_from_config_and_settings() -> None:
    text = 'CONFIG_VLLM_API_KEY="s3cret"\nCONFIG_VLLM_HF_TOKEN=""\nCONFIG_VLLM_MODEL_URL="m"\n'
    out = bundle.redact_config(text)
    assert "s3cret" not in out
    assert 'CONFIG_VLLM_API_KEY="<redacted>"' in out and 'CONFIG_VLLM_HF_TOKEN=""' in out
    assert bundle.redact_mapping({"a": ["x s3cret y"], "b": 1}, ["s3cret", ""]) == {"a": ["x <redacted> y"], "b": 1}


ENGINE_TEXT = """
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries_total{{engine="0"}} {q}
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits_total{{engine="0"}} {h}
# TYPE vllm:request_success counter
vllm:request_success_total{{finished_reason="length"}} {r}
vllm:request_success_total{{finished_reason="stop"}} 1
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{{engine="0"}} 0.25
"""


def test_engine_metric_deltas() -> None:
    before = read(ENGINE_TEXT.format(q=100, h=10, r=5))
    after = read(ENGINE_TEXT.format(q=300, h=110, r=25))
    assert before["requests_finished"] == 6 and before["kv_cache_usage"] == 0.25
    d = engine_delta(before, after)
    assert d["prefix_cache_queries"] == 200 and d["prefix_cache_hits"] == 100
    assert d["prefix_cache_hit_rate"] == 0.5 and d["requests_finished"] == 20
    assert d["preemptions"] is None  # not exported: unknown, not zero
    assert engine_delta(after, before)["prefix_cache_hits"] is None  # counter reset by a restart
    s = summarize(["e0", "e1"], {"e0": before, "e1": None}, {"e0": after, "e1": after},
                  [{"t": 1, "engine": "e0", "kv_cache_usage": 0.2}, {"t": 2, "engine": "e0", "kv_cache_usage": 0.4}])
    assert s["engines"]["e1"]["readable"] is False and s["engines"]["e1"]["requests_finished"] is None
    assert s["total"]["requests_finished"] == 20
    assert s["engines"]["e0"]["kv_cache_usage"]["mean"] == pytest.approx(0.3)


@pytest.fixture()
def project(tmp_path: Path, vars_for):
    """A project root whose state describes a stack served by the stub."""

    def make(url: str, *lines: str) -> Path:
        root = stub_project(tmp_path / "project", vars_for("vllm", *lines),
                            {"stubhost": stub_stack(url, "stubhost", MODEL)})
        (root / ".config").write_text('CONFIG_VLLM_API_KEY=""\n')
        return root

    return make


def cli(root: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"}
    return subprocess.run([*CLI, "--root", str(root), *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


@pytest.mark.slow
def test_benchmark_writes_a_complete_bundle_and_results_renders_it(project) -> None:
    with StubInThread(StubBehaviour(ttft_s=0.01, itl_s=0.002)) as url:
        root = project(url, "CONFIG_VLLM_BENCHMARK_DURATION=5", "CONFIG_VLLM_BENCHMARK_WARMUP_SECONDS=1",
                       "CONFIG_VLLM_BENCHMARK_OUTPUT_TOKENS=8")
        out = cli(root, "benchmark", "--set", "vllm_benchmark_duration=2", "--label", "stubrun")
    assert out.returncode == 0, out.stderr + out.stdout
    assert "✅ complete" in out.stdout and "TTFT" in out.stdout
    results = root / "workflows/vllm/results"
    (folder,) = [p for p in results.iterdir() if p.is_dir()]  # the bundle, beside the history index
    assert folder.name.endswith("-stubrun")
    names = {p.name for p in folder.iterdir()}
    assert {"summary.json", "requests.jsonl", "engine-metrics.jsonl", "provenance.json", "report.md",
            "report.html", "config"} | PNGS <= names
    assert {".config", "extra_vars.yaml", "stack.json"} <= {p.name for p in (folder / "config").iterdir()}
    s = json.loads((folder / "summary.json").read_text())
    assert s["schema"] == "vllm-workflow/benchmark" and s["schema_version"] == 1
    assert s["complete"] is True and s["workload"]["name"] == "concurrent" and s["workload"]["duration_s"] == 2
    assert s["requests"]["ok"] > 10 and s["requests"]["failed"] == 0
    assert s["latency_ms"]["ttft"]["p50"] >= 10
    lines = (folder / "requests.jsonl").read_text().splitlines()
    assert len(lines) == s["requests"]["sent"]
    assert len(json.loads(lines[-1])["token_times"]) == 8
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["host"]["kernel"] == os.uname().release and prov["host"]["cpus"] == os.cpu_count()
    for png in PNGS:
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![" in (folder / "report.md").read_text() and "<img src='ttft-cdf.png'" in (folder / "report.html").read_text()
    state = json.loads((root / "workflows/vllm/state/benchmark.json").read_text())
    assert state["bundle"] == str(folder) and "concurrent:" in state["summary"]

    (folder / "report.md").unlink()
    listed = cli(root, "results")
    assert listed.returncode == 0 and folder.name in listed.stdout and "Rendered" in listed.stdout
    assert (folder / "report.md").exists()
    missing = cli(root, "results", "nope")
    assert missing.returncode == 2 and "no results bundle 'nope'" in missing.stderr


@pytest.mark.slow
def test_interrupt_keeps_a_partial_bundle_marked_incomplete(project) -> None:
    with StubInThread(StubBehaviour(ttft_s=0.01, itl_s=0.05)) as url:
        root = project(url, "CONFIG_VLLM_BENCHMARK_DURATION=60", "CONFIG_VLLM_BENCHMARK_WARMUP_SECONDS=0",
                       "CONFIG_VLLM_BENCHMARK_OUTPUT_TOKENS=30")
        env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"} | {"PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([*CLI, "--root", str(root), "benchmark", "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until the load starts (slow imports on a busy machine)
            if "benchmark of" in line:
                break
        time.sleep(4)  # requests of 30 tokens × 50 ms: some finish, some are in flight
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "INCOMPLETE (stopped by SIGINT)" in stdout
    (folder,) = [p for p in (root / "workflows/vllm/results").iterdir() if p.is_dir()]
    s = json.loads((folder / "summary.json").read_text())
    assert s["complete"] is False and s["stop_reason"] == "stopped by SIGINT"
    assert s["requests"]["ok"] > 0 and s["requests"]["cancelled"] > 0 and s["requests"]["failed"] == 0
    assert (folder / "report.html").exists()


def test_dead_endpoint_fails_in_seconds_and_writes_nothing(project) -> None:
    root = project("http://127.0.0.1:9")
    start = time.monotonic()
    out = cli(root, "benchmark")
    assert out.returncode == 2
    assert "http://127.0.0.1:9/v1/models does not answer" in out.stderr and "make vllm-status-simplified" in out.stderr
    assert time.monotonic() - start < 20
    assert not (root / "workflows/vllm/results").exists()


def test_results_with_nothing_yet(tmp_path: Path) -> None:
    out = cli(tmp_path, "results")
    assert out.returncode == 0 and "No results" in out.stdout


def test_measure_skips_when_benchmark_is_off(project) -> None:
    root = project("http://127.0.0.1:9", "# CONFIG_VLLM_BENCHMARK_ENABLED is not set")
    out = cli(root, "measure")
    assert out.returncode == 0 and "benchmark skipped" in out.stdout
