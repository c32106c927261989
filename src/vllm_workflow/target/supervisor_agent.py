"""Target-side helper for the local backend's process manager (supervisord).

Standalone: runs with the supervisor virtualenv's Python on the target and
imports only supervisor, the standard library and its own modules beside it
(installed together in <runtime>/bin): agent_supervisord.py (the daemon and
its programs), agent_router.py (the router's settings and workers),
agent_procs.py (processes through /proc), agent_files.py (private writes,
Prometheus' configuration). This file is the command line and `up`, the deploy
step that uses them all. Every command prints one JSON object with a
"changed" flag, so Ansible tasks report changes honestly.

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

import json
import sys
from typing import Any

try:  # a package module in the controller's tests; beside this file on a host
    from .agent_files import prometheus_config, write_private
    from .agent_procs import reap
    from .agent_router import router_sync
    from .agent_supervisord import apply, ensure_daemon, events, kill, restart, runtime_root, server, shutdown, status
except ImportError:
    from agent_files import prometheus_config, write_private  # type: ignore[no-redef]
    from agent_procs import reap  # type: ignore[no-redef]
    from agent_router import router_sync  # type: ignore[no-redef]
    from agent_supervisord import (  # type: ignore[no-redef]
        apply, ensure_daemon, events, kill, restart, runtime_root, server, shutdown, status)


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
        drained = router.get("drained_after_s") or {}  # url -> seconds until it had finished its requests
        out.append(f"took {', '.join(router['removed'])} out of the router before stopping them"
                   + (f" (drained in {max(drained.values()):.1f} s)" if drained else ""))
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
