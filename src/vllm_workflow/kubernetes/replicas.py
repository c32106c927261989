"""Replica counts of a release's Deployments over a run, read from the cluster (the scale workload).

Every ``interval`` seconds the Deployments in the release's namespace (cluster.py): each
Deployment's desired replicas (what the autoscaler asked for) and ready replicas. A failed read
is recorded as such and never ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..stack import Stack


def parse(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """(name, desired, ready) of every Deployment in the API's list (``kubectl get deployments -o json``)."""
    out = []
    for item in listing.get("items", []):
        spec, status = item.get("spec") or {}, item.get("status") or {}
        out.append({"deployment": (item.get("metadata") or {}).get("name", "?"),
                    "desired": int(spec.get("replicas") or 0), "ready": int(status.get("readyReplicas") or 0)})
    return out


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per Deployment: fewest and most ready replicas, and when the most were first reached."""
    out: dict[str, Any] = {}
    for name in sorted({r["deployment"] for r in rows if "deployment" in r}):
        mine = [r for r in rows if r.get("deployment") == name]
        most = max(r["ready"] for r in mine)
        out[name] = {"ready_min": min(r["ready"] for r in mine), "ready_max": most,
                     "desired_max": max(r["desired"] for r in mine),
                     "first_at_max_s": next(r["t"] for r in mine if r["ready"] == most), "samples": len(mine)}
    return out


class ReplicaSampler:
    def __init__(self, stack: Stack, interval: float = 5.0) -> None:
        from .cluster import Cluster

        self.cluster = Cluster(stack)
        self.interval = interval
        self.rows: list[dict[str, Any]] = []

    async def _read(self) -> list[dict[str, Any]] | str:
        """One sample, read in a worker thread (the client blocks; the load must not)."""
        listing, error = await asyncio.to_thread(self.cluster.list, "deployments", 5.0)
        return parse(listing) if listing is not None else error

    async def run(self, clock: Callable[[], float], stop: asyncio.Event) -> None:
        while not stop.is_set():
            t = round(clock(), 3)
            got = await self._read()
            if isinstance(got, str):
                self.rows.append({"t": t, "error": got})
            else:
                self.rows += [{"t": t, **row} for row in got]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
