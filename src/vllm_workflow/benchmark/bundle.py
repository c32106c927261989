"""Results bundles: one folder per run, never overwritten, self-describing.

``workflows/vllm/results/<UTC timestamp>-<label>/`` holds ``summary.json``
(schema ``vllm-workflow/benchmark`` version 1, documented in
docs/benchmarking.md), ``requests.jsonl``, ``engine-metrics.jsonl``,
``config/`` (the .config and the stack's settings, secrets redacted),
``provenance.json``, and the report (``report.md``, ``report.html``, PNGs).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import SECRET_SYMBOLS
from ..errors import WorkflowError
from ..files import write_atomic
from .records import RequestRecord

SCHEMA = "vllm-workflow/benchmark"
SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = "workflows/vllm/results"
REDACTED = "<redacted>"
_LABEL = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def check_label(label: str) -> str:
    if not _LABEL.match(label):
        raise WorkflowError(f"results label {label!r} must be 1-64 letters, digits, '.', '-' or '_'. "
                            "Fix: change CONFIG_VLLM_BENCHMARK_LABEL (or LABEL=...).")
    return label


def new_bundle_dir(results: Path, label: str, now: datetime | None = None) -> Path:
    """Create a fresh folder; an existing one is never reused (a suffix is added)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    results.mkdir(parents=True, exist_ok=True)
    base = f"{stamp}-{check_label(label)}"
    for n in range(1, 1000):
        path = results / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise WorkflowError(f"could not create a new results folder under {results}")


def redact_config(text: str) -> str:
    """The .config with every secret's value replaced (kept visible that one was set)."""
    out = []
    for line in text.splitlines():
        for symbol in SECRET_SYMBOLS:
            prefix = f"CONFIG_{symbol}="
            if line.startswith(prefix) and line[len(prefix):] not in ('""', ""):
                line = f'{prefix}"{REDACTED}"'
        out.append(line)
    return "\n".join(out) + "\n"


def redact_mapping(data: Any, secrets: Iterable[str]) -> Any:
    """A deep copy with any secret value replaced wherever it appears."""
    values = [s for s in secrets if s]
    if isinstance(data, Mapping):
        return {k: redact_mapping(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_mapping(v, values) for v in data]
    if isinstance(data, str):
        for s in values:
            data = data.replace(s, REDACTED)
    return data


def _run(argv: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _os_name() -> str | None:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _gpus() -> list[dict[str, str]]:
    if not shutil.which("nvidia-smi"):
        return []
    text = _run(["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"]) or ""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            out.append({"name": parts[0], "driver": parts[1], "compute_cap": parts[2]})
    return out


def provenance(root: Path, versions: Mapping[str, Any], stack_host: str,
               target_machine: Mapping[str, Any] | None = None,
               kdevops: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Where the numbers came from: code revision, software versions, the machine.

    ``target_machine`` is what deploy read on the stack's own host (the stack description's
    ``target.machine``); without it (an older description, Kubernetes) the controller is described.
    ``kdevops``: run from a kdevops tree, what kdevops knows (the tree's revision, the kernel it
    built for the nodes: bootlinux's tree, ref and commit).
    """
    code = Path(__file__).resolve().parents[3]  # the workflow's own tree (ROOT when standalone)
    rev = _run(["git", "rev-parse", "HEAD"], code)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], code)
    head: dict[str, Any] = {"project": {"git_revision": rev, "git_dirty": bool(dirty) if dirty is not None else None},
                            "versions": dict(versions)}
    if kdevops:
        head["kdevops"] = {"git_revision": _run(["git", "rev-parse", "HEAD"], root), **dict(kdevops)}
    if target_machine:
        return {**head, "host": {"stack_host": stack_host, "gpus": [], **without_config_options(target_machine)},
                "python": platform.python_version()}
    return {
        **head,
        "host": {
            "collected_on": "controller",
            "stack_host": stack_host,
            "hostname": platform.node(),
            "kernel": platform.release(),
            "os": _os_name(),
            "cpu_model": _cpu_model(),
            "cpus": os.cpu_count(),
            "memory_bytes": _memory_bytes(),
            "gpus": _gpus(),
        },
        "python": platform.python_version(),
    }


KERNEL_CONFIG = "kernel-config.gz"


def without_config_options(machine: Mapping[str, Any]) -> dict[str, Any]:
    """The machine facts for provenance.json: the kernel config as its source, hash and option
    count; the options themselves go to the bundle's kernel-config.gz."""
    details = machine.get("kernel_details")
    config = details.get("config") if isinstance(details, Mapping) else None
    if not isinstance(config, Mapping) or "options" not in config:
        return dict(machine)
    slim = {k: v for k, v in config.items() if k != "options"} | {"option_count": len(config["options"])}
    return {**machine, "kernel_details": {**details, "config": slim}}


def write_kernel_config(folder: Path, machine: Mapping[str, Any] | None) -> bool:
    """The host's kernel configuration (set options, as ``CONFIG_NAME=value`` lines) into the
    bundle, gzipped; False when deploy could not read one."""
    import gzip

    details = (machine or {}).get("kernel_details")
    options = ((details or {}).get("config") or {}).get("options") if isinstance(details, Mapping) else None
    if not isinstance(options, Mapping):
        return False
    text = "".join(f"CONFIG_{name}={value}\n" for name, value in sorted(options.items()))
    with gzip.open(folder / KERNEL_CONFIG, "wt", encoding="utf-8") as fh:
        fh.write(text)
    return True


def read_kernel_config(folder: Path) -> dict[str, str] | None:
    """A bundle's kernel-config.gz as {NAME: value} (without CONFIG_), or None without one."""
    import gzip

    try:
        with gzip.open(folder / KERNEL_CONFIG, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, EOFError):
        return None
    out = {}
    for line in lines:
        if line.startswith("CONFIG_") and "=" in line:
            name, _, value = line[len("CONFIG_"):].partition("=")
            out[name] = value
    return out


#: Called with (results folder, new folder) when a bundle or comparison is complete on disk. The
#: command line registers the results index here (history depends on benchmark, not the reverse).
WRITTEN: list[Callable[[Path, Path], None]] = []


def announce(results: Path, folder: Path) -> None:
    """A folder under ``results`` is complete: tell whoever records results."""
    for hook in WRITTEN:
        hook(results, folder)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_records(path: Path, records: Iterable[RequestRecord]) -> None:
    write_jsonl(path, (r.to_json() for r in records))


def read_records(path: Path) -> list[RequestRecord]:
    with path.open() as fh:
        return [RequestRecord.from_json(json.loads(line)) for line in fh if line.strip()]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def list_bundles(results: Path) -> list[Path]:
    """Benchmark bundles (folders with a summary.json), oldest first."""
    if not results.is_dir():
        return []
    return sorted(p for p in results.iterdir() if (p / "summary.json").is_file())


def load_summary(bundle: Path) -> dict[str, Any]:
    path = bundle / "summary.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"{path} cannot be read ({exc}). Fix: run the benchmark again, or remove {bundle}.") from exc
    if not isinstance(data, dict):
        raise WorkflowError(f"{path} holds a {type(data).__name__}, not a benchmark summary. Fix: run the benchmark "
                            f"again, or remove {bundle}.")
    if data.get("schema") != SCHEMA:
        raise WorkflowError(f"{path} is not a benchmark summary (schema {data.get('schema')!r}). Fix: point RUN= at "
                            "a results folder written by make vllm-benchmark.")
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise WorkflowError(f"{path}: schema_version {version!r} is not an integer (the file was edited?). Fix: run "
                            f"the benchmark again, or remove {bundle}.")
    if version > SCHEMA_VERSION:
        raise WorkflowError(f"{path} has schema version {data['schema_version']}, newer than this tool "
                            f"({SCHEMA_VERSION}). Fix: update vllm-workflow.")
    return data


def resolve(results: Path, name: str | None) -> Path:
    """A bundle by folder name (or path), or the newest one."""
    bundles = list_bundles(results)
    if not name:
        if not bundles:
            raise WorkflowError(f"no results under {results}. Fix: run `make vllm-benchmark` first.")
        return bundles[-1]
    path = Path(name)
    if not path.is_dir():
        path = results / name
    if not (path / "summary.json").is_file():
        known = ", ".join(b.name for b in bundles[-5:]) or "none"
        raise WorkflowError(f"no results bundle {name!r} under {results} (newest: {known}).")
    return path
