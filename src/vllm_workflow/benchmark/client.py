"""The streaming HTTP client: one coroutine per request, every token timestamped.

Kept lean on purpose: a chunk read from the socket is timestamped once, split
into server-sent events, and only events carrying text add a token time. JSON
is parsed per event (vLLM sends one small event per token).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .records import RequestRecord
from ..httpclient import auth_headers

#: Response headers through which a backend may tell which engine served a request.
ENGINE_HEADERS = ("x-served-by", "x-worker-url", "x-vllm-engine")
_ERROR_TEXT_MAX = 300


@dataclass(frozen=True)
class Target:
    """Where requests go and how they are authorised. The key is never printed."""

    api_url: str
    model: str
    session_header: str = "x-user-id"
    api_key: str = ""

    def headers(self) -> dict[str, str]:
        return auth_headers(self.api_key, **{"content-type": "application/json"})


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete server-sent events in ``buffer`` and the incomplete rest."""
    if b"\r\n" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n")
    parts = buffer.split(b"\n\n")
    return parts[:-1], parts[-1]


def event_data(event: bytes) -> bytes | None:
    """The payload of an SSE event's ``data:`` line(s); None for comments and empty events."""
    if event.startswith(b"data: ") and b"\n" not in event:  # the usual one-line event
        return event[6:]
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def scan_plain(events: bytes) -> tuple[int, dict[str, Any] | None] | None:
    """Tokens and usage in complete events without parsing each one, or None when they
    need the full parse (a chat role chunk, an error, anything not plainly JSON data).

    Safe because JSON escapes quotes inside strings: generated text can never contain
    the raw byte sequences counted or looked for here. Only the (last) usage chunk is parsed.
    """
    if b'"role"' in events or b'"error"' in events or b"data: {" not in events:
        return None
    tokens = events.count(b'"choices":[{')
    at = events.rfind(b'"usage":{')
    if at < 0:
        return tokens, None
    start = events.rfind(b"data:", 0, at)
    stop = events.find(b"\n\n", at)
    payload = event_data(events[start:stop if stop >= 0 else len(events)])
    return tokens, (json.loads(payload).get("usage") if payload else None)


def chunk_token(obj: dict[str, Any]) -> str | None:
    """The text of the token a chunk carries ('' for a token that decodes to nothing), or None
    when the chunk carries no token (usage-only chunk, chat's opening role chunk)."""
    choices = obj.get("choices")
    if not choices:
        return None
    first = choices[0]
    delta = first.get("delta")
    if delta is not None:
        if "role" in delta and not delta.get("content"):
            return None
        return delta.get("content") or ""
    return first.get("text") or ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_MAX else text[:_ERROR_TEXT_MAX] + "…"


async def stream_request(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    record: RequestRecord,
    clock: Callable[[], float],
    timeout_s: float,
    keep_text: bool = False,
) -> str:
    """Send one streaming request, filling ``record``; return the generated text when asked.

    Never raises for request failures: they end up in ``record.error``.
    Cancellation (a stop) marks the record cancelled and propagates.
    """
    pieces: list[str] = []
    times = record.token_times
    record.send = clock()
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(url, data=body, headers=headers) as resp:
                record.status = resp.status
                for name in ENGINE_HEADERS:
                    if name in resp.headers:
                        record.engine = resp.headers[name]
                        break
                if resp.status != 200:
                    record.error = f"HTTP {resp.status}: {_clip(await resp.text())}"
                    return ""
                rest = b""
                async for data in resp.content.iter_any():
                    now = clock()
                    buffer = rest + data
                    if b"\r" in buffer:
                        buffer = buffer.replace(b"\r\n", b"\n")
                    end = buffer.rfind(b"\n\n")
                    if end < 0:
                        rest = buffer
                        continue
                    complete, rest = buffer[:end + 2], buffer[end + 2:]
                    fast = None if keep_text else scan_plain(complete)
                    if fast is not None:  # the hot path: no per-event work
                        tokens, usage = fast
                        times.extend([now] * tokens)
                        if usage:
                            record.prompt_tokens = usage.get("prompt_tokens")
                            record.output_tokens = usage.get("completion_tokens")
                        continue
                    events, _ = split_events(complete)
                    for event in events:
                        payload = event_data(event)
                        if payload is None or payload == b"[DONE]":
                            continue
                        obj = json.loads(payload)
                        if "error" in obj and not obj.get("choices"):
                            err = obj["error"]
                            message = err.get("message", err) if isinstance(err, dict) else err
                            record.error = "stream error: " + _clip(str(message))
                            continue
                        text = chunk_token(obj)
                        if text is not None:
                            times.append(now)
                            if keep_text:
                                pieces.append(text)
                        usage = obj.get("usage")
                        if usage:
                            record.prompt_tokens = usage.get("prompt_tokens")
                            record.output_tokens = usage.get("completion_tokens")
    except asyncio.CancelledError:
        record.cancelled = True
        record.error = record.error or "cancelled: the run was stopped"
        raise
    except TimeoutError:
        record.error = f"timeout: no complete answer within {timeout_s:g} s"
    except aiohttp.ClientError as exc:
        record.error = f"connection: {_clip(str(exc) or type(exc).__name__)}"
    except (ValueError, KeyError, TypeError) as exc:
        record.error = f"bad stream: {_clip(str(exc))}"
    finally:
        record.end = clock()
    if record.error is None and not times:
        record.error = "no tokens streamed"
    return "".join(pieces)


def completion_body(model: str, prompt: list[int] | str, max_tokens: int) -> bytes:
    return json.dumps({
        "model": model, "prompt": prompt, "max_tokens": max_tokens, "min_tokens": max_tokens,
        "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}, "temperature": 0,
    }, separators=(",", ":")).encode()


class TokenPromptBody:
    """``completion_body`` for token-id prompts, pre-encoded: only the ids are formatted per request."""

    def __init__(self, model: str, max_tokens: int) -> None:
        template = completion_body(model, [0], max_tokens)
        self._head, self._tail = template.split(b'"prompt":[0]')
        self._head += b'"prompt":['
        self._tail = b"]" + self._tail

    def __call__(self, ids: list[int]) -> bytes:
        return self._head + ",".join(map(str, ids)).encode() + self._tail


def chat_body(model: str, messages: list[dict[str, str]], max_tokens: int) -> bytes:
    return json.dumps({
        "model": model, "messages": messages, "max_tokens": max_tokens, "min_tokens": max_tokens,
        "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}, "temperature": 0,
    }, separators=(",", ":")).encode()


class RunClock:
    """Seconds since it was made or last restarted, on the monotonic high-resolution clock: one
    object the runner restarts when the run starts and the fault driver reads."""

    __slots__ = ("_t0",)

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self._t0

    def restart(self) -> None:
        self._t0 = time.perf_counter()


def monotonic_clock() -> RunClock:
    """Seconds since now, on the monotonic high-resolution clock."""
    return RunClock()
