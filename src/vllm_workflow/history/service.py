"""What `make vllm-history` decides: which runs are selected and comparable, the newest run against
its history, the change points of each metric, and the bisect log."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..ab import stats as ab_stats
from ..ab.compare import METRICS, PRIMARY, Metric
from ..errors import WorkflowError
from . import stats
from .index import Index
from .records import Run, describe_kernel, measurement_variance

#: The trend report's metrics: the summary's headline figures (the host figures are in the export).
TREND = ("ttft_p50", "ttft_p95", "itl_p50", "tpot_p50", "e2e_p50", "e2e_p95", "requests_per_s",
         "output_tokens_per_s", "error_rate", "prefix_cache_hit_rate")
BY_KEY: Mapping[str, Metric] = {m.key: m for m in METRICS}
_RELATIVE = re.compile(r"^(\d+)\s*([dhw])$")


@dataclass(frozen=True)
class Filters:
    """`make vllm-history` filters (empty: no filter)."""

    label: str = ""
    host: str = ""
    kernel: str = ""
    since: str = ""
    last: int = 0

    def describe(self) -> str:
        parts = [f"{k.upper()}={v}" for k, v in (("label", self.label), ("host", self.host),
                                                  ("kernel", self.kernel), ("since", self.since)) if v]
        if self.last:
            parts.append(f"LAST={self.last}")
        return " ".join(parts) or "none"


def since_bound(text: str, now: datetime | None = None) -> str:
    """SINCE= as the ISO time runs are compared with: a date, a date and time, or 7d / 12h / 2w ago."""
    now = now or datetime.now(timezone.utc)
    m = _RELATIVE.match(text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        moment = now - {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise WorkflowError(f"SINCE={text!r} is not a date. Fix: SINCE=2026-12-01, SINCE=2026-12-01T08:00, or "
                                "SINCE=7d (also 12h, 2w).") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def check_filters(f: Filters) -> Filters:
    if f.last < 0:
        raise WorkflowError(f"LAST={f.last} must be a positive number of runs. Fix: LAST=20, or leave it out.")
    if f.since:
        since_bound(f.since)
    return f


def select(index: Index, f: Filters) -> list[Run]:
    """Runs matching the filters, oldest first (LAST is applied to the comparable series)."""
    where, params = [], []
    if f.label:
        if any(ch in f.label for ch in "*?["):
            where.append("label GLOB ?")
            params.append(f.label)
        else:
            where.append("instr(label, ?) > 0")
            params.append(f.label)
    if f.host:
        where.append("(host = ? OR hostname = ?)")
        params += [f.host, f.host]
    if f.kernel:
        where.append("(instr(kernel_release, ?) > 0 OR instr(kernel_commit, ?) > 0 OR instr(kernel_build, ?) > 0)")
        params += [f.kernel] * 3
    if f.since:
        where.append("created >= ?")
        params.append(since_bound(f.since))
    return index.runs(" AND ".join(where), params)


def comparable(runs: Sequence[Run], last: int = 0) -> tuple[Run | None, list[Run]]:
    """The newest complete run and the runs comparable with it (itself included, oldest first)."""
    newest = next((r for r in reversed(runs) if r.complete), None)
    if newest is None:
        return None, []
    series = [r for r in runs if r.fingerprint == newest.fingerprint]
    return newest, series[-last:] if last else series


def _values(runs: Sequence[Run], key: str) -> list[tuple[Run, float, float]]:
    """(run, value, measurement variance) of the runs that have this figure."""
    out = []
    for r in runs:
        f = r.figure(key)
        if f is not None and math.isfinite(f.value):
            out.append((r, f.value, measurement_variance(f)))
    return out


def kernels_of(runs: Sequence[Run]) -> list[str]:
    seen: list[str] = []
    for r in runs:
        k = describe_kernel(r)
        if k not in seen:
            seen.append(k)
    return seen


def check(series: Sequence[Run], window: int, rule: ab_stats.Rule) -> dict[str, Any]:
    """The newest run of ``series`` (its last) against the ``window`` complete runs before it."""
    newest = series[-1]
    history = [r for r in series[:-1] if r.complete][-window:]
    out: dict[str, Any] = {
        "newest": {"path": newest.path, "created": newest.created, "kernel": describe_kernel(newest),
                   "kernel_release": newest.kernel_release, "project_rev": newest.project_rev, "host": newest.host},
        "history": [r.path for r in history], "window": window,
        "history_kernels": kernels_of(history),
        "procedure": "newest run vs the history's run values: prediction-interval t on log values (df N-1), "
                     "floored by each run's per-request error; Holm over the primary metrics",
        "alpha": rule.alpha, "threshold": rule.threshold, "primary": list(PRIMARY), "metrics": []}
    if len(history) < stats.MIN_HISTORY:
        return out | {"verdict": "not enough history", "exit_code": stats.EXIT_TOO_FEW,
                      "why": f"{len(history)} comparable complete run(s) before the newest; the check needs "
                             f"{stats.MIN_HISTORY}"}
    rows = []
    for m in METRICS:
        hist = [(v, e) for _, v, e in _values(history, m.key)]
        own = newest.figure(m.key)
        if len(hist) < 2 or own is None:
            continue
        values = [v for v, _ in hist]
        log = not m.absolute and ab_stats.loggable(values) and own.value > 0
        try:
            s = stats.shift(values, own.value, [e for _, e in hist] if log else [],
                            measurement_variance(own) if log else 0.0, log=log)
        except ValueError:
            continue
        rows.append({"metric": m.key, "label": m.label, "unit": m.unit, "primary": m.primary,
                     "better": "higher" if m.higher_is_better else "lower",
                     "kind": "difference" if not log else "relative", "newest": own.value,
                     "history": math.exp(sum(map(math.log, values)) / len(values)) if log
                     else sum(values) / len(values), "n": len(values), "delta": s.delta, "ci": list(s.ci),
                     "p_value": s.p, "sd": s.sd, "floored": s.floored,
                     "detectable": stats.detectable(s.sd, len(values), rule.alpha, family=len(PRIMARY), log=log)
                     if log else None})
    primary = [r for r in rows if r["primary"]]
    for r, p_adj in zip(primary, ab_stats.holm([r["p_value"] for r in primary])):
        r["p_adjusted"] = p_adj
    for r in rows:
        p = r.get("p_adjusted", r["p_value"])
        better = r["delta"] if r["better"] == "higher" else -r["delta"]
        lo, hi = r["ci"]
        ci_better = (lo, hi) if r["better"] == "higher" else (-hi, -lo)
        r["verdict"] = ab_stats.verdict(better, ci_better, p, rule, (r["n"], 2))
    verdict = ab_stats.overall([r["verdict"] for r in primary]) if primary else ab_stats.INCONCLUSIVE
    code = stats.EXIT_REGRESSION if verdict == ab_stats.REGRESSION else stats.EXIT_WITHIN
    return out | {"verdict": verdict, "exit_code": code, "metrics": rows}


def steps(series: Sequence[Run], rule: ab_stats.Rule, metrics: Sequence[str] = PRIMARY) -> list[dict[str, Any]]:
    """Change points of each metric over the complete runs of a series, named by the run after the
    step (its kernel, commit, time) and the run before it."""
    complete = [r for r in series if r.complete]
    out = []
    for key in metrics:
        m = BY_KEY[key]
        pts = _values(complete, key)
        if len(pts) < 3:
            continue
        values = [v for _, v, _ in pts]
        log = not m.absolute and ab_stats.loggable(values)
        for st in stats.change_points(values, log=log, alpha=rule.alpha, threshold=rule.threshold):
            before, after = pts[st.at - 1][0], pts[st.at][0]
            worse = (st.delta < 0) if m.higher_is_better else (st.delta > 0)
            out.append({"metric": key, "label": m.label, "at": after.path, "index": complete.index(after),
                        "before_run": before.path, "kernel": describe_kernel(after),
                        "kernel_before": describe_kernel(before), "project_rev": after.project_rev,
                        "project_rev_before": before.project_rev, "created": after.created,
                        "before": st.before, "after": st.after, "delta": st.delta, "p_adjusted": st.p,
                        "direction": "worse" if worse else "better"})
    return out


def where_words(step: Mapping[str, Any]) -> str:
    """Where a step happened, as a person names it: the kernel or commit that changed there."""
    parts = []
    if step["kernel"] != step["kernel_before"]:
        parts.append(f"kernel {step['kernel_before']} → {step['kernel']}")
    if step["project_rev"] != step["project_rev_before"]:
        parts.append(f"commit {step['project_rev_before'][:10] or '?'} → {step['project_rev'][:10] or '?'}")
    return ", ".join(parts) or f"same kernel ({step['kernel']}) and commit: the host or the stack changed"


def bisect_log(index: Index) -> list[dict[str, Any]]:
    """Every run made with BISECT=1 (A/B comparisons and history checks), in order: the step, the
    commit and kernel of the side under test, the verdict as git bisect reads it."""
    runs = {r.path: r for r in index.runs()}
    entries = []
    for c in index.comparisons():
        if not c["bisect"]:
            continue
        dev = next((runs[p] for p, arm in c["members"] if arm == "dev" and p in runs), None)
        entries.append({"created": c["created"], "kind": "A/B", "folder": c["path"], "verdict": c["verdict"],
                        "exit_code": c["exit_code"], "kernel": describe_kernel(dev) if dev else "?",
                        "project_rev": dev.project_rev if dev else ""})
    for c in index.checks():
        if not c["bisect"]:
            continue
        run = runs.get(c["run_path"])
        entries.append({"created": c["created"], "kind": "history check", "folder": c["path"],
                        "verdict": c["verdict"], "exit_code": c["exit_code"],
                        "kernel": describe_kernel(run) if run else "?", "project_rev": run.project_rev if run else ""})
    entries.sort(key=lambda e: (e["created"], e["folder"]))
    words = {0: "good", 1: "bad", 125: "skip"}
    return [e | {"step": i, "bisect": words.get(e["exit_code"], str(e["exit_code"]))} for i, e in enumerate(entries, 1)]
