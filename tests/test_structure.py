"""The package's shape: no import cycles (function-level imports included), every module imports alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "vllm_workflow"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that ``name`` imports anywhere in its file (in functions too)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return (found & known) - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_graph_has_no_cycle() -> None:
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    assert len(graph) > 50 and graph["vllm_workflow.config"] >= {"vllm_workflow.symbols"}
    assert cycles(graph) == []


@pytest.mark.slow
def test_every_module_imports_alone() -> None:
    """`python -c 'import m'` for each module in a fresh interpreter (target helpers included)."""
    failed = []
    for name in modules():
        out = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True,
                             cwd=SRC, timeout=120)
        if out.returncode != 0:
            failed.append(f"{name}: {out.stderr.strip().splitlines()[-1:]}")
    assert failed == []


def test_http_helper_sends_the_key_and_retries_only_failed_connections() -> None:
    from vllm_workflow.httpclient import auth_headers, session

    assert auth_headers("") == {} and auth_headers("", connection="close") == {"connection": "close"}
    assert auth_headers("k1") == {"Authorization": "Bearer k1"}
    s = session("k2", retries=3)
    assert s.headers["Authorization"] == "Bearer k2"
    retry = s.get_adapter("http://127.0.0.1:1").max_retries
    assert (retry.total, retry.connect, retry.read, retry.status) == (3, 3, 0, 0)
    assert retry.allowed_methods == frozenset({"GET", "HEAD"})  # never a POST that may have been served


def package_graph() -> dict[str, set[str]]:
    """Top-level units (a subpackage, or a module directly under vllm_workflow) and what each imports."""
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    out: dict[str, set[str]] = {}
    for name, deps in graph.items():
        out.setdefault(unit(name), set()).update(unit(d) for d in deps if unit(d) != unit(name))
    return out


def test_no_package_imports_another_that_imports_it_back() -> None:
    """Issue 28: no package-level cycle (a subpackage, or a module directly under vllm_workflow, is
    one unit). The fault workload plugs into the benchmark through benchmark/extensions.py, the A/B
    arms' settings are arms.py (both backends read them), secrets are read in config.py."""
    graph = package_graph()
    assert cycles(graph) == [], cycles(graph)
    assert "vllm_workflow.fault" not in graph["vllm_workflow.benchmark"]
    assert "vllm_workflow.ab" not in graph["vllm_workflow.local"] | graph["vllm_workflow.kubernetes"]
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]  # the finder sees package cycles too


def test_every_command_starts_without_the_load_machinery() -> None:
    """The command line registers the fault workload at start-up (benchmark/extensions.py); the
    fault driver, the HTTP client it needs and the analysis load only when used (each `make`
    target starts a fresh process: 0.44 s of start-up with them, 0.11 s without them and the results
    index, which loads when a folder is recorded)."""
    import subprocess
    import sys

    code = ("import sys; from vllm_workflow import cli; cli.build_parser(); cli._record_results(); "
            "print(sorted(m for m in ('aiohttp', 'vllm_workflow.fault.session', 'vllm_workflow.fault.driver', "
            "'vllm_workflow.history.index') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from vllm_workflow.benchmark import extensions
    from vllm_workflow.fault.extension import EXTENSION

    extensions.register(EXTENSION)
    assert extensions.for_workload("fault") is EXTENSION and extensions.for_workload("concurrent") is None
