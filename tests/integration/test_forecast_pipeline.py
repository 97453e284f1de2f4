"""The forecast stage end to end on a real PostgreSQL and real Dagster runs, in a database
of its own (so the demo's and dbt's tables are not touched): a hand-built portfolio with a
steady item, an item running out inside its lead time, a short-history item, an
intermittent item and a poisoned series.

Checks the issue's "done when": selected models serve, short history is reported, accuracy
rows appear after a later day's actuals, exactly one stockout alert with the right order-by
date that a covering receipt resolves on the next run, a poisoned series failing alone and
recorded in inference_jobs, plus the registry, the selection reuse and the charts.

The scenario's steps (the first night D1, D2, D3 after a covering receipt, then the weekly
selection) are module fixtures chained in that order, each capturing the state the tests
check right after it: the tests pass alone and in any order.
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
                              "inventory_snapshots", "open_supply", "open_demand",
                              "bill_of_materials", "production_history")
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


def q(wh, sql, params=()):
    """Rows of a query, item ids (uuid columns) as the strings the test names them by."""
    with wh.connection() as conn:
        return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row)
                for row in conn.execute(sql, params).fetchall()]


# The scenario's steps, each a module fixture that runs once (after the step before it)
# and captures what the tests check of the state right after it: a later step changes the
# tables, so a test reads the capture, never the live database, and any order works.


@dataclasses.dataclass(frozen=True)
class FirstNight:
    """D1's nightly run: cold-start selections, forecasts, projections, alerts."""

    run_id: str
    forecasts_meta: dict
    chosen: dict[str, str]  # item -> the model its latest selection chose
    served: dict[str, str]  # item -> the one model serving its D1 forecast
    steady_forecast: tuple  # count, horizons, interval order, non-negative, runs
    lumpy_class: str
    jobs: list[tuple]  # the run's forecast inference jobs, by shard
    poison_forecasts: int
    active_models: set[str]
    served_models: set[str]
    model_events: set[tuple[str, str]]
    stockout_alerts: list[tuple]  # type, item, status, details, chart's first 8 bytes
    first_short: date | None  # STOCKOUT's first projected shortage on D1
    accuracy_rows: int
    # D1's forecasts: rows, rows with a 95% band, rows whose 95% band holds the 80% one
    bands: tuple
    steady_widths: list[tuple]  # STEADY: (horizon day, 80% width, 95% width), days 1 and 90
    interval_errors: dict | None  # STEADY's selection's per-horizon errors


def chart_header(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as png:
        return png.read(8)


@pytest.fixture(scope="module")
def first_night(wh) -> FirstNight:
    result = run(wh, NIGHTLY, D1)
    return FirstNight(
        run_id=result.run_id,
        forecasts_meta=metadata(result, "forecast/forecasts"),
        chosen=dict(q(wh, "select distinct on (item_id) item_id, model_name from "
                          "ml.model_selections order by item_id, id desc")),
        served=dict(q(wh, "select item_id, min(model_name) from forecast.forecasts where "
                          "forecast_date = %s group by item_id "
                          "having count(distinct model_name) = 1", (D1,))),
        steady_forecast=q(wh, "select count(*), min(horizon_day), max(horizon_day), "
                              "bool_and(yhat_lower <= yhat and yhat <= yhat_upper), "
                              "bool_and(yhat >= 0), count(distinct run_id) "
                              "from forecast.forecasts where item_id = %s", (STEADY,))[0],
        lumpy_class=q(wh, "select demand_class from ml.model_selections where item_id = %s",
                      (LUMPY,))[0][0],
        jobs=q(wh, "select shard, status, items_attempted, items_failed, errors from "
                   "ml.inference_jobs where run_id = %s and kind = 'forecast' order by shard",
               (result.run_id,)),
        poison_forecasts=q(wh, "select count(*) from forecast.forecasts where item_id = %s",
                           (POISON,))[0][0],
        active_models={r[0] for r in q(wh, "select name from ml.ai_models "
                                           "where status = 'active'")},
        served_models={r[0] for r in q(wh, "select distinct model_name "
                                           "from forecast.forecasts")},
        model_events=set(q(wh, "select m.name, e.event from ml.ai_model_events e "
                               "join ml.ai_models m on m.id = e.model_id")),
        stockout_alerts=[(*a[:4], chart_header(a[4])) for a in q(
            wh, "select alert_type, item_id, status, details, chart_path from "
                "forecast.forecast_alerts where alert_type = 'shortage'")],
        first_short=q(wh, "select min(target_date) from forecast.projected_inventory where "
                          "item_id = %s and forecast_date = %s and projected_on_hand < 0",
                      (STOCKOUT, D1))[0][0],
        accuracy_rows=q(wh, "select count(*) from forecast.forecast_accuracy")[0][0],
        bands=q(wh, "select count(*), count(yhat_lower_95 + yhat_upper_95), "
                    "count(*) filter (where yhat_lower_95 <= yhat_lower and "
                    "yhat_upper <= yhat_upper_95 and yhat_lower_95 >= 0) "
                    "from forecast.forecasts where forecast_date = %s", (D1,))[0],
        steady_widths=q(wh, "select horizon_day, yhat_upper - yhat_lower, "
                            "yhat_upper_95 - yhat_lower_95 from forecast.forecasts "
                            "where item_id = %s and forecast_date = %s and horizon_day in "
                            "(1, 90) order by 1", (STEADY, D1)),
        interval_errors=q(wh, "select interval_errors from ml.model_selections "
                              "where item_id = %s order by id desc limit 1", (STEADY,))[0][0],
    )


@dataclasses.dataclass(frozen=True)
class SecondNight:
    """D2's nightly run: D2's actuals score D1's forecast."""

    accuracy_meta: dict
    # item (None: the portfolio, last), lag, wape, coverage, observations, coverage_95
    accuracy: list[tuple]
    steady_selections: int


@pytest.fixture(scope="module")
def second_night(wh, first_night) -> SecondNight:
    result = run(wh, NIGHTLY, D2)
    return SecondNight(
        accuracy_meta=metadata(result, "forecast/forecast_accuracy"),
        accuracy=q(wh, "select item_id, lag_days, wape, coverage, observations, coverage_95 "
                       "from forecast.forecast_accuracy where scored_date = %s "
                       "order by item_id nulls last", (D2,)),
        steady_selections=q(wh, "select count(*) from ml.model_selections where item_id = %s",
                            (STEADY,))[0][0],
    )


@pytest.fixture(scope="module")
def third_night(wh, second_night) -> list[tuple]:
    """D3's nightly run after a receipt covering STOCKOUT and D3's actuals arrived: the
    stockout alerts' (status, last event, resolved at)."""
    with wh.connection() as conn:
        conn.execute("insert into unified.open_supply (supply_id, item_id, location_id,"
                     " expected_date, quantity, supply_type, is_firm, reference)"
                     " values (%s, %s, %s, %s, 5000, 'purchase', true, 'PO-1')",
                     (item("supply/PO-1"), STOCKOUT, LOC, D3))
        with conn.cursor() as cur:
            cur.executemany("insert into unified.demand_history values (%s, %s, %s, %s, %s)",
                            [(i, LOC, d, q, s) for i, d, q, s in demand_rows(D3) if d == D3])
    run(wh, NIGHTLY, D3)
    return q(wh, "select status, last_event, resolved_at from forecast.forecast_alerts "
                 "where alert_type = 'shortage'")


@dataclasses.dataclass(frozen=True)
class WeeklySelection:
    """The weekly model selection, after the three nights."""

    meta: dict
    scheduled: dict[str, str]  # item -> model of its scheduled selection
    steady_scores: dict
    select_jobs: int


@pytest.fixture(scope="module")
def weekly_selection(wh, third_night) -> WeeklySelection:
    result = run(wh, [model_selection], None)
    return WeeklySelection(
        meta=metadata(result, "forecast/model_selection"),
        scheduled=dict(q(wh, "select item_id, model_name from ml.model_selections "
                             "where reason = 'scheduled'")),
        steady_scores=q(wh, "select scores from ml.model_selections where reason = 'scheduled' "
                            "and item_id = %s", (STEADY,))[0][0],
        select_jobs=q(wh, "select count(*) from ml.inference_jobs where kind = 'select'")[0][0],
    )


@dataclasses.dataclass(frozen=True)
class Rerun:
    """D3's nightly run again, after the weekly selection: a re-forecast of a day that
    has forecasts."""

    first_run_id: str  # D3's first nightly run
    run_id: str
    meta: dict
    versions: list[tuple]  # (version, is_current, run ids, rows) of D3's forecasts
    current_models: dict[str, str]  # item -> model of its current D3 forecast
    projection_runs: set[str]
    # item -> (cumulative demand at the horizon's end, sum of its current yhat, of version 1)
    projected_demand: dict[str, tuple]
    alerts_meta: dict
    alert_runs: set[str]  # last run of the alerts open on D3


@pytest.fixture(scope="module")
def rerun(wh, weekly_selection) -> Rerun:
    (first_run_id,), = q(wh, "select distinct run_id from forecast.forecasts where "
                             "forecast_date = %s", (D3,))
    result = run(wh, NIGHTLY, D3)
    demand = q(wh, """
        select p.item_id, p.cumulative_demand, f.current, f.first
        from forecast.projected_inventory p
        join (select item_id, location_id, sum(yhat) filter (where is_current) as current,
                     sum(yhat) filter (where version = 1) as first
              from forecast.forecasts where forecast_date = %s group by 1, 2) f
          using (item_id, location_id)
        where p.forecast_date = %s and p.target_date = (
            select max(target_date) from forecast.projected_inventory where forecast_date = %s)
        """, (D3, D3, D3))
    return Rerun(
        first_run_id=first_run_id, run_id=result.run_id,
        meta=metadata(result, "forecast/forecasts"),
        versions=q(wh, "select version, is_current, array_agg(distinct run_id), count(*) "
                       "from forecast.forecasts where forecast_date = %s group by 1, 2 "
                       "order by 1", (D3,)),
        current_models=dict(q(wh, "select item_id, min(model_name) from forecast.forecasts "
                                  "where forecast_date = %s and is_current group by 1", (D3,))),
        projection_runs={r[0] for r in q(wh, "select distinct run_id from "
                                             "forecast.projected_inventory where "
                                             "forecast_date = %s", (D3,))},
        projected_demand={i: tuple(v) for i, *v in demand},
        alerts_meta=metadata(result, "alerts/forecast_alerts"),
        alert_runs={r[0] for r in q(wh, "select distinct last_run_id from "
                                        "forecast.forecast_alerts where status = 'open'")},
    )


def test_items_are_forecast_by_their_selected_model(first_night):
    meta, chosen, served = first_night.forecasts_meta, first_night.chosen, first_night.served
    assert meta["items_forecast"] == 4 and meta["items_failed"] == 1
    assert meta["items_short_history"] == 1  # reported
    assert served[STEADY] == chosen[STEADY] and served[LUMPY] == chosen[LUMPY]
    assert served[SHORT] == "moving_average"
    assert first_night.steady_forecast == (90, 1, 90, True, True, 1)
    assert first_night.lumpy_class in ("intermittent", "lumpy")


def test_the_poisoned_series_fails_alone_and_is_recorded(first_night):
    jobs = first_night.jobs
    assert len(jobs) == 4  # one per shard
    assert sum(j[2] for j in jobs) == 5 and sum(j[3] for j in jobs) == 1
    errors = [e for j in jobs for e in j[4]]
    assert errors == [{"item_id": POISON, "location_id": LOC,
                       "error": "ValueError: demand history holds non-finite values"}]
    for _, status, attempted, failed, _ in jobs:
        assert status == ("succeeded" if not failed else
                          "failed" if failed == attempted else "partial")
    assert first_night.poison_forecasts == 0


def test_registry_records_promotions(first_night):
    assert first_night.served_models <= first_night.active_models
    assert {("moving_average", "promoted"), ("moving_average", "registered")} <= \
        first_night.model_events


def test_exactly_one_stockout_alert_with_order_by_date_and_a_chart(first_night):
    alerts, first_short = first_night.stockout_alerts, first_night.first_short
    assert [(a[0], a[1], a[2]) for a in alerts] == [("shortage", STOCKOUT, "open")]
    details, chart = alerts[0][3], alerts[0][4]
    assert details["condition"] == "stockout"
    assert details["stockout_date"] == first_short.isoformat()
    assert details["order_by_date"] == (first_short - timedelta(days=14)).isoformat()
    assert details["shortfall_qty"] > 0
    assert chart == b"\x89PNG\r\n\x1a\n"


def test_accuracy_rows_appear_once_later_actuals_arrive(first_night, second_night):
    assert first_night.accuracy_rows == 0
    rows = second_night.accuracy
    assert {r[1] for r in rows} == {1}  # only D1's forecast for D2 can be scored yet
    assert rows[-1][0] is None and rows[-1][4] == 4  # the portfolio row: 4 items scored
    meta = second_night.accuracy_meta
    assert "portfolio_wape_lag_1" in meta and "data:image/png;base64" in meta["trend"]
    # The nightly reused the stored selections: no new cold-start choice for old items.
    assert second_night.steady_selections == 1


def test_forecasts_carry_a_95_band_around_the_80_one_widening_with_the_horizon(first_night):
    rows, with_95, nested = first_night.bands
    assert rows > 0 and with_95 == rows and nested == rows
    (day1, width1, width1_95), (day90, width90, width90_95) = first_night.steady_widths
    assert (day1, day90) == (1, 90)
    assert width90 > width1 and width90_95 > width1_95 >= width1
    calibration = first_night.interval_errors
    assert calibration["last_step"] == 28 and calibration["steps"][0] == 1
    assert len(calibration["upper_95"]) == len(calibration["steps"])


def test_accuracy_scores_the_coverage_of_both_bands(second_night):
    rows = second_night.accuracy
    assert all(r[5] is not None and 0 <= r[5] <= 1 for r in rows)
    assert all(r[5] >= r[3] for r in rows)  # the 95% band holds the 80% one
    assert "portfolio_coverage_95_lag_1" in second_night.accuracy_meta
    assert "coverage_95" in second_night.accuracy_meta["trend"]


def test_a_covering_receipt_resolves_the_stockout_on_the_next_run(third_night):
    (status, event, resolved_at), = third_night
    assert (status, event) == ("resolved", "resolved") and resolved_at is not None


def test_weekly_selection_is_stored_and_reused(weekly_selection):
    meta = weekly_selection.meta
    assert meta["items_selected"] == 4 and meta["items_failed"] == 1
    assert set(weekly_selection.scheduled) == {STEADY, STOCKOUT, SHORT, LUMPY}
    steady_scores = weekly_selection.steady_scores
    assert "prophet" in steady_scores and "seasonal_naive" in steady_scores
    assert weekly_selection.select_jobs == 1


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


def test_a_rerun_after_a_new_selection_supersedes_the_days_forecasts(rerun, weekly_selection):
    (v1, current1, runs1, rows1), (v2, current2, runs2, rows2) = rerun.versions
    # The first forecasts are kept, no longer current; the re-run's are the current ones.
    assert (v1, current1, runs1) == (1, False, [rerun.first_run_id])
    assert (v2, current2, runs2) == (2, True, [rerun.run_id]) and rows2 == rows1 > 0
    assert rerun.meta["rows_inserted"] == rows2 and rerun.meta["rows_superseded"] == rows1
    assert rerun.meta["items_reforecast"] == 4
    # The new forecasts come from the weekly selection.
    assert rerun.current_models == weekly_selection.scheduled
    # Projected inventory was rebuilt by the re-run, from the current forecasts.
    assert rerun.projection_runs == {rerun.run_id}
    for item_id, (cumulative, current, _first) in rerun.projected_demand.items():
        assert cumulative == pytest.approx(current, rel=1e-6), item_id
    # ... which differ from the first ones (the guard that makes the check above bite).
    assert any(abs(current - first) > 1 for _, current, first in rerun.projected_demand.values())
    # And the alerts were raised again from it (D3 is the newest day).
    assert "skipped" not in rerun.alerts_meta
    assert rerun.alerts_meta["item_locations_evaluated"] > 0
    assert rerun.alert_runs <= {rerun.run_id}  # every open alert is the rerun's



def test_the_versions_migration_keeps_forecasts_current_and_back(server):
    """Revision 0007: existing forecasts become version 1, current; its downgrade keeps the
    current versions only (the old key allows one per day, item, location, target day)."""
    from alembic import command
    from sqlalchemy import create_engine, pool

    from resources import migrations

    name = f"{DB}_versions"
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

    insert = ("insert into forecast.forecasts (run_id, forecast_date, item_id, location_id, "
              "target_date, horizon_day, yhat, yhat_lower, yhat_upper, model_name, "
              "model_version{}) values (%s, %s, %s, %s, %s, 1, %s, 0, 9, 'theta', '2'{})")
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.execute(f"create database {name}")
    try:
        migrate(command.upgrade, "0006")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            conn.execute(insert.format("", ""), ("r1", D1, STEADY, LOC, D2, 5.0))
        migrate(command.upgrade, "0007")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            assert conn.execute("select version, is_current from forecast.forecasts"
                                ).fetchall() == [(1, True)]
            with pytest.raises(psycopg.errors.UniqueViolation):  # one current version
                conn.execute(insert.format(", version", ", 2"), ("r2", D1, STEADY, LOC, D2, 6.0))
            conn.execute("update forecast.forecasts set is_current = false")
            conn.execute(insert.format(", version", ", 2"), ("r2", D1, STEADY, LOC, D2, 6.0))
        migrate(command.downgrade, "0006")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            assert conn.execute("select run_id, yhat from forecast.forecasts").fetchall() == [
                ("r2", 6.0)]
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
