"""Dependent demand through a three-level bill of materials, computed by hand.

A (finished good, lead time 2 days) needs 2 B per unit with 10% scrap (2.2); B
(subassembly, lead time 3) needs 1.5 C. Ten forecast days from 2027-01-01, A's forecast
10 a day; A has 25 on hand and a firm production order of 20 (start day 3, finish day 5);
B has 10 on hand and a planned order of 30 (start day 2, finish day 6); C has nothing.
"""

from datetime import date, timedelta

import pandas as pd
import pytest

from assets.forecast.mrp import BomCycleError, low_level_codes, plan_supply

D = [date(2027, 1, 1) + timedelta(days=k) for k in range(10)]  # D[0] is day 1
LOC = "sap:1000"


def _forecast(item: str, per_day: float) -> pd.DataFrame:
    return pd.DataFrame({"item_id": item, "location_id": LOC, "target_date": D,
                         "horizon_day": range(1, 11), "yhat": per_day, "yhat_upper": per_day})


def _plan(**overrides):
    inputs = {
        "forecast": _forecast("A", 10.0),
        "on_hand": pd.DataFrame({"item_id": ["A", "B"], "location_id": LOC,
                                 "on_hand": [25.0, 10.0]}),
        "supply": pd.DataFrame({
            "item_id": ["A", "B"], "location_id": LOC,
            "expected_date": [D[4], D[5]], "start_date": [D[2], D[1]],
            "quantity": [20.0, 30.0], "supply_type": ["production", "planned"],
            "is_firm": [True, False], "reference": ["PO-1", "PL-9"]}),
        "issues": None,
        "boms": pd.DataFrame({
            "parent_item_id": ["A", "B"], "component_item_id": ["B", "C"],
            "location_id": LOC, "valid_from": date(2000, 1, 1), "valid_to": None,
            "quantity_per": [2.2, 1.5]}),
        "items": pd.DataFrame({"item_id": ["A", "B", "C"], "lead_time_days": [2, 3, 5],
                               "make_to_order": False}),
    }
    inputs.update(overrides)
    return plan_supply(**inputs)


def _by_day(dependent: pd.DataFrame, item: str) -> dict:
    rows = dependent[dependent["item_id"] == item]
    return {d: round(q, 6) for d, q in rows.groupby("required_date")["quantity"].sum().items()}


def test_three_level_explosion_matches_hand_computation():
    plan = _plan()
    # A's firm + planned path 15, 5, -5, -15, -5, -15 ... : the running maximum shortfall
    # grows by 5, 10 on days 3-4 and 10 a day from day 7; due two days earlier. Its
    # production order needs 20 x 2.2 on its start day 3.
    assert _by_day(plan.dependent, "B") == {D[0]: 11.0, D[1]: 22.0, D[2]: 44.0, D[4]: 22.0,
                                            D[5]: 22.0, D[6]: 22.0, D[7]: 22.0}
    # B nets that against 10 on hand and its planned order of 30 on day 6: it must produce
    # 1, 22, 44 for days 1-3 (due day 1, three days earlier and clipped), 22 for day 5
    # (due day 2), 14 for day 7 (due day 4), 22 for day 8 (due day 5); its planned order
    # needs 30 x 1.5 on day 2.
    assert _by_day(plan.dependent, "C") == {D[0]: 100.5, D[1]: 78.0, D[3]: 21.0, D[4]: 33.0}


def test_pegging_names_the_parent_order_and_levels():
    dep = _plan().dependent
    order = dep[(dep["item_id"] == "B") & (dep["peg_type"] == "production")]
    assert order[["peg_reference", "required_date", "quantity", "parent_item_id"]].values.tolist() \
        == [["PO-1", D[2], pytest.approx(44.0), "A"]]
    assert order["peg_date"].tolist() == [D[4]]
    planned = dep[(dep["item_id"] == "C") & (dep["peg_type"] == "planned")]
    assert planned["peg_reference"].tolist() == ["PL-9"] and planned["bom_level"].tolist() == [2]
    assert set(dep.loc[dep["item_id"] == "B", "bom_level"]) == {1}


def test_components_are_projected_with_their_dependent_demand():
    proj = _plan().projection
    c = proj[proj["item_id"] == "C"].set_index("target_date")
    assert c.loc[D[4], "cumulative_dependent_demand"] == pytest.approx(232.5)
    assert c.loc[D[4], "projected_on_hand"] == pytest.approx(-232.5)
    b = proj[proj["item_id"] == "B"].set_index("target_date")
    # Firm path: the planned order is not counted; the firm + planned path has it.
    assert b.loc[D[5], "projected_on_hand"] == pytest.approx(10 - 121)
    assert b.loc[D[5], "projected_on_hand_planned"] == pytest.approx(10 - 121 + 30)


def test_make_to_order_parent_is_not_netted_against_its_stock():
    items = pd.DataFrame({"item_id": ["A", "B", "C"], "lead_time_days": [2, 3, 5],
                          "make_to_order": [True, False, False]})
    dep = _plan(items=items, supply=None).dependent
    b = dep[dep["item_id"] == "B"]
    # All 100 forecast units will be produced: 100 x 2.2, stock or not.
    assert b["quantity"].sum() == pytest.approx(220.0)


def test_bom_validity_and_started_orders():
    boms = pd.DataFrame({"parent_item_id": ["A"], "component_item_id": ["B"], "location_id": LOC,
                         "valid_from": [D[5]], "valid_to": [None], "quantity_per": [1.0]})
    supply = pd.DataFrame({"item_id": ["A"], "location_id": LOC, "expected_date": [D[4]],
                           "start_date": [D[0] - timedelta(days=2)], "quantity": [30.0],
                           "supply_type": ["production"], "is_firm": [True],
                           "reference": ["started"]})
    dep = _plan(boms=boms, supply=supply).dependent
    # The started order has had its components issued. A runs short from day 6 (5, then
    # 10 a day), due two days earlier: the BOM is valid from day 6, so days 4-5 explode to
    # nothing and days 6-8 to 10 each.
    assert "started" not in set(dep["peg_reference"])
    assert min(dep["required_date"]) == D[5] and dep["quantity"].sum() == pytest.approx(30.0)


def test_a_cycle_is_refused_with_its_items():
    boms = pd.DataFrame({"parent_item_id": ["X", "Y", "Z"], "component_item_id": ["Y", "Z", "X"]})
    with pytest.raises(BomCycleError, match="X, Y, Z"):
        low_level_codes(boms)


def test_low_level_codes_follow_the_deepest_parent():
    boms = pd.DataFrame({"parent_item_id": ["A", "B", "A"], "component_item_id": ["B", "C", "C"]})
    assert low_level_codes(boms).to_dict() == {"A": 0, "B": 1, "C": 2}


def test_a_level_planned_in_batches_gives_the_whole_plan():
    from assets.forecast.mrp import SupplyPlanner

    whole = _plan()
    forecast = pd.concat([_forecast("A", 10.0), _forecast("X", 3.0)], ignore_index=True)
    days = pd.DataFrame({"target_date": D, "horizon_day": range(1, 11)})
    planner = SupplyPlanner(
        pd.DataFrame({"item_id": ["A", "B"], "location_id": LOC, "on_hand": [25.0, 10.0]}),
        pd.DataFrame({"item_id": ["A", "B"], "location_id": LOC,
                      "expected_date": [D[4], D[5]], "start_date": [D[2], D[1]],
                      "quantity": [20.0, 30.0], "supply_type": ["production", "planned"],
                      "is_firm": [True, False], "reference": ["PO-1", "PL-9"]}),
        None,
        pd.DataFrame({"parent_item_id": ["A", "B"], "component_item_id": ["B", "C"],
                      "location_id": LOC, "valid_from": date(2000, 1, 1), "valid_to": None,
                      "quantity_per": [2.2, 1.5]}),
        pd.DataFrame({"item_id": ["A", "B", "C"], "lead_time_days": [2, 3, 5],
                      "make_to_order": False}), days)
    dependent = []
    for level in planner.levels:
        items = planner.items_of_level(level, forecast["item_id"])
        for batch in ([i] for i in sorted(items)):  # one item per batch
            rows = forecast[forecast["item_id"].isin(batch)]
            projection, exploded = planner.plan_level(level, rows, set(batch))
            dependent.append(exploded)
    assert planner.items_of_level(0, forecast["item_id"]) == ["A", "X"]
    assert planner.items_of_level(2, forecast["item_id"]) == ["C"]
    batched = pd.concat(dependent, ignore_index=True)
    for item in ("B", "C"):
        assert _by_day(batched, item) == _by_day(whole.dependent, item)
