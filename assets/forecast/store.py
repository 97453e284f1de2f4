"""Warehouse reads and writes of the forecast stage (psycopg 3, no Dagster): demand per
shard, selections, warm-start parameters, the model registry, inference jobs, forecasts,
projected inventory and forecast accuracy.

Bulk data moves with COPY (resources/frames.py). Item ids are uuid in every table and
``str`` in Python (COPY's CSV gives text; rows fetched one by one are converted here).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from psycopg import sql

from assets.forecast.engine import ItemTask
from assets.forecast.models import MODEL_TYPES, MODEL_VERSIONS
from resources.frames import copy_in, copy_out, read_frame

SELECTION_FIELDS = ("model_name", "model_version", "demand_class", "wape", "scores", "err_low",
                    "err_high", "horizon", "origins", "failures", "note", "interval_errors")
_JSON_FIELDS = ("scores", "failures", "interval_errors")


def shard_sql(shards: int, shard: int) -> sql.Composable:
    """Static shard of an item x location: md5 of "item|location" modulo the shard count
    (same as ``shard_of``), stable across runs and machines."""
    return sql.SQL("(('x' || lpad(substr(md5(concat(d.item_id, '|', d.location_id)), 1, 8), "
                   "16, '0'))::bit(64)::bigint % {}) = {}").format(sql.Literal(shards),
                                                                  sql.Literal(shard))


def shard_of(item_id: str, location_id: str, shards: int) -> int:
    import hashlib

    return int(hashlib.md5(f"{item_id}|{location_id}".encode()).hexdigest()[:8], 16) % shards


# On hand of every item-location on its latest snapshot at or before %(as_of)s: a grouped
# max and a hash join (two scans) rather than DISTINCT ON, which sorts the whole table
# (~10 million rows at 10,000 items). Also a CTE of the alerts' item context.
LATEST_ON_HAND_SQL = """
    with last_day as (
        select item_id, location_id, max(snapshot_date) as snapshot_date
        from unified.inventory_snapshots
        where snapshot_date <= %(as_of)s
        group by item_id, location_id
    )
    select s.item_id, s.location_id, s.on_hand::float8 as on_hand
    from unified.inventory_snapshots s
    join last_day using (item_id, location_id, snapshot_date)"""


def latest_on_hand(conn, as_of: date) -> pd.DataFrame:
    return copy_out(conn, LATEST_ON_HAND_SQL, {"as_of": as_of})


def latest_demand_date(conn) -> date | None:
    """The newest day with demand: what the weekly selection is made as of."""
    return conn.execute("select max(demand_date) from unified.demand_history").fetchone()[0]


def item_ids_for_sku(conn, sku: str) -> list[str]:
    """The item ids of a SKU (one, unless two ERPs' items share it)."""
    return [str(r[0]) for r in conn.execute(
        "select item_id from unified.manufacturing_items where sku = %s order by 1", (sku,))]


def load_tasks(conn, as_of: date, history_days: int, shards: int = 1, shard: int = 0,
               with_selection: bool = True, items: list[str] | None = None) -> list[ItemTask]:
    """Every item x location with demand up to ``as_of`` in this shard (of ``items`` only,
    when given), with its history, lead time, current selection and warm-start parameters."""
    where = shard_sql(shards, shard) if shards > 1 else sql.SQL("true")
    if items is not None:
        where = sql.SQL("{} and d.item_id = any({}::uuid[])").format(where, sql.Literal(items))
    demand = copy_out(conn, sql.SQL(
        "select d.item_id, d.location_id, d.demand_date, d.quantity, "
        "d.is_stockout from unified.demand_history d where d.demand_date <= {as_of} and "
        "d.demand_date > {as_of}::date - {days} and {where} "
        "order by 1, 2, 3").format(as_of=sql.Literal(as_of), days=sql.Literal(history_days),
                                   where=where))
    if demand.empty:
        return []
    lead = {str(i): days for i, days in conn.execute(
        "select item_id, coalesce(lead_time_days, 0) from unified.manufacturing_items")}
    selections = current_selections(conn) if with_selection else {}
    params = {(str(i), loc): p for i, loc, p in conn.execute(
        "select item_id, location_id, params from ml.item_model_params")}
    demand["demand_date"] = pd.to_datetime(demand["demand_date"])
    demand["is_stockout"] = _flags(demand["is_stockout"])
    quantity = pd.to_numeric(demand["quantity"], errors="coerce").to_numpy(dtype=float)
    keys = demand[["item_id", "location_id"]].to_numpy()
    bounds = np.flatnonzero((keys[1:] != keys[:-1]).any(axis=1)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(demand)]
    dates = demand["demand_date"].to_numpy()
    flags = demand["is_stockout"].to_numpy()
    tasks = []
    for a, b in zip(starts, ends, strict=True):
        item_id, location_id = str(keys[a][0]), str(keys[a][1])
        selection = selections.get((item_id, location_id))
        warm = params.get((item_id, location_id))
        if selection and warm and warm.get("model_name") != selection["model_name"]:
            warm = None
        tasks.append(ItemTask(item_id, location_id, dates[a:b], quantity[a:b], flags[a:b],
                              int(lead.get(item_id, 0) or 0), selection,
                              (warm or {}).get("params")))
    return tasks


def _flags(column: pd.Series) -> pd.Series:
    """COPY's CSV writes booleans as t / f (strings to pandas): map them, never truthiness."""
    if pd.api.types.is_bool_dtype(column):
        return column
    mapped = column.astype("string").str.lower().map({"t": True, "true": True, "f": False,
                                                      "false": False})
    return mapped.fillna(False).astype(bool)


def current_selections(conn) -> dict:
    rows = conn.execute(
        "select distinct on (item_id, location_id) item_id, location_id, "
        + ", ".join(SELECTION_FIELDS)
        + " from ml.model_selections order by item_id, location_id, id desc").fetchall()
    out = {}
    for row in rows:
        values = dict(zip(SELECTION_FIELDS, row[2:], strict=True))
        values["params"] = {}
        out[(str(row[0]), row[1])] = values
    return out


def save_selections(conn, run_id: str, as_of: date, bucket: str, selections: dict,
                    reason: str = "scheduled") -> int:
    rows = []
    for (item_id, location_id), s in selections.items():
        rows.append({"run_id": run_id, "as_of": as_of, "item_id": item_id,
                     "location_id": location_id, "bucket": bucket, "reason": reason,
                     **{k: _selection_value(k, s.get(k)) for k in SELECTION_FIELDS}})
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    copy_in(conn, "ml.model_selections", frame, list(frame.columns))
    save_params(conn, run_id, {key: (s["model_name"], s.get("params"))
                               for key, s in selections.items()})
    return len(rows)


def _selection_value(name: str, value):
    """JSON text for the jsonb fields; a missing one (no per-horizon errors) stays null."""
    if name in _JSON_FIELDS:
        return None if value is None else json.dumps(value)
    return value


def save_params(conn, run_id: str, params: dict) -> None:
    """``params``: (item, location) -> (model_name, params). Keeps the latest only."""
    rows = [(i, loc, name, json.dumps({"model_name": name, "params": p}), run_id)
            for (i, loc), (name, p) in params.items() if p]
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ml.item_model_params (item_id, location_id, model_name, params, run_id)"
            " values (%s, %s, %s, %s, %s) on conflict (item_id, location_id, model_name) do "
            "update set params = excluded.params, run_id = excluded.run_id, fitted_at = now()",
            rows)
        # Only the serving model's parameters are a useful warm start.
        cur.executemany("delete from ml.item_model_params where item_id = %s and "
                        "location_id = %s and model_name <> %s",
                        [(i, loc, name) for i, loc, name, _, _ in rows])


def record_job(conn, run_id: str, shard: str, kind: str, as_of: date, models: Counter,
               attempted: int, failures: list, seconds: float, workers: int,
               incidents: list | None = None) -> None:
    """``failures``: the items that failed; ``incidents``: worker processes that died (the
    items they interrupted were retried), listed in ``errors`` after the item failures."""
    succeeded = attempted - len(failures)
    status = "succeeded" if not failures else ("failed" if succeeded == 0 else "partial")
    conn.execute(
        "insert into ml.inference_jobs (run_id, shard, kind, as_of, workers, model_names, status,"
        " items_attempted, items_succeeded, items_failed, errors, finished_at, "
        "duration_seconds, started_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "now(), %s, now() - make_interval(secs => %s))",
        (run_id, shard, kind, as_of, workers, sorted(models), status, attempted, succeeded,
         len(failures), json.dumps(failures + (incidents or [])), seconds, seconds))


def register_models(conn, served: Counter, run_id: str, metrics: dict | None = None,
                    window: tuple[date, date] | None = None) -> list[str]:
    """Record the current version of every model in the registry; promote a version the
    first time it serves an item and retire the versions it supersedes. Every transition is
    an ``ml.ai_model_events`` row; nothing is overwritten but the latest metrics."""
    events = []
    for name, version in MODEL_VERSIONS.items():
        row = conn.execute(
            "insert into ml.ai_models (name, version, model_type, parameters, status) "
            "values (%s, %s, %s, %s, 'candidate') on conflict (name, version) do nothing "
            "returning id", (name, version, MODEL_TYPES[name], json.dumps({"model": name})),
        ).fetchone()
        if row:
            conn.execute("insert into ml.ai_model_events (model_id, event, reason, run_id) "
                         "values (%s, 'registered', 'new model version', %s)", (row[0], run_id))
            events.append(f"registered {name} v{version}")
        model_id, status = conn.execute(
            "select id, status from ml.ai_models where name = %s and version = %s",
            (name, version)).fetchone()
        model_metrics = (metrics or {}).get(name, {}) | {"items_served": served.get(name, 0)}
        if window:
            conn.execute("update ml.ai_models set training_start = %s, training_end = %s "
                         "where id = %s", (window[0], window[1], model_id))
        if metrics is not None or served.get(name):
            conn.execute("update ml.ai_models set metrics = %s where id = %s",
                         (json.dumps(model_metrics), model_id))
        if served.get(name) and status == "candidate":
            conn.execute("update ml.ai_models set status = 'active', promoted_at = now() "
                         "where id = %s", (model_id,))
            conn.execute("insert into ml.ai_model_events (model_id, event, reason, metrics, "
                         "run_id) values (%s, 'promoted', %s, %s, %s)",
                         (model_id, f"selected for {served[name]} item(s)",
                          json.dumps(model_metrics), run_id))
            events.append(f"promoted {name} v{version}")
        if status == "active" or served.get(name):
            old = conn.execute(
                "update ml.ai_models set status = 'retired', retired_at = now() where name = %s "
                "and version <> %s and status <> 'retired' returning id", (name, version),
            ).fetchall()
            for (old_id,) in old:
                conn.execute("insert into ml.ai_model_events (model_id, event, reason, run_id) "
                             "values (%s, 'retired', %s, %s)",
                             (old_id, f"superseded by version {version}", run_id))
                events.append(f"retired {name} (id {old_id})")
    return events


# ---------------------------------------------------------------------------- forecasts
FORECAST_COLUMNS = ["run_id", "forecast_date", "item_id", "location_id", "target_date",
                    "horizon_day", "yhat", "yhat_lower", "yhat_upper", "yhat_lower_95",
                    "yhat_upper_95", "model_name", "model_version"]


FORECAST_KEY = ("forecast_date", "item_id", "location_id")
_SAME_KEY = " and ".join(f"f.{c} = n.{c}" for c in FORECAST_KEY)

# The new version of each (as-of day, item, location) written: the earlier versions stop
# being current, the new rows get the next version number. A step retried within a run
# replaces its own rows rather than stacking a version on them.
SUPERSEDE_SQL = f"""
with keys as (select distinct run_id, {', '.join(FORECAST_KEY)} from new_forecasts),
dropped as (
    delete from forecast.forecasts f using keys n where f.run_id = n.run_id and {_SAME_KEY}
)
update forecast.forecasts f set is_current = false
from keys n where {_SAME_KEY} and f.is_current and f.run_id <> n.run_id
returning f.item_id, f.location_id"""
INSERT_VERSION_SQL = f"""
with last as (
    select {', '.join(FORECAST_KEY)}, max(version) as version
    from forecast.forecasts f
    where exists (select 1 from new_forecasts n where {_SAME_KEY})
    group by {', '.join(FORECAST_KEY)}
)
insert into forecast.forecasts ({', '.join(FORECAST_COLUMNS)}, version, is_current)
select {', '.join('n.' + c for c in FORECAST_COLUMNS)}, coalesce(l.version, 0) + 1, true
from new_forecasts n left join last l
  on l.forecast_date = n.forecast_date and l.item_id = n.item_id
 and l.location_id = n.location_id"""


@dataclass(frozen=True)
class ForecastWrite:
    inserted: int  # rows written
    superseded: int  # earlier rows of those as-of days and items: kept, no longer current
    items_superseded: int  # item x locations forecast again


def append_forecasts(conn, rows: pd.DataFrame) -> ForecastWrite:
    """Write ``rows`` (FORECAST_COLUMNS, one run) as the current version of their as-of
    day, item and location, in the caller's transaction. Earlier versions are kept (not
    current); version 1, the first forecast made for the day, is what accuracy scores."""
    conn.execute("create temp table new_forecasts (like forecast.forecasts "
                 "including defaults) on commit drop")
    copy_in(conn, "new_forecasts", rows, FORECAST_COLUMNS)
    conn.execute("analyze new_forecasts")  # the joins below are planned on real counts
    superseded = conn.execute(SUPERSEDE_SQL).fetchall()
    inserted = conn.execute(INSERT_VERSION_SQL).rowcount
    return ForecastWrite(inserted, len(superseded), len(set(superseded)))


# ------------------------------------------------------------------------- forecasts
def forecasts_as_of(conn, as_of: date, items: list[str] | None = None) -> pd.DataFrame:
    """The current forecast made as of ``as_of`` (its newest version), of ``items`` or all:
    what the projection consumes."""
    only = "" if items is None else " and item_id = any(%(items)s::uuid[])"
    return copy_out(conn, "select item_id, location_id, target_date, horizon_day, yhat, "
                          "yhat_upper from forecast.forecasts where forecast_date = %(d)s "
                          "and is_current" + only,
                    {"d": as_of, "items": items})


def forecast_items(conn, as_of: date) -> pd.DataFrame:
    """item_id and its item-location count of the current forecast as of ``as_of``, and
    the horizon's first and last day."""
    return read_frame(conn, "select item_id, count(distinct location_id) as keys, "
                            "min(target_date) as first_day, max(target_date) as last_day "
                            "from forecast.forecasts where forecast_date = %s and is_current "
                            "group by item_id", (as_of,))


# ---------------------------------------------------------------------------- accuracy
# Per item x location x lag over the window: the sums accuracy.metrics_frame turns into
# WAPE, bias, MASE, 80% and 95% coverage and the seasonal naive's WAPE (see accuracy.py).
SCORE_SQL = """
with f as (
    select item_id, location_id, target_date, target_date - forecast_date as lag, yhat,
           yhat_lower, yhat_upper, yhat_lower_95, yhat_upper_95, model_name
    from forecast.forecasts
    where target_date between %(start)s and %(as_of)s
      and target_date - forecast_date in ({lags})
      and version = 1  -- the first forecast made that day: what planners saw
), a as (
    select item_id, location_id, demand_date, quantity, is_stockout
    from unified.demand_history
    where demand_date between %(start)s::date - 35 and %(as_of)s
), j as (
    select f.*, a.quantity as actual, n.quantity as naive
    from f
    join a on a.item_id = f.item_id and a.location_id = f.location_id
          and a.demand_date = f.target_date
    left join a n on n.item_id = f.item_id and n.location_id = f.location_id
          and n.demand_date = f.target_date - 7 * ceil(f.lag / 7.0)::int
    where not a.is_stockout
), scale as (
    select item_id, location_id, avg(abs(quantity - prev)) as scale
    from (select item_id, location_id, quantity,
                 lag(quantity, 7) over (partition by item_id, location_id
                                        order by demand_date) as prev
          from unified.demand_history
          where demand_date < %(start)s and demand_date >= %(start)s::date - 365) x
    where prev is not null
    group by 1, 2
)
select j.item_id, j.location_id, j.lag as lag_days,
       sum(abs(actual - yhat)) as abs_err, sum(actual) as actual_total,
       sum(yhat - actual) as bias_sum,
       avg(abs(actual - yhat)) as mae,
       avg(case when actual between yhat_lower and yhat_upper then 1.0 else 0.0 end) as coverage,
       -- forecasts made before the wider band existed have none: null, not a miss
       avg(case when yhat_lower_95 is null or yhat_upper_95 is null then null
                when actual between yhat_lower_95 and yhat_upper_95 then 1.0 else 0.0 end)
           as coverage_95,
       count(yhat_lower_95 + yhat_upper_95) as observations_95,
       sum(abs(actual - coalesce(naive, 0))) as naive_err,
       count(*) as observations,
       (array_agg(model_name order by target_date desc))[1] as model_name,
       max(s.scale) as scale
from j left join scale s on s.item_id = j.item_id and s.location_id = j.location_id
group by j.item_id, j.location_id, j.lag
"""

ACCURACY_COLUMNS = ["scored_date", "item_id", "location_id", "lag_days", "window_start",
                    "model_name", "wape", "bias", "mase", "coverage", "coverage_95",
                    "baseline_wape", "actual_total", "observations", "run_id"]


def accuracy_sums(conn, start: date, as_of: date, lags: tuple[int, ...]) -> pd.DataFrame:
    """Forecasts whose target day lies in ``start..as_of`` joined with their actuals."""
    # Set-wise joins of forecasts and actuals: the rows the night just appended to
    # forecast.forecasts have no statistics yet, and an estimate of a few rows makes the
    # planner nest loops over the actuals (minutes at 10,000 items instead of seconds).
    conn.execute("set local enable_nestloop = off")
    return copy_out(conn, SCORE_SQL.format(lags=", ".join(str(int(lag)) for lag in lags)),
                    {"start": start, "as_of": as_of})


def replace_accuracy(conn, as_of: date, frame: pd.DataFrame) -> int:
    """The scores of ``as_of`` replace that day's rows (none when nothing was scored)."""
    conn.execute("delete from forecast.forecast_accuracy where scored_date = %s", (as_of,))
    if frame.empty:
        return 0
    return copy_in(conn, "forecast.forecast_accuracy", frame, ACCURACY_COLUMNS)


def portfolio_trend(conn, as_of: date, days: int = 90) -> pd.DataFrame:
    return copy_out(conn, "select scored_date, lag_days, wape, bias, mase, coverage, "
                          "coverage_95, baseline_wape, observations "
                          "from forecast.forecast_accuracy "
                          "where item_id is null and scored_date <= %(as_of)s and "
                          "scored_date > %(as_of)s::date - %(days)s order by 1, 2",
                    {"as_of": as_of, "days": days})


def demo_counts(conn) -> dict[str, int]:
    """The forecast stage's lines of `forgecast demo`'s summary."""
    pairs, rows = conn.execute(
        "select count(distinct (item_id, location_id)), count(*) from forecast.forecasts "
        "where is_current"
    ).fetchone()
    return {"item-locations forecast": pairs, "forecast rows": rows}
