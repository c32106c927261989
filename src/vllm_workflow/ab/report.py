"""The comparison report: verdict, what changed, side-by-side table with CIs, plots."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..benchmark.records import RequestRecord
from ..benchmark.stats import measured
from . import hostdiff, stats

ICONS = {stats.IMPROVEMENT: "🟢", stats.REGRESSION: "🔴", stats.NO_CHANGE: "⚪", stats.INCONCLUSIVE: "🟡",
         stats.HIGHER: "🔺", stats.LOWER: "🔻"}
#: The HTML report marks verdicts with coloured text, not emoji: a browser without an emoji font (headless
#: Chromium on Debian) draws those as empty boxes.
BADGE_CSS = (".badge{padding:0 .4em;border-radius:.3em;font-weight:bold;white-space:nowrap}"
             ".improvement{background:#c8f0c8;color:#0a5a0a}.regression{background:#f8c8c8;color:#8a0a0a}"
             ".no-significant-change{background:#e4e4e4;color:#333}.inconclusive{background:#f8ecb0;color:#6a5000}"
             ".higher,.lower{background:#d0e0f8;color:#0a2a6a}")


def badge(verdict: str) -> str:
    return f"<span class='badge {verdict.replace(' ', '-')}'>{html.escape(verdict)}</span>"
PLOTS = {
    "ttft-cdf.png": "TTFT, all repetitions of each arm (cumulative distribution)",
    "e2e-cdf.png": "E2E latency, all repetitions of each arm (cumulative distribution)",
    "delta.png": "Change dev vs baseline (positive = better), 95% CI",
}


def _num(v: Any, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "fraction":
        return f"{v * 100:.1f} %"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3g}"


def _delta(v: float | None, kind: str) -> str:
    if v is None:
        return "–"
    return f"{v * 100:+.1f} pp" if kind == "difference" else f"{v * 100:+.1f} %"


def _ci(ci: Sequence[float] | None, kind: str) -> str:
    if not ci or any(c != c for c in ci):
        return "–"
    return f"[{_delta(ci[0], kind)}, {_delta(ci[1], kind)}]"


def _level(comp: dict[str, Any]) -> float:
    return float((comp.get("test") or {}).get("level") or 0.95)


def table(comp: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["metric", "better", "baseline", "dev", "Δ dev vs baseline", f"{_level(comp) * 100:.3g}% CI (runs)",
            "95% CI (requests)", "p (Welch t, Holm)", "effect size", "verdict"]
    rows = []
    for m in comp["metrics"]:
        p = "–" if m["p_value"] is None else f"{m['p_value']:.3g} ({m['p_adjusted']:.3g})"
        eff = "–" if m["effect_size"] is None else f"{m['effect_size']:+.2f}"
        name = m["label"] + (" ★" if m.get("primary") else "")
        verdict = f"{ICONS[m['verdict']]} {m['verdict']}" + ("" if m.get("primary", True) else
                                                           " (host, explanatory)" if m.get("family") == "host"
                                                           else " (per model, explanatory)"
                                                           if m.get("family") == "model" else " (explanatory)")
        rows.append([name, m["better"], _num(m["baseline"], m["unit"]), _num(m["dev"], m["unit"]),
                     _delta(m["delta"], m["kind"]), _ci(m["ci"], m["kind"]),
                     _ci(m.get("ci_requests"), "relative"), p, eff, verdict])
    return head, rows


def times(base: float, dev: float) -> str:
    """dev against the baseline in words: '4.18× higher', '2.10× lower', 'the same'."""
    if base <= 0 or dev <= 0:
        return "not comparable"
    ratio = dev / base
    if abs(ratio - 1) < 0.005:
        return "the same"
    return f"{ratio:.2f}× higher" if ratio > 1 else f"{1 / ratio:.2f}× lower"


def _change_words(m: dict[str, Any]) -> str:
    if m["kind"] == "difference":
        return f"{_num(m['baseline'], m['unit'])} → {_num(m['dev'], m['unit'])} ({_delta(m['delta'], m['kind'])})"
    return (f"{_num(m['baseline'], m['unit'])} → {_num(m['dev'], m['unit'])} {m['unit']} "
            f"({times(m['baseline'], m['dev'])}, {_delta(m['delta'], m['kind'])}, "
            f"{m.get('level', 0.95) * 100:.3g}% CI {_ci(m['ci'], m['kind'])})")


def _what_differs(comp: dict[str, Any]) -> str:
    diff = comp["changes"]["config"]
    if diff:
        return "The dev arm differs in: " + ", ".join(f"{d['setting']} {d['baseline']} → {d['dev']}" for d in diff) + "."
    hosts = [comp["arms"][a]["host"] for a in ("baseline", "dev")]
    if comp.get("compared") == "bundles":
        differs = comp["changes"].get("host_differ") or []
        return ("Separate runs compared (ab-compare): the change is whatever you changed between them (each bundle's "
                "config/ holds its settings)" + (f"; their hosts differ in {', '.join(differs)}." if differs else
                                                 "; no recorded machine fact differs between their hosts."))
    if comp.get("same_host", hosts[0] == hosts[1]):
        return ("The arms have the same settings on the same host (an A/A control): any verdict other than "
                "'no significant change' is a false alarm.")
    differs = comp["changes"].get("host_differ") or []
    return (f"The arms have the same settings on different hosts ({hosts[0]} and {hosts[1]}): the hosts are the "
            "change under test" + (f"; they differ in {', '.join(differs)}." if differs else
                                    "; no recorded machine fact differs between them."))


def _verdict_words(comp: dict[str, Any]) -> list[str]:
    """The verdict in plain language, from the primary metrics that made it."""
    primary = [m for m in comp["metrics"] if m.get("primary")]
    rule = comp.get("rule") or {"alpha": 0.05, "threshold": 0.05, "equivalence": 0.10}
    alpha = (comp.get("test") or {}).get("alpha", rule["alpha"])
    v = comp["verdict"]
    lines = []
    if v in (stats.REGRESSION, stats.IMPROVEMENT):
        movers = [m for m in primary if m["verdict"] == v]
        word = "worse" if v == stats.REGRESSION else "better"
        lines.append(f"{v.capitalize()}: the dev arm is {word} in " + "; ".join(
            f"{m['label']} {_change_words(m)}, Holm-adjusted p {m['p_adjusted']:.2g} < {alpha:.3g}" for m in movers) + ".")
    elif v == stats.NO_CHANGE:
        lines.append("No significant change: every primary metric's interval lies within "
                     f"±{rule['equivalence'] * 100:g} % or its change is below the "
                     f"{rule['threshold'] * 100:g} % threshold.")
    else:
        if not comp.get("complete", True):
            lines.append("Inconclusive: the run was interrupted, so no verdict is given.")
        for m in primary:
            if m["verdict"] != stats.INCONCLUSIVE or not m.get("sd"):
                continue
            need = stats.repetitions_for(rule["equivalence"], max(m["sd"]), alpha, 0.8,
                                         (comp.get("test") or {}).get("family", 1), log=m.get("scale") == "log")
            lines.append(f"Inconclusive in {m['label']}: {_change_words(m)} — the interval is too wide to rule out "
                         f"a change of ±{rule['equivalence'] * 100:g} %" +
                         (f"; about {need} runs per arm at this noise would decide it." if need else "."))
    return lines


def detectable_line(comp: dict[str, Any]) -> str | None:
    """'Changes of at least X % would have been found' from the comparison's own noise."""
    parts = [f"{m['detectable'] * 100:.1f} % in {m['label']}" if m["kind"] == "relative" and m["detectable"] < 10
             else f"{m['detectable'] * 100:.1f} {'pp' if m['kind'] == 'difference' else '%'} in {m['label']}"
             for m in comp["metrics"] if m.get("primary") and m.get("detectable") is not None]
    if not parts:
        return None
    return ("Changes of at least " + ", ".join(parts) + " would have been found with 80 % power "
            f"(this comparison's own run-to-run noise, {comp['repetitions']} runs per arm).")


def host_line(comp: dict[str, Any]) -> str | None:
    """The host figures that moved (Holm-adjusted among themselves): why the latency changed, never
    what decided the verdict."""
    rows = [m for m in comp["metrics"] if m.get("family") == "host" and m["delta"] is not None]
    if not rows:
        return None
    moved = [m for m in rows if m["verdict"] in (stats.HIGHER, stats.LOWER)]
    if not moved:
        return "Host figures (explanatory): none changed significantly."
    words = []
    for m in moved:
        if m["kind"] == "difference":
            words.append(f"{m['label']} {m['baseline'] * 100:.1f} → {m['dev'] * 100:.1f} % "
                         f"({_delta(m['delta'], m['kind'])} {_ci(m['ci'], m['kind'])})")
        else:
            words.append(f"{m['label']} {_delta(m['delta'], m['kind'])} {_ci(m['ci'], m['kind'])}")
    return "Host figures (explanatory, they do not change the verdict): " + "; ".join(words) + "."


def explanation(comp: dict[str, Any]) -> list[str]:
    """Plain-language lines: what differs, the verdict and why, what moved, what could have been seen."""
    lines = [_what_differs(comp), *_verdict_words(comp)]
    seq = comp.get("sequential") or {}
    if seq.get("enabled") and seq.get("stopped_early"):
        lines.append(f"Stopped early after {comp['repetitions']} of {seq['looks'][-1]} runs per arm "
                     f"({seq.get('elapsed_s', 0):.0f} s): the verdict was clear at the halfway look, tested at "
                     f"α {comp['test']['alpha']:.4f} (O'Brien-Fleming spending, so the error rates hold).")
    for key in ("ttft_p50", "prefix_cache_hit_rate"):
        m = next((x for x in comp["metrics"] if x["metric"] == key), None)
        if not m or m["delta"] is None or m["baseline"] is None or m["dev"] is None:
            continue
        if key == "ttft_p50":
            lines.append(f"Median time to first token: baseline {m['baseline']:.1f} ms, dev {m['dev']:.1f} ms "
                         f"({times(m['baseline'], m['dev'])} in dev) — {m['verdict']}.")
        if key == "prefix_cache_hit_rate":
            lines.append(f"Prefix-cache hit rate: baseline {m['baseline'] * 100:.1f} %, dev {m['dev'] * 100:.1f} %. "
                         "A higher hit rate means engines reuse cached KV for shared prefixes and chat history "
                         "instead of recomputing them, which shortens prefill and so TTFT.")
    found = detectable_line(comp)
    if found:
        lines.append(found)
    host = host_line(comp)
    if host:
        lines.append(host)
    for side in ("versions", "host"):
        differs = comp["changes"].get(f"{side}_differ") or []
        if differs:
            lines.append(f"{side.capitalize()} differ between the arms: {', '.join(differs)}.")
    lines += hostdiff.lines(comp["changes"].get("kernel") or {})
    return lines


def plots(folder: Path, comp: dict[str, Any], base: Sequence[Sequence[RequestRecord]],
          dev: Sequence[Sequence[RequestRecord]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for name, attr, xlabel in (("ttft-cdf.png", "ttft", "TTFT (ms)"), ("e2e-cdf.png", "e2e", "E2E (ms)")):
        fig, ax = plt.subplots(figsize=(7, 4))
        drawn = 0
        for arm, runs in (("baseline", base), ("dev", dev)):
            vals = sorted(getattr(r, attr) * 1000 for recs in runs for r in measured(recs) if r.ok)
            if vals:
                ax.plot(vals, [(i + 1) / len(vals) for i in range(len(vals))], label=arm)
                drawn += 1
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction of requests")
        ax.grid(alpha=0.3)
        if drawn:
            ax.set_xscale("log")
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no successful measured requests", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(PLOTS[name])
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        made.append(name)
    rows = [m for m in comp["metrics"] if m["delta"] is not None and m["ci"] and m["ci"][0] == m["ci"][0]
            and m.get("family") != "host"]  # host figures have no better direction
    if rows:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
        sign = [1 if m["better"] == "higher" else -1 for m in rows]
        vals = [m["delta"] * 100 * s for m, s in zip(rows, sign)]
        lo = [min(m["ci"][0] * 100 * s, m["ci"][1] * 100 * s) for m, s in zip(rows, sign)]
        hi = [max(m["ci"][0] * 100 * s, m["ci"][1] * 100 * s) for m, s in zip(rows, sign)]
        colors = {stats.IMPROVEMENT: "tab:green", stats.REGRESSION: "tab:red", stats.NO_CHANGE: "tab:gray",
                  stats.INCONCLUSIVE: "tab:orange"}
        y = list(range(len(rows)))
        ax.barh(y, vals, color=[colors[m["verdict"]] for m in rows])
        # The CI as its own whisker: a bootstrap interval need not contain the point estimate.
        ax.errorbar([(a + b) / 2 for a, b in zip(lo, hi)], y, xerr=[(b - a) / 2 for a, b in zip(lo, hi)],
                    fmt="none", ecolor="black", capsize=3)
        ax.set_yticks(y, [m["label"] for m in rows])
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("change, % (pp for rates); positive = dev better")
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(PLOTS["delta.png"])
        fig.tight_layout()
        fig.savefig(folder / "delta.png", dpi=100)
        plt.close(fig)
        made.append("delta.png")
    return made


def markdown(comp: dict[str, Any], images: Sequence[str]) -> str:
    from ..templates import render as render_template

    head, rows = table(comp)
    return render_template("ab.md.j2", comp=comp, explanation=explanation(comp), head=head, rows=rows,
                           images=images, plots=PLOTS, icons=ICONS, pct=lambda x: f"{x * 100:g}")


def html_page(comp: dict[str, Any], images: Sequence[str]) -> str:
    from ..templates import render as render_template

    head, rows = table(comp)
    return render_template("ab.html.j2", comp=comp, explanation=explanation(comp), head=head,
                           rows=list(zip(rows, [m["verdict"] for m in comp["metrics"]])), images=images, plots=PLOTS,
                           badge=badge, badge_css=BADGE_CSS)


def host_differences(comp: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, baseline, dev) for each machine fact that differs between the arms' hosts."""
    hosts = comp["changes"].get("host") or {}
    base, dev = hosts.get("baseline") or {}, hosts.get("dev") or {}
    return [(k, str(base.get(k, "–")), str(dev.get(k, "–"))) for k in comp["changes"].get("host_differ") or []]


def ci_summary(comp: dict[str, Any], folder: Path) -> str:
    """Markdown a CI job can post as it is: verdict, the metrics table, what differs between the hosts."""
    from ..templates import render as render_template

    head, rows = table(comp)
    keep = [0, 2, 3, 4, 5, 7, 9]  # metric, medians, change, CI, p, verdict
    return render_template("ab-summary.md.j2", comp=comp, explanation=explanation(comp),
                           head=[head[i] for i in keep], rows=[[r[i] for i in keep] for r in rows],
                           host_differences=host_differences(comp), icons=ICONS, report=folder / "report.html")


def junit_suite(comp: dict[str, Any]) -> Any:
    """One JUnit case per compared metric: a regression fails, an inconclusive one is skipped."""
    from ..junit import Case, Suite

    cases = []
    head, rows = table(comp)
    for m, row in zip(comp["metrics"], rows):
        detail = "; ".join(f"{h}: {c}" for h, c in zip(head[1:], row[1:]))
        verdict = m["verdict"]
        name = f"{m['label']} (host figure)" if m.get("family") == "host" else f"{m['label']} ({m['better']} is better)"
        cases.append(Case(name, f"ab.{comp['label']}",
                          failure=f"regression: {detail}" if verdict == stats.REGRESSION else None,
                          skipped=f"inconclusive: {detail}" if verdict == stats.INCONCLUSIVE else None,
                          output=detail))
    return Suite(f"ab {comp['label']}: {comp['verdict']}", cases)
