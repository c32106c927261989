"""Kill an engine the way a crash would, and read back what the process manager did about it.

- local backend (this machine or a declared host): the supervisor agent on the engine's host
  sends SIGKILL to the program's process; supervisord restarts it. Its log lines (spawned,
  exited, entered RUNNING) are the process manager's record, read after the run.
- Kubernetes: the engine's pod (the one its per-engine forward holds) is deleted with no grace
  period; the Deployment replaces it. The namespace's pod events (Killing, Scheduled, Started)
  are the record.

Times come back as epoch seconds from the host that acted; the driver turns them into run-clock
seconds (on a declared host, any clock offset between the hosts shifts them).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import WorkflowError
from ..stack import Stack
from ..supervision import agent_call


class Injector(Protocol):
    method: str

    def kill(self, engine: str) -> dict[str, Any]:
        """Kill ``engine``; returns at least ``{"at": epoch seconds, "detail": str}``."""

    def events(self, since: float, engines: list[str]) -> list[dict[str, Any]]:
        """Process-manager events after ``since``: ``{"at", "engine", "event", "source", ...}``."""


class SupervisorInjector:
    method = "SIGKILL of the engine's process (supervisord restarts it)"
    source = "supervisord log"

    def __init__(self, stack: Stack, root: Path) -> None:
        pm = stack.process_manager
        self.stack, self.root = stack, root
        if not (pm.get("python") and pm.get("agent") and pm.get("conf")):
            raise WorkflowError("the stack description names no process manager agent. Fix: `make vllm-deploy`.")

    def _call(self, what: str, *args: str) -> dict[str, Any]:
        got = agent_call(self.stack, *args, root=self.root)
        if not got.ok:
            raise WorkflowError(f"{what} failed: {got.error}")
        return got.answer or {}

    def kill(self, engine: str) -> dict[str, Any]:
        got = self._call(f"killing {engine} on {self.stack.host}", "kill", engine)
        return {"at": float(got["at"]), "detail": f"SIGKILL pid {got.get('pid')}"}

    def events(self, since: float, engines: list[str]) -> list[dict[str, Any]]:
        got = self._call(f"reading supervisord's log on {self.stack.host}", "events", str(since))
        return [{**e, "engine": e["program"], "source": self.source}
                for e in got.get("events", []) if e.get("program") in engines]


def _stamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


#: Kubernetes event reasons and what they mean on our timeline.
POD_REASONS = {"Killing": "exited", "Scheduled": "pod-created", "Started": "spawned"}


def pod_events(listing: dict[str, Any], killed: dict[str, str], since: float) -> list[dict[str, Any]]:
    """Timeline events from the namespace's event list (``kubectl get events -o json``): the killed pod's Killing, and the
    Scheduled/Started of pods created after the kill (the replacement), attributed to the slot
    (engine name) whose pod was deleted. ``killed`` maps pod name -> engine name."""
    out = []
    replacing = list(killed.values())
    for item in listing.get("items", []):
        obj = item.get("involvedObject") or {}
        reason = item.get("reason")
        event = POD_REASONS.get(str(reason))
        at = _stamp(item.get("eventTime") or item.get("lastTimestamp") or item.get("firstTimestamp"))
        if obj.get("kind") != "Pod" or event is None or at is None or at < since:
            continue
        pod = str(obj.get("name"))
        if pod in killed:
            engine = killed[pod]
        elif event != "exited" and replacing:
            engine = replacing[0]
        else:
            continue
        out.append({"at": at, "engine": engine, "event": event, "pod": pod, "source": "kubernetes pod events"})
    return sorted(out, key=lambda e: e["at"])


class PodInjector:
    method = "deletion of the engine's pod, no grace period (the Deployment replaces it)"

    def __init__(self, stack: Stack) -> None:
        from ..kubernetes.cluster import Cluster

        self.cluster = Cluster(stack)
        self.claims = Path(stack.runtime_dir) / "state" / "pod-forwards"
        self.killed: dict[str, str] = {}

    def kill(self, engine: str) -> dict[str, Any]:
        slot = engine.rsplit("-", 1)[-1]
        try:
            pod = (self.claims / f"slot-{slot}").read_text().strip()
        except OSError:
            raise WorkflowError(f"no pod is known for {engine} ({self.claims}/slot-{slot} is missing). "
                                "Fix: check `make vllm-status-simplified`; the per-engine forwards record it.") from None
        at = datetime.now().timestamp()
        error = self.cluster.delete_pod(pod)
        if error:
            raise WorkflowError(error[-400:])
        self.killed[pod] = engine
        return {"at": at, "detail": f"pod {pod} deleted"}

    def events(self, since: float, engines: list[str]) -> list[dict[str, Any]]:
        listing, _ = self.cluster.list("events", 30.0, field_selector="involvedObject.kind=Pod")
        return pod_events(listing, self.killed, since) if listing is not None else []


def for_stack(stack: Stack, root: Path) -> Injector:
    if stack.backend == "kubernetes":
        return PodInjector(stack)
    return SupervisorInjector(stack, root)
