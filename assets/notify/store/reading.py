"""Reading the delivery log: listings for the CLI, counts for the sensors, the asset
checks and the demo summary. Each due count matches a partial index's predicate, so it
stays cheap on a long delivery log."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from resources.settings import Settings


def delivery_summary(conn: psycopg.Connection) -> dict[str, int]:
    """Notifications per status."""
    return dict(conn.execute("select status, count(*) from notify.notifications "
                             "group by status order by status").fetchall())


def delivery_rows(conn: psycopg.Connection, *, status: str | None, recipient_id: int | None,
                  limit: int) -> list[tuple]:
    """The newest notifications: (id, created, recipient, kind, event, dedup key, severity,
    status, attempts, next attempt while waiting, sent at, last error)."""
    return conn.execute("""
        select n.id, n.created_at, r.name, n.channel_kind, n.event, coalesce(n.dedup_key, ''),
               coalesce(n.severity, ''), n.status, n.attempts,
               case when n.status in ('pending', 'failed') then n.next_attempt_at end,
               n.sent_at, coalesce(n.last_error, '')
        from notify.notifications n join notify.recipients r on r.id = n.recipient_id
        where (%(status)s::text is null or n.status = %(status)s)
          and (%(recipient)s::bigint is null or n.recipient_id = %(recipient)s)
        order by n.id desc limit %(limit)s""",
        {"status": status, "recipient": recipient_id, "limit": limit}).fetchall()


def attempt_rows(conn: psycopg.Connection, *, status: str | None, recipient_id: int | None,
                 limit: int) -> list[tuple]:
    """The newest delivery attempts: (notification, attempt, at, recipient, kind, event,
    result, apprise status, ms, url id, error)."""
    return conn.execute("""
        select d.notification_id, d.attempt, d.attempted_at, r.name, n.channel_kind, n.event,
               d.status, coalesce(d.apprise_status, ''), d.elapsed_ms, coalesce(d.url_id, ''),
               coalesce(d.error, '')
        from notify.delivery_attempts d join notify.notifications n on n.id = d.notification_id
        join notify.recipients r on r.id = n.recipient_id
        where (%(status)s::text is null or n.status = %(status)s)
          and (%(recipient)s::bigint is null or n.recipient_id = %(recipient)s)
        order by d.id desc limit %(limit)s""",
        {"status": status, "recipient": recipient_id, "limit": limit}).fetchall()


def due_counts(conn: psycopg.Connection, settings: Settings,
               now: datetime | None = None) -> dict[str, int]:
    """What a sending pass would do now: due deliveries, due digest items, stale claims."""
    now = now or datetime.now(UTC)
    due = conn.execute(
        "select count(*) from notify.notifications where status in ('pending', 'failed') "
        "and delivery_mode = 'immediate' and next_attempt_at <= %s", (now,)).fetchone()[0]
    digest = conn.execute(
        "select count(*) from notify.notifications where status = 'pending' "
        "and delivery_mode = 'digest' and next_attempt_at <= %s", (now,)).fetchone()[0]
    return {"due": due, "digest_items": digest,
            "sending": stuck_sending(conn, settings.notify_sending_lease_seconds)}


def stuck_sending(conn: psycopg.Connection, lease_seconds: float) -> int:
    """Deliveries in 'sending' beyond the lease (a lost worker)."""
    return conn.execute(
        "select count(*) from notify.notifications where status = 'sending' "
        "and claimed_at < now() - make_interval(secs => %s)", (lease_seconds,)).fetchone()[0]


def dead_since(conn: psycopg.Connection, hours: int = 24) -> int:
    """Notifications created in the last ``hours`` that died."""
    return conn.execute(
        "select count(*) from notify.notifications where status = 'dead' "
        "and created_at > now() - make_interval(hours => %s)", (hours,)).fetchone()[0]


def demo_counts(conn: psycopg.Connection) -> dict[str, int]:
    """The demo summary's notify lines."""
    sent, attempts = conn.execute(
        "select (select count(*) from notify.notifications where status = 'sent'), "
        "(select count(*) from notify.delivery_attempts)").fetchone()
    return {"notifications delivered": sent, "delivery attempts": attempts}
