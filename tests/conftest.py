"""Session fixtures: one PostgreSQL server (embedded in a temp data dir, or DATABASE_URL)
migrated once per session; tests share it and clean up only what they create."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

# Before anything reads Settings: the suite never touches a developer's .forgecast/.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="fc-test-"))
os.environ["FORGECAST_DATA_DIR"] = str(_DATA_DIR)
os.environ.pop("DAGSTER_HOME", None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Several suites may run at once on one machine: the demo inbox must not collide.
os.environ["FORGECAST_DEMO_INBOX_PORT"] = str(_free_port())


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
