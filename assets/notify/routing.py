"""Decide who gets told about which alert events, when, and under which idempotency key.

Pure Python: no Dagster, no database, no network. The caller stores each
``PlannedDelivery`` under its ``idempotency_key`` (unique), so planning twice in the same
run, or re-running a run, never sends twice.

Channel URLs are apprise URLs and therefore secrets: they are kept out of every repr and
out of the idempotency key (only a sha256 fingerprint goes in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assets.alerts.rules import severity_rank

EVENTS = ("raised", "reopened", "escalated", "de-escalated", "unchanged", "resolved")
# Sent at once to every matching preference: the alert is news, or worse than it was.
NEWS_EVENTS = ("raised", "reopened", "escalated")
# Sent only to preferences that asked for resolutions (and were told the alert exists):
# good news, no action needed.
EASING_EVENTS = ("de-escalated", "resolved")
# Idempotency keys stored before revision 0009 named a raised alert 'new': the same name
# keeps their keys, so planning after the upgrade does not send them again.
_KEY_EVENT = {"raised": "new"}
DELIVERY_MODES = ("immediate", "digest")

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
    id: str | int | None = None  # the stored preference (history is kept per preference)
    item_category: str | None = None  # None: every category
    location_id: str | None = None  # None: every location
    delivery_mode: str = "immediate"  # 'immediate' | 'digest'
    digest_hour: int = 8  # recipient-local hour of the daily digest
    # sha256 identity of the channel. The store passes the one it keeps beside the
    # encrypted URL (planning then never decrypts); otherwise it is the URL's sha256.
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", channel_fingerprint(self.channel_url))
        severity_rank(self.min_severity)  # fail fast on a typo
        if self.delivery_mode not in DELIVERY_MODES:
            raise ValueError(f"delivery_mode must be one of {DELIVERY_MODES}")
        if not 0 <= int(self.digest_hour) <= 23:
            raise ValueError("digest_hour must be 0..23")
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
    event: str  # one of EVENTS
    last_notified_at: datetime | None = None  # used when plan_deliveries gets no history
    episode: str = ""  # when this opening of the alert began: a reopened alert is new news
    item_category: str | None = None
    chart_path: str | None = None


@dataclass(frozen=True)
class Notice:
    """What a preference was last told about an alert (from the notifications table).

    ``last_at``: when the latest notice that was not dead or superseded was sent (or,
    if not sent yet, queued): a reminder waits a repeat interval from there.
    ``last_event``: what that notice told (a resolution is announced once).
    """

    last_at: datetime | None
    last_event: str | None = None


@dataclass(frozen=True)
class PlannedDelivery:
    recipient: Recipient
    preference_index: int
    channel_url: str = field(repr=False)
    channel_kind: str
    event: AlertEvent
    idempotency_key: str
    send_after: datetime  # tz-aware UTC; for a digest item, its digest's time
    preference_id: str | int | None = None
    delivery_mode: str = "immediate"
    channel_fingerprint: str = ""


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


def next_digest_at(now: datetime, tz_name: str, hour: int) -> datetime:
    """The first ``hour``:00 recipient-local strictly after ``now`` (UTC).

    Everything planned for a digest preference during one day waits for the same time,
    so it leaves as one message. DST gaps resolve the way zoneinfo does (fold=0).
    """
    zone = ZoneInfo(tz_name)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return candidate.astimezone(UTC)


def _occurrence(event: AlertEvent, now: datetime, repeat_hours: int) -> str:
    """What makes one sending of this event distinct from another.

    raised/reopened/escalated/de-escalated/resolved: the alert row, its episode (a
    resolved alert that opens again is news again) and its severity (a re-escalation to
    the same severity within one episode is the same news). unchanged: the repeat window
    that ``now`` falls in, counted from the epoch, so a reminder goes out at most once per
    repeat interval no matter how often planning runs.
    """
    if event.event == "unchanged":
        window = int(now.timestamp() // (max(repeat_hours, 1) * 3600))
        return f"{event.alert_id}:{event.episode}:repeat:{window}"
    return f"{event.alert_id}:{event.episode}:{event.severity}"


def idempotency_key(
    event: AlertEvent, recipient_id: str | int, fingerprint: str, now: datetime, repeat_hours: int
) -> str:
    """sha256 over what makes a notice unique: alert, event, recipient, channel
    fingerprint (never the URL) and the occurrence (see ``_occurrence``)."""
    parts = (
        event.dedup_key,
        _KEY_EVENT.get(event.event, event.event),
        str(recipient_id),
        fingerprint,
        _occurrence(event, now, repeat_hours),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def matches(event: AlertEvent, pref: Preference) -> bool:
    """The preference's filters: alert type, minimum severity, item category, location."""
    if pref.alert_types is not None and event.alert_type not in pref.alert_types:
        return False
    if severity_rank(event.severity) < severity_rank(pref.min_severity):
        return False
    if pref.item_category is not None and event.item_category != pref.item_category:
        return False
    return pref.location_id is None or str(event.location_id) == str(pref.location_id)


def _wants(event: AlertEvent, pref: Preference, now: datetime,
           history: Mapping[tuple[str, str], Notice] | None) -> bool:
    if not matches(event, pref):
        return False
    if event.event in NEWS_EVENTS:
        return True
    notice = None if history is None else history.get((str(event.alert_id), str(pref.id)))
    if event.event in EASING_EVENTS:
        # Like Alertmanager's send_resolved: only to whoever was told the alert exists,
        # and a resolution once (its key may have changed, e.g. by a migration).
        told = history is None or (notice is not None and not (
            event.event == "resolved" and notice.last_event == "resolved"))
        return pref.notify_on_resolve and told
    # unchanged: a reminder once the repeat interval has passed since the last notice.
    if pref.repeat_interval_hours <= 0:
        return False
    last = event.last_notified_at if history is None else (notice.last_at if notice else None)
    if last is None:
        return True  # never told (a new preference, or every earlier attempt died)
    return now - last >= timedelta(hours=pref.repeat_interval_hours)


def plan_deliveries(
    alerts: list[AlertEvent],
    recipients: list[Recipient],
    preferences: list[Preference],
    now: datetime,
    history: Mapping[tuple[str, str], Notice] | None = None,
) -> list[PlannedDelivery]:
    """One PlannedDelivery per (event, matching preference), deduplicated by key.

    Preferences of unknown recipients are ignored. Quiet hours delay the send until they
    end, except for critical alerts. A digest preference's deliveries wait for its next
    digest time (quiet hours do not apply: the recipient chose that hour).

    ``history`` maps (str(alert_id), str(preference id)) to the last ``Notice``: the
    repeat interval then runs per preference, and a resolution is only announced to a
    preference that was told about the alert. Without it (pure use), the event's own
    ``last_notified_at`` drives repeats and resolutions go to every preference asking.
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
            if recipient is None or not _wants(event, pref, now, history):
                continue
            key = idempotency_key(event, recipient.id, pref.fingerprint, now, pref.repeat_interval_hours)
            if key in seen_keys:  # two preferences pointing at the same channel
                continue
            seen_keys.add(key)
            send_after = now.astimezone(UTC)
            if pref.delivery_mode == "digest":
                send_after = next_digest_at(now, recipient.timezone, pref.digest_hour)
            elif event.severity != "critical":
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
                    preference_id=pref.id,
                    delivery_mode=pref.delivery_mode,
                    channel_fingerprint=pref.fingerprint,
                )
            )
    return planned
