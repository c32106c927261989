#!/usr/bin/env python3
"""The edit-deploy-measure loop, measured side by side in one run (issue 17).

From a deployed local stack (`make defconfig-vllm-local && make bringup && make vllm-deploy`):

1. **engines alone**: teardown, then start every engine directly with the command line, environment
   and working directory supervisord uses (read from the generated supervisord.conf), and time until
   all answer /health; stop them;
2. **warm deploy**: `make vllm-deploy` on the torn-down stack, to the first completion through the
   router; steps 1 and 2 alternate ``--warm-repeat`` times (the ratio is of the medians);
3. **no-op deploy**: `make vllm-deploy` again (nothing changed), ``--repeat`` times;
4. **quick test**: `make vllm-quick-test`, ``--repeat`` times;
5. **teardown**: `make vllm-teardown`, then the stack is deployed again.

Prints one JSON document: every time, medians, and the ratios and limits of the goals
(warm deploy ≤ 1.15 × engines alone; no-op ≤ 8 s; teardown ≤ 5 s; quick test ≤ 3 s). The engines'
own start varies by ±10 % from run to run on a small machine, so the warm-deploy ratio comes with
a 95 % bootstrap confidence interval (vllm_workflow.ab.stats.bootstrap_ci, each side resampled)
and the median of the pairs' own ratios.

    .venv/bin/python bench/deploy_loop.py --repeat 3
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import shlex
import signal
import statistics
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"warm_over_engines": 1.15, "noop_s": 8.0, "teardown_s": 5.0, "quick_test_s": 3.0}


def ratio_ci(warm: list[float], alone: list[float]) -> list[float]:
    """95 % bootstrap interval of median(warm) / median(alone): the A/B statistics' own bootstrap
    (each side resampled independently)."""
    from vllm_workflow.ab.stats import bootstrap_ci

    return [round(1 + x, 3) for x in bootstrap_ci(alone, warm, statistic="median", samples=10000)]


def make(*targets: str) -> float:
    start = time.monotonic()
    out = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *targets], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"make {' '.join(targets)} failed:\n{(out.stdout + out.stderr)[-3000:]}")
    return time.monotonic() - start


def stack() -> dict:
    return json.loads((ROOT / "workflows/vllm/state/stacks/localhost.json").read_text())


def engine_programs(conf: Path) -> list[tuple[list[str], dict[str, str], str]]:
    """(argv, environment, working directory) of every engine program in supervisord.conf."""
    parser = configparser.RawConfigParser()
    parser.read(conf)
    out = []
    for section in parser.sections():
        if not section.startswith("program:engine-"):
            continue
        env = {}
        for item in shlex.split(parser.get(section, "environment", fallback="").replace(",", " ")):
            key, _, value = item.partition("=")
            env[key] = value
        out.append((shlex.split(parser.get(section, "command")), env, parser.get(section, "directory")))
    return out


def healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def engines_alone(conf: Path, urls: list[str], timeout: float = 300) -> float:
    procs = []
    start = time.monotonic()
    for argv, env, cwd in engine_programs(conf):
        procs.append(subprocess.Popen(argv, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        while not all(healthy(u) for u in urls):
            if time.monotonic() - start > timeout:
                raise SystemExit("the engines did not answer /health in time")
            time.sleep(0.2)
        return time.monotonic() - start
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def first_completion(api_url: str, model: str, start: float, timeout: float = 600) -> float:
    body = {"model": model, "prompt": "warm deploy probe", "max_tokens": 4}
    while time.monotonic() - start < timeout:
        try:
            r = requests.post(f"{api_url}/v1/completions", json=body, timeout=30)
            if r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("no completion through the router in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="no-op deploys and quick tests (default 3)")
    parser.add_argument("--warm-repeat", type=int, default=3,
                        help="engines-alone / warm-deploy pairs, alternated (default 3)")
    args = parser.parse_args()
    make("vllm-deploy")  # a known state: deployed and current
    s = stack()
    conf = Path(s["process_manager"]["conf"])
    urls = [e["url"] for e in s["engines"]]

    alone, warm, deploy, teardowns = [], [], [], []
    for _ in range(args.warm_repeat):
        teardowns.append(make("vllm-teardown"))
        alone.append(engines_alone(conf, urls))
        start = time.monotonic()
        deploy.append(make("vllm-deploy"))
        warm.append(first_completion(s["api_url"], s["model"], start))
    noop = [make("vllm-deploy") for _ in range(args.repeat)]
    quick = [make("vllm-quick-test") for _ in range(args.repeat)]
    teardown = statistics.median(teardowns)
    result = {
        "machine": {"cpus": os.cpu_count(), "engines": len(urls)},
        "engines_alone_s": [round(x, 2) for x in alone],
        "warm_deploy_make_s": [round(x, 2) for x in deploy],
        "warm_deploy_to_first_completion_s": [round(x, 2) for x in warm],
        "noop_deploy_s": [round(x, 2) for x in noop],
        "quick_test_s": [round(x, 2) for x in quick],
        "teardown_s": [round(x, 2) for x in teardowns],
        "ratios": {"warm_over_engines": round(statistics.median(warm) / statistics.median(alone), 3),
                   "warm_over_engines_ci95": ratio_ci(warm, alone),
                   "median_of_pairs": round(statistics.median(w / a for w, a in zip(warm, alone)), 3),
                   "each_pair": [round(w / a, 3) for w, a in zip(warm, alone)]},
        "medians": {"engines_alone_s": round(statistics.median(alone), 2),
                    "warm_deploy_to_first_completion_s": round(statistics.median(warm), 2),
                    "noop_deploy_s": round(statistics.median(noop), 2),
                    "quick_test_s": round(statistics.median(quick), 2),
                    "teardown_s": round(teardown, 2)},
        "goals": GOALS,
    }
    result["met"] = {
        "warm_over_engines": result["ratios"]["warm_over_engines"] <= GOALS["warm_over_engines"],
        "noop_s": result["medians"]["noop_deploy_s"] <= GOALS["noop_s"],
        "teardown_s": teardown <= GOALS["teardown_s"],
        "quick_test_s": result["medians"]["quick_test_s"] <= GOALS["quick_test_s"],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
