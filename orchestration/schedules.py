"""Schedules: the nightly run for the day just closed and the weekly model selection, at
the times and in the time zone the settings give (read when the definitions load)."""

from datetime import datetime, timedelta

import dagster as dg

from orchestration.jobs import model_selection_job, nightly_job
from orchestration.maintenance import maintenance_schedule
from resources.settings import Settings


def day_just_closed(scheduled: datetime) -> str:
    return (scheduled - timedelta(days=1)).date().isoformat()


def nightly_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=settings.nightly_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole graph for the day just closed.",
    )
    def _nightly(context: dg.ScheduleEvaluationContext):
        day = day_just_closed(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)

    return _nightly


def model_selection_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="forecast_model_selection_weekly",
        job=model_selection_job,
        cron_schedule=settings.forecast_selection_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Weekly model selection (backtests are heavy: not every night).",
    )


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    return [nightly_schedule(settings), model_selection_schedule(settings),
            maintenance_schedule(settings)]
