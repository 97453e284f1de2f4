"""The forecast stage end to end on a real PostgreSQL and real Dagster runs, in a database
of its own (so the demo's and dbt's tables are not touched): a hand-built portfolio with a
steady item, an item running out inside its lead time, a short-history item, an
intermittent item and a poisoned series.

Checks the issue's "done when": selected models serve, short history is reported, accuracy
rows appear after a later day's actuals, exactly one stockout alert with the right order-by
date that a covering receipt resolves on the next run, a poisoned series failing alone and
recorded in inference_jobs, plus the registry, the selection reuse and the charts.
"""

from __future__ import annotations

import dataclasses
import uuid
from contextlib import contextmanager
from datetime import date, timedelta

import dagster as dg
import numpy as np
import psycopg
import pytest

from assets.alerts.assets import forecast_alerts
from assets.forecast.assets import (
    forecast_accuracy,
    forecasts,
    model_selection,
    projected_inventory,
)
from assets.forecast.store import shard_of
from resources.warehouse import WarehouseResource
from tests.unified_schema import create_unified_tables

# The tests are the nights of one scenario (D1, the weekly selection, D2, D3), run in file
# order until each night is a fixture that captures its state (tests/conftest.py).
pytestmark = pytest.mark.in_order

DB = "fc_forecast_it"
D1 = date(2026, 3, 9)  # a Monday
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
DAYS = 200
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.3, 0.1])


def item(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"forgecast-test/{name}"))


STEADY, STOCKOUT, SHORT, LUMPY, POISON = (item(n) for n in
                                          ("steady", "stockout", "short", "lumpy", "poison"))
LOC = "sap:1000"

def demand_rows(end: date):
    rng = np.random.default_rng(7)
    rows = []
    for k in range(DAYS + 2):
        day = end - timedelta(days=DAYS + 1 - k)
        w = WEEKDAY[day.weekday()]
        rows.append((STEADY, day, float(rng.poisson(20 * w)), False))
        rows.append((STOCKOUT, day, float(rng.poisson(10 * w)), False))
        rows.append((LUMPY, day, float(rng.poisson(30)) if rng.random() < 0.05 else 0.0, False))
        rows.append((POISON, day, float("nan") if k == 150 else float(rng.poisson(5)), False))
        if k > DAYS - 30:
            rows.append((SHORT, day, float(rng.poisson(4)), False))
    return rows


@contextmanager
def portfolio_database(server, name: str):
    """A migrated database of its own holding the hand-built portfolio."""
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.execute(f"create database {name}")
    from resources import migrations

    migrations.upgrade(dataclasses.replace(server, warehouse_database=name))
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        create_unified_tables(conn, "manufacturing_items", "demand_history",
                              "inventory_snapshots", "open_supply")
        items = [(STEADY, "FC-STEADY", 14, 30, 300, 1000), (STOCKOUT, "FC-RUNOUT", 14, 20, 160, 60),
                 (SHORT, "FC-NEW", 7, 0, 0, 50), (LUMPY, "FC-LUMPY", 10, 0, 0, 40),
                 (POISON, "FC-POISON", 7, 0, 0, 30)]
        for item_id, sku, lead, safety, reorder, _ in items:
            conn.execute("insert into unified.manufacturing_items (item_id, sku, name,"
                         " lead_time_days, safety_stock, reorder_point, unit_cost, status)"
                         " values (%s, %s, %s, %s, %s, %s, 2.5, 'active')",
                         (item_id, sku, f"test item {sku}", lead, safety, reorder))
        with conn.cursor() as cur:
            # Actuals up to D2: D3's arrive later (with the receipt).
            cur.executemany("insert into unified.demand_history (item_id, location_id,"
                            " demand_date, quantity, is_stockout) values (%s, %s, %s, %s, %s)",
                            [(i, LOC, d, q, s) for i, d, q, s in demand_rows(D3) if d <= D2])
            cur.executemany("insert into unified.inventory_snapshots (item_id, location_id,"
                            " snapshot_date, on_hand, on_order, allocated)"
                            " values (%s, %s, %s, %s, 0, 0)",
                            [(i, LOC, D1, on_hand) for i, *_, on_hand in items])
    try:
        yield WarehouseResource(database=name)
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="module")
def wh(server):
    with portfolio_database(server, DB) as warehouse:
        yield warehouse


def run(wh, assets, day: date | None):
    result = dg.materialize(assets, partition_key=day.isoformat() if day else None,
                            resources={"warehouse": wh}, raise_on_error=True)
    assert result.success
    return result


def metadata(result, key: str) -> dict:
    events = result.get_asset_materialization_events()
    for event in events:
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


NIGHTLY = [forecasts, projected_inventory, forecast_accuracy, forecast_alerts]


@pytest.fixture(scope="module")
def first_night_and_selections(wh):
    """The first night, and the models selected then (the weekly selection test, which may
    run before a test that reads them, selects again)."""
    result = run(wh, NIGHTLY, D1)
    chosen = dict(q(wh, "select distinct on (item_id) item_id, model_name from "
                        "ml.model_selections order by item_id, id desc"))
    return result, chosen


@pytest.fixture(scope="module")
def first_night(first_night_and_selections):
    return first_night_and_selections[0]


def q(wh, sql, params=()):
    """Rows of a query, item ids (uuid columns) as the strings the test names them by."""
    with wh.connection() as conn:
        return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row)
                for row in conn.execute(sql, params).fetchall()]


def test_items_are_forecast_by_their_selected_model(wh, first_night_and_selections):
    first_night, chosen = first_night_and_selections
    meta = metadata(first_night, "forecast/forecasts")
    assert meta["items_forecast"] == 4 and meta["items_failed"] == 1
    assert meta["items_short_history"] == 1  # reported
    served = dict(q(wh, "select item_id, min(model_name) from forecast.forecasts where "
                        "forecast_date = %s group by item_id having count(distinct model_name) = 1",
                    (D1,)))
    assert served[STEADY] == chosen[STEADY] and served[LUMPY] == chosen[LUMPY]
    assert served[SHORT] == "moving_average"
    rows = q(wh, "select count(*), min(horizon_day), max(horizon_day), bool_and(yhat_lower <= "
                 "yhat and yhat <= yhat_upper), bool_and(yhat >= 0), count(distinct run_id) "
                 "from forecast.forecasts where item_id = %s", (STEADY,))[0]
    assert rows == (90, 1, 90, True, True, 1)
    lumpy_class = q(wh, "select demand_class from ml.model_selections where item_id = %s",
                    (LUMPY,))[0][0]
    assert lumpy_class in ("intermittent", "lumpy")


def test_the_poisoned_series_fails_alone_and_is_recorded(wh, first_night):
    jobs = q(wh, "select shard, status, items_attempted, items_failed, errors from "
                 "ml.inference_jobs where run_id = %s and kind = 'forecast' order by shard",
             (first_night.run_id,))
    assert len(jobs) == 4  # one per shard
    assert sum(j[2] for j in jobs) == 5 and sum(j[3] for j in jobs) == 1
    errors = [e for j in jobs for e in j[4]]
    assert errors == [{"item_id": POISON, "location_id": LOC,
                       "error": "ValueError: demand history holds non-finite values"}]
    for _, status, attempted, failed, _ in jobs:
        assert status == ("succeeded" if not failed else
                          "failed" if failed == attempted else "partial")
    assert q(wh, "select count(*) from forecast.forecasts where item_id = %s", (POISON,)) == [(0,)]


def test_registry_records_promotions(wh, first_night):
    active = {r[0] for r in q(wh, "select name from ml.ai_models where status = 'active'")}
    served = {r[0] for r in q(wh, "select distinct model_name from forecast.forecasts")}
    assert served <= active
    events = q(wh, "select m.name, e.event from ml.ai_model_events e join ml.ai_models m "
                   "on m.id = e.model_id")
    assert {("moving_average", "promoted"), ("moving_average", "registered")} <= set(events)


def test_exactly_one_stockout_alert_with_order_by_date_and_a_chart(wh, first_night):
    alerts = q(wh, "select alert_type, item_id, status, details, chart_path from "
                   "forecast.forecast_alerts where alert_type = 'stockout'")
    assert [(a[0], a[1], a[2]) for a in alerts] == [("stockout", STOCKOUT, "open")]
    details, chart = alerts[0][3], alerts[0][4]
    first_short = q(wh, "select min(target_date) from forecast.projected_inventory where "
                        "item_id = %s and forecast_date = %s and projected_on_hand < 0",
                    (STOCKOUT, D1))[0][0]
    assert details["stockout_date"] == first_short.isoformat()
    assert details["order_by_date"] == (first_short - timedelta(days=14)).isoformat()
    assert details["shortfall_qty"] > 0
    with open(chart, "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_accuracy_rows_appear_once_later_actuals_arrive(wh, first_night):
    assert q(wh, "select count(*) from forecast.forecast_accuracy") == [(0,)]
    second = run(wh, NIGHTLY, D2)
    rows = q(wh, "select item_id, lag_days, wape, coverage, observations from "
                 "forecast.forecast_accuracy where scored_date = %s order by item_id nulls last",
             (D2,))
    assert {r[1] for r in rows} == {1}  # only D1's forecast for D2 can be scored yet
    assert rows[-1][0] is None and rows[-1][4] == 4  # the portfolio row: 4 items scored
    meta = metadata(second, "forecast/forecast_accuracy")
    assert "portfolio_wape_lag_1" in meta and "data:image/png;base64" in meta["trend"]
    # The nightly reused the stored selections: no new cold-start choice for old items.
    assert q(wh, "select count(*) from ml.model_selections where item_id = %s", (STEADY,)) == [(1,)]


def test_a_covering_receipt_resolves_the_stockout_on_the_next_run(wh, first_night):
    with wh.connection() as conn:
        conn.execute("insert into unified.open_supply (supply_id, item_id, location_id,"
                     " expected_date, quantity, reference) values (%s, %s, %s, %s, 5000, 'PO-1')",
                     (item("supply/PO-1"), STOCKOUT, LOC, D3))
        with conn.cursor() as cur:
            cur.executemany("insert into unified.demand_history values (%s, %s, %s, %s, %s)",
                            [(i, LOC, d, q, s) for i, d, q, s in demand_rows(D3) if d == D3])
    run(wh, NIGHTLY, D3)
    (status, event, resolved_at), = q(wh, "select status, last_event, resolved_at from "
                                          "forecast.forecast_alerts where alert_type = 'stockout'")
    assert (status, event) == ("resolved", "resolved") and resolved_at is not None


def test_weekly_selection_is_stored_and_reused(wh, first_night):
    result = run(wh, [model_selection], None)
    meta = metadata(result, "forecast/model_selection")
    assert meta["items_selected"] == 4 and meta["items_failed"] == 1
    scheduled = dict(q(wh, "select item_id, model_name from ml.model_selections "
                           "where reason = 'scheduled'"))
    assert set(scheduled) == {STEADY, STOCKOUT, SHORT, LUMPY}
    steady_scores = q(wh, "select scores from ml.model_selections where reason = 'scheduled' "
                          "and item_id = %s", (STEADY,))[0][0]
    assert "prophet" in steady_scores and "seasonal_naive" in steady_scores
    assert q(wh, "select count(*) from ml.inference_jobs where kind = 'select'") == [(1,)]


def test_the_shard_count_is_read_when_the_run_starts(server, monkeypatch):
    """The definitions were imported with one shard count, the run starts with a larger
    one: every item-location is still forecast, in one step per shard of the run's count."""
    from resources.settings import get_settings

    imported = get_settings().forecast_shards
    shards = imported + 3
    # The guard that makes this test bite: some item lives in a shard the import's count
    # does not have.
    assert any(shard_of(i, LOC, shards) >= imported for i in (STEADY, STOCKOUT, SHORT, LUMPY))
    with portfolio_database(server, f"{DB}_shards") as warehouse:
        monkeypatch.setenv("FORGECAST_FORECAST_SHARDS", str(shards))
        get_settings.cache_clear()
        try:
            result = run(warehouse, [forecasts], D1)
        finally:
            monkeypatch.delenv("FORGECAST_FORECAST_SHARDS")
            get_settings.cache_clear()
        meta = metadata(result, "forecast/forecasts")
        assert meta["items_forecast"] == 4 and meta["items_failed"] == 1
        forecast_items = {r[0] for r in q(warehouse, "select distinct item_id from "
                                                     "forecast.forecasts")}
        assert forecast_items == {STEADY, STOCKOUT, SHORT, LUMPY}
        jobs = q(warehouse, "select shard, items_attempted from ml.inference_jobs where "
                            "run_id = %s and kind = 'forecast'", (result.run_id,))
        assert sorted(j[0] for j in jobs) == sorted(f"{i}/{shards}" for i in range(1, shards + 1))
        assert sum(j[1] for j in jobs) == 5
    table = meta["shards"].splitlines()
    assert len(table) == 2 + shards  # header, rule, one row per shard


def test_the_item_id_migration_converts_existing_rows_and_back(server):
    """Revision 0005 turns the text item ids the forecast stage wrote into uuids (the
    portfolio's accuracy rows keep a null item and stay unique), and its downgrade
    restores text."""
    from alembic import command
    from sqlalchemy import create_engine, pool

    from resources import migrations

    name = f"{DB}_migration"
    target = dataclasses.replace(server, warehouse_database=name)

    def migrate(step, revision):
        engine = create_engine(target.url(), poolclass=pool.NullPool)
        try:
            with engine.begin() as connection:
                config = migrations.alembic_config(target)
                config.attributes["connection"] = connection
                step(config, revision)
        finally:
            engine.dispose()

    def item_id_types(conn):
        return dict(conn.execute(
            "select table_schema || '.' || table_name, data_type from "
            "information_schema.columns where column_name = 'item_id' and "
            "table_schema in ('ml', 'forecast')").fetchall())

    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.execute(f"create database {name}")
    try:
        migrate(command.upgrade, "0004")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            conn.execute("insert into ml.item_model_params (item_id, location_id, model_name, "
                         "params, run_id) values (%s, %s, 'ets', '{}', 'r')", (STEADY, LOC))
            conn.execute("insert into forecast.forecast_accuracy (scored_date, item_id, "
                         "location_id, lag_days, window_start, observations) values "
                         "(%s, %s, %s, 7, %s, 3), (%s, null, null, 7, %s, 3)",
                         (D1, STEADY, LOC, D1, D1, D1))
        migrate(command.upgrade, "0005")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            assert set(item_id_types(conn).values()) == {"uuid"}
            assert len(item_id_types(conn)) == 6
            assert conn.execute("select item_id from ml.item_model_params").fetchone()[0] == \
                uuid.UUID(STEADY)
            with pytest.raises(psycopg.errors.UniqueViolation):  # one portfolio row a day
                conn.execute("insert into forecast.forecast_accuracy (scored_date, lag_days, "
                             "window_start, observations) values (%s, 7, %s, 3)", (D1, D1))
        migrate(command.downgrade, "0004")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            assert set(item_id_types(conn).values()) == {"text"}
            assert conn.execute("select item_id from ml.item_model_params").fetchone()[0] == STEADY
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
