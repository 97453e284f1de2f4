"""Tell the operators when any run fails, through the same apprise channels as alerts:
the operator URL from settings and every channel of recipients with the operator role."""

import dagster as dg

from orchestration.failure_report import StepFailure, failure_message
from resources.warehouse import WarehouseResource


def _root_cause(error) -> str:
    """The original exception's message: Dagster wraps it in its own step error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _step_failures(context: dg.RunFailureSensorContext) -> list[StepFailure]:
    failures = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error = _root_cause(data.error) if data and data.error else event.message or ""
        failures.append(StepFailure(event.step_key or "?", error))
    return failures


def operator_channels(warehouse: WarehouseResource) -> list[str]:
    from assets.notify.channels import operator_urls

    settings = warehouse.settings
    urls = []
    if settings.operator_apprise_url is not None:
        urls.append(settings.operator_apprise_url.get_secret_value())
    with warehouse.connection() as conn:
        urls += operator_urls(conn, settings)
    return list(dict.fromkeys(urls))


@dg.run_failure_sensor(name="run_failure_to_operators", monitor_all_code_locations=False,
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Sends which run, which step and which error to operators.")
def run_failure_to_operators(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    from assets.notify.delivery import deliver

    settings = warehouse.settings
    channels = operator_channels(warehouse)
    if not channels:
        return dg.SkipReason("no operator channel configured")
    secrets = [settings.database_url.get_secret_value()] if settings.database_url else []
    server = warehouse.server()
    secrets += [server.password or "", *channels]
    subject, body = failure_message(context.dagster_run.job_name, context.dagster_run.run_id,
                                    _step_failures(context), None, secrets)
    results = [deliver(url, subject, body, "markdown", notify_type="failure") for url in channels]
    failed = [r.url_id for r in results if not r.ok]
    if failed:
        context.log.warning(f"operator notice not delivered to channel(s) {', '.join(failed)}")


SENSORS = [run_failure_to_operators]
