"""Compose summary.json from a run: the one machine-readable result of a benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .bundle import SCHEMA, SCHEMA_VERSION
from .records import RequestRecord
from .stats import Slo, measured, summarize


def stage_summaries(records: Sequence[RequestRecord], stages: Sequence[Mapping[str, Any]],
                    slo: Slo) -> list[dict[str, Any]]:
    """Statistics per rate-sweep stage (requests belong to the stage they were sent in)."""
    out = []
    for st in stages:
        mine = [r for r in records if r.stage == st["name"]]
        out.append({"name": st["name"], "rate": st.get("rate"), "start": st.get("start"), "end": st.get("end"),
                    **summarize(mine, slo)})
    return out


def model_summaries(records: Sequence[RequestRecord], slo: Slo) -> dict[str, dict[str, Any]]:
    """Statistics per model of a mixed load (empty when every request named the one model); each
    model's throughput is over its own requests' window, its share of the measured requests beside."""
    names = sorted({r.model for r in records if r.model})
    if not names:
        return {}
    total = len(measured(records))
    out = {}
    for name in names:
        mine = [r for r in records if r.model == name]
        figures = summarize(mine, slo)
        out[name] = {"share": figures["requests"]["measured"] / total if total else None, **figures}
    return out


def compose(
    *,
    label: str,
    records: Sequence[RequestRecord],
    workload: Mapping[str, Any],
    target: Mapping[str, Any],
    slo: Slo,
    complete: bool,
    stop_reason: str,
    started_at: float,
    engine_metrics: Mapping[str, Any] | None = None,
    stages: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    created = datetime.fromtimestamp(started_at, timezone.utc).isoformat(timespec="seconds")
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "label": label,
        "created": created,
        "complete": complete,
        "stop_reason": stop_reason,
        "workload": dict(workload),
        "target": dict(target),
        **summarize(records, slo),
        "engine_metrics": dict(engine_metrics or {}),
        "stages": stage_summaries(records, stages, slo),
        "models": model_summaries(records, slo),
    }


def one_line(summary: Mapping[str, Any]) -> str:
    """A one-line digest for status output."""
    lat, thr, req = summary["latency_ms"], summary["throughput"], summary["requests"]

    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v:.0f} ms"

    hit = (summary.get("engine_metrics") or {}).get("total", {}).get("prefix_cache_hit_rate")
    parts = [f"{summary['workload']['name']}: {thr['requests_per_s'] or 0:.2f} req/s",
             f"TTFT p50 {ms(lat['ttft']['p50'])}", f"E2E p50 {ms(lat['e2e']['p50'])}",
             f"errors {req['failed']}/{req['measured']}"]
    if hit is not None:
        parts.append(f"prefix-cache hits {hit * 100:.0f} %")
    if not summary["complete"]:
        parts.append("INCOMPLETE")
    return ", ".join(parts) + f" ({summary['created']})"
