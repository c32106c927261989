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


def cgroup_cpu(pid: int) -> dict[str, Any]:
    """The CPU controller's throttling counters of the cgroup ``pid`` is in (v1 or v2)."""
    text = read(f"/proc/{pid}/cgroup")
    if text is None:
        return unavailable(f"/proc/{pid}/cgroup is not readable")
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            stat = f"/sys/fs/cgroup{path}/cpu.stat"
        elif "cpu" in controllers.split(","):
            stat = next((f"/sys/fs/cgroup/{d}{path}/cpu.stat" for d in (controllers, "cpu", "cpu,cpuacct")
                         if os.path.exists(f"/sys/fs/cgroup/{d}{path}/cpu.stat")), "")
        else:
            continue
        values = keyed(stat, ("nr_periods", "nr_throttled", "throttled_time", "throttled_usec")) if stat else {}
        if "nr_periods" not in values:
            continue
        ns = values.get("throttled_time", values.get("throttled_usec", 0) * 1000)
        return {"cgroup": path, "nr_periods": values["nr_periods"], "nr_throttled": values["nr_throttled"],
                "throttled_ns": ns}
    return unavailable("no cpu.stat with throttling counters for its cgroup (no cpu controller mounted)")


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
        for key, value in counters.items():
            prog[key] += value
    for prog in out.values():
        prog["throttle"] = cgroup_cpu(prog.pop("pid"))
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


def runtime_root(conf: str) -> str:
    parser = configparser.RawConfigParser()
    parser.read(conf)
    return parser.get("supervisord", "directory", fallback="")


def snapshot(request: dict[str, Any]) -> dict[str, Any]:
    uptime = (read("/proc/uptime") or "0").split()[0]
    root = runtime_root(str(request.get("conf") or ""))
    meminfo = keyed("/proc/meminfo", ("MemAvailable", "SwapTotal", "SwapFree"))
    return {
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
        "programs": programs(root) if root else unavailable(f"no runtime directory in {request.get('conf')!r}"),
    }


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
