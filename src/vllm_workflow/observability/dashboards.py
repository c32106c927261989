"""Our Grafana dashboards, generated from queries.py (one source for panels and monitor)."""

from __future__ import annotations

import json
from typing import Any

from .queries import LOCAL, PanelSet

UID = "vllm-workflow-stack"
VERSION = 1


def dashboard(datasource_uid: str = "prometheus", panels: PanelSet = LOCAL, uid: str = UID,
              title: str = "vLLM production stack (vllm-workflow)") -> dict[str, Any]:
    out = []
    items = [*((t, q, panels.by) for t, q in panels.engine.items()),
             *((t, q, panels.router_by) for t, q in panels.router.items())]
    for i, (name, (expr, unit), label) in enumerate(items):
        legend = f"{{{{{label}}}}}" if label in expr or name.startswith("Router") or name.endswith("up") else "{{instance}}"
        out.append({
            "id": i + 1, "type": "timeseries", "title": name,
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "datasource": {"type": "prometheus", "uid": datasource_uid},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": datasource_uid}}],
        })
    return {"uid": uid, "title": title, "version": VERSION,
            "schemaVersion": 39, "time": {"from": "now-30m", "to": "now"}, "refresh": "10s",
            "tags": ["vllm", "vllm-workflow"], "panels": out}


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def kubernetes_dashboard(namespace: str, datasource_uid: str = "prometheus") -> dict[str, Any]:
    """The dashboard of one release's namespace (an A/B arm has its own)."""
    from .queries import kubernetes

    return dashboard(datasource_uid, kubernetes(namespace), uid=f"vllm-workflow-{namespace}"[:40],
                     title=f"vLLM production stack (vllm-workflow, {namespace})")
