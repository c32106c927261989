"""Subcommands that act on a deployed stack (local plan, quick-test, status)."""

from __future__ import annotations

from collections.abc import Callable


def register(add: Callable) -> None:
    """Add the stack subcommands to the CLI parser."""
