"""Schedules: the nightly run for the day just closed, at the time and in the time zone
the settings give."""

from datetime import datetime, timedelta

import dagster as dg

from orchestration.jobs import nightly_job
from resources.settings import get_settings


def day_just_closed(scheduled: datetime) -> str:
    return (scheduled - timedelta(days=1)).date().isoformat()


def nightly_schedule() -> dg.ScheduleDefinition:
    settings = get_settings()

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
