"""Subcommands that act on a deployed stack: wait, quick-test, status, monitor, grafana, routing-check."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from .stack import DEFAULT_STATE_DIR, require_stacks


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() / DEFAULT_STATE_DIR if args.state_dir is None else Path(args.state_dir)


def api_key(args: argparse.Namespace) -> str:
    from .config import secrets

    return secrets(Path(args.root).resolve()).api_key


def cmd_wait(args: argparse.Namespace) -> int:
    from .readiness import wait_healthy

    return wait_healthy(require_stacks(_state_dir(args)), api_key(args), args.timeout, args.interval,
                        Path(args.root).resolve())


def cmd_quick_test(args: argparse.Namespace) -> int:
    from .quicktest import check_deployed

    return 1 if check_deployed(Path(args.root).resolve(), _state_dir(args), api_key(args)) else 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import status
    from .stack import load_stacks

    state = _state_dir(args)
    stacks = load_stacks(state)
    if not stacks:
        if args.detailed:
            require_stacks(state)  # raises: nothing is deployed, and what to run
        print("💤 nothing is deployed.")
        print("👉 next: make bringup && make vllm-deploy (or make vllm for deploy + checks)")
        return status.NOT_DEPLOYED
    worst = status.HEALTHY
    key = api_key(args)
    for stack in stacks:
        h = status.health(stack, key, Path(args.root).resolve())
        if args.detailed:
            status.detailed(stack, h)
            code = h.verdict()
        else:
            code = status.simplified(stack, h, state)
        worst = max(worst, code)
    return worst


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the stack subcommands to the CLI parser."""

    def with_state(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--state-dir", default=None, help=f"deploy state (default: ROOT/{DEFAULT_STATE_DIR})")
        return p

    p = with_state(add("wait", cmd_wait, "wait until every engine and router of the deployed stack is healthy"))
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (default 600)")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between polls (default 0.1)")
    with_state(add("quick-test", cmd_quick_test,
                   "check /health, /v1/models, completions, chat and streamed chat through the router and on "
                   "each engine; exit 1 if any check fails"))
    p = with_state(add("status", cmd_status,
                       "emoji summary of the deployed stack; exit 0 healthy, 1 degraded, 2 down, 3 not deployed"))
    p.add_argument("--detailed", action="store_true", help="print everything known as JSON instead")
    with_state(add("monitor", cmd_monitor,
                   "Prometheus URLs, scrape targets up or down (named), a live per-engine summary from PromQL; "
                   "exit 0 all up, 1 a target down, 2 Prometheus unreachable, 3 observability off"))
    p = with_state(add("grafana", cmd_grafana,
                       "provision our dashboard and a Prometheus datasource in a Grafana that answers "
                       "(VLLM_GRAFANA_URL, or the stack's host at VLLM_GRAFANA_PORT); otherwise write the dashboard "
                       "JSON for import and say where"))
    p.add_argument("--extra-vars", default=None, help="generated extra vars (default: ROOT/extra_vars.yaml)")
    p.add_argument("--report-changed", action="store_true", help='end with {"changed": ...} as JSON (for Ansible)')
    with_state(add("routing-check", cmd_routing_check,
                   "prove the configured routing from engine counters; exit 1 when it does not hold"))


def cmd_monitor(args: argparse.Namespace) -> int:
    from .observability.monitor import monitor

    worst = 0
    for stack in require_stacks(_state_dir(args)):
        worst = max(worst, monitor(stack, Path(args.root).resolve(), state_dir=_state_dir(args)))
    return worst


def cmd_grafana(args: argparse.Namespace) -> int:
    """Provision a Grafana that answers, else write the dashboard for import."""
    from . import config
    from .readiness import provision_dashboards

    extra = Path(args.extra_vars) if args.extra_vars else config.extra_vars_path(Path(args.root))
    changed, failed = provision_dashboards(Path(args.root).resolve(), _state_dir(args), config.load_vars(extra),
                                           require_stacks(_state_dir(args)))
    if args.report_changed:
        print(json.dumps({"changed": changed}))
    return 1 if failed else 0


def cmd_routing_check(args: argparse.Namespace) -> int:
    from . import routecheck
    from .junit import Case, Suite, write_reports

    key = api_key(args)
    failed = 0
    suites = []
    for stack in require_stacks(_state_dir(args)):
        start = time.monotonic()
        outcome = routecheck.check(stack, key)
        mark = "✅" if outcome.ok else "❌"
        print(f"{mark} {stack.host}: {stack.routing} routing {'holds' if outcome.ok else 'does NOT hold'}: {outcome.detail}")
        failed += not outcome.ok
        suites.append(Suite(f"routing-check {stack.host}", [Case(
            f"{stack.routing} routing holds", f"routing-check.{stack.host}", time.monotonic() - start,
            None if outcome.ok else outcome.detail, output=outcome.detail)]))
    print(write_reports(Path(args.root), "routing-check", suites))
    return 1 if failed else 0
