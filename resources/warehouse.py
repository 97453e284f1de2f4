"""Dagster resources: the warehouse connection and the dbt CLI, both from Settings.

Resources carry no secrets in their config: they read Settings at run time, so nothing
sensitive reaches Dagster's run config, logs or UI.
"""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource
from pydantic import Field

from resources.bootstrap import ensure_ready
from resources.database import Server, connect
from resources.dbt_env import DBT_PROJECT_DIR, dbt_executable, dbt_profile_env
from resources.settings import Settings, get_settings


class WarehouseResource(dg.ConfigurableResource):
    """PostgreSQL warehouse (embedded or DATABASE_URL), migrated before first use.

    The server, its credentials and every other setting come from Settings, read when a
    run starts (the code server and the run worker may see different values). The field
    picks another database on that server, e.g. a test's own, without a subclass; it
    names no secret."""

    database: str | None = Field(
        default=None,
        description="Warehouse database on the configured server (default: the settings').")

    @property
    def settings(self) -> Settings:
        return get_settings()

    def server(self) -> Server:
        return ensure_ready(self.settings)

    @contextmanager
    def connection(self, *, autocommit: bool = False):
        self.server()
        conn: psycopg.Connection = connect(self.settings, autocommit=autocommit,
                                           database=self.database)
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


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=dbt_executable())


__all__ = ["DBT_PROJECT_DIR", "WarehouseResource", "dbt_executable", "dbt_profile_env", "dbt_resource"]
