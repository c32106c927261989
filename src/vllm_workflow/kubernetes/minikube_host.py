"""Can Minikube start here the way the plan wants it? (pure, over what deploy read on the host)

Each problem names what was found and the fix. Minikube's own errors for these arrive late,
after a download and minutes of start-up, or never (a profile first started without GPUs
starts again without them, silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _flag(start: list[str], name: str) -> str | None:
    for arg in start:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def problems(facts: Mapping[str, Any], start: list[str], profile: str) -> list[str]:
    """``facts``: user, device (cpu/cuda/rocm), docker_runtimes (text of `docker info` Runtimes),
    bpf_jit_harden (text or ""), kfd (bool: /dev/kfd exists), profile_config (the profile's
    config.json, or None when it was never started)."""
    out = []
    if str(facts.get("user")) == "root":
        out.append("Minikube's docker driver refuses to run as root ('The \"docker\" driver should not be used with "
                   "root privileges'). Fix: deploy as a user in the docker group (CONFIG_VLLM_DECLARED_HOSTS_SSH_USER, "
                   "or run make as that user on this machine), or use an existing cluster (CONFIG_VLLM_K8S_EXISTING).")
    device = str(facts.get("device") or "cpu")
    if device == "cuda":
        if "nvidia" not in str(facts.get("docker_runtimes") or ""):
            out.append("Docker has no 'nvidia' runtime, so minikube --gpus=all cannot hand the GPUs to the cluster. "
                       "Fix: install the NVIDIA Container Toolkit, then sudo nvidia-ctk runtime configure "
                       "--runtime=docker and restart Docker (docker info then lists the nvidia runtime).")
        harden = str(facts.get("bpf_jit_harden") or "").strip()
        if harden not in ("", "0"):
            out.append(f"net.core.bpf_jit_harden is {harden}; the NVIDIA device plugin in Minikube needs 0. Fix: "
                       "sudo sysctl -w net.core.bpf_jit_harden=0 (and add it to /etc/sysctl.conf to keep it).")
    if device == "rocm" and not facts.get("kfd"):
        out.append("/dev/kfd does not exist: the ROCm kernel driver (amdgpu with KFD) is not loaded, so minikube "
                   "--gpus=amd has no GPU to give. Fix: install the ROCm driver (amdgpu-dkms) and reboot, then check "
                   "rocminfo.")
    config = facts.get("profile_config")
    if isinstance(config, Mapping):
        cfg = config.get("KubernetesConfig") or {}
        have_gpus = str(config.get("GPUs") or "")
        want_gpus = _flag(start, "gpus") or ""
        if want_gpus != have_gpus:
            out.append(f"Minikube profile {profile} was first started with GPUs '{have_gpus or 'none'}' and would "
                       f"start again that way; this deploy needs '{want_gpus or 'none'}'. Fix: minikube delete "
                       f"--profile {profile} (or set CONFIG_VLLM_MINIKUBE_TEARDOWN_DELETE and make vllm-teardown), "
                       "then make vllm-deploy.")
        have_mirror = [str(m) for m in (config.get("RegistryMirror") or [])]
        want_mirror = [m for m in [_flag(start, "registry-mirror")] if m]
        if have_mirror != want_mirror:
            out.append(f"Minikube profile {profile} was first started with registry mirror {have_mirror or 'none'}, "
                       f"this deploy wants {want_mirror or 'none'}; Minikube keeps the first. Fix: minikube delete "
                       f"--profile {profile}, then make vllm-deploy.")
        runtime = str(cfg.get("ContainerRuntime") or "")
        if runtime and runtime != "docker":
            out.append(f"Minikube profile {profile} runs the {runtime} container runtime; GPUs need docker. Fix: "
                       f"minikube delete --profile {profile}, then make vllm-deploy.")
    return out
