#!/usr/bin/env python3
"""Calibrate the A/B verdict against known answers on the real stack (issue 23).

From an A/A deployment — both arms with the same settings on this machine:
`make defconfig-vllm-local-aa && make bringup && make vllm-deploy` — this bench runs the
configured benchmark on both arms, interleaved and counterbalanced, under known conditions:

- **A/A**: nothing differs. Every verdict other than "no significant change"/"inconclusive"
  is a false alarm.
- **CPU quota Q**: the dev arm's processes (its supervisord and everything below it: engines,
  router) in a cgroup with a CPU quota of Q CPUs (cgroup v1 ``cpu`` here, v2 where that is what
  the machine has) — a real, kernel-level slowdown of known cause.
- **known shifts**: the A/A runs with the dev arm's latencies multiplied by (1 + e) and its
  throughput divided by it, for a detection curve over effect sizes on this machine's real noise.

Then the A/B procedure (``vllm_workflow.ab.compare``, exactly what `make vllm-ab` uses, with the
runs' request records) is applied to comparisons of n runs per arm drawn from each pool: the
disjoint ones (independent) and ``--draws`` random subsets (more, but sharing runs, so their
rates are less certain than their count suggests). Printed and written as JSON: the false-alarm
rate, the power per condition with the fixed design and with the sequential look, the time to a
verdict, the detection curve, and the effect found with 80 % power in five minutes of A/B.

    .venv/bin/python bench/ab_calibration.py --pairs 16 --quota-pairs 6 --quotas 0.7 1.6
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.cpuquota

ALARMS = ("regression", "improvement")


def dev_supervisord(conf_dir: str) -> int:
    """The pid of the supervisord whose configuration is under ``conf_dir``."""
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmd.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"supervisord" in a for a in argv[:2]) and any(conf_dir.encode() in a for a in argv):
            return int(cmd.parent.name)
    raise SystemExit(f"no supervisord running with a configuration under {conf_dir}: is the A/A deployed?")


def collect(pairs: int, label: str, o: Any, v: dict[str, Any], arms: dict[str, Any], key: str,
            results: Path) -> dict[str, list[dict[str, Any]]]:
    """``pairs`` runs per arm, interleaved A B B A …; each run's summary, bundle and wall time."""
    from vllm_workflow.ab.compare import schedule
    from vllm_workflow.ab.service import reset_prefix_cache
    from vllm_workflow.benchmark.service import run_one

    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "dev": []}
    order = schedule(pairs)
    for i, arm in enumerate(order, 1):
        if v.get("vllm_ab_reset_prefix_cache"):
            reset_prefix_cache(arms[arm], key)
        start = time.monotonic()
        code, out, summary = run_one(o, v, arms[arm], key, label=f"{label}-{arm}-r{len(runs[arm]) + 1}")
        runs[arm].append({"bundle": out.name, "summary": summary, "wall_s": time.monotonic() - start, "exit": code})
        print(f"   {label}: run {i}/{len(order)} {arm} TTFT p50 "
              f"{summary['latency_ms']['ttft']['p50']:.1f} ms, {summary['throughput']['requests_per_s']:.2f} req/s",
              flush=True)
    return runs


def shifted(summary: dict[str, Any], effect: float) -> dict[str, Any]:
    """A run's summary with latencies × (1 + effect) and throughput ÷ (1 + effect)."""
    out = json.loads(json.dumps(summary))
    for metric in ("ttft", "tpot", "itl", "e2e"):
        for q, val in list((out["latency_ms"].get(metric) or {}).items()):
            if isinstance(val, (int, float)):
                out["latency_ms"][metric][q] = val * (1 + effect)
    for k in ("requests_per_s", "output_tokens_per_s"):
        if isinstance(out["throughput"].get(k), (int, float)):
            out["throughput"][k] /= (1 + effect)
    return out


def evaluate(base: list[dict], dev: list[dict], base_floors: dict, dev_floors: dict, n: int, draws: int,
             rng: np.random.Generator, rule: Any, sequential: bool) -> dict[str, Any]:
    """Comparisons of n runs per arm from the pools: disjoint ones, then random subsets. Each run's
    measurement-error floor (``run_floors``) is computed once and reused in every comparison."""
    from vllm_workflow.ab.compare import compare, look_levels, looks, stops

    plan = looks(n, sequential)
    levels = look_levels(plan, rule.alpha)

    def pick(floors: dict, idx: list[int]) -> dict:
        return {k: [v[i] for i in idx] for k, v in floors.items()}

    def one(ia: list[int], ib: list[int]) -> tuple[str, int]:
        for k, level in zip(plan, levels):
            c = compare([base[i] for i in ia[:k]], [dev[i] for i in ib[:k]], rule, 0, alpha=level,
                        floors=(pick(base_floors, ia[:k]), pick(dev_floors, ib[:k])), request_ci=False)
            if stops(c["verdict"]) or k == plan[-1]:
                return c["verdict"], k
        raise AssertionError

    disjoint = [one(list(range(j * n, j * n + n)), list(range(j * n, j * n + n)))
                for j in range(min(len(base), len(dev)) // n)]
    drawn = [one(list(rng.choice(len(base), n, replace=False)), list(rng.choice(len(dev), n, replace=False)))
             for _ in range(draws)]

    def rates(rows: list[tuple[str, int]]) -> dict[str, Any]:
        if not rows:
            return {"count": 0}
        verdicts = [r[0] for r in rows]
        return {"count": len(rows), **{v: verdicts.count(v) / len(rows) for v in
                                        ("regression", "improvement", "no significant change", "inconclusive")},
                "mean_runs_per_arm": statistics.mean(r[1] for r in rows)}

    return {"n": n, "sequential": sequential, "looks": plan, "disjoint": rates(disjoint), "drawn": rates(drawn)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=16, help="A/A runs per arm (default 16)")
    ap.add_argument("--quota-pairs", type=int, default=6, help="runs per arm under each CPU quota (default 6)")
    ap.add_argument("--quotas", type=float, nargs="*", default=[0.7, 1.6], help="dev arm CPU quotas (CPUs)")
    ap.add_argument("--reps", type=int, nargs="*", default=[3, 6], help="runs per arm of the evaluated designs")
    ap.add_argument("--effects", type=float, nargs="*", default=[0.02, 0.05, 0.10, 0.20, 0.40])
    ap.add_argument("--draws", type=int, default=300, help="random comparisons per condition and design")
    ap.add_argument("--results-dir", default="/var/tmp/vllm-workflow-ab-calibration")
    ap.add_argument("--output", default=None, help="write the JSON here too")
    ap.add_argument("--reuse", default=None, help="analyse the runs of an earlier output JSON instead of running")
    args = ap.parse_args()

    from vllm_workflow.arms import config_diff
    from vllm_workflow.ab.design import run_noise
    from vllm_workflow.ab.service import arm_stacks, rule_from
    from vllm_workflow.benchmark import bundle
    from vllm_workflow.benchmark.service import RunOptions, settings
    from vllm_workflow.config import secrets
    from vllm_workflow.stack import DEFAULT_STATE_DIR, require_stacks

    results = Path(args.results_dir)
    o = RunOptions(root=ROOT, state_dir=ROOT / DEFAULT_STATE_DIR, results_dir=results,
                   extra_vars=ROOT / "extra_vars.yaml", progress=False)
    v = settings(o)
    if config_diff(v):
        raise SystemExit("the arms differ in " + ", ".join(d["setting"] for d in config_diff(v)) +
                         ": calibration needs an A/A deployment (make defconfig-vllm-local-aa).")
    rule = rule_from(v)
    if args.reuse:
        pools = json.loads(Path(args.reuse).read_text())["pools"]
    else:
        from tests.cpuquota import CpuQuota, available, descendants

        why = available()
        if why and args.quotas:
            raise SystemExit(f"CPU quotas: {why}")
        arms = arm_stacks(require_stacks(o.state_dir))
        key = secrets(ROOT)["vllm_api_key"]
        pools = {"aa": collect(args.pairs, "cal-aa", o, v, arms, key, results)}
        conf = str(Path(arms["dev"].process_manager["conf"]).parent)
        for q in args.quotas:
            quota = CpuQuota(f"vllm-workflow-calibration-{q:g}", q)
            try:
                moved = quota.add(descendants(dev_supervisord(conf)))
                print(f"🔧 dev arm ({moved} processes) limited to {q:g} CPU", flush=True)
                pools[f"quota-{q:g}"] = collect(args.quota_pairs, f"cal-q{q:g}", o, v, arms, key, results)
                pools[f"quota-{q:g}"]["throttled"] = [quota.throttled()]  # type: ignore[list-item]
            finally:
                quota.close()
        if args.output:  # the runs first: an analysis can be redone from them (--reuse)
            Path(args.output).write_text(json.dumps({"pools": pools}, default=str))

    from vllm_workflow.ab.compare import run_floors

    def floors(names: list[str]) -> dict:
        return run_floors([bundle.read_records(results / n / "requests.jsonl") for n in names])

    rng = np.random.default_rng(2026)
    out: dict[str, Any] = {"machine": {"cpus": __import__("os").cpu_count()}, "rule": vars(rule) | {},
                           "pools": pools, "conditions": {}}
    for name, pool in pools.items():
        print(f"== analysing {name}", flush=True)
        base = [r["summary"] for r in pool["baseline"]]
        dev = [r["summary"] for r in pool["dev"]]
        base_rec = floors([r["bundle"] for r in pool["baseline"]])
        dev_rec = floors([r["bundle"] for r in pool["dev"]])
        gm = {a: math.exp(statistics.mean(math.log(s["latency_ms"]["ttft"]["p50"]) for s in ss))
              for a, ss in (("baseline", base), ("dev", dev))}
        cond: dict[str, Any] = {"ttft_p50_ms": gm, "ttft_ratio": gm["dev"] / gm["baseline"],
                                "run_wall_s": statistics.median(r["wall_s"] for r in pool["baseline"] + pool["dev"]),
                                "designs": []}
        for n in args.reps:
            for seq in (False, True):
                if n <= min(len(base), len(dev)):
                    cond["designs"].append(evaluate(base, dev, base_rec, dev_rec, n, args.draws, rng, rule, seq))
        out["conditions"][name] = cond
        print(f"\n== {name}: TTFT p50 ratio {cond['ttft_ratio']:.2f}", flush=True)
        for d in cond["designs"]:
            print(f"   n={d['n']} {'sequential' if d['sequential'] else 'fixed     '} disjoint {d['disjoint']} "
                  f"drawn {d['drawn']}", flush=True)
    # Detection curve: known shifts of the A/A pool's dev arm, on this machine's real noise.
    aa = pools["aa"]
    base = [r["summary"] for r in aa["baseline"]]
    dev = [r["summary"] for r in aa["dev"]]
    base_rec = floors([r["bundle"] for r in aa["baseline"]])
    dev_rec = floors([r["bundle"] for r in aa["dev"]])
    noise = run_noise([{"metric": "ttft_p50", "baseline_values": [s["latency_ms"]["ttft"]["p50"] for s in base],
                        "dev_values": [s["latency_ms"]["ttft"]["p50"] for s in dev]}])
    curve = []
    for e in args.effects:
        for n in args.reps:
            d = evaluate(base, [shifted(s, e) for s in dev], base_rec, dev_rec, n, args.draws, rng, rule, True)
            curve.append({"effect": e, "n": n, "power": d["drawn"].get("regression", 0.0),
                          "mean_runs_per_arm": d["drawn"].get("mean_runs_per_arm")})
            print(f"   shift +{e * 100:g} % at n={n}: found {curve[-1]['power']:.0%}", flush=True)
    wall = out["conditions"]["aa"]["run_wall_s"]
    five = max(2, int(300 // (2 * wall)))
    from vllm_workflow.ab import stats

    out["curve"] = curve
    out["five_minutes"] = {"run_wall_s": wall, "runs_per_arm": five, "ttft_noise_sd": noise.get("ttft_p50"),
                           "mde_80": stats.mde(noise.get("ttft_p50", 0.0), five, rule.alpha, 0.8, 4)}
    print(f"\nfive minutes of A/B = {five} runs per arm of {wall:.1f} s: TTFT p50 changes ≥ "
          f"{out['five_minutes']['mde_80'] * 100:.1f} % found with 80 % power (run-to-run noise "
          f"{noise.get('ttft_p50', 0) * 100:.1f} %)")
    text = json.dumps(out, indent=1, default=str)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
