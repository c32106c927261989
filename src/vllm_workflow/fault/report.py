"""The fault section of a benchmark report: timeline, figures, goals, and a plot with the events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..benchmark.records import RequestRecord
from .analysis import EVENTS

#: Verdict marks readable without an emoji font.
MARKS = {"pass": "PASS", "fail": "FAIL", "not measurable": "N/A"}
LABELS = {
    "kill": "engine killed",
    "last_success": "last success from that engine",
    "engine_down": "engine /health stops answering",
    "detected": "router marks it unhealthy",
    "router_stopped": "router's last request to it",
    "restarted": "process manager restarts it",
    "healthy": "engine /health answers again",
    "readmitted": "router marks it healthy",
    "serving": "first request served by it again",
}


def _s(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def tables(fault: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    out = []
    for f in fault.get("faults", []):
        ev, k = f["events"], f["t"]
        rows = []
        for name, source in EVENTS:
            t = ev.get(name)
            rows.append([LABELS[name], _s(t), _s(None if t is None else t - k), source,
                         f.get("missing", {}).get(name, "")])
        out.append((f"Fault {f['n']}: {f['engine']} ({f['method']}) — timeline",
                    ["event", "t (s)", "since kill (s)", "source", "note"], rows))
        fig, req = f["figures"], f["figures"]["requests"]
        dip = req["throughput_dip"]
        out.append((f"Fault {f['n']}: figures", ["figure", "value"], [
            ["time to detection (s)", _s(fig["detection_s"])],
            ["time to recovery: kill to serving again (s)", _s(fig["recovery_s"])],
            ["engine's own start: restart to healthy (s)", _s(fig["engine_start_s"])],
            ["requests sent to it after detection", _s(fig["sent_after_detection"], 0)],
            ["requests in flight at the kill (failed)", f"{req['in_flight_at_kill']} ({req['in_flight_failed']})"],
            ["longest of them ended after the kill (s)", _s(req["in_flight_longest_end_s"], 2)],
            ["failed requests in the fault window", str(req["failed"])],
            ["throughput before / worst 5 s (req/s)",
             f"{_s(req['throughput_before_rps'], 2)} / {_s(req['throughput_worst_5s_rps'], 2)}"],
            ["throughput dip (worst 5 s against before)", "–" if dip is None else
             (f"{dip * 100:.0f} %" if dip > 0 else "none (no 5 s window below the steady state)")],
            ["TTFT p99 before / during the fault (ms)",
             f"{_s(req['ttft_p99_before_ms'])} / {_s(req['ttft_p99_fault_ms'])}"],
        ]))
        if req["failed_kinds"]:
            out.append((f"Fault {f['n']}: failed requests by kind", ["kind", "count"],
                        [[k, str(v)] for k, v in req["failed_kinds"].items()]))
        out.append((f"Fault {f['n']}: goals", ["goal", "value", "limit", "verdict", "what"],
                    [[g["goal"], _s(g["value"], 2), _s(g["limit"], 2), MARKS[g["verdict"]], g["detail"]]
                     for g in f["goals"]]))
    iso = fault.get("isolation")
    if iso:
        g = iso["goal"]
        rows = [[name or "(unnamed)", "killed" if name == iso["model"] else "serving", str(m["sent"]), str(m["ok"]),
                 str(m["failed"]), ", ".join(f"{k} × {v}" for k, v in m["failed_kinds"].items())]
                for name, m in iso["models"].items()]
        out.append((f"Outage of {iso['model']}: requests per model from {_s(iso['start'])} s to {_s(iso['end'])} s",
                    ["model", "engines", "sent", "ok", "failed", "failed by kind"], rows))
        out.append(("Outage: isolation goal", ["goal", "value", "limit", "verdict", "what"],
                    [[g["goal"], str(g["value"]), str(g["limit"]), MARKS[g["verdict"]], g["detail"]]]))
    if fault.get("note"):
        out.append(("Fault run note", ["note"], [[str(fault["note"])]]))
    return out


def plot(ax: Any, fault: Mapping[str, Any], records: Sequence[RequestRecord]) -> None:
    """Completed and failed requests per second, with every fault's events as vertical lines."""
    ends = [r.end for r in records if r.end is not None]
    last = int(max(ends, default=0.0)) + 1
    ok = [0] * (last + 1)
    bad = [0] * (last + 1)
    for r in records:
        if r.end is None:
            continue
        (ok if r.ok else bad)[int(r.end)] += 1
    xs = list(range(last + 1))
    ax.plot([x + 0.5 for x in xs], ok, label="completed/s", color="tab:blue")
    ax.bar(xs, bad, width=1.0, align="edge", label="failed/s", color="tab:red", alpha=0.7)
    styles = {"kill": ("black", "-"), "detected": ("tab:orange", "--"), "restarted": ("tab:purple", ":"),
              "healthy": ("tab:green", ":"), "readmitted": ("tab:olive", "--"), "serving": ("tab:green", "-")}
    for f in fault.get("faults", []):
        for name, (color, style) in styles.items():
            t = f["events"].get(name)
            if t is not None:
                ax.axvline(t, color=color, linestyle=style, linewidth=1,
                           label=f"{LABELS[name]}" if f["n"] == 1 else None)
    ax.set_xlabel("time (s since start)")
    ax.set_ylabel("requests per second")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
