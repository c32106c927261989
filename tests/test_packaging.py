"""`pip install .` must give a vllm-workflow whose every command imports: each third-party module the
package imports (target-side helpers excluded: they run in the target's own virtualenvs) is a
declared dependency of pyproject.toml, pinned."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src/vllm_workflow"
DISTRIBUTION = {"yaml": "pyyaml", "prometheus_client": "prometheus-client", "ansible_runner": "ansible-runner"}


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


@pytest.mark.slow
def test_the_built_wheel_installs_and_every_module_imports(tmp_path: Path) -> None:
    """Build the wheel from a copy of the project, install it (without dependencies: those are
    borrowed from this virtualenv, minus the project itself) into a fresh virtualenv, import every
    module and run the CLI from there."""
    import shutil
    import site
    import subprocess

    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("vllm_workflow-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_dir = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies: this virtualenv's site-packages, without the editable project
    (site_dir / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    names = sorted({".".join(p.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(".__init__")
                    for p in PACKAGE.rglob("*.py")})
    templates = sorted(p.name for p in (PACKAGE / "templates").glob("*.j2"))
    assert len(templates) >= 3
    check = ("import importlib, vllm_workflow, sys\n"
             "assert '/src/' not in vllm_workflow.__file__ and 'site-packages' in vllm_workflow.__file__, "
             "vllm_workflow.__file__\n"
             f"for name in {names!r}:\n    importlib.import_module(name)\n"
             "from importlib.resources import files\n"
             f"assert all(files('vllm_workflow').joinpath('templates', t).is_file() for t in {templates!r})\n"
             f"print(len({names!r}))")
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) == len(names) > 50
    cli = subprocess.run([str(venv / "bin" / "vllm-workflow"), "--help"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert cli.returncode == 0 and "fault-test" in cli.stdout and "measure" in cli.stdout
