"""Inventory alert rules on projections built by the real projection code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from assets.alerts.rules import (
    SEVERITIES,
    Alert,
    AlertPolicy,
    ItemContext,
    evaluate_item_alerts,
    max_severity,
    severity_rank,
)
from assets.forecast.projection import project_inventory

TODAY = date(2026, 3, 2)

BOLT = ItemContext(
    item_id=42,
    sku="BLT-M8-30",
    name="Hex bolt M8x30",
    location_id="WH-MAIN",
    lead_time_days=10,
    safety_stock=40.0,
    reorder_point=160.0,
    unit_cost=2.5,
    on_hand=100.0,
    avg_daily_demand=12.0,
)


def projection(on_hand: float, per_day: float, days: int = 30, upper: float | None = None):
    forecast = pd.DataFrame(
        {
            "target_date": [TODAY + timedelta(days=i) for i in range(days)],
            "yhat": [per_day] * days,
            "yhat_upper": [upper if upper is not None else per_day] * days,
        }
    )
    return project_inventory(on_hand, forecast, None)


def by_type(alerts: list[Alert]) -> dict[str, Alert]:
    return {a.alert_type: a for a in alerts}


def test_stockout_within_lead_time_is_high_with_order_by_and_shortfall():
    # 100 on hand, 14/day from today: 100 - 14 * (d + 1) < 0 first at d = 7 (2026-03-09).
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 14), None, None, TODAY))

    stockout = alerts["stockout"]
    assert stockout.severity == "high"  # 7 days > half of the 10-day lead time
    assert stockout.details["stockout_date"] == "2026-03-09"
    assert stockout.details["days_until_stockout"] == 7
    assert stockout.details["order_by_date"] == "2026-02-27"  # stockout - lead time
    assert stockout.details["order_overdue"] is True
    # Lowest point inside the lead-time window (today + 10 days): 100 - 14 * 11 = -54.
    assert stockout.details["shortfall_qty"] == pytest.approx(54)
    assert "below_safety_stock" not in alerts  # the stockout alert already covers it
    assert stockout.dedup_key == "stockout:42:WH-MAIN"
    assert "BLT-M8-30" in stockout.message and "2026-03-09" in stockout.message


def test_stockout_within_half_the_lead_time_is_critical():
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 30), None, None, TODAY))
    assert alerts["stockout"].severity == "critical"
    assert alerts["stockout"].details["days_until_stockout"] == 3


def test_stockout_beyond_lead_time_is_not_an_alert_but_safety_stock_is():
    # 100 - 8 * (d + 1): never negative within 10 days (min 12), below 40 from d = 7.
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 8), None, None, TODAY))
    assert "stockout" not in alerts
    below = alerts["below_safety_stock"]
    assert below.severity == "medium"
    assert below.details["first_below_date"] == "2026-03-09"
    assert below.details["min_projected_on_hand"] == pytest.approx(12)
    assert below.details["qty_to_restore"] == pytest.approx(28)


def test_no_safety_stock_no_safety_stock_alert():
    item = replace(BOLT, safety_stock=0)
    assert "below_safety_stock" not in by_type(
        evaluate_item_alerts(item, projection(100, 8), None, None, TODAY)
    )


def test_rows_before_today_are_ignored():
    proj = projection(100, 14)
    later = TODAY + timedelta(days=12)  # the whole stockout is "in the past" from here
    alerts = by_type(evaluate_item_alerts(BOLT, proj.iloc[:8], None, None, later))
    assert "stockout" not in alerts


def test_pessimistic_policy_uses_the_upper_path():
    proj = projection(100, 8, upper=12)  # expected never < 0 in 10 days; upper at d = 8
    plain = by_type(evaluate_item_alerts(BOLT, proj, None, None, TODAY))
    careful = by_type(
        evaluate_item_alerts(BOLT, proj, None, None, TODAY, AlertPolicy(use_pessimistic_projection=True))
    )
    assert "stockout" not in plain
    assert careful["stockout"].details["stockout_date"] == "2026-03-10"
    assert careful["stockout"].details["projection"] == "projected_on_hand_p80"


def test_zero_lead_time_still_checks_tomorrow():
    item = replace(BOLT, lead_time_days=0)
    alerts = by_type(evaluate_item_alerts(item, projection(15, 10), None, None, TODAY))
    assert alerts["stockout"].details["stockout_date"] == "2026-03-03"
    assert alerts["stockout"].severity == "high"


def test_excess_when_cover_exceeds_threshold():
    item = replace(BOLT, on_hand=2000.0, avg_daily_demand=5.0)  # 400 days of cover
    excess = by_type(evaluate_item_alerts(item, projection(2000, 5), None, None, TODAY))["excess"]
    assert excess.severity == "low"
    assert excess.details["days_of_cover"] == pytest.approx(400)
    assert excess.details["excess_qty"] == pytest.approx(2000 - 180 * 5)
    assert excess.details["excess_value"] == pytest.approx(1100 * 2.5)


def test_excess_threshold_is_exclusive_and_configurable():
    item = replace(BOLT, on_hand=900.0, avg_daily_demand=5.0)  # exactly 180 days
    assert "excess" not in by_type(evaluate_item_alerts(item, None, None, None, TODAY))
    strict = AlertPolicy(excess_cover_days=90)
    alerts = by_type(evaluate_item_alerts(item, None, None, None, TODAY, strict))
    assert alerts["excess"].details["excess_qty"] == pytest.approx(450)


def test_stock_without_demand_is_all_excess_unless_disabled():
    item = replace(BOLT, on_hand=50.0, avg_daily_demand=0.0, unit_cost=None)
    excess = by_type(evaluate_item_alerts(item, None, None, None, TODAY))["excess"]
    assert excess.details["days_of_cover"] is None
    assert excess.details["excess_qty"] == pytest.approx(50)
    assert excess.details["excess_value"] is None
    off = AlertPolicy(excess_when_no_demand=False)
    assert evaluate_item_alerts(item, None, None, None, TODAY, off) == []


@pytest.mark.parametrize(
    ("actual", "direction"), [(31.0, "above"), (2.0, "below"), (12.0, None), (None, None)]
)
def test_demand_anomaly_outside_last_interval(actual, direction):
    alerts = by_type(evaluate_item_alerts(BOLT, None, actual, (6.0, 18.0), TODAY))
    if direction is None:
        assert "demand_anomaly" not in alerts
    else:
        anomaly = alerts["demand_anomaly"]
        assert anomaly.severity == "medium"
        assert anomaly.details["direction"] == direction
        assert anomaly.details["expected_upper"] == 18.0


def test_anomaly_needs_an_interval():
    assert evaluate_item_alerts(BOLT, None, 500.0, None, TODAY) == []


def test_healthy_item_has_no_alerts():
    assert evaluate_item_alerts(BOLT, projection(400, 5), 12.0, (6.0, 18.0), TODAY) == []


def test_severity_ordering():
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3]
    assert sorted(["critical", "low", "high", "medium"], key=severity_rank) == list(SEVERITIES)
    assert max_severity("medium", "critical", "low") == "critical"
    with pytest.raises(ValueError):
        severity_rank("urgent")


def test_policy_is_frozen():
    with pytest.raises(AttributeError):
        AlertPolicy().excess_cover_days = 10  # type: ignore[misc]
