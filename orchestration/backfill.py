"""`forgecast backfill --from D --to D`: rebuild a range of days.

dbt runs once for the whole range (its window as vars), then forecasts, projected
inventory and alerts run for each day, as of that day. A day that has forecasts gets new
ones (its current version; the earlier are kept): each day's line counts the rows written
and superseded, the items projected and the alerts. Runs are recorded on the Dagster
instance like any other, so the UI shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from resources.database import server_gone_reason
from resources.errors import DatabaseUnavailable, OperationError, ValidationError
from resources.settings import Settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def backfill_days(start: date, end: date) -> list[str]:
    from resources.partitions import daily_partitions

    if end < start:
        raise ValidationError(f"--to {end} is before --from {start}")
    keys = daily_partitions.get_partition_keys()
    if not keys or start.isoformat() < keys[0] or end.isoformat() > keys[-1]:
        # Clamping silently would start a different backfill than the one asked for.
        allowed = f"{keys[0]} .. {keys[-1]}" if keys else "none yet"
        raise ValidationError(
            f"--from {start} --to {end} reaches outside the daily partitions ({allowed}; "
            "FORGECAST_PARTITIONS_START sets the first day, the last is yesterday)",
            details={"from": start.isoformat(), "to": end.isoformat(), "allowed": allowed})
    return [k for k in keys if start.isoformat() <= k <= end.isoformat()]


def confirm_size(days: list[str], limit: int, yes: bool) -> None:
    """A long backfill is a deliberate act: over ``limit`` days it needs ``--yes``."""
    if len(days) > limit and not yes:
        raise ValidationError(
            f"{len(days)} days ({days[0]} .. {days[-1]}) is more than "
            f"FORGECAST_BACKFILL_CONFIRM_DAYS={limit}: add --yes to run them all",
            details={"days": len(days), "limit": limit})


def run_backfill(settings: Settings, start: date, end: date,
                 echo: Callable[[str], None] = print, yes: bool = False) -> list[str]:
    """Returns the run ids: the dbt run first, then one per day."""

    from orchestration.definitions import defs
    from orchestration.platform import QUIET_RUN_CONFIG, in_process_tags, output_to_log, run_slot
    from orchestration.platform import instance as platform_instance

    days = backfill_days(start, end)
    confirm_size(days, settings.backfill_confirm_days, yes)
    instance = platform_instance(settings)
    quiet = QUIET_RUN_CONFIG
    echo(f"dbt build for {days[0]} .. {days[-1]} (one invocation)")
    with output_to_log(settings):
        result = defs.resolve_job_def("unified_models").execute_in_process(
            instance=instance, raise_on_error=False, run_config=quiet,
            tags={RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1], **in_process_tags()})
    require_success(result)
    run_ids = [result.run_id]
    forecast_job = defs.resolve_job_def("forecast_and_alerts")
    totals = {"rows_inserted": 0, "rows_superseded": 0}
    for number, day in enumerate(days, start=1):
        with run_slot(settings, forecast_job.name, day, echo), output_to_log(settings):
            result = forecast_job.execute_in_process(instance=instance, partition_key=day,
                                                     raise_on_error=False, run_config=quiet,
                                                     tags=in_process_tags())
        require_success(result)
        run_ids.append(result.run_id)
        made = materialized(result)
        forecasts = made.get("forecast/forecasts", {})
        for key in totals:
            totals[key] += int(forecasts.get(key, 0))
        echo(f"[{number}/{len(days)}] {day}: {day_summary(made)}")
    echo(f"forecasts rebuilt: {totals['rows_inserted']} row(s) written, "
         f"{totals['rows_superseded']} earlier row(s) superseded (kept as older versions)")
    return run_ids


def materialized(result) -> dict[str, dict]:
    """Asset key -> the metadata of its materialization in an in-process run."""
    return {e.asset_key.to_user_string(): {k: v.value for k, v in
                                           e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def day_summary(made: dict[str, dict]) -> str:
    """What a day's run rebuilt, counted: forecasts (and the earlier ones they superseded),
    projected inventory, and alerts (raised on the newest day only)."""
    forecasts = made.get("forecast/forecasts", {})
    projected = made.get("forecast/projected_inventory", {})
    alerts = made.get("alerts/forecast_alerts", {})
    parts = [f"{forecasts.get('items_forecast', 0)} item(s) forecast, "
             f"{forecasts.get('rows_inserted', 0)} row(s) written, "
             f"{forecasts.get('rows_superseded', 0)} superseded",
             f"{projected.get('items_projected', 0)} item(s) projected"]
    if alerts:
        parts.append(f"alerts skipped ({alerts['skipped']})" if "skipped" in alerts
                     else f"{alerts.get('open_alerts', 0)} open alert(s)")
    return "; ".join(parts)


def require_success(result, what: str = "backfill") -> None:
    """A failed in-process run as one error: the failed steps and the first one's reason
    (e.g. the selection's "no item with SKU ..."), the details in `forgecast ui`."""
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        failed = [e.step_key for e in failures]
        error = failures[0].step_failure_data.error if failures else None
        gone = server_gone_reason(error.to_string() if error else None)
        if gone:
            raise DatabaseUnavailable(database_advice(gone), details={"run_id": result.run_id})
        reason = f": {error.message.strip().splitlines()[-1]}" if error else ""
        raise OperationError(f"{what} run {result.run_id} failed at "
                             f"{', '.join(failed) or 'start'}{reason} (see `forgecast ui`)",
                             details={"run_id": result.run_id})


def database_advice(reason: str) -> str:
    """What stopped and what to run, in one line (the drivers' retries are in the log)."""
    from resources.settings import get_settings

    fix = ("check the server behind DATABASE_URL" if not get_settings().uses_embedded_database
           else "start it with `forgecast db up`, then run the command again")
    return f"the PostgreSQL server stopped answering ({reason}): {fix}"
