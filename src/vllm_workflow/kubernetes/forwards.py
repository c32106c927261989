"""What repairs, kept apart from what reads (``status.py``): restart a Kubernetes stack's
port-forwards when they are down (after a reboot, say). The quick test calls it before checking,
and says what it did."""

from __future__ import annotations

import time

import requests

from ..stack import Stack
from ..supervision import agent_call


def ensure_forwards(stack: Stack, timeout: float = 20.0) -> str | None:
    """Start the stack's port-forward supervisor and forwards when they are down (after a reboot,
    say), then wait until the API answers; what was done, or None when nothing was needed or
    the supervisor is not on this machine."""
    if stack.backend != "kubernetes":
        return None
    changed = False
    for command in ("ensure-daemon", "apply"):
        got = agent_call(stack, command, timeout=60)
        if got.absent:
            return None  # the supervisor is not on this machine
        if not got.ok:
            return f"could not start the port-forwards ({got.error}); run make vllm-deploy"
        changed = changed or bool((got.answer or {}).get("changed"))
    if not changed:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"{stack.api_url}/health", timeout=2)
            return "port-forwards were down and have been restarted"
        except requests.RequestException:
            time.sleep(0.5)
    return f"port-forwards restarted, but {stack.api_url} does not answer yet"
