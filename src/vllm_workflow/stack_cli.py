"""Subcommands that act on a deployed stack: local-plan, wait, quick-test, status."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .errors import WorkflowError
from .stack import DEFAULT_STATE_DIR, Stack, grafana_state_path, quick_test_path, require_stacks


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() / DEFAULT_STATE_DIR if args.state_dir is None else Path(args.state_dir)


def secrets(root: Path) -> dict[str, str]:
    """The API key and HF token from the 0600 secrets file `make` writes, else the environment;
    never printed."""
    try:
        data = yaml.safe_load((root / ".secrets.yaml").read_text()) or {}
    except OSError:
        data = {}
    return {"vllm_api_key": str(data.get("vllm_api_key") or os.environ.get("VLLM_API_KEY", "")),
            "vllm_hf_token": str(data.get("vllm_hf_token") or os.environ.get("HF_TOKEN", "")),
            "vllm_grafana_api_token": str(data.get("vllm_grafana_api_token") or os.environ.get("GRAFANA_API_TOKEN", ""))}


def api_key(args: argparse.Namespace) -> str:
    return secrets(Path(args.root).resolve())["vllm_api_key"]


def cmd_local_plan(args: argparse.Namespace) -> int:
    """The local deploy plan as JSON, from ``{"vars", "facts"}`` on stdin (what deploy computes
    in-process through the vllm_local_plan filter; here for inspection and debugging)."""
    from .local.plan import plan_from_input

    try:
        result = plan_from_input(json.load(sys.stdin))
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkflowError(f"local-plan needs JSON {{'vars': ..., 'facts': ...}} on stdin: {exc}") from exc
    json.dump(result, sys.stdout)
    return 0


def _log_tail(stack: Stack, name: str, root: Path, lines: int = 15) -> str:
    from . import remote

    path = Path(stack.logs_dir) / f"{name}.log"
    if remote.is_remote(stack):
        out = remote.run(stack, ["tail", "-n", str(lines), str(path)], root)
        return out.stdout + "\n" if out.rc == 0 else f"(log {path} on {stack.host} not readable: {out.stderr.strip()})\n"
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return f"(log {path} not readable from here)\n"


RECORDED = "📝 stack description recorded"


def record_stack(state: Path, host: str, text: str) -> bool:
    """Write ``state/stacks/<host>.json`` unless it already holds ``text``; True when written."""
    import json as _json

    if not host or "/" in host or host.startswith(".") or "\0" in host:
        raise WorkflowError(f"--record {host!r}: not an inventory host name usable as a file name")
    try:
        _json.loads(text)  # a damaged document must not replace a good one
    except ValueError as exc:
        raise WorkflowError(f"the stack description for {host} on stdin is not JSON ({exc}); the recorded one "
                            "is kept. Fix: run `make vllm-deploy` again.") from None
    path = state / "stacks" / f"{host}.json"
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def port_open(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def wait_healthy(stacks: list[Stack], key: str, timeout: float, interval: float, root: Path) -> int:
    """Poll every engine, router and Prometheus of ``stacks`` until all answer in one pass; 0, or 1
    with log tails. Engines are polled with a TCP connect first (nearly free while they start: they
    bind their port at the end); the router only once every engine answers (its /health reports its
    workers, so it is asked when it can say yes); Prometheus until it first answers, then with them."""
    from .status import http_ok

    start = time.monotonic()
    last_report = -999.0
    ready: dict[tuple[str, str], float] = {}  # (host, component) -> seconds until it first answered

    def answers(stack: Stack, name: str, url: str, auth: str) -> bool:
        if port_open(url) and http_ok(url, auth):
            ready.setdefault((stack.host, name), time.monotonic() - start)
            return True
        return False

    while True:
        pending: list[tuple[Stack, str]] = []
        for stack in stacks:
            down = [e.name for e in stack.engines if not answers(stack, e.name, f"{e.url}/health", key)]
            pending += [(stack, name) for name in down]
            prom = stack.raw.get("prometheus_url")
            if prom and (not down or (stack.host, "prometheus") not in ready):
                if not answers(stack, "prometheus", f"{prom}/-/ready", ""):
                    pending.append((stack, "prometheus"))
            if stack.router and (down or not answers(stack, "router", f"{stack.router.url}/health", key)):
                pending.append((stack, "router"))
        elapsed = time.monotonic() - start
        if not pending:
            each = ", ".join(f"{name} {t:.1f} s" for (_, name), t in sorted(ready.items(), key=lambda kv: kv[1]))
            print(f"✅ all engines and routers healthy after {elapsed:.1f} s ({each})", flush=True)
            return 0
        if elapsed - last_report >= 10:
            names = ", ".join(f"{s.host}/{n}" for s, n in pending)
            print(f"⏳ {elapsed:4.0f} s: waiting for {names}", flush=True)
            last_report = elapsed
        if elapsed > timeout:
            for stack, name in pending:
                print(f"❌ {stack.host}/{name} not healthy after {timeout:g} s; last log lines:")
                print(_log_tail(stack, name, root), end="")
            print("Fix: read the logs above and in the logs directory, then `make vllm-deploy` again.")
            return 1
        time.sleep(interval)


def cmd_wait(args: argparse.Namespace) -> int:
    return wait_healthy(require_stacks(_state_dir(args)), api_key(args), args.timeout, args.interval,
                        Path(args.root).resolve())


def cmd_finish_deploy(args: argparse.Namespace) -> int:
    """A deploy's controller step once the processes are started: record HOST's stack description
    (stdin), provision its dashboard while the engines start, wait until it is healthy. The last
    line is JSON ``{"changed": ...}`` for Ansible."""
    from . import config

    state = _state_dir(args)
    text = sys.stdin.read()
    recorded = record_stack(state, args.host, text)  # checks that it is JSON first
    if recorded:
        print(RECORDED, flush=True)
    stack = Stack.from_dict(json.loads(text))
    dashboard_changed, dashboard_failed = False, False
    if args.extra_vars:
        dashboard_changed, dashboard_failed = provision_dashboards(
            Path(args.root).resolve(), state, config.load_vars(Path(args.extra_vars)), [stack])
    code = wait_healthy([stack], api_key(args), args.timeout, args.interval, Path(args.root).resolve())
    print(json.dumps({"changed": recorded or dashboard_changed}))
    return code or int(dashboard_failed)


def cmd_quick_test(args: argparse.Namespace) -> int:
    from . import quicktest
    from .kubernetes.status import ensure_forwards

    state = _state_dir(args)
    key = api_key(args)
    failed = 0
    suites = []
    for stack in require_stacks(state):
        print(f"Quick test of {stack.host} ({stack.backend} backend, model {stack.model}):")
        note = ensure_forwards(stack)
        if note:
            print(f"🔌 {note}")
        results = quicktest.run(stack, key)
        summary = quicktest.summary(stack, results)
        failed += summary["failed"]
        path = quick_test_path(state, stack.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2))
        print(f"{summary['passed']} passed, {summary['failed']} failed")
        suites.append(quicktest.junit_suite(stack, results))
    _write_ci_reports(args, "quick-test", suites)
    return 1 if failed else 0


def _write_ci_reports(args: argparse.Namespace, name: str, suites: list) -> None:
    """JUnit XML and a Markdown summary for CI, named in the output."""
    from . import junit

    folder = Path(args.root).resolve() / junit.JUNIT_DIR
    xml = junit.write(folder / f"{name}.xml", suites)
    md = folder / f"{name}.md"
    md.write_text(junit.markdown(name, suites))
    print(f"🧾 JUnit: {xml} · summary: {md}")


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

    add("local-plan", cmd_local_plan,
        "plan the local stack from JSON {vars, facts} on stdin; print the plan as JSON (used by deploy)")
    for name, handler, text in (
            ("wait", cmd_wait, "wait until every engine and router of the deployed stack is healthy"),
            ("finish-deploy", cmd_finish_deploy,
             "record HOST's stack description read from stdin, provision its dashboard, wait until it is healthy "
             "(used by deploy once the processes are started)")):
        p = with_state(add(name, handler, text))
        p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (default 600)")
        p.add_argument("--interval", type=float, default=0.1, help="seconds between polls (default 0.1)")
    p.add_argument("host", metavar="HOST", help="the inventory host the description is for")
    p.add_argument("--extra-vars", default=None, help="generated extra vars: with them, the dashboard is provisioned")
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
    p.add_argument("--extra-vars", default="extra_vars.yaml", help="generated extra vars (default: extra_vars.yaml)")
    p.add_argument("--report-changed", action="store_true", help='end with {"changed": ...} as JSON (for Ansible)')
    with_state(add("routing-check", cmd_routing_check,
                   "prove the configured routing from engine counters; exit 1 when it does not hold"))


def cmd_monitor(args: argparse.Namespace) -> int:
    from .observability.monitor import monitor

    worst = 0
    for stack in require_stacks(_state_dir(args)):
        worst = max(worst, monitor(stack, Path(args.root).resolve(), state_dir=_state_dir(args)))
    return worst


def provision_dashboards(root: Path, state: Path, v: Mapping[str, Any], stacks: list[Stack]) -> tuple[bool, bool]:
    """Provision a Grafana that answers for each local stack with Prometheus, else write the dashboard
    for import; (changed, failed: a configured Grafana did not take it)."""
    from urllib.parse import urlsplit

    from .observability.grafana import GrafanaError, provision
    from .observability.monitor import write_dashboard

    token = secrets(root)["vllm_grafana_api_token"]
    configured = str(v.get("vllm_grafana_url") or "")
    changed, failed = False, False
    for stack in stacks:
        prom = stack.raw.get("prometheus_url")
        if stack.backend != "local" or not prom:
            continue
        url = configured or f"http://{urlsplit(prom).hostname}:{v.get('vllm_grafana_port') or 3000}"
        try:
            outcome = provision(url, prom, token, stack.raw.get("arm") or "")
        except GrafanaError as exc:
            print(f"❌ {stack.host}: {exc}.", file=sys.stderr)
            failed = failed or bool(configured)
            continue
        if outcome.available:
            record = {"url": url, "provisioned": outcome.message}
            print(f"📊 {stack.host}: Grafana {outcome.message}")
        else:
            record = {"url": "", "provisioned": ""}
            print(f"📊 {stack.host}: {outcome.message}; dashboard for import written to {write_dashboard(root)}"
                  + ("" if not configured else " (CONFIG_VLLM_GRAFANA_URL does not answer)"))
            failed = failed or bool(configured)
        path = grafana_state_path(state, stack.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record) + "\n")
        changed = changed or outcome.changed
    return changed, failed


def cmd_grafana(args: argparse.Namespace) -> int:
    """Provision a Grafana that answers, else write the dashboard for import."""
    from . import config

    changed, failed = provision_dashboards(Path(args.root).resolve(), _state_dir(args),
                                           config.load_vars(Path(args.extra_vars)), require_stacks(_state_dir(args)))
    if args.report_changed:
        print(json.dumps({"changed": changed}))
    return 1 if failed else 0


def cmd_routing_check(args: argparse.Namespace) -> int:
    from . import routecheck

    from .junit import Case, Suite

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
    _write_ci_reports(args, "routing-check", suites)
    return 1 if failed else 0
