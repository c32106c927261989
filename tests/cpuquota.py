"""A real, kernel-level slowdown for tests and calibration: processes in a cgroup with a CPU quota.

cgroup v1's ``cpu`` controller where it is mounted (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``),
else cgroup v2 (``cpu.max``). ``CpuQuota(name, cpus).add(pids)`` moves whole processes (every
thread) into the group; children they start later are born in it. ``close()`` moves them back to
the root group and removes it; safe after a failure and twice. Needs root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def available() -> str | None:
    """Why a CPU quota cannot be set here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root"
    if (V1 / "cpu.cfs_quota_us").exists() or (V2 / "cgroup.controllers").exists() and \
            "cpu" in (V2 / "cgroup.controllers").read_text().split():
        return None
    return "no cgroup cpu controller (v1 cpu or v2 cpu.max)"


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


class CpuQuota:
    def __init__(self, name: str, cpus: float) -> None:
        why = available()
        if why:
            raise RuntimeError(f"cannot limit CPU: {why}")
        self.v1 = (V1 / "cpu.cfs_quota_us").exists()
        self.root = V1 if self.v1 else V2
        self.path = self.root / name
        self.path.mkdir(exist_ok=True)
        quota = int(cpus * PERIOD_US)
        if self.v1:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        self.cpus = cpus

    def add(self, pids: Iterable[int]) -> int:
        """Move these processes in; how many moved (those that exited meanwhile are skipped)."""
        moved = 0
        for pid in pids:
            try:
                (self.path / "cgroup.procs").write_text(str(pid))
                moved += 1
            except OSError:
                pass
        return moved

    def throttled(self) -> dict[str, int]:
        """The kernel's own throttling counters of the group (periods, throttled periods, time)."""
        out = {}
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            out[key] = int(value)
        return out

    def close(self) -> None:
        if not self.path.exists():
            return
        procs = self.path / "cgroup.procs"
        for _ in range(3):
            pids = [p for p in procs.read_text().split() if p]
            if not pids:
                break
            for pid in pids:
                try:
                    (self.root / "cgroup.procs").write_text(pid)
                except OSError:
                    pass
        try:
            self.path.rmdir()
        except OSError:
            pass
