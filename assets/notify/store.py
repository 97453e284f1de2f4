"""Notification tables: recipients, preferences (channel URLs encrypted), templates,
notifications and their delivery attempts. Plain psycopg, no Dagster.

Nothing is sent twice, and the database guarantees it, not timing:

- every notification has a unique idempotency key (``routing.idempotency_key``) and is
  inserted with ``on conflict do nothing``: planning the same events again, in a
  re-executed run or in two overlapping runs, adds nothing;
- a delivery is claimed (pending/failed -> sending) with ``for update skip locked`` in
  its own short transaction before apprise is called: two senders never claim the
  same row, and only the claimer writes its outcome;
- a row left in 'sending' by a lost worker (crash, killed run) is not retried: after the
  lease it is marked dead with an explicit error, because it may have been delivered
  (at most once, never twice).

Throughput: one apprise client per channel (and worker thread) instead of one per
message, a bounded thread pool for the network waits, templates compiled once, rows
inserted with ``unnest`` and results written in batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time as _time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from assets.alerts.rules import severity_rank
from assets.notify.delivery import (
    ChannelClients,
    DeliveryResult,
    backoff_delay,
    deliver,
    mask_url,
    notify_type_for,
)
from assets.notify.rendering import (
    TemplateRenderError,
    body_format_for,
    build_context,
    default_template_rows,
    render,
    template_for,
)
from assets.notify.routing import (
    DELIVERY_MODES,
    AlertEvent,
    Notice,
    PlannedDelivery,
    Preference,
    Recipient,
    channel_fingerprint,
    channel_kind,
    plan_deliveries,
)
from resources.errors import NotFoundError, ServiceError, ValidationError
from resources.secrets import decrypt, encrypt
from resources.settings import Settings

log = logging.getLogger(__name__)

ROLES = ("planner", "buyer", "operator")
STATUSES = ("pending", "sending", "sent", "failed", "dead", "superseded", "batched")
WAITING = ("pending", "failed")
MAX_DIGEST_CHARTS = 5
RESOLVED_LOOKBACK = timedelta(days=7)


# ============================================================================ recipients
def upsert_recipient(conn: psycopg.Connection, name: str, timezone: str = "UTC",
                     role: str = "planner") -> int:
    name = (name or "").strip()
    if not name:
        raise ValidationError("a recipient needs a name")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    try:
        Recipient(id=0, name=name, timezone=timezone, role=role)
    except ValueError as exc:
        raise ValidationError(str(exc).replace("recipient 0: ", "")) from None
    return conn.execute(
        "insert into notify.recipients (name, timezone, role) values (%s, %s, %s) "
        "on conflict (name) do update set timezone = excluded.timezone, role = excluded.role "
        "returning id", (name, timezone, role)).fetchone()[0]


def find_recipient(conn: psycopg.Connection, name_or_id: str | int) -> tuple[int, str, str, str]:
    """(id, name, timezone, role) by name, or by id when given a number."""
    text = str(name_or_id).strip()
    row = conn.execute("select id, name, timezone, role from notify.recipients where name = %s",
                       (text,)).fetchone()
    if row is None and text.isdigit():
        row = conn.execute("select id, name, timezone, role from notify.recipients where id = %s",
                           (int(text),)).fetchone()
    if row is None:
        raise NotFoundError(f"no recipient {text!r} (see `forgecast notify recipients list`)")
    return row


def list_recipients(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("""
        select r.id, r.name, r.timezone, r.role,
               count(p.id) filter (where p.enabled) as channels, r.created_at
        from notify.recipients r left join notify.notification_preferences p on p.recipient_id = r.id
        group by r.id order by r.name""").fetchall()


# =========================================================================== preferences
def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """'22:00-07:00' -> (22:00, 07:00); '' / 'none' / 'off' -> None."""
    if text is None or text.strip().lower() in ("", "none", "off"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError:
        raise ValidationError(f"quiet hours must look like 22:00-07:00, not {text!r}") from None
    return start, end


def _env_fingerprint(env_name: str) -> str:
    return channel_fingerprint(f"env:{env_name}")


def set_channel_preference(
    conn: psycopg.Connection, settings: Settings, recipient_id: int, channel_url: str | None = None,
    *, channel_env: str | None = None, min_severity: str = "medium", alert_type: str | None = None,
    item_category: str | None = None, location_id: str | None = None,
    quiet_hours: tuple[time, time] | None = None, delivery_mode: str = "immediate",
    digest_hour: int | None = None, notify_on_resolve: bool = False,
    repeat_interval_hours: int | None = None, enabled: bool = True,
) -> int:
    """Create or update the preference recipient x channel x alert type x item category
    x location (its identity); every other field is updated in place.

    The channel is an apprise URL, stored encrypted, or ``channel_env``: the name of an
    environment variable that holds the URL at send time (nothing secret stored).
    Validation errors never repeat the URL.
    """
    if (channel_url is None) == (channel_env is None):
        raise ValidationError("give exactly one of a channel URL or a channel environment variable")
    if delivery_mode not in DELIVERY_MODES:
        raise ValidationError(f"delivery mode must be one of {', '.join(DELIVERY_MODES)}")
    if channel_env is not None:
        if not channel_env.isidentifier():
            raise ValidationError("the channel environment variable name is not a valid name")
        resolved = os.environ.get(channel_env)
        if not resolved:
            raise ValidationError(f"environment variable {channel_env} is not set: set it to the "
                                  "channel's apprise URL first")
        fingerprint, encrypted, check_url = _env_fingerprint(channel_env), None, resolved
    else:
        fingerprint, check_url = channel_fingerprint(channel_url), channel_url
        encrypted = encrypt(settings, channel_url)
    try:
        kind = channel_kind(check_url)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if ChannelClients().get(check_url) is None:
        raise ValidationError(f"apprise cannot use this {mask_url(check_url)} URL "
                              "(unsupported scheme or malformed)")
    try:
        Preference(recipient_id=recipient_id, alert_types=None, min_severity=min_severity,
                   channel_url="", channel_kind=kind, fingerprint=fingerprint,
                   delivery_mode=delivery_mode, digest_hour=digest_hour or 0)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    quiet_start, quiet_end = quiet_hours or (None, None)
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
        "kind": kind, "encrypted": encrypted, "env": channel_env, "fingerprint": fingerprint,
        "category": item_category, "location": location_id, "quiet_start": quiet_start,
        "quiet_end": quiet_end, "mode": delivery_mode,
        "digest_hour": settings.notify_digest_hour if digest_hour is None else digest_hour,
        "resolve": notify_on_resolve, "repeat": repeat_interval_hours, "enabled": enabled,
    }).fetchone()[0]


def list_preferences(conn: psycopg.Connection, recipient_id: int | None = None) -> list[dict]:
    """Preferences for display: the channel only as 'kind://***' and a short fingerprint."""
    rows = conn.execute("""
        select p.id, r.name, p.channel_kind, p.channel_url_env, p.channel_fingerprint,
               p.alert_type, p.min_severity, p.item_category, p.location_id, p.quiet_start,
               p.quiet_end, p.delivery_mode, p.digest_hour, p.notify_on_resolve,
               p.repeat_interval_hours, p.enabled
        from notify.notification_preferences p join notify.recipients r on r.id = p.recipient_id
        where %(recipient)s::bigint is null or p.recipient_id = %(recipient)s
        order by r.name, p.id""", {"recipient": recipient_id}).fetchall()
    out = []
    for (pid, name, kind, env, fingerprint, alert_type, min_sev, category, location, q_start,
         q_end, mode, digest_hour, resolve, repeat, enabled) in rows:
        out.append({
            "id": pid, "recipient": name,
            "channel": f"env:{env}" if env else f"{kind}://***",
            "fingerprint": fingerprint[:8], "alert_type": alert_type or "*",
            "min_severity": min_sev, "category": category or "*", "location": location or "*",
            "quiet_hours": f"{q_start:%H:%M}-{q_end:%H:%M}" if q_start else "",
            "mode": mode if mode == "immediate" else f"digest@{digest_hour:02d}h",
            "on_resolve": "yes" if resolve else "no",
            "repeat_h": "" if repeat is None else repeat, "enabled": "yes" if enabled else "no",
        })
    return out


def delete_preference(conn: psycopg.Connection, preference_id: int) -> None:
    deleted = conn.execute("delete from notify.notification_preferences where id = %s",
                           (preference_id,)).rowcount
    if not deleted:
        raise NotFoundError(f"no preference {preference_id}")


# ============================================================================== channels
@dataclass(frozen=True)
class Channel:
    """A preference's resolved channel. ``url`` is a secret: never logged or stored."""

    url: str | None = field(repr=False)
    error: str | None = None  # why there is no URL (safe to store)
    permanent: bool = False  # retrying cannot help (key changed): dead at once


def resolve_channel(settings: Settings, encrypted: str | None, env_name: str | None) -> Channel:
    if encrypted:
        try:
            return Channel(decrypt(settings, encrypted))
        except ServiceError as exc:
            return Channel(None, exc.message, permanent=True)
    value = os.environ.get(env_name or "")
    if not value:
        return Channel(None, f"channel environment variable {env_name} is not set")
    return Channel(value)


def _load_channels(conn: psycopg.Connection, settings: Settings,
                   preference_ids: Iterable[int]) -> dict[int, Channel]:
    ids = sorted({p for p in preference_ids if p is not None})
    if not ids:
        return {}
    rows = conn.execute("select id, channel_url_encrypted, channel_url_env "
                        "from notify.notification_preferences where id = any(%s)", (ids,)).fetchall()
    return {r[0]: resolve_channel(settings, r[1], r[2]) for r in rows}


# ============================================================================= templates
def ensure_default_templates(conn: psycopg.Connection) -> int:
    """Insert the shipped default templates that are missing; edits are never overwritten."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into notify.notification_templates (alert_type, channel_kind, subject, body, "
            "body_format) values (%s, %s, %s, %s, %s) on conflict (alert_type, channel_kind) do nothing",
            default_template_rows())
        return max(cur.rowcount, 0)


def load_templates(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[str, str, str]]:
    rows = conn.execute("select alert_type, channel_kind, subject, body, body_format "
                        "from notify.notification_templates").fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def render_notification(templates: dict, alert_type: str, kind: str,
                        context: dict) -> tuple[str, str, str]:
    """(subject, body, body_format) from the stored template for (type, kind), else
    (type, 'default'), else the shipped default. A stored template that fails (syntax,
    sandbox violation) falls back to the shipped default, with a warning."""
    for key in ((alert_type, kind), (alert_type, "default")):
        if key in templates:
            subject_t, body_t, body_format = templates[key]
            try:
                subject, body = render(subject_t, body_t, context, html=body_format == "html")
                return subject, body, body_format
            except (TemplateRenderError, ValueError) as exc:
                log.warning("template %s/%s failed (%s); using the shipped default",
                            key[0], key[1], str(exc)[:200])
            break
    body_format = body_format_for(kind)
    try:
        subject, body = render(*template_for(alert_type, kind), context, html=body_format == "html")
    except TemplateRenderError:  # details lack a fact the type's template shows
        subject, body = render(*template_for("", kind), context, html=body_format == "html")
    return subject, body, body_format


# ========================================================================= routing input
_schema_cache: dict[str, bool] = {}


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str | None) -> bool:
    """Whether a table (or one of its columns) exists. Only positive answers are cached:
    another stage may add the column while this process lives."""
    key = f"{schema}.{table}.{column}"
    if _schema_cache.get(key):
        return True
    found = conn.execute(
        "select 1 from information_schema.columns where table_schema = %s and table_name = %s "
        "and (%s::text is null or column_name = %s)", (schema, table, column, column)).fetchone()
    if found:
        _schema_cache[key] = True
    return found is not None


def load_routing(conn: psycopg.Connection, settings: Settings
                 ) -> tuple[list[Recipient], list[Preference]]:
    """Recipients and enabled preferences. Planning needs no channel URL (the stored
    fingerprint identifies the channel), so nothing is decrypted here."""
    recipients = [Recipient(id=r[0], name=r[1], timezone=r[2], role=r[3]) for r in conn.execute(
        "select id, name, timezone, role from notify.recipients order by id").fetchall()]
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
            repeat_interval_hours=settings.notify_repeat_interval_hours if row[8] is None else row[8],
            notify_on_resolve=row[9], id=row[0], item_category=row[10], location_id=row[11],
            delivery_mode=row[12], digest_hour=row[13]))
    return recipients, preferences


def load_alert_events(conn: psycopg.Connection) -> list[AlertEvent]:
    """Open alerts and alerts resolved in the last week, with their item category and,
    when the forecast stage provides one, their chart (a ``chart_path`` column or
    ``details->>'chart_path'``)."""
    chart = ("coalesce(a.chart_path, a.details->>'chart_path')"
             if _has_column(conn, "forecast", "forecast_alerts", "chart_path")
             else "a.details->>'chart_path'")
    if _has_column(conn, "unified", "manufacturing_items", "category"):
        category = "coalesce(i.category, a.details->>'category')"
        join = "left join unified.manufacturing_items i on i.item_id::text = a.item_id"
    else:
        category, join = "a.details->>'category'", ""
    rows = conn.execute(f"""
        select a.id, a.dedup_key, a.alert_type, a.severity, a.item_id, a.location_id,
               a.message, a.details, a.status, a.last_event, a.first_seen_at,
               {category}, {chart}
        from forecast.forecast_alerts a {join}
        where a.status = 'open' or a.resolved_at > %s
        order by a.id""", (datetime.now(UTC) - RESOLVED_LOOKBACK,)).fetchall()
    return [AlertEvent(alert_id=r[0], dedup_key=r[1], alert_type=r[2], severity=r[3],
                       item_id=r[4], location_id=r[5], message=r[6], details=r[7] or {},
                       status=r[8], event=r[9], episode=r[10].isoformat(),
                       item_category=r[11], chart_path=r[12]) for r in rows]


def load_history(conn: psycopg.Connection, alert_ids: list) -> dict[tuple[str, str], Notice]:
    """Per (alert, preference): when it was last told (sent, or queued and still alive)."""
    if not alert_ids:
        return {}
    rows = conn.execute("""
        select alert_id::text, preference_id::text, max(coalesce(sent_at, created_at))
        from notify.notifications
        where alert_id = any(%s) and preference_id is not null
          and status not in ('dead', 'superseded') and event <> 'test'
        group by 1, 2""", (list(alert_ids),)).fetchall()
    return {(r[0], r[1]): Notice(last_at=r[2]) for r in rows}


# =============================================================================== enqueue
def supersede_stale(conn: psycopg.Connection, alert_ids: list | None = None) -> int:
    """Waiting notices that no longer tell the truth become 'superseded' (never sent):

    - news of an alert that has been resolved since (new / escalated / reminder);
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
          and old.event in ('new', 'escalated', 'unchanged') {scope}""", params).rowcount
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


def enqueue(conn: psycopg.Connection, planned: list[PlannedDelivery], *,
            templates: dict | None = None, run_id: str | None = None) -> int:
    """Store planned deliveries; an idempotency key already stored is skipped (the
    unique index decides, so concurrent runs cannot both insert). Returns rows added."""
    if not planned:
        return 0
    existing = {r[0] for r in conn.execute(
        "select idempotency_key from notify.notifications where idempotency_key = any(%s)",
        ([d.idempotency_key for d in planned],)).fetchall()}
    fresh = [d for d in planned if d.idempotency_key not in existing]
    if not fresh:
        return 0
    templates = load_templates(conn) if templates is None else templates
    columns: dict[str, list] = defaultdict(list)
    for d in fresh:
        event = d.event
        subject, body, body_format = render_notification(
            templates, event.alert_type, d.channel_kind, build_context(event, d.recipient))
        for name, value in (
                ("key", d.idempotency_key), ("alert", event.alert_id), ("dedup", event.dedup_key),
                ("recipient", d.recipient.id), ("pref", d.preference_id), ("kind", d.channel_kind),
                ("fp", d.channel_fingerprint), ("event", event.event), ("severity", event.severity),
                ("mode", d.delivery_mode), ("due", d.send_after), ("subject", subject),
                ("body", body), ("format", body_format), ("chart", event.chart_path or None)):
            columns[name].append(value)
    added = 0
    chunk = 5000
    for start in range(0, len(fresh), chunk):
        part = {k: v[start:start + chunk] for k, v in columns.items()}
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


def plan_and_enqueue(conn: psycopg.Connection, settings: Settings, *, now: datetime,
                     run_id: str | None = None) -> dict[str, int]:
    """Route the current alert events to preferences and store what is new."""
    ensure_default_templates(conn)
    superseded = supersede_stale(conn)  # first: a superseded notice is not 'history'
    recipients, preferences = load_routing(conn, settings)
    events = load_alert_events(conn)
    history = load_history(conn, [e.alert_id for e in events])
    planned = plan_deliveries(events, recipients, preferences, now, history)
    created = enqueue(conn, planned, run_id=run_id)
    superseded += supersede_stale(conn, list({d.event.alert_id for d in planned}))
    return {"recipients": len(recipients), "preferences": len(preferences),
            "alert_events": len(events), "planned": len(planned), "created": created,
            "superseded": superseded}


# =============================================================================== sending
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
class _Claimed:
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


@dataclass(frozen=True)
class _Outcome:
    row: _Claimed
    result: DeliveryResult
    permanent: bool


def recover_stale_sending(conn: psycopg.Connection, settings: Settings) -> int:
    """Rows a lost worker left in 'sending' beyond the lease: dead, not retried. They may
    have reached the channel before the worker died, and a second copy is worse than a
    visible dead letter (`forgecast notify deliveries --status dead`)."""
    with conn.transaction():
        count = conn.execute("""
            update notify.notifications set status = 'dead', claimed_at = null,
                last_error = 'interrupted while sending (worker lost); not retried because it '
                             'may already have been delivered'
            where status = 'sending' and claimed_at < now() - make_interval(secs => %s)""",
                             (settings.notify_sending_lease_seconds,)).rowcount
        _propagate_digest_status(conn)
    return count


def _propagate_digest_status(conn: psycopg.Connection) -> None:
    """Items carried by a digest take the digest's final status."""
    conn.execute("""
        update notify.notifications item set status = d.status, sent_at = d.sent_at,
            last_error = d.last_error
        from notify.notifications d
        where item.digest_id = d.id and item.status = 'batched'
          and d.status in ('sent', 'dead', 'superseded')""")


def build_digests(conn: psycopg.Connection, settings: Settings, *, now: datetime,
                  run_id: str | None = None, templates: dict | None = None) -> int:
    """Turn each preference's due digest items into one digest message (pending, sent
    by the normal path). Items are locked while grouped, so concurrent builders never
    put one item in two digests; the items then wait as 'batched'."""
    templates = load_templates(conn) if templates is None else templates
    built = 0
    with conn.transaction():
        rows = conn.execute("""
            select n.id, n.preference_id, n.recipient_id, n.next_attempt_at, n.severity, n.event,
                   n.subject, coalesce(a.message, n.subject), a.alert_type, a.item_id,
                   a.location_id, n.attachments
            from notify.notifications n left join forecast.forecast_alerts a on a.id = n.alert_id
            where n.delivery_mode = 'digest' and n.status = 'pending' and n.digest_id is null
              and n.preference_id is not null and n.next_attempt_at <= %s
            order by n.preference_id, n.next_attempt_at, n.id
            for update of n skip locked""", (now,)).fetchall()
        groups: dict[tuple, list] = defaultdict(list)
        for row in rows:
            groups[(row[1], row[2], row[3])].append(row)
        if not groups:
            return 0
        prefs = {r[0]: r[1:] for r in conn.execute(
            "select p.id, p.channel_kind, p.channel_fingerprint, r.name, r.timezone, r.role "
            "from notify.notification_preferences p join notify.recipients r on r.id = p.recipient_id "
            "where p.id = any(%s)", ([k[0] for k in groups],)).fetchall()}
        for (pref_id, recipient_id, slot), items in groups.items():
            kind, fingerprint, name, tz, role = prefs[pref_id]
            items.sort(key=lambda r: (-severity_rank(r[4] or "low"), r[0]))
            lines = [{"id": r[0], "severity": r[4] or "low", "event": r[5], "subject": r[6],
                      "message": r[7], "alert_type": r[8], "item_id": r[9], "location_id": r[10]}
                     for r in items]
            counts = {s: sum(1 for i in lines if i["severity"] == s)
                      for s in ("critical", "high", "medium", "low")}
            context = {"items": lines, "counts": counts,
                       "date": slot.astimezone(ZoneInfo(tz)).date().isoformat(),
                       "recipient": {"name": name, "role": role}, "channel_kind": kind}
            subject, body, body_format = render_notification(templates, "digest", kind, context)
            charts = list(dict.fromkeys(p for r in items for p in (r[11] or [])))[:MAX_DIGEST_CHARTS]
            ids = [r[0] for r in items]
            key = hashlib.sha256(
                f"digest\x1f{pref_id}\x1f{slot.isoformat()}\x1f{','.join(map(str, sorted(ids)))}"
                .encode()).hexdigest()
            top = max((r[4] or "low" for r in items), key=severity_rank)
            digest_id = conn.execute("""
                insert into notify.notifications (idempotency_key, recipient_id, preference_id,
                    channel_kind, channel_fingerprint, event, severity, subject, body, body_format,
                    attachments, next_attempt_at, created_by_run)
                values (%s, %s, %s, %s, %s, 'digest', %s, %s, %s, %s, %s, %s, %s)
                on conflict (idempotency_key) do nothing returning id""",
                (key, recipient_id, pref_id, kind, fingerprint, top, subject, body, body_format,
                 charts, now, run_id)).fetchone()
            if digest_id is None:  # cannot happen while the items are locked; be safe
                continue
            conn.execute("update notify.notifications set status = 'batched', digest_id = %s "
                         "where id = any(%s)", (digest_id[0], ids))
            built += 1
    return built


def _claim(conn: psycopg.Connection, now: datetime, limit: int, run_id: str | None) -> list[_Claimed]:
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
    return [_Claimed(*r) for r in rows]


def _send_one(clients: ChannelClients, channel: Channel | None, row: _Claimed) -> _Outcome:
    if channel is None or channel.url is None:
        error = channel.error if channel else "the preference of this notification was removed"
        return _Outcome(row, DeliveryResult(False, "config", error, 0.0, ""),
                        permanent=channel is None or channel.permanent)
    result = deliver(channel.url, row.subject, row.body, row.body_format, row.attachments,
                     notify_type=notify_type_for(row.event, row.severity), clients=clients)
    return _Outcome(row, result, permanent=result.status == "invalid_url")


def _write_outcomes(conn: psycopg.Connection, settings: Settings, outcomes: list[_Outcome],
                    now_fn: Callable[[], datetime], run_id: str | None, rng, report: SendReport) -> None:
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
            where n.id = v.id and n.status = 'sending'""", dict(updates))
        if any(o.row.event == "digest" for o in outcomes):
            _propagate_digest_status(conn)


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
    report.recovered = recover_stale_sending(conn, settings)
    report.digests = build_digests(conn, settings, now=now_fn(), run_id=run_id)
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
                claimed = _claim(conn, now_fn(), batch_size, run_id)
                exhausted = not claimed
                report.claimed += len(claimed)
                missing = {r.preference_id for r in claimed} - channels.keys()
                channels.update(_load_channels(conn, settings, missing))
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
    return {"plan": planned, "send": sent.as_dict(), "by_status": delivery_summary(conn)}


# ========================================================================== test message
def send_test(conn: psycopg.Connection, settings: Settings, recipient: str | int) -> list[dict]:
    """Send a test message through every enabled channel of a recipient, now (quiet
    hours do not apply), and record each as a 'test' notification with its attempt.
    Test messages are not retried: a failure is reported at once and stored as dead."""
    rid, name, _, role = find_recipient(conn, recipient)
    prefs = conn.execute(
        "select id, channel_kind, channel_fingerprint, channel_url_encrypted, channel_url_env "
        "from notify.notification_preferences where recipient_id = %s and enabled order by id",
        (rid,)).fetchall()
    if not prefs:
        raise NotFoundError(f"recipient {name!r} has no enabled channel (see `forgecast notify prefs set`)")
    templates = load_templates(conn)
    clients, report = ChannelClients(), []
    seen: set[str] = set()
    for pid, kind, fingerprint, encrypted, env in prefs:
        if fingerprint in seen:  # two preferences on one channel: one test message
            continue
        seen.add(fingerprint)
        context = {"recipient": {"name": name, "role": role}, "channel_kind": kind}
        subject, body, body_format = render_notification(templates, "test", kind, context)
        key = hashlib.sha256(f"test\x1f{pid}\x1f{uuid.uuid4()}".encode()).hexdigest()
        nid = conn.execute("""
            insert into notify.notifications (idempotency_key, recipient_id, preference_id,
                channel_kind, channel_fingerprint, event, status, subject, body, body_format,
                claimed_at, claimed_by)
            values (%s, %s, %s, %s, %s, 'test', 'sending', %s, %s, %s, now(), 'cli-test')
            returning id""", (key, rid, pid, kind, fingerprint, subject, body, body_format)).fetchone()[0]
        row = _Claimed(nid, pid, kind, "test", None, subject, body, body_format, [], 0)
        outcome = _send_one(clients, resolve_channel(settings, encrypted, env), row)
        dead_now = settings.model_copy(update={"notify_max_attempts": 1})
        _write_outcomes(conn, dead_now, [outcome], lambda: datetime.now(UTC), "cli-test",
                        random, SendReport())
        channel = f"env:{env}" if env else f"{kind}://***"
        report.append({"preference": pid, "channel": channel, "ok": outcome.result.ok,
                       "status": outcome.result.status, "elapsed_ms": outcome.result.elapsed_ms,
                       "error": outcome.result.error or ""})
    return report


# =============================================================================== reading
def delivery_summary(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("select status, count(*) from notify.notifications "
                             "group by status order by status").fetchall())


def list_deliveries(conn: psycopg.Connection, *, status: str | None = None,
                    recipient: str | None = None, limit: int = 50) -> list[tuple]:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}")
    recipient_id = find_recipient(conn, recipient)[0] if recipient else None
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


def list_attempts(conn: psycopg.Connection, *, status: str | None = None,
                  recipient: str | None = None, limit: int = 50) -> list[tuple]:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}")
    recipient_id = find_recipient(conn, recipient)[0] if recipient else None
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
    """What a sending pass would do now: due deliveries, due digest items, stale claims.
    Each count matches a partial index's predicate: cheap even on a long delivery log."""
    now = now or datetime.now(UTC)
    due = conn.execute(
        "select count(*) from notify.notifications where status in ('pending', 'failed') "
        "and delivery_mode = 'immediate' and next_attempt_at <= %s", (now,)).fetchone()[0]
    digest = conn.execute(
        "select count(*) from notify.notifications where status = 'pending' "
        "and delivery_mode = 'digest' and next_attempt_at <= %s", (now,)).fetchone()[0]
    stale = conn.execute(
        "select count(*) from notify.notifications where status = 'sending' "
        "and claimed_at < now() - make_interval(secs => %s)",
        (settings.notify_sending_lease_seconds,)).fetchone()[0]
    return {"due": due, "digest_items": digest, "sending": stale}
