"""Ready the platform for a command: the server and its migrations (resources), then the
raw tables in step with the ingest registry (the ingest stage), and Forgecast's Dagster
instance for runs executed in this process. The commands call this; the layers below
never reach up for it."""

from __future__ import annotations

import dagster as dg

from resources.database import Server
from resources.settings import Settings


def prepare(settings: Settings) -> Server:
    """Server up, databases present, schema migrated, raw tables synced, Dagster's home
    (its dagster.yaml) written. Idempotent."""
    from assets.ingest.raw_tables import sync_raw_tables
    from resources.bootstrap import ensure_ready
    from resources.dagster_instance import write_dagster_home
    from resources.database import connect

    server = ensure_ready(settings)
    write_dagster_home(settings)
    with connect(settings) as conn:  # commits on leaving the block
        sync_raw_tables(conn)
    return server


def instance(settings: Settings) -> dg.DagsterInstance:
    """The platform prepared, and its Dagster instance for in-process runs."""
    from resources.dagster_instance import forgecast_instance

    return forgecast_instance(settings, prepare(settings))
