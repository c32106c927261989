"""JUnit XML for CI, the A/B summary for CI, and target-side machine facts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vllm_workflow import junit, machine
from vllm_workflow.ab import report, stats


def test_junit_counts_failures_and_skips_and_escapes() -> None:
    xml = junit.render([
        junit.Suite("quick-test h<1>", [junit.Case("a & b", "qt.h", 0.25),
                                        junit.Case("c", "qt.h", 0.5, failure='HTTP 500 "x"\x07')]),
        junit.Suite("ab x", [junit.Case("ttft", "ab.x", skipped="inconclusive")]),
    ])
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    s1, s2 = root.findall("testsuite")
    assert s1.get("name") == "quick-test h<1>" and s1.get("time") == "0.750"
    assert [c.get("name") for c in s1.findall("testcase")] == ["a & b", "c"]
    failure = s1.findall("testcase")[1].find("failure")
    assert failure is not None and failure.get("message") == 'HTTP 500 "x"'  # control character dropped
    assert s2.find("testcase/skipped").get("message") == "inconclusive"


def test_junit_markdown_lists_failed_cases() -> None:
    md = junit.markdown("quick-test", [junit.Suite("s", [junit.Case("ok", "c"), junit.Case("bad", "c", failure="boom\nmore")])])
    assert md.startswith("### ❌ quick-test: 1 passed, 1 failed")
    assert "- **s** · bad: boom" in md and "| s | 1 | 1 |" in md


def _comp(verdicts: list[str]) -> dict:
    metrics = [{"metric": f"m{i}", "label": f"metric {i}", "unit": "ms", "better": "lower", "kind": "relative",
                "n": [2, 2], "baseline": 10.0, "dev": 12.0, "delta": -0.2, "ci": [-0.3, -0.1], "ci_requests": None,
                "p_value": 0.01, "p_adjusted": 0.02, "effect_size": -1.0, "verdict": v} for i, v in enumerate(verdicts)]
    return {"label": "lbl", "verdict": stats.REGRESSION, "exit_code": 1, "metrics": metrics,
            "arms": {"baseline": {"host": "h1", "bundles": []}, "dev": {"host": "h2", "bundles": []}},
            "changes": {"config": [], "versions": {"baseline": {}, "dev": {}}, "versions_differ": [],
                        "host": {"baseline": {"hostname": "a", "kernel": "6.1"}, "dev": {"hostname": "b", "kernel": "6.12"}},
                        "host_differ": ["hostname", "kernel"]}}


def test_ab_junit_has_one_case_per_metric_by_verdict() -> None:
    suite = report.junit_suite(_comp([stats.REGRESSION, stats.INCONCLUSIVE, stats.NO_CHANGE]))
    assert len(suite.cases) == 3
    assert suite.cases[0].failure.startswith("regression:") and suite.cases[0].skipped is None
    assert suite.cases[1].skipped.startswith("inconclusive:") and suite.cases[1].failure is None
    assert suite.cases[2].failure is None and suite.cases[2].skipped is None


def test_ab_ci_summary_shows_what_differs_between_hosts(tmp_path) -> None:
    md = report.ci_summary(_comp([stats.REGRESSION]), tmp_path)
    assert md.startswith("### 🔴 A/B `lbl`: regression (exit 1)")
    assert "| kernel | 6.1 | 6.12 |" in md and "| hostname | a | b |" in md
    assert "baseline on `h1`, dev on `h2`" in md


def test_machine_facts_from_the_host_probe() -> None:
    facts = {"hostname": "vwf-dev", "kernel": "6.12.0", "kernel_version": "#1 SMP", "os": "Debian 12.11",
             "processor": ["0", "GenuineIntel", "Intel(R) Xeon(R)", "1", "GenuineIntel", "Intel(R) Xeon(R)"],
             "cpus": "2", "memtotal_mb": "1024", "python": "3.11.2"}
    m = machine.from_host_facts(facts)
    assert m == {"collected_on": "target", "hostname": "vwf-dev", "kernel": "6.12.0", "kernel_version": "#1 SMP",
                 "os": "Debian 12.11", "cpu_model": "Intel(R) Xeon(R)", "cpus": 2, "memory_bytes": 1024 * 1024 * 1024,
                 "python": "3.11.2"}
    assert machine.cpu_model("['0', 'AuthenticAMD', 'AMD EPYC 7763']") == "AMD EPYC 7763"
    assert machine.from_host_facts({}) == {}
    assert machine.cpu_model(["AMD EPYC 7763", "AMD EPYC 7763"]) == "AMD EPYC 7763"  # the probe's form


def test_ab_markdown_report_from_its_template() -> None:
    comp = _comp([stats.REGRESSION]) | {"repetitions": 3, "schedule": ["baseline", "dev", "dev", "baseline"],
                                         "complete": False, "rule": {"alpha": 0.05, "threshold": 0.05,
                                                                     "equivalence": 0.1}}
    comp["arms"]["baseline"]["bundles"] = ["r1", "r2"]
    md = report.markdown(comp, ["delta.png"])
    assert md.startswith("# A/B comparison: lbl\n\n**Verdict: 🔴 regression** (exit code 1) — 3 repetitions per arm, "
                         "order B D D B — INCOMPLETE\n")
    assert "at least 5 % (pp for rates); otherwise 'no significant change' if the CI lies within ±10 %" in md
    assert "| metric 0 | lower | 10.0 | 12.0 | -20.0 % | [-30.0 %, -10.0 %] | – | 0.01 (0.02) | -1.00 | 🔴 regression |" in md
    assert "- `(nothing)`:  → \n" in md and "- baseline (h1): `r1`, `r2`\n- dev (h2): \n" in md
    assert md.endswith("![Change dev vs baseline (positive = better), 95% CI](delta.png)\n\n")
