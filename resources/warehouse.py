"""Dagster resources: the warehouse connection and the dbt CLI, both from Settings.

Resources carry no secrets in their config: they read Settings at run time, so nothing
sensitive reaches Dagster's run config, logs or UI.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource

from resources.bootstrap import ensure_ready
from resources.database import Server, connect
from resources.settings import Settings, get_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


DBT_SESSION_OPTIONS = "-c enable_nestloop=off -c work_mem=256MB"


def dbt_profile_env(server: Server) -> dict[str, str]:
    """Environment the dbt profile (dbt_project/profiles.yml) reads."""
    return {
        "FORGECAST_DBT_HOST": server.host,
        "FORGECAST_DBT_PORT": str(server.port or 5432),
        "FORGECAST_DBT_USER": server.user,
        "FORGECAST_DBT_PASSWORD": server.password or "",
        "FORGECAST_DBT_DBNAME": server.warehouse_database,
        # Session settings of every dbt connection (libpq reads PGOPTIONS): hash joins
        # instead of nested loops, whose row estimates over staging views and CTEs are off
        # by orders of magnitude and turn 10,000-item joins quadratic (the lateral
        # generate_series still runs as a nested loop: it has no alternative); enough
        # memory for sorts and hashes of a few million rows not to spill.
        "PGOPTIONS": DBT_SESSION_OPTIONS,
    }


class WarehouseResource(dg.ConfigurableResource):
    """PostgreSQL warehouse (embedded or DATABASE_URL), migrated before first use."""

    @property
    def settings(self) -> Settings:
        return get_settings()

    def server(self) -> Server:
        return ensure_ready(self.settings)

    @contextmanager
    def connection(self, *, autocommit: bool = False):
        self.server()
        conn: psycopg.Connection = connect(self.settings, autocommit=autocommit)
        try:
            yield conn
            if not autocommit:
                conn.commit()
        except BaseException:
            if not autocommit and not conn.closed:
                conn.rollback()
            raise
        finally:
            conn.close()


def dbt_executable() -> str:
    """The dbt beside this interpreter: the venv's bin/ is not always on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=dbt_executable())
