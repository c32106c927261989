"""Write ``settings.py``, the typed view of the settings, from the Kconfig tree.

Every ``VLLM_*`` symbol becomes one typed, documented property of
:class:`vllm_workflow.settings.Settings` (``CONFIG_VLLM_API_PORT`` -> ``Settings.api_port: int``),
so Python reads a setting by a name that a type checker and the tests know, and renaming a
symbol breaks its readers in ``make test`` instead of at deploy time. A key missing from the
mapping (a hand-written test dict, a key another tool dropped) reads as the symbol's value in
the default configuration, else its last unconditional ``default``: Kconfig stays the one
source of defaults.

Regenerate after adding, renaming or retyping a symbol::

    .venv/bin/python -m vllm_workflow.settings_gen

``tests/test_settings.py`` fails, naming this command, when the file and the Kconfig differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kconfiglib

from .config import var_name, workflow_symbols
from .files import write_if_changed
from .kconfig import Tree, load_kconfig
from .symbols import SYMBOL_PREFIX

OUTPUT = Path(__file__).with_name("settings.py")

_TYPES = {kconfiglib.BOOL: ("bool", "_bool"), kconfiglib.TRISTATE: ("bool", "_bool"),
          kconfiglib.INT: ("int", "_int"), kconfiglib.HEX: ("int", "_int"), kconfiglib.STRING: ("str", "_str")}

_HEADER = '''"""The workflow's settings as one typed view: GENERATED from Kconfig, do not edit.

Regenerate with ``.venv/bin/python -m vllm_workflow.settings_gen`` (see settings_gen.py).
One property per ``VLLM_*`` symbol: ``CONFIG_VLLM_API_PORT`` is ``Settings.api_port`` and the
extra var ``vllm_api_port``. A missing value (or an empty bool or int) reads as the symbol's default.
"""

from __future__ import annotations

from .settings_base import SettingsView


class Settings(SettingsView):
    """A read-only, typed view of the settings mapping (``extra_vars`` and secrets); also the
    mapping itself, so a function may take either (``Settings.of`` does not wrap twice)."""

    __slots__ = ()
'''


def fallback(sym: kconfiglib.Symbol) -> bool | int | str:
    """The value a missing key reads as: the default configuration's, else the last
    unconditional constant default, else the type's empty value."""
    kind = _TYPES[sym.orig_type][0]
    if kind == "bool":
        return sym.tri_value == 2
    text = sym.str_value
    if not text:
        for value, cond in sym.orig_defaults:
            if cond is sym.kconfig.y and isinstance(value, kconfiglib.Symbol) and not value.nodes:
                text = value.name
    if kind == "int":
        return int(text, 16 if sym.orig_type is kconfiglib.HEX else 10) if text else 0
    return text


def prompt(sym: kconfiglib.Symbol) -> str:
    for node in sym.nodes:
        if node.prompt:
            return " ".join(node.prompt[0].split())
    return "derived from other settings (no prompt)"


def render(kconf: kconfiglib.Kconfig) -> str:
    lines = [_HEADER]
    for sym in sorted(workflow_symbols(kconf), key=lambda s: s.name):
        kind, reader = _TYPES[sym.orig_type]
        attr = sym.name[len(SYMBOL_PREFIX):].lower()
        text = prompt(sym).replace("\\", "\\\\").replace('"', '\\"')
        lines += ["    @property",
                  f"    def {attr}(self) -> {kind}:",
                  f'        """CONFIG_{sym.name}: {text}."""',
                  f"        return self.{reader}({var_name(sym.name)!r}, {fallback(sym)!r})",
                  ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vllm_workflow.settings_gen", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2], help="the project root (Kconfig)")
    ap.add_argument("--check", action="store_true", help="exit 1 when settings.py is out of date, writing nothing")
    args = ap.parse_args(argv)
    text = render(load_kconfig(Tree(args.root)))
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT} is out of date with Kconfig. Fix: .venv/bin/python -m vllm_workflow.settings_gen",
                  file=sys.stderr)
            return 1
        return 0
    print(f"{OUTPUT}: {'written' if write_if_changed(OUTPUT, text, 0o644) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
