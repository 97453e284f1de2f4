"""What an alerts run does to each alert: new, escalated, unchanged or resolved.

Pure: the open alerts before the run and the alerts that hold now in, events out.
Notifications are driven by these events (new and escalated are sent at once,
unchanged only after the repeat interval, resolved when a recipient asks).
"""

from __future__ import annotations

from dataclasses import dataclass

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
