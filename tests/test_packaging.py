"""`pip install .` must give a vllm-workflow whose every command imports: each third-party module the
package imports (target-side helpers excluded: they run in the target's own virtualenvs) is a
declared dependency of pyproject.toml, pinned."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src/vllm_workflow"
DISTRIBUTION = {"yaml": "pyyaml", "prometheus_client": "prometheus-client"}


def imported_top_levels() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        if "target" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_pinned_dependency() -> None:
    declared = {}
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, _, version = spec.partition("==")
        assert re.fullmatch(r"\d+(\.\d+)*", version), f"{spec} is not pinned"
        declared[name.lower()] = version
    third_party = {m: where for m, where in imported_top_levels().items()
                   if m not in sys.stdlib_module_names and m != "vllm_workflow"}
    missing = {m: where for m, where in third_party.items() if DISTRIBUTION.get(m, m).lower() not in declared}
    assert missing == {}
    assert {"aiohttp", "numpy", "matplotlib", "rich", "prometheus_client"} <= set(third_party)


def test_dependency_pins_agree_with_the_lock() -> None:
    lock = dict(line.split("==", 1) for line in (ROOT / "requirements.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    lock = {k.lower().replace("_", "-"): v for k, v in lock.items()}  # pip freeze spells some with _
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, _, version = spec.partition("==")
        assert lock.get(name.lower()) == version, spec
