"""`vllm-workflow history`: the results index brought up to date, the runs comparable with the
newest, their trends and change points, the newest run checked against its past (``--check``: exit
0 within history, 1 regression, 2 not enough comparable runs), the bisect log, and export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from ..settings import Settings

EXPORT_FORMATS = ("csv", "json")
DEFAULT_WINDOW = 10


def _settings(root: Path, path: str | None) -> dict[str, Any]:
    """The configured history window and A/B rule; defaults without a generated settings file."""
    from ..config import extra_vars_path, load_vars

    file = Path(path) if path else extra_vars_path(root)
    return load_vars(file) if file.is_file() else {}


def _filters(args: argparse.Namespace) -> Any:
    from .service import Filters, check_filters

    try:
        last = int(args.last or 0)
    except ValueError:
        raise WorkflowError(f"LAST={args.last!r} is not a number of runs. Fix: LAST=20, or leave it out.") from None
    return check_filters(Filters(label=args.label or "", host=args.host or "", kernel=args.kernel or "",
                                 since=args.since or "", last=last))


def _window(args: argparse.Namespace, v: dict[str, Any]) -> int:
    s = Settings.of(v)
    raw = args.window if args.window is not None else s.history_window
    try:
        window = int(raw)
    except (TypeError, ValueError):
        window = -1
    if window < 3:
        raise WorkflowError(f"the history window {raw!r} must be at least 3 runs. Fix: set CONFIG_VLLM_HISTORY_WINDOW "
                            "(default 10), or WINDOW=10.")
    return window


@dataclass(frozen=True)
class HistoryOptions:
    """What one `vllm-workflow history` call does."""

    results: Path
    filters: Any  # service.Filters
    window: int
    check: bool = False
    bisect: bool = False
    reindex: bool = False
    format: str = ""
    all_runs: bool = False


def cmd_history(args: argparse.Namespace) -> int:
    from ..benchmark import bundle

    root = Path(args.root).resolve()
    if args.format and args.format not in EXPORT_FORMATS:
        raise WorkflowError(f"FORMAT={args.format!r} is not an export format. Fix: FORMAT=csv or FORMAT=json.")
    v = _settings(root, args.extra_vars)
    o = HistoryOptions(results=Path(args.results_dir) if args.results_dir else root / bundle.DEFAULT_RESULTS_DIR,
                       filters=_filters(args), window=_window(args, v), check=args.check, bisect=args.bisect,
                       reindex=args.reindex, format=args.format or "", all_runs=args.all)
    return show(o, v)


def check_newest(results: Path, v: dict[str, Any]) -> int:
    """`make vllm` with CONFIG_VLLM_HISTORY_CHECK: the run just made against its history."""
    s = Settings.of(v)
    from .service import Filters

    window = int(s.history_window or DEFAULT_WINDOW)
    return show(HistoryOptions(results=results, filters=Filters(), window=max(window, 3), check=True), v)


def show(o: HistoryOptions, v: dict[str, Any]) -> int:
    from ..ab.service import rule_from
    from ..benchmark import bundle
    from ..console import table_lines
    from . import report, service
    from .index import Index
    from .stats import BISECT_CODES, EXIT_TOO_FEW

    filters, window, results = o.filters, o.window, o.results
    rule = rule_from(v)
    say = (lambda *a: print(*a, file=sys.stderr)) if o.format else print
    with Index(results) as index:
        sync = index.rebuild() if o.reindex else index.sync()
        runs = service.select(index, filters)
        newest, series = service.comparable(runs, filters.last)
        ab = index.ab_of([r.path for r in series])
        verb = "rebuilt from" if o.reindex else "up to date with"
        n_runs, n_ab = index.counts()
        say(f"📚 Results index {index.path} {verb} {results}: {n_runs} run(s), {n_ab} A/B comparison(s)"
            + ("" if o.reindex else f" ({sync.added} read now, {sync.removed} gone)"))
        for path, why in sync.skipped:
            say(f"⚠️  skipped {path}: {why}")
        if o.format:
            sys.stdout.write(report.export(series if not o.all_runs else runs, ab if not o.all_runs else
                                           index.ab_of([r.path for r in runs]), o.format))
            return 0
        bisect = service.bisect_log(index) if o.bisect else []
        if o.bisect and not o.check:
            if not bisect:
                print("No BISECT=1 runs recorded yet (make vllm-ab BISECT=1, make vllm-history-check BISECT=1).")
            for e in bisect:
                print(f"  step {e['step']:>2}  {e['created']}  {e['kind']:<13} kernel {e['kernel']}  commit "
                      f"{e['project_rev'][:10] or '–'}  {e['verdict']} → {e['bisect']}  ({e['folder']})")
            return 0
        if newest is None:
            print(f"No complete benchmark runs match (filters: {filters.describe()}). Run `make vllm-benchmark`, or "
                  "loosen the filters.")
            return (125 if o.bisect else EXIT_TOO_FEW) if o.check else 0
        print(f"\n{len(series)} run(s) comparable with the newest ({newest.path}: {newest.workload} workload, "
              f"{newest.shape['stack'].get('backend')} backend, {newest.shape['stack'].get('engines')} engine(s), "
              f"{newest.shape['stack'].get('routing')} routing; filters: {filters.describe()})")
        head, rows = report.table(series, ab)
        if len(series) > len(rows):
            print(f"  (the {len(series) - len(rows)} older ones are in the report and FORMAT=csv)")
        print("\n".join(table_lines(head, rows)))
        upto = series[:series.index(newest) + 1]
        result = service.check(upto, window, rule)
        steps = service.steps(series, rule)
        for st in steps:
            st["where"] = service.where_words(st)
        _print_check(result)
        if steps:
            print("\nChange points:")
            for st in steps:
                print(f"  {st['label']}: {st['delta'] * 100:+.1f} % ({st['direction']}) at {st['at']} — "
                      f"{st['where']}")
        out = bundle.new_bundle_dir(results, "history")
        images = report.plots(out, series, ab, steps)
        context = {"filters": filters.describe(), "total": len(runs), "series": series, "newest": newest,
                   "check": result, "check_rows": report.check_rows(result), "steps": steps,
                   "table": report.table(series, ab, most=len(series)), "bisect": bisect,
                   "skipped": sync.skipped, "images": images}
        bundle.write_json(out / "history.json", {"schema": "vllm-workflow/history", "schema_version": 1,
                                                 "filters": filters.describe(), "newest": newest.path,
                                                 "fingerprint": newest.fingerprint, "shape": newest.shape,
                                                 "series": [r.path for r in series], "check": result,
                                                 "steps": steps})
        report.write(out, context)
        code = 0
        if o.check:
            code = BISECT_CODES.get(result["verdict"], 125) if o.bisect else int(result["exit_code"])
            bundle.write_json(out / "check.json", {"schema": "vllm-workflow/history-check", "schema_version": 1,
                                                   "created": _now(), "run": newest.path,
                                                   "verdict": result["verdict"], "exit_code": code,
                                                   "bisect": bool(o.bisect), "check": result})
            index.record(out)
        print(f"\nReport: {out / 'report.html'}")
        if o.check:
            print(f"Exit {code}: {result['verdict']}" + (" (git bisect: 0 good, 1 bad, 125 skip)" if o.bisect else
                                                          " (0 within history, 1 regression, 2 not enough history)"))
        return code


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _print_check(result: dict[str, Any]) -> None:
    from ..console import table_lines
    from .report import check_rows

    hist = result["history"]
    print(f"\n🔎 Newest run ({result['newest']['kernel']}) against the {len(hist)} comparable run(s) before it "
          f"(window {result['window']}; on {', '.join(result['history_kernels']) or '–'}): {result['verdict']}"
          + (f" — {result['why']}" if result.get("why") else ""))
    head, rows = check_rows(result)
    if rows:
        print("\n".join(table_lines(head, rows)))
        ttft = next((r for r in result["metrics"] if r["metric"] == "ttft_p50"), None)
        if ttft and ttft.get("detectable") is not None:
            print(f"  With this history's spread, TTFT p50 steps of {ttft['detectable'] * 100:.0f} % or more are "
                  "found 80 % of the time.")


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("history", cmd_history,
            "bring the results index up to date and show the runs comparable with the newest, their trends (an HTML "
            "report bundle), change points, and the newest run against its history (--check: exit 0 within history, "
            "1 regression, 2 not enough comparable runs)")
    p.add_argument("--results-dir", default=None, help="results folder (default: ROOT/workflows/vllm/results)")
    p.add_argument("--extra-vars", default=None, help="settings (default: ROOT/extra_vars.yaml; defaults without)")
    p.add_argument("--label", default=None, help="runs whose label contains this (or matches this glob)")
    p.add_argument("--host", default=None, help="runs on this host (inventory name or hostname)")
    p.add_argument("--kernel", default=None, help="runs whose kernel release, build or source ref contains this")
    p.add_argument("--since", default=None, help="runs since a date (2026-12-01, 2026-12-01T08:00) or 7d / 12h / 2w")
    p.add_argument("--last", default=None, help="only the last N comparable runs")
    p.add_argument("--window", type=int, default=None,
                   help="runs before the newest it is checked against (default: CONFIG_VLLM_HISTORY_WINDOW, 10)")
    p.add_argument("--reindex", action="store_true", help="rebuild the index from the bundles")
    p.add_argument("--format", default=None, help="print the selected runs as csv or json (nothing else written)")
    p.add_argument("--all", action="store_true", help="with --format: every selected run, not only the comparable")
    p.add_argument("--check", action="store_true", help="exit by the newest run against its history, and record it")
    p.add_argument("--bisect", action="store_true",
                   help="alone: print the bisect log; with --check: git bisect exit codes (0 good, 1 bad, 125 skip)")
