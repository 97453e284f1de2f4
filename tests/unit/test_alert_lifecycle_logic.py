"""Alert lifecycle events (one shortage alert escalating instead of resolve + open) and
the alert budget's tables and rate-jump verdict."""

from __future__ import annotations

import pytest

from assets.alerts.budget import by_type, rate_jump, rate_table, value_at_risk_table
from assets.alerts.lifecycle import EVENTS, diff_alerts
from assets.alerts.rules import Alert

KEY = "shortage:i1:sap:1000"


def shortage(severity: str, item: str = "i1") -> Alert:
    return Alert("shortage", severity, item, "sap:1000", "m", {})


@pytest.mark.parametrize(("before", "now", "resolved", "event", "after"), [
    (None, "medium", (), "raised", "medium"),
    ("medium", "critical", (), "escalated", "critical"),
    ("critical", "high", (), "de-escalated", "high"),
    ("high", "high", (), "unchanged", "high"),
    ("high", None, (), "resolved", None),
    (None, "medium", (KEY,), "reopened", "medium"),
])
def test_each_event_with_its_severities(before, now, resolved, event, after):
    open_before = {} if before is None else {KEY: before}
    current = [] if now is None else [shortage(now)]
    [change] = diff_alerts(open_before, current, resolved)
    assert (change.dedup_key, change.event) == (KEY, event)
    assert (change.severity_before, change.severity_after) == (before, after)
    assert event in EVENTS


def test_below_safety_stock_worsening_to_a_stockout_is_one_alert_escalating():
    night1 = diff_alerts({}, [shortage("medium")])
    night2 = diff_alerts({KEY: "medium"}, [shortage("critical")])
    night3 = diff_alerts({KEY: "critical"}, [])
    night4 = diff_alerts({}, [shortage("medium")], resolved_keys={KEY})
    assert [c.event for n in (night1, night2, night3, night4) for c in n] == [
        "raised", "escalated", "resolved", "reopened"]


def test_a_key_repeated_in_one_run_counts_once():
    changes = diff_alerts({}, [shortage("high"), shortage("low")])
    assert [(c.event, c.severity_after) for c in changes] == [("raised", "high")]


def test_the_rate_table_is_per_1000_item_locations_by_type_and_severity():
    counts = by_type([("shortage", "critical", 2), ("shortage", "medium", 3), ("excess", "low", 1)])
    table = rate_table(counts, 500).splitlines()
    assert table[0] == "| type | critical | high | medium | low | all |"
    assert table[2] == "| excess | 0.0 | 0.0 | 0.0 | 2.0 | 2.0 |"
    assert table[3] == "| shortage | 4.0 | 0.0 | 6.0 | 0.0 | 10.0 |"
    assert table[4] == "| **all** | 4.0 | 0.0 | 6.0 | 2.0 | 12.0 |"
    assert rate_table({}, 0).splitlines()[-1] == "| **all** | 0.0 | 0.0 | 0.0 | 0.0 | 0.0 |"


def test_the_value_at_risk_table_lists_the_rows_given():
    table = value_at_risk_table([("SKU-1", "sap:1000", "shortage", "critical", 12345.6)])
    assert table.splitlines()[-1] == "| SKU-1 | sap:1000 | shortage | critical | 12,345.60 |"
    assert "no open alert" in value_at_risk_table([])


@pytest.mark.parametrize(("previous", "current", "passed", "ratio"), [
    (None, 500.0, True, None),  # the first night: nothing to compare with
    (10.0, 20.0, True, 2.0),  # exactly the factor
    (10.0, 20.1, False, 2.01),
    (0.0, 0.5, True, 0.5),  # from nothing to next to nothing: measured against 1 per 1,000
    (0.0, 30.0, False, 30.0),
])
def test_the_rate_jump_warns_above_the_factor(previous, current, passed, ratio):
    assert rate_jump(previous, current, 2.0) == (passed, ratio)
