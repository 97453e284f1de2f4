"""The forecast stage's asset keys, and the unified models it reads (one place, so the
asset modules of the stage and the stages after it name the same keys)."""

import dagster as dg

FORECAST_GROUP = "forecast"
UNIFIED = {name: dg.AssetKey(["unified", name]) for name in (
    "demand_history", "inventory_snapshots", "open_supply", "open_demand",
    "bill_of_materials", "manufacturing_items")}
FORECASTS = dg.AssetKey(["forecast", "forecasts"])
PROJECTED_INVENTORY = dg.AssetKey(["forecast", "projected_inventory"])
DEPENDENT_DEMAND = dg.AssetKey(["forecast", "dependent_demand"])
FORECAST_ACCURACY = dg.AssetKey(["forecast", "forecast_accuracy"])
MODEL_SELECTION = dg.AssetKey(["forecast", "model_selection"])
