"""GPU gates: refuse a deploy the GPUs cannot run, before anything is deployed.

vLLM 0.10 and later use FlashInfer kernels that need compute capability 8.0;
on older NVIDIA GPUs the engine dies at start-up with "too many resources
requested for launch". ROCm images are built for a known set of gfx
architectures, and RDNA 3 (gfx1100) has no Composable Kernel flash attention.

Pure functions over captured tool output: `nvidia-smi --query-gpu=name,compute_cap
--format=csv,noheader`, `rocminfo`, or the node labels GPU feature discovery sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_COMPUTE_CAPABILITY = (8, 0)
NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"]


@dataclass(frozen=True)
class RocmArch:
    gfx: str
    gpus: str
    flash_attention: bool
    setting: str  # the extra var of the Kconfig choice that selects it


ROCM_ARCHS: dict[str, RocmArch] = {
    "gfx942": RocmArch("gfx942", "Instinct MI300X / MI300A", True, "vllm_rocm_gfx942"),
    "gfx90a": RocmArch("gfx90a", "Instinct MI250X / MI250 / MI210", True, "vllm_rocm_gfx90a"),
    "gfx1100": RocmArch("gfx1100", "Radeon Pro W7900 / RX 7900 XTX / RX 7900 XT", False, "vllm_rocm_gfx1100"),
}
#: Engine environment for architectures without CK flash attention: stay on
#: vLLM's Triton attention and off AITER (whose kernels are MI300-only).
NO_CK_FLASH_ATTENTION_ENV = {"VLLM_USE_TRITON_FLASH_ATTN": "1", "VLLM_ROCM_USE_AITER": "0"}

OLD_GPU_FIX = ("Fix: use the CPU (make defconfig-vllm-production-stack-cpu), or an engine image of vLLM v0.6.x "
               "or older, which does not use FlashInfer (CONFIG_VLLM_ENGINE_IMAGE_TAG, e.g. v0.6.6), "
               "or a GPU of compute capability 8.0 or newer (A100, A10G, A30, L40, H100, RTX 30xx/40xx).")


@dataclass(frozen=True)
class NvidiaGpu:
    index: int
    name: str
    compute_capability: tuple[int, int] | None  # None: the driver did not say


def parse_nvidia_smi(stdout: str) -> list[NvidiaGpu]:
    """One GPU per CSV line: ``NVIDIA A100-SXM4-80GB, 8.0``."""
    gpus = []
    for line in (raw.strip() for raw in stdout.splitlines()):
        if not line:
            continue
        name, _, cap = line.rpartition(",")
        match = re.fullmatch(r"(\d+)\.(\d+)", cap.strip())
        gpus.append(NvidiaGpu(len(gpus), name.strip() or line,
                              (int(match[1]), int(match[2])) if match else None))
    return gpus


def _cap(c: tuple[int, int]) -> str:
    return f"{c[0]}.{c[1]}"


def check_nvidia_smi(rc: int | None, stdout: str, stderr: str = "") -> list[str]:
    """Problems with the GPUs ``nvidia-smi`` reports; empty when every GPU can run vLLM."""
    if rc is None or rc == 127 or "No such file" in stderr:
        return ["CONFIG_VLLM_TARGET_DEVICE_CUDA is set but nvidia-smi is not installed on the target, so no "
                "NVIDIA driver is there. Fix: install the NVIDIA driver and container toolkit, or choose the CPU "
                "(make defconfig-vllm-production-stack-cpu)."]
    if "is not a valid field" in stdout + stderr:
        return ["nvidia-smi on the target is too old to report compute capability (compute_cap needs driver 510 "
                "or newer). Fix: update the NVIDIA driver."]
    if rc != 0:
        detail = (stderr or stdout).strip().splitlines()
        return [f"nvidia-smi failed on the target (exit {rc}: {detail[0] if detail else 'no output'}). "
                "Fix: check the NVIDIA driver (`nvidia-smi` must list the GPUs)."]
    gpus = parse_nvidia_smi(stdout)
    if not gpus:
        return ["nvidia-smi lists no GPU on the target. Fix: check the driver, or choose the CPU "
                "(make defconfig-vllm-production-stack-cpu)."]
    out = []
    for gpu in gpus:
        if gpu.compute_capability is None:
            out.append(f"GPU {gpu.index} ({gpu.name}) did not report its compute capability. Fix: update the "
                       "NVIDIA driver.")
        elif gpu.compute_capability < MIN_COMPUTE_CAPABILITY:
            out.append(f"GPU {gpu.index} ({gpu.name}) has compute capability {_cap(gpu.compute_capability)}; "
                       f"vLLM 0.10+ (FlashInfer) needs {_cap(MIN_COMPUTE_CAPABILITY)} or newer. {OLD_GPU_FIX}")
    return out


def node_facts(node: Mapping[str, Any]) -> dict[str, Any]:
    """name, labels and allocatable resources of a Node object (as kubectl/k8s_info return it);
    an already reduced dict passes unchanged."""
    if "metadata" not in node:
        return dict(node)
    meta = node.get("metadata") or {}
    return {"name": meta.get("name"), "labels": meta.get("labels") or {},
            "allocatable": (node.get("status") or {}).get("allocatable") or {}}


def check_node_labels(nodes: list[Mapping[str, Any]]) -> list[str]:
    """The same gate for an existing cluster, from the labels GPU feature discovery puts on nodes
    (``nvidia.com/gpu.product``, ``nvidia.com/gpu.compute.major``/``minor``)."""
    gpu_nodes = [n for n in nodes if int(str((n.get("allocatable") or {}).get("nvidia.com/gpu", "0")) or 0) > 0]
    if not gpu_nodes:
        return ["CONFIG_VLLM_TARGET_DEVICE_CUDA is set but no node of the cluster offers nvidia.com/gpu. "
                "Fix: install the NVIDIA device plugin (GPU operator), or choose the CPU."]
    out = []
    for node in gpu_nodes:
        labels = node.get("labels") or {}
        product = labels.get("nvidia.com/gpu.product", "unknown GPU")
        major, minor = labels.get("nvidia.com/gpu.compute.major"), labels.get("nvidia.com/gpu.compute.minor")
        if major is None or minor is None:
            out.append(f"node {node.get('name')} has GPUs ({product}) but no nvidia.com/gpu.compute.major/minor "
                       "labels, so their compute capability cannot be checked. Fix: enable GPU feature discovery "
                       "(part of the NVIDIA GPU operator).")
            continue
        cap = (int(major), int(minor))
        if cap < MIN_COMPUTE_CAPABILITY:
            out.append(f"node {node.get('name')}: {product} has compute capability {_cap(cap)}; vLLM 0.10+ "
                       f"(FlashInfer) needs {_cap(MIN_COMPUTE_CAPABILITY)} or newer. {OLD_GPU_FIX}")
    return out


def parse_rocminfo(stdout: str) -> list[tuple[str, str]]:
    """(gfx name, marketing name) of every GPU agent in ``rocminfo`` output."""
    agents = re.split(r"^\*{5,}\s*$", stdout, flags=re.M)
    out = []
    for block in agents:
        if not re.search(r"^\s*Device Type:\s*GPU\s*$", block, re.M):
            continue
        name = re.search(r"^\s*Name:\s*(gfx[0-9a-z]+)\s*$", block, re.M)
        marketing = re.search(r"^\s*Marketing Name:\s*(.+?)\s*$", block, re.M)
        if name:
            out.append((name[1], marketing[1] if marketing else ""))
    return out


def configured_rocm_arch(v: Mapping[str, Any]) -> str:
    for arch in ROCM_ARCHS.values():
        if v.get(arch.setting):
            return arch.gfx
    return "gfx942"


def check_rocminfo(rc: int | None, stdout: str, stderr: str, configured: str) -> list[str]:
    """Problems with the AMD GPUs ``rocminfo`` reports, against the configured architecture."""
    if rc is None or rc == 127 or "No such file" in stderr:
        return ["CONFIG_VLLM_TARGET_DEVICE_ROCM is set but rocminfo is not installed on the target, so ROCm is "
                "not there. Fix: install ROCm 6.2 or newer, or choose the CPU."]
    gpus = parse_rocminfo(stdout)
    if rc != 0 or not gpus:
        detail = (stderr or "no GPU agent listed").strip().splitlines()[0]
        return [f"rocminfo found no AMD GPU on the target ({detail}). Fix: check the amdgpu driver and that "
                "the user is in the render and video groups."]
    out = []
    for index, (gfx, marketing) in enumerate(gpus):
        label = f"GPU {index} ({marketing or 'AMD GPU'}, {gfx})"
        if gfx not in ROCM_ARCHS:
            known = ", ".join(f"{a.gfx} ({a.gpus})" for a in ROCM_ARCHS.values())
            out.append(f"{label}: architecture {gfx} is not one the ROCm engine image supports ({known}). "
                       "Fix: use a supported GPU, or the CPU.")
        elif gfx != configured:
            out.append(f"{label} is {gfx} but the configuration says {configured}. Fix: choose "
                       f"CONFIG_{ROCM_ARCHS[gfx].setting.upper()}=y in `make menuconfig` (Hardware → AMD GPU architecture).")
    return out
