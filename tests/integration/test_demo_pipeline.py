"""The walking skeleton end to end: demo exports -> ingest -> dbt -> forecast -> alerts ->
notifications, on the session's PostgreSQL and a real Dagster instance (PostgreSQL
storage), twice: the second run must not duplicate any row or message."""

import json
from datetime import timedelta

import dagster as dg
import pytest

from orchestration.demo import run_demo

TABLES = [
    "raw.raw_data_batches", "raw.quarantined_rows", "raw.prim_master_audits", "raw.sap_stock",
    "unified.manufacturing_items", "unified.item_external_ids", "unified.inventory_snapshots",
    "unified.demand_history", "unified.open_supply", "ml.ai_models", "forecast.forecasts",
    "forecast.projected_inventory", "forecast.forecast_alerts", "forecast.alert_events",
    "notify.notifications", "notify.delivery_attempts",
]

BACKFILL_DAYS = 7


# A re-forecast day keeps its earlier forecasts as older versions: one current version.
WHERE = {"forecast.forecasts": " where is_current"}


def table_counts(conn):
    return {t: conn.execute(f"select count(*) from {t}{WHERE.get(t, '')}").fetchone()[0]
            for t in TABLES}


DEMO = {"items": 50, "days": 120, "seed": 42}


@pytest.fixture(scope="module")
def demo_runs(settings, server):
    """The demo run twice before any test changes the data (tests run in random order):
    the first run's summary, and the table counts and inbox lines around the second."""
    from resources.database import connect

    summary = run_demo(settings, **DEMO, echo=lambda _: None)
    inbox = settings.data_dir / "demo_inbox.jsonl"
    with connect(settings, autocommit=True) as conn:
        supply = supply_facts(conn)
        before = table_counts(conn), inbox.read_text().count("\n")
        run_demo(settings, **DEMO, echo=lambda _: None)
        after = table_counts(conn), inbox.read_text().count("\n")
    return {"summary": summary, "before_rerun": before, "after_rerun": after,
            "supply": supply}


def supply_facts(conn) -> dict:
    """What the supply-side checks need, read right after the first run (other tests
    change the data later): the open stockout alerts, and the projection recomputed here
    from its sources without the platform's projection code."""
    import pandas as pd

    def frame(query, *params):
        cur = conn.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    as_of = _as_of(conn)
    forecast = frame("select item_id::text, location_id, target_date, yhat from "
                     "forecast.forecasts where forecast_date = %s and is_current", as_of)
    on_hand = frame("select distinct on (item_id, location_id) item_id::text, location_id, "
                    "on_hand::float8 from unified.inventory_snapshots where snapshot_date <= %s "
                    "order by item_id, location_id, snapshot_date desc", as_of)
    firm = frame("select item_id::text, location_id, expected_date as day, quantity::float8 "
                 "from unified.open_supply where is_firm")
    issues = frame("select item_id::text, location_id, required_date as day, quantity::float8 "
                   "from unified.open_demand union all "
                   "select item_id::text, location_id, required_date, quantity "
                   "from forecast.dependent_demand where forecast_date = %s", as_of)
    first, last = forecast["target_date"].min(), forecast["target_date"].max()

    def daily(events):
        events = events[events["day"] <= last].assign(day=events["day"].clip(lower=first))
        return events.groupby(["item_id", "location_id", "day"])["quantity"].sum()

    keys = ["item_id", "location_id", "target_date"]
    days = pd.concat([forecast[keys], issues.rename(columns={"day": "target_date"})[keys]]
                     ).drop_duplicates()
    days = days[(days["target_date"] >= first) & (days["target_date"] <= last)]
    grid = days.merge(forecast, on=keys, how="left").fillna({"yhat": 0.0})
    for name, events in (("firm", firm), ("issued", issues)):
        grid = grid.merge(daily(events).rename(name), left_on=keys, right_index=True,
                          how="left").fillna({name: 0.0})
    grid = grid.merge(on_hand, on=["item_id", "location_id"], how="left").fillna({"on_hand": 0.0})
    grid = grid.sort_values(keys)
    by = grid.groupby(["item_id", "location_id"])
    used = by["yhat"].cumsum() + by["issued"].cumsum()
    grid["stock_only"] = grid["on_hand"] - used
    grid["firm_path"] = grid["on_hand"] + by["firm"].cumsum() - used
    items = frame("select i.item_id::text, i.lead_time_days, i.sku, exists (select 1 from "
                  "unified.manufacturing_processes p where p.item_id = i.item_id) as manufactured "
                  "from unified.manufacturing_items i where i.status = 'active'")
    alerts = frame("select item_id::text, location_id, severity, message, details "
                   "from forecast.forecast_alerts where status = 'open' "
                   "and alert_type = 'shortage' and details->>'condition' = 'stockout'")
    return {"as_of": as_of, "grid": grid, "items": items, "alerts": alerts}


@pytest.fixture(scope="module")
def first_run(demo_runs):
    return {what: count for _, what, count in demo_runs["summary"]}


def test_every_stage_produces_rows(first_run):
    for what, count in first_run.items():
        assert count > 0, what
    assert first_run["items unified"] == 50


def test_the_run_is_stored_in_dagster_on_postgres(first_run):
    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="nightly"))
    assert runs and runs[0].status == dg.DagsterRunStatus.SUCCESS


def test_notifications_reached_the_inbox_without_secrets(first_run, settings, conn):
    inbox = (settings.data_dir / "demo_inbox.jsonl").read_text().splitlines()
    sent = conn.execute("select count(*) from notify.notifications where status = 'sent'"
                        ).fetchone()[0]
    assert len(inbox) == sent > 0
    message = json.loads(inbox[0])
    assert message["title"] and message["message"]
    stored = conn.execute("select channel_url_encrypted from notify.notification_preferences"
                          ).fetchone()[0]
    assert "127.0.0.1" not in stored and "json://" not in stored  # encrypted at rest


def test_running_the_demo_again_duplicates_nothing(demo_runs, conn):
    (before, inbox_before), (after, inbox_after) = demo_runs["before_rerun"], demo_runs["after_rerun"]
    assert after == before
    assert inbox_after == inbox_before
    dupes = conn.execute("select count(*) from (select 1 from unified.demand_history group by "
                         "item_id, location_id, demand_date having count(*) > 1) d").fetchone()[0]
    assert dupes == 0


def _as_of(conn):
    return conn.execute("select max(forecast_date) from forecast.forecasts").fetchone()[0]


def _run_nightly(day):
    from orchestration.definitions import defs

    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=day.isoformat())
    assert result.success
    return result


def test_demo_items_are_forecast_by_their_selected_model_short_ones_reported(first_run, conn):
    as_of = _as_of(conn)
    with_history = set(conn.execute(
        "select distinct item_id::text, location_id from unified.demand_history").fetchall())
    served = dict(((i, loc), models) for i, loc, models in conn.execute(
        "select item_id::text, location_id, array_agg(distinct model_name) from "
        "forecast.forecasts where forecast_date = %s and is_current group by 1, 2",
        (as_of,)).fetchall())
    chosen = {(i, loc): (model, note) for i, loc, model, note in conn.execute(
        "select distinct on (item_id, location_id) item_id::text, location_id, model_name, note "
        "from ml.model_selections order by item_id, location_id, id desc").fetchall()}
    assert set(served) == with_history  # no failures in the demo: every item-location
    for key, models in served.items():
        assert models == [chosen[key][0]], key
    materialization = dg.DagsterInstance.get().get_latest_materialization_event(
        dg.AssetKey(["forecast", "forecasts"])).asset_materialization
    short = {k for k, (_, note) in chosen.items() if note in
             ("short history", "history too short for a backtest")}
    assert materialization.metadata["items_short_history"].value == len(short)


def test_the_demo_item_built_to_run_out_raises_one_stockout_a_receipt_resolves(
        first_run, settings, conn, tmp_path):
    from assets.ingest.landing import ingest_landing_zone_files
    from demo.generator import generate_demo_data

    as_of = _as_of(conn)
    data = generate_demo_data(tmp_path, **DEMO, end_date=as_of)  # names the built item
    sku, matnr, plant = data.runs_short
    item_id, lead = conn.execute("select item_id::text, lead_time_days from unified.manufacturing_items "
                                 "where sku = %s", (sku,)).fetchone()
    # (Its other plant may be below safety stock: a shortage there, no stockout.)
    alerts = conn.execute("select location_id, status, details from forecast.forecast_alerts "
                          "where alert_type = 'shortage' and details->>'condition' = 'stockout' "
                          "and item_id = %s", (item_id,)).fetchall()
    assert [(loc, status) for loc, status, _ in alerts] == [(f"sap:{plant}", "open")]
    details = alerts[0][2]
    first_short = conn.execute(
        "select min(target_date) from forecast.projected_inventory where item_id = %s and "
        "location_id = %s and forecast_date = %s and projected_on_hand < 0",
        (item_id, f"sap:{plant}", as_of)).fetchone()[0]
    assert details["stockout_date"] == first_short.isoformat()
    assert (first_short - as_of).days <= lead  # inside its lead time
    assert details["order_by_date"] == (first_short - timedelta(days=lead)).isoformat()
    assert details["shortfall_qty"] > 0

    # The buyer expedites an order arriving tomorrow that covers the whole horizon and the
    # safety stock: a new SAP purchase-order export in the landing zone, ingested and
    # picked up by the next run.
    need = conn.execute("select sum(yhat) + max(i.safety_stock) from forecast.forecasts f "
                        "join unified.manufacturing_items i using (item_id) where f.item_id = %s "
                        "and location_id = %s and forecast_date = %s and is_current",
                        (item_id, f"sap:{plant}", as_of)).fetchone()[0]
    master = (tmp_path / "sap" / "material_master" / "sap_material_master.csv").read_text()
    unit = next(line.split(";")[4] for line in master.splitlines()
                if line.startswith(f"{matnr};{plant};"))
    folder = settings.resolved_landing_dir / "sap" / "purchase_orders"
    (folder / "sap_purchase_orders_expedite.csv").write_text(
        "EBELN;EBELP;MATNR;WERKS;EINDT;MENGE;WEMNG;MEINS\n"
        f"4599999999;10;{matnr};{plant};{(as_of + timedelta(days=1)):%Y%m%d};"
        f"{int(need) + 100};0;{unit}\n")
    [batch] = ingest_landing_zone_files(conn, settings)  # only the new file is new
    assert (batch.entity, batch.rows_loaded, batch.rows_quarantined) == ("purchase_orders", 1, 0)
    _run_nightly(as_of)
    status, event, resolved_at = conn.execute(
        "select status, last_event, resolved_at from forecast.forecast_alerts where "
        "alert_type = 'shortage' and item_id = %s and location_id = %s",
        (item_id, f"sap:{plant}")).fetchone()
    assert (status, event) == ("resolved", "resolved") and resolved_at is not None


def test_nightly_schedule_tick_materializes_the_day_just_closed(first_run, conn):
    from datetime import datetime, timedelta

    from orchestration.definitions import defs

    instance = dg.DagsterInstance.get()
    as_of = conn.execute("select max(forecast_date) from forecast.forecasts").fetchone()[0]
    tick_time = datetime.combine(as_of + timedelta(days=1), datetime.min.time()).replace(hour=2)
    schedule = defs.resolve_schedule_def("nightly_schedule")
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time,
                                       repository_def=defs.get_repository_def())
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == as_of.isoformat()
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags)
    assert result.success
    materialized = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert {"unified", "forecast"} <= materialized


@pytest.fixture(scope="module")
def backfilled(first_run, settings, server):
    """The week before the demo's last day backfilled, once for the module: the accuracy
    test scores what it forecast, in whatever order the tests run. (A week: every lag-1
    score of the range and the dbt-once shape of a backfill show as well as over two, at
    half the suite's time.)"""
    from orchestration.backfill import run_backfill
    from resources.database import connect

    with connect(settings) as conn:
        last = conn.execute("select max(forecast_date) from forecast.forecasts").fetchone()[0]
    start = last - timedelta(days=BACKFILL_DAYS)
    end = last - timedelta(days=1)
    instance = dg.DagsterInstance.get()
    before = len(instance.get_runs(filters=dg.RunsFilter(job_name="unified_models")))
    run_ids = run_backfill(settings, start, end, echo=lambda _: None)
    # Read now: other tests may run the dbt job later.
    dbt_runs = instance.get_runs(filters=dg.RunsFilter(job_name="unified_models"))
    return start, end, before, run_ids, dbt_runs


def test_backfill_runs_dbt_once_and_forecasts_every_day(backfilled, conn):
    start, end, before, run_ids, dbt_runs = backfilled
    assert len(run_ids) == 1 + BACKFILL_DAYS
    assert len(dbt_runs) == before + 1  # one dbt invocation for the whole range
    assert dbt_runs[0].tags["dagster/asset_partition_range_start"] == start.isoformat()
    days = conn.execute("select count(distinct forecast_date) from forecast.forecasts "
                        "where forecast_date between %s and %s", (start, end)).fetchone()[0]
    assert days == BACKFILL_DAYS


def test_a_backfill_over_a_day_with_forecasts_rebuilds_them_counted(backfilled, settings,
                                                                    conn):
    from orchestration.backfill import run_backfill

    _, day, *_ = backfilled  # the range's last day: forecast by the backfill already
    before = conn.execute("select count(*), min(run_id) from forecast.forecasts where "
                          "forecast_date = %s and is_current", (day,)).fetchone()
    lines: list[str] = []
    run_ids = run_backfill(settings, day, day, echo=lines.append)
    rows, runs, versions = conn.execute(
        "select count(*), array_agg(distinct run_id), max(version) from forecast.forecasts "
        "where forecast_date = %s and is_current", (day,)).fetchone()
    assert rows == before[0] > 0 and runs == [run_ids[-1]] and versions >= 2
    kept = conn.execute("select count(*) from forecast.forecasts where forecast_date = %s "
                        "and run_id = %s and not is_current", (day, before[1])).fetchone()[0]
    assert kept > 0  # the backfill's first forecasts stay, superseded
    # Counted, not just "done": rows written and superseded, the projection, the alerts.
    assert f"{rows} row(s) written, {rows} superseded" in lines[1], lines
    projected = conn.execute("select count(distinct (item_id, location_id)) from "
                             "forecast.projected_inventory where forecast_date = %s and "
                             "run_id = %s", (day, run_ids[-1])).fetchone()[0]
    assert projected > 0 and f"{projected} item(s) projected" in lines[1]
    assert "alerts skipped" in lines[1]  # an older day than the newest: alerts are not its
    assert f"{rows} row(s) written, {rows} earlier row(s) superseded" in lines[-1]


def test_accuracy_rows_score_the_backfilled_forecasts_against_later_actuals(backfilled, conn):
    # After the backfill every day of the range has forecasts from the days before it and
    # its actuals: each scored row compares a forecast made lag_days earlier.
    last = _as_of(conn)
    rows = conn.execute(
        "select scored_date, lag_days, item_id, observations from forecast.forecast_accuracy "
        "where scored_date > %s", (last - timedelta(days=BACKFILL_DAYS),)).fetchall()
    assert rows and {r[1] for r in rows} >= {1}
    assert all(r[1] >= 1 and r[3] > 0 for r in rows)
    portfolio_days = {r[0] for r in rows if r[2] is None}
    assert len(portfolio_days) >= BACKFILL_DAYS - 1  # a portfolio row per scored day at least


# ------------------------------------------------------------------------ supply side
def _window(supply) -> "pd.DataFrame":  # noqa: F821 - pandas imported by supply_facts
    """The recomputed paths inside each active item-location's alert window (tomorrow to
    the end of its lead time, at least one day)."""
    grid = supply["grid"].merge(supply["items"], on="item_id")
    today = supply["as_of"] + timedelta(days=1)
    ahead = grid["target_date"].map(lambda d: (d - today).days)
    return grid[(ahead >= 0) & (ahead <= grid["lead_time_days"].clip(lower=1))]


def test_every_stockout_of_a_manufactured_item_holds_on_firm_supply(demo_runs):
    supply = demo_runs["supply"]
    window = _window(supply)
    short = window[window["firm_path"] < 0].groupby(["item_id", "location_id"])[
        "target_date"].min()
    manufactured = set(supply["items"].loc[supply["items"]["manufactured"], "item_id"])
    alerts = supply["alerts"]
    for row in alerts.itertuples(index=False):
        if row.item_id not in manufactured:
            continue
        assert (row.item_id, row.location_id) in short.index, row.message
        assert row.details["stockout_date"] == short[(row.item_id, row.location_id)].isoformat()
    # And the other way round: every manufactured item-location short on firm supply alerts.
    raised = set(zip(alerts["item_id"], alerts["location_id"], strict=True))
    missing = [k for k in short.index if k[0] in manufactured and k not in raised]
    assert not missing


def test_firm_production_orders_keep_stockouts_away(demo_runs):
    supply = demo_runs["supply"]
    window = _window(supply)
    window = window[window["manufactured"]]
    lowest = window.groupby(["item_id", "location_id"])[["stock_only", "firm_path"]].min()
    covered = lowest[(lowest["stock_only"] < 0) & (lowest["firm_path"] >= 0)]
    raised = set(zip(supply["alerts"]["item_id"], supply["alerts"]["location_id"], strict=True))
    assert not raised & set(covered.index)
    assert len(covered) >= 5, covered


def test_the_component_built_to_run_short_is_raised_with_its_pegged_parent_order(
        demo_runs, tmp_path):
    from demo.generator import generate_demo_data

    supply = demo_runs["supply"]
    data = generate_demo_data(tmp_path, **DEMO, end_date=supply["as_of"])
    sku, _, plant, parent_order = data.component_runs_short
    item_id = supply["items"].set_index("sku").loc[sku, "item_id"]
    alerts = supply["alerts"]
    [alert] = alerts[(alerts["item_id"] == item_id)
                     & (alerts["location_id"] == f"sap:{plant}")].itertuples(index=False)
    pegs = alert.details["pegs"]
    assert parent_order in [p["peg_reference"] for p in pegs]
    # First by date, and the message names the first.
    assert [p["required_date"] for p in pegs] == sorted(p["required_date"] for p in pegs)
    assert f"order {pegs[0]['peg_reference']}" in alert.message or \
        pegs[0]["peg_type"] == "net_requirement"


def test_the_boms_check_out_against_actual_consumption(first_run):
    # The demo's components are issued to their parents' orders by the BOM: received
    # production of the last 90 days exploded through the BOMs must match what was
    # consumed, up to rounding and the components that ran out.
    materialization = dg.DagsterInstance.get().get_latest_materialization_event(
        dg.AssetKey(["forecast", "dependent_demand"])).asset_materialization
    metadata = materialization.metadata
    assert abs(metadata["bom_bias_90d"].value) < 0.05
    assert "| component | location | exploded | consumed | bias |" in \
        metadata["bom_consumption_check"].value
    assert metadata["components"].value > 0 and metadata["by_peg"].value["production"] > 0
