"""`vllm-workflow ab` and `ab-compare` end to end against two stub arms (test doubles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.doubles.streaming_stub import MODEL, StubBehaviour, StubInThread
from tests.helpers import stub_project, stub_stack
from tests.test_benchmark_bundle import cli

AB_LINES = ("CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_BENCHMARK_DURATION=5", "CONFIG_VLLM_BENCHMARK_WARMUP_SECONDS=0",
            "CONFIG_VLLM_BENCHMARK_CONCURRENT_USERS=2", "CONFIG_VLLM_BENCHMARK_OUTPUT_TOKENS=4",
            "CONFIG_VLLM_AB_DEV_PREFIX_CACHING_OFF=y")


@pytest.fixture()
def ab_project(tmp_path: Path, vars_for):
    def make(urls: dict[str, str]) -> Path:
        return stub_project(tmp_path / "project", vars_for("vllm", *AB_LINES),
                            {f"ab-{arm}": stub_stack(url, f"ab-{arm}", MODEL, arm) for arm, url in urls.items()})

    return make


def comparison(root: Path) -> tuple[Path, dict]:
    (folder,) = [p for p in (root / "workflows/vllm/results").iterdir() if (p / "comparison.json").exists()]
    return folder, json.loads((folder / "comparison.json").read_text())


@pytest.mark.slow
def test_aa_control_finds_no_change(ab_project) -> None:
    same = StubBehaviour(ttft_s=0.02, itl_s=0.005)
    with StubInThread(same) as a, StubInThread(StubBehaviour(ttft_s=0.02, itl_s=0.005)) as b:
        root = ab_project({"baseline": a, "dev": b})
        out = cli(root, "ab", "--repetitions", "4", "--set", "vllm_benchmark_duration=1", "--no-progress")
    # An A/A control must raise no false alarm. On a loaded machine a tail metric (TTFT p95 over 4
    # one-second runs) can stay undecided: "inconclusive" (exit 2) is honest, a change is not.
    assert out.returncode in (0, 2), out.stdout[-3000:] + out.stderr
    folder, comp = comparison(root)
    assert comp["schema"] == "vllm-workflow/ab-comparison"
    assert comp["verdict"] in ("no significant change", "inconclusive")
    assert [m["label"] for m in comp["metrics"] if m["verdict"] in ("improvement", "regression")] == []
    assert comp["schedule"] == ["baseline", "dev", "dev", "baseline"] * 2
    assert len(comp["arms"]["baseline"]["bundles"]) == 4 and len(comp["arms"]["dev"]["bundles"]) == 4
    ttft = next(m for m in comp["metrics"] if m["metric"] == "ttft_p50")
    assert ttft["n"] == [4, 4] and abs(ttft["delta"]) < 0.05 and ttft["ci_requests"] is not None
    assert ttft["verdict"] == "no significant change"
    assert comp["changes"]["config"] == [{"setting": "CONFIG_VLLM_ENABLE_PREFIX_CACHING", "baseline": True,
                                          "dev": False}]
    assert all("not reset" in r for r in comp["prefix_cache_reset"])  # the stub has no such endpoint
    for name in ("report.md", "report.html", "ttft-cdf.png", "e2e-cdf.png", "delta.png"):
        assert (folder / name).stat().st_size > 0
    assert "no significant change" in (folder / "report.md").read_text()  # at least TTFT p50
    # every repetition is an ordinary bundle of its own
    bundles = [p for p in (root / "workflows/vllm/results").iterdir() if (p / "summary.json").exists()]
    assert len(bundles) == 8


@pytest.mark.slow
def test_slower_dev_is_a_regression_with_ci_and_bisect_exit_codes(ab_project) -> None:
    with StubInThread(StubBehaviour(ttft_s=0.02, itl_s=0.005)) as a, \
            StubInThread(StubBehaviour(ttft_s=0.06, itl_s=0.005)) as b:
        root = ab_project({"baseline": a, "dev": b})
        out = cli(root, "ab", "--repetitions", "6", "--set", "vllm_benchmark_duration=1", "--no-progress")
        assert out.returncode == 1, out.stdout[-3000:] + out.stderr
        assert "verdict: regression (exit 1)" in out.stdout
        folder, comp = comparison(root)
        ttft = next(m for m in comp["metrics"] if m["metric"] == "ttft_p50")
        assert ttft["verdict"] == "regression" and ttft["delta"] > 1.0 and ttft["ci"][0] > 0.5
        assert ttft["p_adjusted"] < 0.05 and ttft["effect_size"] == -1.0
        page = (folder / "report.html").read_text()
        assert "<b>Verdict: <span class='badge regression'>regression</span></b>" in page
        assert not any(mark in page for mark in "🟢🔴⚪🟡")  # no emoji font in headless Chromium
        results = root / "workflows/vllm/results"
        base = comp["arms"]["baseline"]["bundles"]
        dev = comp["arms"]["dev"]["bundles"]
        again = cli(root, "ab-compare", "--baseline", *base, "--dev", *dev, "--bisect", "--label", "bisect")
        assert again.returncode == 1 and (results / next(p.name for p in results.iterdir()
                                                          if p.name.endswith("-bisect-ab"))).is_dir()
        swapped = cli(root, "ab-compare", "--baseline", *dev, "--dev", *base)
        assert swapped.returncode == 0 and "verdict: improvement" in swapped.stdout


def test_ab_without_both_arms_is_an_error(ab_project) -> None:
    root = ab_project({"baseline": "http://127.0.0.1:9"})
    out = cli(root, "ab")
    assert out.returncode == 2 and "no deployed dev arm" in out.stderr
    out = cli(root, "ab", "--bisect")
    assert out.returncode == 125


def test_delta_plot_draws_a_ci_that_excludes_the_estimate(tmp_path) -> None:
    """A percentile bootstrap CI over few repetitions can lie beside the point estimate; the plot
    must still be drawn (it once failed with "xerr must not contain negative values")."""
    from vllm_workflow.ab import report, stats

    metric = {"label": "TTFT p50", "better": "lower", "delta": -0.30, "ci": [-0.20, -0.10],
              "verdict": stats.IMPROVEMENT}
    made = report.plots(tmp_path, {"metrics": [metric]}, [], [])
    assert "delta.png" in made and (tmp_path / "delta.png").read_bytes()[:4] == b"\x89PNG"
