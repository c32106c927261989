"""Reports for people: report.md and report.html with PNG plots, from a bundle's files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bundle import load_summary, read_jsonl, read_records
from .extensions import sections
from .records import RequestRecord
from .stats import measured, per_second

PLOTS = {
    "ttft-cdf.png": "Time to first token, cumulative distribution",
    "e2e-cdf.png": "End-to-end latency, cumulative distribution",
    "latency-over-time.png": "Latency of each request over the run",
    "throughput-over-time.png": "Completed requests and output tokens per second",
    "requests-per-engine.png": "Requests finished by each engine (engine counters)",
    "kv-cache-over-time.png": "KV-cache usage and running requests per engine",
    "prometheus-over-time.png": "From Prometheus: KV-cache usage and running requests per engine",
    "host-over-time.png": "From the node exporter: the host's CPU, CPU pressure and context switches",
    "fault-timeline.png": "Fault: completed and failed requests per second, with the failover events",
    "replicas-over-time.png": "Scale: ready replicas of each Deployment (from the cluster) and the offered load",
}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


HOST_ROWS = (("cpu_busy_pct", "host CPU busy (% of all CPUs)", 1), ("softirq_pct", "softirq (% of all CPUs)", 2),
             ("cpu_ms_per_request", "host CPU per request (ms)", 1),
             ("system_cpu_ms_per_request", "host system CPU per request (ms)", 1),
             ("context_switches_per_request", "context switches per request", 0),
             ("psi_cpu_some_pct", "CPU pressure, some (% of time)", 1),
             ("engine_cpu_ms_per_request", "engine CPU per request (ms)", 1),
             ("engine_nonvoluntary_ctxt_switches_per_s", "engine involuntary context switches/s", 0))


def host_table(host: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The host's share of the run (host-metrics.json has every figure)."""
    title = "Host (the stack's host over the run, warm-up included; all figures in host-metrics.json)"
    if "unavailable" in host:
        return title, ["figure", "value"], [["not recorded", str(host["unavailable"])]]
    rows = [[label, _fmt(host.get(key), digits)] for key, label, digits in HOST_ROWS]
    rows.append(["engine CPU-throttled periods", _pct(host.get("engine_throttled_fraction"))])
    return title, ["figure", "value"], rows


def tables(summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table of the report."""
    lat = summary["latency_ms"]
    out = [(
        "Latency (ms)", ["metric", "mean", "p50", "p90", "p95", "p99", "n"],
        [[k.upper(), *(_fmt(lat[k][f]) for f in ("mean", "p50", "p90", "p95", "p99")), str(lat[k]["n"])]
         for k in ("ttft", "itl", "tpot", "e2e")],
    )]
    req, thr, good = summary["requests"], summary["throughput"], summary["goodput"]
    slo = ", ".join(f"{k.removesuffix('_ms').upper()} ≤ {v:g} ms" for k, v in good["slo"].items() if v) or "none"
    out.append((
        "Throughput and errors", ["figure", "value"],
        [["requests/s", _fmt(thr["requests_per_s"], 2)],
         ["output tokens/s", _fmt(thr["output_tokens_per_s"])],
         ["input tokens/s", _fmt(thr["input_tokens_per_s"])],
         [f"goodput requests/s (SLO: {slo})", _fmt(good["requests_per_s"], 2)],
         ["goodput fraction", _pct(good["fraction"])],
         ["measured requests (ok / failed)", f"{req['measured']} ({req['ok']} / {req['failed']})"],
         ["error rate", _pct(req["error_rate"])],
         ["warm-up requests (excluded)", str(req["warmup"])],
         ["measured window", f"{summary['window_s']:.1f} s"]],
    ))
    if req["errors"]:
        out.append(("Errors", ["kind", "count"], [[k, str(v)] for k, v in req["errors"].items()]))
    eng = summary.get("engine_metrics") or {}
    if eng.get("engines"):
        rows = [[name, _fmt(e["requests_finished"], 0), _pct(e["prefix_cache_hit_rate"]),
                 _pct(e["kv_cache_usage"]["mean"]), _pct(e["kv_cache_usage"]["max"]), _fmt(e["preemptions"], 0)]
                for name, e in eng["engines"].items()]
        t = eng["total"]
        rows.append(["all", _fmt(t["requests_finished"], 0), _pct(t["prefix_cache_hit_rate"]),
                     _pct(t["kv_cache_usage"]["mean"]), _pct(t["kv_cache_usage"]["max"]), _fmt(t["preemptions"], 0)])
        out.append(("Engines (from /metrics over the measured window)",
                    ["engine", "requests", "prefix-cache hit rate", "KV usage mean", "KV usage max", "preemptions"],
                    rows))
    host = summary.get("host") or {}
    if host:
        out.append(host_table(host))
    if summary.get("models"):
        out.append(("Models (the load's mix; each model's requests and window)",
                    ["model", "share", "ok", "failed", "req/s", "TTFT p50", "TTFT p95", "TPOT p50", "E2E p50"],
                    [[name, _pct(m["share"]), str(m["requests"]["ok"]), str(m["requests"]["failed"]),
                      _fmt(m["throughput"]["requests_per_s"], 2),
                      _fmt(m["latency_ms"]["ttft"]["p50"]), _fmt(m["latency_ms"]["ttft"]["p95"]),
                      _fmt(m["latency_ms"]["tpot"]["p50"]), _fmt(m["latency_ms"]["e2e"]["p50"])]
                     for name, m in summary["models"].items()]))
    if summary.get("stages"):
        out.append(("Stages", ["stage", "ok", "failed", "req/s", "TTFT p50", "TTFT p95", "E2E p50", "E2E p95"],
                    [[s["name"], str(s["requests"]["ok"]), str(s["requests"]["failed"]),
                      _fmt(s["throughput"]["requests_per_s"], 2),
                      _fmt(s["latency_ms"]["ttft"]["p50"]), _fmt(s["latency_ms"]["ttft"]["p95"]),
                      _fmt(s["latency_ms"]["e2e"]["p50"]), _fmt(s["latency_ms"]["e2e"]["p95"])]
                     for s in summary["stages"]]))
    if summary.get("replicas"):
        out.append(("Replicas (from the cluster, every 5 s)",
                    ["deployment", "ready min", "ready max", "desired max", "first at max (s)"],
                    [[name, str(r["ready_min"]), str(r["ready_max"]), str(r["desired_max"]), _fmt(r["first_at_max_s"])]
                     for name, r in summary["replicas"].items()]))
    for ext, section in sections(summary):
        out += ext.tables(section)
    return out


def _cdf(ax: Any, values_ms: Sequence[float], label: str) -> None:
    s = sorted(values_ms)
    if s:
        ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=label)


def plots(bundle: Path, summary: dict[str, Any], records: list[RequestRecord],
          series: list[dict[str, Any]], prom: dict[str, Any] | None = None,
          replicas: list[dict[str, Any]] | None = None) -> list[str]:
    """Write the PNGs; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in measured(records) if r.ok]
    made: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(bundle / name, dpi=100)
        plt.close(fig)
        made.append(name)

    for name, attr, xlabel in (("ttft-cdf.png", "ttft", "TTFT (ms)"), ("e2e-cdf.png", "e2e", "E2E latency (ms)")):
        fig, ax = plt.subplots(figsize=(7, 4))
        _cdf(ax, [getattr(r, attr) * 1000 for r in ok], summary.get("label", ""))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction of requests")
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
        ax.set_title(PLOTS[name])
        save(fig, name)

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter([r.send for r in ok], [r.e2e * 1000 for r in ok], s=6, label="E2E", alpha=0.6)  # type: ignore[operator]
    ax.scatter([r.send for r in ok], [r.ttft * 1000 for r in ok], s=6, label="TTFT", alpha=0.6)  # type: ignore[operator]
    bad = [r for r in measured(records) if not r.ok]
    if bad:
        ax.scatter([r.send for r in bad], [0] * len(bad), marker="x", color="red", label="failed")
    ax.set_xlabel("send time (s since start)")
    ax.set_ylabel("ms")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(PLOTS["latency-over-time.png"])
    save(fig, "latency-over-time.png")

    buckets = per_second(measured(records))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([b["t"] for b in buckets], [b["requests_per_s"] for b in buckets], label="requests/s")
    ax.set_xlabel("time (s since start)")
    ax.set_ylabel("requests/s")
    ax2 = ax.twinx()
    ax2.plot([b["t"] for b in buckets], [b["tokens_per_s"] for b in buckets], color="tab:orange", label="tokens/s")
    ax2.set_ylabel("output tokens/s")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(PLOTS["throughput-over-time.png"])
    save(fig, "throughput-over-time.png")

    engines = (summary.get("engine_metrics") or {}).get("engines") or {}
    if engines:
        fig, ax = plt.subplots(figsize=(6, 4))
        names = list(engines)
        ax.bar(names, [engines[n]["requests_finished"] or 0 for n in names])
        ax.set_ylabel("requests finished")
        ax.set_title(PLOTS["requests-per-engine.png"])
        save(fig, "requests-per-engine.png")
    if series:
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        for name in sorted({s["engine"] for s in series}):
            mine = [s for s in series if s["engine"] == name]
            a1.plot([s["t"] for s in mine], [(s.get("kv_cache_usage") or 0) * 100 for s in mine], label=name)
            a2.plot([s["t"] for s in mine], [s.get("running") or 0 for s in mine], label=name)
        a1.set_ylabel("KV cache used (%)")
        a2.set_ylabel("running requests")
        a2.set_xlabel("time (s since start)")
        a1.legend()
        a1.set_title(PLOTS["kv-cache-over-time.png"])
        save(fig, "kv-cache-over-time.png")
    for ext, section in sections(summary):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ext.plot(ax, section, records)
        ax.set_title(PLOTS.get(ext.plot_file, ext.workload))
        save(fig, ext.plot_file)
    if replicas:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for name in sorted({r["deployment"] for r in replicas if "deployment" in r}):
            mine = [r for r in replicas if r.get("deployment") == name]
            ax.step([r["t"] for r in mine], [r["ready"] for r in mine], where="post", label=f"{name} ready")
        ax.set_xlabel("time (s since start)")
        ax.set_ylabel("ready replicas")
        ax2 = ax.twinx()
        for st in summary.get("stages") or []:
            ax2.hlines(st.get("rate") or 0, st.get("start", 0), st.get("end", 0), color="grey", alpha=0.6)
        ax2.set_ylabel("offered requests/s (grey)")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
        ax.set_title(PLOTS["replicas-over-time.png"])
        save(fig, "replicas-over-time.png")
    if prom and prom.get("series"):
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        t0 = prom["start"]
        for axis, title, scale in ((a1, "KV-cache usage", 100), (a2, "Running requests", 1)):
            for instance, points in sorted(prom["series"].get(title, {}).get("instances", {}).items()):
                axis.plot([t - t0 for t, _ in points], [v * scale for _, v in points], label=instance)
        a1.set_ylabel("KV cache used (%)")
        a2.set_ylabel("running requests")
        a2.set_xlabel("time (s since start)")
        if a1.get_lines():
            a1.legend()
        a1.set_title(PLOTS["prometheus-over-time.png"])
        save(fig, "prometheus-over-time.png")
    host = (prom or {}).get("host_series") or {}
    if any(s.get("instances") for s in host.values()):
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        t0 = prom["start"]  # the run's start: the same time axis as the latency and throughput plots
        for title, style in (("Host CPU busy", "-"), ("Host system CPU", "--"), ("Host CPU pressure", ":")):
            for instance, points in sorted(host.get(title, {}).get("instances", {}).items()):
                a1.plot([t - t0 for t, _ in points], [v * 100 for _, v in points], style, label=f"{title} {instance}")
        for instance, points in sorted(host.get("Host context switches per second", {}).get("instances", {}).items()):
            a2.plot([t - t0 for t, _ in points], [v for _, v in points], label=instance)
        a1.set_ylabel("% of all CPUs (of time)")
        a2.set_ylabel("context switches/s")
        a2.set_xlabel("time (s since start)")
        if a1.get_lines():
            a1.legend(fontsize=7)
        a1.set_title(PLOTS["host-over-time.png"])
        save(fig, "host-over-time.png")
    return made


def _header(summary: dict[str, Any]) -> list[tuple[str, str]]:
    t = summary["target"]
    w = summary["workload"]
    params = ", ".join(f"{k}={v}" for k, v in w.items() if k != "name")
    state = "complete" if summary["complete"] else f"INCOMPLETE ({summary['stop_reason']})"
    return [("run", f"{summary['label']} — {summary['created']} — {state}"),
            ("stack", f"{t['backend']} backend on {t['host']}, model {t['model']}, routing {t['routing']}, "
                      f"{len(t['engines'])} engine(s), {t['api_url']}"),
            ("workload", f"{w['name']} ({params})")]


def markdown(summary: dict[str, Any], images: Sequence[str]) -> str:
    from ..templates import render as render_template

    return render_template("benchmark.md.j2", summary=summary, header=_header(summary), tables=tables(summary),
                           images=images, plots=PLOTS)


def html_page(summary: dict[str, Any], images: Sequence[str]) -> str:
    from ..templates import render as render_template

    return render_template("benchmark.html.j2", summary=summary, header=_header(summary), tables=tables(summary),
                           images=images, plots=PLOTS)


def render(bundle: Path) -> list[Path]:
    """(Re)write report.md, report.html and the plots of a bundle; return the report paths."""
    summary = load_summary(bundle)
    records = read_records(bundle / "requests.jsonl")
    series = read_jsonl(bundle / "engine-metrics.jsonl")
    prom_path = bundle / "prometheus-series.json"
    prom = json.loads(prom_path.read_text()) if prom_path.exists() else None
    replicas = read_jsonl(bundle / "replicas.jsonl") if (bundle / "replicas.jsonl").exists() else None
    images = plots(bundle, summary, records, series, prom, replicas)
    (bundle / "report.md").write_text(markdown(summary, images))
    (bundle / "report.html").write_text(html_page(summary, images))
    return [bundle / "report.md", bundle / "report.html"]
