"""Sending: claim what is due, deliver it through apprise concurrently, record every
attempt, retry failures with backoff, and give up (dead) after the last attempt. Plain
Python on top of the store: no Dagster.

Throughput: one apprise client per channel (and worker thread) instead of one per
message, a bounded thread pool for the network waits, templates compiled once, results
written in batches.
"""

from __future__ import annotations

import hashlib
import random
import time as _time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from assets.notify import store
from assets.notify.admin import find_recipient
from assets.notify.channels import Channel, load_channels, resolve_channel
from assets.notify.delivery import ChannelClients, DeliveryResult, backoff_delay, deliver, notify_type_for
from assets.notify.digests import build_digests
from assets.notify.planning import plan_and_enqueue
from assets.notify.rendering import render_notification
from resources.errors import NotFoundError
from resources.settings import Settings


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    recovered: int = 0  # 'sending' rows of a lost worker, marked dead
    digests: int = 0  # digest messages built
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    row: store.ClaimedRow
    result: DeliveryResult
    permanent: bool


def _send_one(clients: ChannelClients, channel: Channel | None, row: store.ClaimedRow) -> _Outcome:
    if channel is None or channel.url is None:
        error = channel.error if channel else "the preference of this notification was removed"
        return _Outcome(row, DeliveryResult(False, "config", error, 0.0, ""),
                        permanent=channel is None or channel.permanent)
    result = deliver(channel.url, row.subject, row.body, row.body_format, row.attachments,
                     notify_type=notify_type_for(row.event, row.severity), clients=clients)
    return _Outcome(row, result, permanent=result.status == "invalid_url")


def _write_outcomes(conn: psycopg.Connection, settings: Settings, outcomes: list[_Outcome],
                    now_fn: Callable[[], datetime], run_id: str | None, rng, report: SendReport) -> None:
    """Sent, failed (due again after a backoff) or dead; every attempt recorded."""
    if not outcomes:
        return
    attempts, updates = [], defaultdict(list)
    for o in outcomes:
        attempt = o.row.attempts + 1
        current = now_fn()
        if o.result.ok:
            status, next_at, sent_at = "sent", current, current
        elif o.permanent or attempt >= settings.notify_max_attempts:
            status, next_at, sent_at = "dead", current, None
        else:
            status, sent_at = "failed", None
            next_at = current + timedelta(seconds=backoff_delay(
                attempt, settings.notify_backoff_base_seconds, settings.notify_backoff_cap_seconds, rng))
        setattr(report, status, getattr(report, status) + 1)
        attempts.append((o.row.id, attempt, "sent" if o.result.ok else "failed", o.result.status,
                         o.result.error, o.result.elapsed_ms, o.result.url_id or None, run_id))
        for name, value in (("id", o.row.id), ("status", status), ("attempts", attempt),
                            ("next_at", next_at), ("error", o.result.error), ("sent_at", sent_at)):
            updates[name].append(value)
    store.record_outcomes(conn, attempts, dict(updates),
                          digests_involved=any(o.row.event == "digest" for o in outcomes))


def send_due(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None,
             run_id: str | None = None, batch_size: int = 200, workers: int | None = None,
             max_seconds: float | None = None, clients: ChannelClients | None = None,
             rng=random) -> SendReport:
    """Build due digests, then claim and send every due notification, concurrently.

    ``conn`` must be in autocommit mode: claims and results commit on their own.
    ``now`` (default: the clock) decides what is due; tests pass a later time to let
    quiet hours, backoff delays and digest times pass. Stops when nothing is due (a
    failure is due again only after its backoff) or after ``max_seconds``.
    """
    started = _time.monotonic()
    fixed_now = now

    def now_fn() -> datetime:
        real = datetime.now(UTC)
        return real if fixed_now is None else max(real, fixed_now)

    report = SendReport()
    report.recovered = store.recover_stale_sending(conn, settings.notify_sending_lease_seconds)
    report.digests = build_digests(conn, now=now_fn(), run_id=run_id)
    clients = clients or ChannelClients()
    channels: dict[int, Channel] = {}
    pending: set[Future] = set()
    buffer: list[_Outcome] = []
    exhausted, last_flush = False, _time.monotonic()
    with ThreadPoolExecutor(max_workers=workers or settings.notify_workers,
                            thread_name_prefix="notify-send") as pool:
        while True:
            out_of_time = max_seconds is not None and _time.monotonic() - started > max_seconds
            if not exhausted and not out_of_time and len(pending) < batch_size:
                claimed = store.claim_due(conn, now_fn(), batch_size, run_id)
                exhausted = not claimed
                report.claimed += len(claimed)
                missing = {r.preference_id for r in claimed} - channels.keys()
                channels.update(load_channels(conn, settings, missing))
                pending |= {pool.submit(_send_one, clients, channels.get(r.preference_id), r)
                            for r in claimed}
            if not pending:
                break
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            buffer.extend(f.result() for f in done)
            if len(buffer) >= batch_size or not pending or _time.monotonic() - last_flush > 1.0:
                _write_outcomes(conn, settings, buffer, now_fn, run_id, rng, report)
                buffer, last_flush = [], _time.monotonic()
        _write_outcomes(conn, settings, buffer, now_fn, run_id, rng, report)
    report.seconds = round(_time.monotonic() - started, 3)
    return report


def notify_once(conn: psycopg.Connection, settings: Settings, *, plan: bool = True,
                now: datetime | None = None, run_id: str | None = None,
                max_seconds: float | None = None) -> dict:
    """One notification pass: plan and store what the alerts call for, then send what
    is due (retries and digests included). Safe to run again or concurrently."""
    now = now or datetime.now(UTC)
    planned = plan_and_enqueue(conn, settings, now=now, run_id=run_id) if plan else {}
    sent = send_due(conn, settings, now=now, run_id=run_id, max_seconds=max_seconds)
    return {"plan": planned, "send": sent.as_dict(), "by_status": store.delivery_summary(conn)}


def send_test(conn: psycopg.Connection, settings: Settings, recipient: str | int) -> list[dict]:
    """Send a test message through every enabled channel of a recipient, now (quiet
    hours do not apply), and record each as a 'test' notification with its attempt.
    Test messages are not retried: a failure is reported at once and stored as dead."""
    rid, name, _, role = find_recipient(conn, recipient)
    prefs = store.enabled_channels_of(conn, rid)
    if not prefs:
        raise NotFoundError(f"recipient {name!r} has no enabled channel (see `forgecast notify prefs set`)")
    templates = store.load_templates(conn)
    clients, report = ChannelClients(), []
    seen: set[str] = set()
    for pid, kind, fingerprint, encrypted, env in prefs:
        if fingerprint in seen:  # two preferences on one channel: one test message
            continue
        seen.add(fingerprint)
        context = {"recipient": {"name": name, "role": role}, "channel_kind": kind}
        subject, body, body_format = render_notification(templates, "test", kind, context)
        key = hashlib.sha256(f"test\x1f{pid}\x1f{uuid.uuid4()}".encode()).hexdigest()
        nid = store.insert_test_notification(conn, key, rid, pid, kind, fingerprint, subject,
                                             body, body_format)
        row = store.ClaimedRow(nid, pid, kind, "test", None, subject, body, body_format, [], 0)
        outcome = _send_one(clients, resolve_channel(settings, encrypted, env), row)
        dead_now = settings.model_copy(update={"notify_max_attempts": 1})
        _write_outcomes(conn, dead_now, [outcome], lambda: datetime.now(UTC), "cli-test",
                        random, SendReport())
        channel = f"env:{env}" if env else f"{kind}://***"
        report.append({"preference": pid, "channel": channel, "ok": outcome.result.ok,
                       "status": outcome.result.status, "elapsed_ms": outcome.result.elapsed_ms,
                       "error": outcome.result.error or ""})
    return report
