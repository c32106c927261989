"""Read, in one step, the host's kernel counters and those of the stack's processes (issue 25).

The benchmark runs this on the stack's host at the start and the end of the measured window
(``python -c SOURCE REQUEST``: nothing is installed first); the difference of two snapshots is
the host's share of the run (``vllm_workflow.benchmark.hostmetrics``). Standard library only;
it changes nothing. Every source it cannot read is recorded as unavailable with the reason.

REQUEST is JSON: ``conf`` (the stack's supervisord.conf: its ``directory`` is the runtime root,
and each supervised program works in <root>/run/<program>, which its children inherit).

Prints one JSON object.
"""

from __future__ import annotations

import configparser
import json
import os
import sys
import time
from typing import Any

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
VMSTAT = ("pgfault", "pgmajfault", "pswpin", "pswpout")
#: Sysctls that matter to serving, by prefix: the scheduler, NUMA balancing, memory
#: reclaim and overcommit, the network core and TCP.
SYSCTL_PREFIXES = ("kernel/sched_", "kernel/numa_balancing", "vm/swappiness", "vm/overcommit_", "vm/dirty_",
                   "vm/zone_reclaim_mode", "vm/min_free_kbytes", "net/core/", "net/ipv4/tcp_")


NET = {"rx_bytes": 0, "rx_packets": 1, "rx_drop": 3, "tx_bytes": 8, "tx_packets": 9, "tx_drop": 11}


def unavailable(reason: str) -> dict[str, str]:
    return {"unavailable": reason}


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def proc_stat() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in (read("/proc/stat") or "").splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "cpu":
            out["cpu"] = dict(zip(CPU_MODES, (int(x) for x in fields[1:9])))
        elif fields[0].startswith("cpu"):  # each core
            out.setdefault("per_cpu", {})[fields[0]] = dict(zip(CPU_MODES, (int(x) for x in fields[1:9])))
        elif fields[0] in ("ctxt", "processes", "procs_running", "procs_blocked"):
            out[fields[0]] = int(fields[1])
        elif fields[0] == "intr":
            out["intr"] = int(fields[1])
    return out


def psi() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for resource in ("cpu", "memory", "io"):
        text = read(f"/proc/pressure/{resource}")
        if text is None:
            return unavailable("/proc/pressure is not readable (CONFIG_PSI off, or psi=0 on the command line)")
        out[resource] = {}
        for line in text.splitlines():
            kind, *pairs = line.split()
            values = dict(p.split("=", 1) for p in pairs)
            out[resource][kind] = int(values.get("total", 0))  # microseconds stalled since boot
    return out


def keyed(path: str, names: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for line in (read(path) or "").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].rstrip(":") in names:
            out[fields[0].rstrip(":")] = int(fields[1])
    return out


def tcp() -> dict[str, int]:
    lines = [ln.split() for ln in (read("/proc/net/snmp") or "").splitlines() if ln.startswith("Tcp:")]
    if len(lines) < 2:
        return {}
    values = dict(zip(lines[0][1:], lines[1][1:]))
    return {k: int(values[k]) for k in ("OutSegs", "RetransSegs", "InSegs") if k in values}


def net() -> dict[str, int]:
    """Bytes, packets and drops over every interface but loopback (this network namespace's)."""
    total = dict.fromkeys(NET, 0)
    for line in (read("/proc/net/dev") or "").splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 12:
            continue
        for key, index in NET.items():
            total[key] += int(fields[index])
    return total


def cgroup_dirs(pid: int) -> dict[str, tuple[str, str]] | None:
    """Where the cgroups ``pid`` is in live: "unified" (v2), and the v1 "cpu" and "memory"
    hierarchies where mounted, each (directory, cgroup path). None: /proc/<pid>/cgroup unreadable."""
    text = read(f"/proc/{pid}/cgroup")
    if text is None:
        return None
    dirs: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            dirs["unified"] = (f"/sys/fs/cgroup{path}", path)
        for name in ("cpu", "memory"):
            if name in controllers.split(","):
                found = next((f"/sys/fs/cgroup/{d}{path}" for d in (controllers, name, f"{name},{name}acct")
                              if os.path.isdir(f"/sys/fs/cgroup/{d}{path}")), "")
                if found:
                    dirs[name] = (found, path)
    return dirs


def cgroup_cpu(dirs: dict[str, tuple[str, str]] | None) -> dict[str, Any]:
    """The CPU controller's throttling counters of a process's cgroup (v1 or v2)."""
    if dirs is None:
        return unavailable("/proc/<pid>/cgroup is not readable")
    for key in ("cpu", "unified"):
        if key not in dirs:
            continue
        base, path = dirs[key]
        values = keyed(f"{base}/cpu.stat", ("nr_periods", "nr_throttled", "throttled_time", "throttled_usec"))
        if "nr_periods" in values:
            ns = values.get("throttled_time", values.get("throttled_usec", 0) * 1000)
            return {"cgroup": path, "nr_periods": values["nr_periods"], "nr_throttled": values["nr_throttled"],
                    "throttled_ns": ns}
    return unavailable("no cpu.stat with throttling counters for its cgroup (no cpu controller mounted)")


def limits(dirs: dict[str, tuple[str, str]] | None) -> dict[str, Any]:
    """The CPU and memory limits of a process's cgroups: CPUs (quota / period; None = unlimited)
    and memory in MiB (None = unlimited), cgroup v2, or v1 where its controllers are mounted."""
    if dirs is None:
        return unavailable("/proc/<pid>/cgroup is not readable")
    out: dict[str, Any] = {}
    if "unified" in dirs:
        base = dirs["unified"][0]
        cpu_max = (read(f"{base}/cpu.max") or "").split()
        if len(cpu_max) == 2:
            out["cpus"] = None if cpu_max[0] == "max" else int(cpu_max[0]) / int(cpu_max[1])
        mem = (read(f"{base}/memory.max") or "").strip()
        if mem:
            out["memory_mb"] = None if mem == "max" else int(mem) / 2**20
    if "cpu" in dirs:
        base = dirs["cpu"][0]
        quota = (read(f"{base}/cpu.cfs_quota_us") or "").strip()
        period = (read(f"{base}/cpu.cfs_period_us") or "").strip()
        if quota.lstrip("-").isdigit() and period.isdigit():
            out["cpus"] = None if int(quota) < 0 else int(quota) / int(period)
    if "memory" in dirs:
        mem = (read(f"{dirs['memory'][0]}/memory.limit_in_bytes") or "").strip()
        if mem.isdigit():
            out["memory_mb"] = None if int(mem) >= 2**62 else int(mem) / 2**20
    return out or unavailable("no cpu or memory controller mounted")


def process(pid: int) -> dict[str, int] | None:
    stat = read(f"/proc/{pid}/stat")
    status = read(f"/proc/{pid}/status")
    if stat is None or status is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    values = {line.split(":")[0]: line.split(":")[1].split()[0] for line in status.splitlines()
              if line.startswith(("VmRSS", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))}
    return {"utime": int(fields[11]), "stime": int(fields[12]), "rss_kb": int(values.get("VmRSS", 0)),
            "voluntary_ctxt_switches": int(values.get("voluntary_ctxt_switches", 0)),
            "nonvoluntary_ctxt_switches": int(values.get("nonvoluntary_ctxt_switches", 0))}


def programs(root: str) -> dict[str, Any]:
    """Each supervised program's processes (the program and its children), summed."""
    run = os.path.join(root, "run") + os.sep
    out: dict[str, Any] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if not cwd.startswith(run):
            continue
        name = cwd[len(run):].split(os.sep)[0]
        counters = process(int(entry))
        if counters is None:
            continue
        prog = out.setdefault(name, {"processes": 0, "utime": 0, "stime": 0, "rss_kb": 0,
                                     "voluntary_ctxt_switches": 0, "nonvoluntary_ctxt_switches": 0,
                                     "pid": int(entry)})
        prog["processes"] += 1
        prog["pid"] = min(prog["pid"], int(entry))
        prog.setdefault("pids", []).append(int(entry))
        for key, value in counters.items():
            prog[key] += value
    for prog in out.values():
        dirs = cgroup_dirs(prog.pop("pid"))  # read once for both
        prog["throttle"] = cgroup_cpu(dirs)
        prog["limits"] = limits(dirs)
    return out


def sysctls() -> dict[str, str]:
    out = {}
    for prefix in SYSCTL_PREFIXES:
        folder, _, start = prefix.rpartition("/")
        base = os.path.join("/proc/sys", folder)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            if name.startswith(start) and os.path.isfile(path):
                value = read(path)
                if value is not None:
                    out[f"{folder.replace('/', '.')}.{name}"] = " ".join(value.split())
    return out


#: perf stat's events: software ones every kernel has, hardware ones where a PMU is exposed.
PERF_EVENTS = ("task-clock", "context-switches", "cpu-migrations", "page-faults", "cycles", "instructions",
               "cache-misses")


def _alive(pid: int) -> bool:
    stat = read(f"/proc/{pid}/stat")
    return stat is not None and stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop_perf(state: str) -> dict[str, Any] | None:
    """Interrupt the perf stat started at the run's start; its counts (None if none was started)."""
    import signal

    try:
        with open(state, encoding="utf-8") as fh:
            started = json.load(fh)
        os.unlink(state)
    except (OSError, ValueError):
        return None
    pid = int(started.get("pid") or 0)
    if pid and _alive(pid):
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
    text = read(started.get("output", "")) or ""
    events: dict[str, float | None] = {}
    reasons = []
    user_only = False
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        name, _, modifier = fields[2].partition(":")
        user_only = user_only or modifier == "u"
        try:
            events[name] = float(fields[0])
        except ValueError:
            events[name] = None
            reasons.append(f"{name}: {fields[0].strip('<>')}")
    if not events:
        return {"unavailable": "perf stat wrote no counts: " + (text.strip()[-300:] or "empty output")}
    # ":u": perf counted user space only (kernel.perf_event_paranoid >= 2 and not root): kernel
    # events such as context switches then read 0
    return {"events": events, "not_counted": reasons, "user_space_only": user_only, "pids": started.get("pids", [])}


def _start_perf(state: str, output: str, pids: list[int]) -> dict[str, Any]:
    """perf stat counting the engines' processes until the run's end (``_stop_perf``)."""
    import subprocess

    import shutil

    perf = shutil.which("perf", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"]))
    if perf is None:
        return unavailable("perf is not installed on this host (Debian: apt-get install linux-perf)")
    paranoid = (read("/proc/sys/kernel/perf_event_paranoid") or "").strip()
    if paranoid == "3" or (paranoid.lstrip("-").isdigit() and int(paranoid) > 2 and os.geteuid() != 0):
        return unavailable(f"kernel.perf_event_paranoid={paranoid} forbids perf_event_open to this user")
    if not pids:
        return unavailable("no engine process to count")
    argv = [perf, "stat", "-x", ",", "-o", output, "-e", ",".join(PERF_EVENTS), "-p", ",".join(map(str, pids))]
    # Its own session, and no pipe to this short-lived reader: perf outlives it until the stop
    # snapshot interrupts it (over SSH, the connection that started it is gone by then).
    try:
        with open(output + ".err", "wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
    except OSError as exc:
        return unavailable(f"perf stat could not start: {exc}")
    time.sleep(0.2)
    if proc.poll() is not None:  # refused at once: say why
        message = (read(output + ".err") or "").strip()
        return unavailable(f"perf stat exited {proc.returncode}: {message[-300:]}")
    with open(state, "w", encoding="utf-8") as fh:
        json.dump({"pid": proc.pid, "output": output, "pids": pids}, fh)
    return {"started": True, "pid": proc.pid, "pids": pids, "events": list(PERF_EVENTS)}


def perf(root: str, action: str, progs: dict[str, Any]) -> dict[str, Any]:
    """``start``: perf stat on the engines' processes (a leftover one stopped first);
    ``stop``: its counts over the run."""
    state_dir = os.path.join(root, "state")
    state, output = os.path.join(state_dir, "perf-stat.json"), os.path.join(state_dir, "perf-stat.csv")
    if not os.path.isdir(state_dir):
        return unavailable(f"{state_dir} does not exist")
    if action == "stop":
        return _stop_perf(state) or unavailable("no perf stat was started at the run's start")
    _stop_perf(state)
    pids = sorted(p for name, prog in progs.items() if name.startswith("engine-") for p in prog.get("pids", []))
    return _start_perf(state, output, pids)


def runtime_root(conf: str) -> str:
    parser = configparser.RawConfigParser()
    parser.read(conf)
    return parser.get("supervisord", "directory", fallback="")


def snapshot(request: dict[str, Any]) -> dict[str, Any]:
    uptime = (read("/proc/uptime") or "0").split()[0]
    root = runtime_root(str(request.get("conf") or ""))
    meminfo = keyed("/proc/meminfo", ("MemAvailable", "SwapTotal", "SwapFree"))
    progs = programs(root) if root else unavailable(f"no runtime directory in {request.get('conf')!r}")
    out = {
        "time": time.time(),
        "uptime": float(uptime),
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "cpus": os.cpu_count() or 1,
        **proc_stat(),
        "loadavg": [float(x) for x in (read("/proc/loadavg") or "0 0 0").split()[:3]],
        "psi": psi(),
        "vmstat": keyed("/proc/vmstat", VMSTAT),
        "mem_available_kb": meminfo.get("MemAvailable"),
        "swap_used_kb": meminfo.get("SwapTotal", 0) - meminfo.get("SwapFree", 0),
        "tcp": tcp(),
        "net": net(),
        "sysctl": sysctls(),
        "programs": progs,
    }
    action = str(request.get("perf") or "")
    if action in ("start", "stop"):
        out["perf"] = perf(root, action, progs) if root else unavailable("no runtime directory")
    for prog in progs.values():
        if isinstance(prog, dict):
            prog.pop("pids", None)
    return out


def main(argv: list[str]) -> int:
    try:
        request = json.loads(argv[1]) if len(argv) > 1 else {}
    except ValueError as exc:
        print(f"host_counters: the request is not JSON: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(snapshot(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
