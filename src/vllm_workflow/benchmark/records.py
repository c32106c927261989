"""One record per request: what was sent, when every token arrived, how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    """Times are seconds since the run started (monotonic clock).

    ``token_times`` holds the arrival time of every streamed chunk that carried a
    generated token (text or not); vLLM sends one token per chunk, so these are
    token arrival times (when a chunk carries several tokens, they arrived together).
    """

    index: int
    send: float
    session: str | None = None
    stage: str | None = None
    warmup: bool = False
    end: float | None = None
    token_times: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    status: int | None = None
    error: str | None = None
    cancelled: bool = False
    engine: str | None = None
    model: str | None = None  # the model the request named, when the load mixes several

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled and self.status == 200 and bool(self.token_times)

    @property
    def ttft(self) -> float | None:
        return self.token_times[0] - self.send if self.token_times else None

    @property
    def e2e(self) -> float | None:
        return None if self.end is None else self.end - self.send

    @property
    def itls(self) -> list[float]:
        t = self.token_times
        return [b - a for a, b in zip(t, t[1:])]

    @property
    def tpot(self) -> float | None:
        """Mean time per output token after the first (None with fewer than two tokens)."""
        n = self.output_tokens if self.output_tokens is not None else len(self.token_times)
        if n < 2 or not self.token_times or self.end is None:
            return None
        return (self.end - self.token_times[0]) / (n - 1)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["token_times"] = [round(t, 6) for t in self.token_times]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
