"""Kconfig tree, defconfigs, staleness and bad .config input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vllm_workflow import config
from vllm_workflow.errors import WorkflowError
from vllm_workflow.kconfig import (
    Tree,
    check_current,
    defconfig,
    load_config,
    load_kconfig,
    olddefconfig,
    savedefconfig,
)

REQUIRED_SYMBOLS = """
VLLM_DEPLOY_LOCAL VLLM_DEPLOY_KUBERNETES VLLM_K8S_MINIKUBE VLLM_K8S_EXISTING VLLM_HELM_RELEASE_NAME
VLLM_HELM_NAMESPACE VLLM_TARGET_DEVICE_CPU VLLM_TARGET_DEVICE_CUDA VLLM_TARGET_DEVICE_ROCM VLLM_MODEL_URL
VLLM_MODEL_NAME VLLM_MODEL_SOURCE_HUB VLLM_MODEL_SOURCE_PATH VLLM_MODEL_SOURCE_TINY VLLM_REPLICA_COUNT
VLLM_REQUEST_CPU VLLM_REQUEST_MEMORY VLLM_REQUEST_GPU VLLM_GPU_TYPE VLLM_MAX_MODEL_LEN VLLM_DTYPE
VLLM_GPU_MEMORY_UTILIZATION VLLM_TENSOR_PARALLEL_SIZE VLLM_ENABLE_PREFIX_CACHING VLLM_ENABLE_CHUNKED_PREFILL
VLLM_LMCACHE_ENABLED VLLM_ROUTER_ENABLED VLLM_ROUTER_ROUND_ROBIN VLLM_ROUTER_SESSION_AFFINITY
VLLM_ROUTER_PREFIX_AWARE VLLM_ROUTER_KV_AWARE VLLM_ROUTER_SESSION_KEY VLLM_OBSERVABILITY_ENABLED
VLLM_GRAFANA_PORT VLLM_PROMETHEUS_PORT VLLM_API_PORT VLLM_API_KEY VLLM_HF_TOKEN VLLM_BENCHMARK_ENABLED
VLLM_BENCHMARK_DURATION VLLM_BENCHMARK_CONCURRENT_USERS VLLM_AB_TESTING VLLM_REGISTRY_MIRROR_URL
VLLM_ENGINE_IMAGE_REPOSITORY VLLM_ENGINE_IMAGE_TAG VLLM_HELM_CHART_VERSION VLLM_HELM_CHART_REPO_URL
""".split()

DEFCONFIGS = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "defconfigs").iterdir())


def test_tree_parses_without_warnings(tree: Tree) -> None:
    kconf = load_kconfig(tree)
    assert kconf.warnings == []


def test_public_symbols_exist_with_help(tree: Tree) -> None:
    kconf = load_kconfig(tree)
    missing = [s for s in REQUIRED_SYMBOLS if s not in kconf.syms]
    assert missing == []
    no_help = [s.name for s in config.workflow_symbols(kconf) if not any(n.help for n in s.nodes)]
    assert no_help == []


def test_defaults_match_the_interface(tree: Tree) -> None:
    kconf = load_kconfig(tree)
    assert kconf.syms["VLLM_DEPLOY_LOCAL"].str_value == "y"
    kconf.syms["VLLM_DEPLOY_KUBERNETES"].set_value(2)
    assert kconf.syms["VLLM_HELM_RELEASE_NAME"].str_value == "vllm"
    assert kconf.syms["VLLM_HELM_CHART_VERSION"].str_value == "0.1.12"
    assert kconf.syms["VLLM_ENGINE_IMAGE_REPOSITORY"].str_value == "openeuler/vllm-cpu"
    assert kconf.syms["VLLM_ENGINE_IMAGE_TAG"].str_value not in ("", "latest")
    assert kconf.syms["VLLM_HELM_NAMESPACE"].str_value == "vllm-system"
    assert kconf.syms["VLLM_ROUTER_SESSION_KEY"].str_value == "x-user-id"
    assert kconf.syms["VLLM_MODEL_URL"].str_value == "facebook/opt-125m"


@pytest.mark.parametrize("name", DEFCONFIGS)
def test_defconfig_loads_clean_and_round_trips(tree: Tree, tmp_path: Path, name: str) -> None:
    assert name in tree.defconfig_names()
    cfg = tmp_path / ".config"
    defconfig(tree, name, cfg)
    kconf = check_current(tree, cfg)
    assert kconf.warnings == []
    out = tmp_path / "min"
    savedefconfig(tree, cfg, out)
    assert out.read_text().splitlines() == (tree.defconfigs / name).read_text().splitlines()


def test_every_defconfig_passes_validation(tree: Tree, tmp_path: Path) -> None:
    from vllm_workflow.validate import check

    for name in tree.defconfig_names():
        kconf = load_config(tree, tree.defconfigs / name)
        assert check(config.extra_vars(kconf)) == [], name


def test_vllm_local_defconfig_is_the_embedded_default(vars_for) -> None:
    v = vars_for("vllm-local")
    assert v["vllm_bringup_localhost"] and v["vllm_deploy_local"] and v["vllm_model_source_tiny"]
    assert v["vllm_replica_count"] == 2
    assert v["vllm_router_session_affinity"] is True
    assert v["vllm_model_name"] == "tiny-llama"


def test_unknown_defconfig_names_the_choices(tree: Tree, tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as err:
        defconfig(tree, "no-such-thing", tmp_path / ".config")
    assert "unknown defconfig 'no-such-thing'" in str(err.value)
    assert "vllm-local" in str(err.value)
    assert not (tmp_path / ".config").exists()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("CONFIG_VLLM_API_PORT=8000", "CONFIG_VLLM_API_PORT=99999", "out of range (allowed range 1024..65535)"),
        ("CONFIG_VLLM_REPLICA_COUNT=2", "CONFIG_VLLM_REPLICA_COUNT=two", "not a valid int value"),
    ],
)
def test_hand_edited_bad_value_is_rejected(tree: Tree, tmp_path: Path, old: str, new: str, expected: str) -> None:
    cfg = tmp_path / ".config"
    defconfig(tree, "vllm-local", cfg)
    cfg.write_text(cfg.read_text().replace(old, new))
    with pytest.raises(WorkflowError) as err:
        load_config(tree, cfg)
    assert new in str(err.value) and expected in str(err.value) and "Fix:" in str(err.value)


def test_impossible_choice_is_rejected(tree: Tree, tmp_path: Path) -> None:
    frag = tmp_path / "frag"
    frag.write_text("CONFIG_VLLM_ROCM_GFX1100=y\n")  # an AMD architecture needs the ROCm device
    with pytest.raises(WorkflowError) as err:
        load_config(tree, frag)
    assert "CONFIG_VLLM_ROCM_GFX1100=y" in str(err.value)
    assert "VLLM_TARGET_DEVICE_ROCM" in str(err.value)


def test_old_config_is_detected_and_olddefconfig_fixes_it(tree: Tree, tmp_path: Path) -> None:
    cfg = tmp_path / ".config"
    defconfig(tree, "vllm-local", cfg)
    text = cfg.read_text()
    old = [line for line in text.splitlines() if "VLLM_LOCAL_BLOCK_SIZE" not in line]
    old.append("CONFIG_VLLM_REMOVED_LONG_AGO=y")
    cfg.write_text("\n".join(old) + "\n")
    with pytest.raises(WorkflowError) as err:
        check_current(tree, cfg)
    assert "CONFIG_VLLM_REMOVED_LONG_AGO" in str(err.value)
    assert "make olddefconfig" in str(err.value)
    changed = olddefconfig(tree, cfg)
    assert any("VLLM_LOCAL_BLOCK_SIZE" in c for c in changed)
    check_current(tree, cfg)
    assert (tmp_path / ".config.old").read_text() == "\n".join(old) + "\n"


def test_cli_reports_errors_without_traceback(tree: Tree, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vllm_workflow.cli", "--root", str(tree.root), "--config", str(tmp_path / ".config"),
         "defconfig", "nope"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: unknown defconfig 'nope'")
    assert "Traceback" not in out.stderr
