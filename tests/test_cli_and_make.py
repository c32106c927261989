"""The CLI's help, the Makefile's help, and inventory generation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from vllm_workflow import inventory
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
    return names - {"FORCE"}


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


def test_declared_hosts_inventory_with_ab_groups() -> None:
    v = {"vllm_bringup_localhost": False, "vllm_declared_hosts": "a.example, b.example",
         "vllm_declared_hosts_ssh_user": "ops", "vllm_ab_testing": True,
         "vllm_ab_baseline_host": "a.example", "vllm_ab_dev_host": "b.example"}
    text = inventory.render(v, "/x")
    assert "ab-baseline ansible_host=a.example ansible_user=ops vllm_ab_arm=baseline\n" in text
    assert "ab-dev ansible_host=b.example ansible_user=ops vllm_ab_arm=dev\n" in text
    assert "[baseline]\nab-baseline" in text and "[dev]\nab-dev" in text
    assert "vllm_local_instance" not in text  # two machines: nothing to keep apart
    same = inventory.render(v | {"vllm_ab_dev_host": "a.example"}, "/x")
    assert "ab-dev ansible_host=a.example ansible_user=ops vllm_ab_arm=dev vllm_local_instance=dev" in same


def test_localhost_ab_inventory_gives_each_arm_an_instance() -> None:
    text = inventory.render({"vllm_bringup_localhost": True, "vllm_ab_testing": True}, "/py")
    assert ("ab-baseline ansible_connection=local ansible_python_interpreter=/py vllm_ab_arm=baseline "
            "vllm_local_instance=baseline\n") in text
    assert "ab-dev ansible_connection=local ansible_python_interpreter=/py vllm_ab_arm=dev vllm_local_instance=dev" in text


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
