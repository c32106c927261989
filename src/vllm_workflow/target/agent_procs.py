"""The supervisor agent's view of processes through /proc: alive, whose run directory, whose
descendant; leftovers of earlier instances killed (see supervisor_agent.py for why). Standard
library only."""

from __future__ import annotations

import os
import signal


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_groups(pids: dict[str, int]) -> list[str]:
    """SIGKILL each program's process group (supervisord makes each program one); the names killed."""
    killed = []
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(name)
    return killed


def program_of(pid: int, root: str) -> str | None:
    """The program whose run directory ``pid`` works in, if any."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    run = os.path.join(root, "run") + os.sep
    return cwd[len(run):].split(os.sep)[0] if cwd.startswith(run) else None


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = parent_of(pid)
    return False


def reap(root: str, keep: dict[str, int], only: str | None = None) -> list[int]:
    """Kill processes in ``root``'s run directories that do not descend from their program's live pid."""
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        name = program_of(pid, root)
        if not name or (only and name != only):
            continue
        live = keep.get(name, 0)
        if live and descends_from(pid, live):
            continue
        try:
            os.kill(pid, 9)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed
