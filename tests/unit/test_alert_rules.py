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
    SupplyContext,
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
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 14), None, TODAY))

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
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 30), None, TODAY))
    assert alerts["stockout"].severity == "critical"
    assert alerts["stockout"].details["days_until_stockout"] == 3


def test_stockout_beyond_lead_time_is_not_an_alert_but_safety_stock_is():
    # 100 - 8 * (d + 1): never negative within 10 days (min 12), below 40 from d = 7.
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 8), None, TODAY))
    assert "stockout" not in alerts
    below = alerts["below_safety_stock"]
    assert below.severity == "medium"
    assert below.details["first_below_date"] == "2026-03-09"
    assert below.details["min_projected_on_hand"] == pytest.approx(12)
    assert below.details["qty_to_restore"] == pytest.approx(28)


def test_no_safety_stock_no_safety_stock_alert():
    item = replace(BOLT, safety_stock=0)
    assert "below_safety_stock" not in by_type(
        evaluate_item_alerts(item, projection(100, 8), None, TODAY)
    )


def test_rows_before_today_are_ignored():
    proj = projection(100, 14)
    later = TODAY + timedelta(days=12)  # the whole stockout is "in the past" from here
    alerts = by_type(evaluate_item_alerts(BOLT, proj.iloc[:8], None, later))
    assert "stockout" not in alerts


def test_pessimistic_policy_uses_the_upper_path():
    proj = projection(100, 8, upper=12)  # expected never < 0 in 10 days; upper at d = 8
    plain = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY))
    careful = by_type(
        evaluate_item_alerts(BOLT, proj, None, TODAY, AlertPolicy(use_pessimistic_projection=True))
    )
    assert "stockout" not in plain
    assert careful["stockout"].details["stockout_date"] == "2026-03-10"
    assert careful["stockout"].details["projection"] == "projected_on_hand_p80"


def test_zero_lead_time_still_checks_tomorrow():
    item = replace(BOLT, lead_time_days=0)
    alerts = by_type(evaluate_item_alerts(item, projection(15, 10), None, TODAY))
    assert alerts["stockout"].details["stockout_date"] == "2026-03-03"
    assert alerts["stockout"].severity == "high"


def test_excess_when_cover_exceeds_threshold():
    item = replace(BOLT, on_hand=2000.0, avg_daily_demand=5.0)  # 400 days of cover
    excess = by_type(evaluate_item_alerts(item, projection(2000, 5), None, TODAY))["excess"]
    assert excess.severity == "low"
    assert excess.details["days_of_cover"] == pytest.approx(400)
    assert excess.details["excess_qty"] == pytest.approx(2000 - 180 * 5)
    assert excess.details["excess_value"] == pytest.approx(1100 * 2.5)


def test_excess_threshold_is_exclusive_and_configurable():
    item = replace(BOLT, on_hand=900.0, avg_daily_demand=5.0)  # exactly 180 days
    assert "excess" not in by_type(evaluate_item_alerts(item, None, None, TODAY))
    strict = AlertPolicy(excess_cover_days=90)
    alerts = by_type(evaluate_item_alerts(item, None, None, TODAY, strict))
    assert alerts["excess"].details["excess_qty"] == pytest.approx(450)


def test_stock_without_demand_is_all_excess_unless_disabled():
    item = replace(BOLT, on_hand=50.0, avg_daily_demand=0.0, unit_cost=None)
    excess = by_type(evaluate_item_alerts(item, None, None, TODAY))["excess"]
    assert excess.details["days_of_cover"] is None
    assert excess.details["excess_qty"] == pytest.approx(50)
    assert excess.details["excess_value"] is None
    off = AlertPolicy(excess_when_no_demand=False)
    assert evaluate_item_alerts(item, None, None, TODAY, off) == []


def recent_days(level_after: float, days: int = 63, shifted: int = 7) -> pd.DataFrame:
    """Lag-1 forecasts of 12 a day (80% interval 6-18) and actuals alternating 10 / 14
    (noise), the last ``shifted`` days at ``level_after``; the last day is yesterday."""
    actual = [10.0, 14.0] * (days // 2) + [10.0] * (days % 2)
    actual[days - shifted:] = [level_after] * shifted
    return pd.DataFrame({"target_date": [TODAY - timedelta(days=days - i) for i in range(days)],
                         "actual": actual, "yhat": 12.0, "yhat_lower": 6.0, "yhat_upper": 18.0})


@pytest.mark.parametrize(("level", "direction"), [(20.0, "up"), (5.0, "down"), (12.0, None)])
def test_a_week_of_demand_off_the_forecast_is_one_anomaly_with_direction_and_size(level,
                                                                                  direction):
    alerts = by_type(evaluate_item_alerts(BOLT, None, recent_days(level), TODAY))
    if direction is None:
        assert "demand_anomaly" not in alerts
        return
    anomaly = alerts["demand_anomaly"]
    assert anomaly.severity == "medium"
    assert anomaly.details["direction"] == direction
    assert anomaly.details["shift_pct"] == pytest.approx(100 * (level - 12) / 12, abs=0.05)
    assert anomaly.details["since"] == (TODAY - timedelta(days=7)).isoformat()
    # 2.5 a unit x 28 days x the shift a day.
    assert anomaly.details["value_at_stake"] == pytest.approx(2.5 * 28 * abs(level - 12))


def test_one_day_outside_the_interval_is_no_anomaly_any_more():
    assert "demand_anomaly" not in by_type(
        evaluate_item_alerts(BOLT, None, recent_days(31.0, shifted=1), TODAY))


def test_anomaly_needs_recent_days():
    assert evaluate_item_alerts(BOLT, None, None, TODAY) == []


def test_a_change_below_the_value_floor_is_no_anomaly():
    cheap = replace(BOLT, unit_cost=0.01)
    assert "demand_anomaly" not in by_type(
        evaluate_item_alerts(cheap, None, recent_days(20.0), TODAY))


def test_healthy_item_has_no_alerts():
    assert evaluate_item_alerts(BOLT, projection(400, 5), recent_days(12.0), TODAY) == []


def test_severity_ordering():
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3]
    assert sorted(["critical", "low", "high", "medium"], key=severity_rank) == list(SEVERITIES)
    assert max_severity("medium", "critical", "low") == "critical"
    with pytest.raises(ValueError):
        severity_rank("urgent")


def test_policy_is_frozen():
    with pytest.raises(AttributeError):
        AlertPolicy().excess_cover_days = 10  # type: ignore[misc]


# --- supply side: firm vs planned, pegs, late orders ------------------------------------
def supply_projection(on_hand: float, per_day: float, supply: pd.DataFrame, days: int = 30):
    forecast = pd.DataFrame({"target_date": [TODAY + timedelta(days=i) for i in range(days)],
                             "yhat": [per_day] * days, "yhat_upper": [per_day] * days})
    return project_inventory(on_hand, forecast, supply)


def order(ref: str, day: int, qty: float, firm: bool, kind: str = "production") -> dict:
    return {"reference": ref, "supply_type": kind, "is_firm": firm,
            "expected_date": TODAY + timedelta(days=day), "quantity": qty}


def test_a_firm_production_order_that_covers_the_gap_raises_no_stockout():
    orders = [order("1000123", 5, 200.0, True)]
    proj = supply_projection(100, 14, pd.DataFrame(orders))
    alerts = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                          supply=SupplyContext(tuple(orders))))
    assert "stockout" not in alerts


def test_a_stockout_planned_orders_would_clear_is_one_step_lower_and_names_them():
    orders = [order("PL-77", 5, 200.0, False, "planned")]
    proj = supply_projection(100, 14, pd.DataFrame(orders))
    alerts = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                          supply=SupplyContext(tuple(orders))))
    stockout = alerts["stockout"]
    assert stockout.severity == "medium"  # high on firm supply, lowered one step
    assert stockout.details["covered_by_planned"] is True
    assert stockout.details["planned_orders"][0]["reference"] == "PL-77"
    assert "PL-77" in stockout.message and "if firmed" in stockout.message


def test_below_safety_stock_that_planned_orders_fix_is_low():
    # 100 on hand, 5 a day: 55 by day 9, under the 60 safety stock without the planned 200.
    item = replace(BOLT, safety_stock=60.0)
    orders = [order("PL-79", 3, 200.0, False, "planned")]
    proj = supply_projection(100, 5, pd.DataFrame(orders))
    below = by_type(evaluate_item_alerts(item, proj, None, TODAY,
                                         supply=SupplyContext(tuple(orders))))
    assert below["below_safety_stock"].severity == "low"
    assert below["below_safety_stock"].details["covered_by_planned"] is True
    firm = by_type(evaluate_item_alerts(item, supply_projection(100, 5, None), None, TODAY))
    assert firm["below_safety_stock"].severity == "medium"


def test_planned_orders_too_small_leave_the_stockout_at_full_severity():
    orders = [order("PL-78", 5, 20.0, False, "planned")]
    proj = supply_projection(100, 14, pd.DataFrame(orders))
    stockout = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                            supply=SupplyContext(tuple(orders))))["stockout"]
    assert stockout.severity == "high" and stockout.details["covered_by_planned"] is False


def test_a_component_stockout_names_the_parent_order_first_by_date():
    pegs = tuple({"required_date": TODAY + timedelta(days=d), "quantity": q, "parent_sku": sku,
                  "peg_type": kind, "peg_reference": ref, "peg_date": TODAY + timedelta(days=d + 3)}
                 for d, q, sku, kind, ref in [(2, 90.0, "FG-1", "production", "1000555"),
                                              (4, 30.0, "FG-2", "net_requirement",
                                               "net requirement"),
                                              (20, 50.0, "FG-1", "planned", "PL-1")])
    issues = pd.DataFrame({"required_date": [p["required_date"] for p in pegs],
                           "quantity": [p["quantity"] for p in pegs], "kind": "dependent"})
    forecast = pd.DataFrame({"target_date": [TODAY + timedelta(days=i) for i in range(30)],
                             "yhat": 1.0, "yhat_upper": 1.0})
    proj = project_inventory(100, forecast, None, issues)
    stockout = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                            supply=SupplyContext((), pegs)))["stockout"]
    assert stockout.details["stockout_date"] == (TODAY + timedelta(days=4)).isoformat()
    assert [p["peg_reference"] for p in stockout.details["pegs"]] == ["1000555",
                                                                      "net requirement"]
    assert "consumed by FG-1 production order 1000555" in stockout.message


def test_late_firm_orders_raise_one_late_supply_alert():
    orders = [order("4500001", -10, 50.0, True, "purchase"), order("1000124", -5, 80.0, True),
              order("1000125", -2, 80.0, True), order("PL-1", -9, 10.0, False, "planned")]
    alerts = by_type(evaluate_item_alerts(BOLT, projection(1000, 1), None, TODAY,
                                          supply=SupplyContext(tuple(orders))))
    late = alerts["late_supply"]
    # Due 10 and 5 days before today are late (> 3 days past due as of yesterday); two
    # days is not yet, and a planned order is MRP's proposal, not a promise.
    assert [o["reference"] for o in late.details["late_orders"]] == ["4500001", "1000124"]
    assert late.details["max_days_late"] == 9
    assert late.severity == "low"  # plenty of stock: a follow-up, not an interruption
    short = by_type(evaluate_item_alerts(BOLT, projection(100, 14), None, TODAY,
                                         supply=SupplyContext(tuple(orders))))
    assert short["late_supply"].severity == "medium" and "stockout" in short
    assert "4500001" in late.message and "1 more" in late.message
    quiet = evaluate_item_alerts(BOLT, projection(1000, 1), None, TODAY,
                                 AlertPolicy(late_supply_days=30),
                                 supply=SupplyContext(tuple(orders)))
    assert "late_supply" not in by_type(quiet)
