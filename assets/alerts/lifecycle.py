"""What an alerts run does to each alert: raised, escalated, de-escalated, unchanged,
resolved or reopened.

Pure: the alerts open before the run (with their severities), the keys of alerts resolved
earlier and the alerts that hold now in, events out. Every event but ``unchanged`` is
kept in the append-only ``forecast.alert_events``. Notifications are driven by them:
raised, reopened and escalated are sent at once, de-escalated and resolved to whoever
asked for resolutions, unchanged only after the repeat interval.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from assets.alerts.rules import Alert, severity_rank

EVENTS = ("raised", "escalated", "de-escalated", "unchanged", "resolved", "reopened")
# Events worth a new chart: the alert is news, or worse than the chart shows.
CHARTED_EVENTS = ("raised", "escalated", "reopened")


@dataclass(frozen=True)
class AlertChange:
    dedup_key: str
    event: str  # one of EVENTS
    alert: Alert | None  # None for resolved
    severity_before: str | None = None  # None for raised and reopened

    @property
    def severity_after(self) -> str | None:
        return None if self.alert is None else self.alert.severity


def diff_alerts(open_before: dict[str, str], current: list[Alert],
                resolved_keys: Collection[str] = ()) -> list[AlertChange]:
    """``open_before``: dedup_key -> severity of alerts open before this run;
    ``resolved_keys``: dedup keys of resolved alerts (a key among them holding again is
    reopened, not raised)."""
    changes: list[AlertChange] = []
    seen: set[str] = set()
    for alert in current:
        key = alert.dedup_key
        if key in seen:  # one alert per key and run: the rules' first word stands
            continue
        seen.add(key)
        before = open_before.get(key)
        if before is None:
            event = "reopened" if key in resolved_keys else "raised"
        elif severity_rank(alert.severity) > severity_rank(before):
            event = "escalated"
        elif severity_rank(alert.severity) < severity_rank(before):
            event = "de-escalated"
        else:
            event = "unchanged"
        changes.append(AlertChange(key, event, alert, before))
    changes += [AlertChange(key, "resolved", None, open_before[key])
                for key in sorted(open_before) if key not in seen]
    return changes


def needs_chart(event: str, stored_chart: str | None) -> bool:
    """Whether this run draws the alert's chart: a raised, escalated or reopened alert gets
    a new one; an unchanged or de-escalated alert keeps the chart it has (its title says
    as of which day), unless the file is gone. Drawing takes ~0.1 s: redrawing every open
    alert every night would cost minutes at 10,000 items, and most of them move a little
    every night."""
    return event in CHARTED_EVENTS or not stored_chart or not Path(stored_chart).exists()
