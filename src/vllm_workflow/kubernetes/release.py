"""What to do with the Helm release, given its status before deploy (pure).

The chart module's own idempotency check compares values only: a release left ``failed``
with the same values would be reported "ok" and never retried. A ``pending-*`` release
is held by an interrupted helm operation and every upgrade would fail with "another
operation is in progress".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def decide(status: Mapping[str, Any] | None, release: str, namespace: str) -> dict[str, Any]:
    """``{"action", "force", "message", "error"}`` for the release's status (None: not installed)."""
    state = str((status or {}).get("status") or "").lower()
    revision = (status or {}).get("revision")
    where = f"release {release} in namespace {namespace}"
    if not state:
        return {"action": "install", "force": False, "message": f"Installing {where}.", "error": None}
    if state == "deployed":
        return {"action": "upgrade", "force": False,
                "message": f"{where} is deployed (revision {revision}); upgrading only if the values or chart changed.",
                "error": None}
    if state == "failed":
        return {"action": "upgrade", "force": True,
                "message": f"{where} is failed (revision {revision}): upgrading it again even though the values "
                           "are unchanged. If it fails again, `make vllm-rollback` returns to the last good revision.",
                "error": None}
    if state in PENDING:
        return {"action": "refuse", "force": False, "message": "",
                "error": f"{where} is {state} (revision {revision}): an earlier helm operation was interrupted and "
                         "holds the release, so any upgrade would fail with 'another operation is in progress'. "
                         "Fix: `make vllm-rollback` (back to the last deployed revision), or `make vllm-teardown` "
                         "to uninstall it; then `make vllm-deploy`."}
    if state == "uninstalling":
        return {"action": "refuse", "force": False, "message": "",
                "error": f"{where} is being uninstalled. Fix: wait until `helm list -n {namespace} -a` no longer "
                         "shows it, then `make vllm-deploy`."}
    return {"action": "upgrade", "force": False, "message": f"{where} is {state}; upgrading.", "error": None}
