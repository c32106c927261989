"""The supervisor agent and supervisord: the daemon, its programs over XML-RPC (apply like
`supervisorctl update`, restart, kill, status with restarts counted from its log, events from its
log), and shutdown. Imports supervisor only when it talks to the daemon."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from typing import Any

try:  # a package module in the controller's tests; beside this file on a host
    from .agent_procs import alive, kill_groups, reap
except ImportError:
    from agent_procs import alive, kill_groups, reap  # type: ignore[no-redef]

#: States in which supervisord will not start the program again by itself.
DOWN_STATES = {"STOPPED", "EXITED", "FATAL"}


def conf_value(conf: str, section: str, key: str) -> str:
    parser = configparser.RawConfigParser()
    parser.read(conf)
    return parser.get(section, key)


def socket_path(conf: str) -> str:
    return conf_value(conf, "unix_http_server", "file")


def server(conf: str) -> Any:  # the supervisor package is only needed from here on
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, "unix://" + socket_path(conf))
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def daemon_running(conf: str) -> bool:
    if not os.path.exists(socket_path(conf)):
        return False
    try:
        return server(conf).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False


def ensure_daemon(conf: str) -> dict[str, Any]:
    prepare_dirs(conf)
    if daemon_running(conf):
        return {"changed": False}
    supervisord = os.path.join(os.path.dirname(sys.executable), "supervisord")
    subprocess.run([supervisord, "-c", conf], check=True)
    for _ in range(500):
        if daemon_running(conf):
            return {"changed": True}
        time.sleep(0.02)
    raise SystemExit(f"supervisord did not start; see {conf_value(conf, 'supervisord', 'logfile')}")


def prepare_dirs(conf: str) -> None:
    """Create the directories CONF names: logs, state, and each program's working directory."""
    parser = configparser.RawConfigParser()
    parser.read(conf)
    wanted = []
    for section in parser.sections():
        for key in ("directory", "childlogdir"):
            if parser.has_option(section, key):
                wanted.append(parser.get(section, key))
        for key in ("logfile", "pidfile", "file", "stdout_logfile", "stderr_logfile"):
            if parser.has_option(section, key):
                wanted.append(os.path.dirname(parser.get(section, key)))
    for path in wanted:
        os.makedirs(path, mode=0o700, exist_ok=True)


def apply(conf: str) -> dict[str, Any]:
    prepare_dirs(conf)
    rpc = server(conf)
    added, changed, removed = rpc.supervisor.reloadConfig()[0]
    for name in removed + changed:
        try:
            rpc.supervisor.stopProcessGroup(name)
        except xmlrpc.client.Fault:
            pass
        rpc.supervisor.removeProcessGroup(name)
    for name in changed + added:
        rpc.supervisor.addProcessGroup(name)
    started = []
    for info in rpc.supervisor.getAllProcessInfo():
        if info["statename"] in DOWN_STATES and info["name"] not in changed + added:
            try:
                rpc.supervisor.startProcess(info["name"], False)
            except xmlrpc.client.Fault as fault:
                if "ALREADY_STARTED" not in fault.faultString:
                    raise
                continue
            started.append(info["name"])
    reaped = reap(runtime_root(conf), live_pids(conf))
    return {
        "changed": bool(added or changed or removed or started or reaped),
        "reaped": reaped,
        "added": added,
        "updated": changed,
        "removed": removed,
        "started": started,
    }


def restart(conf: str, name: str) -> dict[str, Any]:
    rpc = server(conf)
    try:
        rpc.supervisor.stopProcess(name)
    except xmlrpc.client.Fault:
        pass
    rpc.supervisor.startProcess(name, False)
    return {"changed": True, "restarted": [name]}


def spawn_counts(logfile: str, daemon_pid: int | None = None) -> dict[str, int]:
    """Spawns per program since the running supervisord started (its "started with pid" line):
    the log keeps earlier deploys' history, which is not this daemon's restarts."""
    counts: dict[str, int] = {}
    try:
        with open(logfile, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                started = re.search(r"supervisord started with pid (\d+)", line)
                if started and (daemon_pid is None or int(started.group(1)) == daemon_pid):
                    counts = {}
                    continue
                match = re.search(r"spawned: '([^']+)'", line)
                if match:
                    counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    except OSError:
        pass
    return counts


def status(conf: str) -> dict[str, Any]:
    if not daemon_running(conf):
        return {"changed": False, "daemon": False, "processes": []}
    rpc = server(conf)
    spawns = spawn_counts(conf_value(conf, "supervisord", "logfile"), int(rpc.supervisor.getPID()))
    processes = []
    for info in rpc.supervisor.getAllProcessInfo():
        uptime = info["now"] - info["start"] if info["statename"] == "RUNNING" else 0
        processes.append(
            {
                "name": info["name"],
                "state": info["statename"],
                "pid": info["pid"],
                "uptime_s": uptime,
                "restarts": max(spawns.get(info["name"], 1) - 1, 0),
                "exitstatus": info["exitstatus"],
                "log": info["stdout_logfile"],
            }
        )
    return {"changed": False, "daemon": True, "processes": processes}


def kill(conf: str, name: str) -> dict[str, Any]:
    """SIGKILL the program's process, as a crash would; supervisord sees it exit and restarts it."""
    info = server(conf).supervisor.getProcessInfo(name)
    if info["statename"] != "RUNNING" or not info["pid"]:
        raise SystemExit(f"{name} is {info['statename']}, not running: nothing to kill")
    at = time.time()
    os.kill(int(info["pid"]), signal.SIGKILL)
    return {"changed": True, "program": name, "pid": info["pid"], "at": at}


_LOG_EVENT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \w+ "
                        r"(?:(spawned): '([^']+)' with pid (\d+)|(exited): (\S+) \((.*)\)|"
                        r"(success): (\S+) entered RUNNING state)")


def log_events(lines: Any, since: float) -> list[dict[str, Any]]:
    """Process-manager events from supervisord log lines (local time) after ``since`` (epoch)."""
    out = []
    for line in lines:
        m = _LOG_EVENT.match(line)
        if not m:
            continue
        at = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
        if at < since:
            continue
        if m.group(3):
            out.append({"at": at, "program": m.group(4), "event": "spawned", "pid": int(m.group(5))})
        elif m.group(6):
            out.append({"at": at, "program": m.group(7), "event": "exited", "detail": m.group(8)})
        else:
            out.append({"at": at, "program": m.group(10), "event": "running"})
    return out


def events(conf: str, since: float) -> dict[str, Any]:
    try:
        with open(conf_value(conf, "supervisord", "logfile"), encoding="utf-8", errors="replace") as fh:
            found = log_events(fh, since)
    except OSError:
        found = []
    return {"changed": False, "events": found}


def runtime_root(conf: str) -> str:
    return conf_value(conf, "supervisord", "directory")


def live_pids(conf: str) -> dict[str, int]:
    if not daemon_running(conf):
        return {}
    return {i["name"]: i["pid"] for i in server(conf).supervisor.getAllProcessInfo() if i["pid"]}


def listen_address(command: str) -> tuple[str, int] | None:
    """Where an engine's command line says it serves (``--host``, ``--port``); a wildcard host is
    reached on loopback."""
    args = shlex.split(command)
    host, port = "127.0.0.1", None
    for flag, value in zip(args, args[1:]):
        if flag == "--host":
            host = "127.0.0.1" if value in ("", "0.0.0.0") else "::1" if value == "::" else value
        elif flag == "--port" and value.isdigit():
            port = int(value)
    return (host, port) if port else None


def accepts(address: tuple[str, int], timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def starting_engines(conf: str, rpc: Any) -> dict[str, int]:
    """The engines still starting (their port not open yet: they serve nobody), name -> pid.
    vLLM's API server ignores SIGTERM while it waits for its engine core to start, so a graceful
    stop of a starting engine lasts supervisord's whole stopwaitsecs (30 s) before the kill."""
    parser = configparser.RawConfigParser()
    parser.read(conf)
    found = {}
    for info in rpc.supervisor.getAllProcessInfo():
        name, pid = info["name"], info["pid"]
        if not name.startswith("engine-") or not pid or info["statename"] not in ("STARTING", "RUNNING"):
            continue
        address = listen_address(parser.get(f"program:{name}", "command", fallback=""))
        if address is not None and not accepts(address):
            found[name] = int(pid)
    return found


def shutdown(conf: str, timeout: float = 120.0) -> dict[str, Any]:
    if not daemon_running(conf):
        return {"changed": False}
    pidfile = conf_value(conf, "supervisord", "pidfile")
    with open(pidfile, encoding="utf-8") as fh:
        pid = int(fh.read().strip())
    rpc = server(conf)
    starting = starting_engines(conf, rpc)
    # supervisord's own shutdown stops one program group after another (each waits for its
    # process to exit); signalling every program first lets the engines shut down side by side.
    try:
        rpc.supervisor.stopAllProcesses(False)
    except xmlrpc.client.Fault:
        pass
    # Killed once supervisord is stopping them, so that it does not restart them.
    killed = kill_groups(starting)
    # SIGTERM, not the XML-RPC shutdown: a signal wakes supervisord's main loop at once, where the
    # RPC is only seen at its next poll. It is gone once it exited: a zombie waiting for init to
    # reap it (some container inits take a second) holds nothing.
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return {"changed": True, "killed_starting": killed}
        time.sleep(0.05)
    raise SystemExit(f"supervisord (pid {pid}) did not exit within {timeout:.0f} s")
