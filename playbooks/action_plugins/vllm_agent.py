# SPDX-License-Identifier: Apache-2.0
"""Ansible action: run one of our helper programs on the target, JSON in on stdin, JSON out.

``vllm_agent: {argv: [PYTHON, AGENT, up, ...], stdin: {...}}`` runs the command over the task's
connection (local or SSH) like ``raw`` does, without Ansible's module wrapper: no second Python
that unpacks and imports Ansible's module code on the target before ours starts (a quarter of a
second on each deploy, spent while the engines start beside it). The payload goes on stdin, so
secrets in it stay off the target's process list; the helper answers one JSON document on
stdout, returned as ``answer``, and its ``changed`` key is the task's. Enabled in ansible.cfg
(action_plugins). Check mode skips it, as it skips ``command``.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ansible.plugins.action import ActionBase

DOCUMENTATION = """
    module: vllm_agent
    short_description: run a vllm-workflow helper on the target with JSON on stdin and read its JSON answer
    options:
      argv: {description: the command, first the program, type: list, elements: str, required: true}
      stdin: {description: the payload, sent as JSON, type: raw, default: null}
"""


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("argv", "stdin"))
    _supports_check_mode = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        argv = self._task.args.get("argv")
        if not isinstance(argv, list) or not argv:
            return {**result, "failed": True, "msg": "vllm_agent needs argv: a non-empty list (program first)"}
        command = " ".join(shlex.quote(str(arg)) for arg in argv)
        payload = json.dumps(self._task.args.get("stdin"), default=str).encode()
        out = self._low_level_execute_command(command, in_data=payload)
        result.update(rc=out["rc"], stderr=out["stderr"], cmd=[str(a) for a in argv])
        if out["rc"] != 0:
            tail = "\n".join(out["stderr_lines"][-20:] or out["stdout_lines"][-20:])
            return {**result, "failed": True, "stdout": out["stdout"],
                    "msg": f"{argv[1] if len(argv) > 1 else argv[0]} exited with {out['rc']}: {tail}"}
        try:
            answer = json.loads(out["stdout"])
        except ValueError:
            return {**result, "failed": True, "stdout": out["stdout"],
                    "msg": f"{argv[1] if len(argv) > 1 else argv[0]} did not answer JSON on stdout"}
        return {**result, "answer": answer, "changed": bool(isinstance(answer, dict) and answer.get("changed"))}
