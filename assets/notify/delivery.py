"""Send one rendered notification through apprise 2.x and report the outcome safely.

An apprise URL carries its credentials (``json://user:password@host/``,
``slack://TokenA/TokenB/TokenC``), so nothing this module returns may contain the URL
or any piece of it: errors are built from apprise's per-service log capture and then
scrubbed of every URL component; the endpoint is identified by ``url_id`` (apprise's
hash-based id) instead. While sending, the ``apprise`` and ``urllib3`` loggers stop
propagating to the application's handlers, because at DEBUG level they print request
URLs (webhook tokens travel in the path).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

import apprise

BODY_FORMATS = ("text", "markdown", "html")
_MAX_ERROR_CHARS = 500
_SILENCED_LOGGERS = ("apprise", "urllib3")
_URL_PATTERN = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status: str  # success | failure | timeout | nomatch | invalid_url | error
    error: str | None
    elapsed_ms: float
    url_id: str


def mask_url(url: str) -> str:
    """'scheme://***': enough to tell channels apart in logs, nothing secret."""
    scheme, sep, _ = (url or "").partition("://")
    return f"{scheme}://***" if sep and scheme else "***"


def backoff_delay(attempt: int, base_seconds: float = 60, cap_seconds: float = 3600, rng=random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))].
    Jitter spreads retries so a recovering endpoint is not hit by every delivery at once.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(float(cap_seconds), float(base_seconds) * 2.0 ** min(attempt - 1, 60))
    return rng.uniform(0.0, ceiling)


def _fallback_url_id(url: str) -> str:
    return "sha256:" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


def _secret_fragments(url: str) -> list[str]:
    """Every piece of ``url`` that might be a credential, longest first.

    Apprise puts secrets in the user/password, the host (``tgram://BOTTOKEN/``), path
    segments and query values, so all of them are scrubbed. Very short host/path pieces
    are left alone: they are not secrets and would shred ordinary words.
    """
    _, _, rest = url.partition("://")
    fragments = {url, rest}
    userinfo, _, location = rest.rpartition("@")
    if userinfo:
        fragments.update(p for p in userinfo.split(":") if len(p) >= 2)
    fragments.update(p for p in re.split(r"[/:?&=#;,]+", location) if len(p) >= 4)
    fragments |= {unquote(f) for f in fragments}
    return sorted((f for f in fragments if f), key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for fragment in _secret_fragments(url):
        text = text.replace(fragment, "***")
    return _URL_PATTERN.sub(lambda m: mask_url(m.group(0)), text)


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_propagate: dict[str, bool] = {}
_null_handler = logging.NullHandler()


@contextmanager
def _quiet_loggers() -> Iterator[None]:
    """Keep apprise/urllib3 records away from application handlers while sending.

    apprise's own per-call capture handler sits on the ``apprise`` logger itself, so it
    still sees the records we need for the error text. Reference-counted so concurrent
    deliveries in threads restore the original settings only once.
    """
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            for name in _SILENCED_LOGGERS:
                logger = logging.getLogger(name)
                _saved_propagate[name] = logger.propagate
                logger.propagate = False
                logger.addHandler(_null_handler)  # no "last resort" stderr output
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name in _SILENCED_LOGGERS:
                    logger = logging.getLogger(name)
                    logger.propagate = _saved_propagate.pop(name, True)
                    logger.removeHandler(_null_handler)


def _failure_text(entries) -> str:
    messages = [entry.message for entry in entries if entry.level not in ("DEBUG", "TRACE", "INFO")]
    return "; ".join(dict.fromkeys(messages))  # de-duplicated, order kept


# One asset for every client: services run on the calling thread (no hop through
# apprise's shared pool, which is sized for the CPU count, not for network waits) and
# without apprise's own retries: retries are ours, recorded, with backoff.
# Each request is still bounded by the service's socket timeouts (URL ``cto=``/``rto=``).
_ASSET = apprise.AppriseAsset(async_mode=False, service_timeout=0)

# apprise's notify types colour/label a message on many services.
NOTIFY_TYPE_BY_SEVERITY = {"critical": "failure", "high": "warning", "medium": "warning", "low": "info"}


def notify_type_for(event: str, severity: str | None) -> str:
    if event == "resolved":
        return "success"
    if event in ("digest", "test") or severity is None:
        return "info"
    return NOTIFY_TYPE_BY_SEVERITY.get(severity, "info")


class ChannelClients:
    """apprise clients built once per channel URL and reused (one per thread).

    Building an ``Apprise`` object parses the URL and loads its plugin; doing that per
    message is the naive way. A client per thread keeps plugin state (apprise's
    per-service throttle clock, SMTP settings) out of reach of other threads.
    Keys are URL fingerprints, so the cache holds no URL in its keys.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, channel_url: str) -> apprise.Apprise | None:
        """The client for this URL, or None when apprise cannot use the URL."""
        cache = self._local.__dict__.setdefault("clients", {})
        key = hashlib.sha256(channel_url.encode("utf-8")).hexdigest()
        if key not in cache:
            with _quiet_loggers():
                client = apprise.Apprise(asset=_ASSET)
                cache[key] = client if client.add(channel_url) else None
        return cache[key]

    def supports_attachments(self, channel_url: str) -> bool:
        client = self.get(channel_url)
        return bool(client is not None and len(client) and client[0].attachment_support)


def deliver(
    channel_url: str,
    subject: str,
    body: str,
    body_format: str,
    attachments: list[str] | None = None,
    *,
    notify_type: str = "info",
    timeout_seconds: float = 0,
    clients: ChannelClients | None = None,
) -> DeliveryResult:
    """Send one notification to one apprise URL. Never raises for delivery problems.

    The outcome comes from apprise's per-service result for this URL (status, url id,
    its log lines), so a failure is always this channel's own. Attachments are sent
    only where the service supports them and the file exists; elsewhere they are
    skipped, never a reason to fail. ``timeout_seconds`` > 0 bounds the whole call
    (apprise then runs it in its own pool); 0 relies on the socket timeouts.
    """
    if body_format not in BODY_FORMATS:
        raise ValueError(f"body_format must be one of {BODY_FORMATS}")
    started = time.perf_counter()
    clients = clients or ChannelClients()

    def finish(ok: bool, status: str, error: str | None, url_id: str) -> DeliveryResult:
        if error is not None:
            error = _scrub(error, channel_url)[:_MAX_ERROR_CHARS]
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return DeliveryResult(ok, status, error, elapsed_ms, url_id)

    url_id = _fallback_url_id(channel_url)
    with _quiet_loggers():
        try:
            client = clients.get(channel_url)
            if client is None:
                return finish(
                    False,
                    "invalid_url",
                    f"apprise cannot use the {mask_url(channel_url)} URL (invalid or unsupported)",
                    url_id,
                )
            url_id = client[0].url_id() or url_id
            attach = None
            if attachments and client[0].attachment_support:
                attach = [path for path in attachments if path and os.path.isfile(path)] or None
            with client.notify(
                body=body,
                title=subject,
                body_format=body_format,
                notify_type=notify_type,
                attach=attach,
                timeout=timeout_seconds,
            ) as result:
                services = list(result)
                if not services:  # nothing dispatched: the call itself was refused
                    status = result.status.name.lower()
                    error = _failure_text(result.logs()) or f"apprise reported {status}"
                    return finish(bool(result), status, None if result else error, url_id)
                service = services[0]  # one URL per client: its own per-service result
                status = service.status.name.lower()
                url_id = service.url_id or url_id
                if service:
                    return finish(True, status, None, url_id)
                error = _failure_text(service.logs()) or _failure_text(result.logs())
                return finish(False, status, error or f"apprise reported {status}", url_id)
        except Exception as exc:  # noqa: BLE001 - any apprise/plugin crash is a failed send
            return finish(False, "error", f"{type(exc).__name__}: {exc}", url_id)
