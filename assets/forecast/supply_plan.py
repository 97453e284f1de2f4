"""The supply plan asset: ``forecast/projected_inventory`` and ``forecast/dependent_demand``
in one step (see mrp.py), planned batch by batch so memory follows the batch, not the
portfolio. The SQL is in supply_store.py."""

import time
from collections import Counter
from datetime import date

import dagster as dg
import pandas as pd

from assets.forecast import store, supply_store
from assets.forecast.keys import (
    DEPENDENT_DEMAND,
    FORECAST_GROUP,
    FORECASTS,
    PROJECTED_INVENTORY,
    UNIFIED,
)
from assets.forecast.mrp import SupplyPlanner
from resources.partitions import daily_partitions, partition_date
from resources.warehouse import WarehouseResource


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PROJECTED_INVENTORY, group_name=FORECAST_GROUP, kinds={"python", "postgres"},
            deps=[FORECASTS, UNIFIED["inventory_snapshots"], UNIFIED["open_supply"],
                  UNIFIED["open_demand"], UNIFIED["bill_of_materials"],
                  UNIFIED["manufacturing_items"]],
            description="Projected on hand per item x location x day: latest on hand + firm "
            "open supply - forecast - scheduled issues (transfers out, components consumed by "
            "parents' production); also on firm + planned supply, and a pessimistic path on "
            "the interval's upper bound. Open supply as recorded for the as-of day."),
        dg.AssetSpec(
            DEPENDENT_DEMAND, group_name=FORECAST_GROUP, kinds={"python", "postgres"},
            description="Components' dependent demand per location and day: parents' open "
            "production and planned orders and their net requirements (forecast beyond stock "
            "and orders, a lead time earlier) times the BOM, level by level, each row pegged "
            "to the parent order or forecast it comes from."),
    ],
    partitions_def=daily_partitions,
)
def projected_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    latest = partition_date(context)
    with warehouse.connection() as conn:
        items = store.forecast_items(conn, latest)
        if items.empty:
            yield dg.MaterializeResult(asset_key=PROJECTED_INVENTORY,
                                       metadata={"items_projected": 0})
            yield dg.MaterializeResult(asset_key=DEPENDENT_DEMAND, metadata={"rows": 0})
            return
        totals = _plan_in_batches(conn, latest, context.run.run_id, items, context.log)
        dependent = supply_store.dependent_summary(conn, latest)
        bias = supply_store.bom_consumption_bias(conn, latest)
    yield dg.MaterializeResult(asset_key=PROJECTED_INVENTORY, metadata={
        "forecast_date": latest.isoformat(),
        "items_projected": totals["keys"],
        "items_going_below_zero": totals["below_zero"],
        "items_below_zero_with_planned": totals["below_zero_planned"],
        "supply_lines": totals["supply_lines"],
        "batches": totals["batches"],
        "dagster/row_count": totals["rows"],
    })
    yield dg.MaterializeResult(asset_key=DEPENDENT_DEMAND, metadata={
        "rows": dependent["rows"],
        "dagster/row_count": dependent["rows"],
        "components": dependent["components"],
        "by_peg": dependent["by_peg"],
        "bom_levels": dependent["bom_levels"],
        "top_components": _top_components(dependent["top"]),
        **_bias_metadata(bias),
    })


BATCH_KEYS = 500  # item-locations planned at once: memory follows this, not the portfolio


def _plan_in_batches(conn, as_of: date, run_id: str, items: pd.DataFrame, log) -> dict:
    """Plan and store the portfolio level by level (mrp.SupplyPlanner), each level in
    batches of about BATCH_KEYS item-locations read from and written to the warehouse, so
    memory follows the batch, not the portfolio: the dependent demand handed down to later
    levels is written with its batch and read back by the batches that receive it."""
    supply, issues = supply_store.supply_as_of(conn, as_of)
    first, last = items["first_day"].min(), items["last_day"].max()
    days = pd.DataFrame({"target_date": pd.date_range(first, last).date})
    days["horizon_day"] = [(d - as_of).days for d in days["target_date"]]
    planner = SupplyPlanner(store.latest_on_hand(conn, as_of), supply, issues,
                            supply_store.bills_of_materials(conn, as_of),
                            supply_store.planning_items(conn), days,
                            lambda batch: supply_store.dependent_demand_of(conn, as_of, batch))
    keys = items.set_index("item_id")["keys"]
    supply_store.clear_projection(conn, as_of)
    totals = {"keys": 0, "below_zero": 0, "below_zero_planned": 0, "rows": 0, "batches": 0,
              "supply_lines": dict(Counter(supply["supply_type"]))}
    started = time.monotonic()
    for level in planner.levels:
        for batch in _batches(planner.items_of_level(level, items["item_id"]), keys):
            projection, dependent = planner.plan_level(
                level, store.forecasts_as_of(conn, as_of, batch), set(batch))
            _store_batch(conn, as_of, run_id, projection, dependent, totals)
        log.info(f"supply plan: BOM level {level} done, {totals['keys']} item-locations, "
                 f"{totals['batches']} batches in {time.monotonic() - started:.1f}s")
    return totals


def _batches(item_ids: list[str], keys: pd.Series) -> list[list[str]]:
    sizes = keys.reindex(item_ids).fillna(1).astype(int).cumsum()
    groups = (sizes - 1) // BATCH_KEYS
    return [list(group.index) for _, group in sizes.groupby(groups.to_numpy())]


def _store_batch(conn, as_of: date, run_id: str, projection: pd.DataFrame,
                 dependent: pd.DataFrame, totals: dict) -> None:
    frame = projection.assign(forecast_date=as_of, run_id=run_id)
    supply_store.append_projection(conn, frame, dependent.assign(forecast_date=as_of,
                                                                 run_id=run_id))
    lowest = frame.groupby(["item_id", "location_id"])[
        ["projected_on_hand", "projected_on_hand_planned"]].min()
    totals["batches"] += 1
    totals["keys"] += len(lowest)
    totals["below_zero"] += int(lowest["projected_on_hand"].lt(0).sum())
    totals["below_zero_planned"] += int(lowest["projected_on_hand_planned"].lt(0).sum())
    totals["rows"] += len(frame)


def _top_components(top: pd.DataFrame):
    preview = "\n".join(f"| {r.sku} | {r.location_id} | {r.quantity:,.0f} |"
                         for r in top.itertuples(index=False))
    return dg.MetadataValue.md(
        "| component | location | dependent demand |\n|---|---|---:|\n" + preview
        if preview else "_no dependent demand_")


def _bias_metadata(bias: pd.DataFrame) -> dict:
    """The BOM check: production started in the last 90 days exploded through the BOMs
    against the components' actual consumption by production."""
    exploded, consumed = float(bias["exploded"].sum()), float(bias["consumed"].sum())
    if not consumed:
        return {"bom_consumption_check": dg.MetadataValue.md("_no consumption by production "
                                                            "in the last 90 days_")}
    rows = "\n".join(f"| {r.sku} | {r.location_id} | {r.exploded:,.0f} | {r.consumed:,.0f} | "
                     f"{(r.exploded / r.consumed - 1) if r.consumed else float('inf'):+.0%} |"
                     for r in bias.head(10).itertuples(index=False))
    return {
        "bom_bias_90d": round(exploded / consumed - 1, 4),
        "bom_consumption_check": dg.MetadataValue.md(
            f"Exploded {exploded:,.0f} vs consumed {consumed:,.0f} over 90 days "
            f"(bias {exploded / consumed - 1:+.1%}); largest gaps:\n\n"
            "| component | location | exploded | consumed | bias |\n|---|---|---:|---:|---:|\n"
            + rows),
    }
