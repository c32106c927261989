"""Poll, every quarter second during a fault run, what each source says about every engine.

- the engine's own ``/health`` (answers 200, or not: refused, timed out, error);
- the router's metrics: per-engine health (``vllm_router_worker_health``), requests sent
  (``vllm_router_processed_requests_total``), successes (``vllm_router_cb_outcomes_total``
  with ``outcome="success"``) and circuit-breaker state (``vllm_router_cb_state``).

The router labels engines by the URL it sends to; an engine is matched by its port (the local
router reaches engines at the addresses deploy gave it). Where nothing matches (the chart's
router on Kubernetes exports none of these), the router fields stay ``None``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..metrics import samples

POLL_S = 0.25
ROUTER_FIELDS = {
    "vllm_router_worker_health": "router_health",
    "vllm_router_processed_requests_total": "router_processed",
    "vllm_router_cb_state": "cb_state",
}


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def router_view(text: str, engine_ports: dict[int, str]) -> dict[str, dict[str, float]]:
    """Per engine name: the router's health, sent, success and breaker figures for it."""
    out: dict[str, dict[str, float]] = {}
    for name, labels, value in samples(text):
        field = ROUTER_FIELDS.get(name)
        if name == "vllm_router_cb_outcomes_total" and labels.get("outcome") == "success":
            field = "router_success"
        if field is None:
            continue
        engine = engine_ports.get(_port(labels.get("worker", "")) or -1)
        if engine is not None:
            out.setdefault(engine, {})[field] = value
    return out


class Observer:
    """Collects observation rows until cancelled; ``rows`` is read live by the fault driver."""

    def __init__(self, engines: Sequence[tuple[str, str]], router_metrics_url: str | None,
                 headers: dict[str, str], clock: Callable[[], float]) -> None:
        self.engines = list(engines)  # (name, base url)
        self.router_metrics_url = router_metrics_url
        self.headers = headers
        self.clock = clock
        self.ports = {p: name for name, url in self.engines if (p := _port(url)) is not None}
        self.rows: list[dict[str, Any]] = []

    async def _health(self, http: aiohttp.ClientSession, url: str) -> bool:
        try:
            async with asyncio.timeout(1.0):
                async with http.get(url + "/health", headers=self.headers) as r:
                    return r.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def _router(self, http: aiohttp.ClientSession) -> dict[str, dict[str, float]]:
        if not self.router_metrics_url:
            return {}
        try:
            async with asyncio.timeout(1.0):
                async with http.get(self.router_metrics_url, headers=self.headers) as r:
                    return router_view(await r.text(), self.ports) if r.status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return {}

    async def poll_once(self, http: aiohttp.ClientSession) -> None:
        t = self.clock()
        router, *health = await asyncio.gather(self._router(http),
                                               *(self._health(http, url) for _, url in self.engines))
        for (name, _), ok in zip(self.engines, health):
            seen = router.get(name, {})
            self.rows.append({"t": round(t, 3), "engine": name, "engine_health": ok,
                              **{f: seen.get(f) for f in (*ROUTER_FIELDS.values(), "router_success")}})

    async def run(self, http: aiohttp.ClientSession) -> None:
        while True:
            started = self.clock()
            with contextlib.suppress(Exception):  # an observer must never end the run
                await self.poll_once(http)
            await asyncio.sleep(max(0.0, POLL_S - (self.clock() - started)))
