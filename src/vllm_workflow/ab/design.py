"""What an A/B design can detect, said before it runs and after.

Before: the minimum detectable effect (80 % power) of each primary metric for the configured
repetitions, from this machine's measured run-to-run noise when an earlier comparison exists in
the results folder, from the test's arithmetic (a multiple of the noise) otherwise. After: the
comparison's own noise gives "changes of at least X % would have been found".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import stats
from .compare import METRICS, POWER, PRIMARY

LABELS = {m.key: m.label for m in METRICS}


def run_noise(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Run-to-run standard deviation of the log of each primary metric, pooled within the arms, from a
    comparison's run values (a comparison of any schema version: only the values are read)."""
    out: dict[str, float] = {}
    for row in rows:
        if row.get("metric") not in PRIMARY:
            continue
        arms = [[float(x) for x in row.get(k) or [] if isinstance(x, (int, float)) and x > 0]
                for k in ("baseline_values", "dev_values")]
        if any(len(a) < 2 for a in arms):
            continue
        ss = sum(float(np.sum((np.log(a) - np.mean(np.log(a))) ** 2)) for a in arms)
        dof = sum(len(a) - 1 for a in arms)
        out[str(row["metric"])] = math.sqrt(ss / dof)
    return out


@dataclass(frozen=True)
class Noise:
    sd: dict[str, float]  # metric -> run-to-run SD on the log scale
    source: str  # the comparison folder it came from


def newest_noise(results: Path) -> Noise | None:
    """The run-to-run noise of the newest comparison under ``results`` (None when there is none)."""
    for path in sorted(results.glob("*-ab/comparison.json"), reverse=True):
        try:
            rows = json.loads(path.read_text()).get("metrics") or []
        except (OSError, ValueError):
            continue
        sd = run_noise(rows)
        if sd:
            return Noise(sd, path.parent.name)
    return None


def factor(n: int, alpha: float, family: int) -> float:
    """The minimum detectable effect as a multiple of the run-to-run SD (log scale) at n runs per arm."""
    from scipy.special import stdtrit

    df = 2 * n - 2
    return float((stdtrit(df, 1 - alpha / (2 * family)) + stdtrit(df, POWER)) * math.sqrt(2 / n))


def pct(x: float) -> str:
    return f"{x * 100:.1f} %" if x < 10 else f"{x + 1:.1f}×"


def before(reps: int, rule: stats.Rule, noise: Noise | None, sequential: bool) -> list[str]:
    """Lines stating what this design can detect, and a warning when it cannot say 'no change'."""
    from .compare import looks

    family = len(PRIMARY)
    plan = looks(reps, sequential)
    seq = f"; sequential: a look after {plan[0]} runs per arm may stop early" if len(plan) > 1 else ""
    lines = [f"🎯 design: {reps} runs per arm, Welch's t on the runs' log values, Holm over {family} primary "
             f"metrics ({', '.join(LABELS[k] for k in PRIMARY)}) at α {rule.alpha:g}{seq}."]
    if reps == 2:
        lines.append("   ⚠️  2 runs per arm: when one arm's runs agree closely the test has a single degree of "
                     "freedom and finds only very large changes. Fix: VLLM_AB_REPETITIONS=3 or more.")
    if noise is None:
        k = factor(reps, rule.alpha, family)
        lines.append(f"   No earlier comparison here to measure this machine's noise: at {reps} runs per arm a change "
                     f"is found with {POWER:.0%} power when it is ≥ {k:.1f}× the run-to-run variation "
                     f"(≥ {pct(math.expm1(k * 0.05))} at 5 % variation), and never below the "
                     f"{rule.threshold * 100:g} % threshold.")
        return lines
    found = {key: max(rule.threshold, stats.mde(sd, reps, rule.alpha, POWER, family)) for key, sd in noise.sd.items()}
    lines.append("   With the run-to-run noise of " + noise.source + ": changes ≥ " +
                 ", ".join(f"{pct(found[k])} in {LABELS[k]} (noise {noise.sd[k] * 100:.1f} %)"
                           for k in PRIMARY if k in found) + f" will be found with {POWER:.0%} power.")
    # An unchanged dev arm ends 'no significant change' only when its CI fits the margin.
    half = {k: math.expm1(half_width(sd, reps, rule.alpha)) for k, sd in noise.sd.items()}
    wide = [k for k in PRIMARY if k in half and half[k] > rule.equivalence]
    if wide:
        need = max(repetitions_for_width(rule.equivalence, noise.sd[k], rule.alpha) for k in wide)
        lines.append(f"   ⚠️  at this noise the 95 % interval of {', '.join(LABELS[k] for k in wide)} is about "
                     f"±{max(half[k] for k in wide) * 100:.0f} %, wider than the ±{rule.equivalence * 100:g} % "
                     "equivalence margin: an unchanged dev arm will end 'inconclusive', not 'no significant change'. "
                     f"Fix: raise VLLM_AB_REPETITIONS (about {need}), VLLM_BENCHMARK_DURATION, or "
                     "VLLM_AB_EQUIVALENCE_PCT.")
    return lines


def half_width(sd: float, n: int, alpha: float) -> float:
    """Expected half-width of the CI of the log difference at n runs per arm."""
    from scipy.special import stdtrit

    return float(stdtrit(2 * n - 2, 1 - alpha / 2)) * sd * math.sqrt(2 / n)


def repetitions_for_width(margin: float, sd: float, alpha: float, most: int = 1000) -> int:
    """Fewest runs per arm whose expected CI fits within ±margin."""
    return next((n for n in range(2, most) if math.expm1(half_width(sd, n, alpha)) <= margin), most)


def check_repetitions(reps: int) -> None:
    """Refuse a design that can never reach a verdict."""
    from ..errors import WorkflowError

    if reps < 2:
        raise WorkflowError(f"{reps} repetition per arm can never give a verdict: the test compares the spread "
                            "of runs within each arm. Fix: VLLM_AB_REPETITIONS (or --repetitions) of at least 2 "
                            "(3 or more to find changes a few times the noise).")
