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


def test_a_stockout_inside_the_lead_time_is_a_critical_shortage_with_order_by_and_shortfall():
    # 100 on hand, 14/day from today: 100 - 14 * (d + 1) < 0 first at d = 7 (2026-03-09).
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 14), None, TODAY))

    shortage = alerts["shortage"]
    assert shortage.severity == "critical"  # an order placed today arrives too late
    assert shortage.details["condition"] == "stockout"
    assert shortage.details["stockout_date"] == "2026-03-09"
    assert shortage.details["days_until_stockout"] == 7
    assert shortage.details["order_by_date"] == "2026-02-27"  # stockout - lead time
    assert shortage.details["order_overdue"] is True
    # Lowest point inside the lead-time window (today + 10 days): 100 - 14 * 11 = -54.
    assert shortage.details["shortfall_qty"] == pytest.approx(54)
    assert shortage.details["value_at_risk"] == pytest.approx(54 * 2.5)
    # The safety-stock facts ride along: below 40 from d = 4 (100 - 14 * 5 = 30).
    assert shortage.details["first_below_date"] == "2026-03-06"
    assert shortage.details["qty_to_restore"] == pytest.approx(94)
    assert [a.alert_type for a in evaluate_item_alerts(BOLT, projection(100, 14), None,
                                                        TODAY)] == ["shortage"]  # one alert
    assert shortage.dedup_key == "shortage:42:WH-MAIN"
    assert "BLT-M8-30" in shortage.message and "2026-03-09" in shortage.message


@pytest.mark.parametrize(("on_hand", "per_day", "severity", "condition"), [
    (106, 6, None, None),  # lowest 106 - 6 * 11 = 40: exactly the safety stock, not below
    (105, 6, "medium", "below_safety_stock"),  # 39: just below
    (108, 8, "medium", "below_safety_stock"),  # 20: exactly half the safety stock
    (107, 8, "high", "below_safety_stock"),  # 19: below half of it
    (110, 10, "high", "below_safety_stock"),  # 0: empty but not short
    (109, 10, "critical", "stockout"),  # -1: a stockout
])
def test_shortage_severity_at_its_thresholds(on_hand, per_day, severity, condition):
    alerts = by_type(evaluate_item_alerts(BOLT, projection(on_hand, per_day), None, TODAY))
    if severity is None:
        assert alerts == {}
        return
    assert (alerts["shortage"].severity, alerts["shortage"].details["condition"]) == (
        severity, condition)


def test_below_safety_stock_beyond_the_stockout_window_is_a_shortage():
    # 100 - 6 * (d + 1): never negative within 10 days (min 34), below 40 from d = 10.
    alerts = by_type(evaluate_item_alerts(BOLT, projection(100, 6), None, TODAY))
    below = alerts["shortage"]
    assert below.severity == "medium"
    assert below.details["condition"] == "below_safety_stock"
    assert below.details["first_below_date"] == "2026-03-12"
    assert below.details["min_projected_on_hand"] == pytest.approx(34)
    assert below.details["qty_to_restore"] == pytest.approx(6)
    assert "stockout_date" not in below.details
    assert "below safety stock 40" in below.message


def test_no_safety_stock_no_shortage_until_a_stockout():
    item = replace(BOLT, safety_stock=0)
    assert "shortage" not in by_type(evaluate_item_alerts(item, projection(100, 8), None,
                                                          TODAY))
    stockout = by_type(evaluate_item_alerts(item, projection(100, 14), None, TODAY))
    assert stockout["shortage"].severity == "critical"
    assert "first_below_date" not in stockout["shortage"].details


def test_rows_before_today_are_ignored():
    proj = projection(100, 14)
    later = TODAY + timedelta(days=12)  # the whole stockout is "in the past" from here
    alerts = by_type(evaluate_item_alerts(BOLT, proj.iloc[:8], None, later))
    assert "shortage" not in alerts


def test_pessimistic_policy_uses_the_upper_path():
    proj = projection(100, 8, upper=12)  # expected never < 0 in 10 days; upper at d = 8
    plain = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY))
    careful = by_type(
        evaluate_item_alerts(BOLT, proj, None, TODAY, AlertPolicy(use_pessimistic_projection=True))
    )
    assert plain["shortage"].details["condition"] == "below_safety_stock"
    assert careful["shortage"].details["stockout_date"] == "2026-03-10"
    assert careful["shortage"].details["projection"] == "projected_on_hand_p80"


def test_zero_lead_time_still_checks_tomorrow():
    item = replace(BOLT, lead_time_days=0)
    alerts = by_type(evaluate_item_alerts(item, projection(15, 10), None, TODAY))
    assert alerts["shortage"].details["stockout_date"] == "2026-03-03"
    assert alerts["shortage"].severity == "critical"


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


def test_excess_worth_exactly_the_value_floor_is_raised_and_below_it_nothing():
    # 180 days of 5 a day is 900; 400 more at 2.5 is exactly the 1,000 floor.
    at_floor = replace(BOLT, on_hand=1300.0, avg_daily_demand=5.0)
    assert by_type(evaluate_item_alerts(at_floor, None, None, TODAY))["excess"].details[
        "excess_value"] == pytest.approx(1000)
    below = replace(at_floor, on_hand=1299.0)  # 997.50
    assert evaluate_item_alerts(below, None, None, TODAY) == []
    assert evaluate_item_alerts(below, None, None, TODAY,
                                AlertPolicy(excess_min_value=500))[0].alert_type == "excess"


@pytest.mark.parametrize("unit_cost", [None, 0.0])
def test_excess_without_a_unit_cost_needs_a_week_of_demand(unit_cost):
    # 5 a day: a week is 35 units over the 900 of 180 days' cover.
    at_floor = replace(BOLT, on_hand=935.0, avg_daily_demand=5.0, unit_cost=unit_cost)
    excess = by_type(evaluate_item_alerts(at_floor, None, None, TODAY))["excess"]
    assert excess.details["excess_qty"] == pytest.approx(35)
    assert excess.details["excess_value"] is None and excess.details["value_at_risk"] is None
    assert evaluate_item_alerts(replace(at_floor, on_hand=934.0), None, None, TODAY) == []


def test_a_dead_item_with_a_fraction_of_a_unit_raises_no_excess():
    dead = replace(BOLT, on_hand=0.379, avg_daily_demand=0.0, unit_cost=None)
    assert evaluate_item_alerts(dead, None, None, TODAY) == []
    one = replace(dead, on_hand=1.0)  # the floor is at least one unit
    assert by_type(evaluate_item_alerts(one, None, None, TODAY))["excess"]


def test_a_stockout_inhibits_the_anomaly_and_the_excess_of_its_item_location():
    # Projected to run out (14 a day from 100), with demand a week above its forecast and
    # stock counted as excess: the stockout is the one thing to act on.
    item = replace(BOLT, on_hand=2000.0, avg_daily_demand=5.0)
    alerts = evaluate_item_alerts(item, projection(100, 14), recent_days(20.0), TODAY)
    assert [a.alert_type for a in alerts] == ["shortage"]
    assert alerts[0].details["inhibited"] == ["demand_anomaly", "excess"]
    # Below safety stock is no stockout: nothing is inhibited.
    below = by_type(evaluate_item_alerts(item, projection(100, 6), recent_days(20.0), TODAY))
    assert set(below) == {"shortage", "demand_anomaly", "excess"}
    assert "inhibited" not in below["shortage"].details


def test_stock_without_demand_is_all_excess_unless_disabled():
    item = replace(BOLT, on_hand=50.0, avg_daily_demand=0.0, unit_cost=None)
    excess = by_type(evaluate_item_alerts(item, None, None, TODAY))["excess"]
    assert excess.details["days_of_cover"] is None
    assert excess.details["excess_qty"] == pytest.approx(50)
    assert excess.details["excess_value"] is None
    off = AlertPolicy(excess_when_no_demand=False)
    assert evaluate_item_alerts(item, None, None, TODAY, off) == []


def recent_days(level_after: float, days: int = 140, shifted: int = 7) -> pd.DataFrame:
    """Lag-1 forecasts of 12 a day (80% interval 6-18) and actuals alternating 10 / 14
    (noise), the last ``shifted`` days at ``level_after``; the last day is yesterday. Longer
    than the 120 days of history the default rule (level_shift) asks of an item-location."""
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
    # Against the eight weeks before (12 a day, less their one largest day: 11.96).
    reference = (28 * 10 + 27 * 14) / 55
    assert anomaly.details["shift_pct"] == pytest.approx(
        100 * (level - reference) / reference, abs=0.05)
    assert anomaly.details["since"] == (TODAY - timedelta(days=7)).isoformat()
    # 2.5 a unit x 28 days x the shift a day.
    assert anomaly.details["value_at_stake"] == pytest.approx(
        2.5 * 28 * abs(level - reference), abs=0.01)


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
    # Day 4 dips to 30 before the order lands: below safety stock, no stockout.
    assert alerts["shortage"].details["condition"] == "below_safety_stock"


def test_a_stockout_planned_orders_would_clear_is_one_step_lower_and_names_them():
    orders = [order("PL-77", 5, 200.0, False, "planned")]
    proj = supply_projection(100, 14, pd.DataFrame(orders))
    alerts = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                          supply=SupplyContext(tuple(orders))))
    stockout = alerts["shortage"]
    assert stockout.severity == "high"  # critical on firm supply, lowered one step
    assert stockout.details["covered_by_planned"] is True
    assert stockout.details["planned_orders"][0]["reference"] == "PL-77"
    assert "PL-77" in stockout.message and "if firmed" in stockout.message


def test_a_shortage_planned_orders_fix_is_one_step_lower():
    # 100 on hand, 5 a day: 55 by day 9, under the 60 safety stock without the planned 200.
    item = replace(BOLT, safety_stock=60.0)
    orders = [order("PL-79", 3, 200.0, False, "planned")]
    proj = supply_projection(100, 5, pd.DataFrame(orders))
    below = by_type(evaluate_item_alerts(item, proj, None, TODAY,
                                         supply=SupplyContext(tuple(orders))))
    assert below["shortage"].severity == "low"
    assert below["shortage"].details["covered_by_planned"] is True
    assert below["shortage"].details["planned_orders"][0]["reference"] == "PL-79"
    firm = by_type(evaluate_item_alerts(item, supply_projection(100, 5, None), None, TODAY))
    assert firm["shortage"].severity == "medium"


def test_planned_orders_too_small_leave_the_stockout_at_full_severity():
    orders = [order("PL-78", 5, 20.0, False, "planned")]
    proj = supply_projection(100, 14, pd.DataFrame(orders))
    stockout = by_type(evaluate_item_alerts(BOLT, proj, None, TODAY,
                                            supply=SupplyContext(tuple(orders))))["shortage"]
    assert stockout.severity == "critical" and stockout.details["covered_by_planned"] is False


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
                                            supply=SupplyContext((), pegs)))["shortage"]
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
    assert short["late_supply"].severity == "medium" and "shortage" in short
    assert "4500001" in late.message and "1 more" in late.message
    quiet = evaluate_item_alerts(BOLT, projection(1000, 1), None, TODAY,
                                 AlertPolicy(late_supply_days=30),
                                 supply=SupplyContext(tuple(orders)))
    assert "late_supply" not in by_type(quiet)
