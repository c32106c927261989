"""Commands on a stack's host through real Ansible ad-hoc (what status and the deploy wait use for SSH
hosts); here the inventory host is this machine with a local connection, the path is the same."""

from __future__ import annotations

import pytest

import shutil
import signal
import sys
from pathlib import Path

from vllm_workflow import remote
from vllm_workflow.stack import Stack

ROOT = Path(__file__).resolve().parent.parent


def _stack(connection: str) -> Stack:
    return Stack.from_dict({"host": "lab1", "backend": "local", "model": "m", "routing": "none", "api_url": "http://x",
                            "engines": [], "target": {"inventory_hostname": "lab1", "connection": connection}})


@pytest.mark.slow
def test_remote_runs_through_ansible_with_the_projects_config(tmp_path: Path) -> None:
    shutil.copy(ROOT / "ansible.cfg", tmp_path / "ansible.cfg")  # our callbacks on: stdout must stay parseable
    (tmp_path / "playbooks").symlink_to(ROOT / "playbooks")
    (tmp_path / ".ansible").symlink_to(ROOT / ".ansible")
    (tmp_path / "hosts").write_text(f"[vllm]\nlab1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    stack = _stack("ssh")
    assert remote.is_remote(stack) and not remote.is_remote(_stack("local"))
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    out = remote.run(stack, ["sh", "-c", "echo hello; echo oops >&2; exit 3"], tmp_path, timeout=60)
    assert (out.rc, out.stdout, out.stderr) == (3, "hello", "oops")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # Ctrl-C still ours
    elsewhere = Stack.from_dict({**stack.raw, "target": {"inventory_hostname": "nowhere", "connection": "ssh"}})
    missing = remote.run(elsewhere, ["true"], tmp_path, timeout=60)  # not in the inventory
    assert missing.rc == 255


def test_controller_address_of_an_ssh_config_name(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host kdevops-vllm\n  HostName 198.18.1.2\n")
    assert remote.controller_address("kdevops-vllm", f"-F {config}") == "198.18.1.2"
    assert remote.controller_address("10.1.2.3") == "10.1.2.3"
    assert remote.controller_address("localhost") == "localhost"  # resolvable: kept
