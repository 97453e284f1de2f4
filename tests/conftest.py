"""Session fixtures: one PostgreSQL server (embedded in a temp data dir, or DATABASE_URL)
migrated once per session; tests share it and clean up only what they create."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything reads Settings: the suite never touches a developer's .forgecast/.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="fc-test-"))
os.environ["FORGECAST_DATA_DIR"] = str(_DATA_DIR)
os.environ.pop("DAGSTER_HOME", None)


@pytest.fixture(scope="session")
def settings():
    from resources.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def server(settings):
    from resources.bootstrap import ensure_ready
    from resources.database import stop_embedded

    server = ensure_ready(settings)
    yield server
    if server.embedded:
        stop_embedded(settings)


@pytest.fixture
def conn(settings, server):
    from resources.database import connect

    with connect(settings, autocommit=True) as connection:
        yield connection
