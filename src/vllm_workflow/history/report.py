"""The history for people and for tools: the terminal table, one trend plot per headline metric
(each run's value with its per-request interval, x labelled by kernel and commit, A/B pairs
linked, change points marked), report.md/html, and CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..ab.compare import METRICS
from .records import Run, describe_kernel
from .service import BY_KEY, TREND

EXPORT_COLUMNS = ("path", "created", "label", "kind", "workload", "complete", "fingerprint", "host", "hostname",
                  "kernel_release", "kernel_build", "kernel_config_sha", "kernel_commit", "project_rev",
                  "project_dirty", "arm")
MAX_TICKS = 24


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _value(run: Run, key: str) -> float | None:
    f = run.figure(key)
    return None if f is None else f.value


def table(series: Sequence[Run], ab: Mapping[str, tuple[str, str]], most: int = 30) -> tuple[list[str], list[list[str]]]:
    """The terminal table: the last ``most`` comparable runs."""
    head = ["run", "kernel", "commit", "host", "TTFT p50", "TPOT p50", "E2E p50", "req/s", "errors", "A/B"]
    rows = []
    for r in series[-most:]:
        err = _value(r, "error_rate")
        rps = _value(r, "requests_per_s")
        where = ab.get(r.path)
        rows.append([r.path + ("" if r.complete else " (incomplete)"), describe_kernel(r), r.project_rev[:10] or "–",
                     r.hostname or r.host or "–", _ms(_value(r, "ttft_p50")), _ms(_value(r, "tpot_p50")),
                     _ms(_value(r, "e2e_p50")), "–" if rps is None else f"{rps:.2f}",
                     "–" if err is None else f"{err * 100:.1f} %", f"{where[1]} of {where[0]}" if where else ""])
    return head, rows


def _ticks(series: Sequence[Run]) -> tuple[list[int], list[str]]:
    """Tick positions where the kernel or commit changes (thinned to MAX_TICKS), labelled with both."""
    marks = [i for i, r in enumerate(series)
             if i == 0 or (describe_kernel(r), r.project_rev) != (describe_kernel(series[i - 1]),
                                                                  series[i - 1].project_rev)]
    if len(marks) > MAX_TICKS:
        step = -(-len(marks) // MAX_TICKS)
        marks = marks[::step]
    labels = [f"{describe_kernel(series[i])[:22]}\n{series[i].project_rev[:8] or '?'}" for i in marks]
    return marks, labels


def plots(folder: Path, series: Sequence[Run], ab: Mapping[str, tuple[str, str]],
          steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """One PNG per headline metric the series has; the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    made = []
    positions = {r.path: i for i, r in enumerate(series)}
    ticks, labels = _ticks(series)
    pairs: dict[str, list[int]] = {}
    for path, (comp, _) in ab.items():
        if path in positions:
            pairs.setdefault(comp, []).append(positions[path])
    for key in TREND:
        m = BY_KEY[key]
        pts = [(i, r.figure(key)) for i, r in enumerate(series)]
        pts = [(i, f) for i, f in pts if f is not None]
        if not pts:
            continue
        x = np.array([i for i, _ in pts], float)
        y = np.array([f.value for _, f in pts], float)
        lo = np.array([max(0.0, f.value - f.lo) if f.lo is not None else 0.0 for _, f in pts])
        hi = np.array([max(0.0, f.hi - f.value) if f.hi is not None else 0.0 for _, f in pts])
        scale = 100.0 if m.absolute else 1.0
        fig, ax = plt.subplots(figsize=(11, 3.6))
        arm = np.array([ab.get(series[i].path, ("", ""))[1] for i, _ in pts])
        for name, marker, colour in (("", "o", "tab:blue"), ("baseline", "s", "tab:green"), ("dev", "^", "tab:red")):
            sel = arm == name
            if sel.any():
                ax.errorbar(x[sel], y[sel] * scale, yerr=[lo[sel] * scale, hi[sel] * scale], fmt=marker, ms=3,
                            color=colour, ecolor="0.7", elinewidth=0.8, capsize=0, linestyle="none",
                            label={"": "run", "baseline": "A/B baseline", "dev": "A/B dev"}[name])
        if len(x) < 2000:
            ax.plot(x, y * scale, color="0.6", linewidth=0.6, zorder=0)
        for idx in pairs.values():
            if len(idx) > 1:
                ax.axvspan(min(idx) - 0.4, max(idx) + 0.4, color="tab:orange", alpha=0.08, linewidth=0)
        for st in steps:
            if st["metric"] == key and st["at"] in positions:
                ax.axvline(positions[st["at"]] - 0.5, color="tab:purple", linestyle="--", linewidth=1)
                ax.annotate(f"{st['delta'] * 100:+.0f} %", (positions[st["at"]] - 0.5, ax.get_ylim()[1]),
                            fontsize=7, color="tab:purple", va="top", ha="right")
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels, fontsize=6)
        ax.set_ylabel(f"{m.label} ({'%' if m.absolute else m.unit})")
        ax.set_title(f"{m.label} per run (95 % interval from each run's requests); x: run order, kernel and commit",
                     fontsize=9)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        name = f"trend-{key}.png"
        fig.savefig(folder / name, dpi=90)
        plt.close(fig)
        made.append(name)
    return made


def export_rows(series: Sequence[Run], ab: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for r in series:
        row: dict[str, Any] = {k: getattr(r, k) for k in EXPORT_COLUMNS}
        where = ab.get(r.path)
        row["ab"], row["ab_arm"] = (where or ("", ""))
        for m in METRICS:
            f = r.figure(m.key)
            row[m.key] = None if f is None else f.value
            if m.per_request:
                row[f"{m.key}_lo"] = None if f is None else f.lo
                row[f"{m.key}_hi"] = None if f is None else f.hi
        out.append(row)
    return out


def export(series: Sequence[Run], ab: Mapping[str, tuple[str, str]], fmt: str) -> str:
    rows = export_rows(series, ab)
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    buf = io.StringIO()
    columns = list(rows[0]) if rows else [*EXPORT_COLUMNS, "ab", "ab_arm"]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:+.1f} %"


def check_rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["metric", "history", "newest", "change", "95 % interval", "p (Holm)", "verdict"]
    rows = []
    for r in result.get("metrics") or []:
        unit = r["unit"] if r["kind"] == "relative" else ""
        rel = r["kind"] == "relative"
        change = pct(r["delta"]) if rel else f"{r['delta'] * 100:+.2f} pp"
        ci = f"[{pct(r['ci'][0])}, {pct(r['ci'][1])}]" if rel else f"[{r['ci'][0] * 100:+.2f}, {r['ci'][1] * 100:+.2f}] pp"
        p = r.get("p_adjusted", r["p_value"])
        rows.append([("★ " if r["primary"] else "") + r["label"], f"{r['history']:.4g} {unit}".strip(),
                     f"{r['newest']:.4g} {unit}".strip(), change, ci, f"{p:.3g}", r["verdict"]])
    return head, rows


def write(folder: Path, context: Mapping[str, Any]) -> list[Path]:
    from ..templates import render as render_template

    (folder / "report.md").write_text(render_template("history.md.j2", **context))
    (folder / "report.html").write_text(render_template("history.html.j2", **context))
    return [folder / "report.md", folder / "report.html"]
