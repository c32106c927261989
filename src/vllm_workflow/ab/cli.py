"""`vllm-workflow ab` (run both arms interleaved, compare) and `ab-compare` (compare existing bundles):
parse, call the A/B service, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..benchmark import cli as bench_cli
from ..errors import WorkflowError
from ..stack import DEFAULT_STATE_DIR
from ..config import secrets
from ..settings import Settings

# The parser of every command is built on each CLI start: the statistics (NumPy, SciPy) and
# requests are imported by the functions that run a comparison.


def options(args: argparse.Namespace) -> Any:
    """The A/B options of a command line with the benchmark's run options (and --repetitions, --bisect)."""
    from .service import AbOptions

    return AbOptions(run=bench_cli.options(args), repetitions=getattr(args, "repetitions", None),
                     bisect=bool(getattr(args, "bisect", False)))


def print_comparison(comp: dict[str, Any], out: Path) -> None:
    from ..console import table_lines
    from . import report

    head, rows = report.table(comp)
    keep = [0, 2, 3, 4, 5, 7, 9]  # metric, medians, change, CI, p, verdict
    print("\n".join(table_lines([head[i] for i in keep], ([r[i] for i in keep] for r in rows),
                                 left=(0, len(keep) - 1))))
    for line in report.explanation(comp):
        print(f"  {line}")
    v = comp["verdict"]
    print(f"\n{report.ICONS[v]} verdict: {v} (exit {comp['exit_code']}). Comparison: {out}\n"
          f"  report: {out / 'report.html'}\n  🧾 JUnit: {out / 'junit.xml'} · CI summary: {out / 'summary.md'}")


def cmd_ab(args: argparse.Namespace) -> int:
    from ..benchmark.service import settings
    from .service import run_ab

    o = options(args)
    try:
        return run_ab(o, settings(o.run), show=bench_cli.print_summary, shown=print_after_runs)
    except WorkflowError as exc:
        if not o.bisect:
            raise
        print(f"error: {exc}\nExit 125: this commit could not be tested (git bisect skips it).", file=sys.stderr)
        return 125


def print_after_runs(comp: dict[str, Any], out: Path) -> None:
    """The comparison, set off from the runs' output above it."""
    print()
    print_comparison(comp, out)


def cmd_ab_compare(args: argparse.Namespace) -> int:
    from ..benchmark import bundle
    from ..config import extra_vars_path, load_vars
    from . import stats
    from .service import compare_bundles, rule_from

    root = Path(args.root).resolve()
    results = Path(args.results_dir) if args.results_dir else root / bundle.DEFAULT_RESULTS_DIR
    extra = Path(args.extra_vars) if args.extra_vars else extra_vars_path(root)
    v = load_vars(extra) if args.extra_vars or extra.exists() else {}  # the rule's and the seed's settings
    configured = rule_from(v)
    rule = stats.Rule(threshold=args.threshold / 100 if args.threshold is not None else configured.threshold,
                      equivalence=args.equivalence / 100 if args.equivalence is not None else configured.equivalence)
    comp, out = compare_bundles(results, args.baseline, args.dev, rule, args.label or "compare",
                                int(Settings.of(v).benchmark_seed or 0), args.bisect)
    print_comparison(comp, out)
    return int(comp["exit_code"])


def cmd_ab_ready(args: argparse.Namespace) -> int:
    from .service import arms_ready

    root = Path(args.root).resolve()
    state = Path(args.state_dir) if args.state_dir else root / DEFAULT_STATE_DIR
    why = arms_ready(state, secrets(root).api_key)
    if why:
        print("🆎 " + "; ".join(why) + ": deploying both arms first (a deployed arm is left as it is).")
        return 1
    print("🆎 both arms are deployed and healthy.")
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("ab-ready", cmd_ab_ready,
            "exit 0 when both A/B arms are deployed and every engine answers /health, else 1 saying what is missing "
            "(make vllm-ab deploys first then)")
    p.add_argument("--state-dir", default=None)
    p = add("ab", cmd_ab,
            "run the benchmark on the baseline and dev arms, interleaved and counterbalanced, then compare; "
            "exit 0 no regression, 1 regression, 2 inconclusive or error (--bisect: 0 good, 1 bad, 125 skip)")
    bench_cli.add_run_options(p)
    p.add_argument("--repetitions", type=int, default=None, help="runs per arm (default: CONFIG_VLLM_AB_REPETITIONS)")
    p.add_argument("--bisect", action="store_true", help="exit codes for `git bisect run`: 0 good, 1 bad, 125 skip")
    p = add("ab-compare", cmd_ab_compare,
            "compare existing results bundles (e.g. before and after a kernel change) with the A/B statistics; "
            "same exit codes as `ab`")
    p.add_argument("--baseline", nargs="+", required=True, metavar="BUNDLE", help="baseline bundles (folder names)")
    p.add_argument("--dev", nargs="+", required=True, metavar="BUNDLE", help="dev bundles (folder names)")
    p.add_argument("--threshold", type=float, default=None, help="percent (default: CONFIG_VLLM_AB_THRESHOLD_PCT)")
    p.add_argument("--equivalence", type=float, default=None,
                   help="percent (default: CONFIG_VLLM_AB_EQUIVALENCE_PCT)")
    p.add_argument("--bisect", action="store_true", help="exit codes for `git bisect run`")
    p.add_argument("--label", default=None, help="comparison folder label (default: compare)")
    p.add_argument("--results-dir", default=None, help="where the bundles are (default: ROOT/workflows/vllm/results)")
    p.add_argument("--extra-vars", default=None, help="settings for the rule and seed (default: ROOT/extra_vars.yaml)")
