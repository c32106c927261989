"""The Kubernetes role's preflight gates, as pure functions of what the role read: the GPUs (from
nvidia-smi, rocminfo or the nodes' labels), the release against an existing cluster's allocatable
resources, and the host against the planned Minikube start. The role calls them in its own process
through the ``vllm_k8s_gate`` filter; ``vllm-workflow gpu-check|k8s-capacity|minikube-check`` print
the same for inspection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def gpu_problems(data: Mapping[str, Any]) -> list[str]:
    """{device, rocm_arch, nvidia_smi|rocminfo: {rc, stdout, stderr}, nodes}."""
    from . import gpu

    device = data.get("device", "cpu")
    if device == "cuda":
        if data.get("nodes") is not None:
            return gpu.check_node_labels([gpu.node_facts(n) for n in data["nodes"]])
        smi = data.get("nvidia_smi") or {}
        return gpu.check_nvidia_smi(smi.get("rc"), smi.get("stdout", ""), smi.get("stderr", ""))
    if device == "rocm":
        info = data.get("rocminfo") or {}
        return gpu.check_rocminfo(info.get("rc"), info.get("stdout", ""), info.get("stderr", ""),
                                  str(data.get("rocm_arch") or "gfx942"))
    return []


def capacity_problems(data: Mapping[str, Any]) -> list[str]:
    """{values_yaml, nodes: the API's Node objects}."""
    import yaml

    from .resources import cluster_problems, nodes_from_api

    return cluster_problems(yaml.safe_load(str(data.get("values_yaml") or "{}")) or {},
                            nodes_from_api(list(data.get("nodes") or [])))


def minikube_problems(data: Mapping[str, Any]) -> list[str]:
    """{facts, start: the planned command line, profile}."""
    from .minikube_host import problems

    return problems(data.get("facts") or {}, list(data.get("start") or []), str(data.get("profile") or ""))


@dataclass(frozen=True)
class Gate:
    problems: Callable[[Mapping[str, Any]], list[str]]
    failed: str  # the headline when it stops the deploy
    passed: Callable[[Mapping[str, Any]], str]


GATES: dict[str, Gate] = {
    "gpu": Gate(gpu_problems, "GPU check failed; nothing was deployed",
                lambda d: f"GPU check passed ({d.get('device', 'cpu')})."),
    "capacity": Gate(capacity_problems, "The release does not fit the cluster; nothing was installed",
                     lambda d: "The release fits the cluster's allocatable resources."),
    "minikube": Gate(minikube_problems, "Minikube cannot start as planned; nothing was deployed",
                     lambda d: "Minikube host check passed."),
}


def failure(name: str, data: Mapping[str, Any]) -> list[str]:
    """The lines a failed gate stops the deploy with (its headline, then each problem); [] when it passes."""
    gate = GATES[name]
    found = gate.problems(data)
    return [f"{gate.failed}:", *(f"  {p}" for p in found)] if found else []
