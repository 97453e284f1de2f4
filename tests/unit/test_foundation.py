"""Settings precedence and masking, errors, alert lifecycle, CLI tables."""

import pytest
from pydantic import ValidationError as SettingsError

from assets.alerts.lifecycle import diff_alerts
from assets.alerts.rules import Alert
from orchestration.tables import format_table
from resources.database import Server, check_server_version
from resources.errors import DuplicateError, OperationError, ServiceError
from resources.settings import MIN_PG_VERSION, Settings


def test_environment_beats_dotenv_beats_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("FORGECAST_RUN_RETRIES=7\nFORGECAST_FORECAST_HORIZON_DAYS=30\n")
    monkeypatch.setenv("FORGECAST_FORECAST_HORIZON_DAYS", "45")
    settings = Settings()
    assert settings.run_retries == 7  # from .env
    assert settings.forecast_horizon_days == 45  # env wins
    assert settings.max_concurrent_runs == 4  # default


def test_secrets_are_masked_when_settings_are_described(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db.example:5432/wh")
    settings = Settings()
    described = settings.describe()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(described)
    assert described["database_url"] == "**********"


def test_server_urls_hide_the_password_except_for_dagster_storage():
    server = Server("db.example", 5432, "app", "hunter2", "wh", "dagster", embedded=False)
    assert "hunter2" not in server.masked_url()
    assert server.masked_url() == "postgresql://app:***@db.example:5432/wh"
    assert server.dagster_url().startswith("postgresql+psycopg2://app:hunter2@")
    socket = Server("/tmp/pg", None, "postgres", None, "wh", "dagster", embedded=True)
    assert socket.masked_url() == "postgresql://postgres@/wh?host=%2Ftmp%2Fpg"


def test_a_server_older_than_the_minimum_is_named_with_both_versions_and_no_password():
    server = Server("db.example", 5432, "app", "hunter2", "wh", "dagster", embedded=False)
    check_server_version(server, 150018, 15)  # accepted: no error
    check_server_version(server, 170002, 15)
    with pytest.raises(OperationError) as refused:
        check_server_version(server, 150018, 16)
    assert str(refused.value) == ("OPERATION_ERROR: PostgreSQL 15.18 at postgresql://app:***@db.example"
                                  ":5432/wh is too old: Forgecast needs PostgreSQL 16 or newer")


def test_the_minimum_postgresql_version_can_be_raised_never_lowered(monkeypatch):
    assert Settings().min_pg_version == MIN_PG_VERSION == 15
    monkeypatch.setenv("FORGECAST_MIN_PG_VERSION", "17")
    assert Settings().min_pg_version == 17
    monkeypatch.setenv("FORGECAST_MIN_PG_VERSION", "14")
    with pytest.raises(SettingsError):
        Settings()


def test_service_errors_carry_code_message_details():
    error = DuplicateError("already ingested as batch 3", details={"batch_id": 3})
    assert isinstance(error, ServiceError)
    assert str(error) == "DUPLICATE: already ingested as batch 3"
    assert error.as_dict()["details"] == {"batch_id": 3}


def test_alert_lifecycle_events():
    def alert(kind, severity, item="i1"):
        return Alert(kind, severity, item, "sap:1000", "m", {})

    changes = diff_alerts(
        {"shortage:i1:sap:1000": "high", "excess:i2:sap:1000": "low",
         "shortage:i3:sap:1000": "medium"},
        [alert("shortage", "critical"), alert("excess", "low", "i2"), alert("shortage", "high", "i9")],
    )
    events = {c.dedup_key: c.event for c in changes}
    assert events == {
        "shortage:i1:sap:1000": "escalated",
        "excess:i2:sap:1000": "unchanged",
        "shortage:i9:sap:1000": "raised",
        "shortage:i3:sap:1000": "resolved",
    }


def test_format_table_aligns_numbers_right():
    text = format_table(["stage", "rows"], [["ingest", 1200], ["dbt", 5]])
    assert text.splitlines()[2] == "ingest  1,200"
    assert text.splitlines()[3] == "dbt         5"
