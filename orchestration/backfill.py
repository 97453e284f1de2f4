"""`forgecast backfill --from D --to D`: rebuild a range of days.

dbt runs once for the whole range (its window as vars), then forecasts, projected
inventory and alerts run for each day, as of that day. Runs are recorded on the Dagster
instance like any other, so the UI shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from resources.errors import OperationError, ValidationError
from resources.settings import Settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def backfill_days(start: date, end: date) -> list[str]:
    from resources.partitions import daily_partitions

    if end < start:
        raise ValidationError(f"--to {end} is before --from {start}")
    keys = daily_partitions.get_partition_keys()
    wanted = [k for k in keys if start.isoformat() <= k <= end.isoformat()]
    if not wanted:
        raise ValidationError(f"no daily partition between {start} and {end} "
                              f"(partitions run {keys[0]} .. {keys[-1]})")
    return wanted


def run_backfill(settings: Settings, start: date, end: date,
                 echo: Callable[[str], None] = print) -> list[str]:
    """Returns the run ids: the dbt run first, then one per day."""

    from orchestration.definitions import defs
    from orchestration.platform import instance as platform_instance

    days = backfill_days(start, end)
    instance = platform_instance(settings)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    echo(f"dbt build for {days[0]} .. {days[-1]} (one invocation)")
    result = defs.resolve_job_def("unified_models").execute_in_process(
        instance=instance, raise_on_error=False, run_config=quiet,
        tags={RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1]})
    require_success(result)
    run_ids = [result.run_id]
    forecast_job = defs.resolve_job_def("forecast_and_alerts")
    for number, day in enumerate(days, start=1):
        result = forecast_job.execute_in_process(instance=instance, partition_key=day,
                                                 raise_on_error=False, run_config=quiet)
        require_success(result)
        run_ids.append(result.run_id)
        echo(f"[{number}/{len(days)}] {day}: forecasts and alerts done")
    return run_ids


def require_success(result, what: str = "backfill") -> None:
    """A failed in-process run as one error: the failed steps and the first one's reason
    (e.g. the selection's "no item with SKU ..."), the details in `forgecast ui`."""
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        failed = [e.step_key for e in failures]
        error = failures[0].step_failure_data.error if failures else None
        reason = f": {error.message.strip().splitlines()[-1]}" if error else ""
        raise OperationError(f"{what} run {result.run_id} failed at "
                             f"{', '.join(failed) or 'start'}{reason} (see `forgecast ui`)",
                             details={"run_id": result.run_id})
