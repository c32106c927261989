"""Reports from Jinja2 templates (package data under ``templates/``): HTML autoescaped, Markdown as is."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("vllm_workflow", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                      keep_trailing_newline=True)
    env.filters["tick"] = lambda text: f"`{text}`"  # Markdown code span
    return env


def render(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` (e.g. ``benchmark.html.j2``) with ``context``."""
    return _environment().get_template(name).render(**context)
