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

from collections.abc import Callable
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


class SupplyPlanner:
    """The plan of one as-of day, level by level: ``plan_level`` projects a batch of the
    items of one low-level code and explodes their production; what it explodes is kept
    for the levels below (components always have a higher code than their parents), so the
    items of a level can be planned in batches of any size, in any order.

    Inputs as ``plan_supply``'s, without the forecast (given per batch); ``days``: the
    horizon's target_date[, horizon_day].
    """

    def __init__(self, on_hand: pd.DataFrame, supply: pd.DataFrame | None,
                 issues: pd.DataFrame | None, boms: pd.DataFrame | None,
                 items: pd.DataFrame, days: pd.DataFrame,
                 received: Callable[[set[str]], pd.DataFrame] | None = None) -> None:
        self.on_hand = on_hand
        self.supply = supply if supply is not None else pd.DataFrame(
            columns=[*KEYS, "expected_date", "start_date", "quantity", "supply_type",
                     "is_firm", "reference"])
        self.issues = (issues.assign(kind="open") if issues is not None and not issues.empty
                       else pd.DataFrame(columns=[*KEYS, "required_date", "quantity", "kind"]))
        self.boms = boms if boms is not None else pd.DataFrame(
            columns=["parent_item_id", "component_item_id", "location_id", "valid_from",
                     "valid_to", "quantity_per"])
        self.days = days
        self.first_day = pd.Timestamp(pd.to_datetime(days["target_date"]).min())
        self.last_day = pd.Timestamp(pd.to_datetime(days["target_date"]).max())
        self.codes = low_level_codes(self.boms)
        parents = self.boms[["parent_item_id", "location_id"]].drop_duplicates().rename(
            columns={"parent_item_id": "item_id"}).merge(
            items[["item_id", "lead_time_days", "make_to_order"]], on="item_id", how="left")
        parents["lead_time_days"] = parents["lead_time_days"].fillna(0).astype(int)
        parents["make_to_order"] = parents["make_to_order"].fillna(False).astype(bool)
        self.parents = parents
        # Dependent demand handed down to later levels: kept here, or read back per batch
        # by ``received`` (item ids -> item_id, location_id, required_date, quantity) when
        # the caller stores it as it goes, so memory stays bounded by the batch.
        self.read_received = received
        self.received = pd.DataFrame(columns=DEPENDENT_COLUMNS)

    @property
    def levels(self) -> range:
        return range(int(self.codes.max()) + 1 if len(self.codes) else 1)

    def items_of_level(self, level: int, forecast_items: pd.Series) -> list[str]:
        """Every item to plan at ``level``: forecast, or given supply, issues or BOMs."""
        candidates = pd.Series(pd.unique(pd.concat([
            forecast_items, pd.Series(self.codes.index, dtype=object),
            self.supply["item_id"], self.issues["item_id"]], ignore_index=True)))
        return [str(i) for i in candidates[_of_level(candidates, self.codes, level)]]

    def plan_level(self, level: int, forecast: pd.DataFrame,
                   batch: set[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(projection, exploded dependent demand) of the items of ``level`` in ``batch``
        (all when None); ``forecast`` holds (at least) their forecast rows."""
        def mine(column: pd.Series) -> pd.Series:
            here = _of_level(column, self.codes, level)
            return here if batch is None else here & column.isin(batch)

        in_level = forecast[mine(forecast["item_id"])]
        if level == 0:  # no BOM consumes these items: nothing is handed down to them
            arriving = self.received.iloc[0:0]
        elif self.read_received is not None and batch is not None:
            arriving = self.read_received(batch)
        else:
            arriving = self.received[mine(self.received["item_id"])]
        incoming = pd.concat([self.issues.loc[mine(self.issues["item_id"]),
                                              [*KEYS, "required_date", "quantity", "kind"]],
                              arriving[[*KEYS, "required_date", "quantity"]].assign(
                                  kind="dependent")], ignore_index=True)
        supply = self.supply[mine(self.supply["item_id"])]
        # Item-locations without a forecast still plan what they receive or must produce.
        missing = pd.concat([incoming[KEYS], supply[KEYS]]).drop_duplicates().merge(
            in_level[KEYS].drop_duplicates(), on=KEYS, how="left", indicator=True)
        missing = missing[missing["_merge"] == "left_only"][KEYS]
        if not missing.empty:
            in_level = pd.concat([in_level, _zero_forecast(missing, self.days)],
                                 ignore_index=True)
        if in_level.empty:
            return (pd.DataFrame(columns=[*KEYS, *PROJECTION_COLUMNS]),
                    pd.DataFrame(columns=DEPENDENT_COLUMNS))
        projection = project_portfolio(in_level, self.on_hand, supply, incoming)
        level_parents = self.parents.merge(in_level[KEYS].drop_duplicates(), on=KEYS)
        if level_parents.empty:
            return projection, pd.DataFrame(columns=DEPENDENT_COLUMNS)
        parts = [_order_requirements(supply, level_parents[KEYS], self.first_day),
                 _net_requirements(projection, level_parents, self.first_day)]
        requirements = pd.concat([p for p in parts if not p.empty] or parts[:1],
                                 ignore_index=True)
        exploded = explode(requirements, self.boms, level, self.last_day)
        if not exploded.empty and self.read_received is None:
            self.received = pd.concat([self.received, exploded], ignore_index=True)
        return projection, exploded


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
    if forecast is None or forecast.empty:
        if days is None:
            return SupplyPlan(pd.DataFrame(columns=[*KEYS, *PROJECTION_COLUMNS]),
                              pd.DataFrame(columns=DEPENDENT_COLUMNS))
        forecast = pd.DataFrame(columns=[*KEYS, "target_date", "yhat", "yhat_upper"])
    if days is None:
        day_columns = (["target_date", "horizon_day"] if "horizon_day" in forecast
                       else ["target_date"])
        days = forecast[day_columns].drop_duplicates("target_date")
    planner = SupplyPlanner(on_hand, supply, issues, boms, items, days)
    projections, dependent = [], []
    for level in planner.levels:
        projection, exploded = planner.plan_level(level, forecast)
        projections.append(projection)
        dependent.append(exploded)
    projections = [p for p in projections if not p.empty]
    dependent = [d for d in dependent if not d.empty]
    projection = pd.concat(projections, ignore_index=True) if projections else \
        pd.DataFrame(columns=[*KEYS, *PROJECTION_COLUMNS])
    dependent_rows = (pd.concat(dependent, ignore_index=True) if dependent
                      else pd.DataFrame(columns=DEPENDENT_COLUMNS))
    return SupplyPlan(projection, dependent_rows[DEPENDENT_COLUMNS])
