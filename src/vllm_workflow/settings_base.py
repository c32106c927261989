"""The mapping behind the typed settings view: reading a setting by its type and default.

``settings.py`` (generated from Kconfig) subclasses :class:`SettingsView` with one property per
symbol; nothing else should need this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

_TRUE = ("y", "yes", "true", "on", "1")


class SettingsView(Mapping[str, Any]):
    """A read-only, typed view of the settings mapping (``extra_vars`` and secrets).

    It is also the mapping itself (``Settings(v)["vllm_api_port"]``), so a function may take
    either; :meth:`of` does not wrap twice.
    """

    __slots__ = ("_v",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._v: Mapping[str, Any] = values._v if isinstance(values, SettingsView) else values

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        return values if isinstance(values, cls) else cls(values)

    def __getitem__(self, key: str) -> Any:
        return self._v[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._v)

    def __len__(self) -> int:
        return len(self._v)

    def _bool(self, key: str, default: bool) -> bool:
        value = self._v.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return bool(value)

    def _int(self, key: str, default: int) -> int:
        value = self._v.get(key)
        return default if value is None or value == "" else int(value)

    def _str(self, key: str, default: str) -> str:
        value = self._v.get(key)  # an empty string is a value ("none"), not a missing one
        return default if value is None else str(value)
