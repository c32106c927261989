"""Why a release is not ready: pod states as the API returns them -> the reason and the fix."""

from __future__ import annotations

import io
import json

from vllm_workflow import cli
from vllm_workflow.kubernetes.diagnose import diagnose, pod_problem


def pod(name: str, phase: str = "Running", waiting: str | None = None, ready: bool = False, last: dict | None = None,
        conditions: list | None = None, component: str = "serving-engine") -> dict:
    state = {"waiting": {"reason": waiting, "message": f"{waiting} details"}} if waiting else {"running": {}}
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
            "spec": {"containers": [{"name": "vllm", "image": "openeuler/vllm-cpu:0.9.1-oe2403lts"}]},
            "status": {"phase": phase, "conditions": conditions or [],
                       "containerStatuses": [{"name": "vllm", "ready": ready, "restartCount": 4, "state": state,
                                              "lastState": {"terminated": last} if last else {}}]}}


def test_each_failure_names_its_fix() -> None:
    assert pod_problem(pod("ok", ready=True)) is None
    pull = pod_problem(pod("e1", phase="Pending", waiting="ImagePullBackOff"))
    assert "image openeuler/vllm-cpu:0.9.1-oe2403lts cannot be pulled" in pull and "REGISTRY_MIRROR_URL" in pull
    oom = pod_problem(pod("e2", waiting="CrashLoopBackOff", last={"reason": "OOMKilled", "exitCode": 137}))
    assert "OOMKilled" in oom and "CONFIG_VLLM_REQUEST_MEMORY" in oom
    crash = pod_problem(pod("e3", waiting="CrashLoopBackOff", last={"reason": "Error", "exitCode": 1}))
    assert "exit 1, restarts 4" in crash and "kubectl logs --previous e3" in crash
    unsched = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu."}]
    cpu = pod_problem(pod("e4", phase="Pending", conditions=unsched))
    assert "cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu" in cpu and "MINIKUBE_CPUS" in cpu
    runtime = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": 'pod rejected: RuntimeClass "nvidia" not found'}]
    assert "CONFIG_VLLM_K8S_RUNTIME_CLASS" in pod_problem(pod("e5", phase="Pending", conditions=runtime))
    gpu = [{"type": "PodScheduled", "status": "False", "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}]
    assert "CONFIG_VLLM_REQUEST_GPU" in pod_problem(pod("e6", phase="Pending", conditions=gpu))
    slow = pod_problem(pod("e7"))
    assert "not ready yet" in slow and "CONFIG_VLLM_HELM_TIMEOUT_MINUTES" in slow


def test_diagnose_lists_only_the_pods_that_are_not_ready() -> None:
    lines = diagnose([pod("ok", ready=True), pod("bad", phase="Pending", waiting="ErrImagePull")])
    assert len(lines) == 1 and lines[0].startswith("serving-engine pod bad: image")
    assert "no pods were created" in diagnose([])[0]


def test_k8s_diagnose_command(monkeypatch, capsys) -> None:
    payload = {"pods": [pod("bad", phase="Pending", waiting="ImagePullBackOff")],
               "error": "context deadline exceeded"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(payload)))
    assert cli.main(["k8s-diagnose"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The release did not become ready (context deadline exceeded). Why:")
    assert "serving-engine pod bad: image" in out


def test_an_unbound_volume_claim_is_named_as_storage_not_cpu() -> None:
    p = pod("e8", phase="Pending", conditions=[{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 "
                   "nodes are available: 1 Preemption is not helpful for scheduling."}])
    p["metadata"]["namespace"] = "vllm-system"
    p["spec"]["volumes"] = [{"name": "pvc", "persistentVolumeClaim": {"claimName": "vllm-opt-storage-claim"}}]
    text = pod_problem(p)
    assert "model volume claim (vllm-opt-storage-claim) is not bound" in text
    assert "StorageClass" in text and "CONFIG_VLLM_K8S_MODEL_STORAGE" in text and "-n vllm-system" in text
    assert "CONFIG_VLLM_REQUEST_CPU" not in text and "MINIKUBE_CPUS" not in text
