"""Run a command on a stack's own host: directly when it is this machine, else through Ansible.

Status and the deploy wait read the process manager and logs where they are. For a host
reached over SSH this uses ``ansible <host> -m command`` with the project's inventory and
ansible.cfg, so the connection settings (user, port, key, interpreter) are the deploy's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    ansible = Path(sys.executable).parent / "ansible"
    env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}
    env.setdefault("ANSIBLE_CONFIG", str(root / "ansible.cfg"))
    cmd = [str(ansible), host, "-i", str(root / "hosts"), "-m", "ansible.builtin.command",
           "-a", json.dumps({"argv": argv})]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=root)
        text = out.stdout[out.stdout.find("{"):out.stdout.rfind("}") + 1]  # the json callback's document only
        result = json.loads(text)["plays"][0]["tasks"][0]["hosts"][host]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
        return Result(255, "", f"cannot reach {host} through Ansible: {exc}")
    if result.get("unreachable"):
        return Result(255, "", str(result.get("msg") or "unreachable"))
    return Result(int(result.get("rc", 1)), str(result.get("stdout") or ""), str(result.get("stderr") or ""))


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
