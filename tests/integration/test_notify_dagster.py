"""The sensors and the notify job on a real Dagster instance (PostgreSQL storage).

Materializations of the alerts asset are reported to the instance as the alerts step
would (any partition); the sensor is evaluated as the daemon would and the run it asks
for is executed in process."""

from __future__ import annotations

import dagster as dg
import pytest
from notify_support import future_day

from assets.alerts.assets import FORECAST_ALERTS
from assets.notify.assets import NOTIFICATIONS
from orchestration.definitions import defs
from orchestration.jobs import NOTIFY_JOB_NAME
from orchestration.sensors.notifications import (
    CURSOR_TAG,
    notify_on_alerts,
    run_alerts_sensor_once,
)
from resources.local_receiver import LocalReceiver
from resources.warehouse import WarehouseResource

notify_due_deliveries = defs.resolve_sensor_def("notify_due_deliveries")


@pytest.fixture(scope="module")
def instance(server):
    return dg.DagsterInstance.get()  # DAGSTER_HOME prepared by the session's server


@pytest.fixture
def inbox():
    with LocalReceiver() as receiver:
        yield receiver


def latest_alerts_storage_id(instance) -> str | None:
    records = instance.fetch_materializations(FORECAST_ALERTS, limit=1).records
    return str(records[0].storage_id) if records else None


def materialize_alerts(instance, partition: str | None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(FORECAST_ALERTS, partition=partition))


def evaluate(sensor, instance, cursor=None, **resources):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources=resources or None)
    return sensor.evaluate_tick(context)


def test_definitions_wire_the_job_sensors_and_checks():
    job = defs.resolve_job_def(NOTIFY_JOB_NAME)
    assert NOTIFICATIONS in job.asset_layer.executable_asset_keys
    names = {s.name for s in defs.sensors}
    assert {"notify_on_alerts", "notify_due_deliveries"} <= names
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys
              if key.asset_key == NOTIFICATIONS}
    assert checks == {"no_dead_deliveries", "no_stuck_deliveries"}


def test_the_sensor_launches_one_run_per_batch_of_materializations_and_misses_none(
        env, inbox, instance):
    path = f"/{env.tag}/sensor"
    env.pref(env.recipient(), inbox.url_for("json", path))
    start = latest_alerts_storage_id(instance)

    assert evaluate(notify_on_alerts, instance, start).run_requests == []  # nothing new

    env.alert(item="A")
    materialize_alerts(instance, "2026-01-05")
    materialize_alerts(instance, "2026-01-06")  # two partitions before the next tick
    first = evaluate(notify_on_alerts, instance, start)
    [request] = first.run_requests
    assert first.cursor == request.tags[CURSOR_TAG] == latest_alerts_storage_id(instance)
    assert request.tags["forgecast/alerts_partitions"] == "2026-01-05,2026-01-06"
    assert request.run_key == f"alerts-{first.cursor}"

    result = defs.resolve_job_def(NOTIFY_JOB_NAME).execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags)
    assert result.success
    assert inbox.count_by_path()[path] == 1

    again = evaluate(notify_on_alerts, instance, first.cursor)
    assert again.run_requests == [] and again.cursor in (None, first.cursor)

    env.alert(item="B")
    materialize_alerts(instance, None)
    [later] = evaluate(notify_on_alerts, instance, first.cursor).run_requests
    assert int(later.tags[CURSOR_TAG]) > int(first.cursor)


def test_run_alerts_sensor_once_delivers_and_resumes_from_the_runs(env, inbox, instance):
    path = f"/{env.tag}/demo"
    env.pref(env.recipient(), inbox.url_for("json", path))
    env.alert(item="A", severity="critical")
    materialize_alerts(instance, "2026-02-01")

    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    results = run_alerts_sensor_once(defs, instance, run_config_extra=quiet)  # cursor from runs' tags
    assert len(results) == 1 and results[0].success
    assert inbox.count_by_path()[path] == 1
    run = instance.get_run_by_id(results[0].run_id)
    assert run.job_name == NOTIFY_JOB_NAME and run.tags["forgecast/notify_trigger"] == "alerts"
    materialization = results[0].asset_materializations_for_node("notify__notifications")[0]
    assert materialization.metadata["delivered_now"].value >= 1

    assert run_alerts_sensor_once(defs, instance) == []  # nothing new: no run
    rerun = defs.resolve_job_def(NOTIFY_JOB_NAME).execute_in_process(instance=instance)
    assert rerun.success and inbox.count_by_path()[path] == 1  # re-executed: nothing twice


def test_the_due_sensor_asks_for_a_send_only_run_when_something_is_due(env, inbox, instance):
    path = f"/{env.tag}/due"
    env.pref(env.recipient(), inbox.url_for("json", path))
    env.alert()
    inbox.fail_next(1)
    env.run(future_day(0))  # fails once; due again after a backoff of at most a minute
    env.conn.execute("update notify.notifications set next_attempt_at = now() "
                     "where recipient_id = any(%s)", (env.recipient_ids,))

    data = evaluate(notify_due_deliveries, instance, warehouse=WarehouseResource())
    [request] = data.run_requests
    assert request.run_config["ops"]["notify__notifications"]["config"]["plan"] is False
    assert int(request.tags["forgecast/due_due"]) >= 1
    result = defs.resolve_job_def(NOTIFY_JOB_NAME).execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags)
    assert result.success and inbox.count_by_path()[path] == 1
    leftover = evaluate(notify_due_deliveries, instance, warehouse=WarehouseResource())
    if leftover.run_requests:  # other suites' rows may be due; ours are not
        assert [n["status"] for n in env.notifications()] == ["sent"]
