"""Declared hosts: parse and check ``CONFIG_VLLM_DECLARED_HOSTS`` (a leaf module).

A host is ``[user@]name[:port]``: a DNS name (letters, digits, ``-``, dots, ``_`` as in
kdevops' ``prefix_vllm`` names), an IPv4 address, or an IPv6 address (bare, or in
brackets when a port follows). Anything else — spaces, ``=``, quotes, shell or INI
characters — is refused, so no inventory variable can be smuggled in through a name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import WorkflowError
from .settings import Settings

SETTING = "CONFIG_VLLM_DECLARED_HOSTS"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
MAX_NAME = 253


@dataclass(frozen=True)
class Host:
    spec: str  # as written in .config
    address: str  # name or IP address ssh connects to
    user: str | None = None
    port: int | None = None

    @property
    def name(self) -> str:
        """The inventory name: the address itself (kdevops' host names are their ssh names)."""
        return self.address


def _problem(spec: str, why: str) -> str:
    return (f"{SETTING}: '{spec[:80]}{'...' if len(spec) > 80 else ''}' {why}. Fix: list host names or IP "
            "addresses separated by commas, each optionally as user@host or host:port ([v6-address]:port).")


def parse_host(spec: str) -> Host:
    """One declared host, or WorkflowError naming the setting and the fix."""
    text = spec.strip()
    if not text:
        raise WorkflowError(_problem(spec, "is empty"))
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise WorkflowError(_problem(spec, "contains a space or control character"))
    user = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not USER.fullmatch(user):
            raise WorkflowError(_problem(spec, f"has an invalid user name '{user[:40]}'"))
    port = None
    if text.startswith("["):
        inside, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise WorkflowError(_problem(spec, "has an unbalanced [ ] around an IPv6 address"))
        text, port_text = inside, rest[1:] if rest else None
        if not _is_ip(text, 6):
            raise WorkflowError(_problem(spec, "has no IPv6 address inside [ ]"))
    elif text.count(":") == 1:
        text, port_text = text.split(":")
    else:
        port_text = None
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise WorkflowError(_problem(spec, f"has an invalid port '{port_text[:10]}'"))
        port = int(port_text)
    if not (_is_ip(text, 4) or _is_ip(text, 6) or (len(text) <= MAX_NAME and NAME.fullmatch(text)
                                                    and not text.replace(".", "").isdigit())):
        raise WorkflowError(_problem(spec, "is not a host name or IP address"))
    return Host(spec.strip(), text, user, port)


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def raw_hosts(v: Mapping[str, Any]) -> list[str]:
    s = Settings.of(v)
    return [h.strip() for h in s.declared_hosts.split(",") if h.strip()]


def declared(v: Mapping[str, Any]) -> list[Host]:
    """Every declared host, parsed; WorkflowError on the first bad one or a duplicate."""
    hosts: list[Host] = []
    for spec in raw_hosts(v):
        host = parse_host(spec)
        if any(h.name == host.name for h in hosts):
            raise WorkflowError(f"{SETTING}: '{host.name}' is listed twice. Fix: list each host once.")
        hosts.append(host)
    return hosts


def problems(v: Mapping[str, Any]) -> list[str]:
    """Every problem with the declared hosts (empty when they are fine)."""
    out = []
    seen: set[str] = set()
    for spec in raw_hosts(v):
        try:
            host = parse_host(spec)
        except WorkflowError as exc:
            out.append(str(exc))
            continue
        if host.name in seen:
            out.append(f"{SETTING}: '{host.name}' is listed twice. Fix: list each host once.")
        seen.add(host.name)
    return out


def find(hosts: list[Host], wanted: str) -> Host | None:
    """The declared host an A/B arm setting names (by its spec or its name)."""
    wanted = wanted.strip()
    return next((h for h in hosts if wanted in (h.spec, h.name)), None)
