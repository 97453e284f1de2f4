"""Decide who gets told about which alert events, when, and under which idempotency key.

Pure Python: no Dagster, no database, no network. The caller stores each
``PlannedDelivery`` under its ``idempotency_key`` (unique), so planning twice in the same
run, or re-running a run, never sends twice.

Channel URLs are apprise URLs and therefore secrets: they are kept out of every repr and
out of the idempotency key (only a sha256 fingerprint goes in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assets.alerts.rules import severity_rank

EVENTS = ("new", "escalated", "unchanged", "resolved")

# apprise's TLS variants ("jsons://", "mailtos://") format messages like the plain ones.
_KIND_ALIASES = {
    "jsons": "json",
    "mailtos": "mailto",
    "forms": "form",
    "xmls": "xml",
    "ntfys": "ntfy",
    "gotifys": "gotify",
    "matrixs": "matrix",
    "mmosts": "mmost",
    "rockets": "rocket",
}


def channel_kind(url: str) -> str:
    """The apprise service family of a URL, from its scheme ('json', 'mailto', 'slack')."""
    scheme, sep, _ = (url or "").partition("://")
    if not sep or not scheme:
        raise ValueError("channel URL has no scheme (expected e.g. json://, mailto://, slack://)")
    scheme = scheme.strip().lower()
    return _KIND_ALIASES.get(scheme, scheme)


def channel_fingerprint(url: str) -> str:
    """sha256 of the URL: identifies a channel without revealing it."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Recipient:
    id: str | int
    name: str
    timezone: str = "UTC"
    role: str = "planner"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"recipient {self.id}: unknown time zone {self.timezone!r}") from None


@dataclass(frozen=True)
class Preference:
    recipient_id: str | int
    alert_types: frozenset[str] | set[str] | None  # None = every alert type
    min_severity: str
    channel_url: str = field(repr=False)
    channel_kind: str | None = None  # derived from the URL scheme when not given
    quiet_hours: tuple[time, time] | None = None  # recipient-local, may wrap midnight
    repeat_interval_hours: int = 24  # <= 0: never repeat an unchanged alert
    notify_on_resolve: bool = False

    def __post_init__(self) -> None:
        severity_rank(self.min_severity)  # fail fast on a typo
        if self.alert_types is not None:
            object.__setattr__(self, "alert_types", frozenset(self.alert_types))
        if not self.channel_kind:
            object.__setattr__(self, "channel_kind", channel_kind(self.channel_url))


@dataclass(frozen=True)
class AlertEvent:
    alert_id: str | int
    dedup_key: str
    alert_type: str
    severity: str
    item_id: str | int
    location_id: str | int
    message: str
    details: dict
    status: str  # 'open' | 'resolved'
    event: str  # 'new' | 'escalated' | 'unchanged' | 'resolved'
    last_notified_at: datetime | None = None


@dataclass(frozen=True)
class PlannedDelivery:
    recipient: Recipient
    preference_index: int
    channel_url: str = field(repr=False)
    channel_kind: str
    event: AlertEvent
    idempotency_key: str
    send_after: datetime  # tz-aware UTC


def in_quiet_hours(local_time: time, quiet_hours: tuple[time, time] | None) -> bool:
    """True inside [start, end). start > end wraps midnight; start == end means none."""
    if not quiet_hours:
        return False
    start, end = quiet_hours
    if start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def quiet_hours_end(now: datetime, tz_name: str, quiet_hours: tuple[time, time] | None) -> datetime | None:
    """When the quiet period containing ``now`` ends (UTC), or None if not quiet now."""
    zone = ZoneInfo(tz_name)
    local = now.astimezone(zone)
    # Compare wall-clock times without tzinfo: quiet hours are local wall-clock times.
    wall_clock = local.time().replace(tzinfo=None)
    if not in_quiet_hours(wall_clock, quiet_hours):
        return None
    end = quiet_hours[1]
    end_day = local.date() if wall_clock < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def _occurrence(event: AlertEvent, now: datetime, repeat_hours: int) -> str:
    """What makes one sending of this event distinct from another.

    new/escalated/resolved: the alert row and its severity (a re-escalation to the same
    severity of the same alert is the same news). unchanged: the repeat window that
    ``now`` falls in, counted from the epoch, so a reminder goes out at most once per
    repeat interval no matter how often planning runs.
    """
    if event.event == "unchanged":
        window = int(now.timestamp() // (max(repeat_hours, 1) * 3600))
        return f"{event.alert_id}:repeat:{window}"
    return f"{event.alert_id}:{event.severity}"


def idempotency_key(
    event: AlertEvent, recipient_id: str | int, channel_url: str, now: datetime, repeat_hours: int
) -> str:
    parts = (
        event.dedup_key,
        event.event,
        str(recipient_id),
        channel_fingerprint(channel_url),
        _occurrence(event, now, repeat_hours),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _wants(event: AlertEvent, pref: Preference, now: datetime) -> bool:
    if pref.alert_types is not None and event.alert_type not in pref.alert_types:
        return False
    if severity_rank(event.severity) < severity_rank(pref.min_severity):
        return False
    if event.event in ("new", "escalated"):
        return True
    if event.event == "resolved":
        return pref.notify_on_resolve
    # unchanged: a reminder once the repeat interval has passed since the last notice.
    if pref.repeat_interval_hours <= 0:
        return False
    if event.last_notified_at is None:
        return True  # never got through (e.g. every earlier attempt failed)
    return now - event.last_notified_at >= timedelta(hours=pref.repeat_interval_hours)


def plan_deliveries(
    alerts: list[AlertEvent],
    recipients: list[Recipient],
    preferences: list[Preference],
    now: datetime,
) -> list[PlannedDelivery]:
    """One PlannedDelivery per (event, matching preference), deduplicated by key.

    Preferences of unknown recipients are ignored. Quiet hours delay the send until they
    end, except for critical alerts. Note ``last_notified_at`` is per alert, not per
    recipient: a reminder to one recipient restarts the repeat clock for all of them.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    by_id = {str(r.id): r for r in recipients}
    planned: list[PlannedDelivery] = []
    seen_keys: set[str] = set()
    for event in alerts:
        if event.event not in EVENTS:
            raise ValueError(f"alert {event.alert_id}: unknown event {event.event!r}")
        for index, pref in enumerate(preferences):
            recipient = by_id.get(str(pref.recipient_id))
            if recipient is None or not _wants(event, pref, now):
                continue
            key = idempotency_key(event, recipient.id, pref.channel_url, now, pref.repeat_interval_hours)
            if key in seen_keys:  # two preferences pointing at the same channel
                continue
            seen_keys.add(key)
            send_after = now.astimezone(UTC)
            if event.severity != "critical":
                quiet_until = quiet_hours_end(now, recipient.timezone, pref.quiet_hours)
                send_after = quiet_until or send_after
            planned.append(
                PlannedDelivery(
                    recipient=recipient,
                    preference_index=index,
                    channel_url=pref.channel_url,
                    channel_kind=pref.channel_kind,
                    event=event,
                    idempotency_key=key,
                    send_after=send_after,
                )
            )
    return planned
