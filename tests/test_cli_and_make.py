"""The CLI's help, the Makefile's help, and inventory generation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


import pytest

from vllm_workflow import inventory
from vllm_workflow.errors import WorkflowError
from vllm_workflow.quicktest import parse_sse
from vllm_workflow.stack import Stack
from vllm_workflow.status import DEGRADED, DOWN, HEALTHY, Health

ROOT = Path(__file__).resolve().parent.parent


def make_targets() -> set[str]:
    """Targets defined in our Makefiles (pattern rules and file targets excluded)."""
    names = set()
    for path in (ROOT / "Makefile", ROOT / "workflows/vllm/Makefile"):
        for line in path.read_text().splitlines():
            match = re.match(r"^([a-z][a-z0-9-]*%?):(?!=)", line)
            if match:
                names.add(match.group(1))
    return names - {"FORCE", "defconfig-"}  # defconfig- only explains a missing name


def test_make_help_lists_exactly_the_targets() -> None:
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "help", f"VENV={sys.prefix}"], capture_output=True,
                         text=True, check=True).stdout
    targets, defconfigs = out.split("Defconfigs", 1)
    listed = {m.group(1) for m in re.finditer(r"^  ([a-z][a-z0-9%-]*)\s{2,}\S", targets, re.MULTILINE)}
    assert listed == make_targets()
    assert set(defconfigs.split()[2:]) == {p.name for p in (ROOT / "defconfigs").iterdir()}


def test_cli_help_reads_like_documentation() -> None:
    out = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in ("defconfig", "vars", "inventory", "quick-test", "status", "routing-check", "wait"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), command


def test_localhost_inventory_uses_local_connection() -> None:
    text = inventory.render({"vllm_bringup_localhost": True}, "/venv/bin/python")
    assert "[vllm]\nlocalhost ansible_connection=local ansible_python_interpreter=/venv/bin/python\n" in text


def _ini(text: str):
    """The inventory as Ansible itself reads it."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix="", delete=False) as f:
        f.write(text)
    return InventoryManager(loader=DataLoader(), sources=[f.name])


def test_declared_hosts_inventory_with_ab_groups_as_kdevops_writes_them() -> None:
    v = {"vllm_bringup_localhost": False, "vllm_declared_hosts": "a.example, ops2@b.example:2222",
         "vllm_declared_hosts_ssh_user": "ops", "vllm_ab_testing": True,
         "vllm_ab_baseline_host": "a.example", "vllm_ab_dev_host": "ops2@b.example:2222",
         "vllm_target_python": "/opt/py 3/bin/python3"}
    text = inventory.render(v, "/x")
    assert "[baseline]\na.example\n" in text and "[dev]\nb.example\n" in text
    assert "vllm_local_instance" not in text and "vllm_ab_arm" not in text  # the play takes arms from groups
    inv = _ini(text)
    a, b = inv.get_host("a.example").get_vars(), inv.get_host("b.example").get_vars()
    assert a["ansible_user"] == "ops" and (b["ansible_user"], b["ansible_port"]) == ("ops2", 2222)
    group = inv.groups["vllm"].get_vars()
    assert group["ansible_python_interpreter"] == "/opt/py 3/bin/python3"  # quoted, read back whole
    same = _ini(inventory.render(v | {"vllm_ab_dev_host": "a.example"}, "/x"))
    dev = same.get_host("a.example-dev").get_vars()
    assert (dev["ansible_host"], dev["vllm_local_instance"]) == ("a.example", "dev")
    assert [h.name for h in same.groups["baseline"].get_hosts()] == ["a.example-baseline"]


def test_localhost_ab_inventory_gives_each_arm_an_instance() -> None:
    inv = _ini(inventory.render({"vllm_bringup_localhost": True, "vllm_ab_testing": True}, "/py"))
    for arm in ("baseline", "dev"):
        hv = inv.get_host(f"ab-{arm}").get_vars()
        assert (hv["ansible_connection"], hv["ansible_python_interpreter"], hv["vllm_local_instance"]) == (
            "local", "/py", arm)
        assert [h.name for h in inv.groups[arm].get_hosts()] == [f"ab-{arm}"]


@pytest.mark.parametrize("spec", [
    "node1 ansible_host=10.9.9.9", "bad host!", "a=b", "x;touch pwned", "'quoted'", "host:99999", "host:0",
    "[::1", "[example.com]:22", "Bad User@host", "a..b", "-leading", "x" * 300, "1.2.3", "h\tx",
])
def test_declared_host_specs_that_cannot_work_are_refused(spec: str) -> None:
    from vllm_workflow import hosts

    with pytest.raises(WorkflowError) as err:
        hosts.parse_host(spec)
    assert "CONFIG_VLLM_DECLARED_HOSTS" in str(err.value) and "Fix:" in str(err.value)


@pytest.mark.parametrize("spec,address,user,port", [
    ("kdevops-vllm", "kdevops-vllm", None, None), ("gpu1.example.com", "gpu1.example.com", None, None),
    ("10.0.0.5", "10.0.0.5", None, None), ("root@10.0.0.5:2222", "10.0.0.5", "root", 2222),
    ("fe80::1", "fe80::1", None, None), ("[2001:db8::7]:22", "2001:db8::7", None, 22),
    ("deploy@[2001:db8::7]", "2001:db8::7", "deploy", None), ("my_lab_box", "my_lab_box", None, None),
])
def test_declared_host_specs_that_work(spec: str, address: str, user: str | None, port: int | None) -> None:
    from vllm_workflow import hosts

    h = hosts.parse_host(spec)
    assert (h.address, h.user, h.port) == (address, user, port)


def test_duplicate_declared_hosts_are_refused() -> None:
    from vllm_workflow import hosts

    assert hosts.problems({"vllm_declared_hosts": "a, b, ops@a"}) == [
        "CONFIG_VLLM_DECLARED_HOSTS: 'a' is listed twice. Fix: list each host once."]


def test_parse_sse_stops_at_done() -> None:
    lines = ['data: {"choices": [{"delta": {"content": "a"}}]}', "", ": keep-alive", "data: [DONE]",
             'data: {"late": true}']
    chunks, done = parse_sse(lines)
    assert done is True and chunks == [{"choices": [{"delta": {"content": "a"}}]}]
    assert parse_sse(['data: {"x": 1}'])[1] is False


def _stack() -> Stack:
    return Stack.from_dict({
        "host": "h", "backend": "local", "model": "m", "routing": "session", "api_url": "http://r",
        "router": {"url": "http://r", "metrics_url": "http://r/m"},
        "engines": [{"name": "engine-0", "url": "http://e0", "metrics_url": "x"},
                    {"name": "engine-1", "url": "http://e1", "metrics_url": "y"}],
    })


def test_status_verdicts() -> None:
    running = {"daemon": True, "processes": [{"name": "engine-0", "state": "RUNNING"}]}
    assert Health({"engine-0": True, "engine-1": True}, True, running).verdict() == HEALTHY
    assert Health({"engine-0": True, "engine-1": False}, True, running).verdict() == DEGRADED
    assert Health({"engine-0": True, "engine-1": True}, False, running).verdict() == DEGRADED
    assert Health({"engine-0": False, "engine-1": False}, True, running).verdict() == DOWN
    assert Health({"engine-0": True}, None, {"daemon": False, "processes": []}).verdict() == DOWN
    assert Health({"engine-0": True}, False, running, router_answers=False).verdict() == DOWN
    assert _stack().engines[1].url == "http://e1"


def test_status_shows_each_stacks_own_quick_test(tmp_path: Path) -> None:
    import json as _json

    from vllm_workflow import status
    from vllm_workflow.stack import quick_test_path

    for host, failed in (("ab-baseline", 0), ("ab-dev", 2)):
        path = quick_test_path(tmp_path, host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_json.dumps({"passed": 15 - failed, "failed": failed, "time": "t"}))
    health = status.Health(engines={"engine-0": True, "engine-1": True}, router=True, processes=None)
    lines: dict[str, list[str]] = {}
    for host in ("ab-baseline", "ab-dev"):
        stack = Stack.from_dict(_stack().raw | {"host": host})
        out: list[str] = []
        status.simplified(stack, health, tmp_path, emit=out.append)
        lines[host] = [line for line in out if "last quick-test" in line]
    assert lines["ab-baseline"] == ["🧪 last quick-test: ✅ 15 passed, 0 failed at t"]
    assert lines["ab-dev"] == ["🧪 last quick-test: ❌ 13 passed, 2 failed at t"]
