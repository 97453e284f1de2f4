"""The PostgreSQL 15 leg: the modules here run on the session's PostgreSQL 15 cluster
(``pg15_server``, tests/conftest.py) instead of the embedded PostgreSQL 16, each in
databases of its own as everywhere else. Most of them are integration modules of the
folder above run again (``rerun``): the ones whose SQL could differ between versions or
collations (ingest's loader, the dbt project, the notification store), chosen so that
the leg costs little; test_pg15_demo.py compares a whole demo run with the embedded
server's. Every test here is marked ``pg15`` (``-m "not pg15"`` leaves the leg out)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
SLOW = {"test_pg15_demo.py", "test_pg15_dbt_project.py", "test_pg15_dbt_supply.py"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pg15: the PostgreSQL 15 leg (tests/integration/pg15)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.pg15)
            if item.path.name in SLOW:
                item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def session_server(pg15_server):
    """This folder's modules get their databases on the PostgreSQL 15 cluster."""
    return pg15_server
