"""The results history (issue 26) on copies of a real bundle: the index, its rebuild, damaged
bundles, concurrent writers, the newest run against its history, change points, filters, export,
the bisect log."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tests.bundlegen import REAL, series, vary
from vllm_workflow.cli import main
from vllm_workflow.errors import WorkflowError
from vllm_workflow.history import records, stats
from vllm_workflow.history.index import Index, index_path, scan
from vllm_workflow.history.service import Filters, since_bound

NOISE = 0.03  # run-to-run spread of TTFT p50 on the log scale, like the local stack's (docs/ab-testing.md)


def factors(n: int, seed: int, sd: float = NOISE) -> list[float]:
    return [float(x) for x in np.exp(np.random.default_rng(seed).normal(0, sd, n))]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    out.mkdir()
    return out


def history(results: Path, *args: str, capsys: pytest.CaptureFixture[str], stdout: bool = False) -> tuple[int, str]:
    code = main(["history", "--results-dir", str(results), "--extra-vars", str(results / "none.yaml"), *args])
    out = capsys.readouterr()
    return code, out.out if stdout else out.out + out.err


# -- the index --------------------------------------------------------------------------------------

def test_a_real_bundle_is_read_with_its_kernel_commit_and_figures(tmp_path: Path) -> None:
    run = records.read_run(REAL, "real")
    assert run.kind == "benchmark" and run.workload == "concurrent" and run.complete
    assert run.kernel_release == "6.18.44-fc-v1147" and run.hostname == "vwf-baseline" and run.arm == "baseline"
    assert run.project_rev == "2e867638ff949d73fcfd9f9a85f44099c7ea64f3" and run.project_dirty is False
    assert len(run.kernel_config_sha) == 64
    ttft = run.figure("ttft_p50")
    assert ttft is not None and ttft.value == pytest.approx(14.7667, rel=1e-4)
    assert ttft.lo is not None and ttft.hi is not None and ttft.lo < ttft.value < ttft.hi
    assert run.figure("requests_per_s").lo is None  # no per-request interval for a throughput
    assert run.shape["stack"]["engines"] == 1 and run.shape["stack"]["routing"] == "roundrobin"
    assert "vllm_local_prometheus_package_version" not in run.shape["versions"]["configured"]
    folder = vary(tmp_path, 0, kernel="6.19.0", kdevops_ref="v6.19-rc1")
    assert records.read_run(folder, "x").kernel_commit == "linux@v6.19-rc1"


def test_what_tells_runs_apart_does_not_change_the_fingerprint_and_the_workload_does(tmp_path: Path) -> None:
    a = records.read_run(vary(tmp_path, 0, kernel="6.18.0", host="h1"), "a")
    b = records.read_run(vary(tmp_path, 1, kernel="6.19.0", host="h2", commit="b" * 40), "b")
    assert a.fingerprint == b.fingerprint
    c = vary(tmp_path, 2)
    summary = json.loads((c / "summary.json").read_text())
    summary["workload"]["users"] = 8
    (c / "summary.json").write_text(json.dumps(summary))
    assert records.read_run(c, "c").fingerprint != a.fingerprint


def test_the_quantile_interval_covers_the_true_median_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    hits = sum(lo <= 0.0 <= hi for lo, hi in (records.quantile_ci(rng.normal(0, 1, 200), 50) for _ in range(400)))
    assert 0.91 <= hits / 400 <= 0.99


def test_an_index_rebuilt_after_deletion_equals_the_first(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(6, 1), ttft=True)
    sub = results / "ci-artifacts" / "night-7"
    sub.mkdir(parents=True)
    vary(sub, 9, kernel="6.19.0")  # copied in from another machine, one level down
    with Index(results) as index:
        index.sync()
        first = index.dump()
    assert len(first["runs"]) == 7 and any(r[1] == "ci-artifacts/night-7/20261101T090000Z-nightly"
                                           for r in first["runs"])
    for name in ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm"):
        (results / name).unlink(missing_ok=True)
    with Index(results) as index:
        index.sync()
        assert index.dump() == first
        index.rebuild()
        assert index.dump() == first
    code, out = history(results, "--reindex", capsys=capsys)
    assert code == 0 and "rebuilt from" in out and "7 run(s)" in out


def test_sync_picks_up_new_folders_and_drops_removed_ones(results: Path) -> None:
    folders = series(results, factors(4, 2))
    with Index(results) as index:
        assert index.sync().added == 4
        assert index.sync().added == 0  # nothing changed: nothing read again
        shutil.rmtree(folders[0])
        vary(results, 10)
        report = index.sync()
        assert (report.added, report.removed) == (1, 1)
        assert [r.path for r in index.runs()] == [f.name for f in folders[1:]] + ["20261101T100000Z-nightly"]


def test_damaged_and_half_written_bundles_are_named_and_skipped(results: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(3, 3))
    bad = {"truncated": '{"schema": "vllm-workflow/benchmark", "label"', "a-list": "[1, 2]",
           "half": json.dumps({"schema": "vllm-workflow/benchmark", "schema_version": 1, "created": "x"}),
           "future": json.dumps({"schema": "vllm-workflow/benchmark", "schema_version": 99})}
    for name, text in bad.items():
        (results / name).mkdir()
        (results / name / "summary.json").write_text(text)
    (results / "binary").mkdir()
    (results / "binary" / "comparison.json").write_bytes(b"\xff\xfe\x00garbage")
    code, out = history(results, capsys=capsys)
    assert code == 0 and "Traceback" not in out
    skipped = {line.split()[2].rstrip(":"): line for line in out.splitlines() if line.startswith("⚠️  skipped")}
    assert set(skipped) == {"truncated", "a-list", "half", "future", "binary"}
    assert "cannot be read" in skipped["truncated"] and "holds a list" in skipped["a-list"]
    assert "has no 'workload'" in skipped["half"] and "schema version 99" in skipped["future"]
    assert "3 run(s)" in out
    (results / "half" / "summary.json").unlink()  # fixed by removing it: no longer named
    shutil.copy(REAL / "summary.json", results / "half" / "summary.json")
    with Index(results) as index:
        assert "half" not in dict(index.sync().skipped)


def test_a_damaged_index_file_says_how_to_rebuild_it(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index_path(results).write_bytes(b"this is not a database" * 100)
    code, out = history(results, capsys=capsys)
    assert code == 2 and "delete it" in out and "REINDEX=1" in out and "Traceback" not in out


def test_an_index_of_another_schema_version_is_read_again(results: Path) -> None:
    series(results, factors(3, 4))
    with Index(results) as index:
        index.sync()
        index.conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with Index(results) as index:
        assert index.counts() == (0, 0)
        assert index.sync().added == 3


def _record_many(results: str, folders: list[str]) -> None:
    from vllm_workflow.history.index import Index as Ix

    for folder in folders:
        with Ix(Path(results)) as index:
            assert index.record(Path(folder)) is None


def test_two_concurrent_writers_lose_nothing(results: Path) -> None:
    folders = [str(vary(results, i)) for i in range(40)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(results), folders[k::2])) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    conn = sqlite3.connect(index_path(results))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 40
    assert conn.execute("SELECT count(DISTINCT run_id) FROM figures").fetchone()[0] == 40


def test_a_written_bundle_is_recorded_through_the_command_line_hook(results: Path) -> None:
    from vllm_workflow.benchmark import bundle
    from vllm_workflow.cli import _record_results

    _record_results()
    folder = vary(results, 0)
    bundle.announce(results, folder)
    with Index(results) as index:
        assert [r.path for r in index.runs()] == [folder.name]


# -- the newest run against its history -------------------------------------------------------------

def test_a_25_percent_ttft_step_in_the_newest_run_gives_exit_1_and_names_the_kernel(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(10, 5), ttft=True, kernel="6.18.0")
    vary(results, 10, ttft_scale=1.25, kernel="6.19.0-rc1", commit="b" * 40)
    code, out = history(results, "--check", capsys=capsys)
    assert code == 1, out
    assert "Newest run (6.19.0-rc1) against the 10 comparable run(s) before it" in out
    assert "regression" in out.split("Newest run", 1)[1].splitlines()[0]
    assert "TTFT p50: +2" in out and "kernel 6.18.0 → 6.19.0-rc1" in out
    check = json.loads(next(results.glob("*-history/check.json")).read_text())
    ttft = next(m for m in check["check"]["metrics"] if m["metric"] == "ttft_p50")
    assert ttft["verdict"] == "regression" and 0.2 < ttft["delta"] < 0.3 and ttft["p_adjusted"] < 0.05
    assert check["exit_code"] == 1 and check["run"] == "20261101T100000Z-nightly"


def test_ten_runs_and_a_new_one_from_one_distribution_give_exit_0(results: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(11, 6), ttft=True)
    code, out = history(results, "--check", capsys=capsys)
    assert code == 0, out
    check = json.loads(next(results.glob("*-history/check.json")).read_text())
    assert check["check"]["verdict"] in ("no significant change", "inconclusive")
    assert not [m for m in check["check"]["metrics"] if m["verdict"] == "regression"]


def test_too_few_comparable_runs_give_exit_2_and_125_under_bisect(results: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out = history(results, "--check", capsys=capsys)
    assert code == 2 and "No complete benchmark runs" in out
    series(results, factors(3, 7))
    code, out = history(results, "--check", capsys=capsys)
    assert code == 2 and "2 comparable complete run(s) before the newest; the check needs 3" in out
    code, out = history(results, "--check", "--bisect", capsys=capsys)
    assert code == 125


def test_an_improvement_is_within_history(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(10, 8), ttft=True)
    vary(results, 10, ttft_scale=0.75)
    code, out = history(results, "--check", capsys=capsys)
    assert code == 0 and "improvement" in out


def test_the_check_holds_its_false_alarm_rate_and_finds_the_promised_step() -> None:
    """Calibration on data with a known answer: A/A and a +25 % step at the local stack's noise."""
    rng = np.random.default_rng(11)
    alarms = found = 0
    trials = 2000
    for _ in range(trials):
        hist = np.exp(rng.normal(0, NOISE * 1.7, 10))  # 0.05: noisier than the local stack
        same = float(np.exp(rng.normal(0, NOISE * 1.7)))
        s = stats.shift(hist, same)
        alarms += s.p < 0.05 / 4 and s.delta > 0.05
        s = stats.shift(hist, same * 1.25)
        found += s.p < 0.05 / 4 and s.delta > 0.05
    assert alarms / trials <= 0.02
    assert found / trials >= 0.8
    assert 0.18 < stats.detectable(0.05, 10) < 0.26  # what the docs promise for sd 0.05 and ten runs


def test_change_points_are_found_where_the_series_stepped_and_not_in_noise() -> None:
    rng = np.random.default_rng(3)
    flat = np.exp(rng.normal(0, 0.03, 30))
    assert stats.change_points(flat) == []
    stepped = np.concatenate([flat[:18], flat[18:] * 1.3])
    found = stats.change_points(stepped)
    assert [s.at for s in found] == [18] and 0.25 < found[0].delta < 0.35
    two = np.concatenate([flat[:10], flat[10:20] * 1.3, flat[20:] * 0.8])
    assert [s.at for s in stats.change_points(two)] == [10, 20]


def test_change_points_name_the_kernel_and_commit_where_the_series_stepped(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = factors(16, 9)
    series(results, f[:8], kernel="6.18.0")
    for i, x in enumerate(f[8:], 8):
        vary(results, i, scale=x * 1.3, kernel="6.19.0", commit="c" * 40)
    code, out = history(results, capsys=capsys)
    assert code == 0
    steps = [line for line in out.splitlines() if "(worse) at 20261101T080000Z-nightly" in line]
    assert steps and all("kernel 6.18.0 → 6.19.0" in s and "commit aaaaaaaaaa → cccccccccc" in s for s in steps)
    report = next(results.glob("*-history"))
    assert {p.name for p in report.glob("trend-*.png")} >= {"trend-ttft_p50.png", "trend-e2e_p50.png",
                                                            "trend-requests_per_s.png"}
    assert "6.18.0 → 6.19.0" in (report / "report.html").read_text()


# -- filters, export, A/B and bisect ----------------------------------------------------------------

def test_filters_select_runs(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series(results, factors(4, 10), kernel="6.18.0", host="alpha", label="nightly")
    for i in range(4, 7):
        vary(results, i, kernel="6.19.0", host="beta", label="weekly")

    def paths(*args: str) -> list[str]:
        code, out = history(results, "--format", "json", *args, capsys=capsys, stdout=True)
        assert code == 0
        return [row["path"] for row in json.loads(out)]

    assert len(paths()) == 7
    assert len(paths("--label", "week")) == 3 and len(paths("--label", "night*")) == 4
    assert len(paths("--host", "alpha")) == 4 and len(paths("--kernel", "6.19")) == 3
    assert paths("--last", "2") == ["20261101T050000Z-weekly", "20261101T060000Z-weekly"]
    assert len(paths("--since", "2026-11-01T04:00")) == 3
    assert paths("--since", "7d") == []  # every copy is from November 2026, over a month ago
    code, out = history(results, "--format", "csv", capsys=capsys, stdout=True)
    lines = out.splitlines()
    assert len(lines) == 8 and "ttft_p50_lo" in lines[0] and ",6.19.0," in lines[-1]


def test_bad_filters_name_the_setting_and_the_fix(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, words in ((["--since", "yesterday"], "SINCE='yesterday' is not a date. Fix:"),
                        (["--last", "ten"], "LAST='ten' is not a number of runs"),
                        (["--last", "-3"], "LAST=-3 must be a positive number"),
                        (["--format", "xml"], "FORMAT='xml' is not an export format. Fix: FORMAT=csv"),
                        (["--window", "1"], "CONFIG_VLLM_HISTORY_WINDOW")):
        code, out = history(results, *args, capsys=capsys)
        assert code == 2 and words in out and "Traceback" not in out
    assert not list(results.glob("*-history"))


def test_since_accepts_dates_and_ages() -> None:
    now = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    assert since_bound("2026-12-01", now) == "2026-12-01T00:00:00+00:00"
    assert since_bound("12h", now) == "2026-12-05T00:00:00+00:00"
    assert since_bound("2w", now) == "2026-11-21T12:00:00+00:00"
    with pytest.raises(WorkflowError):
        since_bound("soon", now)
    assert Filters(label="x", last=3).describe() == "LABEL=x LAST=3"


def _comparison(results: Path, name: str, base: list[Path], dev: list[Path], bisect: bool, verdict: str,
                code: int) -> Path:
    folder = results / name
    folder.mkdir()
    (folder / "comparison.json").write_text(json.dumps({
        "schema": "vllm-workflow/ab-comparison", "schema_version": 2, "label": "ab", "created": "2026-11-02T00:00:00+00:00",
        "complete": True, "arms": {"baseline": {"host": "a", "bundles": [p.name for p in base]},
                                   "dev": {"host": "b", "bundles": [p.name for p in dev]}},
        "verdict": verdict, "exit_code": code, "exit_codes": "bisect" if bisect else "ci",
        "metrics": [{"metric": "ttft_p50", "primary": True, "delta": 0.3, "ci": [0.2, 0.4], "verdict": verdict}]}))
    return folder


def test_ab_pairs_are_linked_and_bisect_runs_make_a_log(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vllm_workflow.ab.service import SCHEMA

    assert SCHEMA == "vllm-workflow/ab-comparison"
    base = [vary(results, i, label="ab-baseline") for i in range(2)]
    dev = [vary(results, i + 2, label="ab-dev", kernel="6.19.0", commit="d" * 40) for i in range(2)]
    _comparison(results, "20261102T000000Z-ab-ab", base, dev, True, "regression", 1)
    code, out = history(results, capsys=capsys)
    assert code == 0 and "dev of 20261102T000000Z-ab-ab" in out and "baseline of 20261102T000000Z-ab-ab" in out
    code, out = history(results, "--bisect", capsys=capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if "step  1" in x)
    assert "A/B" in line and "kernel 6.19.0" in line and "dddddddddd" in line and "regression → bad" in line


def test_scan_does_not_descend_into_bundles_or_hidden_folders(results: Path) -> None:
    folder = vary(results, 0)
    (folder / "nested").mkdir()
    shutil.copy(REAL / "summary.json", folder / "nested" / "summary.json")
    (results / ".trash").mkdir()
    shutil.copytree(folder, results / ".trash" / "old")
    assert [f.path for f in scan(results)] == [folder.name]

