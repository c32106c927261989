"""Engine-side figures over a run, from each engine's Prometheus ``/metrics``.

Counters are read at the start of the measured window and at the end; the
differences give prefix-cache hit rate, preemptions and requests per engine.
Gauges (KV-cache usage, running and waiting requests) are sampled every second.
An engine that cannot be read is reported as such, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..metrics import samples

COUNTERS = {
    "prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "prefix_cache_hits": "vllm:prefix_cache_hits_total",
    "preemptions": "vllm:num_preemptions_total",
    "requests_finished": "vllm:request_success_total",
}
GAUGES = {
    "kv_cache_usage": "vllm:kv_cache_usage_perc",
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
}


def read(text: str) -> dict[str, float]:
    """The counters and gauges we use, summed over label sets; absent ones are left out."""
    wanted = {v: k for k, v in (COUNTERS | GAUGES).items()}
    out: dict[str, float] = {}
    for name, _labels, value in samples(text):
        key = wanted.get(name)
        if key is not None:
            out[key] = out.get(key, 0.0) + value
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def engine_delta(before: Mapping[str, float] | None, after: Mapping[str, float] | None) -> dict[str, Any]:
    """Counter differences of one engine; None where a side is missing (engine down, metric absent)."""
    out: dict[str, Any] = {}
    for key in COUNTERS:
        if before is None or after is None or key not in before or key not in after:
            out[key] = None
        else:
            d = after[key] - before[key]
            out[key] = d if d >= 0 else None  # a restart reset the counter: unknown
    out["prefix_cache_hit_rate"] = _ratio(out["prefix_cache_hits"], out["prefix_cache_queries"])
    return out


def gauge_stats(series: Sequence[Mapping[str, Any]], key: str) -> dict[str, float | None]:
    values = [s[key] for s in series if s.get(key) is not None]
    if not values:
        return {"mean": None, "max": None}
    return {"mean": sum(values) / len(values), "max": max(values)}


def summarize(
    names: Sequence[str],
    before: Mapping[str, Mapping[str, float] | None],
    after: Mapping[str, Mapping[str, float] | None],
    series: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Per-engine deltas and gauge statistics plus totals over all engines."""
    per: dict[str, Any] = {}
    for name in names:
        d = engine_delta(before.get(name), after.get(name))
        mine = [s for s in series if s["engine"] == name]
        d["kv_cache_usage"] = gauge_stats(mine, "kv_cache_usage")
        d["running"] = gauge_stats(mine, "running")
        d["waiting"] = gauge_stats(mine, "waiting")
        d["readable"] = before.get(name) is not None and after.get(name) is not None
        per[name] = d

    def add(key: str) -> float | None:
        vals = [p[key] for p in per.values() if p[key] is not None]
        return sum(vals) if vals else None

    totals = {key: add(key) for key in COUNTERS}
    totals["prefix_cache_hit_rate"] = _ratio(totals["prefix_cache_hits"], totals["prefix_cache_queries"])
    totals["kv_cache_usage"] = gauge_stats(series, "kv_cache_usage")
    return {"engines": per, "total": totals}
