"""Notification tables: recipients, preferences (channel URLs encrypted), templates,
notifications and their delivery attempts. Plain psycopg, no Dagster.

Double sends are prevented by the database: every notification has a unique
idempotency key, and a delivery is claimed (pending -> sending) in its own short
transaction before apprise is called, so two overlapping runs never both send it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from assets.notify.delivery import backoff_delay, deliver
from assets.notify.rendering import body_format_for, build_context, render, template_for
from assets.notify.routing import (
    AlertEvent,
    PlannedDelivery,
    Preference,
    Recipient,
    channel_fingerprint,
    channel_kind,
)
from resources.errors import NotFoundError
from resources.secrets import decrypt, encrypt
from resources.settings import Settings

MAX_ATTEMPTS = 5


def upsert_recipient(conn: psycopg.Connection, name: str, timezone: str = "UTC",
                     role: str = "planner") -> int:
    return conn.execute(
        "insert into notify.recipients (name, timezone, role) values (%s, %s, %s) "
        "on conflict (name) do update set timezone = excluded.timezone, role = excluded.role "
        "returning id", (name, timezone, role)).fetchone()[0]


def set_channel_preference(conn: psycopg.Connection, settings: Settings, recipient_id: int,
                           channel_url: str, *, min_severity: str = "medium",
                           alert_type: str | None = None, notify_on_resolve: bool = False,
                           repeat_interval_hours: int = 24) -> int:
    """One preference per recipient x channel x alert type; the URL is stored encrypted."""
    fingerprint = channel_fingerprint(channel_url)
    existing = conn.execute(
        "select id from notify.notification_preferences where recipient_id = %s and "
        "channel_fingerprint = %s and alert_type is not distinct from %s",
        (recipient_id, fingerprint, alert_type)).fetchone()
    params = (min_severity, channel_kind(channel_url), encrypt(settings, channel_url),
              notify_on_resolve, repeat_interval_hours)
    if existing:
        conn.execute("update notify.notification_preferences set min_severity = %s, "
                     "channel_kind = %s, channel_url_encrypted = %s, notify_on_resolve = %s, "
                     "repeat_interval_hours = %s where id = %s", (*params, existing[0]))
        return existing[0]
    return conn.execute(
        "insert into notify.notification_preferences (min_severity, channel_kind, "
        "channel_url_encrypted, notify_on_resolve, repeat_interval_hours, recipient_id, "
        "alert_type, channel_fingerprint) values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (*params, recipient_id, alert_type, fingerprint)).fetchone()[0]


def _channel_url(settings: Settings, encrypted: str | None, env_name: str | None) -> str:
    import os

    if encrypted:
        return decrypt(settings, encrypted)
    value = os.environ.get(env_name or "")
    if not value:
        raise NotFoundError(f"channel URL variable {env_name} is not set")
    return value


def load_routing(conn: psycopg.Connection, settings: Settings
                 ) -> tuple[list[Recipient], list[Preference], list[int]]:
    recipients = [Recipient(id=r[0], name=r[1], timezone=r[2], role=r[3]) for r in conn.execute(
        "select id, name, timezone, role from notify.recipients order by id").fetchall()]
    preferences, preference_ids = [], []
    for row in conn.execute(
            "select id, recipient_id, alert_type, min_severity, channel_url_encrypted, "
            "channel_url_env, channel_kind, quiet_start, quiet_end, repeat_interval_hours, "
            "notify_on_resolve from notify.notification_preferences "
            "where delivery_mode = 'immediate' order by id").fetchall():
        quiet = (row[7], row[8]) if row[7] and row[8] else None
        preferences.append(Preference(
            recipient_id=row[1], alert_types=None if row[2] is None else {row[2]},
            min_severity=row[3], channel_url=_channel_url(settings, row[4], row[5]),
            channel_kind=row[6], quiet_hours=quiet, repeat_interval_hours=row[9],
            notify_on_resolve=row[10]))
        preference_ids.append(row[0])
    return recipients, preferences, preference_ids


def load_alert_events(conn: psycopg.Connection) -> list[AlertEvent]:
    """Open alerts and alerts resolved in the last week, with their last notice time."""
    rows = conn.execute("""
        select a.id, a.dedup_key, a.alert_type, a.severity, a.item_id, a.location_id,
               a.message, a.details, a.status, a.last_event,
               (select max(n.sent_at) from notify.notifications n where n.alert_id = a.id)
        from forecast.forecast_alerts a
        where a.status = 'open' or a.resolved_at > now() - interval '7 days'
        order by a.id""").fetchall()
    return [AlertEvent(alert_id=r[0], dedup_key=r[1], alert_type=r[2], severity=r[3],
                       item_id=r[4], location_id=r[5], message=r[6], details=r[7] or {},
                       status=r[8], event=r[9], last_notified_at=r[10]) for r in rows]


def _templates(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    rows = conn.execute("select alert_type, channel_kind, subject, body "
                        "from notify.notification_templates").fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def enqueue(conn: psycopg.Connection, planned: list[PlannedDelivery],
            preference_ids: list[int]) -> int:
    """Store planned deliveries; an idempotency key already stored is skipped."""
    templates = _templates(conn)
    created = 0
    for delivery in planned:
        event = delivery.event
        subject_t, body_t = templates.get(
            (event.alert_type, delivery.channel_kind),
            templates.get((event.alert_type, "default"),
                          template_for(event.alert_type, delivery.channel_kind)))
        subject, body = render(subject_t, body_t, build_context(event, delivery.recipient),
                               html=body_format_for(delivery.channel_kind) == "html")
        created += conn.execute(
            "insert into notify.notifications (idempotency_key, alert_id, recipient_id, "
            "preference_id, channel_kind, event, subject, body, next_attempt_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (idempotency_key) do nothing",
            (delivery.idempotency_key, event.alert_id, delivery.recipient.id,
             preference_ids[delivery.preference_index], delivery.channel_kind, event.event,
             subject, body, delivery.send_after)).rowcount
    return created


def send_due(conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None,
             limit: int = 500) -> dict[str, int]:
    """Claim due notifications, send each through apprise, record every attempt.

    ``conn`` must be in autocommit mode: each claim and each result commits on its own.
    """
    now = now or datetime.now(UTC)
    with conn.transaction():
        claimed = conn.execute("""
            update notify.notifications set status = 'sending'
            where id in (select id from notify.notifications
                         where status in ('pending', 'failed') and next_attempt_at <= %s
                         order by next_attempt_at limit %s for update skip locked)
            returning id, preference_id, channel_kind, subject, body, attempts""",
            (now, limit)).fetchall()
    channels = {row[0]: (row[1], row[2]) for row in conn.execute(
        "select id, channel_url_encrypted, channel_url_env from notify.notification_preferences"
    ).fetchall()}
    counts = {"sent": 0, "failed": 0, "dead": 0}
    for nid, preference_id, kind, subject, body, attempts in claimed:
        encrypted, env_name = channels.get(preference_id, (None, None))
        url = _channel_url(settings, encrypted, env_name)
        result = deliver(url, subject, body, body_format_for(kind))
        attempts += 1
        with conn.transaction():
            conn.execute("insert into notify.delivery_attempts (notification_id, status, error, "
                         "elapsed_ms, url_id) values (%s, %s, %s, %s, %s)",
                         (nid, "sent" if result.ok else "failed", result.error,
                          result.elapsed_ms, result.url_id))
            if result.ok:
                status, next_at = "sent", now
            elif attempts >= MAX_ATTEMPTS:
                status, next_at = "dead", now
            else:
                status = "failed"
                next_at = now + timedelta(seconds=backoff_delay(attempts))
            conn.execute("update notify.notifications set status = %s, attempts = %s, "
                         "next_attempt_at = %s, last_error = %s, sent_at = case when %s "
                         "then now() end where id = %s",
                         (status, attempts, next_at, result.error, result.ok, nid))
        counts[status] += 1
    return counts


def delivery_summary(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("select status, count(*) from notify.notifications "
                             "group by status").fetchall())

