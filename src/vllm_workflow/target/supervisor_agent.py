"""Target-side helper for the local backend's process manager (supervisord).

Standalone: runs with the supervisor virtualenv's Python on the target and
imports only supervisor and the standard library. Every command prints one
JSON object with a "changed" flag, so Ansible tasks report changes honestly.

Commands:
  ensure-daemon CONF          create the directories CONF names, start supervisord
                              for CONF unless it runs
  apply CONF                  reread CONF; add, update and remove programs like
                              `supervisorctl update`; start any that are down
  restart CONF NAME           restart one program
  up CONF [SETTINGS]          apply a deploy plan in one step (stdin JSON: the
                              supervisord configuration, the router settings and
                              Prometheus' configuration): check Prometheus'
                              configuration with promtool before anything changes,
                              write them (0600), take removed engines out of the
                              router and drain them, start supervisord unless it
                              runs, apply, restart the router for new arguments,
                              make a running Prometheus reread its configuration
  status CONF                 processes with state, pid, uptime, restarts
  kill CONF NAME              SIGKILL one program's process (fault injection);
                              supervisord restarts it
  events CONF SINCE           supervisord's spawned/exited/running lines after
                              SINCE (epoch seconds), with epoch times
  router-sync CONF SETTINGS   write the router settings (stdin JSON, mode 0600);
                              --live: add/remove workers on the running router;
                              --drain-removed: take out only the workers going away
                              and wait until they finished their requests
  shutdown CONF               stop every program and supervisord; wait for exit;
                              kill what they left behind
  listen CONF                 supervisord event listener: when a program is
                              RUNNING, kill leftovers of its earlier instances

Leftovers: vLLM's API server spawns EngineCore (and a resource tracker) as
children. When the API server is killed hard, they are orphaned, keep their
memory and never exit. Every supervised program runs in its own working
directory <runtime dir>/run/<name>, which its children inherit (an environment
marker would not do: vLLM's setproctitle overwrites the environ block that
/proc shows). A process working there that does not descend from the
program's current pid is a leftover.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client
from typing import Any

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


def _router_call(base: str, path: str, key: str, method: str = "GET") -> Any:
    request = urllib.request.Request(base + path, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    try:
        return json.loads(body)
    except ValueError:
        return body


def live_workers(base: str, key: str) -> list[str]:
    data = _router_call(base, "/list_workers", key)
    if isinstance(data, dict):
        data = data.get("urls") or data.get("workers") or []
    return [w if isinstance(w, str) else w.get("url", "") for w in data]


def engine_busy(url: str, key: str) -> float:
    """Requests an engine is running or holding (its /metrics); 0 when it cannot be read."""
    try:
        text = _router_call(url, "/metrics", key)
    except (OSError, urllib.error.URLError):
        return 0.0
    busy = 0.0
    for line in str(text).splitlines():
        if line.startswith(("vllm:num_requests_running", "vllm:num_requests_waiting")):
            try:
                busy += float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
    return busy


def drain(urls: list[str], key: str, timeout: float = 60.0, quiet_s: float = 1.0,
          busy: Any = None, clock: Any = time.monotonic, sleep: Any = time.sleep) -> dict[str, float]:
    """Wait until engines taken out of the router have finished their requests (or ``timeout``).
    An engine counts as drained once it has shown no running or waiting request for ``quiet_s`` in a
    row: a request the router sent just before the removal can still be in the engine's API server,
    not yet counted by its scheduler (a stream was seen cut that way while scaling down)."""
    busy = busy or engine_busy
    start = clock()
    waited: dict[str, float] = {}
    for url in urls:
        idle_since = None
        while clock() - start < timeout:
            now = clock()
            if busy(url, key) > 0:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= quiet_s:
                break
            sleep(0.2)
        waited[url] = round(clock() - start, 1)
    return waited


def router_sync(conf: str, settings_path: str, new: dict[str, Any], live: bool,
                drain_removed: bool = False) -> dict[str, Any]:
    """Write the router settings. ``live``: also add and remove workers on the running router.
    ``drain_removed`` (before engines are stopped): only take out the workers that are going
    away, and wait until they have finished what they were serving, so scaling down fails no
    request."""
    try:
        with open(settings_path, encoding="utf-8") as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        old = None
    result: dict[str, Any] = {"changed": False, "restart_needed": False, "added": [], "removed": []}
    if old != new:
        write_private(settings_path, json.dumps(new, indent=2, sort_keys=True))
        result["changed"] = True
        if old is not None and (old.get("args") != new.get("args") or old.get("api_key") != new.get("api_key")):
            result["restart_needed"] = True
    if not (live or drain_removed) or result["restart_needed"] or old is None:
        return result
    args = new["args"]
    host, port = args[args.index("--host") + 1], args[args.index("--port") + 1]
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    key = new.get("api_key", "")
    try:
        current = live_workers(base, key)
    except (OSError, urllib.error.URLError) as exc:
        result["error"] = f"router at {base} unreachable: {exc}"
        return result
    for url in new["workers"] if live else []:
        if url not in current:
            _router_call(base, "/add_worker?url=" + urllib.parse.quote(url, safe=""), key, "POST")
            result["added"].append(url)
    for url in current:
        if url not in new["workers"]:
            _router_call(base, "/remove_worker?url=" + urllib.parse.quote(url, safe=""), key, "POST")
            result["removed"].append(url)
    if drain_removed and result["removed"]:
        result["drained_after_s"] = drain(result["removed"], key)
    result["changed"] = result["changed"] or bool(result["added"] or result["removed"])
    return result


def write_private(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0600, atomically) unless it already holds it; True if written."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)
    return True


def prometheus_config(spec: dict[str, Any]) -> dict[str, Any]:
    """Write Prometheus' configuration once promtool accepted it (a file promtool refused never
    replaces a good one), and create its data directory. ``error``: what is wrong, nothing written."""
    promtool = spec["promtool"]
    if not os.access(promtool, os.X_OK):
        return {"changed": False, "error": "promtool_missing", "detail": promtool}
    if read_file(spec["conf"]) == spec["config"]:  # checked when it was written
        return {"changed": False}
    staged = spec["conf"] + ".new"
    write_private(staged, spec["config"])
    check = subprocess.run([promtool, "check", "config", staged], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        os.remove(staged)
        return {"changed": False, "error": "config_refused",
                "detail": (check.stderr + check.stdout).replace(staged, spec["conf"]).strip()[-2000:]}
    os.makedirs(spec["data"], mode=0o700, exist_ok=True)
    os.replace(staged, spec["conf"])
    return {"changed": True}


def read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def up(conf: str, settings_path: str | None, plan: dict[str, Any]) -> dict[str, Any]:
    """The whole supervisor step of a deploy; ``changed`` only when something really changed."""
    result: dict[str, Any] = {"changed": False}
    prometheus = plan.get("prometheus")
    if prometheus is not None:
        result["prometheus"] = prometheus_config(prometheus)
        if "error" in result["prometheus"]:
            return result  # before anything else changes
    result["conf_changed"] = write_private(conf, plan["supervisord_conf"])
    router = plan.get("router_settings")
    if router is not None and settings_path:
        result["router"] = router_sync(conf, settings_path, router, live=False, drain_removed=True)
    result["daemon"] = ensure_daemon(conf)
    result["apply"] = apply(conf)
    touched = result["apply"]["added"] + result["apply"]["updated"] + result["apply"]["started"]
    restart_router = (router is not None and result["router"]["restart_needed"]
                      and "router" not in result["apply"]["added"])
    if restart_router:
        restart(conf, "router")
    result["router_restarted"] = restart_router
    # A router started now has every engine on its command line: nothing to register live.
    result["router_fresh"] = router is not None and (result["daemon"]["changed"] or restart_router
                                                     or "router" in touched)
    prometheus_changed = prometheus is not None and result["prometheus"]["changed"]
    if prometheus_changed and not result["daemon"]["changed"] and "prometheus" not in touched:
        server(conf).supervisor.signalProcess("prometheus", "HUP")  # Prometheus rereads its file
        result["prometheus"]["reloaded"] = True
    result["changed"] = bool(result["conf_changed"] or (router is not None and result["router"]["changed"])
                             or result["daemon"]["changed"] or result["apply"]["changed"] or restart_router
                             or prometheus_changed)
    result["actions"] = actions(result)
    return result


def actions(result: dict[str, Any]) -> list[str]:
    """What ``up`` did, each change named with its reason, in the order done: the deploy prints
    them (the step itself is no_log: its input holds the secrets)."""
    out = []
    prometheus = result.get("prometheus") or {}
    if prometheus.get("changed"):
        out.append("wrote the Prometheus configuration (promtool accepted it)")
    if result.get("conf_changed"):
        out.append("wrote supervisord.conf (the process plan changed)")
    router = result.get("router") or {}
    if router.get("changed"):
        out.append("wrote the router settings" + (" (its arguments or API key changed)" if router.get("restart_needed")
                                                  else ""))
    if router.get("removed"):
        out.append(f"took {', '.join(router['removed'])} out of the router before stopping them"
                   + (f" (drained in {router['drained_after_s']:.1f} s)" if "drained_after_s" in router else ""))
    if (result.get("daemon") or {}).get("changed"):
        out.append("started supervisord (it was not running)")
    done = result.get("apply") or {}
    for key, what in (("removed", "removed {} (no longer in the plan)"),
                      ("updated", "restarted {} (command line or environment changed)"),
                      ("added", "added and started {} (new in the plan)"),
                      ("started", "started {} (was down)")):
        if done.get(key):
            out.append(what.format(", ".join(done[key])))
    if done.get("reaped"):
        out.append(f"stopped stray processes of this runtime left by an earlier run (pids {', '.join(map(str, done['reaped']))})")
    if result.get("router_restarted"):
        out.append("restarted router (its arguments or API key changed)")
    if prometheus.get("reloaded"):
        out.append("made Prometheus reread its configuration (SIGHUP)")
    return out


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


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


def program_of(pid: int, root: str) -> str | None:
    """The program whose run directory ``pid`` works in, if any."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    run = os.path.join(root, "run") + os.sep
    return cwd[len(run):].split(os.sep)[0] if cwd.startswith(run) else None


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


def runtime_root(conf: str) -> str:
    return conf_value(conf, "supervisord", "directory")


def live_pids(conf: str) -> dict[str, int]:
    if not daemon_running(conf):
        return {}
    return {i["name"]: i["pid"] for i in server(conf).supervisor.getAllProcessInfo() if i["pid"]}


def listen(conf: str) -> None:
    """Event listener loop, through supervisor's own protocol helper (supervisor.childutils)."""
    from supervisor import childutils

    root = runtime_root(conf)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        fields = childutils.get_headers(payload.split("\n", 1)[0])
        if headers.get("eventname") == "PROCESS_STATE_RUNNING" and fields.get("pid", "").isdigit():
            name = fields.get("processname", "")
            killed = reap(root, {name: int(fields["pid"])}, only=name)
            if killed:
                print(f"reaped leftovers of {name}: {killed}", file=sys.stderr, flush=True)
        childutils.listener.ok(sys.stdout)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    command, conf = argv[1], argv[2]
    if command == "ensure-daemon":
        result = ensure_daemon(conf)
    elif command == "apply":
        result = apply(conf)
    elif command == "restart":
        result = restart(conf, argv[3])
    elif command == "status":
        result = status(conf)
    elif command == "up":
        result = up(conf, argv[3] if len(argv) > 3 else None, json.load(sys.stdin))
    elif command == "kill":
        result = kill(conf, argv[3])
    elif command == "events":
        result = events(conf, float(argv[3]))
    elif command == "router-sync":
        result = router_sync(conf, argv[3], json.load(sys.stdin), live="--live" in argv,
                             drain_removed="--drain-removed" in argv)
    elif command == "shutdown":
        result = shutdown(conf)
        result["reaped"] = reap(runtime_root(conf), {})
        result["changed"] = result["changed"] or bool(result["reaped"])
    elif command == "listen":
        listen(conf)
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
