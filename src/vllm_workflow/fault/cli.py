"""`vllm-workflow fault-test`: the fault workload on every deployed stack, with the goals as a test."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..stack import require_stacks

EXIT_OK, EXIT_GOAL_FAILED = 0, 1


def junit_suite(host: str, fault: dict[str, Any], bundle: Path) -> Any:
    from ..junit import Case, Suite

    cases = []
    for f in fault.get("faults", []):
        for g in f["goals"]:
            text = f"{g['detail']}: value {g['value']}, limit {g['limit']}"
            cases.append(Case(f"fault {f['n']} ({f['engine']}) {g['goal']}", f"fault-test.{host}",
                              failure=text if g["verdict"] == "fail" else None,
                              skipped=text if g["verdict"] == "not measurable" else None,
                              output=f"bundle: {bundle}"))
    iso = fault.get("isolation")
    if iso:
        g = iso["goal"]
        text = f"{g['detail']}: {g['value']} failed"
        cases.append(Case(f"outage of {iso['model']}: {g['goal']}", f"fault-test.{host}",
                          failure=text if g["verdict"] == "fail" else None,
                          skipped=text if g["verdict"] == "not measurable" else None, output=f"bundle: {bundle}"))
    if not cases:
        cases.append(Case("fault injected", f"fault-test.{host}", failure=str(fault.get("note") or "no fault")))
    return Suite(f"fault-test {host}", cases)


def cmd_fault_test(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..benchmark.cli import options, print_summary
    from ..benchmark.service import EXIT_INTERRUPTED, run_one, settings
    from ..config import secrets
    from ..junit import write_reports

    o = replace(options(args), workload="fault")
    v = settings(o)
    stacks = require_stacks(o.state_dir)
    key = secrets(o.root).api_key
    worst, suites = EXIT_OK, []
    for stack in stacks:
        code, out, summary = run_one(o, v, stack, key, label=o.label or "fault", show=print_summary)
        fault = summary.get("fault") or {}
        suites.append(junit_suite(stack.host, fault, out))
        verdict = fault.get("verdict", "fail")
        mark = {"pass": "✅ goals met", "fail": "❌ goal missed", "not measurable": "⚠️ goal not measurable"}[verdict]
        print(f"\n{mark} on {stack.host} (fault test). Timeline and plot: {out / 'report.html'}")
        if code == EXIT_INTERRUPTED:
            worst = EXIT_INTERRUPTED
            break
        if verdict == "fail":
            worst = max(worst, EXIT_GOAL_FAILED)
    print(write_reports(Path(args.root), "fault-test", suites))
    return worst


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    from ..benchmark.cli import add_run_options

    p = add("fault-test", cmd_fault_test,
            "kill an engine under steady load (the fault workload) on every deployed stack, record the "
            "failover timeline in a results bundle, and check the goals: exit 0 met, 1 missed, 130 stopped")
    add_run_options(p)
