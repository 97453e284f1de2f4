"""What an alerts run does to each alert: new, escalated, unchanged or resolved.

Pure: the open alerts before the run and the alerts that hold now in, events out.
Notifications are driven by these events (new and escalated are sent at once,
unchanged only after the repeat interval, resolved when a recipient asks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assets.alerts.rules import Alert, severity_rank


@dataclass(frozen=True)
class AlertChange:
    dedup_key: str
    event: str  # new | escalated | unchanged | resolved
    alert: Alert | None  # None for resolved


def diff_alerts(open_before: dict[str, str], current: list[Alert]) -> list[AlertChange]:
    """``open_before``: dedup_key -> severity of alerts open before this run."""
    changes: list[AlertChange] = []
    seen: set[str] = set()
    for alert in current:
        key = alert.dedup_key
        if key in seen:  # one alert per key and run: the rules' first word stands
            continue
        seen.add(key)
        before = open_before.get(key)
        if before is None:
            event = "new"
        elif severity_rank(alert.severity) > severity_rank(before):
            event = "escalated"
        else:
            event = "unchanged"
        changes.append(AlertChange(key, event, alert))
    changes += [AlertChange(key, "resolved", None) for key in sorted(open_before) if key not in seen]
    return changes


def needs_chart(event: str, stored_chart: str | None) -> bool:
    """Whether this run draws the alert's chart: a raised, escalated or reopened alert gets
    a new one; an unchanged alert keeps the chart it has (its title says as of which day),
    unless the file is gone. Drawing takes ~0.1 s: redrawing every open alert every night
    would cost minutes at 10,000 items, and most of them move a little every night."""
    return event != "unchanged" or not stored_chart or not Path(stored_chart).exists()
