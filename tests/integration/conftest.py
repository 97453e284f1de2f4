"""Integration tests: every module runs on a database of its own (tests/conftest.py), and
the notification tests' ``env`` fixture."""

from __future__ import annotations

import pytest
from notify_support import NotifyEnv


@pytest.fixture(scope="module", autouse=True)
def _module_platform(platform):
    """Every module here gets its databases and data dir, whether its tests ask for
    ``settings`` or only call code that reads them: no module writes into another's."""
    return platform


@pytest.fixture
def env(conn, settings):
    """A NotifyEnv (tests/integration/notify_support.py), cleaned up afterwards."""
    environment = NotifyEnv(conn, settings)
    yield environment
    environment.cleanup()
