"""make turns every failing command into exit 2; scripts/make-verdict gives back the verdict's own
exit code (A/B: 1 regression vs 2 inconclusive; git bisect: 125 skip vs 1 bad)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_ab_pipeline import ab_project  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "scripts" / "make-verdict"
CLI = f"'{sys.executable}' -m vllm_workflow.cli"


def makefile(tmp_path: Path, project: Path) -> Path:
    """Targets shaped like ours: a step before the verdict (ab-ready says 1 when arms are missing),
    then the verdict command; the project has no dev arm, so `ab` cannot compare."""
    path = tmp_path / "Makefile"
    path.write_text(
        f"ab:\n\t@{CLI} --root '{project}' ab-ready || true\n"
        f"\t@{CLI} --root '{project}' ab $(if $(BISECT),--bisect)\n"
        f"ready:\n\t@{CLI} --root '{project}' ab-ready\n"
        "broken:\n\t@echo 'the deploy failed' >&2; exit 1\n"
        "after:\n\t@echo 0 > \"$$VLLM_WORKFLOW_EXIT_FILE\"; exit 1\n"  # a passing verdict, then a failing step
        "ok:\n\t@true\n")
    return path


def verdict(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VLLM_API_KEY", "VLLM_WORKFLOW_EXIT_FILE")}
    return subprocess.run([str(WRAPPER), "--no-print-directory", "-C", str(tmp_path), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_make_alone_says_2_and_the_wrapper_gives_the_verdicts_code(tmp_path: Path, ab_project) -> None:  # noqa: F811
    project = ab_project({"baseline": "http://127.0.0.1:9"})
    makefile(tmp_path, project)
    plain = subprocess.run(["make", "--no-print-directory", "-C", str(tmp_path), "ab", "BISECT=1"],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "Error 125" in plain.stderr  # what make does to a skip
    out = verdict(tmp_path, "ab", "BISECT=1")
    assert out.returncode == 125, out.stderr
    assert "no deployed dev arm" in out.stderr and "git bisect skips it" in out.stderr
    out = verdict(tmp_path, "ab")
    assert out.returncode == 2 and "no deployed dev arm" in out.stderr
    assert verdict(tmp_path, "ok").returncode == 0


def test_a_failure_before_any_verdict_is_make_s_code_or_a_bisect_skip(tmp_path: Path, ab_project) -> None:  # noqa: F811
    project = ab_project({"baseline": "http://127.0.0.1:9"})
    makefile(tmp_path, project)
    out = verdict(tmp_path, "broken")
    assert out.returncode == 2 and "the deploy failed" in out.stderr
    out = verdict(tmp_path, "broken", "BISECT=1")
    assert out.returncode == 125 and "before a verdict" in out.stderr
    # ab-ready's 1 ("not deployed") is not a verdict: it is not taken for a regression
    out = verdict(tmp_path, "ready")
    assert out.returncode == 2, out.stdout + out.stderr


@pytest.mark.parametrize("command, written", [(("ab",), "2\n"), (("ab", "--bisect"), "125\n"), (("ab-ready",), None)])
def test_only_verdict_commands_leave_their_code(tmp_path: Path, ab_project, command, written) -> None:  # noqa: F811
    project = ab_project({"baseline": "http://127.0.0.1:9"})
    record = tmp_path / "code"
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"} | {"VLLM_WORKFLOW_EXIT_FILE": str(record)}
    out = subprocess.run([sys.executable, "-m", "vllm_workflow.cli", "--root", str(project), *command],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == (int(written) if written else 1)
    assert (record.read_text() if record.exists() else None) == written


def test_a_step_failing_after_a_passing_verdict_is_not_hidden(tmp_path: Path, ab_project) -> None:  # noqa: F811
    makefile(tmp_path, ab_project({"baseline": "http://127.0.0.1:9"}))
    assert verdict(tmp_path, "after").returncode == 2
    assert verdict(tmp_path, "after", "BISECT=1").returncode == 125


def test_every_verdict_command_is_a_registered_command() -> None:
    from vllm_workflow import cli

    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert cli.VERDICT_COMMANDS <= commands and "ab-ready" not in cli.VERDICT_COMMANDS
