"""Integration tests: every module runs on a database of its own (tests/conftest.py); the
dbt models' tables for modules that read them without building them; the notification
tests' ``env`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from notify_support import NotifyEnv

# The heavy modules (each a minute or more of dbt builds, Dagster runs of the pipeline, or
# subprocesses): marked ``slow``, so `pytest -m "not slow and not e2e"` is the quick loop.
SLOW_MODULES = {
    "test_demo_pipeline.py", "test_dbt_project.py", "test_dbt_demo.py", "test_fault_tolerance.py",
    "test_deploy_files.py", "test_forecast_pipeline.py", "test_dbt_supply.py",
    "test_ui_supervisor.py",
}
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE and item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module", autouse=True)
def _module_platform(platform):
    """Every module here gets its databases and data dir, whether its tests ask for
    ``settings`` or only call code that reads them: no module writes into another's."""
    return platform


@pytest.fixture(scope="module")
def unified_schema(server, tmp_path_factory):
    """The dbt project's tables, empty (dbt builds them over the empty raw tables; no
    tests), in this module's database: for code under test that reads unified tables a
    module does not build itself. (`dbt build --empty` cannot: it breaks on aliases.)"""
    from dbt.cli.main import dbtRunner

    from resources.warehouse import DBT_PROJECT_DIR, dbt_profile_env

    work = tmp_path_factory.mktemp("dbt-empty")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in dbt_profile_env(server).items():
            mp.setenv(name, value)
        mp.setenv("FORGECAST_DBT_TARGET", "ci")
        mp.setenv("DO_NOT_TRACK", "1")
        result = dbtRunner().invoke([
            "build", "--exclude-resource-type", "test", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(work / "target"),
            "--log-path", str(work / "logs")])
    failed = [(r.node.unique_id, str(r.status), r.message) for r in
              getattr(result.result, "results", None) or [] if str(r.status) != "success"]
    assert result.success, (result.exception, failed)


@pytest.fixture
def env(conn, settings):
    """A NotifyEnv (tests/integration/notify_support.py), cleaned up afterwards."""
    environment = NotifyEnv(conn, settings)
    yield environment
    environment.cleanup()
