"""Sensors of the landing zone (filled in by its stage)."""

SENSORS: list = []
JOBS: list = []
