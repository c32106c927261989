"""Grafana provisioning through its HTTP API, against a Grafana test double."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import yaml

from tests.doubles.grafana_stub import GrafanaStub
from vllm_workflow import cli
from vllm_workflow.observability import grafana
from vllm_workflow.observability.monitor import grafana_lines
from vllm_workflow.stack import Stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_provisions_datasource_and_dashboard_once() -> None:
    with GrafanaStub(token="glsa_test") as g:
        first = grafana.provision(g.url, "http://127.0.0.1:9090", "glsa_test")
        assert first.available and first.changed and "provisioned" in first.message
        ds = g.datasources["prometheus"]
        assert (ds["type"], ds["url"], ds["access"]) == ("prometheus", "http://127.0.0.1:9090", "proxy")
        board = g.dashboards["vllm-workflow-stack"]
        assert {p["datasource"]["uid"] for p in board["panels"]} == {"prometheus"}
        assert all(h.get("authorization") == "Bearer glsa_test" for m, path, h in g.requests if path != "/api/health")
        writes = sum(m in ("POST", "PUT") for m, _, _ in g.requests)
        second = grafana.provision(g.url, "http://127.0.0.1:9090", "glsa_test")
        assert second.available and not second.changed and "already provisioned" in second.message
        assert sum(m in ("POST", "PUT") for m, _, _ in g.requests) == writes  # nothing rewritten
        moved = grafana.provision(g.url, "http://127.0.0.1:9191", "glsa_test")
        assert moved.changed and g.datasources["prometheus"]["url"] == "http://127.0.0.1:9191"
        assert ("PUT", "/api/datasources/uid/prometheus") in [(m, p) for m, p, _ in g.requests]


def test_ab_arms_get_their_own_datasource_and_dashboard() -> None:
    with GrafanaStub() as g:
        grafana.provision(g.url, "http://127.0.0.1:9090", arm="baseline")
        grafana.provision(g.url, "http://127.0.0.1:10090", arm="dev")
        assert g.datasources["prometheus-dev"]["url"] == "http://127.0.0.1:10090"
        assert set(g.dashboards) == {"vllm-workflow-stack-baseline", "vllm-workflow-stack-dev"}


def test_a_wrong_token_names_the_setting() -> None:
    with GrafanaStub(token="right") as g, pytest.raises(grafana.GrafanaError, match="CONFIG_VLLM_GRAFANA_API_TOKEN"):
        grafana.provision(g.url, "http://127.0.0.1:9090", "wrong")


def test_no_grafana_is_reported_quickly() -> None:
    start = time.monotonic()
    outcome = grafana.provision(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:9090")
    assert not outcome.available and "no Grafana at" in outcome.message
    assert time.monotonic() - start < grafana.TIMEOUT_S


def project(tmp_path: Path, grafana_url: str) -> Path:
    state = tmp_path / "workflows/vllm/state/stacks"
    state.mkdir(parents=True)
    (tmp_path / "extra_vars.yaml").write_text(yaml.safe_dump({"vllm_grafana_url": grafana_url, "vllm_grafana_port": 3000}))
    (tmp_path / ".secrets.yaml").write_text(yaml.safe_dump({"vllm_grafana_api_token": ""}))
    (state / "localhost.json").write_text(json.dumps({
        "backend": "local", "host": "localhost", "model": "m", "routing": "roundrobin", "api_url": "http://127.0.0.1:1",
        "router": None, "engines": [], "prometheus_url": "http://127.0.0.1:9090"}))
    return tmp_path


def test_grafana_command_provisions_and_monitor_says_where(tmp_path: Path, capsys) -> None:
    with GrafanaStub() as g:
        root = project(tmp_path, g.url)
        args = ["--root", str(root), "grafana", "--extra-vars", str(root / "extra_vars.yaml"), "--report-changed"]
        assert cli.main(args) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"📊 localhost: Grafana dashboard {g.url}/d/vllm-workflow-stack")
        assert json.loads(out[-1]) == {"changed": True}
        assert cli.main(args) == 0 and json.loads(capsys.readouterr().out.splitlines()[-1]) == {"changed": False}
    stack = Stack.from_dict(json.loads((root / "workflows/vllm/state/stacks/localhost.json").read_text()))
    assert grafana_lines(stack, root)[0].startswith(f"   Grafana {g.url}: dashboard {g.url}/d/vllm-workflow-stack")


def test_grafana_command_without_grafana_writes_the_dashboard(tmp_path: Path, capsys) -> None:
    root = project(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert cli.main(["--root", str(root), "grafana", "--extra-vars", str(root / "extra_vars.yaml")]) == 1  # configured
    err_out = capsys.readouterr().out
    assert "dashboard for import written to" in err_out and "CONFIG_VLLM_GRAFANA_URL does not answer" in err_out
    assert json.loads((root / "workflows/vllm/generated/dashboards/vllm-workflow.json").read_text())["panels"]
