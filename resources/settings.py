"""Forgecast settings: environment variables > ``.env`` > defaults.

Every variable is ``FORGECAST_<FIELD>`` except ``DATABASE_URL``, which keeps the name
every platform uses. Secrets are ``SecretStr`` so printing the settings never shows them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The oldest PostgreSQL major Forgecast runs on (an external server is checked when a
# command connects). 15: the Debian 12 default; 16+ features are wrapped (dbt macros).
MIN_PG_VERSION = 15


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FORGECAST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        Path(".forgecast"),
        description="Embedded PostgreSQL, DAGSTER_HOME, landing zone and kept files live here.",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "FORGECAST_DATABASE_URL"),
        description="An external PostgreSQL server (warehouse database). Unset: embedded server.",
    )
    min_pg_version: int = Field(
        MIN_PG_VERSION, ge=MIN_PG_VERSION,
        description="Oldest PostgreSQL major accepted at connect (only ever raised).")
    warehouse_database: str = Field("forgecast", description="Warehouse database (embedded).")
    dagster_database: str = Field("dagster", description="Dagster storage database.")
    dagster_home: Path | None = Field(None, description="Default: <data_dir>/dagster_home.")
    landing_dir: Path | None = Field(None, description="Default: <data_dir>/landing.")
    max_concurrent_runs: int = Field(4, ge=1, description="Run queue concurrency limit.")
    run_retries: int = Field(2, ge=0, description="Automatic retries of a failed run.")
    bad_row_threshold: float = Field(
        0.05, ge=0, le=1, description="Share of quarantined rows above which a batch is rejected."
    )
    forecast_horizon_days: int = Field(90, ge=1, description="Days forecast ahead.")
    forecast_bucket: str = Field(
        "day", pattern="^(day|week|month)$", description="Forecast bucket: day, week or month.")
    forecast_holiday_country: str | None = Field(
        "DE", description="Country whose public holidays Prophet models (ISO code; empty: none).")
    forecast_shards: int = Field(
        4, ge=1, le=64, description="Static shards of the forecast stage (one op each).")
    forecast_workers: int = Field(
        0, ge=0, description="Worker processes per shard; 0: one per core.")
    forecast_history_days: int = Field(730, ge=28, description="Days of history a model sees.")
    forecast_selection_cron: str = Field(
        "0 4 * * 0", description="Weekly model selection (rolling-origin backtest), cron.")
    forecast_cold_start_prophet: bool = Field(
        False, description="Backtest Prophet too when the nightly run selects a model for an "
        "item that has none yet (the weekly selection always does).")
    forecast_cold_start_ets: bool = Field(
        False, description="Backtest AutoETS and the ETS+Theta combination too in a nightly "
        "cold start; without, it picks among the baselines, Theta and the intermittent "
        "methods, about 4x faster (the weekly selection always tries every model).")
    alert_excess_cover_days: float = Field(
        180.0, gt=0, description="Days of cover above which stock is excess.")
    alert_degraded_ratio: float = Field(
        1.2, gt=0, description="Forecast degraded: WAPE above this times the naive baseline's.")
    alert_late_supply_days: int = Field(
        3, ge=0, description="An open order this many days past its due date raises late_supply.")
    alert_excess_min_value: float = Field(
        1000.0, ge=0, description="Excess worth less than this (accounting currency) raises "
        "nothing; without a unit cost, less than a week of demand (and one unit) raises nothing.")
    alert_rate_jump_factor: float = Field(
        2.0, gt=1, description="Warn when the open alerts per 1,000 item-locations grow more "
        "than this many times night over night.")
    alert_anomaly_rule: str = Field(
        "level_shift", pattern="^(level_shift|tracking_signal|cusum|m_of_n_95|last_day_80)$",
        description="Demand-anomaly rule (assets/alerts/anomaly.py; chosen by bench/alerts.py).")
    alert_anomaly_ls_limit: float = Field(
        3.5, gt=0, description="level_shift: z (the last days' mean against the reference's, "
        "in sd units) at which demand has changed.")
    alert_anomaly_ls_window_days: int = Field(
        7, ge=2, le=28, description="level_shift: the last days compared ...")
    alert_anomaly_ls_reference_days: int = Field(
        56, ge=14, le=182, description="... with this many days before them.")
    alert_anomaly_ls_cap: float = Field(
        3.0, gt=0, description="level_shift: each of the last days counts at most this many "
        "sd from the reference mean (one entry error never decides).")
    alert_anomaly_min_history_days: int = Field(
        120, ge=0, le=365, description="level_shift: an item-location whose first demand is "
        "more recent than this is still ramping up and is not judged.")
    alert_anomaly_ts_limit: float = Field(
        2.5, gt=0, description="Tracking signal (sd units) at which demand has changed.")
    alert_anomaly_window_days: int = Field(
        7, ge=2, le=28, description="Days the tracking signal sums at least (slow movers more).")
    alert_anomaly_m: int = Field(3, ge=1, description="m_of_n_95: days outside the 95% bound...")
    alert_anomaly_n: int = Field(5, ge=1, description="... of the last n days.")
    alert_anomaly_hold_days: int = Field(
        7, ge=1, description="A demand anomaly stays open this many days after it last held.")
    alert_anomaly_value_floor: float = Field(
        250.0, ge=0, description="Demand anomaly only when shifted units x 28 days x unit "
        "cost reach this (currency units).")
    timezone: str = Field("UTC", description="Time zone of the nightly schedule and partitions.")
    partitions_start: str = Field("2024-01-01", description="First daily partition (YYYY-MM-DD).")
    raw_retention_days: int = Field(
        90, ge=0, description="Raw partitions of superseded, rejected and failed batches, and "
        "quarantined rows, are dropped this many days after their batch ended (maintenance).")
    run_history_days: int = Field(
        90, ge=1, description="Dagster runs finished this many days ago are pruned with their "
        "events (maintenance), except those holding an asset partition's latest materialization.")
    maintenance_cron: str = Field("0 5 * * 0", description="Weekly maintenance (cron).")
    backfill_confirm_days: int = Field(
        62, ge=1, description="A backfill over more days than this needs --yes (each day is "
        "a forecast run).")
    nightly_cron: str = Field("0 2 * * *", description="Nightly schedule (cron).")
    notify_secret_key: SecretStr | None = Field(
        None, description="Key that encrypts apprise URLs at rest. Default: generated in data_dir."
    )
    demo_inbox_port: int = Field(18765, ge=0, description="Loopback port of the demo's inbox.")
    operator_apprise_url: SecretStr | None = Field(
        None, description="Where run failures are reported (apprise URL)."
    )
    # --- notifications (assets/notify) ---
    notify_repeat_interval_hours: int = Field(
        24, ge=0, description="An unchanged open alert is re-sent at most this often (0: never)."
    )
    notify_max_attempts: int = Field(5, ge=1, description="Delivery attempts before 'dead'.")
    notify_backoff_base_seconds: float = Field(
        60, gt=0, description="First retry delay ceiling; doubles per attempt (full jitter)."
    )
    notify_backoff_cap_seconds: float = Field(3600, gt=0, description="Longest retry delay.")
    notify_workers: int = Field(8, ge=1, le=64, description="Concurrent apprise sends.")
    notify_digest_hour: int = Field(
        8, ge=0, le=23, description="Default recipient-local hour of the daily digest."
    )
    notify_sending_lease_seconds: int = Field(
        900, ge=30, description="A delivery left 'sending' this long by a lost worker is dead."
    )
    notify_due_interval_seconds: int = Field(
        60, ge=10, description="How often the sensor looks for due retries and digests."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_dagster_home(self) -> Path:
        return (self.dagster_home or self.data_dir / "dagster_home").expanduser().resolve()

    @property
    def resolved_landing_dir(self) -> Path:
        return (self.landing_dir or self.data_dir / "landing").expanduser().resolve()

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    def describe(self) -> dict[str, str]:
        """Settings as printable strings; secrets masked."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********"
            out[name] = "" if value is None else str(value)
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
