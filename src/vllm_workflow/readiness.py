"""A deployed stack becoming ready: record its description, provision its dashboard, wait for it.

Deploy's controller step once the processes are started (`finish_deploy`; the Ansible action
`vllm_finish_deploy` runs it in Ansible's own process, `vllm-workflow wait` runs the wait alone).
Output goes through ``say`` one line at a time: printed by the CLI, shown live by Ansible.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import secrets
from .files import write_atomic, write_if_changed
from .errors import WorkflowError
from .stack import Stack, grafana_state_path
from .settings import Settings

Say = Callable[[str], None]
RECORDED = "📝 stack description recorded"


def record_stack(state: Path, host: str, text: str) -> bool:
    """Write ``state/stacks/<host>.json`` unless it already holds ``text``; True when written."""
    if not host or "/" in host or host.startswith(".") or "\0" in host:
        raise WorkflowError(f"--record {host!r}: not an inventory host name usable as a file name")
    try:
        json.loads(text)  # a damaged document must not replace a good one
    except ValueError as exc:
        raise WorkflowError(f"the stack description for {host} is not JSON ({exc}); the recorded one "
                            "is kept. Fix: run `make vllm-deploy` again.") from None
    path = state / "stacks" / f"{host}.json"
    try:
        if path.is_file() and path.read_text() == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, text, 0o644)
    except OSError as exc:
        raise WorkflowError(f"cannot record the stack description {path} ({exc.strerror or exc}). Fix: make "
                            f"{state} a writable directory, then `make vllm-deploy` again.") from None
    return True


def port_open(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(stack: Stack, name: str, root: Path, lines: int = 15) -> str:
    """The last lines of a component's log, read on the stack's own host."""
    from . import remote

    path = Path(stack.logs_dir) / f"{name}.log"
    if remote.is_remote(stack):
        out = remote.run(stack, ["tail", "-n", str(lines), str(path)], root)
        return out.stdout + "\n" if out.rc == 0 else f"(log {path} on {stack.host} not readable: {out.stderr.strip()})\n"
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return f"(log {path} not readable from here)\n"


def router_knows_workers(stack: Stack, key: str) -> bool:
    """Several models (the router's inference-gateway mode, workers registered after it starts): the
    router lists every engine as a healthy worker. One model: its workers are on its command line."""
    if len(stack.models) < 2 or stack.router is None:
        return True
    import requests

    from .httpclient import auth_headers

    try:
        workers = requests.get(f"{stack.router.url}/workers", headers=auth_headers(key), timeout=5).json()["workers"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    healthy = {urlsplit(str(w.get("url"))).port for w in workers if isinstance(w, dict) and w.get("is_healthy")}
    return {urlsplit(e.url).port for e in stack.engines} <= healthy


def wait_healthy(stacks: list[Stack], key: str, timeout: float, interval: float, root: Path,
                 say: Say = print) -> int:
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
            prom = stack.prometheus_url
            if prom and (not down or (stack.host, "prometheus") not in ready):
                if not answers(stack, "prometheus", f"{prom}/-/ready", ""):
                    pending.append((stack, "prometheus"))
            if stack.router and (down or not answers(stack, "router", f"{stack.router.url}/health", key)
                                 or not router_knows_workers(stack, key)):
                pending.append((stack, "router"))
        elapsed = time.monotonic() - start
        if not pending:
            each = ", ".join(f"{name} {t:.1f} s" for (_, name), t in sorted(ready.items(), key=lambda kv: kv[1]))
            say(f"✅ all engines and routers healthy after {elapsed:.1f} s ({each})")
            return 0
        if elapsed - last_report >= 10:
            names = ", ".join(f"{s.host}/{n}" for s, n in pending)
            say(f"⏳ {elapsed:4.0f} s: waiting for {names}")
            last_report = elapsed
        if elapsed > timeout:
            for stack, name in pending:
                say(f"❌ {stack.host}/{name} not healthy after {timeout:g} s; last log lines:")
                say(log_tail(stack, name, root).rstrip("\n"))
            say("Fix: read the logs above and in the logs directory, then `make vllm-deploy` again.")
            return 1
        time.sleep(interval)


def provision_dashboards(root: Path, state: Path, v: Mapping[str, Any], stacks: list[Stack],
                         say: Say = print) -> tuple[bool, bool]:
    """Provision a Grafana that answers for each local stack with Prometheus, else write the dashboard
    for import; (changed, failed: a configured Grafana did not take it)."""
    s = Settings.of(v)
    from .observability.grafana import GrafanaError, provision
    from .observability.monitor import write_dashboard

    token = secrets(root).grafana_api_token
    configured = s.grafana_url
    changed, failed = False, False
    for stack in stacks:
        prom = stack.prometheus_url
        if stack.backend != "local" or not prom:
            continue
        url = configured or f"http://{urlsplit(prom).hostname}:{s.grafana_port}"
        try:
            outcome = provision(url, prom, token, stack.arm)
        except GrafanaError as exc:
            say(f"❌ {stack.host}: {exc}.")
            failed = failed or bool(configured)
            continue
        if outcome.available:
            record = {"url": url, "provisioned": outcome.message}
            say(f"📊 {stack.host}: Grafana {outcome.message}")
        else:
            record = {"url": "", "provisioned": ""}
            say(f"📊 {stack.host}: {outcome.message}; dashboard for import written to {write_dashboard(root)}"
                + ("" if not configured else " (CONFIG_VLLM_GRAFANA_URL does not answer)"))
            failed = failed or bool(configured)
        path = grafana_state_path(state, stack.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(record) + "\n")
        changed = changed or outcome.changed
    return changed, failed


@dataclass(frozen=True)
class FinishOptions:
    """What deploy's controller step needs once the processes are started."""

    root: Path
    state_dir: Path
    host: str                      # the inventory host the stack description is for
    stack_text: str                # the description the plan made (JSON)
    timeout: float = 600.0
    interval: float = 0.1
    dashboard_vars: Mapping[str, Any] | None = None  # the settings; None: no dashboard to provision


@dataclass
class FinishResult:
    changed: bool
    failed: bool
    lines: list[str] = field(default_factory=list)


def finish_deploy(opts: FinishOptions, say: Say | None = None) -> FinishResult:
    """Record the stack description, provision its dashboard while the engines start, wait until
    everything answers /health. Every line goes to ``say`` as it comes and into the result."""
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if say is not None:
            say(line)

    recorded = record_stack(opts.state_dir, opts.host, opts.stack_text)  # checks that it is JSON first
    if recorded:
        out(RECORDED)
    stack = Stack.from_dict(json.loads(opts.stack_text))
    dashboard_changed, dashboard_failed = False, False
    if opts.dashboard_vars is not None:
        dashboard_changed, dashboard_failed = provision_dashboards(opts.root, opts.state_dir, opts.dashboard_vars,
                                                                   [stack], out)
    code = wait_healthy([stack], secrets(opts.root).api_key, opts.timeout, opts.interval, opts.root, out)
    return FinishResult(changed=recorded or dashboard_changed, failed=bool(code) or dashboard_failed, lines=lines)
