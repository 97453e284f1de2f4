"""A tiny local HTTP inbox for apprise ``json://`` and ``form://`` notifications.

Used by the demo (as the planner's inbox), the delivery tests and the benchmark. It
listens on 127.0.0.1 only, on a free port unless given one (the demo pins a port so the
channel URL stored in its preference stays valid across runs). Every accepted payload is
kept in memory and, optionally, appended as one line to a file.

- ``json://``: the JSON document apprise posts (title, message, type, attachments as
  base64), kept as is.
- ``form://``: url-encoded or multipart fields; multipart files (attachments) are kept
  under ``files`` of the request record.

Failure injection, to exercise retries: ``fail_next(n)`` answers the next n requests
with HTTP 500; ``drop_rate`` answers that share of requests (at random, seeded) with
HTTP 503; ``delay_seconds`` makes every answer slow. A failed request is never stored.

``LocalSmtpReceiver`` is the same for ``mailto://`` (aiosmtpd, a dev dependency).

    with LocalReceiver(log_path="inbox.jsonl") as inbox:
        deliver(inbox.url, "subject", "body", "text")
        inbox.received  # [{"version": "1.0", "title": "subject", "message": "body", ...}]
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class ReceivedRequest:
    """One accepted request: where it was posted and what it carried."""

    path: str
    content_type: str
    payload: object  # the JSON document, or the form fields as a dict
    # multipart files: field name -> (filename, data, content type)
    files: dict[str, tuple[str | None, bytes, str]] = field(default_factory=dict)


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict, dict]:
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name or filename] = (filename, data, part.get_content_type())
        elif name is not None:
            fields[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
    return fields, files


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        receiver = self.server.receiver
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if receiver.delay_seconds:
            time.sleep(receiver.delay_seconds)  # a slow endpoint: lets sends overlap
        failure = receiver._take_failure()
        if failure:
            self._reply(failure)
            return
        content_type = self.headers.get("Content-Type") or ""
        try:
            files: dict = {}
            if content_type.startswith("multipart/form-data"):
                payload, files = _parse_multipart(content_type, raw)
            elif content_type.startswith("application/x-www-form-urlencoded"):
                payload = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            else:
                payload = json.loads(raw or b"null")
        except ValueError:
            self._reply(400)
            return
        receiver._store(ReceivedRequest(self.path, content_type, payload, files))
        self._reply(200)

    def _reply(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test and demo output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    receiver: LocalReceiver


class LocalReceiver:
    def __init__(self, path: str = "/inbox", log_path: str | Path | None = None, port: int = 0,
                 *, drop_rate: float = 0.0, seed: int | None = None,
                 delay_seconds: float = 0.0) -> None:
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError("drop_rate must be in [0, 1)")
        self.path = "/" + path.lstrip("/")
        self.requested_port = port  # 0: let the OS pick a free port
        self.log_path = Path(log_path) if log_path is not None else None
        self.drop_rate = drop_rate
        self.delay_seconds = delay_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._failures_left = 0
        self.failed_requests = 0  # answered 500/503 (injected failures)
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
        """apprise json:// URL that posts to this receiver."""
        return self.url_for("json")

    def url_for(self, scheme: str = "json", path: str | None = None, userinfo: str | None = None) -> str:
        """An apprise URL (json:// or form://) posting to ``path`` (default: this inbox)."""
        where = "/" + (path or self.path).lstrip("/")
        auth = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}{where}"

    # -- inbox --------------------------------------------------------------------------
    @property
    def received(self) -> list:
        """Copy of the accepted payloads, oldest first."""
        with self._lock:
            return [r.payload for r in self._requests]

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Copy of the accepted requests (path, content type, payload, files), oldest first."""
        with self._lock:
            return list(self._requests)

    def count_by_path(self) -> Counter:
        with self._lock:
            return Counter(r.path for r in self._requests)

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with HTTP 500."""
        with self._lock:
            self._failures_left = max(0, int(count))

    def _take_failure(self) -> int:
        """0 to accept the request, else the HTTP status to fail it with."""
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                self.failed_requests += 1
                return 500
            if self.drop_rate and self._rng.random() < self.drop_rate:
                self.failed_requests += 1
                return 503
            return 0

    def _store(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(request.payload, ensure_ascii=False) + "\n")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalSmtpReceiver:
    """A local SMTP server (aiosmtpd, a dev dependency) for apprise ``mailto://``.

    Listens on 127.0.0.1 (a free port unless given one), without TLS; with ``user`` and
    ``password`` it requires SMTP AUTH (PLAIN/LOGIN, allowed without TLS on loopback).
    ``messages`` holds every accepted mail parsed as ``email.message.EmailMessage``.
    """

    def __init__(self, user: str | None = None, password: str | None = None, port: int = 0) -> None:
        self.user, self.password = user, password
        self.requested_port = port
        self._lock = threading.Lock()
        self._messages: list = []
        self._controller = None
        self.port: int | None = None

    def start(self) -> LocalSmtpReceiver:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
                message = BytesParser(policy=policy.default).parsebytes(envelope.content)
                with receiver._lock:
                    receiver._messages.append(message)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (getattr(auth_data, "login", None) == (self.user or "").encode()
                  and getattr(auth_data, "password", None) == (self.password or "").encode())
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself

        import logging
        import warnings

        # aiosmtpd warns (per connection) that AUTH without TLS is unsafe: on loopback, for
        # tests and demos, that is the point. Its protocol log stays out of test output.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.port = self.requested_port or _free_port()
        kwargs = {}
        if self.user:
            kwargs = {"authenticator": authenticate, "auth_required": True,
                      "auth_require_tls": False}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LocalSmtpReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, to: str = "planner@example.com", sender: str = "forgecast@example.com") -> str:
        """apprise mailto:// URL delivering to this server (credentials included if set)."""
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"mailto://{auth}127.0.0.1:{self.port}?mode=insecure&from={sender}&to={to}"

    @property
    def messages(self) -> list:
        with self._lock:
            return list(self._messages)
