"""Read, in one step, everything the local deploy plan needs to know about a target host.

Deploy hands this file's text to the host's own Python (``python3 -c SOURCE REQUEST``, through
Ansible's ``raw``): nothing is copied first, so it works on a host that has none of our files yet,
and it replaces Ansible's fact gathering and five separate reads (one cheap task instead of six).
Standard library only; it changes nothing on the host.

REQUEST is JSON: ``runtime_dir`` (``~`` allowed), ``instance`` (A/B arm directory, or ""),
``other_instance`` (the other arm's, or ""), ``model_path`` (a model directory to look for, or ""),
``full`` (false: only the home and runtime directories, what teardown needs).

Prints one JSON object; the plan (``vllm_workflow.local.plan``) decides from it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import pwd
import socket
import subprocess
import sys
from typing import Any

#: The supervisor agent: its command line and the modules it imports from beside it.
AGENT = ("supervisor_agent.py", "agent_supervisord.py", "agent_router.py", "agent_procs.py", "agent_files.py")
#: The helpers deploy installs in <runtime>/bin; their checksums decide whether they are copied.
HELPERS = (*AGENT, "router_launcher.py", "tiny_model.py", "kv_relay.py")
#: What each runtime virtualenv records once installed (see plan.runtimes).
MARKER = ".vllm-workflow-installed"
#: What the built-in model builder writes next to the model.
MODEL_MANIFEST = "vllm-workflow-model.json"


def run(argv: list[str], timeout: float = 30) -> tuple[int, str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return out.returncode, out.stdout


#: The GPU gate's query (kubernetes/gpu.py reads it): one "name, compute capability" line per GPU.
NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"]


def nvidia_smi() -> dict[str, Any]:
    """The GPUs nvidia-smi reports: its exit code (None: not installed), stdout and stderr."""
    try:
        out = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return {"rc": None, "stdout": "", "stderr": "nvidia-smi: No such file or directory"}
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"rc": 1, "stdout": "", "stderr": str(exc)}
    return {"rc": out.returncode, "stdout": out.stdout, "stderr": out.stderr}


def gpu_list(smi: dict[str, Any]) -> list[dict[str, str]]:
    """Provenance: each GPU's name and compute capability."""
    if smi.get("rc") != 0:
        return []
    out = []
    for line in str(smi.get("stdout") or "").splitlines():
        name, _, cap = line.strip().rpartition(",")
        if line.strip():
            out.append({"name": name.strip() or line.strip(), "compute_cap": cap.strip()})
    return out


def meminfo() -> dict[str, int]:
    """/proc/meminfo in MiB."""
    out = {}
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                fields = rest.split()
                if fields and fields[0].isdigit():
                    out[key] = int(fields[0]) // 1024
    except OSError:
        pass
    return out


def os_release() -> str:
    values = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.strip().partition("=")
                values[key] = value.strip('"')
    except OSError:
        return platform.system()
    return f"{values.get('NAME', platform.system()).split()[0]} {values.get('VERSION_ID', '')}".strip()


def processors() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
    except OSError:
        return []


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return None


def helper_sums(bin_dir: str) -> str:
    """``sha256sum``'s output for the installed helpers (missing ones left out)."""
    lines = []
    for name in HELPERS:
        path = os.path.join(bin_dir, name)
        try:
            with open(path, "rb") as fh:
                lines.append(f"{hashlib.sha256(fh.read()).hexdigest()}  {path}")
        except OSError:
            continue
    return "\n".join(lines)


def models(root: str) -> dict[str, Any]:
    out = {}
    for manifest in glob.glob(os.path.join(root, "models", "*", MODEL_MANIFEST)):
        try:
            with open(manifest, encoding="utf-8") as fh:
                out[os.path.dirname(manifest)] = json.load(fh)
        except (OSError, ValueError):
            continue
    return out


def agent_installed(root: str) -> bool:
    """Every file of the agent is in <runtime>/bin (one missing and it cannot start)."""
    return all(os.path.exists(os.path.join(root, "bin", name)) for name in AGENT)


def supervisor_status(root: str, home: str) -> str:
    """The supervisor agent's ``status`` JSON, or "" when nothing of ours is installed yet."""
    python = os.path.join(root, "venv-supervisor", "bin", "python")
    agent = os.path.join(root, "bin", "supervisor_agent.py")
    conf = os.path.join(home, "state", "supervisord.conf")
    if not (os.path.exists(python) and agent_installed(root)):
        return ""
    code, out = run([python, agent, "status", conf])
    return out if code == 0 else ""


def unavailable(reason: str) -> dict[str, str]:
    return {"unavailable": reason}


def kernel_config(release: str) -> dict[str, Any]:
    """The running kernel's configuration: where it was read, its sha256 and its set options
    (``NAME=value`` without the ``CONFIG_`` prefix; "is not set" lines left out)."""
    import gzip

    for path in ("/proc/config.gz", f"/boot/config-{release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        options = {}
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                name, _, value = line[len("CONFIG_"):].partition("=")
                options[name] = value
        return {"source": path, "sha256": hashlib.sha256(raw).hexdigest(), "options": options}
    return unavailable(f"neither /proc/config.gz (CONFIG_IKCONFIG_PROC) nor /boot/config-{release} is readable")


def bracketed(text: str | None) -> str | None:
    """The chosen value of a sysfs choice file ("always [madvise] never" -> "madvise")."""
    if text is None:
        return None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return text


def cpu_info() -> dict[str, Any]:
    flags, microcode = [], None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("flags", "Features") and not flags:
                    flags = sorted(value.split())
                elif key == "microcode" and microcode is None:
                    microcode = value.strip()
    except OSError:
        pass
    return {"flags": flags, "microcode": microcode}


def cpufreq() -> dict[str, Any]:
    base = "/sys/devices/system/cpu/cpu0/cpufreq"
    if not os.path.isdir(base):
        return unavailable(f"{base} does not exist (no cpufreq driver: a VM, or frequency scaling off)")
    return {"driver": read_text(os.path.join(base, "scaling_driver")),
            "governor": read_text(os.path.join(base, "scaling_governor"))}


def numa() -> dict[str, Any]:
    nodes = sorted(glob.glob("/sys/devices/system/node/node[0-9]*"))
    if not nodes:
        return unavailable("/sys/devices/system/node has no nodes (CONFIG_NUMA off)")
    return {os.path.basename(n): read_text(os.path.join(n, "cpulist")) for n in nodes}


def cgroup_version() -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        return "hybrid"
    return "v1" if os.path.isdir("/sys/fs/cgroup/cpu") or os.path.isdir("/sys/fs/cgroup/cpu,cpuacct") else "none"


def boot_time() -> int | None:
    try:
        with open("/proc/stat", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def kernel_details(release: str) -> dict[str, Any]:
    """What describes the running kernel beyond its release: read on the host, each source that
    is missing recorded as unavailable with the reason. (Sysctls, which change without a reboot,
    are read with every benchmark run's host counters instead: host_counters.py.)"""
    vulns = {os.path.basename(p): read_text(p) for p in sorted(glob.glob("/sys/devices/system/cpu/vulnerabilities/*"))}
    cmdline = read_text("/proc/cmdline")
    cpu = cpu_info()
    return {
        "cmdline": cmdline if cmdline is not None else unavailable("/proc/cmdline is not readable"),
        "config": kernel_config(release),
        "transparent_hugepage": {
            "enabled": bracketed(read_text("/sys/kernel/mm/transparent_hugepage/enabled")),
            "defrag": bracketed(read_text("/sys/kernel/mm/transparent_hugepage/defrag"))},
        "cpufreq": cpufreq(),
        "numa_nodes": numa(),
        "cpu_flags": cpu["flags"],
        "microcode": cpu["microcode"],
        "vulnerabilities": vulns or unavailable("/sys/devices/system/cpu/vulnerabilities is missing"),
        "clocksource": read_text("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "cgroup": cgroup_version(),
        "boot_time": boot_time(),
    }


def probe(request: dict[str, Any]) -> dict[str, Any]:
    home = os.path.expanduser("~")
    root = str(request.get("runtime_dir") or "~/.local/share/vllm-workflow").rstrip("/")
    root = home + root[1:] if root == "~" or root.startswith("~/") else root
    instance = str(request.get("instance") or "")
    own = os.path.join(root, "instances", instance) if instance else root
    out: dict[str, Any] = {"home": home, "root": root, "own_home": own,
                           "agent_installed": agent_installed(root)}
    if not request.get("full", True):
        return out
    mem = meminfo()
    uname = os.uname()
    user = pwd.getpwuid(os.getuid()).pw_name
    code, listeners = run(["ss", "-Htlnp"])
    _, prometheus = run(["dpkg-query", "--show", "--showformat=${Version}", "prometheus"])
    _, node_exporter = run(["dpkg-query", "--show", "--showformat=${Version}", "prometheus-node-exporter"])
    other = str(request.get("other_instance") or "")
    model_path = str(request.get("model_path") or "")
    smi = nvidia_smi() if request.get("nvidia_smi") else None
    out.update({
        "cpus": cpus(),
        "mem_available_mb": mem.get("MemAvailable", mem.get("MemFree", 0)),
        "architecture": uname.machine,
        "user": user,
        "root_user": os.getuid() == 0,
        "listeners": listeners,
        "listeners_error": "" if code == 0 else f"`ss -Htlnp` failed (exit {code}): install iproute2",
        "helper_sums": helper_sums(os.path.join(root, "bin")),
        "markers": {venv: read_text(os.path.join(venv, MARKER)) or ""
                    for venv in sorted(glob.glob(os.path.join(root, "venv-*")))},
        "models": models(root),
        "model_path_exists": bool(model_path) and os.path.isfile(os.path.join(model_path, "config.json")),
        "model_paths_exist": {path: os.path.isfile(os.path.join(path, "config.json"))
                              for path in request.get("model_paths") or [] if isinstance(path, str) and path},
        "prometheus_version": prometheus.strip(),
        "node_exporter_version": node_exporter.strip(),
        "supervisor_status": supervisor_status(root, own),
        "other_arm_running": bool(other) and os.path.exists(
            os.path.join(root, "instances", other, "state", "supervisor.sock")),
        "machine": {  # provenance of this host's numbers
            "hostname": socket.gethostname().split(".")[0],
            "kernel": uname.release,
            "kernel_version": uname.version,
            "os": os_release(),
            "processor": processors(),
            "cpus": os.cpu_count() or 1,
            "memtotal_mb": mem.get("MemTotal", 0),
            "python": platform.python_version(),
            "kernel_details": kernel_details(uname.release),
            **({"gpus": gpu_list(smi)} if smi is not None else {}),
        },
        **({"nvidia_smi": smi} if smi is not None else {}),
    })
    return out


def main(argv: list[str]) -> int:
    try:
        request = json.loads(argv[1]) if len(argv) > 1 else {}
    except ValueError as exc:
        print(f"host_probe: the request is not JSON: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(probe(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
