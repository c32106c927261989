"""GPU gates on nvidia-smi / rocminfo output and node labels (tests/data/gpu)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from vllm_workflow import cli
from vllm_workflow.kubernetes import gpu

DATA = Path(__file__).parent / "data/gpu"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["nvidia-smi"]))
def test_nvidia_gate_matches_the_compatibility_table(name: str) -> None:
    text = (DATA / f"nvidia-smi/{name}.csv").read_text()
    problems = gpu.check_nvidia_smi(0, text)
    assert (problems == []) is EXPECTED["nvidia-smi"][name]
    if problems:
        first_bad = next(g for g in gpu.parse_nvidia_smi(text) if g.compute_capability < (8, 0))
        cap = f"{first_bad.compute_capability[0]}.{first_bad.compute_capability[1]}"
        assert first_bad.name in problems[0] and f"compute capability {cap}" in problems[0]
        assert "defconfig-vllm-production-stack-cpu" in problems[0] and "v0.6" in problems[0]


def test_parse_keeps_names_with_commas_and_every_gpu() -> None:
    gpus = gpu.parse_nvidia_smi((DATA / "nvidia-smi/mixed-a100-t4.csv").read_text())
    assert [(g.index, g.name, g.compute_capability) for g in gpus] == [
        (0, "NVIDIA A100-SXM4-80GB", (8, 0)), (1, "NVIDIA A100-SXM4-80GB", (8, 0)), (2, "Tesla T4", (7, 5))]
    assert gpu.parse_nvidia_smi("Foo, Bar GPU, 8.9\n")[0].name == "Foo, Bar GPU"


def test_mixed_host_names_only_the_old_gpu() -> None:
    problems = gpu.check_nvidia_smi(0, (DATA / "nvidia-smi/mixed-a100-t4.csv").read_text())
    assert len(problems) == 1 and problems[0].startswith("GPU 2 (Tesla T4) has compute capability 7.5")


def test_missing_nvidia_smi_old_driver_and_no_gpu_are_errors() -> None:
    assert "nvidia-smi is not installed" in gpu.check_nvidia_smi(127, "", "")[0]
    assert "nvidia-smi is not installed" in gpu.check_nvidia_smi(None, "", "[Errno 2] No such file or directory")[0]
    old = (DATA / "nvidia-smi/old-driver.txt").read_text()
    assert "too old to report compute capability" in gpu.check_nvidia_smi(2, old)[0]
    assert "lists no GPU" in gpu.check_nvidia_smi(0, "\n")[0]
    failed = gpu.check_nvidia_smi(9, "", "NVIDIA-SMI has failed because it couldn't communicate with the driver")
    assert "exit 9" in failed[0] and "couldn't communicate" in failed[0]


@pytest.mark.parametrize("name", sorted(EXPECTED["rocminfo"]))
def test_rocminfo_gate(name: str) -> None:
    text = (DATA / f"rocminfo/{name}.txt").read_text()
    arch = EXPECTED["rocminfo"][name]
    parsed = gpu.parse_rocminfo(text)
    assert len(parsed) == 1 and parsed[0][1] != "" and not parsed[0][1].startswith("AMD EPYC")
    if arch is None:
        problem = gpu.check_rocminfo(0, text, "", "gfx942")
        assert len(problem) == 1 and "is not one the ROCm engine image supports" in problem[0]
        return
    assert parsed[0][0] == arch
    assert gpu.check_rocminfo(0, text, "", arch) == []
    other = "gfx942" if arch != "gfx942" else "gfx90a"
    mismatch = gpu.check_rocminfo(0, text, "", other)
    assert f"is {arch} but the configuration says {other}" in mismatch[0]
    assert f"CONFIG_{gpu.ROCM_ARCHS[arch].setting.upper()}=y" in mismatch[0]


def test_rocm_missing_tool_and_no_gpu() -> None:
    assert "rocminfo is not installed" in gpu.check_rocminfo(127, "", "", "gfx942")[0]
    cpu_only = (DATA / "rocminfo/mi300x.txt").read_text().split("Agent 2")[0]
    assert "found no AMD GPU" in gpu.check_rocminfo(0, cpu_only, "", "gfx942")[0]


def node(name: str, gpus: int, **labels: str) -> dict:
    return {"name": name, "allocatable": {"nvidia.com/gpu": str(gpus)}, "labels": labels}


def test_node_labels_gate_for_existing_clusters() -> None:
    a100 = node("n1", 8, **{"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.compute.major": "8",
                            "nvidia.com/gpu.compute.minor": "0"})
    t4 = node("n2", 1, **{"nvidia.com/gpu.product": "Tesla-T4", "nvidia.com/gpu.compute.major": "7",
                          "nvidia.com/gpu.compute.minor": "5"})
    assert gpu.check_node_labels([a100, node("cpu-node", 0)]) == []
    bad = gpu.check_node_labels([a100, t4])
    assert len(bad) == 1 and "node n2: Tesla-T4 has compute capability 7.5" in bad[0]
    assert "GPU feature discovery" in gpu.check_node_labels([node("n3", 2)])[0]
    assert "no node of the cluster offers nvidia.com/gpu" in gpu.check_node_labels([node("cpu", 0)])[0]


def run_gpu_check(monkeypatch, capsys, payload: dict) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(payload)))
    code = cli.main(["gpu-check"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gpu_check_command(monkeypatch, capsys) -> None:
    t4 = (DATA / "nvidia-smi/tesla-t4.csv").read_text()
    code, _, err = run_gpu_check(monkeypatch, capsys, {"device": "cuda", "nvidia_smi": {"rc": 0, "stdout": t4}})
    assert code == 1 and "nothing was deployed" in err and "Tesla T4" in err
    h100 = (DATA / "nvidia-smi/h100.csv").read_text()
    code, out, _ = run_gpu_check(monkeypatch, capsys, {"device": "cuda", "nvidia_smi": {"rc": 0, "stdout": h100}})
    assert code == 0 and "passed (cuda)" in out
    w7900 = (DATA / "rocminfo/w7900.txt").read_text()
    code, _, err = run_gpu_check(monkeypatch, capsys, {"device": "rocm", "rocm_arch": "gfx942",
                                                         "rocminfo": {"rc": 0, "stdout": w7900}})
    assert code == 1 and "CONFIG_VLLM_ROCM_GFX1100=y" in err
