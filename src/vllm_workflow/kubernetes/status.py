"""What `make vllm-status-simplified` adds for the Kubernetes backend: the release, the pods,
the ports; the pods read through the kubernetes client (cluster.py, a timeout on every call)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


from ..stack import Stack

#: Which supervised port-forward carries which endpoint of the stack description.
FORWARD_OF = {"router": "port-forward-api", "engines": "port-forward-engines"}


def forward_of(endpoint: str) -> str:
    """The supervised port-forward behind a stack endpoint (engine-N has port-forward-engine-N)."""
    return FORWARD_OF.get(endpoint, f"port-forward-{endpoint}")


def pod_rows(pods: Mapping[str, Any]) -> list[dict[str, Any]]:
    """name, component, phase, ready, restarts and the first waiting reason of each pod."""
    rows = []
    for pod in pods.get("items") or []:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        containers = status.get("containerStatuses") or []
        waiting = next((c["state"]["waiting"].get("reason", "") for c in containers
                        if (c.get("state") or {}).get("waiting")), "")
        rows.append({
            "name": meta.get("name", "?"),
            "component": (meta.get("labels") or {}).get("app.kubernetes.io/component", ""),
            "phase": status.get("phase", "Unknown"),
            "ready": f"{sum(bool(c.get('ready')) for c in containers)}/{len(containers)}",
            "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
            "waiting": waiting,
        })
    return rows


def get_pods(stack: Stack, timeout: float = 10.0) -> tuple[list[dict[str, Any]] | None, str]:
    from .cluster import Cluster

    listing, error = Cluster(stack).list("pods", timeout)
    return (pod_rows(listing), "") if listing is not None else (None, error)


def lines(stack: Stack, pods: list[dict[str, Any]] | None, error: str) -> list[str]:
    k = stack.kubernetes
    out = [f"☸️  release {k.get('release')} ({k.get('chart')}) in namespace {k.get('namespace')}, "
           f"context {k.get('context') or '(current)'}"]
    if pods is None:
        out.append(f"   ❓ pods unknown: {error}")
    elif not pods:
        out.append("   ❌ no pods in the namespace")
    for p in pods or []:
        ok = p["phase"] == "Running" and p["ready"].split("/")[0] == p["ready"].split("/")[1]
        why = f", {p['waiting']}" if p["waiting"] else ""
        out.append(f"   {'✅' if ok else '❌'} {p['name']} ({p['component'] or 'pod'}): {p['phase']}, ready {p['ready']}, "
                   f"restarts {p['restarts']}{why}")
    ports = k.get("ports") or {}
    if ports:
        pods_ports = ", ".join(str(x) for x in ports.get("engine_pods") or [])
        out.append(f"🔌 here: API {ports.get('api')}, engines' service {ports.get('engines')}"
                   + (f", each engine pod {pods_ports}" if pods_ports else "")
                   + f" (kubectl port-forward, supervised) · in the cluster: engine HTTP {ports.get('engine_http')}, "
                   f"LMCache ZMQ {ports.get('lmcache_zmq')} and UCX {ports.get('lmcache_ucx')} (disaggregated prefill "
                   f"only), router LMCache controller {ports.get('router_lmcache_controller')} (KV-aware only)")
    return out
