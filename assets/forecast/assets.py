"""Forecast stage assets (group ``forecast``).

- ``forecast/model_selection`` (weekly, its own job and schedule): rolling-origin backtest of
  every candidate per item x location; the choice, its score and its interval errors are
  stored in ``ml.model_selections`` and reused by every nightly run until the next selection.
- ``forecast/forecasts`` (daily partition, nightly job): a plan op fans out one dynamic
  output per shard (the count is read from the run's settings), a shard op mapped over them
  (a distributed executor runs them on different machines) forecasts its items with a
  process pool, and a collect op reports the metadata. Versioned: a re-forecast of a
  day becomes its current version, the earlier versions are kept.
- ``forecast/projected_inventory`` and ``forecast/dependent_demand`` (one step, see mrp.py):
  on hand + open supply - forecast - scheduled issues per day, firm and firm + planned, level
  by level through the bills of materials, and the components' dependent demand with its peg.
- ``forecast/forecast_accuracy``: past forecasts scored against the actuals that arrived.

The forecasting is in models/selection/engine, the scoring in accuracy, the SQL in store.
"""


import time
from collections import Counter
from datetime import date

import dagster as dg
import pandas as pd

from assets.forecast import accuracy as acc
from assets.forecast import store
from assets.forecast.engine import default_workers, run_items
from assets.forecast.keys import (  # noqa: F401 - other stages import the keys from here
    DEPENDENT_DEMAND,
    FORECAST_ACCURACY,
    FORECAST_GROUP,
    FORECASTS,
    MODEL_SELECTION,
    PROJECTED_INVENTORY,
    UNIFIED,
)
from assets.forecast.selection import MIN_ORIGINS, N_ORIGINS, ForecastConfig
from assets.forecast.supply_plan import projected_inventory
from resources.partitions import daily_partitions, partition_date
from resources.settings import Settings
from resources.warehouse import WarehouseResource


def forecast_config(settings: Settings, *, cold_start: bool = False) -> ForecastConfig:
    return ForecastConfig(
        horizon_days=settings.forecast_horizon_days, bucket=settings.forecast_bucket,
        holiday_country=settings.forecast_holiday_country or None,
        include_prophet=settings.forecast_cold_start_prophet if cold_start else True,
        # The model searches stay in the weekly selection unless asked for: a cold start
        # runs inside the nightly job (every item on a new installation).
        include_ets=settings.forecast_cold_start_ets if cold_start else True,
        # A nightly cold start keeps to the minimum of 3 origins; the weekly run uses 6.
        n_origins=MIN_ORIGINS if cold_start else N_ORIGINS,
        history_days=settings.forecast_history_days)


def workers(settings: Settings) -> int:
    return settings.forecast_workers or default_workers()


def _progress(log, label: str):
    def report(done: int, total: int, rate: float) -> None:
        log.info(f"{label}: {done}/{total} items ({rate:.1f} items/s)")
    return report


# ---------------------------------------------------------------------------- selection
class SelectionConfig(dg.Config):
    """Run config of the weekly selection (``forgecast select`` sets it; the schedule does
    not): one SKU's items only, and the as-of day (default: the newest demand's day)."""

    item: str | None = None
    as_of: str | None = None


def selection_as_of(newest: date | None, wanted: str | None) -> date | None:
    """The day a selection is made as of: ``wanted`` (ISO date), never after the newest
    demand (no later actuals exist to backtest on)."""
    if wanted is None or newest is None:
        return newest
    try:
        day = date.fromisoformat(wanted)
    except ValueError:
        raise dg.Failure(f"as_of {wanted!r} is not a date (YYYY-MM-DD)",
                         allow_retries=False) from None
    if day > newest:
        raise dg.Failure(f"as_of {day} is after the newest demand ({newest})",
                         allow_retries=False)
    return day


@dg.asset(
    key=MODEL_SELECTION,
    deps=[UNIFIED["demand_history"], UNIFIED["manufacturing_items"]],
    group_name=FORECAST_GROUP,
    kinds={"python", "postgres"},
    pool="forecast",
    description=f"Per item x location: rolling-origin backtest ({N_ORIGINS} origins of "
    "max(lead time, 28 days)) of Prophet, ETS, Theta, the combinations and the baselines / "
    "intermittent methods on WAPE; the class's combination serves unless a model clearly "
    "beats it on most windows without a one-sided bias; its backtest errors per horizon "
    "step calibrate the item's 80% and 95% intervals. Runs weekly (or `forgecast "
    "select`); the nightly forecast reuses the stored choice.",
)
def model_selection(context: dg.AssetExecutionContext, config: SelectionConfig,
                    warehouse: WarehouseResource):
    settings = warehouse.settings
    model_config = forecast_config(settings)
    with warehouse.connection() as conn:
        as_of = selection_as_of(store.latest_demand_date(conn), config.as_of)
        if as_of is None:
            return dg.MaterializeResult(metadata={"items_selected": 0, "note": "no demand yet"})
        items = None
        if config.item:
            items = store.item_ids_for_sku(conn, config.item)
            if not items:
                raise dg.Failure(f"no item with SKU {config.item!r} in "
                                 "unified.manufacturing_items", allow_retries=False)
        tasks = store.load_tasks(conn, as_of, settings.forecast_history_days, items=items)
    scope = f"SKU {config.item}" if config.item else "all items"
    context.log.info(f"model selection as of {as_of} ({scope}): {len(tasks)} item x "
                     f"location(s), {workers(settings)} worker(s)")
    run = run_items("select", tasks, as_of, model_config, workers(settings),
                    progress=_progress(context.log, "model selection"))
    chosen = Counter(s["model_name"] for s in run.results.values())
    classes = Counter(s["demand_class"] for s in run.results.values())
    metrics = _selection_metrics(run.results)
    run_id = context.run.run_id
    with warehouse.connection() as conn:
        store.save_selections(conn, run_id, as_of, model_config.bucket, run.results)
        # One SKU's scores are not the portfolio's: the registry keeps the last full run's.
        events = store.register_models(conn, chosen, run_id, None if items else metrics,
                                       (as_of - pd.Timedelta(days=model_config.history_days - 1),
                                        as_of))
        store.record_job(conn, run_id, f"sku {config.item}" if items else "all", "select",
                         as_of, chosen, run.attempted, run.failures, run.seconds,
                         workers(settings), run.incidents)
    table = pd.DataFrame([{"model": m, **v} for m, v in sorted(metrics.items())])
    return dg.MaterializeResult(metadata={
        "as_of": as_of.isoformat(),
        "scope": scope,
        "items_selected": len(run.results),
        "items_failed": len(run.failures),
        "selected_models": dict(chosen),
        "demand_classes": dict(classes),
        "registry_events": events,
        "seconds": round(run.seconds, 1),
        "backtest": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".3f")
                                        if not table.empty else "_none_"),
    })


def _selection_metrics(results: dict) -> dict:
    """Per candidate: items it won, and its mean backtest WAPE where it competed."""
    scores: dict[str, list[float]] = {}
    won = Counter()
    for s in results.values():
        won[s["model_name"]] += 1
        for name, score in (s.get("scores") or {}).items():
            scores.setdefault(name, []).append(score)
    names = set(scores) | set(won)
    return {n: {"items_won": won.get(n, 0), "items_scored": len(scores.get(n, [])),
                "mean_backtest_wape": (round(sum(scores[n]) / len(scores[n]), 4)
                                       if scores.get(n) else None)} for n in names}


# ---------------------------------------------------------------------------- forecasts
def forecast_items(context, warehouse: WarehouseResource, as_of: date, shard: int,
                   shards: int) -> dict:
    """Forecast the items of one shard: cold-start selection for items without one, the
    selected model's refit (warm-started) and forecast, a new current version, one
    inference_jobs row."""
    settings = warehouse.settings
    label = f"forecast shard {shard + 1}/{shards}"
    started = time.monotonic()
    with warehouse.connection() as conn:
        tasks = store.load_tasks(conn, as_of, settings.forecast_history_days, shards, shard)
    n_workers = workers(settings)
    cold = [t for t in tasks if t.selection is None]
    cold_results: dict = {}
    failures: list = []
    incidents: list = []
    if cold:
        context.log.info(f"{label}: selecting a model for {len(cold)} item(s) without one")
        picked = run_items("select", cold, as_of, forecast_config(settings, cold_start=True),
                           n_workers, progress=_progress(context.log, f"{label} (selection)"))
        cold_results, failures, incidents = picked.results, picked.failures, picked.incidents
        for task in cold:
            task.selection = cold_results.get(task.key)
            if task.selection:
                task.warm_params = task.selection.get("params") or None
    todo = [t for t in tasks if t.selection is not None]
    context.log.info(f"{label}: forecasting {len(todo)} item x location(s) with "
                     f"{n_workers} worker(s)")
    run = run_items("forecast", todo, as_of, forecast_config(settings), n_workers,
                    progress=_progress(context.log, label))
    failures += run.failures
    incidents += run.incidents
    parts, models, classes, notes, params = [], Counter(), Counter(), {}, {}
    for (item_id, location_id), r in run.results.items():
        parts.append(r["frame"].assign(item_id=item_id, location_id=location_id,
                                       model_name=r["model_name"],
                                       model_version=r["model_version"]))
        models[r["model_name"]] += 1
        classes[r["demand_class"]] += 1
        if r["note"]:
            notes[f"{item_id}@{location_id}"] = r["note"]
        if r["params"]:
            params[(item_id, location_id)] = (r["model_name"], r["params"])
    written = store.ForecastWrite(0, 0, 0)
    run_id = context.run.run_id
    with warehouse.connection() as conn:
        if cold_results:
            store.save_selections(conn, run_id, as_of, settings.forecast_bucket,
                                  cold_results, reason="cold_start")
            store.register_models(conn, Counter(s["model_name"] for s in cold_results.values()),
                                  run_id)
        if parts:
            written = store.append_forecasts(conn, pd.concat(parts, ignore_index=True).assign(
                run_id=run_id, forecast_date=as_of))
        store.save_params(conn, run_id, params)
        store.record_job(conn, run_id, f"{shard + 1}/{shards}", "forecast", as_of,
                         models, len(tasks), failures, time.monotonic() - started, n_workers,
                         incidents)
    if failures:
        context.log.warning(f"{label}: {len(failures)} item(s) failed, e.g. {failures[0]}")
    for incident in incidents:
        context.log.warning(f"{label}: {incident['error']}")
    return {"shard": shard, "attempted": len(tasks), "forecast": len(run.results),
            "failed": failures, "models": dict(models), "classes": dict(classes),
            "notes": notes, "cold_start": len(cold_results), "rows_inserted": written.inserted,
            "rows_superseded": written.superseded, "items_reforecast": written.items_superseded,
            "seconds": round(time.monotonic() - started, 2)}


@dg.op(out=dg.DynamicOut(dict),
       ins={"demand_history": dg.In(dg.Nothing), "selection": dg.In(dg.Nothing)})
def forecast_plan(context: dg.OpExecutionContext, warehouse: WarehouseResource):
    """One output per shard of the day this run forecasts from (the partition's day). The
    count comes from the run's settings, not the code server's: the two may differ."""
    as_of = partition_date(context).isoformat()
    shards = warehouse.settings.forecast_shards
    context.log.info(f"forecast as of {as_of} in {shards} shard(s)")
    for shard in range(shards):
        yield dg.DynamicOutput({"as_of": as_of, "shard": shard, "shards": shards},
                               mapping_key=str(shard))


@dg.op(out=dg.Out(dict), description="Forecast the items of one shard (md5 of item and "
       "location modulo the shard count).")
def forecast_shard(context: dg.OpExecutionContext, warehouse: WarehouseResource,
                   plan: dict) -> dict:
    return forecast_items(context, warehouse, date.fromisoformat(plan["as_of"]), plan["shard"],
                          plan["shards"])


@dg.op
def forecast_collect(context: dg.OpExecutionContext, shards: list[dict]):
    results = sorted(shards, key=lambda r: r["shard"])
    models, classes = Counter(), Counter()
    failed, notes = [], {}
    for r in results:
        models.update(r["models"])
        classes.update(r["classes"])
        failed += r["failed"]
        notes.update(r["notes"])
    short = {k: v for k, v in notes.items() if v in ("short history",
                                                     "history too short for a backtest")}
    table = pd.DataFrame([{k: r[k] for k in ("shard", "attempted", "forecast", "cold_start",
                                              "rows_inserted", "rows_superseded", "seconds")} | {
        "failed": len(r["failed"])} for r in results])
    return dg.Output(None, metadata={
        "forecast_date": partition_date(context).isoformat(),
        "items_forecast": sum(r["forecast"] for r in results),
        "items_failed": len(failed),
        "failures": dg.MetadataValue.json(failed[:50]),
        "items_short_history": len(short),
        "short_history_items": dg.MetadataValue.json(dict(list(short.items())[:50])),
        "cold_start_selections": sum(r["cold_start"] for r in results),
        "rows_inserted": sum(r["rows_inserted"] for r in results),
        # A re-run, a backfill or a run after a new selection supersedes the day's earlier
        # forecasts (kept as older versions).
        "rows_superseded": sum(r["rows_superseded"] for r in results),
        "items_reforecast": sum(r["items_reforecast"] for r in results),
        "demand_classes": dict(classes),
        "models": dict(models),
        "shards": dg.MetadataValue.md(table.to_markdown(index=False)),
    })


@dg.graph_asset(
    key=FORECASTS,
    ins={"demand_history": dg.AssetIn(UNIFIED["demand_history"], dagster_type=dg.Nothing),
         "selection": dg.AssetIn(MODEL_SELECTION, dagster_type=dg.Nothing)},
    group_name=FORECAST_GROUP,
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Daily demand forecast per item x location for the horizon (yhat, 80% and "
    "95% intervals from the item's backtest errors per horizon step), by the model its "
    "selection chose, with run id, model and version. One step per shard "
    "(FORGECAST_FORECAST_SHARDS, read when the run "
    "starts). Versioned: a forecast made again as of a date becomes the current version, "
    "the earlier ones are kept (accuracy scores the first).",
)
def forecasts(demand_history, selection):
    plan = forecast_plan(demand_history=demand_history, selection=selection)
    return forecast_collect(plan.map(forecast_shard).collect())


@dg.asset(
    key=FORECAST_ACCURACY,
    deps=[FORECASTS, UNIFIED["demand_history"]],
    group_name=FORECAST_GROUP,
    kinds={"python", "postgres"},
    partitions_def=daily_partitions,
    description="Accuracy of past forecasts against the actuals that arrived: per item and "
    "for the portfolio, by lag (1/7/14/28 days), over the last 28 days: WAPE, bias, MASE, "
    "80% and 95% interval coverage, and the seasonal naive's WAPE for comparison. The trend over "
    "runs shows as a table and a plot.",
)
def forecast_accuracy(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    as_of = partition_date(context)
    with warehouse.connection() as conn:
        raw = store.accuracy_sums(conn, acc.window_start(as_of), as_of, acc.LAGS)
        scored = store.replace_accuracy(conn, as_of, acc.scored_rows(raw, as_of,
                                                                     context.run.run_id))
        trend = store.portfolio_trend(conn, as_of)
    metadata: dict = {"scored_date": as_of.isoformat(), "rows": scored,
                      "dagster/row_count": scored}
    if not trend.empty:
        latest = trend[trend["scored_date"] == trend["scored_date"].max()]
        for row in latest.itertuples(index=False):
            for name, value in (("wape", row.wape), ("coverage", row.coverage),
                                ("coverage_95", row.coverage_95)):
                if value is not None and value == value:
                    metadata[f"portfolio_{name}_lag_{row.lag_days}"] = float(round(value, 4))
        png = acc.trend_chart(trend, warehouse.settings.data_dir / "charts" / "accuracy"
                              / f"{as_of.isoformat()}.png")
        metadata["trend"] = dg.MetadataValue.md(acc.trend_markdown(trend, png))
        metadata["trend_chart"] = dg.MetadataValue.path(str(png))
    return dg.MaterializeResult(metadata=metadata)


ASSETS = [model_selection, forecasts, projected_inventory, forecast_accuracy]
ASSET_CHECKS: list = []
