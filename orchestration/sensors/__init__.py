"""Sensors and the jobs they launch, one module per concern; this package only collects."""

from orchestration.sensors import landing_zone, notifications

SENSORS = [*landing_zone.SENSORS, *notifications.SENSORS]
JOBS = [*landing_zone.JOBS, *notifications.JOBS]
