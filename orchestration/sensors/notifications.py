"""Sensors of the notifications (filled in by its stage)."""

SENSORS: list = []
JOBS: list = []
