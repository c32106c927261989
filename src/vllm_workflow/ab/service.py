"""A/B comparison as a service: both arms' runs interleaved, the comparison document, its report.

Typed options in (``AbOptions``, with the benchmark's ``RunOptions``); the commands in ``cli.py``
parse, call and print.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..benchmark import bundle
from ..benchmark.records import RequestRecord
from ..benchmark.service import EXIT_INTERRUPTED, RunOptions, Show, run_one
from ..errors import WorkflowError
from ..stack import Stack, require_stacks
from ..config import secrets
from ..arms import ARMS, config_diff, dev_choices
from ..settings import Settings

if TYPE_CHECKING:
    from . import stats

SCHEMA = "vllm-workflow/ab-comparison"
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class AbOptions:
    """An A/B run: the benchmark's options plus the repetitions and the exit-code convention."""

    run: RunOptions
    repetitions: int | None = None  # runs per arm (else CONFIG_VLLM_AB_REPETITIONS)
    bisect: bool = False  # exit codes for `git bisect run`: 0 good, 1 bad, 125 skip


def rule_from(v: Mapping[str, Any]) -> stats.Rule:
    from . import stats

    def pct(name: str, default: int) -> float:  # 0 is a valid threshold: only a missing setting takes the default
        value = v.get(name)
        return (default if value is None or value == "" else int(value)) / 100

    return stats.Rule(threshold=pct("vllm_ab_threshold_pct", 5), equivalence=pct("vllm_ab_equivalence_pct", 10))


def arm_stacks(stacks: Sequence[Stack]) -> dict[str, Stack]:
    found = {s.arm: s for s in stacks if s.arm in ARMS}
    missing = [a for a in ARMS if a not in found]
    if missing:
        raise WorkflowError(
            f"no deployed {' and '.join(missing)} arm. Fix: set CONFIG_VLLM_AB_TESTING=y, then "
            "`make bringup && make vllm-deploy` to deploy both arms."
        )
    return found


def reset_prefix_cache(stack: Stack, key: str) -> str:
    """Ask every engine of an arm to drop its prefix cache; say how that went."""
    import requests

    from ..httpclient import auth_headers

    outcomes = []
    headers = auth_headers(key, connection="close")
    shared = False
    for e in stack.engines:
        # Several engines behind one URL (a Kubernetes Service picks one per connection): ask
        # 4 times per engine, each on a new connection, so every one very likely gets it.
        calls = 4 * e.instances if e.instances > 1 else 1
        shared = shared or calls > 1
        for _ in range(calls):
            try:
                r = requests.post(e.url + "/reset_prefix_cache", timeout=10, headers=headers)
                outcomes.append("ok" if r.ok else f"HTTP {r.status_code}")
            except requests.RequestException as exc:
                outcomes.append(type(exc).__name__)
    if all(o == "ok" for o in outcomes):
        return f"reset through the engines' Service ({len(outcomes)} calls, best effort)" if shared else "reset"
    return "not reset (" + ", ".join(sorted(set(outcomes))) + "; the engines need VLLM_SERVER_DEV_MODE=1)"


def _diff_keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _limits(folders: Sequence[Path]) -> dict[str, Any]:
    """The programs' cgroup limits in an arm's first bundle (host-metrics.json), {} without one."""
    from ..benchmark.hostmetrics import program_limits

    try:
        return program_limits(json.loads((folders[0] / "host-metrics.json").read_text())["figures"])
    except (IndexError, OSError, ValueError, KeyError):
        return {}


def _provenance(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError):
        return {}


Records = Mapping[str, list[list[RequestRecord]]]


def read_arm_records(folders: Mapping[str, list[Path]]) -> dict[str, list[list[RequestRecord]]]:
    """Every run's request records, per arm (read once: the statistics and the plots use them)."""
    return {a: [bundle.read_records(f / "requests.jsonl") for f in folders[a]] for a in ARMS}


def build(label: str, seed: int, ab_settings: Mapping[str, Any] | None, order: Sequence[str],
          folders: Mapping[str, list[Path]], records: Records, hosts: Mapping[str, str], rule: stats.Rule,
          complete: bool, bisect: bool, resets: Sequence[str] = (), alpha: float | None = None,
          sequential: Mapping[str, Any] | None = None, same_host: bool | None = None) -> dict[str, Any]:
    """The comparison document from the arms' bundles. ``ab_settings``: the settings whose A/B menu
    made the arms (None when comparing separate runs: their configs are in each bundle's config/)."""
    from . import hostdiff, stats
    from .compare import BISECT_CODES, EXIT_CODES, POWER, PRIMARY, compare

    summaries = {a: [bundle.load_summary(f) for f in folders[a]] for a in ARMS}
    comp = compare(summaries["baseline"], summaries["dev"], rule, seed=seed,
                   base_records=records["baseline"], dev_records=records["dev"], alpha=alpha)
    prov = {a: [_provenance(f) for f in folders[a]] for a in ARMS}
    versions = {a: (prov[a][0].get("versions", {}) if prov[a] else {}) for a in ARMS}
    host = {a: {k: val for k, val in (prov[a][0].get("host", {}) if prov[a] else {}).items()
                if k in ("kernel", "kernel_version", "os", "cpu_model", "cpus", "memory_bytes", "gpus", "hostname")}
            for a in ARMS}
    kernel = hostdiff.differences(
        prov["baseline"][0].get("host", {}) if prov["baseline"] else {},
        prov["dev"][0].get("host", {}) if prov["dev"] else {},
        bundle.read_kernel_config(folders["baseline"][0]) if folders["baseline"] else None,
        bundle.read_kernel_config(folders["dev"][0]) if folders["dev"] else None,
        (_limits(folders["baseline"]), _limits(folders["dev"])))
    verdict = comp["verdict"] if complete else stats.INCONCLUSIVE
    codes = BISECT_CODES if bisect else EXIT_CODES
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "label": label,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": complete, "repetitions": min(len(folders["baseline"]), len(folders["dev"])),
        "schedule": list(order),
        "arms": {a: {"host": hosts.get(a, ""), "bundles": [f.name for f in folders[a]]} for a in ARMS},
        "compared": "arms" if ab_settings is not None else "bundles",
        "same_host": same_host if same_host is not None else (
            hosts.get("baseline") == hosts.get("dev") and host["baseline"].get("hostname") == host["dev"].get("hostname")),
        "rule": {"alpha": rule.alpha, "threshold": rule.threshold, "equivalence": rule.equivalence},
        "test": {"name": "welch-t on log run values, Holm over the primary metrics", "primary": list(PRIMARY),
                 "alpha": comp["alpha"], "level": 1 - comp["alpha"], "family": comp["family"],
                 "power": POWER},
        "sequential": dict(sequential) if sequential else {"enabled": False},
        "verdict": verdict, "exit_code": codes[verdict], "exit_codes": "bisect" if bisect else "ci",
        "metrics": comp["metrics"],
        "changes": {"config": config_diff(ab_settings) if ab_settings is not None else [],
                    "dev_choices": dev_choices(ab_settings) if ab_settings is not None else {},
                    "versions": versions, "versions_differ": _diff_keys(versions["baseline"], versions["dev"]),
                    "host": host, "host_differ": _diff_keys(host["baseline"], host["dev"]), "kernel": kernel},
        "prefix_cache_reset": list(resets),
    }


def write(results: Path, comp: dict[str, Any], records: Records) -> Path:
    from .. import junit
    from . import report

    out = bundle.new_bundle_dir(results, f"{comp['label']}-ab")
    bundle.write_json(out / "comparison.json", comp)
    images = report.plots(out, comp, records["baseline"], records["dev"])
    (out / "report.md").write_text(report.markdown(comp, images))
    (out / "report.html").write_text(report.html_page(comp, images))
    (out / "summary.md").write_text(report.ci_summary(comp, out))
    junit.write(out / "junit.xml", [report.junit_suite(comp)])
    bundle.announce(results, out)
    return out


def run_ab(o: AbOptions, v: dict[str, Any], show: Show = None,
           shown: Callable[[dict[str, Any], Path], None] | None = None) -> int:
    """Run the configured workload on both arms, interleaved; compare (at the halfway look too, when
    sequential); exit by the verdict. ``show``: each run's summary; ``shown``: the comparison and
    where it was written."""
    s = Settings.of(v)
    import time

    from . import design
    from .compare import compare, look_levels, looks, schedule, stops

    if o.run.label:  # bad input first, before looking for the arms
        bundle.check_label(o.run.label)
    reps = int(o.repetitions or s.ab_repetitions)
    design.check_repetitions(reps)
    arms = arm_stacks(require_stacks(o.run.state_dir))
    key = secrets(o.run.root).api_key
    label = o.run.label or s.benchmark_label or "ab"
    bundle.check_label(label)
    rule = rule_from(v)
    sequential = s.ab_sequential
    plan = looks(reps, sequential)
    levels = dict(zip(plan, look_levels(plan, rule.alpha)))
    order = schedule(reps)
    print(f"🆎 A/B: {reps} repetitions per arm, order {' '.join(a[0].upper() for a in order)}; "
          f"dev differs in: {', '.join(d['setting'] for d in config_diff(v)) or describe_same(arms)}")
    for line in design.before(reps, rule, design.newest_noise(o.run.results_dir), sequential):
        print(line)
    folders: dict[str, list[Path]] = {a: [] for a in ARMS}
    resets: list[str] = []
    complete = True
    seed = int(s.benchmark_seed or 0)
    started = time.monotonic()
    history: list[dict[str, Any]] = []
    for i, arm in enumerate(order, 1):
        stack = arms[arm]
        if s.ab_reset_prefix_cache:
            resets.append(f"{arm} r{len(folders[arm]) + 1}: {reset_prefix_cache(stack, key)}")
        print(f"\n── run {i}/{len(order)}: {arm} (repetition {len(folders[arm]) + 1}) ──")
        code, out, _ = run_one(o.run, v, stack, key, label=f"{label}-{arm}-r{len(folders[arm]) + 1}", show=show)
        folders[arm].append(out)
        if code == EXIT_INTERRUPTED:
            complete = False
            break
        k = len(folders["baseline"])
        if k == len(folders["dev"]) and k in levels and k < reps:  # an interim look
            records = read_arm_records(folders)
            summaries = {a: [bundle.load_summary(f) for f in folders[a]] for a in ARMS}
            look = compare(summaries["baseline"], summaries["dev"], rule, seed, records["baseline"], records["dev"],
                           alpha=levels[k])
            history.append({"runs_per_arm": k, "alpha": levels[k], "verdict": look["verdict"],
                            "elapsed_s": round(time.monotonic() - started, 1)})
            if stops(look["verdict"]):
                print(f"\n⏱️  look after {k} runs per arm (α {levels[k]:.4f}): {look['verdict']} — stopping early.")
                break
            print(f"\n⏱️  look after {k} runs per arm (α {levels[k]:.4f}): not yet clear, going on.")
    if not folders["baseline"] or not folders["dev"]:
        raise WorkflowError("the A/B run stopped before both arms ran; nothing to compare.")
    records = read_arm_records(folders)
    k = min(len(folders["baseline"]), len(folders["dev"]))
    alpha = levels.get(k, rule.alpha) if complete else rule.alpha
    if complete and (not history or history[-1]["runs_per_arm"] != k):
        history.append({"runs_per_arm": k, "alpha": alpha, "verdict": None,
                        "elapsed_s": round(time.monotonic() - started, 1)})
    comp = build(label, seed, v, order[:sum(len(f) for f in folders.values())],
                 folders, records, {a: arms[a].host for a in ARMS}, rule, complete, o.bisect, resets, alpha=alpha,
                 same_host=same_machine(arms["baseline"], arms["dev"]),
                 sequential={"enabled": sequential, "looks": plan, "levels": [levels[x] for x in plan],
                             "history": history, "stopped_early": k < reps and complete,
                             "elapsed_s": round(time.monotonic() - started, 1)})
    if history and history[-1]["verdict"] is None:
        history[-1]["verdict"] = comp["verdict"]
    out = write(o.run.results_dir, comp, records)
    if shown is not None:
        shown(comp, out)
    return int(comp["exit_code"])


def same_machine(a: Stack, b: Stack) -> bool:
    """Both arms on one machine: the same API address and the same machine name."""
    from urllib.parse import urlsplit

    def where(s: Stack) -> tuple[str, str]:
        machine = s.target.get("machine") or {}
        return str(urlsplit(s.api_url).hostname), str(machine.get("hostname") or s.host)

    return where(a) == where(b)


def describe_same(arms: Mapping[str, Stack]) -> str:
    """What the A/B compares when the settings are the same: an A/A control on one host, else the hosts."""
    if same_machine(arms["baseline"], arms["dev"]):
        return "nothing (an A/A control)"
    return f"nothing in the settings: the hosts are the change ({arms['baseline'].host} vs {arms['dev'].host})"


def compare_bundles(results: Path, baseline: Sequence[str], dev: Sequence[str], rule: stats.Rule, label: str,
                    seed: int, bisect: bool) -> tuple[dict[str, Any], Path]:
    """Compare existing bundles (folder names under ``results``) with the A/B statistics; write the
    comparison folder. (comparison, its folder)."""
    folders = {"baseline": [bundle.resolve(results, n) for n in baseline],
               "dev": [bundle.resolve(results, n) for n in dev]}
    hosts = {a: str(bundle.load_summary(folders[a][0])["target"].get("host", "")) for a in ARMS}
    bundle.check_label(label)
    records = read_arm_records(folders)
    comp = build(label, seed, None, [], folders, records, hosts, rule, True, bisect)
    return comp, write(results, comp, records)


def arms_ready(state: Path, key: str) -> list[str]:
    """Why the A/B arms are not ready to compare (empty when both are deployed and healthy)."""
    from ..stack import load_stacks
    from ..status import http_ok

    found = {s.arm: s for s in load_stacks(state) if s.arm in ARMS}
    out = []
    for arm in ARMS:
        stack = found.get(arm)
        if stack is None:
            out.append(f"the {arm} arm is not deployed")
        elif not all(http_ok(f"{e.url}/health", key) for e in stack.engines):
            out.append(f"the {arm} arm on {stack.host} has an engine that does not answer /health")
    return out


