"""Partitions shared by every stage (one definition each, imported everywhere).

- ``daily_partitions``: the day a nightly run closes; dbt receives its window as vars,
  forecasts and alerts are made as of that day.
- ``landing_file_partitions``: one dynamic partition per ingested file, keyed by the
  file's sha256 (the landing-zone sensor adds them).
"""

from datetime import date, timedelta

import dagster as dg

from resources.settings import get_settings

# The one setting read when the definitions load rather than when a run starts: the
# partition set is part of the asset definitions (their decorators take it), and the code
# server, the daemon and every run worker must agree on it. Everything a run decides
# (shard count, horizon, thresholds) is read inside the run.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().partitions_start,
    timezone=get_settings().timezone,
)

landing_file_partitions = dg.DynamicPartitionsDefinition(name="landing_files")


def partition_date(context) -> date:
    """The day a daily-partitioned step works for (the last day of a range)."""
    if context.has_partition_key_range:
        return (context.partition_time_window.end - timedelta(days=1)).date()
    return date.fromisoformat(context.partition_key)
