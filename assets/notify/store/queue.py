"""The notifications queue: what planning reads, what it stores, and the claim /
record / digest statements of the sending pass (schema notify, forecast_alerts read).

Throughput: rows are inserted with ``unnest`` (one statement per 5,000) and results
written in batches; a claim is one short transaction with ``for update skip locked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from assets.notify.routing import AlertEvent, Notice

_INSERT_CHUNK = 5000

# Whether a column exists, per database (one process may serve several, e.g. a test
# session). Only positive answers are cached: dbt may build the table while this process
# lives.
_schema_cache: dict[tuple, bool] = {}


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    key = (conn.info.host, conn.info.port, conn.info.dbname, schema, table, column)
    if _schema_cache.get(key):
        return True
    found = conn.execute(
        "select 1 from information_schema.columns where table_schema = %s and table_name = %s "
        "and column_name = %s", (schema, table, column)).fetchone()
    if found:
        _schema_cache[key] = True
    return found is not None


# ========================================================================= routing input
def load_alert_events(conn: psycopg.Connection, resolved_since: datetime) -> list[AlertEvent]:
    """Open alerts and alerts resolved since ``resolved_since``, with their item category
    (from the unified item master once dbt has built it) and chart."""
    if _has_column(conn, "unified", "manufacturing_items", "category"):
        category = "coalesce(i.category, a.details->>'category')"
        join = "left join unified.manufacturing_items i on i.item_id = a.item_id"
    else:
        category, join = "a.details->>'category'", ""
    rows = conn.execute(f"""
        select a.id, a.dedup_key, a.alert_type, a.severity, a.item_id::text, a.location_id,
               a.message, a.details, a.status, a.last_event, a.first_seen_at,
               {category}, coalesce(a.chart_path, a.details->>'chart_path')
        from forecast.forecast_alerts a {join}
        where a.status = 'open' or a.resolved_at > %s
        order by a.id""", (resolved_since,)).fetchall()
    return [AlertEvent(alert_id=r[0], dedup_key=r[1], alert_type=r[2], severity=r[3],
                       item_id=r[4], location_id=r[5], message=r[6], details=r[7] or {},
                       status=r[8], event=r[9], episode=r[10].isoformat(),
                       item_category=r[11], chart_path=r[12]) for r in rows]


def load_history(conn: psycopg.Connection, alert_ids: list) -> dict[tuple[str, str], Notice]:
    """Per (alert, preference): when it was last told (sent, or queued and still alive),
    and what."""
    if not alert_ids:
        return {}
    rows = conn.execute("""
        select alert_id::text, preference_id::text, max(coalesce(sent_at, created_at)),
               (array_agg(event order by coalesce(sent_at, created_at) desc, id desc))[1]
        from notify.notifications
        where alert_id = any(%s) and preference_id is not null
          and status not in ('dead', 'superseded') and event <> 'test'
        group by 1, 2""", (list(alert_ids),)).fetchall()
    return {(r[0], r[1]): Notice(last_at=r[2], last_event=r[3]) for r in rows}


# =============================================================================== enqueue
def supersede_stale(conn: psycopg.Connection, alert_ids: list | None = None) -> int:
    """Waiting notices that no longer tell the truth become 'superseded' (never sent):

    - news of an alert that has been resolved since (raised, reopened, escalated,
      de-escalated, reminder);
    - an older notice of an alert when a newer one for the same preference exists
      (a warning held by quiet hours, then escalated to critical: only the critical goes);
    - notices whose preference was removed.
    """
    scope = "" if alert_ids is None else "and old.alert_id = any(%(ids)s)"
    params = {"ids": list(alert_ids or [])}
    total = conn.execute(f"""
        update notify.notifications old set status = 'superseded',
            last_error = 'not sent: the alert was resolved before this could be delivered'
        from forecast.forecast_alerts a
        where a.id = old.alert_id and a.status = 'resolved' and old.status in ('pending', 'failed')
          and old.event in ('raised', 'reopened', 'escalated', 'de-escalated', 'unchanged')
          {scope}""", params).rowcount
    total += conn.execute(f"""
        update notify.notifications old set status = 'superseded',
            last_error = 'not sent: a newer notice about the same alert replaced it'
        where old.status in ('pending', 'failed') and old.alert_id is not null {scope}
          and exists (select 1 from notify.notifications newer
                      where newer.alert_id = old.alert_id and newer.preference_id = old.preference_id
                        and newer.id > old.id and newer.status <> 'superseded'
                        and newer.event <> 'test')""", params).rowcount
    total += conn.execute("""
        update notify.notifications set status = 'superseded',
            last_error = 'not sent: the preference was removed'
        where preference_id is null and status in ('pending', 'failed')""").rowcount
    return total


def existing_keys(conn: psycopg.Connection, keys: list[str]) -> set[str]:
    """Which of these idempotency keys are stored already."""
    return {r[0] for r in conn.execute(
        "select idempotency_key from notify.notifications where idempotency_key = any(%s)",
        (keys,)).fetchall()}


def insert_notifications(conn: psycopg.Connection, columns: dict[str, list],
                         run_id: str | None) -> int:
    """Insert notifications given column-wise (key, alert, dedup, recipient, pref, kind,
    fp, event, severity, mode, due, subject, body, format, chart); a key already stored
    is skipped (the unique index decides, so concurrent runs cannot both insert).
    Returns rows added."""
    added = 0
    for start in range(0, len(columns["key"]), _INSERT_CHUNK):
        part = {k: v[start:start + _INSERT_CHUNK] for k, v in columns.items()}
        added += conn.execute("""
            insert into notify.notifications (idempotency_key, alert_id, dedup_key, recipient_id,
                preference_id, channel_kind, channel_fingerprint, event, severity, delivery_mode,
                next_attempt_at, subject, body, body_format, attachments, created_by_run)
            select key, alert, dedup, recipient, pref, kind, fp, event, severity, mode, due,
                   subject, body, format,
                   case when chart is null then '{}'::text[] else array[chart] end, %(run)s
            from unnest(%(key)s::text[], %(alert)s::bigint[], %(dedup)s::text[],
                        %(recipient)s::bigint[], %(pref)s::bigint[], %(kind)s::text[],
                        %(fp)s::text[], %(event)s::text[], %(severity)s::text[], %(mode)s::text[],
                        %(due)s::timestamptz[], %(subject)s::text[], %(body)s::text[],
                        %(format)s::text[], %(chart)s::text[])
                 as v(key, alert, dedup, recipient, pref, kind, fp, event, severity, mode, due,
                      subject, body, format, chart)
            on conflict (idempotency_key) do nothing""", {**part, "run": run_id}).rowcount
    return added


def insert_test_notification(conn: psycopg.Connection, key: str, recipient_id: int,
                             preference_id: int, kind: str, fingerprint: str, subject: str,
                             body: str, body_format: str) -> int:
    """A test message, stored already claimed ('sending') by the CLI."""
    return conn.execute("""
        insert into notify.notifications (idempotency_key, recipient_id, preference_id,
            channel_kind, channel_fingerprint, event, status, subject, body, body_format,
            claimed_at, claimed_by)
        values (%s, %s, %s, %s, %s, 'test', 'sending', %s, %s, %s, now(), 'cli-test')
        returning id""",
        (key, recipient_id, preference_id, kind, fingerprint, subject, body, body_format)
    ).fetchone()[0]


# =============================================================================== sending
@dataclass(frozen=True)
class ClaimedRow:
    id: int
    preference_id: int | None
    channel_kind: str
    event: str
    severity: str | None
    subject: str
    body: str
    body_format: str
    attachments: list[str]
    attempts: int


def claim_due(conn: psycopg.Connection, now: datetime, limit: int,
              run_id: str | None) -> list[ClaimedRow]:
    """Claim up to ``limit`` due immediate deliveries (-> 'sending'), committed at once."""
    with conn.transaction():
        rows = conn.execute("""
            update notify.notifications n set status = 'sending', claimed_at = now(),
                claimed_by = %s
            where n.id in (select id from notify.notifications
                           where status in ('pending', 'failed') and delivery_mode = 'immediate'
                             and next_attempt_at <= %s
                           order by next_attempt_at, id limit %s
                           for update skip locked)
            returning n.id, n.preference_id, n.channel_kind, n.event, n.severity, n.subject,
                      n.body, n.body_format, n.attachments, n.attempts""",
                            (run_id, now, limit)).fetchall()
    return [ClaimedRow(*r) for r in rows]


def record_outcomes(conn: psycopg.Connection, attempts: list[tuple], updates: dict[str, list],
                    digests_involved: bool) -> None:
    """One transaction: the attempts (notification_id, attempt, status, apprise_status,
    error, elapsed_ms, url_id, run_id) and the new state of each claimed notification,
    column-wise (id, status, attempts, next_at, error, sent_at)."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "insert into notify.delivery_attempts (notification_id, attempt, status, "
                "apprise_status, error, elapsed_ms, url_id, run_id) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s)", attempts)
        conn.execute("""
            update notify.notifications n set status = v.status, attempts = v.attempts,
                next_attempt_at = v.next_at, last_error = v.error, sent_at = v.sent_at,
                claimed_at = null
            from unnest(%(id)s::bigint[], %(status)s::text[], %(attempts)s::int[],
                        %(next_at)s::timestamptz[], %(error)s::text[], %(sent_at)s::timestamptz[])
                 as v(id, status, attempts, next_at, error, sent_at)
            where n.id = v.id and n.status = 'sending'""", updates)
        if digests_involved:
            propagate_digest_status(conn)


def recover_stale_sending(conn: psycopg.Connection, lease_seconds: float) -> int:
    """Rows a lost worker left in 'sending' beyond the lease: dead, not retried. They may
    have reached the channel before the worker died, and a second copy is worse than a
    visible dead letter (`forgecast notify deliveries --status dead`)."""
    with conn.transaction():
        count = conn.execute("""
            update notify.notifications set status = 'dead', claimed_at = null,
                last_error = 'interrupted while sending (worker lost); not retried because it '
                             'may already have been delivered'
            where status = 'sending' and claimed_at < now() - make_interval(secs => %s)""",
                             (lease_seconds,)).rowcount
        propagate_digest_status(conn)
    return count


def propagate_digest_status(conn: psycopg.Connection) -> None:
    """Items carried by a digest take the digest's final status."""
    conn.execute("""
        update notify.notifications item set status = d.status, sent_at = d.sent_at,
            last_error = d.last_error
        from notify.notifications d
        where item.digest_id = d.id and item.status = 'batched'
          and d.status in ('sent', 'dead', 'superseded')""")


# =============================================================================== digests
@dataclass(frozen=True)
class DigestItemRow:
    id: int
    preference_id: int
    recipient_id: int
    due_at: datetime
    severity: str | None
    event: str
    subject: str
    message: str
    alert_type: str | None
    item_id: str | None
    location_id: str | None
    attachments: list[str] | None


def lock_due_digest_items(conn: psycopg.Connection, now: datetime) -> list[DigestItemRow]:
    """Due digest items not yet in a digest, locked (skip locked) until the caller's
    transaction ends, so concurrent builders never put one item in two digests."""
    rows = conn.execute("""
        select n.id, n.preference_id, n.recipient_id, n.next_attempt_at, n.severity, n.event,
               n.subject, coalesce(a.message, n.subject), a.alert_type, a.item_id::text,
               a.location_id, n.attachments
        from notify.notifications n left join forecast.forecast_alerts a on a.id = n.alert_id
        where n.delivery_mode = 'digest' and n.status = 'pending' and n.digest_id is null
          and n.preference_id is not null and n.next_attempt_at <= %s
        order by n.preference_id, n.next_attempt_at, n.id
        for update of n skip locked""", (now,)).fetchall()
    return [DigestItemRow(*r) for r in rows]


def digest_recipients(conn: psycopg.Connection,
                      preference_ids: list[int]) -> dict[int, tuple[str, str, str, str, str]]:
    """Per preference id: (channel kind, fingerprint, recipient name, timezone, role)."""
    return {r[0]: r[1:] for r in conn.execute(
        "select p.id, p.channel_kind, p.channel_fingerprint, r.name, r.timezone, r.role "
        "from notify.notification_preferences p join notify.recipients r on r.id = p.recipient_id "
        "where p.id = any(%s)", (preference_ids,)).fetchall()}


def insert_digest(conn: psycopg.Connection, *, key: str, recipient_id: int, preference_id: int,
                  kind: str, fingerprint: str, severity: str, subject: str, body: str,
                  body_format: str, attachments: list[str], due_at: datetime,
                  run_id: str | None) -> int | None:
    """The digest message (pending); None when its key is stored already."""
    row = conn.execute("""
        insert into notify.notifications (idempotency_key, recipient_id, preference_id,
            channel_kind, channel_fingerprint, event, severity, subject, body, body_format,
            attachments, next_attempt_at, created_by_run)
        values (%s, %s, %s, %s, %s, 'digest', %s, %s, %s, %s, %s, %s, %s)
        on conflict (idempotency_key) do nothing returning id""",
        (key, recipient_id, preference_id, kind, fingerprint, severity, subject, body,
         body_format, attachments, due_at, run_id)).fetchone()
    return None if row is None else row[0]


def mark_batched(conn: psycopg.Connection, digest_id: int, item_ids: list[int]) -> None:
    """The items now wait for their digest's outcome."""
    conn.execute("update notify.notifications set status = 'batched', digest_id = %s "
                 "where id = any(%s)", (digest_id, item_ids))
