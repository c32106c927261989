"""TEST DOUBLE: a minimal OpenAI-compatible streaming server with known timing.

Not a serving engine and never used by a make target. It exists to measure
the load generator: with zero delays it shows the client's ceiling, with a
known time to first token and inter-token delay it shows the client's
fidelity, and with failure switches it exercises error handling.

It speaks just enough HTTP/1.1 (keep-alive, chunked responses) on asyncio
streams to be cheap: a zero-delay response is written in one go.

Run: python -m tests.doubles.streaming_stub --port 18999 [--ttft-ms 50 --itl-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MODEL = "stub-model"


@dataclass
class StubBehaviour:
    ttft_s: float = 0.0
    itl_s: float = 0.0
    tokens: int = 16  # used when the request gives no max_tokens
    fail_every: int = 0  # every Nth request answers HTTP 500
    drop_every: int = 0  # every Nth request is cut after its first token
    record: bool = False  # keep (path, headers, body) of every request
    seen: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    count: int = 0


def encode(text: str) -> list[int]:
    """Fake tokenizer: one token per whitespace-separated word."""
    out = []
    for w in text.split():
        out.append(int(w[3:]) if w.startswith("tok") and w[3:].isdigit() else sum(map(ord, w)) % 1000)
    return out


def decode(ids: list[int]) -> str:
    return " ".join(f"tok{i}" for i in ids)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _token_event(chat: bool, i: int, text: str | None = None) -> bytes:
    text = f" t{i}" if text is None else text
    choice = {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
    return _event({"id": "stub", "object": "chunk", "model": MODEL, "choices": [choice]})


async def _until(deadline: float) -> None:
    """Sleep until ``deadline`` (perf_counter) to within ~0.1 ms: the event loop's timer
    rounds to whole milliseconds, so the last 2 ms are spent yielding to other tasks."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        await asyncio.sleep(left - 0.002 if left > 0.003 else 0)


class StubServer:
    def __init__(self, behaviour: StubBehaviour | None = None) -> None:
        self.b = behaviour or StubBehaviour()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._conn, host, port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
                n = int(headers.get("content-length", "0"))
                body = json.loads(await reader.readexactly(n)) if n else {}
                if not await self._handle(method, path, headers, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._conns.discard(task)

    async def _simple(self, writer: asyncio.StreamWriter, status: int, payload: Any,
                      ctype: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        writer.write(b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                     % (status, ctype.encode(), len(data), data))
        await writer.drain()

    async def _handle(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any],
                      writer: asyncio.StreamWriter) -> bool:
        b = self.b
        if path == "/v1/models":
            await self._simple(writer, 200, {"data": [{"id": MODEL}]})
            return True
        if path == "/tokenize":
            ids = encode(body.get("prompt", ""))
            await self._simple(writer, 200, {"tokens": ids, "count": len(ids)})
            return True
        if path == "/detokenize":
            await self._simple(writer, 200, {"prompt": decode(body.get("tokens", []))})
            return True
        if path in ("/health", "/metrics"):
            await self._simple(writer, 200, b"", "text/plain")
            return True
        if path not in ("/v1/completions", "/v1/chat/completions"):
            await self._simple(writer, 404, {"error": "not found"})
            return True
        b.count += 1
        if b.record:
            b.seen.append((path, headers, body))
        if b.fail_every and b.count % b.fail_every == 0:
            await self._simple(writer, 500, {"error": {"message": "stub failure"}})
            return True
        chat = path.endswith("chat/completions")
        n = int(body.get("max_tokens") or b.tokens)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        events = [_token_event(chat, i) for i in range(n)]
        usage = _event({"id": "stub", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": n}})
        drop = bool(b.drop_every and b.count % b.drop_every == 0)
        if b.ttft_s == 0 and b.itl_s == 0 and not drop:
            writer.write(_chunk(b"".join(events) + usage + b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            return True
        # Timed mode: each token is written at an absolute deadline (no drift), and its text is
        # the monotonic time of the write, so a client can compare its arrival times with it.
        deadline = time.perf_counter() + b.ttft_s
        for i in range(n):
            if i:
                deadline += b.itl_s
            await _until(deadline)
            writer.write(_chunk(_token_event(chat, i, f" {time.perf_counter():.7f}")))
            await writer.drain()
            if drop:
                return False  # cut the connection mid-stream
        writer.write(_chunk(usage + b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()
        return True


class StubInThread:
    """The stub on its own event loop in a background thread (for tests): ``with StubInThread() as url``."""

    def __init__(self, behaviour: StubBehaviour | None = None) -> None:
        self.server = StubServer(behaviour)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=18999)
    p.add_argument("--ttft-ms", type=float, default=0.0)
    p.add_argument("--itl-ms", type=float, default=0.0)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--drop-every", type=int, default=0)
    a = p.parse_args(argv)

    async def serve() -> None:
        server = StubServer(StubBehaviour(a.ttft_ms / 1000, a.itl_ms / 1000, fail_every=a.fail_every,
                                          drop_every=a.drop_every))
        port = await server.start(port=a.port)
        print(f"stub listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
