"""Our Grafana dashboard, generated from queries.py (one source for panels and monitor)."""

from __future__ import annotations

import json
from typing import Any

from .queries import ENGINE_PANELS, ROUTER_PANELS

UID = "vllm-workflow-stack"
VERSION = 1


def dashboard(datasource_uid: str = "prometheus") -> dict[str, Any]:
    panels = []
    for i, (title, (expr, unit)) in enumerate([*ENGINE_PANELS.items(), *ROUTER_PANELS.items()]):
        legend = "{{worker}}" if "worker" in expr or title.startswith("Router") else "{{instance}}"
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title,
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "datasource": {"type": "prometheus", "uid": datasource_uid},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": datasource_uid}}],
        })
    return {"uid": UID, "title": "vLLM production stack (vllm-workflow)", "version": VERSION,
            "schemaVersion": 39, "time": {"from": "now-30m", "to": "now"}, "refresh": "10s",
            "tags": ["vllm", "vllm-workflow"], "panels": panels}


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"
