"""The host's share of a benchmark run: kernel counters read on the stack's own host before and
after the run (``target/host_counters.py``), turned into figures over the run and per
request (issue 25).

The two snapshots bracket the whole run, warm-up included: taking one costs an SSH round trip
on a remote host, and doing that inside the measured window would perturb what it measures.
The figures are therefore over the run; per-request figures divide by every request the run
completed (warm-up ones too), so they stay consistent.

``take`` runs the reader (never fails a run: a host it cannot read gives ``unavailable``);
``figures`` is pure arithmetic over two snapshots; ``headline`` is the flat handful of
figures summary.json carries and the A/B compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .records import RequestRecord

READER = Path(__file__).resolve().parents[1] / "target" / "host_counters.py"
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def take(stack: Any, root: Path, perf: str = "") -> dict[str, Any]:
    """One snapshot of the stack's host, or ``{"unavailable": why}`` (Kubernetes, no process
    manager, an unreachable host, a reader that failed). ``perf``: "start" also starts perf stat
    on the engines' processes, "stop" stops it and reads its counts."""
    from .. import remote

    pm = stack.process_manager
    if stack.backend != "local" or not pm.get("conf"):
        return {"unavailable": f"host counters are read on local-backend hosts only (this stack: {stack.backend})"}
    python = str(pm.get("python") or "python3")
    request = {"conf": pm["conf"], **({"perf": perf} if perf else {})}
    result = remote.run(stack, [python, "-c", READER.read_text(), json.dumps(request)], root, timeout=60)
    if result.rc != 0:
        return {"unavailable": f"reading the host's counters failed (exit {result.rc}): "
                               f"{(result.stderr or result.stdout).strip()[-300:]}"}
    try:
        snap = json.loads(result.stdout)
    except ValueError:
        return {"unavailable": "the host's counters were not JSON: " + result.stdout[-200:]}
    return snap if isinstance(snap, dict) else {"unavailable": "the host's counters were not a JSON object"}


def with_sysctls(machine: Mapping[str, Any] | None, snapshot: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The deploy-time machine facts with the sysctls read at the run's start (they change without
    a reboot or a redeploy, so the run's own reading is the one that describes it)."""
    sysctl = (snapshot or {}).get("sysctl")
    if not machine or not isinstance(sysctl, Mapping):
        return machine
    return {**machine, "kernel_details": {**(machine.get("kernel_details") or {}), "sysctl": dict(sysctl)}}


def _d(after: Mapping[str, Any], before: Mapping[str, Any], *path: str) -> float | None:
    a: Any = after
    b: Any = before
    for key in path:
        a = a.get(key) if isinstance(a, Mapping) else None
        b = b.get(key) if isinstance(b, Mapping) else None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) - float(b)
    return None


def _rate(delta: float | None, seconds: float) -> float | None:
    return delta / seconds if delta is not None and seconds > 0 else None


def _per(value: float | None, count: float) -> float | None:
    return value / count if value is not None and count > 0 else None


def _per_cpu(before: Mapping[str, Any], after: Mapping[str, Any], tck: float, window: float) -> dict[str, float]:
    """Each core's busy share of the run (every mode but idle and iowait), in %."""
    out = {}
    for core, ticks in after.items():
        if core in before:
            busy = sum((ticks.get(m, 0) - before[core].get(m, 0)) for m in CPU_MODES if m not in ("idle", "iowait"))
            out[core] = busy / tck / window * 100
    return out


def program_limits(figures: Mapping[str, Any]) -> dict[str, Any]:
    """Each program's cgroup limits from a bundle's figures (for the A/B's host differences)."""
    progs = figures.get("programs") or {}
    if "unavailable" in progs:
        return {}
    return {name: p.get("limits") for name, p in progs.items() if isinstance(p.get("limits"), Mapping)
            and "unavailable" not in p["limits"]}


def _program(before: Mapping[str, Any], after: Mapping[str, Any], tck: float, window: float) -> dict[str, Any]:
    user, system = _d(after, before, "utime"), _d(after, before, "stime")
    cpu_s = (user + system) / tck if user is not None and system is not None else None
    out: dict[str, Any] = {
        "processes": after.get("processes"),
        "cpu_user_s": user / tck if user is not None else None,
        "cpu_system_s": system / tck if system is not None else None,
        "cpu_pct_of_core": cpu_s / window * 100 if cpu_s is not None and window > 0 else None,
        "rss_mb": (after.get("rss_kb") or 0) / 1024,
        "voluntary_ctxt_switches_per_s": _rate(_d(after, before, "voluntary_ctxt_switches"), window),
        "nonvoluntary_ctxt_switches_per_s": _rate(_d(after, before, "nonvoluntary_ctxt_switches"), window),
    }
    out["limits"] = dict(after.get("limits") or {"unavailable": "not read"})
    tb, ta = before.get("throttle") or {}, after.get("throttle") or {}
    if "unavailable" in ta or "nr_periods" not in tb:
        out["throttle"] = {"unavailable": ta.get("unavailable") or "no throttling counters before the run"}
    else:
        periods = _d(ta, tb, "nr_periods") or 0.0
        throttled = _d(ta, tb, "nr_throttled") or 0.0
        out["throttle"] = {"cgroup": ta.get("cgroup"), "periods": periods, "throttled_periods": throttled,
                           "throttled_fraction": throttled / periods if periods else 0.0,
                           "throttled_s": (_d(ta, tb, "throttled_ns") or 0.0) / 1e9}
    return out


def figures(before: Mapping[str, Any], after: Mapping[str, Any], records: Sequence[RequestRecord]) -> dict[str, Any]:
    """Figures over the run between two snapshots; ``unavailable`` with the reason when either is."""
    for snap in (before, after):
        if "unavailable" in snap:
            return {"unavailable": snap["unavailable"]}
    window = float(after.get("uptime", 0)) - float(before.get("uptime", 0))
    if window <= 0:
        return {"unavailable": "the two snapshots are not in order (did the host reboot during the run?)"}
    tck = float(after.get("clk_tck") or 100)
    cpus = int(after.get("cpus") or 1)
    done = [r for r in records if r.ok]
    requests, tokens = len(done), sum(r.output_tokens or 0 for r in done)
    ticks = {m: _d(after, before, "cpu", m) for m in CPU_MODES}
    cpu_s = {m: (t / tck if t is not None else None) for m, t in ticks.items()}
    busy = sum(v for m, v in cpu_s.items() if v is not None and m not in ("idle", "iowait"))
    out: dict[str, Any] = {
        "window_s": window,
        "requests": requests,
        "output_tokens": tokens,
        "cpus": cpus,
        "cpu_pct": {m: (v / (window * cpus) * 100 if v is not None else None) for m, v in cpu_s.items()},
        "cpu_seconds": cpu_s,
        "per_cpu_busy_pct": _per_cpu(before.get("per_cpu") or {}, after.get("per_cpu") or {}, tck, window),
        "context_switches_per_s": _rate(_d(after, before, "ctxt"), window),
        "interrupts_per_s": _rate(_d(after, before, "intr"), window),
        "procs_running_at_end": after.get("procs_running"),
        "loadavg_1m_at_end": (after.get("loadavg") or [None])[0],
        "page_faults_per_s": _rate(_d(after, before, "vmstat", "pgfault"), window),
        "major_page_faults_per_s": _rate(_d(after, before, "vmstat", "pgmajfault"), window),
        "swap_pages_per_s": _rate((_d(after, before, "vmstat", "pswpin") or 0) +
                                  (_d(after, before, "vmstat", "pswpout") or 0), window),
        "mem_available_mb_at_end": (after.get("mem_available_kb") or 0) / 1024,
        "network": {
            "rx_bytes_per_s": _rate(_d(after, before, "net", "rx_bytes"), window),
            "tx_bytes_per_s": _rate(_d(after, before, "net", "tx_bytes"), window),
            "rx_packets_per_s": _rate(_d(after, before, "net", "rx_packets"), window),
            "tx_packets_per_s": _rate(_d(after, before, "net", "tx_packets"), window),
            "drops": (_d(after, before, "net", "rx_drop") or 0) + (_d(after, before, "net", "tx_drop") or 0),
            "tcp_retransmits": _d(after, before, "tcp", "RetransSegs"),
            "tcp_out_segments": _d(after, before, "tcp", "OutSegs"),
        },
        "per_request": {
            "cpu_ms": _per(busy * 1000, requests),
            "system_cpu_ms": _per((cpu_s["system"] or 0) * 1000, requests),
            "context_switches": _per(_d(after, before, "ctxt"), requests),
            "page_faults": _per(_d(after, before, "vmstat", "pgfault"), requests),
        },
        "per_output_token": {"cpu_ms": _per(busy * 1000, tokens)},
    }
    pb, pa = before.get("psi") or {}, after.get("psi") or {}
    if "unavailable" in pa or not pb:
        out["psi_pct"] = {"unavailable": pa.get("unavailable") or "no pressure figures before the run"}
    else:
        out["psi_pct"] = {res: {kind: (_d(pa, pb, res, kind) or 0.0) / (window * 1e6) * 100 for kind in pa[res]}
                          for res in pa if res in pb}
    if "perf" in after or "perf" in before:
        out["perf"] = perf_figures(before.get("perf") or {}, after.get("perf") or {}, requests, tokens)
    progs_b, progs_a = before.get("programs") or {}, after.get("programs") or {}
    if "unavailable" in progs_a:
        out["programs"] = {"unavailable": progs_a["unavailable"]}
    else:
        out["programs"] = {name: _program(progs_b.get(name) or {}, prog, tck, window)
                           for name, prog in sorted(progs_a.items()) if name in progs_b}
        out["engines"] = _engines(out["programs"], requests)
    return out


def perf_figures(start: Mapping[str, Any], stop: Mapping[str, Any], requests: int, tokens: int) -> dict[str, Any]:
    """perf stat's counts of the engines' processes over the run; events the host cannot count
    (no hardware PMU in a VM) are listed with perf's reason."""
    for part in (start, stop):
        if "unavailable" in part:
            return {"unavailable": part["unavailable"]}
    events = stop.get("events") or {}
    cycles, instructions = events.get("cycles"), events.get("instructions")
    return {
        "events": events,
        "not_counted": list(stop.get("not_counted") or []),
        "user_space_only": bool(stop.get("user_space_only")),
        "ipc": instructions / cycles if cycles and instructions is not None else None,
        "context_switches_per_request": _per(events.get("context-switches"), requests),
        "cpu_migrations_per_request": _per(events.get("cpu-migrations"), requests),
        "task_clock_ms_per_output_token": _per(events.get("task-clock"), tokens),  # perf reports msec
        "cache_misses_per_request": _per(events.get("cache-misses"), requests),
    }


def _engines(programs: Mapping[str, Any], requests: int) -> dict[str, Any]:
    """The engines together: their CPU, involuntary switches and throttling."""
    engines = [p for name, p in programs.items() if name.startswith("engine-")]
    if not engines:
        return {}
    cpu = sum((p["cpu_user_s"] or 0) + (p["cpu_system_s"] or 0) for p in engines)
    throttles = [p["throttle"] for p in engines if "unavailable" not in p["throttle"]]
    periods = sum(t["periods"] for t in throttles)
    return {
        "cpu_s": cpu,
        "cpu_ms_per_request": _per(cpu * 1000, requests),
        "nonvoluntary_ctxt_switches_per_s": sum(p["nonvoluntary_ctxt_switches_per_s"] or 0 for p in engines),
        "throttled_fraction": (sum(t["throttled_periods"] for t in throttles) / periods if periods else 0.0)
        if throttles else None,
        "throttled_s": sum(t["throttled_s"] for t in throttles) if throttles else None,
    }


def headline(fig: Mapping[str, Any]) -> dict[str, Any]:
    """The figures summary.json carries under ``host`` (what the A/B compares)."""
    if "unavailable" in fig:
        return {"unavailable": fig["unavailable"]}
    engines = fig.get("engines") or {}
    psi = fig.get("psi_pct") or {}
    return {
        "cpu_ms_per_request": fig["per_request"]["cpu_ms"],
        "system_cpu_ms_per_request": fig["per_request"]["system_cpu_ms"],
        "context_switches_per_request": fig["per_request"]["context_switches"],
        "cpu_busy_pct": sum(v for m, v in fig["cpu_pct"].items() if v is not None and m not in ("idle", "iowait")),
        "softirq_pct": fig["cpu_pct"].get("softirq"),
        "psi_cpu_some_pct": (psi.get("cpu") or {}).get("some") if "unavailable" not in psi else None,
        "engine_cpu_ms_per_request": engines.get("cpu_ms_per_request"),
        "engine_nonvoluntary_ctxt_switches_per_s": engines.get("nonvoluntary_ctxt_switches_per_s"),
        "engine_throttled_fraction": engines.get("throttled_fraction"),
    }
