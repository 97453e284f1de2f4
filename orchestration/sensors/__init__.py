"""Sensors and the jobs they launch, one module per concern; this package only collects."""

from orchestration.sensors import landing_zone, notifications, run_failure

MODULES = (landing_zone, notifications, run_failure)
SENSORS = [sensor for module in MODULES for sensor in module.SENSORS]
JOBS = [job for module in MODULES for job in module.JOBS]
