"""Minikube on a GPU host: each set-up gap found before `minikube start` (issue 12, item 4)."""

from __future__ import annotations

import json
import subprocess
import sys

from vllm_workflow.kubernetes.minikube_host import problems
from vllm_workflow.kubernetes.plan import Facts, plan

GOOD_CUDA = {"user": "ops", "device": "cuda", "docker_runtimes": '{"io.containerd.runc.v2":{},"nvidia":{}}',
             "bpf_jit_harden": "0\n", "kfd": False, "profile_config": None}


def _start(vars_for, name: str, *lines: str) -> list[str]:
    return plan(vars_for(name, *lines), Facts.from_dict({"home": "/home/ops", "hostname": "h"}))["minikube"]["start"]


def test_start_flags_per_device(vars_for) -> None:
    cuda, rocm = _start(vars_for, "vllm-production-stack-gpu"), _start(vars_for, "vllm-production-stack-rocm")
    cpu = _start(vars_for, "vllm-production-stack-cpu")
    assert "--gpus=all" in cuda and "--gpus=amd" in rocm and not any(a.startswith("--gpus") for a in cpu)
    assert all("--container-runtime=docker" in s and "--driver=docker" in s for s in (cuda, rocm, cpu))


def test_a_ready_cuda_host_passes(vars_for) -> None:
    assert problems(GOOD_CUDA, _start(vars_for, "vllm-production-stack-gpu"), "vllm-workflow") == []


def test_each_cuda_gap_is_named_with_its_fix(vars_for) -> None:
    start = _start(vars_for, "vllm-production-stack-gpu")
    found = problems(GOOD_CUDA | {"user": "root", "docker_runtimes": '{"runc":{}}', "bpf_jit_harden": "2"},
                     start, "vllm-workflow")
    assert len(found) == 3
    assert "should not be used with root privileges" in found[0] and "docker group" in found[0]
    assert "no 'nvidia' runtime" in found[1] and "nvidia-ctk runtime configure --runtime=docker" in found[1]
    assert "bpf_jit_harden is 2" in found[2] and "sysctl -w net.core.bpf_jit_harden=0" in found[2]


def test_rocm_needs_the_kernel_driver(vars_for) -> None:
    found = problems({"user": "ops", "device": "rocm", "kfd": False}, _start(vars_for, "vllm-production-stack-rocm"),
                     "vllm-workflow")
    assert len(found) == 1 and "/dev/kfd does not exist" in found[0] and "amdgpu-dkms" in found[0]


def test_a_profile_started_without_gpus_or_mirror_is_not_silently_reused(vars_for) -> None:
    start = _start(vars_for, "vllm-production-stack-gpu", 'CONFIG_VLLM_REGISTRY_MIRROR_URL="https://mirror.example"')
    old = {"GPUs": "", "RegistryMirror": [], "KubernetesConfig": {"ContainerRuntime": "containerd"}}
    found = problems(GOOD_CUDA | {"profile_config": old}, start, "vllm-workflow")
    assert len(found) == 3
    assert "first started with GPUs 'none'" in found[0] and "needs 'all'" in found[0]
    assert "minikube delete --profile vllm-workflow" in found[0]
    assert "registry mirror none" in found[1] and "https://mirror.example" in found[1]
    assert "containerd container runtime" in found[2]
    same = {"GPUs": "all", "RegistryMirror": ["https://mirror.example"], "KubernetesConfig": {"ContainerRuntime": "docker"}}
    assert problems(GOOD_CUDA | {"profile_config": same}, start, "vllm-workflow") == []


def test_the_cli_exits_1_with_the_problems(vars_for) -> None:
    data = {"facts": GOOD_CUDA | {"user": "root"}, "start": _start(vars_for, "vllm-production-stack-gpu"),
            "profile": "vllm-workflow"}
    out = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "minikube-check"], input=json.dumps(data),
                         capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "root privileges" in out.stderr and "nothing was deployed" in out.stderr
