"""From what was observed during a fault run to a timeline, figures and goal verdicts (pure).

Inputs, all on the run clock (seconds since the run started):

- ``faults``: what the injector did, ``{"n", "engine", "t", "method"}``;
- ``observations``: rows the observer polled every quarter second, one per engine:
  ``{"t", "engine", "engine_health", "router_health", "router_processed", "router_success",
  "cb_state"}`` (router fields are ``None`` where the router does not export them);
- ``pm_events``: the process manager's own record (supervisord's log, or Kubernetes' pod
  events): ``{"t", "engine", "event", "source", ...}``;
- the client's request records.

Each timeline event comes from its own source and says which. An event that was not
observed is ``None`` with the reason in ``missing``; a goal that cannot be decided without it
is reported as not measurable, never as passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..benchmark.records import RequestRecord
from ..benchmark.stats import error_kind, failure, percentile

#: Order of the timeline events (and their sources), as a report lists them.
EVENTS = (
    ("kill", "injector"),
    ("last_success", "router metrics (successes per engine)"),
    ("engine_down", "engine /health"),
    ("detected", "router metrics (engine health)"),
    ("router_stopped", "router metrics (requests sent per engine)"),
    ("restarted", "process manager"),
    ("healthy", "engine /health"),
    ("readmitted", "router metrics (engine health)"),
    ("serving", "router metrics (successes per engine)"),
)


@dataclass(frozen=True)
class Goals:
    """Thresholds from Kconfig (VLLM_FAULT_MAX_INFLIGHT_END_S, VLLM_FAULT_RECOVERY_MARGIN_S)."""

    max_inflight_end_s: float = 5.0
    recovery_margin_s: float = 10.0


def _rows(observations: Sequence[Mapping[str, Any]], engine: str) -> list[Mapping[str, Any]]:
    return sorted((o for o in observations if o.get("engine") == engine), key=lambda o: o["t"])


def _first(rows: Sequence[Mapping[str, Any]], since: float, test: Any) -> float | None:
    return next((o["t"] for o in rows if o["t"] >= since and test(o)), None)


def _increases(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """Times at which counter ``key`` was seen higher than at the poll before."""
    out, prev = [], None
    for o in rows:
        value = o.get(key)
        if value is not None and prev is not None and value > prev:
            out.append(o["t"])
        if value is not None:
            prev = value
    return out


def _value_at(rows: Sequence[Mapping[str, Any]], key: str, t: float) -> float | None:
    """The last value of ``key`` polled at or before ``t``."""
    value = None
    for o in rows:
        if o["t"] > t:
            break
        if o.get(key) is not None:
            value = o[key]
    return value


def serving_again(rows: Sequence[Mapping[str, Any]], kill_t: float) -> float | None:
    """When the killed engine served through the router again: the first rise of the router's
    success count for it after it was readmitted (or, without router health, after /health)."""
    healthy = _healthy_after(rows, kill_t)
    if healthy is None:
        return None
    readmitted = _first(rows, _detected(rows, kill_t) or healthy, lambda o: o.get("router_health") == 1)
    since = readmitted if readmitted is not None else healthy
    return next((t for t in _increases(rows, "router_success") if t > since), None)


def _detected(rows: Sequence[Mapping[str, Any]], kill_t: float) -> float | None:
    return _first(rows, kill_t, lambda o: o.get("router_health") == 0)


def _healthy_after(rows: Sequence[Mapping[str, Any]], kill_t: float) -> float | None:
    down = _first(rows, kill_t, lambda o: o.get("engine_health") is False)
    if down is None:
        return None
    return _first(rows, down, lambda o: o.get("engine_health") is True)


def timeline(fault: Mapping[str, Any], observations: Sequence[Mapping[str, Any]],
             pm_events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every event of one fault (run-clock seconds, or None) and why an absent one is absent."""
    engine, k = fault["engine"], float(fault["t"])
    rows = _rows(observations, engine)
    router_seen = any(o.get("router_health") is not None for o in rows)
    ev: dict[str, float | None] = {"kill": k}
    successes = _increases(rows, "router_success")
    ev["engine_down"] = _first(rows, k, lambda o: o.get("engine_health") is False)
    ev["detected"] = _detected(rows, k)
    ev["last_success"] = max((t for t in successes if t <= (ev["detected"] or k + 2.0)), default=None)
    ev["healthy"] = _healthy_after(rows, k)
    sent = [t for t in _increases(rows, "router_processed") if t >= k and (ev["healthy"] is None or t < ev["healthy"])]
    ev["router_stopped"] = max(sent, default=k) if router_seen else None
    mine = sorted((e for e in pm_events if e.get("engine") == engine and e["t"] >= k - 0.5), key=lambda e: e["t"])
    ev["restarted"] = next((e["t"] for e in mine if e.get("event") in ("spawned", "pod-created")), None)
    ev["readmitted"] = _first(rows, ev["detected"] or k, lambda o: o.get("router_health") == 1) \
        if ev["detected"] is not None else None
    ev["serving"] = serving_again(rows, k)
    missing = {}
    if not router_seen:
        for name in ("last_success", "detected", "router_stopped", "readmitted"):
            missing[name] = "the router exports no per-engine health or request counts for this engine"
    for name, _source in EVENTS:
        if ev.get(name) is None and name not in missing:
            missing[name] = "not observed before the run ended"
    return {"events": ev, "sources": dict(EVENTS), "missing": missing,
            "pm_events": [dict(e) for e in mine]}


def _sent_after_detection(rows: Sequence[Mapping[str, Any]], ev: Mapping[str, float | None]) -> float | None:
    """Requests the router sent to the engine between detection and the engine being healthy."""
    detected, until = ev.get("detected"), ev.get("healthy") or ev.get("readmitted")
    if detected is None or until is None:
        return None
    a, b = _value_at(rows, "router_processed", detected), _value_at(rows, "router_processed", until)
    return None if a is None or b is None else max(b - a, 0.0)


def _rate(records: Sequence[RequestRecord], start: float, end: float) -> float | None:
    if end - start <= 0:
        return None
    return sum(1 for r in records if r.ok and r.end is not None and start <= r.end < end) / (end - start)


def request_figures(records: Sequence[RequestRecord], kill_t: float, until: float,
                    warmup_s: float) -> dict[str, Any]:
    """What the clients saw: requests in flight at the kill, failures in the fault window, the
    throughput dip (worst 5 s window against the steady state before the kill) and p99 TTFT."""
    in_flight = [r for r in records if r.send <= kill_t and (r.end is None or r.end > kill_t)]
    ends = [(r.end - kill_t) if r.end is not None else float("inf") for r in in_flight]
    window = [r for r in records if kill_t <= r.send < until or r in in_flight]
    failed = [r for r in window if not r.ok]
    kinds: dict[str, int] = {}
    for r in failed:
        kind = "cancelled" if r.cancelled else error_kind(failure(r))
        kinds[kind] = kinds.get(kind, 0) + 1
    base = _rate(records, min(warmup_s, kill_t), kill_t)
    step, width = 1.0, 5.0
    windows = []
    t = kill_t
    while t + width <= max(until, kill_t + width):
        windows.append(_rate(records, t, t + width) or 0.0)
        t += step
    worst = min(windows) if windows else None
    ttft_before = [r.ttft * 1000 for r in records if r.ok and r.ttft is not None and warmup_s <= r.send < kill_t]
    ttft_fault = [r.ttft * 1000 for r in window if r.ok and r.ttft is not None]
    return {
        "in_flight_at_kill": len(in_flight),
        "in_flight_failed": sum(1 for r in in_flight if not r.ok),
        "in_flight_longest_end_s": max(ends) if ends else 0.0,
        "failed": len(failed),
        "failed_kinds": kinds,
        "requests_in_window": len(window),
        "throughput_before_rps": base,
        "throughput_worst_5s_rps": worst,
        "throughput_dip": (1 - worst / base) if base and worst is not None else None,
        "ttft_p99_before_ms": percentile(ttft_before, 99) if ttft_before else None,
        "ttft_p99_fault_ms": percentile(ttft_fault, 99) if ttft_fault else None,
    }


def goal_verdicts(figures: Mapping[str, Any], goals: Goals) -> list[dict[str, Any]]:
    """The issue's three goals: pass, fail or not measurable (with the figure and the limit)."""
    longest = figures["requests"]["in_flight_longest_end_s"]
    sent = figures.get("sent_after_detection")
    recovery, start = figures.get("recovery_s"), figures.get("engine_start_s")
    out = [{
        "goal": "in-flight requests end",
        "detail": f"every request in flight at the kill ended within {goals.max_inflight_end_s:g} s",
        "value": longest, "limit": goals.max_inflight_end_s,
        "verdict": "pass" if longest <= goals.max_inflight_end_s else "fail",
    }, {
        "goal": "no traffic to the dead engine",
        "detail": "requests the router sent to the killed engine after detecting it, until it was healthy",
        "value": sent, "limit": 0,
        "verdict": "not measurable" if sent is None else ("pass" if sent == 0 else "fail"),
    }]
    if recovery is None:
        verdict, limit = "fail", None
    elif start is None:
        verdict, limit = "not measurable", None
    else:
        limit = start + goals.recovery_margin_s
        verdict = "pass" if recovery <= limit else "fail"
    out.append({"goal": "recovery",
                "detail": f"kill to serving through the router again within the engine's own start time "
                          f"+ {goals.recovery_margin_s:g} s" + ("" if recovery is not None else " (never recovered)"),
                "value": recovery, "limit": limit, "verdict": verdict})
    return out


def isolation(model: str, faults: Sequence[Mapping[str, Any]], records: Sequence[RequestRecord],
              run_end: float) -> dict[str, Any]:
    """One model's outage (every engine of it killed at once): what requests for each model saw
    from the first kill until the last killed engine served again (or the run ended), and the goal
    that the other models saw no error (not measurable when none of their requests fell in it)."""
    start = min(float(f["t"]) for f in faults)
    ends = [f["events"]["serving"] for f in faults]
    end = run_end if any(e is None for e in ends) else max(ends)
    inside = [r for r in records if start <= r.send < end or (r.send < start and (r.end is None or r.end > start))]
    per_model: dict[str, dict[str, Any]] = {}
    for r in inside:
        row = per_model.setdefault(r.model or "", {"sent": 0, "ok": 0, "failed": 0, "failed_kinds": {}})
        row["sent"] += 1
        if r.ok:
            row["ok"] += 1
        else:
            row["failed"] += 1
            kind = "cancelled" if r.cancelled else error_kind(failure(r))
            row["failed_kinds"][kind] = row["failed_kinds"].get(kind, 0) + 1
    others = {name: row for name, row in per_model.items() if name != model}
    sent = sum(row["sent"] for row in others.values())
    failed = sum(row["failed"] for row in others.values())
    goal = {"goal": "other models unaffected",
            "detail": f"requests for the models other than {model} during its outage ({end - start:.1f} s) "
                      "all succeed",
            "value": failed, "limit": 0,
            "verdict": "not measurable" if sent == 0 else ("pass" if failed == 0 else "fail")}
    return {"model": model, "start": start, "end": end, "models": dict(sorted(per_model.items())),
            "goal": goal}


def analyse(faults: Sequence[Mapping[str, Any]], observations: Sequence[Mapping[str, Any]],
            pm_events: Sequence[Mapping[str, Any]], records: Sequence[RequestRecord], run_end: float,
            warmup_s: float, goals: Goals, outage_model: str | None = None) -> dict[str, Any]:
    """summary["fault"]: one entry per fault with timeline, figures and goals; overall verdict.
    ``outage_model``: the faults are one model's engines killed together (each fault's window then
    runs to its own recovery, and the isolation of the other models is a goal of its own)."""
    out = []
    for i, fault in enumerate(faults):
        tl = timeline(fault, observations, pm_events)
        ev = tl["events"]
        k = float(fault["t"])
        nxt = float(faults[i + 1]["t"]) if i + 1 < len(faults) and not outage_model else run_end
        until = min(ev["serving"] if ev["serving"] is not None else run_end, nxt)
        rows = _rows(observations, fault["engine"])

        def since_kill(name: str, ev: Mapping[str, float | None] = ev, k: float = k) -> float | None:
            return None if ev.get(name) is None else ev[name] - k  # type: ignore[operator]

        figures: dict[str, Any] = {
            "detection_s": since_kill("detected"),
            "engine_down_s": since_kill("engine_down"),
            "restart_s": since_kill("restarted"),
            "engine_start_s": (ev["healthy"] - ev["restarted"]
                               if ev["healthy"] is not None and ev["restarted"] is not None else None),
            "recovery_s": since_kill("serving"),
            "sent_after_detection": _sent_after_detection(rows, ev),
            "requests": request_figures(records, k, until, warmup_s),
        }
        verdicts = goal_verdicts(figures, goals)
        out.append({**dict(fault), **tl, "figures": figures, "goals": verdicts})
    verdicts = [g["verdict"] for f in out for g in f["goals"]]
    extra: dict[str, Any] = {}
    if outage_model and out:
        extra["isolation"] = isolation(outage_model, out, records, run_end)
        verdicts.append(extra["isolation"]["goal"]["verdict"])
    overall = "fail" if "fail" in verdicts else ("not measurable" if "not measurable" in verdicts else "pass")
    return {"faults": out, "verdict": overall, **extra,
            "goal_limits": {"max_inflight_end_s": goals.max_inflight_end_s,
                            "recovery_margin_s": goals.recovery_margin_s}}
