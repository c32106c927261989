"""The typed view of the settings (settings.py, generated from Kconfig) and its reads in the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vllm_workflow import config, settings_gen
from vllm_workflow.kconfig import Tree, load_config, load_kconfig
from vllm_workflow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src/vllm_workflow"
PROPERTIES = {n: p for n, p in vars(Settings).items() if isinstance(p, property)}
TYPES = {"bool": bool, "int": int, "str": str}


def test_settings_py_is_generated_from_the_kconfig_as_it_is(tree: Tree) -> None:
    text = settings_gen.render(load_kconfig(tree))
    assert (SRC / "settings.py").read_text() == text, (
        "src/vllm_workflow/settings.py differs from the Kconfig. Fix: .venv/bin/python -m vllm_workflow.settings_gen")


def test_one_typed_property_per_symbol(tree: Tree) -> None:
    kconf = load_kconfig(tree)
    symbols = {s.name[len("VLLM_"):].lower(): s for s in config.workflow_symbols(kconf)}
    assert set(PROPERTIES) == set(symbols)
    kinds = {name: p.fget.__annotations__["return"] for name, p in PROPERTIES.items()}
    assert kinds["api_port"] == "int" and kinds["router_enabled"] == "bool" and kinds["routing_logic"] == "str"
    assert {k for k in kinds.values()} == {"bool", "int", "str"}


@pytest.mark.parametrize("name", ["vllm-local", "vllm-production-stack-cpu", "vllm-local-ab"])
def test_every_property_reads_its_type_from_a_real_configuration(tree: Tree, tmp_path: Path, name: str) -> None:
    cfg = tmp_path / ".config"
    cfg.write_text((tree.defconfigs / name).read_text())
    v = config.extra_vars(load_config(tree, cfg, strict=False))
    s = Settings(v)
    for attr, prop in PROPERTIES.items():
        value = getattr(s, attr)
        assert isinstance(value, TYPES[prop.fget.__annotations__["return"]]), attr
        raw = v.get(f"vllm_{attr}")
        if raw not in (None, ""):
            assert value == raw, attr  # a present value is read as it is
    assert s.api_port == v["vllm_api_port"] and s.routing_logic == v["vllm_routing_logic"]


def test_a_missing_key_reads_as_the_kconfig_default(tree: Tree) -> None:
    kconf = load_kconfig(tree)
    empty = Settings({})
    for sym in config.workflow_symbols(kconf):
        assert getattr(empty, sym.name[5:].lower()) == settings_gen.fallback(sym), sym.name
    # The default configuration's values, and for settings it hides the last plain default.
    assert empty.api_port == 8000 and empty.router_retry_max_retries == 5
    assert empty.helm_timeout_minutes == 20 and empty.target_device == "cpu" and empty.router_enabled is True


def test_values_are_read_by_type_and_an_empty_string_is_kept() -> None:
    s = Settings({"vllm_router_enabled": "n", "vllm_ab_testing": "y", "vllm_api_port": "8001",
                  "vllm_helm_timeout_minutes": None, "vllm_local_kv_cache_blocks": "",
                  "vllm_extra_engine_args": "", "vllm_local_bind_address": ""})
    assert s.router_enabled is False and s.ab_testing is True
    assert s.api_port == 8001 and s.helm_timeout_minutes == 20 and s.local_kv_cache_blocks == 0
    assert s.extra_engine_args == "" and s.local_bind_address == ""  # a string's "" is a value
    with pytest.raises(ValueError):
        Settings({"vllm_api_port": "eighty"}).api_port  # noqa: B018 - the read is the test


def test_the_view_is_the_mapping_too_and_is_never_wrapped_twice() -> None:
    v = {"vllm_api_port": 9000, "vllm_kdevops": {"arms": {}}}
    s = Settings.of(v)
    assert Settings.of(s) is s and Settings(s).api_port == 9000
    assert s["vllm_kdevops"] == {"arms": {}} and len(s) == 2 and dict(s) == v
    with pytest.raises(AttributeError):
        s.api_port = 1  # type: ignore[misc]


def test_the_generator_refuses_nothing_but_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "settings.py"
    stale.write_text("# old\n")
    monkeypatch.setattr(settings_gen, "OUTPUT", stale)
    assert settings_gen.main(["--root", str(ROOT), "--check"]) == 1
    assert "vllm_workflow.settings_gen" in capsys.readouterr().err and stale.read_text() == "# old\n"
    assert settings_gen.main(["--root", str(ROOT)]) == 0
    assert stale.read_text() == (SRC / "settings.py").read_text()
    assert settings_gen.main(["--root", str(ROOT), "--check"]) == 0


#: Where a setting's key may still be read by its string: arms.py (it writes the dev arm's keys from
#: tables of them) and config.py (it writes them). Everything else reads through Settings.
KEY_READ = re.compile(r"\b\w+(?:\[|\.get\()[\"'](vllm_[a-z0-9_]+)[\"'](?!\]\s*=[^=])")
ALLOWED = {"arms.py", "config.py"}


def test_settings_are_read_through_the_typed_view() -> None:
    keys = {f"vllm_{n}" for n in PROPERTIES}
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name in ("settings.py", "settings_gen.py") or path.name in ALLOWED and path.parent == SRC:
            continue
        hits = [k for k in KEY_READ.findall(path.read_text()) if k in keys]
        if hits:
            found[str(path.relative_to(SRC))] = hits
    assert found == {}, "read these through vllm_workflow.settings.Settings (s = Settings.of(v); s.<name>)"
