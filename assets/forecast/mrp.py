"""Dependent demand: explode what parents will produce through their bills of materials,
level by level, netting each level against its stock and orders (MRP's low-level codes).

Pure pandas, vectorized per level: no Dagster, no database, no loop per order.

How a night plans (``plan_supply``):

1. Every item gets a low-level code: 0 for items no bill of materials consumes, else one
   more than its deepest parent. Processing items in code order means all the demand an
   item receives from its parents is known before its own projection is computed.
2. For the items of one level, the projection (see ``projection.project_portfolio``) nets
   the forecast (independent demand only: dbt leaves a component's consumption by
   production out of its demand history), the scheduled issues (stock transport orders out)
   and the dependent demand received from the levels above against stock and open supply.
3. What each parent of the level will have to produce becomes its components' dependent
   demand, pegged to where it comes from:
   - ``production`` / ``planned``: its open production and planned orders not started yet,
     the components due on the order's start date (an order already started has had its
     components issued: they are in the history's consumption);
   - ``net_requirement``: what its forecast and dependent demand need beyond its stock and
     its firm + planned orders (the increase of the running maximum shortfall of the firm +
     planned path), due the parent's lead time earlier. A make-to-order parent keeps no
     stock for anonymous demand: it is netted against its orders only.
   Each requirement times the BOM's quantity per parent unit (scrap included) valid on the
   due day, at the parent's location. Due days before the first forecast day are overdue and
   land on it; days past the horizon are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assets.forecast.projection import KEYS, PROJECTION_COLUMNS, project_portfolio

# Deeper than any real product structure: a code past it means the BOMs have a cycle.
MAX_BOM_DEPTH = 25
DEPENDENT_COLUMNS = ["item_id", "location_id", "required_date", "quantity", "parent_item_id",
                     "bom_level", "peg_type", "peg_reference", "peg_date"]
ORDER_TYPES = ("production", "planned")


class BomCycleError(ValueError):
    """Bills of materials that consume themselves (dbt's blocking test should stop these
    before a projection ever runs)."""


@dataclass
class SupplyPlan:
    projection: pd.DataFrame  # project_portfolio's columns, every level
    dependent: pd.DataFrame  # DEPENDENT_COLUMNS


def low_level_codes(boms: pd.DataFrame) -> pd.Series:
    """item_id -> low-level code (0 = consumed by no BOM) of every item in ``boms``."""
    if boms is None or boms.empty:
        return pd.Series(dtype="int64")
    edges = boms[["parent_item_id", "component_item_id"]].drop_duplicates()
    items = pd.unique(pd.concat([edges["parent_item_id"], edges["component_item_id"]]))
    codes = pd.Series(0, index=pd.Index(items, name="item_id"), dtype="int64")
    for _ in range(MAX_BOM_DEPTH + 1):
        below = (edges.assign(code=edges["parent_item_id"].map(codes) + 1)
                 .groupby("component_item_id")["code"].max())
        updated = codes.copy()
        updated.loc[below.index] = np.maximum(codes.loc[below.index], below)
        if updated.equals(codes):
            return codes
        codes = updated
    stuck = sorted(str(i) for i in codes[codes > MAX_BOM_DEPTH].index)[:10]
    raise BomCycleError(f"bills of materials form a cycle (or are deeper than "
                        f"{MAX_BOM_DEPTH} levels) through items {', '.join(stuck)}")


def plan_batches(items: pd.DataFrame, boms: pd.DataFrame | None,
                 max_keys: int = 2000) -> list[list[str]]:
    """``items`` (item_id, keys: its item-location count) in batches of about ``max_keys``
    item-locations that can be planned one after the other: items linked by a bill of
    materials (at any depth) always share a batch, so the memory of a night's plan is
    bounded by the batch, not the portfolio."""
    group = pd.Series(items["item_id"].to_numpy(), index=items["item_id"].to_numpy())
    if boms is not None and not boms.empty:
        edges = boms[["parent_item_id", "component_item_id"]].drop_duplicates()
        linked = pd.unique(pd.concat([edges["parent_item_id"], edges["component_item_id"]]))
        group = pd.concat([group, pd.Series(linked, index=linked)])
        group = group[~group.index.duplicated()]
        # Connected components by label propagation: every item takes the smallest label
        # among itself and its BOM neighbours until nothing changes (a few rounds: BOMs
        # are shallow).
        for _ in range(len(group)):
            down = edges.assign(label=edges["parent_item_id"].map(group)).groupby(
                "component_item_id")["label"].min()
            up = edges.assign(label=edges["component_item_id"].map(group)).groupby(
                "parent_item_id")["label"].min()
            best = pd.concat([group, down, up]).groupby(level=0).min()
            if best.reindex(group.index).equals(group):
                break
            group = best.reindex(group.index)
    sizes = items.set_index("item_id")["keys"].reindex(group.index).fillna(1).astype(int)
    per_group = sizes.groupby(group).sum().sort_index()
    batches: list[list[str]] = []
    members = group.groupby(group).groups
    current: list[str] = []
    count = 0
    for label, size in per_group.items():
        if current and count + size > max_keys:
            batches.append(current)
            current, count = [], 0
        current.extend(str(i) for i in members[label])
        count += int(size)
    if current:
        batches.append(current)
    return batches


def _zero_forecast(keys: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """A forecast of nothing over the horizon for item-locations that have no forecast of
    their own but receive scheduled or dependent demand."""
    rows = keys.merge(days, how="cross")
    return rows.assign(yhat=0.0, yhat_upper=0.0)


def _no_requirements() -> pd.DataFrame:
    return pd.DataFrame({**{k: pd.Series(dtype=object) for k in KEYS},
                         "due": pd.Series(dtype="datetime64[ns]"),
                         "quantity": pd.Series(dtype=float),
                         "peg_type": pd.Series(dtype=object),
                         "peg_reference": pd.Series(dtype=object),
                         "peg_date": pd.Series(dtype="datetime64[ns]")})


def _order_requirements(supply: pd.DataFrame, parents: pd.DataFrame,
                        first_day: pd.Timestamp) -> pd.DataFrame:
    """Open production / planned orders of ``parents`` not started before ``first_day``:
    their components are due on the start day."""
    if supply is None or supply.empty:
        return _no_requirements()
    orders = supply[supply["supply_type"].isin(ORDER_TYPES)].merge(parents, on=KEYS)
    start = pd.to_datetime(orders["start_date"].fillna(orders["expected_date"])).dt.normalize()
    orders = orders.assign(due=start, peg_date=pd.to_datetime(orders["expected_date"]))
    orders = orders[orders["due"] >= first_day]
    return orders.rename(columns={"supply_type": "peg_type", "reference": "peg_reference"})[
        [*KEYS, "due", "quantity", "peg_type", "peg_reference", "peg_date"]]


def _net_requirements(projection: pd.DataFrame, parents: pd.DataFrame,
                      first_day: pd.Timestamp) -> pd.DataFrame:
    """What ``parents`` must produce beyond stock and orders, per need day, due a lead time
    earlier: increments of the running maximum shortfall of the firm + planned path."""
    rows = projection.merge(parents, on=KEYS)
    if rows.empty:
        return _no_requirements()
    level = rows["projected_on_hand_planned"].to_numpy(float)
    # Make-to-order: the stock on hand is promised to other orders, so the path without it.
    stock0 = (rows["projected_on_hand_planned"] - rows["cumulative_supply_planned"]
              + rows["cumulative_demand"] + rows["cumulative_open_demand"]
              + rows["cumulative_dependent_demand"]).to_numpy(float)
    level = np.where(rows["make_to_order"].to_numpy(bool), level - stock0, level)
    rows = rows.assign(short=np.maximum(-level, 0.0))
    rows["short"] = rows.groupby(KEYS, sort=False)["short"].cummax()
    rows["quantity"] = rows["short"] - rows.groupby(KEYS, sort=False)["short"].shift(
        fill_value=0.0)
    rows = rows[rows["quantity"] > 1e-9]
    need = pd.to_datetime(rows["target_date"])
    due = need - pd.to_timedelta(rows["lead_time_days"].astype(int), unit="D")
    return rows.assign(due=due.where(due >= first_day, first_day), peg_type="net_requirement",
                       peg_reference="net requirement", peg_date=need)[
        [*KEYS, "due", "quantity", "peg_type", "peg_reference", "peg_date"]]


def explode(requirements: pd.DataFrame, boms: pd.DataFrame, level: int,
            last_day: pd.Timestamp) -> pd.DataFrame:
    """Parent requirements (item_id, location_id, due, quantity, peg_*) times the BOM lines
    valid on the due day: the components' dependent demand rows (DEPENDENT_COLUMNS)."""
    if requirements.empty or boms.empty:
        return pd.DataFrame(columns=DEPENDENT_COLUMNS)
    lines = boms.rename(columns={"parent_item_id": "item_id"})
    rows = requirements[requirements["due"] <= last_day].merge(lines, on=KEYS)
    valid_from = pd.to_datetime(rows["valid_from"])
    valid_to = pd.to_datetime(rows["valid_to"])
    rows = rows[(valid_from <= rows["due"]) & (valid_to.isna() | (rows["due"] <= valid_to))]
    return pd.DataFrame({
        "item_id": rows["component_item_id"], "location_id": rows["location_id"],
        "required_date": rows["due"].dt.date,
        "quantity": rows["quantity"].astype(float) * rows["quantity_per"].astype(float),
        "parent_item_id": rows["item_id"], "bom_level": level + 1,
        "peg_type": rows["peg_type"], "peg_reference": rows["peg_reference"],
        "peg_date": pd.to_datetime(rows["peg_date"]).dt.date,
    }).reset_index(drop=True)


def _of_level(item_ids: pd.Series, codes: pd.Series, level: int) -> pd.Series:
    """Which of ``item_ids`` have low-level code ``level`` (not in ``codes``: 0). By isin:
    mapping codes over a million string ids costs seconds."""
    if level == 0:
        return ~item_ids.isin(list(codes[codes > 0].index))
    return item_ids.isin(list(codes[codes == level].index))


def plan_supply(forecast: pd.DataFrame, on_hand: pd.DataFrame, supply: pd.DataFrame,
                issues: pd.DataFrame, boms: pd.DataFrame, items: pd.DataFrame,
                days: pd.DataFrame | None = None) -> SupplyPlan:
    """Project every item-location and explode its production into dependent demand.

    ``forecast``: item_id, location_id, target_date, yhat, yhat_upper[, horizon_day];
    ``on_hand``: item_id, location_id, on_hand; ``supply``: item_id, location_id,
    expected_date, start_date, quantity, supply_type, is_firm, reference; ``issues``:
    item_id, location_id, required_date, quantity (scheduled issues: transfers out);
    ``boms``: parent_item_id, component_item_id, location_id, valid_from, valid_to,
    quantity_per; ``items``: item_id, lead_time_days, make_to_order; ``days``: the
    horizon's target_date (and horizon_day) when ``forecast`` holds only a batch of items.
    """
    if days is not None and (forecast is None or forecast.empty):
        forecast = pd.DataFrame(columns=[*KEYS, "target_date", "yhat", "yhat_upper"])
    elif forecast is None or forecast.empty:
        return SupplyPlan(pd.DataFrame(columns=[*KEYS, *PROJECTION_COLUMNS]),
                          pd.DataFrame(columns=DEPENDENT_COLUMNS))
    boms = boms if boms is not None else pd.DataFrame(
        columns=["parent_item_id", "component_item_id", "location_id", "valid_from",
                 "valid_to", "quantity_per"])
    issues = (issues.assign(kind="open") if issues is not None and not issues.empty
              else pd.DataFrame(columns=[*KEYS, "required_date", "quantity", "kind"]))
    if days is None:
        day_columns = (["target_date", "horizon_day"] if "horizon_day" in forecast
                       else ["target_date"])
        days = forecast[day_columns].drop_duplicates("target_date")
    first_day = pd.Timestamp(pd.to_datetime(days["target_date"]).min())
    last_day = pd.Timestamp(pd.to_datetime(days["target_date"]).max())

    codes = low_level_codes(boms)
    parents = boms[["parent_item_id", "location_id"]].drop_duplicates().rename(
        columns={"parent_item_id": "item_id"}).merge(
        items[["item_id", "lead_time_days", "make_to_order"]], on="item_id", how="left")
    parents["lead_time_days"] = parents["lead_time_days"].fillna(0).astype(int)
    parents["make_to_order"] = parents["make_to_order"].fillna(False).astype(bool)

    projections, dependent = [], []
    received = pd.DataFrame(columns=DEPENDENT_COLUMNS)
    top = int(codes.max()) if len(codes) else 0
    for level in range(top + 1):
        def of_level(column: pd.Series, level: int = level) -> pd.Series:
            return _of_level(column, codes, level)

        in_level = forecast[of_level(forecast["item_id"])]
        arriving = received[of_level(received["item_id"])]
        incoming = pd.concat([issues.loc[of_level(issues["item_id"]),
                                         [*KEYS, "required_date", "quantity", "kind"]],
                              arriving[[*KEYS, "required_date", "quantity"]].assign(
                                  kind="dependent")], ignore_index=True)
        # Item-locations without a forecast still plan what they receive or must produce.
        ordered = (supply.loc[of_level(supply["item_id"]), KEYS]
                   if supply is not None and not supply.empty else incoming[KEYS].iloc[0:0])
        missing = pd.concat([incoming[KEYS], ordered]).drop_duplicates().merge(
            in_level[KEYS].drop_duplicates(), on=KEYS, how="left", indicator=True)
        missing = missing[missing["_merge"] == "left_only"][KEYS]
        if not missing.empty:
            in_level = pd.concat([in_level, _zero_forecast(missing, days)], ignore_index=True)
        if in_level.empty:
            continue
        projection = project_portfolio(in_level, on_hand, supply, incoming)
        projections.append(projection)
        level_parents = parents.merge(in_level[KEYS].drop_duplicates(), on=KEYS)
        if level_parents.empty:
            continue
        parts = [_order_requirements(supply, level_parents[KEYS], first_day),
                 _net_requirements(projection, level_parents, first_day)]
        requirements = pd.concat([p for p in parts if not p.empty] or parts[:1],
                                 ignore_index=True)
        exploded = explode(requirements, boms, level, last_day)
        dependent.append(exploded)
        received = pd.concat([received, exploded], ignore_index=True)
    projection = pd.concat(projections, ignore_index=True) if projections else \
        pd.DataFrame(columns=[*KEYS, *PROJECTION_COLUMNS])
    dependent_rows = (pd.concat(dependent, ignore_index=True) if dependent
                      else pd.DataFrame(columns=DEPENDENT_COLUMNS))
    return SupplyPlan(projection, dependent_rows[DEPENDENT_COLUMNS])
