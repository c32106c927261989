"""Status of a deployed stack from real state: process manager, HTTP health, last results."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from . import remote
from .stack import Stack, quick_test_path
from .httpclient import auth_headers

HEALTHY, DEGRADED, DOWN, NOT_DEPLOYED = 0, 1, 2, 3


def http_status(url: str, api_key: str = "", timeout: float = 3.0) -> int | None:
    """HTTP status of a GET, or None when nothing answers."""
    try:
        return requests.get(url, timeout=timeout, headers=auth_headers(api_key)).status_code
    except requests.RequestException:
        return None


def http_ok(url: str, api_key: str = "", timeout: float = 3.0) -> bool:
    return http_status(url, api_key, timeout) == 200


def process_info(stack: Stack, root: Path | None = None) -> dict[str, Any] | None:
    """supervisord's view, read on the stack's own host; None when it cannot be read."""
    from .supervision import agent_call

    if remote.is_remote(stack) and root is None:
        return None
    return agent_call(stack, "status", root=root).answer


@dataclass
class Health:
    engines: dict[str, bool]
    router: bool | None
    processes: dict[str, Any] | None
    router_answers: bool = True

    @property
    def engines_up(self) -> int:
        return sum(self.engines.values())

    def verdict(self) -> int:
        if self.processes is not None and not self.processes.get("daemon"):
            return DOWN
        if self.engines_up == 0 or not self.router_answers:
            return DOWN
        if self.engines_up < len(self.engines) or self.router is False:
            return DEGRADED
        if self.processes and any(p["state"] != "RUNNING" for p in self.processes["processes"]):
            return DEGRADED
        return HEALTHY


def health(stack: Stack, api_key: str, root: Path | None = None) -> Health:
    engines = {e.name: http_ok(f"{e.url}/health", api_key) for e in stack.engines}
    code = http_status(f"{stack.router.url}/health", api_key) if stack.router else None
    router = code == 200 if stack.router else None
    return Health(engines, router, process_info(stack, root), router_answers=not stack.router or code is not None)


def _uptime(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _last(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


VERDICT_TEXT = {HEALTHY: "🟢 healthy", DEGRADED: "🟡 degraded", DOWN: "🔴 down"}


def simplified(stack: Stack, h: Health, state_dir: Path, emit: Callable[[str], None] = print) -> int:
    """The emoji summary; returns the verdict as exit status."""
    verdict = h.verdict()
    emit(f"🧭 {stack.host}: {stack.backend} backend — {VERDICT_TEXT[verdict]}")
    routing = stack.routing if not stack.router_policy else f"{stack.routing} ({stack.router_policy})"
    if stack.routing == "session":
        routing += f", key header {stack.session_header}"
    access = "🔒 API key required" if stack.api_key_required else "🔓 open (no API key)"
    emit(f"📦 model {stack.model} · routing {routing} · API {stack.api_url} · {access}")
    procs = {p["name"]: p for p in (h.processes or {}).get("processes", [])}
    if h.processes is None:
        emit("⚙️  process manager: could not be read on the host; HTTP health only")
    elif not h.processes.get("daemon"):
        emit("⚙️  supervisord: not running")
    else:
        emit("⚙️  supervisord: running")
    if stack.backend == "kubernetes":
        from .kubernetes import status as k8s

        for line in k8s.lines(stack, *k8s.get_pods(stack)):
            emit(line)
        endpoints = [e.name for e in stack.engines] + (["router"] if stack.router else [])
        procs |= {name: procs[k8s.forward_of(name)] for name in endpoints if k8s.forward_of(name) in procs}
    names = [e.name for e in stack.engines] + (["router"] if stack.router else [])
    for name in names:
        healthy = h.router if name == "router" else h.engines.get(name)
        p = procs.get(name)
        mark = "✅" if healthy else "❌"
        if p:
            run = p["state"].lower()
            extra = f"pid {p['pid']}, up {_uptime(p['uptime_s'])}, " if p["state"] == "RUNNING" else ""
            detail = f"{run} ({extra}restarts {p['restarts']})"
        else:
            detail = "process state unknown"
        emit(f"   {mark} {name:<10} {detail} · {'healthy' if healthy else 'not healthy'}")
    relay = procs.get("kv-relay")  # KV-aware routing: without it the router routes by load alone
    if relay:
        up = relay["state"] == "RUNNING"
        emit(f"   {'✅' if up else '❌'} {'kv-relay':<10} {relay['state'].lower()} (restarts {relay['restarts']}) · "
             + ("engines' KV events relayed to the router" if up else "KV-aware routing is blind without it"))
    router_text = "" if h.router is None else f" · router {'healthy' if h.router else 'NOT healthy'}"
    emit(f"🩺 engines healthy {h.engines_up}/{len(h.engines)}{router_text}")
    qt = _last(quick_test_path(state_dir, stack.host))
    if qt:
        mark = "✅" if not qt["failed"] else "❌"
        emit(f"🧪 last quick-test: {mark} {qt['passed']} passed, {qt['failed']} failed at {qt['time']}")
    else:
        emit("🧪 last quick-test: none yet")
    bench = _last(state_dir / "benchmark.json")
    emit(f"📊 last benchmark: {bench['summary']}" if bench else "📊 last benchmark: none yet")
    if verdict == HEALTHY:
        nxt = "make vllm-quick-test" if not qt or qt["failed"] else "make vllm-teardown when you are done"
    elif verdict == DEGRADED:
        nxt = "make vllm-deploy (restarts what is down), logs in " + stack.logs_dir
    else:
        nxt = "make vllm-deploy"
    emit(f"👉 next: {nxt}")
    return verdict


def detailed(stack: Stack, h: Health, emit: Callable[[str], None] = print) -> None:
    """Everything status knows, for `make vllm-status`."""
    emit(json.dumps({"stack": stack.raw, "health": {"engines": h.engines, "router": h.router},
                     "processes": h.processes}, indent=2))
