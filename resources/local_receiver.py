"""A tiny local HTTP inbox for apprise ``json://`` notifications.

Used by the demo (as the planner's inbox) and by the delivery tests. It listens on
127.0.0.1 only, on a free port unless given one (the demo pins a port so the channel
URL stored in its preference stays valid across runs). Every accepted JSON payload is
kept in memory and, optionally, appended as one line to a file. ``fail_next(n)`` makes
the next n requests answer HTTP 500, to exercise retries.

    with LocalReceiver(log_path="inbox.jsonl") as inbox:
        deliver(inbox.url, "subject", "body", "text")
        inbox.received  # [{"version": "1.0", "title": "subject", "message": "body", ...}]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        receiver = self.server.receiver
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if receiver._take_failure():
            self._reply(500)
            return
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            self._reply(400)
            return
        receiver._store(payload)
        self._reply(200)

    def _reply(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test and demo output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: LocalReceiver


class LocalReceiver:
    def __init__(self, path: str = "/inbox", log_path: str | Path | None = None, port: int = 0) -> None:
        self.path = "/" + path.lstrip("/")
        self.requested_port = port  # 0: let the OS pick a free port
        self.log_path = Path(log_path) if log_path is not None else None
        self._lock = threading.Lock()
        self._received: list = []
        self._failures_left = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> LocalReceiver:
        if self._server is None:
            self._server = _Server(("127.0.0.1", self.requested_port), _Handler)
            self._server.receiver = self
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="local-receiver", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> LocalReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("receiver is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """apprise URL that posts to this receiver."""
        return f"json://127.0.0.1:{self.port}{self.path}"

    # -- inbox --------------------------------------------------------------------------
    @property
    def received(self) -> list:
        """Copy of the accepted payloads, oldest first."""
        with self._lock:
            return list(self._received)

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with HTTP 500."""
        with self._lock:
            self._failures_left = max(0, int(count))

    def _take_failure(self) -> bool:
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return True
            return False

    def _store(self, payload: object) -> None:
        with self._lock:
            self._received.append(payload)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(payload, ensure_ascii=False) + "\n")
