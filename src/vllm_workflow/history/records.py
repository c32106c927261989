"""One bundle's files as the history keeps them: what makes runs comparable (a fingerprint), what
tells them apart (time, host, kernel, commit, arm), and the headline figures with each run's own
per-request confidence interval. Pure reading; nothing here writes.

Three kinds of folder are indexed: benchmark bundles (``summary.json``; a fault test is a benchmark
bundle with a ``fault`` section), A/B comparisons (``comparison.json``) and history checks
(``check.json``, written by ``make vllm-history-check``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WorkflowError

SUMMARY, COMPARISON, CHECK = "summary.json", "comparison.json", "check.json"
MARKERS = (SUMMARY, COMPARISON, CHECK)

#: The settings that shape what the engines do with a request (dev-arm overrides applied).
ENGINE_SETTINGS = ("vllm_dtype", "vllm_max_model_len", "vllm_extra_engine_args", "vllm_enable_prefix_caching",
                   "vllm_enable_chunked_prefill", "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size",
                   "vllm_local_block_size", "vllm_local_kv_cache_blocks", "vllm_local_kvcache_gib",
                   "vllm_local_omp_bind", "vllm_local_enforce_eager", "vllm_local_uni_executor",
                   "vllm_lmcache_enabled", "vllm_lmcache_cpu_offload_buffer_gib")
#: Versions of the monitoring around the stack do not change what is measured.
NOT_SERVING = ("prometheus", "node_exporter", "grafana", "supervisor")
#: Workload fields that do not change the load (a request's timeout only ends hung requests).
NOT_LOAD = ("timeout_s",)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Figure:
    """One headline figure of a run; ``lo``/``hi``: its 95 % interval from the run's own requests
    (order statistics of the quantile), None where it has none (throughput, rates)."""

    metric: str
    value: float
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True)
class Run:
    """A benchmark bundle (or fault test) as the index keeps it. ``path``: relative to the results."""

    path: str
    kind: str  # "benchmark" | "fault"
    created: str
    label: str
    workload: str
    complete: bool
    fingerprint: str
    shape: Mapping[str, Any]
    host: str = ""
    hostname: str = ""
    kernel_release: str = ""
    kernel_build: str = ""
    kernel_config_sha: str = ""
    kernel_commit: str = ""
    project_rev: str = ""
    project_dirty: bool | None = None
    arm: str = ""
    figures: tuple[Figure, ...] = ()

    def figure(self, metric: str) -> Figure | None:
        return next((f for f in self.figures if f.metric == metric), None)


@dataclass(frozen=True)
class Comparison:
    """An A/B comparison folder: its verdict and the bundles of each arm (folder names)."""

    path: str
    created: str
    label: str
    verdict: str
    exit_code: int
    bisect: bool
    complete: bool
    members: tuple[tuple[str, str], ...] = ()  # (bundle folder name, arm)
    primary: Mapping[str, Any] = field(default_factory=dict)  # metric -> {delta, ci, verdict}


@dataclass(frozen=True)
class Check:
    """A history check folder: the newest run against its history."""

    path: str
    created: str
    run: str  # the checked run's path
    verdict: str
    exit_code: int
    bisect: bool


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WorkflowError(f"{path.name} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise WorkflowError(f"{path.name} holds a {type(data).__name__}, not an object")
    return data


def _optional(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _settings(folder: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20x faster on a 10,000-bundle reindex
    try:
        data = yaml.load((folder / "config" / "extra_vars.yaml").read_text(), Loader=loader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def fingerprint(shape: Mapping[str, Any]) -> str:
    """A short stable hash of what makes runs comparable."""
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:16]


def shape_of(summary: Mapping[str, Any], settings: Mapping[str, Any], provenance: Mapping[str, Any],
             arm: str) -> dict[str, Any]:
    """What makes runs comparable: the workload, the stack's shape and the serving versions."""
    from ..arms import arm_vars

    target = summary.get("target") or {}
    effective = arm_vars(settings, arm if arm in ("baseline", "dev") else "") if settings else {}
    versions = provenance.get("versions") or {}
    configured = {k: v for k, v in (versions.get("configured") or {}).items()
                  if not any(word in k for word in NOT_SERVING)}
    return {
        "workload": {k: v for k, v in (summary.get("workload") or {}).items() if k not in NOT_LOAD},
        "stack": {"backend": target.get("backend"), "model": target.get("model"), "routing": target.get("routing"),
                  "router_policy": target.get("router_policy"), "engines": len(target.get("engines") or []),
                  "engine": {k: effective[k] for k in ENGINE_SETTINGS if k in effective}},
        "versions": {"configured": configured, "engine_reported": versions.get("engine_reported")},
    }


def kernel_commit(kdevops: Mapping[str, Any], arm: str) -> str:
    """The kernel source kdevops built for this node: tree@ref (the dev ref on a dev node when the
    arms build different refs)."""
    facts = kdevops.get("kernel") or {}
    if not isinstance(facts, Mapping):
        return ""
    for key in ("bootlinux_commit", "target_linux_commit"):
        if facts.get(key):
            return str(facts[key])
    ref = facts.get("target_linux_ref")
    if arm == "dev" and facts.get("bootlinux_ab_different_ref") and facts.get("target_linux_dev_ref"):
        ref = facts["target_linux_dev_ref"]
    tree = facts.get("target_linux_tree")
    if not ref:
        return ""
    return f"{tree}@{ref}" if tree else str(ref)


def quantile_ci(values: np.ndarray, q: float) -> tuple[float, float] | None:
    """Distribution-free 95 % interval of the q-th percentile from order statistics (the binomial
    ranks around n·q); None with fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    x = np.sort(values)
    p = q / 100
    half = Z95 * math.sqrt(n * p * (1 - p))
    lo = min(n - 1, max(0, math.floor(n * p - half) - 1))  # 1-based ranks, as indices
    hi = min(n - 1, max(lo, math.ceil(n * p + half) - 1))
    return float(x[lo]), float(x[hi])


def _request_columns(folder: Path) -> dict[str, np.ndarray]:
    """Per-request values in ms of the measured, successful requests (ITL per token gap)."""
    out: dict[str, list[float]] = {"ttft": [], "tpot": [], "e2e": [], "itls": []}
    try:
        fh = (folder / "requests.jsonl").open()
    except OSError:
        return {}
    with fh:
        for line in fh:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            times = r.get("token_times") or []
            if (not isinstance(r, dict) or r.get("warmup") or r.get("error") is not None or r.get("cancelled")
                    or r.get("status") != 200 or not times):
                continue
            send, end = r.get("send"), r.get("end")
            if not isinstance(send, (int, float)):
                continue
            out["ttft"].append(times[0] - send)
            out["itls"].extend(b - a for a, b in zip(times, times[1:]))
            if isinstance(end, (int, float)):
                out["e2e"].append(end - send)
                n = r.get("output_tokens") if isinstance(r.get("output_tokens"), int) else len(times)
                if n >= 2:
                    out["tpot"].append((end - times[0]) / (n - 1))
    return {k: np.asarray(v, dtype=float) * 1000 for k, v in out.items()}


def figures(summary: Mapping[str, Any], folder: Path | None) -> tuple[Figure, ...]:
    """The headline figures the A/B compares (benchmark and host), each with its per-request CI."""
    from ..ab.compare import METRICS

    columns = _request_columns(folder) if folder is not None else {}
    out = []
    for m in METRICS:
        value = m.read(summary)
        if value is None or not math.isfinite(value):
            continue
        ci = quantile_ci(columns[m.per_request], m.quantile) if m.per_request and m.per_request in columns else None
        out.append(Figure(m.key, value, *(ci or (None, None))))
    return tuple(out)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def read_run(folder: Path, path: str) -> Run:
    """A benchmark bundle; WorkflowError naming what is wrong when it is damaged or half-written."""
    from ..benchmark.bundle import SCHEMA, SCHEMA_VERSION

    summary = _load(folder / SUMMARY)
    if summary.get("schema") != SCHEMA:
        raise WorkflowError(f"summary.json is not a benchmark summary (schema {summary.get('schema')!r})")
    version = summary.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise WorkflowError(f"summary.json has schema version {version!r}; this tool reads 1..{SCHEMA_VERSION}")
    for key in ("created", "workload", "target", "latency_ms", "throughput", "requests"):
        if not isinstance(summary.get(key), (dict, str)) or not summary.get(key):
            raise WorkflowError(f"summary.json has no {key!r} (written half-way?)")
    provenance = _optional(folder / "provenance.json")
    stack = _optional(folder / "config" / "stack.json")
    kdevops = provenance.get("kdevops") if isinstance(provenance.get("kdevops"), dict) else {}
    arm = _str(stack.get("arm") or kdevops.get("arm"))
    host = provenance.get("host") if isinstance(provenance.get("host"), dict) else {}
    details = host.get("kernel_details") if isinstance(host.get("kernel_details"), dict) else {}
    config = details.get("config") if isinstance(details.get("config"), dict) else {}
    project = provenance.get("project") if isinstance(provenance.get("project"), dict) else {}
    shape = shape_of(summary, _settings(folder), provenance, arm)
    dirty = project.get("git_dirty")
    return Run(
        path=path, kind="fault" if summary.get("fault") else "benchmark", created=_str(summary["created"]),
        label=_str(summary.get("label")), workload=_str(summary["workload"].get("name")),
        complete=bool(summary.get("complete")), fingerprint=fingerprint(shape), shape=shape,
        host=_str((summary.get("target") or {}).get("host") or host.get("stack_host")),
        hostname=_str(host.get("hostname")), kernel_release=_str(host.get("kernel")),
        kernel_build=_str(host.get("kernel_version")), kernel_config_sha=_str(config.get("sha256")),
        kernel_commit=kernel_commit(kdevops, arm), project_rev=_str(project.get("git_revision")),
        project_dirty=dirty if isinstance(dirty, bool) else None, arm=arm, figures=figures(summary, folder))


def read_comparison(folder: Path, path: str) -> Comparison:
    from ..ab.service import SCHEMA

    comp = _load(folder / COMPARISON)
    if comp.get("schema") != SCHEMA:
        raise WorkflowError(f"comparison.json is not an A/B comparison (schema {comp.get('schema')!r})")
    arms = comp.get("arms")
    if not isinstance(arms, dict) or not isinstance(comp.get("metrics"), list) or "verdict" not in comp:
        raise WorkflowError("comparison.json has no arms, metrics or verdict (written half-way?)")
    members = tuple((str(name), arm) for arm in ("baseline", "dev")
                    for name in ((arms.get(arm) or {}).get("bundles") or []))
    primary = {m["metric"]: {"delta": m.get("delta"), "ci": m.get("ci"), "verdict": m.get("verdict")}
               for m in comp["metrics"] if isinstance(m, dict) and m.get("primary")}
    return Comparison(path=path, created=_str(comp.get("created")), label=_str(comp.get("label")),
                      verdict=_str(comp["verdict"]), exit_code=int(comp.get("exit_code") or 0),
                      bisect=comp.get("exit_codes") == "bisect", complete=bool(comp.get("complete", True)),
                      members=members, primary=primary)


CHECK_SCHEMA = "vllm-workflow/history-check"


def read_check(folder: Path, path: str) -> Check:
    data = _load(folder / CHECK)
    if data.get("schema") != CHECK_SCHEMA or "verdict" not in data or "run" not in data:
        raise WorkflowError("check.json is not a history check (written half-way?)")
    return Check(path=path, created=_str(data.get("created")), run=_str(data["run"]), verdict=_str(data["verdict"]),
                 exit_code=int(data.get("exit_code") or 0), bisect=bool(data.get("bisect")))


def read(folder: Path, path: str, marker: str) -> Run | Comparison | Check:
    """The row of one folder by the file that marks its kind."""
    if marker == SUMMARY:
        return read_run(folder, path)
    if marker == COMPARISON:
        return read_comparison(folder, path)
    return read_check(folder, path)


def measurement_variance(f: Figure) -> float:
    """A run value's measurement variance on the log scale from its 95 % per-request interval
    (0 without one)."""
    if f.lo is None or f.hi is None or f.lo <= 0 or f.hi <= 0:
        return 0.0
    return ((math.log(f.hi) - math.log(f.lo)) / (2 * Z95)) ** 2


def describe_kernel(run: Run) -> str:
    """The kernel a run ran on, as a person names it."""
    return run.kernel_commit or run.kernel_release or "unknown kernel"
