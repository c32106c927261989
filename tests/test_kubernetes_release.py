"""The Helm release's status decides what deploy does (issue 12, item 3)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vllm_workflow.kubernetes.release import decide


def test_a_new_release_is_installed() -> None:
    assert decide(None, "vllm", "ns")["action"] == "install"


def test_a_deployed_release_upgrades_only_on_change() -> None:
    d = decide({"status": "deployed", "revision": 3}, "vllm", "ns")
    assert (d["action"], d["force"], d["error"]) == ("upgrade", False, None)


def test_a_failed_release_is_retried_with_the_same_values() -> None:
    d = decide({"status": "failed", "revision": 4}, "vllm", "ns")
    assert (d["action"], d["force"], d["error"]) == ("upgrade", True, None)
    assert "revision 4" in d["message"] and "make vllm-rollback" in d["message"]


@pytest.mark.parametrize("state", ["pending-install", "pending-upgrade", "pending-rollback", "uninstalling"])
def test_a_held_release_is_refused_with_the_fix(state: str) -> None:
    d = decide({"status": state, "revision": 2}, "vllm", "vllm-system")
    assert d["action"] == "refuse" and "Fix:" in d["error"]
    assert f"release vllm in namespace vllm-system is {state}" in d["error"] or "being uninstalled" in d["error"]


def test_the_cli_decides_from_helm_info_output() -> None:
    out = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "k8s-release"], check=True, text=True,
                         capture_output=True, input=json.dumps({"status": {"status": "failed", "revision": 1},
                                                                "release": "r", "namespace": "n"}))
    assert json.loads(out.stdout)["force"] is True


def test_atomic_setting_reaches_the_plan(vars_for) -> None:
    from vllm_workflow.kubernetes.plan import Facts, plan

    facts = Facts.from_dict({"home": "/home/u", "hostname": "localhost"})
    assert plan(vars_for("vllm-production-stack-cpu"), facts)["helm"]["atomic"] is False
    assert plan(vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_HELM_ATOMIC=y"), facts)["helm"]["atomic"] is True
