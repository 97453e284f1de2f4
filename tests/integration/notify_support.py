"""Shared helpers for the notification tests (the ``env`` fixture is in conftest.py).

The tests of a module share its database (in random order), so every notify test
works inside its own location id (preferences filter on it, so the test's recipients
only hear about the test's alerts), checks only its own rows and receiver paths, and
deletes what it created.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta

from assets.notify.admin import set_channel_preference, upsert_recipient
from assets.notify.sending import notify_once


def item_uuid(name: str) -> uuid.UUID:
    """A readable test item name as the uuid an item id is everywhere."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"forgecast:test-item:{name}")


def future_day(days: int = 3) -> datetime:
    """Midnight UTC a few days ahead: 'now' for tests must not be behind the clock
    (sending never treats a past time as now)."""
    day = (datetime.now(UTC) + timedelta(days=days)).date()
    return datetime.combine(day, time(0), tzinfo=UTC)


class NotifyEnv:
    def __init__(self, conn, settings) -> None:
        self.conn, self.settings = conn, settings
        self.tag = uuid.uuid4().hex[:10]
        self.location = f"T-{self.tag}"
        self.alert_ids: list[int] = []
        self.recipient_ids: list[int] = []

    # -- setup -----------------------------------------------------------------------
    def recipient(self, name: str = "anna", timezone: str = "UTC", role: str = "planner") -> int:
        rid = upsert_recipient(self.conn, f"{name}-{self.tag}", timezone, role)
        self.recipient_ids.append(rid)
        return rid

    def pref(self, recipient_id: int, url: str | None = None, **options) -> int:
        options.setdefault("min_severity", "low")
        options.setdefault("location_id", self.location)
        return set_channel_preference(self.conn, self.settings, recipient_id, url, **options)

    def alert(self, item: str = "I-1", alert_type: str = "shortage", severity: str = "high",
              event: str = "raised", status: str = "open", message: str | None = None,
              details: dict | None = None, location: str | None = None) -> int:
        location = location or self.location
        details = {"sku": f"SKU-{item}", **(details or {})}
        if alert_type == "shortage":
            details.setdefault("condition", "stockout")
        aid = self.conn.execute("""
            insert into forecast.forecast_alerts (dedup_key, alert_type, severity, item_id,
                location_id, status, last_event, message, details, resolved_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s,
                    case when %s = 'resolved' then now() end)
            returning id""", (f"{alert_type}:{item}:{location}", alert_type, severity,
                              item_uuid(item), location, status, event,
                              message or f"SKU-{item} at {location}: {alert_type} ({severity})",
                              json.dumps(details), status)).fetchone()[0]
        self.alert_ids.append(aid)
        return aid

    def update_alert(self, alert_id: int, **changes) -> None:
        if changes.get("status") == "resolved":
            changes.setdefault("resolved_at", datetime.now(UTC))
        if "details" in changes:
            changes["details"] = json.dumps(changes["details"])
        sets = ", ".join(f"{k} = %({k})s" for k in changes)
        self.conn.execute(f"update forecast.forecast_alerts set {sets} where id = %(id)s",
                          {**changes, "id": alert_id})

    # -- running -----------------------------------------------------------------------
    def run(self, now: datetime, plan: bool = True) -> dict:
        return notify_once(self.conn, self.settings, plan=plan, now=now)

    # -- reading -----------------------------------------------------------------------
    def notifications(self, recipient_id: int | None = None) -> list[dict]:
        ids = [recipient_id] if recipient_id else self.recipient_ids
        cur = self.conn.execute("""
            select id, alert_id, event, status, attempts, severity, delivery_mode, digest_id,
                   subject, body, last_error, preference_id
            from notify.notifications where recipient_id = any(%s) order by id""", (ids,))
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def attempts(self, notification_id: int) -> list[tuple]:
        return self.conn.execute(
            "select attempt, status, apprise_status, error, url_id from notify.delivery_attempts "
            "where notification_id = %s order by attempt", (notification_id,)).fetchall()

    # -- cleanup -----------------------------------------------------------------------
    def cleanup(self) -> None:
        alert_ids, recipient_ids = self.alert_ids, self.recipient_ids
        self.conn.execute("""
            delete from notify.notifications where alert_id = any(%s) or recipient_id = any(%s)
               or digest_id in (select id from notify.notifications where recipient_id = any(%s))
        """, (alert_ids, recipient_ids, recipient_ids))
        self.conn.execute("delete from forecast.forecast_alerts where id = any(%s)", (alert_ids,))
        self.conn.execute("delete from notify.recipients where id = any(%s)", (recipient_ids,))

