"""`make vllm-monitor`: where to look, whether every scrape target is up, and a live summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from ..console import table_lines
from ..stack import DEFAULT_STATE_DIR, GENERATED_DIR, Stack, grafana_state_path
from .dashboards import dashboard_json
from .queries import LOCAL, MONITOR_COLUMNS, PanelSet, for_stack

TIMEOUT_S = 5.0
OK, TARGET_DOWN, UNREACHABLE, OFF = 0, 1, 2, 3


def _get(url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    r = requests.get(url, params=params, timeout=TIMEOUT_S)
    r.raise_for_status()
    data = r.json()
    if data.get("status") != "success":
        raise ValueError(str(data.get("error", data)))
    return data["data"]


def targets(prom: str) -> list[dict[str, str]]:
    """Active scrape targets: job, instance, health, last error."""
    data = _get(prom + "/api/v1/targets", {"state": "active"})
    return [{"job": t["labels"].get("job", ""), "instance": t["labels"].get("instance", ""),
             "pod": t["labels"].get("pod", ""), "health": t.get("health", ""), "error": t.get("lastError", "")}
            for t in data["activeTargets"]]


def instant(prom: str, expr: str, by: str = "instance") -> dict[str, float]:
    """Engine (the ``by`` label) -> value of an instant query (NaN results left out)."""
    out = {}
    for r in _get(prom + "/api/v1/query", {"query": expr})["result"]:
        value = float(r["value"][1])
        if value == value:
            out[r["metric"].get(by, "")] = value
    return out


def _fmt(column: str, v: float | None) -> str:
    if v is None:
        return "–"
    if column in ("cache hits", "KV used"):
        return f"{v * 100:.1f} %"
    if column.startswith("TTFT"):
        return f"{v * 1000:.0f} ms"
    return f"{v:.2f}"


def write_dashboard(root: Path) -> Path:
    path = root / GENERATED_DIR / "dashboards/vllm-workflow.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dashboard_json())
    return path


def grafana_lines(stack: Stack, root: Path, state_dir: Path | None = None) -> list[str]:
    """Where the dashboards are: provisioned in Grafana, or written for import."""
    grafana = stack.grafana
    try:  # what the last local deploy's provisioning did (vllm-workflow grafana)
        path = grafana_state_path(state_dir or root / DEFAULT_STATE_DIR, stack.host)
        grafana = grafana or json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    lines = []
    if grafana.get("url"):
        lines.append(f"   Grafana {grafana['url']}: {grafana.get('provisioned') or 'dashboard not provisioned'}")
    else:
        lines.append(f"   Grafana dashboard to import: {write_dashboard(root)} (datasource uid 'prometheus')")
    for command in stack.kubernetes.get("port_forwards", []):
        lines.append(f"   port-forward (supervised by deploy): {command}")
    return lines


def monitor(stack: Stack, root: Path, emit: Callable[[str], None] = print, state_dir: Path | None = None) -> int:
    prom = stack.prometheus_url
    if not prom:
        emit(f"📈 {stack.host}: observability is off. Turn it on with CONFIG_VLLM_OBSERVABILITY_ENABLED=y "
             "(make menuconfig → Observability), then make vllm-deploy.")
        return OFF
    panels = for_stack(stack.raw)
    emit(f"📈 {stack.host}: Prometheus {prom} (graph: {prom}/graph, targets: {prom}/targets)")
    for line in grafana_lines(stack, root, state_dir):
        emit(line)
    try:
        found = targets(prom)
    except (requests.RequestException, ValueError, KeyError) as exc:
        emit(f"❌ Prometheus does not answer at {prom} ({type(exc).__name__}). Fix: make vllm-status-simplified, "
             "then make vllm-deploy.")
        return UNREACHABLE
    down = [t for t in found if t["health"] != "up"]
    emit(f"🎯 targets up {len(found) - len(down)}/{len(found)}")
    for t in down:
        emit(f"   ❌ {t['job']} {t['instance']}: {t['health'] or 'unknown'} {t['error']}".rstrip())
    values = {}
    for column, title in MONITOR_COLUMNS.items():
        try:
            values[column] = instant(prom, panels.engine[title][0], panels.by)
        except (requests.RequestException, ValueError, KeyError):
            values[column] = {}
    instances = sorted({t[panels.by] for t in found if panels.is_engine_job(t["job"])})
    head = ["engine", *MONITOR_COLUMNS]
    rows = [[i, *(_fmt(c, values[c].get(i)) for c in MONITOR_COLUMNS)] for i in instances]
    for line in table_lines(head, rows, indent=3):
        emit(line)
    return TARGET_DOWN if down else OK


#: Series a benchmark bundle keeps from Prometheus for its own time window (title in ENGINE_PANELS).
BUNDLE_SERIES = ("KV-cache usage", "Running requests", "Waiting requests", "Requests finished per second")


def range_series(prom: str, start: float, end: float, step_s: float = 1.0,
                 panels: PanelSet = LOCAL) -> dict[str, Any]:
    """Per-engine series over [start, end] (epoch seconds) for each of BUNDLE_SERIES, and the host's
    (node exporter) series of the panel set's host panels under ``host_series``."""
    out: dict[str, Any] = {"prometheus_url": prom, "start": start, "end": end, "step_s": step_s, "series": {}}
    wanted = [(title, panels.engine[title][0], "series", panels.by) for title in BUNDLE_SERIES]
    wanted += [(title, expr, "host_series", "instance") for title, (expr, _) in panels.host.items()]
    for title, expr, key, label in wanted:
        data = _get(prom + "/api/v1/query_range",
                    {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"})
        out.setdefault(key, {})[title] = {
            "expr": expr,
            "instances": {r["metric"].get(label, ""): [[float(t), float(v)] for t, v in r["values"]]
                          for r in data["result"]},
        }
    return out
