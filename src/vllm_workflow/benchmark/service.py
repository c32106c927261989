"""Benchmark runs as a service: typed options in, a results bundle and an exit code out.

The commands (`benchmark`, `measure`, `fault-test`, and the A/B service) build ``RunOptions`` from
their arguments; nothing below the CLI sees an ``argparse.Namespace``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import load_vars
from ..errors import WorkflowError
from ..stack import GENERATED_DIR, Stack, require_stacks
from ..config import secrets
from . import bundle
from .extensions import for_workload
from .workloads import check_fits, from_vars
from ..settings import Settings

EXIT_OK, EXIT_ALL_FAILED, EXIT_INTERRUPTED = 0, 1, 130

#: Shows one run's summary (the CLI prints its tables); None shows nothing.
Show = Callable[[dict[str, Any], Path], None] | None


@dataclass(frozen=True)
class RunOptions:
    """Where a run reads its settings and writes its results, and how it is labelled and shown."""

    root: Path
    state_dir: Path
    results_dir: Path
    extra_vars: Path
    label: str | None = None  # results folder label (else CONFIG_VLLM_BENCHMARK_LABEL, else the workload)
    sets: tuple[str, ...] = ()  # "vllm_benchmark_X=VALUE" overrides for this run
    workload: str | None = None  # run this workload instead of the configured one
    progress: bool = True  # live progress bar
    host: str | None = None  # only this deployed host
    model: str | None = None  # with several models behind the router: measure this one (default: the first)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``--set vllm_benchmark_duration=10`` overrides, values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("vllm_benchmark_"):
            raise WorkflowError(f"--set {item!r}: use --set vllm_benchmark_<setting>=<value>, "
                                "e.g. --set vllm_benchmark_duration=10.")
        out[key] = yaml.safe_load(value) if value else ""
    return out


def select_workload(v: dict[str, Any], name: str | None) -> dict[str, Any]:
    """Settings with the workload choice replaced by ``name`` (when given)."""
    if not name:
        return v
    return v | {"vllm_benchmark_workload": name}


def _engine_version(stack: Stack, key: str) -> str | None:
    import requests

    from ..httpclient import session

    http = session(key)
    for e in stack.engines:
        try:
            r = http.get(e.url + "/version", timeout=3)
            if r.ok:
                return str(r.json().get("version"))
        except (requests.RequestException, ValueError):
            continue
    return None


def _target_info(stack: Stack) -> dict[str, Any]:
    out = {"backend": stack.backend, "host": stack.host, "model": stack.model, "routing": stack.routing,
           "router_policy": stack.router_policy, "session_header": stack.session_header,
           "api_url": stack.api_url, "engines": [e.name for e in stack.engines]}
    if len({stack.serves(e) for e in stack.engines}) > 1:  # a mixed load: which engine serves which model
        out["engine_models"] = {e.name: stack.serves(e) for e in stack.engines}
    return out


def _tokenizers(stack: Stack, target: Any, models: Any) -> dict[str, Any]:
    """Each model's tokenizer, asked on one of its own engines (the router routes by model)."""
    from .runner import HttpTokenizer

    out = {}
    for name in models:
        engines = stack.for_model(name).engines
        if not engines:
            raise WorkflowError(f"no engine of {stack.host} serves {name!r}. Fix: `make vllm-deploy`.")
        out[name] = HttpTokenizer(target, engines[0].url, name)
    return out


def copy_config(root: Path, dest: Path, v: dict[str, Any], stack: Stack, secrets: list[str]) -> None:
    dest.mkdir()
    dot = root / ".config"
    if dot.is_file():
        (dest / ".config").write_text(bundle.redact_config(dot.read_text()))
    (dest / "extra_vars.yaml").write_text(yaml.safe_dump(bundle.redact_mapping(v, secrets), sort_keys=True))
    bundle.write_json(dest / "stack.json", bundle.redact_mapping(stack.raw, secrets))
    conf = Path(str(stack.process_manager.get("conf", "")))
    if stack.backend == "local" and conf.is_file():
        (dest / "supervisord.conf").write_text(bundle.redact_mapping(conf.read_text(), secrets))
    from ..kubernetes.plan import values_file_name

    values = root / GENERATED_DIR / values_file_name(stack.arm)
    if stack.backend == "kubernetes" and values.is_file():
        (dest / "vllm-stack-values.yaml").write_text(bundle.redact_mapping(values.read_text(), secrets))


def _keep_prometheus_series(stack: Stack, out: Path, started_at: float, summary: dict[str, Any]) -> None:
    """With observability on, store Prometheus' series for the run's window (never fails the run)."""
    import requests

    prom = stack.prometheus_url
    if not prom:
        return
    from ..observability.monitor import range_series
    from ..observability.queries import for_stack

    end = started_at + max(summary["window_s"], 1.0) + 15  # the run plus one scrape after it
    try:
        bundle.write_json(out / "prometheus-series.json",
                          range_series(prom, started_at, end, panels=for_stack(stack.raw)))
    except (requests.RequestException, ValueError, KeyError) as exc:
        print(f"⚠️  Prometheus series not kept ({type(exc).__name__}: {exc})")


def _versions(v: dict[str, Any], stack: Stack, key: str) -> dict[str, Any]:
    configured = {k: val for k, val in sorted(v.items()) if k.endswith(("_version", "_tag")) and val}
    return {"configured": configured, "engine_reported": _engine_version(stack, key)}


def run_one(o: RunOptions, v: dict[str, Any], stack: Stack, key: str, label: str | None = None,
            show: Show = None) -> tuple[int, Path, dict[str, Any]]:
    """One benchmark run of one stack: (exit code, bundle folder, summary)."""
    s = Settings.of(v)
    import asyncio

    from . import hostmetrics, report
    from .stats import Slo
    from .summary import compose, one_line
    from .client import Target, monotonic_clock  # aiohttp: only for commands that send load
    from .runner import HttpTokenizer, Runner, preflight

    root = o.root
    # A model mix needs every model's engines in view (not one model's: MODEL=).
    whole = {stack.serves(e) for e in stack.engines} == set(stack.models)
    workload = from_vars(v, stack.models if whole else ())
    check_fits(workload, s.max_model_len)
    label = label or o.label or s.benchmark_label or workload.name
    bundle.check_label(label)
    target = Target(stack.api_url, stack.model, stack.session_header, key)
    slo = Slo(float(s.benchmark_slo_ttft_ms or 0), float(s.benchmark_slo_tpot_ms or 0),
              float(s.benchmark_slo_e2e_ms))
    print(f"📊 {workload.name} benchmark of {stack.host} ({stack.backend}, {stack.routing} routing, "
          f"{len(stack.engines)} engine(s)) at {stack.api_url}")
    extension = for_workload(workload.name)
    clock = monotonic_clock()  # the run's clock, shared with the fault driver
    driver = extension.start(stack, v, root, target.headers(), clock) if extension else None
    sampler = None
    if workload.name == "scale":
        if stack.backend != "kubernetes":
            raise WorkflowError(f"the scale workload follows the cluster's autoscaler, and the {stack.backend} backend "
                                f"on {stack.host} has none. Fix: choose another workload; on the local backend "
                                "change CONFIG_VLLM_REPLICA_COUNT and `make vllm-deploy` (engines join and leave a "
                                "live stack, docs/fault-tolerance.md).")
        from ..kubernetes.replicas import ReplicaSampler

        sampler = ReplicaSampler(stack)
    mix = [name for name, _ in workload.model_mix]
    if mix:
        print("🔀 model mix: " + ", ".join(f"{name} × {weight:g}" for name, weight in workload.model_mix))
    preflight(target, mix)
    runner = Runner(target, workload, [(e.name, e.metrics_url) for e in stack.engines],
                    show_progress=o.progress, fault=driver, replicas=sampler, clock=clock)
    # With several models the router's gateway mode routes the OpenAI routes by model; the tokenizer
    # is asked on one of the measured model's own engines.
    runner.prepare(HttpTokenizer(target, stack.engines[0].url if len(stack.models) > 1 and stack.engines else ""),
                   _tokenizers(stack, target, mix) if mix else None)
    counters = s.benchmark_host_metrics
    perf = counters and s.benchmark_perf_stat
    host_before = hostmetrics.take(stack, root, "start" if perf else "") if counters else None
    try:
        result = asyncio.run(runner.run())
    finally:
        host_after = hostmetrics.take(stack, root, "stop" if perf else "") if counters else None
    out = bundle.new_bundle_dir(o.results_dir, label)
    summary = compose(label=label, records=result.records, workload=workload.describe(),
                      target=_target_info(stack), slo=slo, complete=result.complete,
                      stop_reason=result.stop_reason, started_at=result.started_at,
                      engine_metrics=result.engines, stages=result.stages)
    if extension is not None:
        summary[extension.workload] = extension.finish(driver, result.records, workload.warmup_s, out)
    if sampler is not None:
        from ..kubernetes.replicas import summarize as replica_summary

        summary["replicas"] = replica_summary(sampler.rows)
        bundle.write_jsonl(out / "replicas.jsonl", sampler.rows)
    if host_before is not None and host_after is not None:
        figures = hostmetrics.figures(host_before, host_after, result.records)
        summary["host"] = hostmetrics.headline(figures)
        bundle.write_json(out / "host-metrics.json", {"schema": "vllm-workflow/host-metrics", "schema_version": 1,
                                                      "figures": figures,
                                                      "snapshots": {"before": host_before, "after": host_after}})
    bundle.write_json(out / "summary.json", summary)
    bundle.write_records(out / "requests.jsonl", result.records)
    bundle.write_jsonl(out / "engine-metrics.jsonl", result.engine_series)
    copy_config(root, out / "config", v, stack, [key, *secrets(root).values()])
    target_machine = hostmetrics.with_sysctls(stack.target.get("machine"), host_before)
    bundle.write_json(out / "provenance.json", bundle.provenance(root, _versions(v, stack, key), stack.host,
                                                                     target_machine, _kdevops_facts(v, stack)))
    bundle.write_kernel_config(out, target_machine)
    _keep_prometheus_series(stack, out, result.started_at, summary)
    report.render(out)
    bundle.announce(o.results_dir, out)
    if show is not None:
        show(summary, out)
    o.state_dir.mkdir(parents=True, exist_ok=True)
    bundle.write_json(o.state_dir / "benchmark.json", {"summary": one_line(summary), "bundle": str(out)})
    if not result.complete:
        return EXIT_INTERRUPTED, out, summary
    code = EXIT_ALL_FAILED if summary["requests"]["measured"] and not summary["requests"]["ok"] else EXIT_OK
    return code, out, summary


def _kdevops_facts(v: Mapping[str, Any], stack: Stack) -> dict[str, Any] | None:
    """From a kdevops tree: the node's arm and the kernel kdevops built (bootlinux's vars)."""
    facts = v.get("vllm_kdevops")
    if not isinstance(facts, Mapping):
        return None
    arm = stack.arm or str((facts.get("arms") or {}).get(stack.host, ""))
    return {"node": stack.host, "arm": arm, "kernel": dict(facts.get("kernel") or {})}


def settings(o: RunOptions) -> dict[str, Any]:
    """The settings file with the run's --set overrides and --workload applied."""
    return select_workload(load_vars(o.extra_vars) | parse_sets(list(o.sets)), o.workload)


def model_view(stack: Stack, model: str | None, mixed: bool = False) -> Stack:
    """The stack as one model's clients see it: that model's engines, requests naming it (several
    models behind one router); the stack itself for its first model, and for a load mixing its
    models (``mixed``: CONFIG_VLLM_BENCHMARK_MODEL_MIX set; every engine is measured)."""
    if len(stack.models) == 1 and (not model or model == stack.model):
        return stack
    if mixed:
        if model:
            raise WorkflowError(f"MODEL={model!r} and CONFIG_VLLM_BENCHMARK_MODEL_MIX both choose the models to "
                                "measure. Fix: MODEL= for one model alone, or MIX= (the mix) without MODEL=.")
        return stack
    model = model or stack.model
    if model not in stack.models:
        raise WorkflowError(f"MODEL={model!r}: {stack.host} serves {', '.join(stack.models)}. Fix: MODEL= one of them "
                            "(CONFIG_VLLM_MODEL_NAME, CONFIG_VLLM_MODELn_NAME).")
    return stack.for_model(model)


def run(o: RunOptions, v: dict[str, Any], show: Show = None) -> int:
    """The workload on every deployed stack (or ``o.host``'s), one bundle each; the worst exit code."""
    conf = Settings.of(v)
    if o.label:  # bad input first, before looking for a stack
        bundle.check_label(o.label)
    stacks = require_stacks(o.state_dir)
    if o.host:
        stacks = [s for s in stacks if s.host == o.host]
        if not stacks:
            raise WorkflowError(f"no deployed stack on host {o.host!r}.")
    key = secrets(o.root).api_key
    worst = EXIT_OK
    mixed = bool(conf.benchmark_model_mix.strip())
    for stack in stacks:
        worst = max(worst, run_one(o, v, model_view(stack, o.model, mixed), key, show=show)[0])
        if worst == EXIT_INTERRUPTED:
            break
    return worst


