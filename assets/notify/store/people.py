"""Recipients, their channel preferences and the message templates (schema notify).

Channel URLs are credentials: this module only ever moves them encrypted (or the name of
the environment variable that holds them); decrypting is ``channels.resolve_channel``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

import psycopg

from assets.notify.routing import Preference, Recipient

RecipientRow = tuple[int, str, str, str]  # id, name, timezone, role


# ============================================================================ recipients
def upsert_recipient_row(conn: psycopg.Connection, name: str, timezone: str, role: str) -> int:
    return conn.execute(
        "insert into notify.recipients (name, timezone, role) values (%s, %s, %s) "
        "on conflict (name) do update set timezone = excluded.timezone, role = excluded.role "
        "returning id", (name, timezone, role)).fetchone()[0]


def recipient_by_name(conn: psycopg.Connection, name: str) -> RecipientRow | None:
    return conn.execute("select id, name, timezone, role from notify.recipients where name = %s",
                        (name,)).fetchone()


def recipient_by_id(conn: psycopg.Connection, recipient_id: int) -> RecipientRow | None:
    return conn.execute("select id, name, timezone, role from notify.recipients where id = %s",
                        (recipient_id,)).fetchone()


def list_recipients(conn: psycopg.Connection) -> list[tuple]:
    """(id, name, timezone, role, enabled channels, created_at) by name."""
    return conn.execute("""
        select r.id, r.name, r.timezone, r.role,
               count(p.id) filter (where p.enabled) as channels, r.created_at
        from notify.recipients r left join notify.notification_preferences p on p.recipient_id = r.id
        group by r.id order by r.name""").fetchall()


def load_recipients(conn: psycopg.Connection) -> list[Recipient]:
    return [Recipient(id=r[0], name=r[1], timezone=r[2], role=r[3]) for r in conn.execute(
        "select id, name, timezone, role from notify.recipients order by id").fetchall()]


# =========================================================================== preferences
def upsert_preference(
    conn: psycopg.Connection, *, recipient_id: int, alert_type: str | None, min_severity: str,
    channel_kind: str, encrypted: str | None, channel_env: str | None, fingerprint: str,
    item_category: str | None, location_id: str | None, quiet_start: time | None,
    quiet_end: time | None, delivery_mode: str, digest_hour: int, notify_on_resolve: bool,
    repeat_interval_hours: int | None, enabled: bool,
) -> int:
    """Insert or update the preference recipient x channel x alert type x item category
    x location (its identity); every other field is updated in place."""
    return conn.execute("""
        insert into notify.notification_preferences (recipient_id, alert_type, min_severity,
            channel_kind, channel_url_encrypted, channel_url_env, channel_fingerprint,
            item_category, location_id, quiet_start, quiet_end, delivery_mode, digest_hour,
            notify_on_resolve, repeat_interval_hours, enabled)
        values (%(recipient)s, %(alert_type)s, %(min_severity)s, %(kind)s, %(encrypted)s,
                %(env)s, %(fingerprint)s, %(category)s, %(location)s, %(quiet_start)s,
                %(quiet_end)s, %(mode)s, %(digest_hour)s, %(resolve)s, %(repeat)s, %(enabled)s)
        on conflict (recipient_id, channel_fingerprint, (coalesce(alert_type, '')),
                     (coalesce(item_category, '')), (coalesce(location_id, '')))
        do update set min_severity = excluded.min_severity, channel_kind = excluded.channel_kind,
            channel_url_encrypted = excluded.channel_url_encrypted,
            channel_url_env = excluded.channel_url_env, quiet_start = excluded.quiet_start,
            quiet_end = excluded.quiet_end, delivery_mode = excluded.delivery_mode,
            digest_hour = excluded.digest_hour, notify_on_resolve = excluded.notify_on_resolve,
            repeat_interval_hours = excluded.repeat_interval_hours, enabled = excluded.enabled,
            updated_at = now()
        returning id""", {
        "recipient": recipient_id, "alert_type": alert_type, "min_severity": min_severity,
        "kind": channel_kind, "encrypted": encrypted, "env": channel_env,
        "fingerprint": fingerprint, "category": item_category, "location": location_id,
        "quiet_start": quiet_start, "quiet_end": quiet_end, "mode": delivery_mode,
        "digest_hour": digest_hour, "resolve": notify_on_resolve,
        "repeat": repeat_interval_hours, "enabled": enabled,
    }).fetchone()[0]


def preference_rows(conn: psycopg.Connection, recipient_id: int | None = None) -> list[tuple]:
    """Preferences with their recipient's name (all, or one recipient's), without any
    channel secret: (id, recipient, kind, env name, fingerprint, alert type, min severity,
    category, location, quiet start, quiet end, mode, digest hour, on resolve, repeat,
    enabled)."""
    return conn.execute("""
        select p.id, r.name, p.channel_kind, p.channel_url_env, p.channel_fingerprint,
               p.alert_type, p.min_severity, p.item_category, p.location_id, p.quiet_start,
               p.quiet_end, p.delivery_mode, p.digest_hour, p.notify_on_resolve,
               p.repeat_interval_hours, p.enabled
        from notify.notification_preferences p join notify.recipients r on r.id = p.recipient_id
        where %(recipient)s::bigint is null or p.recipient_id = %(recipient)s
        order by r.name, p.id""", {"recipient": recipient_id}).fetchall()


def delete_preference(conn: psycopg.Connection, preference_id: int) -> int:
    """Rows deleted (0 or 1)."""
    return conn.execute("delete from notify.notification_preferences where id = %s",
                        (preference_id,)).rowcount


def disable_other_channels(conn: psycopg.Connection, keep_id: int) -> int:
    """Disable the recipient's other preferences of the same channel kind and alert type
    as preference ``keep_id`` (kept: their history points at them); how many."""
    return conn.execute("""
        update notify.notification_preferences p set enabled = false, updated_at = now()
        from notify.notification_preferences k
        where k.id = %s and p.id <> k.id and p.recipient_id = k.recipient_id
          and p.channel_kind = k.channel_kind
          and coalesce(p.alert_type, '') = coalesce(k.alert_type, '') and p.enabled""",
                        (keep_id,)).rowcount


def load_preferences(conn: psycopg.Connection, default_repeat_hours: int) -> list[Preference]:
    """Enabled preferences for planning. Planning needs no channel URL (the stored
    fingerprint identifies the channel), so no secret is read here."""
    preferences = []
    for row in conn.execute(
            "select id, recipient_id, alert_type, min_severity, channel_kind, channel_fingerprint, "
            "quiet_start, quiet_end, repeat_interval_hours, notify_on_resolve, item_category, "
            "location_id, delivery_mode, digest_hour from notify.notification_preferences "
            "where enabled order by id").fetchall():
        quiet = (row[6], row[7]) if row[6] is not None and row[7] is not None else None
        preferences.append(Preference(
            recipient_id=row[1], alert_types=None if row[2] is None else {row[2]},
            min_severity=row[3], channel_url="", channel_kind=row[4], fingerprint=row[5],
            quiet_hours=quiet,
            repeat_interval_hours=default_repeat_hours if row[8] is None else row[8],
            notify_on_resolve=row[9], id=row[0], item_category=row[10], location_id=row[11],
            delivery_mode=row[12], digest_hour=row[13]))
    return preferences


# ====================================================================== channel secrets
def channel_secrets(conn: psycopg.Connection,
                    preference_ids: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
    """Per preference id: (encrypted URL, environment variable name)."""
    ids = sorted({p for p in preference_ids if p is not None})
    if not ids:
        return {}
    rows = conn.execute("select id, channel_url_encrypted, channel_url_env "
                        "from notify.notification_preferences where id = any(%s)", (ids,)).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def enabled_channels_of(conn: psycopg.Connection, recipient_id: int) -> list[tuple]:
    """A recipient's enabled preferences: (id, kind, fingerprint, encrypted URL, env name)."""
    return conn.execute(
        "select id, channel_kind, channel_fingerprint, channel_url_encrypted, channel_url_env "
        "from notify.notification_preferences where recipient_id = %s and enabled order by id",
        (recipient_id,)).fetchall()


def operator_channel_secrets(conn: psycopg.Connection) -> list[tuple[str | None, str | None]]:
    """(encrypted URL, env name) of every enabled channel of a recipient with the operator role."""
    return conn.execute("""
        select p.channel_url_encrypted, p.channel_url_env
        from notify.notification_preferences p
        join notify.recipients r on r.id = p.recipient_id
        where r.role = 'operator' and p.enabled
        order by p.id""").fetchall()


# ============================================================================= templates
def insert_templates(conn: psycopg.Connection, rows: list[tuple[str, str, str, str, str]]) -> int:
    """Insert (alert_type, channel_kind, subject, body, body_format) rows that are missing;
    a stored template is never overwritten. Returns rows added."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into notify.notification_templates (alert_type, channel_kind, subject, body, "
            "body_format) values (%s, %s, %s, %s, %s) on conflict (alert_type, channel_kind) do nothing",
            rows)
        return max(cur.rowcount, 0)


def load_templates(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(alert_type, channel_kind) -> (subject, body, body_format)."""
    rows = conn.execute("select alert_type, channel_kind, subject, body, body_format "
                        "from notify.notification_templates").fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}
