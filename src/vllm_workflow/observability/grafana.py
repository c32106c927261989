"""Provision a Grafana through its HTTP API: a Prometheus datasource and our dashboard.

Used after a local deploy when a Grafana answers (VLLM_GRAFANA_URL, or the stack's host at
VLLM_GRAFANA_PORT). Idempotent: what already matches is left alone and reported unchanged.
Every call has a timeout; the token travels in a header, never on a command line or in a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from .dashboards import UID, dashboard

TIMEOUT_S = 5.0
DATASOURCE_UID = "prometheus"
DATASOURCE_NAME = "vllm-workflow Prometheus"


@dataclass(frozen=True)
class Outcome:
    available: bool  # a Grafana answered /api/health
    changed: bool
    message: str


class GrafanaError(Exception):
    pass


def _session(token: str) -> requests.Session:
    s = requests.Session()
    s.headers["content-type"] = "application/json"
    if token:
        s.headers["authorization"] = f"Bearer {token}"
    return s


def _call(s: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    r = s.request(method, url, timeout=TIMEOUT_S, **kwargs)
    if r.status_code in (401, 403):
        raise GrafanaError(f"Grafana refused {method} {url.split('/api/', 1)[-1]} (HTTP {r.status_code}). Fix: set "
                           "CONFIG_VLLM_GRAFANA_API_TOKEN (or GRAFANA_API_TOKEN) to a service account token with the "
                           "Editor role")
    return r


def datasource_body(prometheus_url: str, arm: str = "") -> dict[str, Any]:
    suffix = f"-{arm}" if arm else ""
    return {"name": DATASOURCE_NAME + (f" ({arm})" if arm else ""), "uid": DATASOURCE_UID + suffix,
            "type": "prometheus", "access": "proxy", "url": prometheus_url, "isDefault": False,
            "jsonData": {"timeInterval": "5s"}}


def _datasource(s: requests.Session, base: str, want: dict[str, Any]) -> bool:
    uid = want["uid"]
    r = _call(s, "GET", f"{base}/api/datasources/uid/{uid}")
    if r.status_code == 200:
        have = r.json()
        if all(have.get(k) == want[k] for k in ("name", "type", "url", "access")):
            return False
        r = _call(s, "PUT", f"{base}/api/datasources/uid/{uid}", json=want | {"id": have.get("id")})
    else:
        r = _call(s, "POST", f"{base}/api/datasources", json=want)
    if r.status_code not in (200, 201):
        raise GrafanaError(f"Grafana did not take the datasource (HTTP {r.status_code}: {r.text[:200]})")
    return True


def _dashboard(s: requests.Session, base: str, board: dict[str, Any]) -> bool:
    r = _call(s, "GET", f"{base}/api/dashboards/uid/{board['uid']}")
    if r.status_code == 200:
        have = r.json().get("dashboard") or {}
        if have.get("panels") == board["panels"] and have.get("title") == board["title"]:
            return False
    r = _call(s, "POST", f"{base}/api/dashboards/db",
              json={"dashboard": {k: v for k, v in board.items() if k != "id"}, "overwrite": True,
                    "message": "provisioned by vllm-workflow"})
    if r.status_code not in (200, 201):
        raise GrafanaError(f"Grafana did not take the dashboard (HTTP {r.status_code}: {r.text[:200]})")
    return True


def provision(grafana_url: str, prometheus_url: str, token: str = "", arm: str = "") -> Outcome:
    """Create or update the datasource and dashboard; ``available`` is False when no Grafana answers.
    An A/B arm gets its own datasource and dashboard (uids suffixed with the arm)."""
    base = grafana_url.rstrip("/")
    s = _session(token)
    try:
        health = s.get(f"{base}/api/health", timeout=TIMEOUT_S)
        if health.status_code != 200:
            return Outcome(False, False, f"no Grafana at {base} (HTTP {health.status_code} from /api/health)")
    except requests.RequestException as exc:
        return Outcome(False, False, f"no Grafana at {base} ({type(exc).__name__})")
    ds = datasource_body(prometheus_url, arm)
    board = dashboard(ds["uid"], uid=UID + (f"-{arm}" if arm else ""),
                      title="vLLM production stack (vllm-workflow" + (f", {arm} arm)" if arm else ")"))
    try:
        changed = _datasource(s, base, ds)
        changed = _dashboard(s, base, board) or changed
    except (requests.RequestException, ValueError) as exc:
        raise GrafanaError(f"Grafana at {base} failed while provisioning ({type(exc).__name__}: {exc})") from exc
    state = "provisioned" if changed else "already provisioned"
    return Outcome(True, changed, f"dashboard {base}/d/{board['uid']} and datasource '{ds['name']}' ({prometheus_url}) "
                   f"{state}")
