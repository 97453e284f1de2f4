"""Make the platform ready: server up, databases present, schema migrated. Idempotent and
cheap when everything is already there, so every command that needs the database calls
it. The raw tables follow the ingest registry and are kept in step by the ingest stage
(``assets.ingest.raw_tables.sync_raw_tables``), which the commands and assets that need
them call: this module sits below the stages and imports none of them."""

from __future__ import annotations

from resources.database import Server, ensure_server
from resources.settings import Settings

_migrated: set[str] = set()


def migrate(settings: Settings) -> Server:
    from resources import migrations

    server = ensure_server(settings)
    migrations.upgrade(server)
    _migrated.add(server.masked_url())
    return server


def ensure_ready(settings: Settings) -> Server:
    server = ensure_server(settings)
    if server.masked_url() not in _migrated:
        migrate(settings)
    return server
