"""Make the platform ready: server up, databases present, schema migrated, raw tables
in step with the registry, Dagster pointed at its instance. Idempotent and cheap when
everything is already there, so every command that needs the database calls it."""

from __future__ import annotations

from resources.database import Server, connect, ensure_server
from resources.settings import Settings

_migrated: set[str] = set()


def migrate(settings: Settings) -> Server:
    from assets.ingest.raw_tables import sync_raw_tables
    from resources import migrations

    server = ensure_server(settings)
    migrations.upgrade(server)
    with connect(settings) as conn:
        sync_raw_tables(conn)
    _migrated.add(server.masked_url())
    return server


def ensure_ready(settings: Settings) -> Server:
    server = ensure_server(settings)
    if server.masked_url() not in _migrated:
        migrate(settings)
    from resources.dagster_instance import prepare_dagster_environment

    prepare_dagster_environment(settings, server)
    return server
