# SPDX-License-Identifier: Apache-2.0
"""Ansible filters: the deploy plans, computed in the controller's own process.

``{{ {'vars': ..., 'facts': ...} | vllm_local_plan }}`` calls ``vllm_workflow.local.plan`` and
``| vllm_k8s_plan`` ``vllm_workflow.kubernetes.plan`` (the project's virtualenv runs
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


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"vllm_local_plan": vllm_local_plan, "vllm_k8s_plan": vllm_k8s_plan}
