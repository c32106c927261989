"""JUnit XML, the test-report format Jenkins, GitLab and GitHub test reporters read.

Pure: cases in, XML text out (ElementTree escapes names and messages). One ``<testsuite>``
per stack or comparison inside one ``<testsuites>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomic

#: Where the controller writes reports for CI, relative to the project root.
JUNIT_DIR = "workflows/vllm/reports"  # beside results/: quick-test and routing-check reports for CI


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # message when the case failed
    skipped: str | None = None  # reason when it was not run
    output: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    cases: Sequence[Case]


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters: drop them."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 32)


def render(suites: Iterable[Suite]) -> str:
    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    total_time = 0.0
    for suite in suites:
        failures = sum(c.failure is not None for c in suite.cases)
        skipped = sum(c.skipped is not None and c.failure is None for c in suite.cases)
        seconds = sum(c.seconds for c in suite.cases)
        el = ET.SubElement(root, "testsuite", name=_clean(suite.name), tests=str(len(suite.cases)),
                           failures=str(failures), errors="0", skipped=str(skipped), time=f"{seconds:.3f}")
        for case in suite.cases:
            c = ET.SubElement(el, "testcase", name=_clean(case.name), classname=_clean(case.classname),
                              time=f"{case.seconds:.3f}")
            if case.failure is not None:
                f = ET.SubElement(c, "failure", message=_clean(case.failure)[:1000])
                f.text = _clean(case.failure)
            elif case.skipped is not None:
                ET.SubElement(c, "skipped", message=_clean(case.skipped))
            if case.output:
                ET.SubElement(c, "system-out").text = _clean(case.output)
        totals["tests"] += len(suite.cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
        total_time += seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: Path, suites: Iterable[Suite]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render(suites))
    return path


def markdown(title: str, suites: Iterable[Suite]) -> str:
    """A summary a CI job can post as it is: counts, then one line per failed case."""
    suites = list(suites)
    cases = [c for s in suites for c in s.cases]
    failed = [(s, c) for s in suites for c in s.cases if c.failure is not None]
    mark = "❌" if failed else "✅"
    lines = [f"### {mark} {title}: {len(cases) - len(failed)} passed, {len(failed)} failed", ""]
    lines += ["| suite | passed | failed |", "|---|---:|---:|"]
    for s in suites:
        bad = sum(c.failure is not None for c in s.cases)
        lines.append(f"| {s.name} | {len(s.cases) - bad} | {bad} |")
    if failed:
        lines += ["", "Failed:", ""]
        lines += [f"- **{s.name}** · {c.name}: {(c.failure or '').splitlines()[0] if c.failure else ''}"
                  for s, c in failed]
    return "\n".join(lines) + "\n"


def write_reports(root: Path, name: str, suites: list[Suite]) -> str:
    """JUnit XML and a Markdown summary for CI under ROOT/JUNIT_DIR; the line that names them."""
    folder = Path(root).resolve() / JUNIT_DIR
    xml = write(folder / f"{name}.xml", suites)
    md = folder / f"{name}.md"
    write_atomic(md, markdown(name, suites))
    return f"🧾 JUnit: {xml} · summary: {md}"
