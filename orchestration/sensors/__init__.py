"""Sensors, one module per concern; this package only collects them (their jobs live in
orchestration/jobs.py)."""

import dagster as dg

from orchestration.sensors import landing_zone, notifications, run_failure
from resources.settings import Settings


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    return [*landing_zone.SENSORS, *notifications.build_sensors(settings), *run_failure.SENSORS]
