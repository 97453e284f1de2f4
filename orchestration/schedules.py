"""Schedules: the nightly run, at the time and in the time zone the settings give."""

import dagster as dg

from orchestration.jobs import nightly_job
from resources.settings import get_settings


def nightly_schedule() -> dg.ScheduleDefinition:
    settings = get_settings()
    return dg.ScheduleDefinition(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=settings.nightly_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole graph for the day just closed.",
    )
