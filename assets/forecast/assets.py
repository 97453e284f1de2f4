"""Forecast stage assets: demand forecasts per item x location, and projected inventory.

Thin: read from the warehouse, call the pure forecasting code, write append-only.
"""


import json
import time

import dagster as dg
import pandas as pd

from assets.forecast.portfolio import MODEL_VERSION, forecast_portfolio
from assets.forecast.projection import project_inventory
from orchestration.partitions import daily_partitions, partition_date
from resources.frames import copy_frame, read_frame
from resources.warehouse import WarehouseResource

FORECAST_GROUP = "forecast"
UNIFIED = {name: dg.AssetKey(["unified", name]) for name in (
    "demand_history", "inventory_snapshots", "open_supply", "manufacturing_items")}
FORECASTS = dg.AssetKey(["forecast", "forecasts"])
PROJECTED_INVENTORY = dg.AssetKey(["forecast", "projected_inventory"])

FORECAST_COLUMNS = ["run_id", "forecast_date", "item_id", "location_id", "target_date",
                    "horizon_day", "yhat", "yhat_lower", "yhat_upper", "model_name",
                    "model_version"]


@dg.asset(
    key=FORECASTS,
    deps=[UNIFIED["demand_history"]],
    group_name=FORECAST_GROUP,
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    pool="forecast",
    description="Daily demand forecast per item x location for the horizon (yhat and an 80% "
    "interval), from the best baseline for the item's demand class. Append-only: a "
    "forecast made as of a date is never overwritten, so accuracy can be scored later.",
)
def forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings
    started = time.monotonic()
    with warehouse.connection() as conn:
        as_of = partition_date(context)
        demand = read_frame(conn, "select item_id, location_id, demand_date, quantity, "
                                  "is_stockout from unified.demand_history "
                                  "where demand_date <= %s", (as_of,))
        if demand.empty:
            return dg.MaterializeResult(metadata={"items_forecast": 0, "note": "no demand yet"})
        result = forecast_portfolio(demand, settings.forecast_horizon_days, as_of)
        rows = result.forecasts.assign(run_id=context.run_id, forecast_date=as_of)
        # Append-only: a forecast for (as-of date, item, location, day) is written once.
        conn.execute("create temp table new_forecasts (like forecast.forecasts "
                     "including defaults) on commit drop")
        copy_frame(conn, "pg_temp.new_forecasts", rows, FORECAST_COLUMNS)
        inserted = conn.execute(
            f"insert into forecast.forecasts ({', '.join(FORECAST_COLUMNS)}) "
            f"select {', '.join(FORECAST_COLUMNS)} from new_forecasts "
            "on conflict (forecast_date, item_id, location_id, target_date) do nothing"
        ).rowcount
        for method in result.methods:
            conn.execute(
                "insert into ml.ai_models (name, version, model_type, status, parameters, "
                "promoted_at) values (%s, %s, 'baseline', 'active', %s, now()) "
                "on conflict (name, version) do nothing",
                (method, MODEL_VERSION, json.dumps({"method": method})))
        succeeded = result.attempted - len(result.failures)
        conn.execute(
            "insert into ml.inference_jobs (run_id, shard, model_names, status, items_attempted,"
            " items_succeeded, items_failed, errors, finished_at, duration_seconds) "
            "values (%s, 'all', %s, %s, %s, %s, %s, %s, now(), %s)",
            (context.run_id, sorted(result.methods),
             "succeeded" if not result.failures else "partial", result.attempted, succeeded,
             len(result.failures), json.dumps(result.failures), time.monotonic() - started))
    preview = result.forecasts.head(10)[["item_id", "location_id", "target_date", "yhat",
                                         "yhat_lower", "yhat_upper", "model_name"]]
    return dg.MaterializeResult(metadata={
        "forecast_date": as_of.isoformat(),
        "items_forecast": succeeded,
        "items_failed": len(result.failures),
        "rows_inserted": inserted,
        "demand_classes": dict(result.classes),
        "models": dict(result.methods),
        "dagster/row_count": len(rows),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False, floatfmt=".2f")),
    })


@dg.asset(
    key=PROJECTED_INVENTORY,
    deps=[FORECASTS, UNIFIED["inventory_snapshots"], UNIFIED["open_supply"]],
    group_name=FORECAST_GROUP,
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Projected on hand per item x location x day: latest on hand + open supply "
    "- cumulative forecast, with a pessimistic path on the interval's upper bound.",
)
def projected_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        latest = partition_date(context)
        fc = read_frame(conn, "select item_id, location_id, target_date, horizon_day, yhat, "
                              "yhat_upper from forecast.forecasts where forecast_date = %s",
                        (latest,))
        stock = read_frame(conn, "select distinct on (item_id, location_id) item_id, "
                                 "location_id, on_hand from unified.inventory_snapshots "
                                 "where snapshot_date <= %s order by item_id, location_id, "
                                 "snapshot_date desc", (latest,))
        supply = read_frame(conn, "select item_id, location_id, expected_date, quantity "
                                  "from unified.open_supply")
        if fc.empty:
            return dg.MaterializeResult(metadata={"items_projected": 0})
        on_hand = {(r.item_id, r.location_id): float(r.on_hand)
                   for r in stock.itertuples(index=False)}
        supply_by_key = dict(tuple(supply.groupby(["item_id", "location_id"])))
        parts = []
        for (item_id, location_id), rows in fc.groupby(["item_id", "location_id"]):
            projection = project_inventory(on_hand.get((item_id, location_id), 0.0), rows,
                                           supply_by_key.get((item_id, location_id)))
            parts.append(projection.assign(item_id=item_id, location_id=location_id))
        frame = pd.concat(parts, ignore_index=True).assign(forecast_date=latest,
                                                          run_id=context.run_id)
        # Derived data: replace this as-of date's projection wholesale.
        conn.execute("delete from forecast.projected_inventory where forecast_date = %s",
                     (latest,))
        copy_frame(conn, "forecast.projected_inventory", frame,
                   ["forecast_date", "item_id", "location_id", "target_date",
                    "projected_on_hand", "projected_on_hand_p80", "cumulative_demand",
                    "cumulative_supply", "run_id"])
    below_zero = frame.groupby(["item_id", "location_id"])["projected_on_hand"].min().lt(0).sum()
    return dg.MaterializeResult(metadata={
        "forecast_date": latest.isoformat(),
        "items_projected": len(parts),
        "items_going_below_zero": int(below_zero),
        "dagster/row_count": len(frame),
    })


ASSETS = [forecasts, projected_inventory]
ASSET_CHECKS: list = []
