# SPDX-License-Identifier: Apache-2.0
"""Ansible filters: the deploy plans, computed in the controller's own process.

``{{ {'vars': ..., 'facts': ...} | vllm_local_plan }}`` calls ``vllm_workflow.local.plan`` and
``| vllm_k8s_plan`` ``vllm_workflow.kubernetes.plan``, ``| vllm_k8s_gate('gpu')`` (and ``capacity``,
``minikube``) the Kubernetes role's preflight gates, ``| vllm_k8s_release`` what to do with the Helm
release, ``| vllm_k8s_diagnosis`` why a failed install's pods are not ready (the project's virtualenv runs
ansible-playbook, so the package is importable): no subprocess, and the secrets among the settings
never leave the process. Enabled in ansible.cfg (filter_plugins).
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def _plan(name: str, module: str, data: Any) -> dict[str, Any]:
    import importlib

    try:
        from vllm_workflow.errors import WorkflowError

        plan_from_input = importlib.import_module(module).plan_from_input
    except ImportError as exc:  # ansible-playbook from outside the project's virtualenv
        raise AnsibleFilterError(f"{name} needs the vllm_workflow package ({exc}). Fix: run the "
                                 "playbook through make, which uses the project's virtualenv.") from None
    try:
        return dict(plan_from_input(data))
    except WorkflowError as exc:
        raise AnsibleFilterError(str(exc)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"{name} needs {{'vars': ..., 'facts': ...}}: {exc}") from None


def vllm_local_plan(data: Any) -> dict[str, Any]:
    return _plan("vllm_local_plan", "vllm_workflow.local.plan", data)


def vllm_k8s_plan(data: Any) -> dict[str, Any]:
    return _plan("vllm_k8s_plan", "vllm_workflow.kubernetes.plan", data)


def vllm_k8s_gate(data: Any, name: str) -> list[str]:
    """The Kubernetes role's preflight gate ``name`` (gpu, capacity, minikube) on what the role read:
    the lines to stop with, or [] when it passes."""
    try:
        from vllm_workflow.kubernetes.gates import GATES, failure
    except ImportError as exc:
        raise AnsibleFilterError(f"vllm_k8s_gate needs the vllm_workflow package ({exc}). Fix: run the "
                                 "playbook through make, which uses the project's virtualenv.") from None
    if name not in GATES:
        raise AnsibleFilterError(f"vllm_k8s_gate: no gate {name!r} (one of {', '.join(GATES)})")
    if not isinstance(data, dict):
        raise AnsibleFilterError(f"vllm_k8s_gate({name!r}) needs a mapping, not {type(data).__name__}")
    return failure(name, data)


def vllm_k8s_release(data: Any) -> dict[str, Any]:
    """What to do with the Helm release, from helm_info's status: install, upgrade, retry, or stop."""
    try:
        from vllm_workflow.kubernetes.release import decide
    except ImportError as exc:
        raise AnsibleFilterError(f"vllm_k8s_release needs the vllm_workflow package ({exc}). Fix: run the "
                                 "playbook through make, which uses the project's virtualenv.") from None
    if not isinstance(data, dict):
        raise AnsibleFilterError(f"vllm_k8s_release needs a mapping, not {type(data).__name__}")
    return dict(decide(data.get("status"), str(data.get("release") or ""), str(data.get("namespace") or "")))


def vllm_k8s_diagnosis(data: Any) -> list[str]:
    """Why the release did not become ready, from ``{'pods': [...], 'error': helm's message}``: the
    lines to stop with, each pod that is not ready named with its fix."""
    try:
        from vllm_workflow.kubernetes.diagnose import explain
    except ImportError as exc:
        raise AnsibleFilterError(f"vllm_k8s_diagnosis needs the vllm_workflow package ({exc}). Fix: run the "
                                 "playbook through make, which uses the project's virtualenv.") from None
    if not isinstance(data, dict):
        raise AnsibleFilterError(f"vllm_k8s_diagnosis needs a mapping, not {type(data).__name__}")
    return explain(list(data.get("pods") or []), str(data.get("error") or ""))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"vllm_local_plan": vllm_local_plan, "vllm_k8s_plan": vllm_k8s_plan, "vllm_k8s_gate": vllm_k8s_gate,
                "vllm_k8s_release": vllm_k8s_release, "vllm_k8s_diagnosis": vllm_k8s_diagnosis}
