"""A test double for Grafana's HTTP API (health, datasources by uid, dashboards), in a thread.

Not Grafana: it keeps what it is sent in memory and records every request, so tests can check
what vllm-workflow provisions and that a second run changes nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GrafanaStub:
    def __init__(self, token: str = "") -> None:
        self.token = token
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                return json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")

            def _handle(self, method: str) -> None:
                stub.requests.append((method, self.path, dict(self.headers)))
                if self.path == "/api/health":
                    return self._reply(200, {"database": "ok", "version": "test-double"})
                if stub.token and self.headers.get("authorization") != f"Bearer {stub.token}":
                    return self._reply(401, {"message": "Unauthorized"})
                if self.path.startswith("/api/datasources/uid/"):
                    uid = self.path.rsplit("/", 1)[1]
                    if method == "GET":
                        ds = stub.datasources.get(uid)
                        return self._reply(200, ds) if ds else self._reply(404, {"message": "not found"})
                    stub.datasources[uid] = self._body()
                    return self._reply(200, {"message": "Datasource updated"})
                if self.path == "/api/datasources" and method == "POST":
                    body = self._body()
                    stub.datasources[body["uid"]] = body | {"id": len(stub.datasources) + 1}
                    return self._reply(200, {"message": "Datasource added"})
                if self.path.startswith("/api/dashboards/uid/"):
                    board = stub.dashboards.get(self.path.rsplit("/", 1)[1])
                    return self._reply(200, {"dashboard": board}) if board else self._reply(404, {"message": "nf"})
                if self.path == "/api/dashboards/db" and method == "POST":
                    board = self._body()["dashboard"]
                    stub.dashboards[board["uid"]] = board
                    return self._reply(200, {"status": "success", "uid": board["uid"]})
                return self._reply(404, {"message": "not found"})

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GrafanaStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
