"""GPU engines without Kubernetes (issue 27): the local backend's plan for NVIDIA GPUs, from captured
nvidia-smi output (tests/data/gpu; h200-captured.csv is a real H200's), and ROCm refused with where
vLLM's ROCm builds come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_workflow import validate
from vllm_workflow.local import plan as lp

SMI = Path(__file__).parent / "data" / "gpu" / "nvidia-smi"


def facts(smi: str | None, rc: int | None = 0, **kw) -> lp.Facts:
    base = {"home": "/home/u", "cpus": 16, "mem_available_mb": 64000, "hostname": "gpu1",
            "nvidia_smi": {"rc": rc, "stdout": (SMI / smi).read_text() if smi else "",
                           "stderr": "" if rc is not None else "nvidia-smi: No such file or directory"}}
    return lp.Facts.from_dict(base | kw)


def test_the_cuda_defconfig_plans_gpu_engines_on_a_real_h200(vars_for) -> None:
    v = vars_for("vllm-local-cuda")
    assert v["vllm_target_device"] == "cuda" and v["vllm_local_vllm_cuda_version"] == "0.32.0"
    assert validate.check(v) == []
    out = lp.plan(v, facts("h200-captured.csv"))
    assert out["errors"] == []
    engine = next(r for r in out["runtimes"] if r["name"] == "engine")
    assert engine["spec"] == "vllm==0.32.0" and engine["remove"] == [] and "--no-index" not in engine["extra_args"]
    conf = out["supervisord_conf"]
    assert "--gpu-memory-utilization 0.9 --tensor-parallel-size 1" in conf
    assert "--block-size" not in conf and "--distributed-executor-backend" not in conf
    assert 'CUDA_VISIBLE_DEVICES="0"' in conf and "VLLM_TARGET_DEVICE" not in conf and "VLLM_CPU" not in conf


def test_engines_get_gpus_of_their_own(vars_for) -> None:
    v = vars_for("vllm-local-cuda", "CONFIG_VLLM_REPLICA_COUNT=2", "CONFIG_VLLM_TENSOR_PARALLEL_SIZE=2",
                 'CONFIG_VLLM_GPU_MEMORY_UTILIZATION="0.8"')
    assert lp.gpu_sets(2, 2) == ["0,1", "2,3"]
    fake = "NVIDIA H100 80GB HBM3, 9.0\n" * 4
    f = lp.Facts.from_dict({"home": "/h", "cpus": 32, "mem_available_mb": 64000, "hostname": "g4",
                            "nvidia_smi": {"rc": 0, "stdout": fake, "stderr": ""}})
    out = lp.plan(v, f)
    assert out["errors"] == []
    assert 'CUDA_VISIBLE_DEVICES="0,1"' in out["supervisord_conf"] and 'CUDA_VISIBLE_DEVICES="2,3"' in out["supervisord_conf"]
    assert "--gpu-memory-utilization 0.8 --tensor-parallel-size 2" in out["supervisord_conf"]
    errors = lp.plan(v, facts("h200-captured.csv"))["errors"]
    assert errors == ["CONFIG_VLLM_REPLICA_COUNT: 2 engine(s) x 2 GPU(s) each (VLLM_TENSOR_PARALLEL_SIZE) need 4 GPUs; "
                      "gpu1 has 1. Fix: lower VLLM_REPLICA_COUNT or VLLM_TENSOR_PARALLEL_SIZE."]


@pytest.mark.parametrize(("smi", "words"), [
    ("tesla-t4.csv", "compute capability 7.5"),
    ("mixed-a100-t4.csv", "Tesla T4"),
    ("old-driver.txt", "too old to report compute capability"),
])
def test_gpus_that_cannot_run_vllm_are_refused_before_anything_is_installed(vars_for, smi: str, words: str) -> None:
    out = lp.plan(vars_for("vllm-local-cuda"), facts(smi))
    assert out["errors"] and any(words in e and e.startswith("gpu1: ") for e in out["errors"]), out["errors"]


def test_a_host_without_nvidia_smi_is_named(vars_for) -> None:
    errors = lp.plan(vars_for("vllm-local-cuda"), facts(None, rc=None))["errors"]
    assert len(errors) == 1 and "nvidia-smi is not installed on the target" in errors[0]
    assert "make defconfig-vllm-local" in errors[0]  # the local fix, not the Kubernetes one


def test_rocm_on_the_local_backend_is_refused_by_make_with_where_rocm_builds_come_from(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_TARGET_DEVICE_ROCM=y")
    assert v["vllm_target_device"] == "rocm"
    problems = validate.check(v)
    rocm = [p for p in problems if p.startswith("CONFIG_VLLM_TARGET_DEVICE_ROCM")]
    assert len(rocm) == 1 and "rocm/vllm container images" in rocm[0]
    assert "make defconfig-vllm-production-stack-rocm" in rocm[0]


def test_gpu_engines_need_no_host_memory_for_their_kv_cache(vars_for) -> None:
    cpu, gpu = vars_for("vllm-local"), vars_for("vllm-local-cuda")
    assert lp.engine_memory_mb(gpu) == lp.ENGINE_BASE_MB < lp.engine_memory_mb(cpu)


def test_the_cpu_plan_is_unchanged(vars_for) -> None:
    out = lp.plan(vars_for("vllm-local"), lp.Facts.from_dict({"home": "/h", "cpus": 2, "mem_available_mb": 20000}))
    conf = out["supervisord_conf"]
    assert "--block-size 128" in conf and 'VLLM_TARGET_DEVICE="cpu"' in conf
    assert "--gpu-memory-utilization" not in conf and "CUDA_VISIBLE_DEVICES" not in conf
    assert next(r for r in out["runtimes"] if r["name"] == "engine")["spec"].startswith("vllm-cpu==")


def test_the_host_probe_reads_the_gpus_for_the_gate_and_for_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_workflow import machine
    from vllm_workflow.target import host_probe

    smi = {"rc": 0, "stdout": (SMI / "h200-captured.csv").read_text(), "stderr": ""}
    assert host_probe.gpu_list(smi) == [{"name": "NVIDIA H200", "compute_cap": "9.0"}]
    assert host_probe.gpu_list({"rc": None, "stdout": "", "stderr": ""}) == []
    monkeypatch.setenv("PATH", "/nonexistent")
    assert host_probe.nvidia_smi()["rc"] is None  # not installed: the gate names it
    assert machine.from_host_facts({"hostname": "g", "gpus": host_probe.gpu_list(smi)})["gpus"][0]["name"] == "NVIDIA H200"


def test_the_host_probe_asks_nvidia_smi_what_the_gpu_gate_parses() -> None:
    from vllm_workflow.kubernetes import gpu
    from vllm_workflow.target import host_probe

    assert host_probe.NVIDIA_SMI_QUERY == gpu.NVIDIA_SMI_QUERY  # the probe is stdlib-only: a copy, kept equal
