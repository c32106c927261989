# SPDX-License-Identifier: Apache-2.0
"""Ansible action: the quick-test phase of ``make vllm``, in the controller's own Ansible process.

Runs ``vllm_workflow.quicktest.check_deployed`` — the same checks as ``make vllm-quick-test`` — for
every deployed stack: dead port-forwards restarted first, each check shown as it runs (and returned
as ``lines`` when all passed), the summaries and the JUnit reports written. Never ``changed`` (a check changes
nothing it reports); failed when a check failed, or when nothing is deployed; its verdict (0 or
1) left for scripts/make-verdict like the command's. Enabled in
ansible.cfg (action_plugins). Check mode skips it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

DOCUMENTATION = """
    module: vllm_quick_test
    short_description: quick-test every deployed stack through its router and on each engine
    options:
      root: {description: the project directory (secrets file, reports), type: path, required: true}
      state_dir: {description: where the stack descriptions are recorded, type: path, required: true}
"""

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("root", "state_dir"))
    _supports_check_mode = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        try:
            from vllm_workflow.cli import write_exit_code
            from vllm_workflow.config import secrets
            from vllm_workflow.errors import WorkflowError
            from vllm_workflow.quicktest import check_deployed
        except ImportError as exc:  # ansible-playbook from outside the project's virtualenv
            return {**result, "failed": True, "msg": f"vllm_quick_test needs the vllm_workflow package ({exc}). "
                    "Fix: run the playbook through make, which uses the project's virtualenv."}
        lines: list[str] = []

        def say(line: str) -> None:
            display.display(line)
            lines.append(line)

        try:
            root = Path(self._task.args["root"]).resolve()
            failed = check_deployed(root, Path(self._task.args["state_dir"]), secrets(root).api_key, say)
        except WorkflowError as exc:
            return {**result, "failed": True, "msg": str(exc)}
        except KeyError as exc:
            return {**result, "failed": True, "msg": f"vllm_quick_test needs {exc.args[0]}"}
        write_exit_code(1 if failed else 0)  # as `vllm-workflow quick-test` does, for scripts/make-verdict
        result.update(changed=False, failed_checks=failed)
        if failed:  # the lines were shown as they came: the failure says only what to do
            return {**result, "failed": True, "msg": f"The quick test failed ({failed} check(s)); see the lines "
                                                      "above. `make vllm-status-simplified` shows what is down."}
        return {**result, "lines": lines}
