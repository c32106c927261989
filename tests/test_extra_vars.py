"""From .config to typed extra vars and the 0600 secrets file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from vllm_workflow.kconfig import Tree, defconfig


def run_vars(tree: Tree, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vllm_workflow.cli", "--root", str(tree.root), "--config", str(tmp_path / ".config"),
         "vars", "--output", str(tmp_path / "extra_vars.yaml"), "--secrets", str(tmp_path / "secrets.yaml")],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
    )


def test_types_and_names(tree: Tree, tmp_path: Path) -> None:
    defconfig(tree, "vllm-local", tmp_path / ".config")
    assert run_vars(tree, tmp_path).returncode == 0
    data = yaml.safe_load((tmp_path / "extra_vars.yaml").read_text())
    assert data["vllm_replica_count"] == 2 and isinstance(data["vllm_replica_count"], int)
    assert data["vllm_enable_prefix_caching"] is True
    assert data["vllm_deploy_kubernetes"] is False
    assert data["vllm_model_name"] == "tiny-llama"
    assert data["vllm_router_session_key"] == "x-user-id"
    assert all(k.startswith("vllm_") and k == k.lower() for k in data)
    assert "vllm_hf_token" not in data and "vllm_api_key" not in data


def test_secrets_from_environment_go_to_a_0600_file_only(tree: Tree, tmp_path: Path) -> None:
    defconfig(tree, "vllm-local", tmp_path / ".config")
    out = run_vars(tree, tmp_path, {"HF_TOKEN": "hf_secret_value_123", "VLLM_API_KEY": "key-456"})
    assert out.returncode == 0
    assert "hf_secret_value_123" not in out.stdout + out.stderr
    secrets = tmp_path / "secrets.yaml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    data = yaml.safe_load(secrets.read_text())
    assert data == {"vllm_hf_token": "hf_secret_value_123", "vllm_api_key": "key-456", "vllm_grafana_api_token": ""}
    assert "hf_secret_value_123" not in (tmp_path / "extra_vars.yaml").read_text()


def test_secret_in_config_makes_config_private(tree: Tree, tmp_path: Path) -> None:
    cfg = tmp_path / ".config"
    defconfig(tree, "vllm-local", cfg)
    cfg.write_text(cfg.read_text().replace('CONFIG_VLLM_API_KEY=""', 'CONFIG_VLLM_API_KEY="in-config"'))
    os.chmod(cfg, 0o644)
    assert run_vars(tree, tmp_path).returncode == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert yaml.safe_load((tmp_path / "secrets.yaml").read_text())["vllm_api_key"] == "in-config"


def test_unchanged_output_is_not_rewritten(tree: Tree, tmp_path: Path) -> None:
    defconfig(tree, "vllm-local", tmp_path / ".config")
    run_vars(tree, tmp_path)
    first = (tmp_path / "extra_vars.yaml").stat().st_mtime_ns
    out = run_vars(tree, tmp_path)
    assert out.returncode == 0 and out.stdout == ""
    assert (tmp_path / "extra_vars.yaml").stat().st_mtime_ns == first


def test_invalid_value_blocks_vars_with_setting_and_fix(tree: Tree, tmp_path: Path) -> None:
    cfg = tmp_path / ".config"
    defconfig(tree, "vllm-local", cfg)
    cfg.write_text(cfg.read_text().replace("CONFIG_VLLM_LOCAL_BLOCK_SIZE=128", "CONFIG_VLLM_LOCAL_BLOCK_SIZE=48"))
    out = run_vars(tree, tmp_path)
    assert out.returncode == 2
    assert "CONFIG_VLLM_LOCAL_BLOCK_SIZE" in out.stderr and "multiple of 32" in out.stderr
    assert "Fix:" in out.stderr
    assert not (tmp_path / "extra_vars.yaml").exists()
