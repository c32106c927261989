"""Run a command on a stack's own host: directly when it is this machine, else through Ansible.

Status and the deploy wait read the process manager and logs where they are. For a host
reached over SSH this runs the ``command`` module through ansible-runner (Ansible's own library
for running it from Python: the result comes back as events, not cut out of printed output) with
the project's inventory and ansible.cfg, so the connection settings (user, port, key,
interpreter) are the deploy's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stack import Stack


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str = ""


def is_remote(stack: Stack) -> bool:
    target = stack.target
    return str(target.get("connection") or "local") != "local"


def run(stack: Stack, argv: list[str], root: Path, timeout: float = 30) -> Result:
    """``argv`` on the stack's host; rc 255 with the reason when the host cannot be reached."""
    if not is_remote(stack):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return Result(255, "", str(exc))
        return Result(out.returncode, out.stdout, out.stderr)
    host = str(stack.target.get("inventory_hostname") or stack.host)
    return run_module(host, {"argv": argv}, root, timeout)


#: The events that carry one host's result of an ad-hoc module run.
_RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")


def run_module(host: str, args: dict[str, Any], root: Path, timeout: float) -> Result:
    """The ``command`` module with ``args`` on ``host`` (of the project's inventory), through
    ansible-runner; rc 255 with the reason when the host cannot be reached."""
    import ansible_runner

    # Our ansible first on PATH (ansible-runner finds it there), the deploy's ansible.cfg.
    env = {"ANSIBLE_CONFIG": os.environ.get("ANSIBLE_CONFIG") or str(root / "ansible.cfg"),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    with tempfile.TemporaryDirectory(prefix="vllm-workflow-remote-") as data:  # 0700, removed after
        try:
            runner = ansible_runner.run(
                private_data_dir=data, project_dir=str(root), inventory=str(root / "hosts"), host_pattern=host,
                module="ansible.builtin.command", module_args=json.dumps(args), envvars=env, quiet=True,
                timeout=max(1, int(timeout)),
                # Given a cancel callback, ansible-runner leaves our SIGINT/SIGTERM handlers alone (it
                # would replace them for good, and Ctrl-C would no longer stop a benchmark).
                cancel_callback=lambda: False)
        except Exception as exc:  # noqa: BLE001 - any failure to start is "cannot reach"
            return Result(255, "", f"cannot reach {host} through Ansible: {exc}")
        if runner.status == "timeout":
            return Result(255, "", f"cannot reach {host} through Ansible: no answer within {timeout:.0f} s")
        results = [e for e in runner.events if e.get("event") in _RESULT_EVENTS]
    if not results:
        return Result(255, "", f"cannot reach {host} through Ansible: no result (ansible-runner {runner.status}, "
                               f"rc {runner.rc})")
    event, res = results[-1]["event"], results[-1].get("event_data", {}).get("res", {})
    if event == "runner_on_unreachable" or res.get("unreachable"):
        return Result(255, "", str(res.get("msg") or "unreachable"))
    return Result(int(res.get("rc", 1)), str(res.get("stdout") or ""), str(res.get("stderr") or res.get("msg") or ""))


def controller_address(name: str, ssh_args: str = "") -> str:
    """The address this machine reaches a host at for HTTP: the name itself when it is an IP
    address or resolves, else the HostName ssh would connect to (kdevops names such as
    ``kdevops-vllm`` exist only in the ssh configuration)."""
    import ipaddress
    import shlex
    import socket

    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    try:
        socket.getaddrinfo(name, None)
        return name
    except (OSError, UnicodeError):
        pass
    args = shlex.split(ssh_args or os.environ.get("ANSIBLE_SSH_COMMON_ARGS", ""))
    try:
        out = subprocess.run(["ssh", *args, "-G", name], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return name
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "hostname" and value.strip():
            return value.strip()
    return name
