"""Read Prometheus text exposition from engines and the router."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample as (name, labels, value)."""
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.append((sample.name, dict(sample.labels), float(sample.value)))
    return out


def total(text: str, name: str, match: Mapping[str, str] | None = None) -> float:
    """Sum of ``name`` over all label sets (optionally only those matching ``match``)."""
    match = match or {}
    return sum(
        value
        for sample_name, labels, value in samples(text)
        if sample_name == name and all(labels.get(k) == v for k, v in match.items())
    )


def fetch(url: str, timeout: float = 5.0) -> str:
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.text
