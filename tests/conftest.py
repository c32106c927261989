"""Shared fixtures: the project tree and a Kconfig loaded from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_workflow.kconfig import Tree

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tree() -> Tree:
    return Tree(ROOT)


@pytest.fixture()
def vars_for(tree: Tree, tmp_path: Path):
    """extra vars (dict) for a defconfig name plus extra .config lines."""
    from vllm_workflow import config
    from vllm_workflow.kconfig import load_config

    def make(name: str, *lines: str) -> dict:
        kconf = load_config(tree, tree.defconfigs / name)
        if lines:
            frag = tmp_path / f"{name}.frag"
            frag.write_text("".join(line + "\n" for line in lines))
            kconf.warn_assign_override = False
            kconf.load_config(str(frag), replace=False)
        values = config.extra_vars(kconf)
        values.update(config.secret_vars(kconf, {}))
        return values

    return make
