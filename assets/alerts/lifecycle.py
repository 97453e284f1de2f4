"""What an alerts run does to each alert: new, escalated, unchanged or resolved.

Pure: the open alerts before the run and the alerts that hold now in, events out.
Notifications are driven by these events (new and escalated are sent at once,
unchanged only after the repeat interval, resolved when a recipient asks).
"""

from __future__ import annotations

import json
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


def needs_chart(event: str, details: dict | None, stored_details: dict | None,
                stored_chart: str | None) -> bool:
    """Whether this run draws the alert's chart. A raised, escalated or reopened alert gets
    a new one, and so does an alert whose details moved (a stockout date, a shortfall);
    an unchanged alert keeps the chart it has, unless its file is gone. Drawing takes
    ~0.1 s: redrawing every open alert every night would cost minutes at 10,000 items."""
    if event != "unchanged" or not stored_chart or not Path(stored_chart).exists():
        return True
    return json.loads(json.dumps(details or {}, default=str)) != (stored_details or {})
