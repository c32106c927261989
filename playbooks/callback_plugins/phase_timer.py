# SPDX-License-Identifier: Apache-2.0
"""Ansible callback: one line at the end of a run saying where the time went, per phase.

A phase is the task file a task comes from (preflight, runtime, model, supervisor, health ...
of the roles, or the play itself); a task's time runs from its start to the next task's start.
Enabled in ansible.cfg (callbacks_enabled = phase_timer).
"""

from __future__ import annotations

import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: phase_timer
    type: aggregate
    short_description: print the time of each deploy phase at the end of the run
    description:
      - One line at the end of a run with the seconds each phase (task file) took, and the total.
    requirements: [enable in ansible.cfg callbacks_enabled]
"""


def phase_of(path: str) -> str:
    """``.../roles/vllm_local/tasks/health.yml:12`` -> ``health``; a playbook -> ``play``."""
    file = path.rsplit(":", 1)[0] if path else ""
    if "/tasks/" in file:
        return os.path.splitext(os.path.basename(file))[0]
    return "play"


def summary(durations: list[tuple[str, float]]) -> str:
    """Phases in the order they first ran, with their summed seconds, and the total."""
    totals: dict[str, float] = {}
    for phase, seconds in durations:
        totals[phase] = totals.get(phase, 0.0) + seconds
    parts = [f"{phase} {seconds:.1f} s" for phase, seconds in totals.items() if seconds >= 0.05]
    return "⏱  phases: " + ", ".join(parts) + f" · total {sum(totals.values()):.1f} s"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "phase_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._current: tuple[str, float] | None = None
        self._durations: list[tuple[str, float]] = []

    def _close(self) -> None:
        if self._current is not None:
            phase, start = self._current
            self._durations.append((phase, time.monotonic() - start))
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):  # noqa: ANN001 - Ansible's API
        self._close()
        try:
            path = task.get_path() or ""
        except Exception:  # noqa: BLE001 - timing must never break a run
            path = ""
        self._current = (phase_of(path), time.monotonic())

    def v2_playbook_on_stats(self, stats):  # noqa: ANN001 - Ansible's API
        self._close()
        if self._durations:  # on stderr: machine-read stdout (the json callback of ad-hoc runs) stays clean
            self._display.display(summary(self._durations), stderr=True)
