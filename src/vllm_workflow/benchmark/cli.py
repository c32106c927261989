"""`vllm-workflow benchmark` and `vllm-workflow results`: run a workload, keep a bundle, render it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..config import load_vars
from ..errors import WorkflowError
from ..stack import DEFAULT_STATE_DIR, GENERATED_DIR, Stack, require_stacks
from ..stack_cli import secrets
from . import bundle
from .workloads import WORKLOADS, check_fits, from_vars

# The parser of every command is built on each CLI start (deploy runs several): what only running
# a benchmark needs (asyncio, requests, NumPy, the report) is imported by the functions that use it.

EXIT_OK, EXIT_ALL_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve()


def _results_dir(args: argparse.Namespace) -> Path:
    return Path(args.results_dir) if args.results_dir else _root(args) / bundle.DEFAULT_RESULTS_DIR


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
    return {"backend": stack.backend, "host": stack.host, "model": stack.model, "routing": stack.routing,
            "router_policy": stack.router_policy, "session_header": stack.session_header,
            "api_url": stack.api_url, "engines": [e.name for e in stack.engines]}


def _copy_config(root: Path, dest: Path, v: dict[str, Any], stack: Stack, secrets: list[str]) -> None:
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

    values = root / GENERATED_DIR / values_file_name(stack.raw.get("arm") or "")
    if stack.backend == "kubernetes" and values.is_file():
        (dest / "vllm-stack-values.yaml").write_text(bundle.redact_mapping(values.read_text(), secrets))


def _keep_prometheus_series(stack: Stack, out: Path, started_at: float, summary: dict[str, Any]) -> None:
    """With observability on, store Prometheus' series for the run's window (never fails the run)."""
    import requests

    prom = stack.raw.get("prometheus_url")
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


def run_one(args: argparse.Namespace, v: dict[str, Any], stack: Stack, key: str,
            label: str | None = None) -> tuple[int, Path, dict[str, Any]]:
    """One benchmark run of one stack: (exit code, bundle folder, summary)."""
    import asyncio

    from . import report
    from .stats import Slo
    from .summary import compose, one_line
    from .client import Target  # aiohttp: only for commands that send load
    from .runner import HttpTokenizer, Runner, preflight

    root = _root(args)
    workload = from_vars(v)
    check_fits(workload, int(v.get("vllm_max_model_len") or 2048))
    label = label or args.label or str(v.get("vllm_benchmark_label") or "") or workload.name
    bundle.check_label(label)
    target = Target(stack.api_url, stack.model, stack.session_header, key)
    slo = Slo(float(v.get("vllm_benchmark_slo_ttft_ms") or 0), float(v.get("vllm_benchmark_slo_tpot_ms") or 0),
              float(v.get("vllm_benchmark_slo_e2e_ms") or 0))
    print(f"📊 {workload.name} benchmark of {stack.host} ({stack.backend}, {stack.routing} routing, "
          f"{len(stack.engines)} engine(s)) at {stack.api_url}")
    driver = None
    if workload.name == "fault":
        from ..fault.session import driver_for

        driver = driver_for(stack, v, root, target.headers(), lambda: runner.clock())
    sampler = None
    if workload.name == "scale":
        if stack.backend != "kubernetes":
            raise WorkflowError(f"the scale workload follows the cluster's autoscaler, and the {stack.backend} backend "
                                f"on {stack.host} has none. Fix: choose another workload; on the local backend "
                                "change CONFIG_VLLM_REPLICA_COUNT and `make vllm-deploy` (engines join and leave a "
                                "live stack, docs/fault-tolerance.md).")
        from ..kubernetes.replicas import ReplicaSampler

        sampler = ReplicaSampler(stack)
    preflight(target)
    runner = Runner(target, workload, [(e.name, e.metrics_url) for e in stack.engines],
                    show_progress=not args.no_progress, fault=driver)
    runner.replicas = sampler
    runner.prepare(HttpTokenizer(target))
    result = asyncio.run(runner.run())
    out = bundle.new_bundle_dir(_results_dir(args), label)
    summary = compose(label=label, records=result.records, workload=workload.describe(),
                      target=_target_info(stack), slo=slo, complete=result.complete,
                      stop_reason=result.stop_reason, started_at=result.started_at,
                      engine_metrics=result.engines, stages=result.stages)
    if driver is not None:
        from ..fault.session import finish

        summary["fault"] = finish(driver, result.records, workload.warmup_s)
        bundle.write_jsonl(out / "fault-observations.jsonl", driver.observer.rows)
    if sampler is not None:
        from ..kubernetes.replicas import summarize as replica_summary

        summary["replicas"] = replica_summary(sampler.rows)
        bundle.write_jsonl(out / "replicas.jsonl", sampler.rows)
    bundle.write_json(out / "summary.json", summary)
    bundle.write_records(out / "requests.jsonl", result.records)
    bundle.write_jsonl(out / "engine-metrics.jsonl", result.engine_series)
    _copy_config(root, out / "config", v, stack, [key, *secrets(root).values()])
    bundle.write_json(out / "provenance.json", bundle.provenance(root, _versions(v, stack, key), stack.host,
                                                                     (stack.raw.get("target") or {}).get("machine")))
    _keep_prometheus_series(stack, out, result.started_at, summary)
    report.render(out)
    _print_summary(summary, out)
    state = Path(args.state_dir) if args.state_dir else root / DEFAULT_STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    bundle.write_json(state / "benchmark.json", {"summary": one_line(summary), "bundle": str(out)})
    if not result.complete:
        return EXIT_INTERRUPTED, out, summary
    code = EXIT_ALL_FAILED if summary["requests"]["measured"] and not summary["requests"]["ok"] else EXIT_OK
    return code, out, summary


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from ..console import table_lines
    from . import report

    for title, head, rows in report.tables(summary):
        print(f"\n{title}")
        print("\n".join(table_lines(head, rows)))
    state = "✅ complete" if summary["complete"] else f"⚠️ INCOMPLETE ({summary['stop_reason']})"
    print(f"\n{state}. Results: {out}\n  report: {out / 'report.html'}")


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """extra_vars.yaml with the command line's --set and --workload applied."""
    root = _root(args)
    v = load_vars(Path(args.extra_vars) if args.extra_vars else root / "extra_vars.yaml") | parse_sets(args.set)
    return select_workload(v, args.workload)


def cmd_benchmark(args: argparse.Namespace) -> int:
    root = _root(args)
    if args.label:  # bad input first, before looking for a stack
        bundle.check_label(args.label)
    v = settings(args)
    state = Path(args.state_dir) if args.state_dir else root / DEFAULT_STATE_DIR
    stacks = require_stacks(state)
    if args.host:
        stacks = [s for s in stacks if s.host == args.host]
        if not stacks:
            raise WorkflowError(f"no deployed stack on host {args.host!r}.")
    key = secrets(root)["vllm_api_key"]
    worst = EXIT_OK
    for stack in stacks:
        worst = max(worst, run_one(args, v, stack, key)[0])
        if worst == EXIT_INTERRUPTED:
            break
    return worst


def cmd_results(args: argparse.Namespace) -> int:
    from . import report
    from .summary import one_line

    results = _results_dir(args)
    bundles = bundle.list_bundles(results)
    if not bundles and not args.name:
        print(f"No results under {results} yet. Run `make vllm-benchmark`.")
        return 0
    if not args.name:
        print(f"Results under {results} (oldest first):")
        for b in bundles:
            try:
                print(f"  {b.name}  {one_line(bundle.load_summary(b))}")
            except (WorkflowError, KeyError, TypeError) as exc:
                print(f"  {b.name}  (unreadable: {exc})")
    if args.list:
        return 0
    target = bundle.resolve(results, args.name)
    paths = report.render(target)
    print(f"Rendered {target.name}: " + ", ".join(str(p) for p in paths))
    return 0


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `benchmark` and `ab`."""
    p.add_argument("--extra-vars", default=None, help="settings (default: ROOT/extra_vars.yaml)")
    p.add_argument("--state-dir", default=None, help=f"deploy state (default: ROOT/{DEFAULT_STATE_DIR})")
    p.add_argument("--results-dir", default=None, help=f"where bundles go (default: ROOT/{bundle.DEFAULT_RESULTS_DIR})")
    p.add_argument("--label", default=None, help="results folder label (default: CONFIG_VLLM_BENCHMARK_LABEL or "
                                                 "the workload name)")
    p.add_argument("--set", action="append", default=[], metavar="vllm_benchmark_X=VALUE",
                   help="override one benchmark setting for this run, e.g. --set vllm_benchmark_duration=10 "
                        "(repeatable; the .config is not changed)")
    p.add_argument("--workload", choices=WORKLOADS, default=None,
                   help="run this workload instead of the configured one (its settings still come from the config)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("benchmark", cmd_benchmark,
            "run the configured workload against the deployed stack and write a results bundle "
            "(summary.json, requests.jsonl, report.md/html with plots); exit 0 done, 1 every request "
            "failed, 130 stopped early (the partial bundle is kept, marked incomplete)")
    add_run_options(p)
    p.add_argument("--host", default=None, help="only the stack on this inventory host")
    p = add("results", cmd_results,
            "list results bundles and (re)render the report of the newest one, or of the one named")
    p.add_argument("name", nargs="?", default=None, help="bundle folder name or path (default: the newest)")
    p.add_argument("--list", action="store_true", help="only list the bundles with a one-line digest")
    p.add_argument("--results-dir", default=None, help=f"default: ROOT/{bundle.DEFAULT_RESULTS_DIR}")
