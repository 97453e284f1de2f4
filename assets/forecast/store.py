"""Warehouse reads and writes of the forecast stage (psycopg 3, no Dagster): demand per
shard, selections, warm-start parameters, the model registry, inference jobs.

Bulk data moves with COPY in CSV form (one round trip, no per-row Python objects on the
server side).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from assets.forecast.engine import ItemTask
from assets.forecast.models import MODEL_TYPES, MODEL_VERSIONS

SELECTION_FIELDS = ("model_name", "model_version", "demand_class", "wape", "scores", "err_low",
                    "err_high", "horizon", "origins", "failures", "note")


def shard_sql(shards: int, shard: int) -> sql.Composable:
    """Static shard of an item x location: md5 of "item|location" modulo the shard count
    (same as ``shard_of``), stable across runs and machines."""
    return sql.SQL("(('x' || lpad(substr(md5(d.item_id::text || '|' || d.location_id), 1, 8), "
                   "16, '0'))::bit(64)::bigint % {}) = {}").format(sql.Literal(shards),
                                                                  sql.Literal(shard))


def shard_of(item_id: str, location_id: str, shards: int) -> int:
    import hashlib

    return int(hashlib.md5(f"{item_id}|{location_id}".encode()).hexdigest()[:8], 16) % shards


def copy_out(conn, query: sql.Composable | str, params: dict | None = None) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT (CSV with header) into a frame."""
    if params:
        inner = psycopg.ClientCursor(conn).mogrify(query, params)
    else:
        inner = query if isinstance(query, str) else query.as_string(conn)
    buffer = io.BytesIO()
    with conn.cursor().copy(sql.SQL("copy ({}) to stdout with (format csv, header)").format(
            sql.SQL(inner))) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"item_id": str, "location_id": str})


def copy_in(conn, table: str, frame: pd.DataFrame, columns: list[str]) -> int:
    """COPY ``frame[columns]`` into ``table`` as CSV; returns rows written."""
    schema, _, name = table.rpartition(".")
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    text = frame[columns].to_csv(index=False, header=False, na_rep="")
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        copy.write(text)
    return len(frame)


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
    select s.item_id::text as item_id, s.location_id, s.on_hand::float8 as on_hand
    from unified.inventory_snapshots s
    join last_day using (item_id, location_id, snapshot_date)"""


def latest_on_hand(conn, as_of: date) -> pd.DataFrame:
    return copy_out(conn, LATEST_ON_HAND_SQL, {"as_of": as_of})


def load_tasks(conn, as_of: date, history_days: int, shards: int = 1, shard: int = 0,
               with_selection: bool = True) -> list[ItemTask]:
    """Every item x location with demand up to ``as_of`` in this shard, with its history,
    lead time, current selection and warm-start parameters."""
    where = shard_sql(shards, shard) if shards > 1 else sql.SQL("true")
    demand = copy_out(conn, sql.SQL(
        "select d.item_id::text as item_id, d.location_id, d.demand_date, d.quantity, "
        "d.is_stockout from unified.demand_history d where d.demand_date <= {as_of} and "
        "d.demand_date > {as_of}::date - {days} and {where} "
        "order by 1, 2, 3").format(as_of=sql.Literal(as_of), days=sql.Literal(history_days),
                                   where=where))
    if demand.empty:
        return []
    lead = dict(conn.execute("select item_id::text, coalesce(lead_time_days, 0) "
                             "from unified.manufacturing_items").fetchall())
    selections = current_selections(conn) if with_selection else {}
    params = {(i, loc): p for i, loc, p in conn.execute(
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
        out[(row[0], row[1])] = values
    return out


def save_selections(conn, run_id: str, as_of: date, bucket: str, selections: dict,
                    reason: str = "scheduled") -> int:
    rows = []
    for (item_id, location_id), s in selections.items():
        rows.append({"run_id": run_id, "as_of": as_of, "item_id": item_id,
                     "location_id": location_id, "bucket": bucket, "reason": reason,
                     **{k: (json.dumps(s[k]) if k in ("scores", "failures") else s[k])
                        for k in SELECTION_FIELDS}})
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    copy_in(conn, "ml.model_selections", frame, list(frame.columns))
    save_params(conn, run_id, {key: (s["model_name"], s.get("params"))
                               for key, s in selections.items()})
    return len(rows)


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
