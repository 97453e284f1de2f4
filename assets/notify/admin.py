"""Managing who is told and where: recipients and channel preferences (validated, the
channel URL encrypted before it is stored), and the delivery log as the CLI shows it.
Plain Python on top of the store: no Dagster. Validation errors never repeat a URL."""

from __future__ import annotations

import os
from datetime import time

import psycopg

from assets.alerts.rules import ALERT_TYPE_ALIASES, ALERT_TYPES
from assets.notify import store
from assets.notify.channels import env_fingerprint
from assets.notify.delivery import ChannelClients, mask_url
from assets.notify.routing import (
    DELIVERY_MODES,
    Preference,
    Recipient,
    channel_fingerprint,
    channel_kind,
)
from resources.errors import NotFoundError, ValidationError
from resources.secrets import encrypt
from resources.settings import Settings

ROLES = ("planner", "buyer", "operator")
STATUSES = ("pending", "sending", "sent", "failed", "dead", "superseded", "batched")


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
    return store.upsert_recipient_row(conn, name, timezone, role)


def find_recipient(conn: psycopg.Connection, name_or_id: str | int) -> tuple[int, str, str, str]:
    """(id, name, timezone, role) by name, or by id when given a number."""
    text = str(name_or_id).strip()
    row = store.recipient_by_name(conn, text)
    if row is None and text.isdigit():
        row = store.recipient_by_id(conn, int(text))
    if row is None:
        raise NotFoundError(f"no recipient {text!r} (see `forgecast notify recipients list`)")
    return row


# =========================================================================== preferences
def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """'22:00-07:00' -> (22:00, 07:00); '' / 'none' / 'off' -> None."""
    if text is None or text.strip().lower() in ("", "none", "off"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError:
        raise ValidationError(f"quiet hours must look like 22:00-07:00, not {text!r}") from None
    if start == end:  # empty or all day? Either way not what anyone means: say so
        raise ValidationError(f"quiet hours {text!r} start and end at the same time; "
                              "use 'off' for none, or e.g. 22:00-07:00")
    return start, end


def canonical_alert_type(alert_type: str | None) -> str | None:
    """The alert type a preference stores: the old ``stockout`` and ``below_safety_stock``
    are one ``shortage`` type now, and still accepted."""
    if not alert_type:
        return alert_type
    canonical = ALERT_TYPE_ALIASES.get(alert_type, alert_type)
    if canonical not in ALERT_TYPES:
        raise ValidationError(f"unknown alert type {alert_type!r}: one of "
                              f"{', '.join(ALERT_TYPES)} (or {', '.join(ALERT_TYPE_ALIASES)}, "
                              "which mean shortage)")
    return canonical


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
        fingerprint, encrypted, check_url = env_fingerprint(channel_env), None, resolved
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
    return store.upsert_preference(
        conn, recipient_id=recipient_id, alert_type=canonical_alert_type(alert_type),
        min_severity=min_severity,
        channel_kind=kind, encrypted=encrypted, channel_env=channel_env, fingerprint=fingerprint,
        item_category=item_category, location_id=location_id, quiet_start=quiet_start,
        quiet_end=quiet_end, delivery_mode=delivery_mode,
        digest_hour=settings.notify_digest_hour if digest_hour is None else digest_hour,
        notify_on_resolve=notify_on_resolve, repeat_interval_hours=repeat_interval_hours,
        enabled=enabled)


def set_sole_channel(conn: psycopg.Connection, settings: Settings, recipient_id: int,
                     channel_url: str, **fields) -> int:
    """``set_channel_preference``, keyed by recipient + channel kind: the recipient's other
    channels of that kind are disabled (the demo's planner inbox on a new port replaces
    the old one instead of adding a second preference that receives the same alerts)."""
    preference_id = set_channel_preference(conn, settings, recipient_id, channel_url, **fields)
    store.disable_other_channels(conn, preference_id)
    return preference_id


def list_preferences(conn: psycopg.Connection, recipient_id: int | None = None) -> list[dict]:
    """Preferences for display: the channel only as 'kind://***' and a short fingerprint."""
    out = []
    for (pid, name, kind, env, fingerprint, alert_type, min_sev, category, location, q_start,
         q_end, mode, digest_hour, resolve, repeat, enabled) in store.preference_rows(conn, recipient_id):
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
    if not store.delete_preference(conn, preference_id):
        raise NotFoundError(f"no preference {preference_id}")


# ========================================================================= delivery log
def _log_filter(conn: psycopg.Connection, status: str | None, recipient: str | None) -> int | None:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}")
    return find_recipient(conn, recipient)[0] if recipient else None


def list_deliveries(conn: psycopg.Connection, *, status: str | None = None,
                    recipient: str | None = None, limit: int = 50) -> list[tuple]:
    recipient_id = _log_filter(conn, status, recipient)
    return store.delivery_rows(conn, status=status, recipient_id=recipient_id, limit=limit)


def list_attempts(conn: psycopg.Connection, *, status: str | None = None,
                  recipient: str | None = None, limit: int = 50) -> list[tuple]:
    recipient_id = _log_filter(conn, status, recipient)
    return store.attempt_rows(conn, status=status, recipient_id=recipient_id, limit=limit)
