"""Inventory alert rules: turn one item's projection into zero or more alerts.

Pure Python/pandas: no Dagster, no database. The caller persists alerts keyed on
``Alert.dedup_key`` (one open alert per type, item and location); lifecycle.py decides
whether an evaluation raises, escalates, de-escalates, reopens or resolves one.

``details`` holds only JSON-friendly values (ISO date strings, floats, ints, bools, None)
so it can go straight into a JSONB column and into notification templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from assets.alerts.anomaly import AnomalyPolicy, detect_anomaly

SEVERITIES = ("low", "medium", "high", "critical")
# Types that became one: the ``shortage`` family (below safety stock up to a stockout)
# replaced them; user input (the CLI's --alert-type) still accepts the old names.
ALERT_TYPE_ALIASES = {"stockout": "shortage", "below_safety_stock": "shortage"}
# Every type the rules raise (the table's check constraint, migration 0009, lists them).
ALERT_TYPES = ("shortage", "excess", "demand_anomaly", "accuracy_degraded", "late_supply")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for 'low' up to 3 for 'critical'; comparisons go through this."""
    try:
        return _SEVERITY_RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITIES}") from None


def max_severity(*severities: str) -> str:
    return max(severities, key=severity_rank)


@dataclass(frozen=True)
class AlertPolicy:
    # Shortage checks look this many days ahead at least, so an item with an unknown (0)
    # lead time still gets tomorrow checked.
    min_lookahead_days: int = 1
    # Below this fraction of the safety stock a shortage is high instead of medium.
    high_safety_stock_fraction: float = 0.5
    excess_cover_days: float = 180.0
    # Excess worth less than this (accounting currency) raises nothing: at a 20-25% yearly
    # carrying cost, 1,000 of excess costs ~250 a year, less than the planner's time to
    # act on it (cancel, return, transfer). The setting alert_excess_min_value.
    excess_min_value: float = 1000.0
    # Without a unit cost the floor is a quantity: this many days of average demand, and
    # at least one unit. A week is below any order cycle worth changing, and no dead item
    # is excess over a fraction of a unit.
    excess_min_days_of_demand: float = 7.0
    # Stock with no demand at all is (infinitely) excess; new items may want this off.
    excess_when_no_demand: bool = True
    # Check stockouts on the pessimistic (forecast upper bound) path instead.
    use_pessimistic_projection: bool = False
    # Forecast degraded: live WAPE above this times the seasonal naive's on the same days,
    # judged on at least this many scored days.
    degraded_ratio: float = 1.2
    degraded_min_observations: int = 14
    # An open order more than this many days past its due date is late (it still counts
    # as supply: late, not gone).
    late_supply_days: int = 3
    # Orders and pegs named in an alert's message and details.
    max_listed: int = 5
    # Demand anomaly: which rule, its thresholds and the value floor (see anomaly.py).
    anomaly: AnomalyPolicy = AnomalyPolicy()


@dataclass(frozen=True)
class ItemContext:
    item_id: str | int
    sku: str
    name: str
    location_id: str | int
    lead_time_days: int
    safety_stock: float
    reorder_point: float
    unit_cost: float | None
    on_hand: float
    avg_daily_demand: float


@dataclass(frozen=True)
class SupplyContext:
    """An item-location's open orders (reference, supply_type, is_firm, expected_date as a
    date, quantity) and the dependent demand it receives (required_date, quantity,
    parent_sku, peg_type, peg_reference, peg_date), each sorted by date."""

    orders: tuple[dict, ...] = ()
    pegs: tuple[dict, ...] = ()


NO_SUPPLY = SupplyContext()


@dataclass
class Alert:
    alert_type: str
    severity: str
    item_id: str | int
    location_id: str | int
    message: str
    details: dict = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.alert_type}:{self.item_id}:{self.location_id}"


def _qty(value: float) -> float:
    return round(float(value), 3)


def _label(item: ItemContext) -> str:
    return f"{item.sku} ({item.name}) at {item.location_id}"


def _lookahead(
    projection: pd.DataFrame | None, item: ItemContext, today: date, policy: AlertPolicy
) -> pd.DataFrame | None:
    """Projection rows from today up to the end of the lead time."""
    if projection is None or projection.empty:
        return projection
    days = max(int(item.lead_time_days or 0), policy.min_lookahead_days)
    dates = pd.Series([pd.Timestamp(d).date() for d in projection["target_date"]], index=projection.index)
    window = projection.assign(target_date=dates)
    window = window[(dates >= today) & (dates <= today + timedelta(days=days))]
    return window.sort_values("target_date")


def _lower(severity: str) -> str:
    return SEVERITIES[max(severity_rank(severity) - 1, 0)]


def _order_text(order: dict) -> str:
    return (f"{order['supply_type']} order {order['reference']} "
            f"({order['quantity']:.0f} on {order['expected_date'].isoformat()})")


def _peg_text(peg: dict) -> str:
    source = ("net requirement" if peg["peg_type"] == "net_requirement"
              else f"{peg['peg_type']} order {peg['peg_reference']}")
    return (f"{peg['parent_sku']} {source} needs {peg['quantity']:.0f} on "
            f"{peg['required_date'].isoformat()}")


def _json_rows(rows, keys) -> list[dict]:
    return [{k: (v.isoformat() if isinstance(v, date) else
                 _qty(v) if isinstance(v, float) else v)
             for k, v in row.items() if k in keys} for row in rows]


def _shortage_alert(item, window, today, policy, supply: SupplyContext = NO_SUPPLY
                    ) -> Alert | None:
    """One alert per short item-location, from below safety stock to a stockout.

    A stockout - the firm path (stock + firm orders - forecast - scheduled issues) below 0
    inside the lead time, where an order placed today arrives too late - is critical;
    below half the safety stock is high, below the safety stock medium. When MRP's planned orders would
    clear it, one step less and they are named. A worsening item escalates this one alert
    instead of resolving one type and opening another. A component's stockout names the
    parent orders / forecasts consuming it, first by date."""
    column = "projected_on_hand_p80" if policy.use_pessimistic_projection else "projected_on_hand"
    safety_stock = max(float(item.safety_stock or 0.0), 0.0)
    short = window[window[column] < 0]
    below = window[window["projected_on_hand"] < safety_stock]
    if short.empty and below.empty:
        return None
    lead_time = int(item.lead_time_days or 0)
    lowest = float(window[column].min())
    details = {"sku": item.sku, "item_name": item.name, "lead_time_days": lead_time,
               "on_hand": _qty(item.on_hand), "min_projected_on_hand": _qty(lowest)}
    if safety_stock > 0 and not below.empty:
        details.update(first_below_date=below["target_date"].iloc[0].isoformat(),
                       safety_stock=_qty(safety_stock),
                       qty_to_restore=_qty(safety_stock - lowest))
    if not short.empty:
        condition, severity, need = "stockout", "critical", 0.0
        message, at_risk = _stockout_facts(item, window, short, column, today, supply,
                                           policy, details)
    else:
        condition, need = "below_safety_stock", safety_stock
        # Half the safety stock left: most of the buffer against forecast error is used.
        severity = "high" if lowest < policy.high_safety_stock_fraction * safety_stock else "medium"
        at_risk = safety_stock - lowest
        message = (f"{_label(item)}: projected stock {lowest:.0f} falls below safety stock "
                   f"{safety_stock:.0f} on {details['first_below_date']}")
    end = window["target_date"].iloc[-1]
    planned_clears = ("projected_on_hand_planned" in window
                      and bool((window["projected_on_hand_planned"] >= need).all()))
    planned = [o for o in supply.orders if not o["is_firm"] and o["expected_date"] <= end]
    details.update(
        condition=condition, covered_by_planned=planned_clears,
        planned_orders=_json_rows(planned[:policy.max_listed] if planned_clears else [],
                                  ("reference", "expected_date", "quantity")),
        value_at_risk=None if not item.unit_cost else round(at_risk * float(item.unit_cost), 2))
    if planned_clears:
        severity = _lower(severity)
        named = ", ".join(_order_text(o) for o in planned[:2]) or "planned supply"
        message += f"; {named} would cover it if firmed"
    return Alert("shortage", severity, item.item_id, item.location_id, message, details)


def _stockout_facts(item, window, short, column, today, supply, policy, details
                    ) -> tuple[str, float]:
    """A stockout's facts into ``details``; its message and shortfall."""
    stockout_date = short["target_date"].iloc[0]
    days_until = (stockout_date - today).days
    lead_time = int(item.lead_time_days or 0)
    pegs = [p for p in supply.pegs if p["required_date"] <= stockout_date][:policy.max_listed]
    # ERPNext / Odoo convention: the latest order date is the need date minus lead time.
    order_by = stockout_date - timedelta(days=lead_time)
    shortfall = -float(window[column].min())
    details.update(
        stockout_date=stockout_date.isoformat(), days_until_stockout=days_until,
        order_by_date=order_by.isoformat(), order_overdue=order_by < today,
        shortfall_qty=_qty(shortfall), projection=column,
        dependent_demand_qty=_qty(window["dependent_demand"].sum())
        if "dependent_demand" in window else 0.0,
        pegs=_json_rows(pegs, ("required_date", "quantity", "parent_sku", "peg_type",
                               "peg_reference", "peg_date")))
    message = (
        f"{_label(item)}: projected stockout on {stockout_date.isoformat()} "
        f"(in {days_until} days, lead time {lead_time} days); "
        f"short {shortfall:.0f} units, order by {order_by.isoformat()}"
    )
    if pegs:
        message += f"; consumed by {_peg_text(pegs[0])}"
        if len(pegs) > 1:
            message += f" and {len(pegs) - 1} more before it runs out"
    return message, shortfall


INHIBITED_BY_STOCKOUT = ("demand_anomaly", "excess")


def _excess_alert(item: ItemContext, policy: AlertPolicy) -> Alert | None:
    on_hand = float(item.on_hand or 0.0)
    avg = float(item.avg_daily_demand or 0.0)
    if on_hand <= 0:
        return None
    if avg > 0:
        days_of_cover = on_hand / avg
        if days_of_cover <= policy.excess_cover_days:
            return None
        excess_qty = on_hand - policy.excess_cover_days * avg
    elif policy.excess_when_no_demand:
        days_of_cover, excess_qty = None, on_hand
    else:
        return None
    # A zero cost is how ERP exports say "not maintained": treated as unknown.
    excess_value = round(excess_qty * float(item.unit_cost), 2) if item.unit_cost else None
    if excess_value is not None and excess_value < policy.excess_min_value:
        return None
    floor_qty = max(1.0, policy.excess_min_days_of_demand * avg)
    if excess_value is None and excess_qty < floor_qty:
        return None
    details = {
        "sku": item.sku,
        "item_name": item.name,
        "on_hand": _qty(on_hand),
        "avg_daily_demand": _qty(avg),
        "days_of_cover": None if days_of_cover is None else round(days_of_cover, 1),
        "cover_threshold_days": policy.excess_cover_days,
        "excess_qty": _qty(excess_qty),
        "excess_value": excess_value,
        "value_at_risk": excess_value,
    }
    cover = "no recent demand" if days_of_cover is None else f"{days_of_cover:.0f} days of cover"
    value = "" if excess_value is None else f", excess value {excess_value:,.2f}"
    message = f"{_label(item)}: {on_hand:.0f} on hand is {cover}{value}"
    return Alert("excess", "low", item.item_id, item.location_id, message, details)


def _anomaly_alert(item, recent: pd.DataFrame | None, today: date, policy: AlertPolicy
                   ) -> Alert | None:
    """A demand change worth a look (``anomaly.detect_anomaly`` on the item-location's
    recent days up to yesterday, the last day with actuals)."""
    verdict = detect_anomaly(recent, item.unit_cost, policy.anomaly,
                             as_of=today - timedelta(days=1))
    if verdict is None:
        return None
    details = {"sku": item.sku, "item_name": item.name, **verdict.details()}
    size = ("" if verdict.shift_pct is None else f" {verdict.shift_pct:+.0f}%")
    value = ("" if verdict.value_at_stake is None
             else f"; about {verdict.value_at_stake:,.0f} at stake over "
                  f"{policy.anomaly.value_days} days")
    message = (
        f"{_label(item)}: demand {verdict.direction}{size} against the forecast since "
        f"{verdict.since.isoformat()} ({verdict.shift_per_day:+.1f} units a day over "
        f"{verdict.days} days){value}"
    )
    return Alert("demand_anomaly", "medium", item.item_id, item.location_id, message, details)


def _late_supply_alert(item, supply: SupplyContext, today: date, policy: AlertPolicy
                       ) -> Alert | None:
    """Firm orders more than ``late_supply_days`` past their due date and still open: they
    still count in the projection, but someone has to chase them."""
    as_of = today - timedelta(days=1)
    late = [{**o, "days_late": (as_of - o["expected_date"]).days} for o in supply.orders
            if o["is_firm"] and (as_of - o["expected_date"]).days > policy.late_supply_days]
    if not late:
        return None
    late.sort(key=lambda o: o["expected_date"])
    worst = late[0]
    details = {
        "sku": item.sku,
        "item_name": item.name,
        "late_orders": _json_rows(late[:policy.max_listed], ("reference", "supply_type",
                                                             "expected_date", "quantity",
                                                             "days_late")),
        "late_count": len(late),
        "late_qty": _qty(sum(o["quantity"] for o in late)),
        "max_days_late": worst["days_late"],
        "late_after_days": policy.late_supply_days,
    }
    more = f" and {len(late) - 1} more" if len(late) > 1 else ""
    message = (f"{_label(item)}: {_order_text(worst)} is {worst['days_late']} days late"
               f"{more}; still counted as supply")
    return Alert("late_supply", "low", item.item_id, item.location_id, message, details)


def _degraded_alert(item, accuracy: dict | None, policy: AlertPolicy) -> Alert | None:
    """``accuracy``: the item's latest score (wape, baseline_wape, observations, lag_days,
    model_name) from forecast_accuracy."""
    if not accuracy:
        return None
    wape, baseline = accuracy.get("wape"), accuracy.get("baseline_wape")
    observations = int(accuracy.get("observations") or 0)
    if wape is None or baseline is None or wape != wape or baseline != baseline:
        return None
    if observations < policy.degraded_min_observations or wape <= baseline * policy.degraded_ratio:
        return None
    details = {
        "sku": item.sku,
        "item_name": item.name,
        "wape": round(float(wape), 4),
        "baseline_wape": round(float(baseline), 4),
        "lag_days": int(accuracy.get("lag_days") or 0),
        "observations": observations,
        "model_name": accuracy.get("model_name"),
    }
    message = (
        f"{_label(item)}: forecast accuracy degraded, WAPE {wape:.0%} at lag "
        f"{details['lag_days']} days vs {baseline:.0%} for the seasonal naive "
        f"({details['model_name']}, {observations} days scored)"
    )
    return Alert("accuracy_degraded", "medium", item.item_id, item.location_id, message, details)


def evaluate_item_alerts(
    item: ItemContext,
    projection: pd.DataFrame,
    recent: pd.DataFrame | None,
    today: date,
    policy: AlertPolicy = AlertPolicy(),  # noqa: B008 - frozen, safe as a default
    accuracy: dict | None = None,
    supply: SupplyContext = NO_SUPPLY,
) -> list[Alert]:
    """All alerts that currently hold for one item at one location.

    ``projection`` comes from ``project_inventory``; ``recent`` the item-location's
    recent days (actual, lag-1 forecast and bounds; see ``anomaly.detect_anomaly``);
    ``accuracy`` the item's latest forecast_accuracy row (forecast degraded); ``supply``
    its open orders and the dependent demand pegged to it. A stockout inhibits the
    item-location's demand anomaly and excess (its details list which).
    """
    alerts: list[Alert] = []
    window = _lookahead(projection, item, today, policy)
    shortage = None
    if window is not None and not window.empty:
        shortage = _shortage_alert(item, window, today, policy, supply)
    others = [_excess_alert(item, policy), _anomaly_alert(item, recent, today, policy)]
    if shortage is not None:
        alerts.append(shortage)
        if shortage.details["condition"] == "stockout":
            # One cause, one alert: a stockout explains the demand that ran it dry and
            # makes excess moot; the planner acts on the stockout.
            inhibited = sorted({a.alert_type for a in others if a is not None
                                and a.alert_type in INHIBITED_BY_STOCKOUT})
            others = [a for a in others if a is None or a.alert_type not in inhibited]
            if inhibited:
                shortage.details["inhibited"] = inhibited
    alerts += [a for a in (*others, _degraded_alert(item, accuracy, policy)) if a is not None]
    late = _late_supply_alert(item, supply, today, policy)
    if late is not None:
        # A late order matters when the item is short anyway: otherwise it is a follow-up
        # for the buyer, not a reason to interrupt the planner.
        late.severity = "medium" if shortage is not None else "low"
        late.details["item_short"] = shortage is not None
        alerts.append(late)
    return alerts


def evaluate_portfolio(items: pd.DataFrame, projections: dict, accuracy: dict, today: date,
                       policy: AlertPolicy = AlertPolicy(),  # noqa: B008 - frozen
                       supply: dict | None = None, recent: dict | None = None) -> list[Alert]:
    """``evaluate_item_alerts`` for every row of ``items`` (the item context: item,
    stock, recent demand), with its projection, accuracy, supply context and recent days
    looked up by ``(item_id, location_id)``."""
    supply, recent = supply or {}, recent or {}
    current: list[Alert] = []
    for row in items.itertuples(index=False):
        item = ItemContext(row.item_id, row.sku, row.name, row.location_id,
                           int(row.lead_time_days), float(row.safety_stock),
                           float(row.reorder_point),
                           None if row.unit_cost is None else float(row.unit_cost),
                           float(row.on_hand), float(row.avg_daily_demand))
        key = (row.item_id, row.location_id)
        current += evaluate_item_alerts(item, projections.get(key), recent.get(key), today,
                                        policy, accuracy.get(key), supply.get(key, NO_SUPPLY))
    return current
