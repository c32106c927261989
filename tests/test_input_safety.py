"""Bad input and secrets: make variables stay one argument, secrets stay private and well-formed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-test-0123456789abcdef"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project's Kconfig, Makefiles and defconfigs (no stack, no inventory)."""
    kconfigs = [str(k.relative_to(ROOT)) for k in sorted((ROOT / "workflows/vllm").glob("Kconfig*"))]
    for rel in ("Kconfig", "Makefile", "ansible.cfg", *kconfigs, "workflows/vllm/Makefile", "defconfigs"):
        src, dst = ROOT / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    return tmp_path


def make(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    venv = Path(sys.prefix)
    stamp = venv / ".installed"
    if not stamp.exists():
        pytest.skip("needs the project virtualenv (make venv)")
    environ = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "VLLM_API_KEY", "GRAFANA_API_TOKEN")}
    # The venv stamp is older than the copied files: tell make it is up to date.
    return subprocess.run(["make", "--no-print-directory", "-C", str(project), f"VENV={venv}", "-o", str(stamp),
                           *args], capture_output=True, text=True, check=False, env={**environ, **(env or {})},
                          timeout=120)


def test_make_variables_stay_one_argument(project: Path) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    for target, var in (("vllm-benchmark", "LABEL"), ("vllm-results", "RUN"), ("vllm-ab", "LABEL"),
                        ("vllm-benchmark", "MODEL"), ("vllm-benchmark", "MIX"), ("vllm-fault-test", "MIX")):
        out = make(project, target, f"{var}=x;touch {project}/pwned;echo", env={})
        assert not (project / "pwned").exists(), target
        assert out.returncode != 0, target  # nothing is deployed / no such results: the target fails
    spaced = make(project, "vllm-benchmark", "LABEL=two words")
    assert "two words" in spaced.stderr and "Fix:" in spaced.stderr  # one argument, refused by name


def test_savedefconfig_leaves_secrets_out_and_says_so(project: Path) -> None:
    (project / "defconfigs" / "with-key").write_text(
        (ROOT / "defconfigs" / "vllm-local").read_text() + f'CONFIG_VLLM_API_KEY="{SECRET}"\n')
    assert make(project, "defconfig-with-key").returncode == 0
    assert stat.S_IMODE((project / ".config").stat().st_mode) == 0o600
    out = make(project, "savedefconfig")
    assert out.returncode == 0 and "Left out CONFIG_VLLM_API_KEY" in out.stdout
    saved = (project / "defconfig").read_text()
    assert SECRET not in saved and "CONFIG_VLLM_ROUTER_SESSION_AFFINITY=y" in saved


def test_old_config_copy_is_never_world_readable(project: Path) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    config = project / ".config"
    config.write_text(config.read_text().replace('CONFIG_VLLM_HF_TOKEN=""', f'CONFIG_VLLM_HF_TOKEN="{SECRET}"'))
    config.chmod(0o644)  # hand-edited
    assert make(project, "defconfig-vllm-quick-test").returncode == 0
    old = project / ".config.old"
    assert SECRET in old.read_text() and stat.S_IMODE(old.stat().st_mode) == 0o600


@pytest.mark.parametrize("value", [SECRET + "\r", SECRET + "\n", "a b", 'x"y', "k\x1b[2J"])
def test_secrets_with_control_characters_are_refused_without_showing_them(project: Path, value: str) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    out = make(project, env={"VLLM_API_KEY": value})
    assert out.returncode != 0
    assert "CONFIG_VLLM_API_KEY" in out.stderr and "Fix:" in out.stderr
    assert value.strip() not in out.stdout + out.stderr
    assert not (project / ".secrets.yaml").exists() or value not in (project / ".secrets.yaml").read_text()


def test_a_key_from_one_commands_environment_is_not_dropped_silently(project: Path) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    assert make(project, env={"VLLM_API_KEY": SECRET}).returncode == 0
    out = make(project)
    assert "CONFIG_VLLM_API_KEY was set for the last deploy and is empty now" in out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_damaged_config_files_are_explained_not_tracebacks(project: Path) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    config = project / ".config"
    good = config.read_text()
    cases = [
        (b"", "holds no settings"),
        (good.encode()[:200].rstrip(b"\n") + b"\nCONFIG_VLLM_DEPLOY_LOC", "ends in the middle of a line"),
        (good.encode() + b'CONFIG_VLLM_MODEL_NAME="\xff"\n', "is not UTF-8 text"),
        (good.encode() + b"CONFIG_VLLM_REPLICA_COUNT\n", "malformed line"),
    ]
    for data, expected in cases:
        config.write_bytes(data)
        out = make(project)
        assert out.returncode == 2 and expected in out.stderr and "Fix:" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    # the way out works from any of them, keeping the damaged file
    assert make(project, "defconfig-vllm-local").returncode == 0
    assert (project / ".config.old").read_bytes().endswith(b"CONFIG_VLLM_REPLICA_COUNT\n")


def test_make_defconfig_without_a_name(project: Path) -> None:
    out = make(project, "defconfig-")
    assert out.returncode != 0 and "no defconfig named" in out.stderr and "vllm-local" in out.stderr


def test_extra_vars_that_is_a_directory(project: Path) -> None:
    assert make(project, "defconfig-vllm-local").returncode == 0
    (project / "extra_vars.yaml").mkdir()
    out = make(project)
    assert out.returncode == 2 and "is a directory where a file belongs" in out.stderr and "Traceback" not in out.stderr


def test_unbalanced_quote_in_engine_args_is_refused_at_make(project: Path) -> None:
    (project / "defconfigs" / "q").write_text((ROOT / "defconfigs" / "vllm-local").read_text()
                                              + "CONFIG_VLLM_EXTRA_ENGINE_ARGS=\"--foo 'bar\"\n")
    assert make(project, "defconfig-q").returncode == 0
    out = make(project)
    assert out.returncode == 2 and "CONFIG_VLLM_EXTRA_ENGINE_ARGS" in out.stderr and "balance the quotes" in out.stderr


def test_ab_threshold_of_zero_stays_zero() -> None:
    from vllm_workflow.ab.service import rule_from

    assert rule_from({"vllm_ab_threshold_pct": 0, "vllm_ab_equivalence_pct": 10}).threshold == 0
    assert rule_from({}).threshold == 0.05


def test_damaged_summary_and_stack_files_are_explained(tmp_path: Path) -> None:
    import json

    from vllm_workflow.benchmark.bundle import load_summary
    from vllm_workflow.errors import WorkflowError
    from vllm_workflow.stack import load_stacks

    for content, expected in (([], "holds a list"), ({"schema": "x"}, "is not a benchmark summary"),
                              ({"schema": "vllm-workflow/benchmark", "schema_version": "one"},
                               "is not an integer")):
        (tmp_path / "summary.json").write_text(json.dumps(content))
        with pytest.raises(WorkflowError, match=expected):
            load_summary(tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "h.json").write_text("[1, 2]")
    with pytest.raises(WorkflowError, match="holds a list, not a stack description"):
        load_stacks(tmp_path)
