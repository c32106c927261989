# SPDX-License-Identifier: Apache-2.0
"""Ansible action: run one of our helper programs on the target, JSON in on stdin, JSON out.

``vllm_agent: {argv: [PYTHON, AGENT, up, ...], stdin: {...}}`` runs the command over the task's
connection (local or SSH) like ``raw`` does, without Ansible's module wrapper: no second Python
that unpacks and imports Ansible's module code on the target before ours starts (a quarter of a
second on each deploy, spent while the engines start beside it). The payload goes on stdin, so
secrets in it stay off the target's process list; the helper answers one JSON document on
stdout, returned as ``answer``, and its ``changed`` key is the task's. Enabled in ansible.cfg
(action_plugins). Check mode skips it, as it skips ``command``.

A task that carries secrets has ``no_log``, which hides its result. So when such a helper fails,
the action says the helper's last line itself, the values of the settings named in
``vllm_secret_names`` replaced by ``***`` (a failed deploy is never silent), and the task's
message names the helper only (Ansible prints a failed task's message even under no_log).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

DOCUMENTATION = """
    module: vllm_agent
    short_description: run a vllm-workflow helper on the target with JSON on stdin and read its JSON answer
    options:
      argv: {description: the command, first the program, type: list, elements: str, required: true}
      stdin: {description: the payload, sent as JSON, type: raw, default: null}
"""

display = Display()


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
        name = str(argv[1] if len(argv) > 1 else argv[0])
        if out["rc"] != 0:
            tail = "\n".join(out["stderr_lines"][-20:] or out["stdout_lines"][-20:])
            last = (out["stderr_lines"] or out["stdout_lines"] or [""])[-1]
            return self._failed(result, task_vars or {}, out, f"{name} exited with {out['rc']}", tail, last)
        try:
            answer = json.loads(out["stdout"])
        except ValueError:
            return self._failed(result, task_vars or {}, out, f"{name} did not answer JSON on stdout")
        return {**result, "answer": answer, "changed": bool(isinstance(answer, dict) and answer.get("changed"))}

    def _failed(self, result: dict[str, Any], task_vars: dict[str, Any], out: dict[str, Any], what: str,
                tail: str = "", last: str = "") -> dict[str, Any]:
        """``what`` went wrong; ``tail``: the helper's last lines, ``last``: its very last one."""
        msg = f"{what}: {tail}" if tail else what
        if self._task.no_log:
            # The result is hidden, but Ansible still prints its msg: the msg says nothing of the
            # output, and the helper's last line is said here, secrets redacted.
            said = f"{what}: {last}" if last else what
            display.error(f"{self._task.get_name()}: {self._redact(said, task_vars)}")
            msg = f"{what} (its output is hidden: no_log; its last line is above)"
        return {**result, "failed": True, "stdout": out["stdout"], "msg": self._redact(msg, task_vars)}

    def _redact(self, text: str, task_vars: dict[str, Any]) -> str:
        for secret_name in task_vars.get("vllm_secret_names") or []:
            try:
                value = self._templar.template(task_vars.get(secret_name) or "")
            except Exception:  # noqa: BLE001 - an unusable setting cannot be in the text either
                continue
            if isinstance(value, str) and value:
                text = text.replace(value, "***")
        return text
