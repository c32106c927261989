"""`vllm-workflow benchmark` and `vllm-workflow results`: parse, call the benchmark service, print."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from ..stack import DEFAULT_STATE_DIR
from . import bundle
from .service import RunOptions
from .workloads import WORKLOADS

# The parser of every command is built on each CLI start (deploy runs several): what only running
# a benchmark needs (asyncio, requests, NumPy, the report) is imported by the functions that use it.


def options(args: argparse.Namespace) -> RunOptions:
    """The run options of a command line that has ``add_run_options``."""
    from ..config import extra_vars_path

    root = Path(args.root).resolve()
    return RunOptions(
        root=root,
        state_dir=Path(args.state_dir) if args.state_dir else root / DEFAULT_STATE_DIR,
        results_dir=Path(args.results_dir) if args.results_dir else root / bundle.DEFAULT_RESULTS_DIR,
        extra_vars=Path(args.extra_vars) if args.extra_vars else extra_vars_path(root),
        label=args.label,
        sets=tuple(args.set) + ((f"vllm_benchmark_model_mix={args.mix}",) if getattr(args, "mix", None) else ()),
        workload=args.workload,
        progress=not args.no_progress,
        host=getattr(args, "host", None),
        model=getattr(args, "model", None),
    )


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """One run's tables and where its bundle is."""
    from ..console import table_lines
    from . import report

    for title, head, rows in report.tables(summary):
        print(f"\n{title}")
        print("\n".join(table_lines(head, rows)))
    state = "✅ complete" if summary["complete"] else f"⚠️ INCOMPLETE ({summary['stop_reason']})"
    print(f"\n{state}. Results: {out}\n  report: {out / 'report.html'}")


def cmd_benchmark(args: argparse.Namespace) -> int:
    from . import service

    o = options(args)
    if o.label:  # bad input first, before reading the settings
        bundle.check_label(o.label)
    return service.run(o, service.settings(o), show=print_summary)


def cmd_results(args: argparse.Namespace) -> int:
    from . import report
    from .summary import one_line

    root = Path(args.root).resolve()
    results = Path(args.results_dir) if args.results_dir else root / bundle.DEFAULT_RESULTS_DIR
    bundles = bundle.list_bundles(results)
    if not bundles and not args.name:
        print(f"No results under {results} yet. Run `make vllm-benchmark`.")
        return 0
    if not args.name:
        print(f"Results under {results} (oldest first):")
        for b in bundles:
            try:
                print(f"  {b.name}  {one_line(bundle.load_summary(b))}")
            except (WorkflowError, KeyError, TypeError) as exc:
                print(f"  {b.name}  (unreadable: {exc})")
    if args.list:
        return 0
    target = bundle.resolve(results, args.name)
    paths = report.render(target)
    print(f"Rendered {target.name}: " + ", ".join(str(p) for p in paths))
    return 0


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `benchmark` and `ab`."""
    p.add_argument("--extra-vars", default=None, help="settings (default: ROOT/extra_vars.yaml)")
    p.add_argument("--state-dir", default=None, help=f"deploy state (default: ROOT/{DEFAULT_STATE_DIR})")
    p.add_argument("--results-dir", default=None, help=f"where bundles go (default: ROOT/{bundle.DEFAULT_RESULTS_DIR})")
    p.add_argument("--label", default=None, help="results folder label (default: CONFIG_VLLM_BENCHMARK_LABEL or "
                                                 "the workload name)")
    p.add_argument("--set", action="append", default=[], metavar="vllm_benchmark_X=VALUE",
                   help="override one benchmark setting for this run, e.g. --set vllm_benchmark_duration=10 "
                        "(repeatable; the .config is not changed)")
    p.add_argument("--workload", choices=WORKLOADS, default=None,
                   help="run this workload instead of the configured one (its settings still come from the config)")
    p.add_argument("--mix", default=None, metavar="NAME=WEIGHT,...",
                   help="with several models behind the router: spread the load over them by weight, e.g. "
                        "tiny-llama=3,small-llama=1, or 'all' (CONFIG_VLLM_BENCHMARK_MODEL_MIX for this run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("benchmark", cmd_benchmark,
            "run the configured workload against the deployed stack and write a results bundle "
            "(summary.json, requests.jsonl, report.md/html with plots); exit 0 done, 1 every request "
            "failed, 130 stopped early (the partial bundle is kept, marked incomplete)")
    add_run_options(p)
    p.add_argument("--host", default=None, help="only the stack on this inventory host")
    p.add_argument("--model", default=None, help="with several models behind the router: benchmark this one "
                                                 "(default: the first); its engines' counters only")
    p = add("results", cmd_results,
            "list results bundles and (re)render the report of the newest one, or of the one named")
    p.add_argument("name", nargs="?", default=None, help="bundle folder name or path (default: the newest)")
    p.add_argument("--list", action="store_true", help="only list the bundles with a one-line digest")
    p.add_argument("--results-dir", default=None, help=f"default: ROOT/{bundle.DEFAULT_RESULTS_DIR}")
