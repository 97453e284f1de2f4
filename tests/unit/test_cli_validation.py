"""Arguments a user gets wrong are refused with a message that says what is allowed."""

from datetime import date, timedelta

import pytest

from assets.notify.admin import parse_quiet_hours
from orchestration.backfill import backfill_days, confirm_size
from resources.dagster_instance import render_dagster_yaml
from resources.errors import ValidationError
from resources.partitions import daily_partitions
from resources.settings import Settings


def test_a_backfill_reaching_outside_the_partitions_says_the_allowed_range():
    keys = daily_partitions.get_partition_keys()
    first, last = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
    with pytest.raises(ValidationError, match=f"outside the daily partitions \\({keys[0]} .. "):
        backfill_days(date(1950, 1, 1), date(2049, 12, 31))
    with pytest.raises(ValidationError, match="outside"):
        backfill_days(first - timedelta(days=1), first)
    with pytest.raises(ValidationError, match="outside"):
        backfill_days(last, last + timedelta(days=1))
    with pytest.raises(ValidationError, match="before"):
        backfill_days(last, first)
    assert backfill_days(first, first + timedelta(days=2)) == keys[:3]


def test_a_long_backfill_needs_yes():
    days = [f"2025-01-{d:02d}" for d in range(1, 11)]
    confirm_size(days, 10, yes=False)  # exactly the limit: no question
    with pytest.raises(ValidationError, match="11 days .* add --yes"):
        confirm_size([*days, "2025-01-11"], 10, yes=False)
    confirm_size([*days, "2025-01-11"], 10, yes=True)


def test_quiet_hours_that_start_when_they_end_are_refused():
    assert parse_quiet_hours("22:00-07:00") is not None
    assert parse_quiet_hours("off") is None
    with pytest.raises(ValidationError, match="same time"):
        parse_quiet_hours("22:00-22:00")


def test_the_generated_instance_has_no_newsletter_dialog(tmp_path):
    text = render_dagster_yaml(Settings(data_dir=tmp_path))
    assert "nux:\n  enabled: false" in text and "telemetry:\n  enabled: false" in text


def test_the_generated_instance_queues_one_run_per_partition(tmp_path):
    import yaml

    config = yaml.safe_load(render_dagster_yaml(Settings(data_dir=tmp_path)))
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True},
            "limit": 1} in limits


def test_alert_types_are_validated_and_the_old_names_mean_shortage():
    from assets.notify.admin import canonical_alert_type

    assert canonical_alert_type("stockout") == "shortage"
    assert canonical_alert_type("excess") == "excess"
    assert canonical_alert_type(None) is None
    with pytest.raises(ValidationError, match="unknown alert type 'nosuchtype': one of shortage"):
        canonical_alert_type("nosuchtype")


def test_an_argument_that_is_not_utf8_is_a_validation_error(capsys):
    from orchestration.cli import main

    name = b"caf\xe9".decode("utf-8", "surrogateescape")  # latin-1 bytes from a shell
    assert main(["notify", "recipients", "add", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: VALIDATION_ERROR: argument 4 ('caf\\\\xe9') is not valid UTF-8")
