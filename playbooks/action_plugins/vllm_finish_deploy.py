# SPDX-License-Identifier: Apache-2.0
"""Ansible action: deploy's controller step once the processes are started.

Records the stack description, provisions its dashboard while the engines start and waits until
every engine, the router and Prometheus answer (``vllm_workflow.readiness.finish_deploy``), in
the controller's own Ansible process: no module wrapper and no second Python starting while the
engines start beside it. Each line is shown as it comes (the wait says what it waits for every
10 s) and returned as ``lines``; ``changed`` when the description or the dashboard changed.
Enabled in ansible.cfg (action_plugins). Check mode skips it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

DOCUMENTATION = """
    module: vllm_finish_deploy
    short_description: record a deployed stack, provision its dashboard, wait until it answers /health
    options:
      host: {description: the inventory host the stack is for, type: str, required: true}
      stack: {description: the stack description the plan made, type: dict, required: true}
      root: {description: the project directory (secrets file, dashboard output), type: path, required: true}
      state_dir: {description: where stack descriptions are recorded, type: path, required: true}
      timeout: {description: seconds to wait for /health, type: float, default: 600}
      extra_vars: {description: the generated settings; given, the dashboard is provisioned, type: path}
"""

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("host", "stack", "root", "state_dir", "timeout", "extra_vars"))
    _supports_check_mode = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        try:
            from vllm_workflow import config
            from vllm_workflow.errors import WorkflowError
            from vllm_workflow.readiness import FinishOptions, finish_deploy
        except ImportError as exc:  # ansible-playbook from outside the project's virtualenv
            return {**result, "failed": True, "msg": f"vllm_finish_deploy needs the vllm_workflow package ({exc}). "
                    "Fix: run the playbook through make, which uses the project's virtualenv."}
        args = self._task.args
        extra_vars = args.get("extra_vars")
        try:
            options = FinishOptions(
                root=Path(args["root"]).resolve(), state_dir=Path(args["state_dir"]), host=str(args["host"]),
                stack_text=json.dumps(args["stack"], indent=4, sort_keys=True, default=str) + "\n",
                timeout=float(args.get("timeout", 600)),
                dashboard_vars=config.load_vars(Path(extra_vars)) if extra_vars else None)
            outcome = finish_deploy(options, say=display.display)
        except WorkflowError as exc:
            return {**result, "failed": True, "msg": str(exc)}
        except KeyError as exc:
            return {**result, "failed": True, "msg": f"vllm_finish_deploy needs {exc.args[0]}"}
        except (TypeError, ValueError) as exc:
            return {**result, "failed": True, "msg": f"vllm_finish_deploy: an argument is not usable ({exc})"}
        result.update(changed=outcome.changed, lines=outcome.lines)
        if outcome.failed:
            first = next((i for i, line in enumerate(outcome.lines) if line.startswith("❌")), 0)
            result.update(failed=True, msg=outcome.lines[first:])
        return result
