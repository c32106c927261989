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


def _ours(filter_name: str, module: str, attr: str) -> Any:
    """``attr`` of our ``module``, or the filter's error when ansible-playbook runs outside the
    project's virtualenv (the package is not importable there)."""
    import importlib

    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise AnsibleFilterError(f"{filter_name} needs the vllm_workflow package ({exc}). Fix: run the "
                                 "playbook through make, which uses the project's virtualenv.") from None


def _mapping(filter_name: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise AnsibleFilterError(f"{filter_name} needs a mapping, not {type(data).__name__}")
    return data


def _plan(name: str, module: str, data: Any) -> dict[str, Any]:
    plan_from_input = _ours(name, module, "plan_from_input")
    error = _ours(name, "vllm_workflow.errors", "WorkflowError")
    try:
        return dict(plan_from_input(data))
    except error as exc:
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
    gates = _ours("vllm_k8s_gate", "vllm_workflow.kubernetes.gates", "GATES")
    failure = _ours("vllm_k8s_gate", "vllm_workflow.kubernetes.gates", "failure")
    if name not in gates:
        raise AnsibleFilterError(f"vllm_k8s_gate: no gate {name!r} (one of {', '.join(gates)})")
    return failure(name, _mapping(f"vllm_k8s_gate({name!r})", data))


def vllm_k8s_release(data: Any) -> dict[str, Any]:
    """What to do with the Helm release, from helm_info's status: install, upgrade, retry, or stop."""
    decide = _ours("vllm_k8s_release", "vllm_workflow.kubernetes.release", "decide")
    data = _mapping("vllm_k8s_release", data)
    return dict(decide(data.get("status"), str(data.get("release") or ""), str(data.get("namespace") or "")))


def vllm_k8s_diagnosis(data: Any) -> list[str]:
    """Why the release did not become ready, from ``{'pods': [...], 'error': helm's message}``: the
    lines to stop with, each pod that is not ready named with its fix."""
    explain = _ours("vllm_k8s_diagnosis", "vllm_workflow.kubernetes.diagnose", "explain")
    data = _mapping("vllm_k8s_diagnosis", data)
    return explain(list(data.get("pods") or []), str(data.get("error") or ""))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"vllm_local_plan": vllm_local_plan, "vllm_k8s_plan": vllm_k8s_plan, "vllm_k8s_gate": vllm_k8s_gate,
                "vllm_k8s_release": vllm_k8s_release, "vllm_k8s_diagnosis": vllm_k8s_diagnosis}
