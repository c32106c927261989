"""The deploy's per-phase timing line (playbooks/callback_plugins/phase_timer.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("phase_timer", ROOT / "playbooks/callback_plugins/phase_timer.py")
assert spec and spec.loader
phase_timer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(phase_timer)


def test_phase_is_the_task_file() -> None:
    assert phase_timer.phase_of("/x/playbooks/roles/vllm_local/tasks/health.yml:16") == "health"
    assert phase_timer.phase_of("/x/playbooks/vllm.yml:22") == "play"
    assert phase_timer.phase_of("") == "play"


def test_summary_sums_phases_in_first_run_order() -> None:
    line = phase_timer.summary([("preflight", 1.25), ("runtime", 0.5), ("preflight", 0.75), ("health", 6.0),
                                ("supervisor", 0.01)])
    assert line == "⏱  phases: preflight 2.0 s, runtime 0.5 s, health 6.0 s · total 8.5 s"


def test_ansible_cfg_enables_it() -> None:
    cfg = (ROOT / "ansible.cfg").read_text()
    assert "callback_plugins = playbooks/callback_plugins" in cfg and "callbacks_enabled = phase_timer" in cfg
