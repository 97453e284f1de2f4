"""A failed run reaches the operators through apprise: which run, which step, which
error, and never a secret."""

import dagster as dg

from assets.notify.admin import set_channel_preference, upsert_recipient
from orchestration.failure_report import StepFailure, failure_message, redact
from orchestration.sensors.run_failure import run_failure_to_operators
from resources.local_receiver import LocalReceiver
from resources.warehouse import WarehouseResource


def test_failure_message_names_run_step_error_and_redacts_secrets():
    subject, body = failure_message(
        "nightly", "run-123", [StepFailure("forecast__forecasts", "boom: pw=hunter22 at db")],
        None, secrets=["hunter22"])
    assert subject == "[Forgecast] run of nightly failed at forecast__forecasts"
    assert "run-123" in body and "boom: pw=*** at db" in body and "hunter22" not in body
    assert redact("a json://u:p4ss@h/x b", ["json://u:p4ss@h/x"]) == "a *** b"


def test_a_failed_run_is_reported_to_operator_channels(settings, server, conn):
    @dg.asset(name="always_fails")
    def always_fails():
        raise RuntimeError("disk full while writing forecasts")

    instance = dg.DagsterInstance.get()
    result = dg.materialize([always_fails], instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)

    with LocalReceiver() as inbox:
        channel_url = inbox.url
        operator = upsert_recipient(conn, "on-call operator", "UTC", "operator")
        set_channel_preference(conn, settings, operator, inbox.url, min_severity="critical")
        try:
            context = dg.build_run_status_sensor_context(
                sensor_name="run_failure_to_operators", dagster_event=failure,
                dagster_instance=instance, dagster_run=result.dagster_run,
                resources={"warehouse": WarehouseResource()},
            ).for_run_failure()
            run_failure_to_operators(context)
        finally:
            conn.execute("delete from notify.recipients where id = %s", (operator,))
        [message] = inbox.received
    assert result.run_id in message["message"]
    assert "always_fails" in message["title"]
    assert "disk full while writing forecasts" in message["message"]
    assert channel_url not in message["message"]
