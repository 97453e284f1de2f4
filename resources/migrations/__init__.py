"""Alembic migrations of the tables Forgecast owns (dbt owns the staging and unified ones)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from resources.database import Server

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(server: Server) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["server"] = server
    return config


def upgrade(server: Server, revision: str = "head") -> None:
    """Bring the warehouse to ``revision``; idempotent (alembic skips applied steps)."""
    engine = create_engine(server.url(), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            # Two first commands at once: the second waits for the first's migrations to
            # commit, then finds them applied.
            connection.exec_driver_sql(
                "select pg_advisory_xact_lock(hashtextextended('forgecast:migrate', 0))")
            config = alembic_config(server)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(server: Server) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(server.url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table_schema": "public"}
            )
            return context.get_current_revision()
    finally:
        engine.dispose()
