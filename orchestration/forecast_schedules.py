"""The weekly model selection: its job and schedule (the nightly job reuses its choices).

Wire into the code location with ``jobs=[..., *JOBS]`` and ``schedules=[..., *SCHEDULES]``.
"""

import dagster as dg

from assets.forecast.assets import MODEL_SELECTION
from orchestration.jobs import STEP_RETRY_POLICY
from resources.settings import get_settings

model_selection_job = dg.define_asset_job(
    "forecast_model_selection",
    selection=dg.AssetSelection.assets(MODEL_SELECTION),
    description="Rolling-origin backtest of every candidate model per item x location; the "
    "best on WAPE serves the item until the next selection.",
    op_retry_policy=STEP_RETRY_POLICY,
)


def model_selection_schedule() -> dg.ScheduleDefinition:
    settings = get_settings()
    return dg.ScheduleDefinition(
        name="forecast_model_selection_weekly",
        job=model_selection_job,
        cron_schedule=settings.forecast_selection_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Weekly model selection (backtests are heavy: not every night).",
    )


JOBS = [model_selection_job]
SCHEDULES = [model_selection_schedule()]
