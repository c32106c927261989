"""Why a release's pods are not ready, in words, with the setting that fixes it.

`helm --wait` only says "timed out waiting for the condition". When the install fails, deploy
reads the namespace's pods and hands them here, in Ansible's process (the ``vllm_k8s_diagnosis``
filter; `vllm-workflow k8s-diagnose` prints the same from JSON on stdin). Pure functions over Pod
objects as the API returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PULL_ERRORS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _image(pod: Mapping[str, Any], name: str) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            return str(c.get("image", "?"))
    return "?"


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """One line for a pod that is not ready (None when it is)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = meta.get("name", "?")
    component = (meta.get("labels") or {}).get("app.kubernetes.io/component", "pod")
    containers = _containers(pod)
    if status.get("phase") == "Running" and containers and all(c.get("ready") for c in containers):
        return None
    where = f"{component} pod {name}"
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        last = ((c.get("lastState") or {}).get("terminated") or {})
        if reason in PULL_ERRORS:
            return (f"{where}: image {_image(pod, c.get('name', ''))} cannot be pulled ({reason}). Fix: check "
                    "CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY/_TAG (or the router image), or reach Docker Hub through "
                    "CONFIG_VLLM_REGISTRY_MIRROR_URL.")
        if last.get("reason") == "OOMKilled":
            return (f"{where}: container {c.get('name')} was killed for using too much memory (OOMKilled, restarts "
                    f"{c.get('restartCount', 0)}). Fix: raise CONFIG_VLLM_REQUEST_MEMORY, or lower "
                    "CONFIG_VLLM_MAX_MODEL_LEN.")
        if reason == "CrashLoopBackOff":
            code = last.get("exitCode", "?")
            return (f"{where}: container {c.get('name')} keeps exiting (exit {code}, restarts "
                    f"{c.get('restartCount', 0)}). Fix: read its log with kubectl logs --previous {name}; a wrong "
                    "model id, a gated model without CONFIG_VLLM_HF_TOKEN, or an engine argument are the usual causes.")
        if reason in ("CreateContainerConfigError", "CreateContainerError"):
            return (f"{where}: {reason}: {waiting.get('message', '')}. Fix: check the Secret "
                    "and the engine settings, then make vllm-deploy.")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            message = cond.get("message", "")
            low = message.lower()
            claims = [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
                      if (v.get("persistentVolumeClaim") or {}).get("claimName")]
            if "persistentvolumeclaim" in low or "volume node affinity" in low or "unbound" in low:
                claim = f" ({', '.join(claims)})" if claims else ""
                namespace = meta.get("namespace", "<namespace>")
                return (f"{where} cannot be scheduled: its model volume claim{claim} is not bound to a volume "
                        f"({message}). This is storage, not CPU or memory: the cluster has no default StorageClass "
                        "that provisions it, or no volume in the claim's zone. Fix: look at kubectl get pvc,storageclass "
                        f"-n {namespace}; on Minikube run minikube addons enable storage-provisioner and "
                        "default-storageclass; on a cluster mark a StorageClass default; or set "
                        "CONFIG_VLLM_K8S_MODEL_STORAGE empty (no claim: the model downloads into the pod).")
            if "runtimeclass" in low or "RuntimeClass" in message:
                fix = "set CONFIG_VLLM_K8S_RUNTIME_CLASS to a RuntimeClass the cluster has (empty on the CPU)"
            elif "gpu" in message.lower():
                fix = ("the cluster has no free GPU of that kind: lower CONFIG_VLLM_REQUEST_GPU or "
                       "CONFIG_VLLM_REPLICA_COUNT, or check CONFIG_VLLM_GPU_TYPE and the device plugin")
            else:
                fix = ("lower CONFIG_VLLM_REQUEST_CPU / CONFIG_VLLM_REQUEST_MEMORY or CONFIG_VLLM_REPLICA_COUNT, or give "
                       "Minikube more (CONFIG_VLLM_MINIKUBE_CPUS, CONFIG_VLLM_MINIKUBE_MEMORY_MB)")
            return f"{where} cannot be scheduled: {message or cond.get('reason', 'Unschedulable')}. Fix: {fix}."
    if status.get("phase") == "Running":
        return (f"{where} runs but is not ready yet (the model may still be downloading or loading). Fix: "
                "raise CONFIG_VLLM_HELM_TIMEOUT_MINUTES, or look at kubectl logs " + name + ".")
    return f"{where} is {status.get('phase', 'Unknown')}{': ' + status['reason'] if status.get('reason') else ''}."


def diagnose(pods: list[Mapping[str, Any]]) -> list[str]:
    if not pods:
        return ["no pods were created in the namespace. Fix: look at `helm status` and the namespace's events "
                "(kubectl get events); a values error shows there."]
    return [p for p in (pod_problem(pod) for pod in pods) if p]


def explain(pods: list[dict[str, Any]], error: str = "") -> list[str]:
    """The failed install's message: helm's error, then each pod that is not ready and why."""
    lines = diagnose(pods)
    error = error.strip()
    head = f"The release did not become ready ({error})." if error else "The release did not become ready."
    if not lines:
        return [head + " Every pod is ready now; run make vllm-deploy again."]
    return [head + " Why:", *lines]
