"""The walking skeleton end to end: demo exports -> ingest -> dbt -> forecast -> alerts ->
notifications, on the session's PostgreSQL and a real Dagster instance (PostgreSQL
storage), twice: the second run must not duplicate any row or message."""

import json

import dagster as dg
import pytest

from orchestration.demo import run_demo

TABLES = [
    "raw.raw_data_batches", "raw.quarantined_rows", "raw.prim_master_audits", "raw.sap_stock",
    "unified.manufacturing_items", "unified.item_external_ids", "unified.inventory_snapshots",
    "unified.demand_history", "unified.open_supply", "ml.ai_models", "forecast.forecasts",
    "forecast.projected_inventory", "forecast.forecast_alerts", "notify.notifications",
    "notify.delivery_attempts",
]


def table_counts(conn):
    return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def first_run(settings, server):
    summary = run_demo(settings, items=50, days=120, seed=42, echo=lambda _: None)
    return {what: count for _, what, count in summary}


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


def test_running_the_demo_again_duplicates_nothing(first_run, settings, conn):
    before = table_counts(conn)
    inbox_before = (settings.data_dir / "demo_inbox.jsonl").read_text().count("\n")
    run_demo(settings, items=50, days=120, seed=42, echo=lambda _: None)
    assert table_counts(conn) == before
    assert (settings.data_dir / "demo_inbox.jsonl").read_text().count("\n") == inbox_before
    dupes = conn.execute("select count(*) from (select 1 from unified.demand_history group by "
                         "item_id, location_id, demand_date having count(*) > 1) d").fetchone()[0]
    assert dupes == 0


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
    assert {"staging", "unified", "forecast"} <= materialized


def test_backfill_runs_dbt_once_and_forecasts_every_day(first_run, settings, conn):
    from datetime import timedelta

    from orchestration.backfill import run_backfill

    last = conn.execute("select max(forecast_date) from forecast.forecasts").fetchone()[0]
    start = last - timedelta(days=14)
    end = last - timedelta(days=1)
    instance = dg.DagsterInstance.get()
    before = len(instance.get_runs(filters=dg.RunsFilter(job_name="unified_models")))
    run_ids = run_backfill(settings, start, end, echo=lambda _: None)
    assert len(run_ids) == 1 + 14
    dbt_runs = instance.get_runs(filters=dg.RunsFilter(job_name="unified_models"))
    assert len(dbt_runs) == before + 1  # one dbt invocation for the whole range
    assert dbt_runs[0].tags["dagster/asset_partition_range_start"] == start.isoformat()
    days = conn.execute("select count(distinct forecast_date) from forecast.forecasts "
                        "where forecast_date between %s and %s", (start, end)).fetchone()[0]
    assert days == 14
