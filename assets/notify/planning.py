"""Planning: route the current alert events to the recipients' preferences and store
each delivery under its idempotency key, rendered for its channel. Plain Python on top
of the store: no Dagster. Planning twice adds nothing (the unique key decides)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg

from assets.notify import store
from assets.notify.rendering import build_context, default_template_rows, render_notification
from assets.notify.routing import PlannedDelivery, plan_deliveries
from resources.settings import Settings

RESOLVED_LOOKBACK = timedelta(days=7)  # resolved alerts still worth a resolve notice


def ensure_default_templates(conn: psycopg.Connection) -> int:
    """Insert the shipped default templates that are missing; edits are never overwritten."""
    return store.insert_templates(conn, default_template_rows())


def enqueue(conn: psycopg.Connection, planned: list[PlannedDelivery], *,
            templates: dict | None = None, run_id: str | None = None) -> int:
    """Store planned deliveries; an idempotency key already stored is skipped (the
    unique index decides, so concurrent runs cannot both insert). Returns rows added.
    Only new deliveries are rendered."""
    if not planned:
        return 0
    existing = store.existing_keys(conn, [d.idempotency_key for d in planned])
    fresh = [d for d in planned if d.idempotency_key not in existing]
    if not fresh:
        return 0
    templates = store.load_templates(conn) if templates is None else templates
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
    return store.insert_notifications(conn, dict(columns), run_id)


def plan_and_enqueue(conn: psycopg.Connection, settings: Settings, *, now: datetime,
                     run_id: str | None = None) -> dict[str, int]:
    """Route the current alert events to preferences and store what is new."""
    ensure_default_templates(conn)
    superseded = store.supersede_stale(conn)  # first: a superseded notice is not 'history'
    recipients = store.load_recipients(conn)
    preferences = store.load_preferences(conn, settings.notify_repeat_interval_hours)
    events = store.load_alert_events(conn, datetime.now(UTC) - RESOLVED_LOOKBACK)
    history = store.load_history(conn, [e.alert_id for e in events])
    planned = plan_deliveries(events, recipients, preferences, now, history)
    created = enqueue(conn, planned, run_id=run_id)
    superseded += store.supersede_stale(conn, list({d.event.alert_id for d in planned}))
    return {"recipients": len(recipients), "preferences": len(preferences),
            "alert_events": len(events), "planned": len(planned), "created": created,
            "superseded": superseded}

