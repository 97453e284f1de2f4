"""Session fixtures: one PostgreSQL server per session (embedded in a temp data dir, or the
server of DATABASE_URL), a database per test module on it; and the PostgreSQL 15 leg's
server (``pg15_server``: a throwaway cluster of the machine's PostgreSQL 15, which the
modules of tests/integration/pg15/ use as their session server).

The session migrates two template databases once (the warehouse, and Dagster's storage);
each module that asks for ``settings`` (every integration and e2e module does, through the
autouse fixture of their conftest) gets copies of them, ``fc_<module>`` and
``fc_<module>_dagster``, and a data dir of its own (landing zone, DAGSTER_HOME, files,
charts). The environment variables Settings reads point at them for the module's tests and
for every process those tests start; the databases are dropped at the module's end. So a
module sees no other module's rows, and its tests clean up only to stay independent of
each other (they run in random order: pytest-randomly; ``-p no:randomly`` turns it off).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything reads Settings: the suite never touches a developer's .forgecast/. The
# session's embedded server keeps its pgdata here; modules get data dirs of their own.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="fc-test-"))
os.environ["FORGECAST_DATA_DIR"] = str(_SESSION_DIR)

# What points a process at a platform (resources/settings.py, resources/dagster_instance.py):
# a module sets its own; a test that starts a private platform removes them all.
PLATFORM_ENV = (
    "DATABASE_URL", "FORGECAST_DATABASE_URL", "FORGECAST_DATA_DIR", "FORGECAST_WAREHOUSE_DATABASE",
    "FORGECAST_DAGSTER_DATABASE", "FORGECAST_DAGSTER_HOME", "FORGECAST_LANDING_DIR",
    "DAGSTER_HOME", "FORGECAST_DAGSTER_PG_URL",
)
for _name in PLATFORM_ENV[3:]:  # a developer's shell must not redirect the suite
    os.environ.pop(_name, None)

TEMPLATE = "fc_template"
# An external server (DATABASE_URL) hosts the session's databases instead of the embedded one.
_SESSION_DATABASE_URL = os.environ.get("DATABASE_URL") or os.environ.get("FORGECAST_DATABASE_URL")
# The URL of each external server a module's DATABASE_URL is derived from (its query,
# e.g. sslmode, kept).
_EXTERNAL_URLS: dict = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Several suites may run at once on one machine: the demo inbox must not collide.
os.environ["FORGECAST_DEMO_INBOX_PORT"] = str(_free_port())


def _dagster_db(name: str) -> str:
    return f"{name}_dagster"


def _admin(server):
    import psycopg

    return psycopg.connect(server.conninfo("postgres"), autocommit=True, connect_timeout=10)


def _create_databases(server, name: str, template: str | None, dagster: bool = True) -> None:
    """The warehouse and Dagster databases of one module: copies of the migrated templates
    (a file copy, far cheaper than running the migrations), or empty for the templates."""
    from psycopg import sql

    pairs = [(name, template)]
    if dagster:
        pairs.append((_dagster_db(name), template and _dagster_db(template)))
    with _admin(server) as conn:
        for db, tpl in pairs:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
            if tpl:
                # A template must have no session open while it is copied.
                conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                             "where datname = %s and pid <> pg_backend_pid()", (tpl,))
                conn.execute(sql.SQL("create database {} template {}").format(
                    sql.Identifier(db), sql.Identifier(tpl)))
            else:
                # As resources/database.py creates them: byte-order text comparison.
                conn.execute(sql.SQL("create database {}{}").format(sql.Identifier(db), sql.SQL(
                    " template template0 lc_collate 'C'" if server.embedded else "")))


def _drop_databases(server, name: str) -> None:
    from psycopg import sql

    with _admin(server) as conn:
        for db in (name, _dagster_db(name)):
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))


@contextlib.contextmanager
def _platform(server, name: str, data_dir: Path, template: str | None) -> Iterator:
    """Settings (and the environment, for subprocesses) pointing at databases ``name`` and
    ``name``_dagster on the session's server, with ``data_dir`` as the data dir."""
    from orchestration.platform import prepare
    from resources.dagster_instance import dagster_environment
    from resources.settings import get_settings

    _create_databases(server, name, template)
    data_dir.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORGECAST_DATA_DIR", str(data_dir))
        mp.setenv("FORGECAST_DAGSTER_DATABASE", _dagster_db(name))
        if server.embedded:
            # The module's data dir holds the session server's pgdata as a link: the
            # embedded code path (pgserver resolves the link) finds the running server.
            (data_dir / "pgdata").symlink_to(_SESSION_DIR / "pgdata", target_is_directory=True)
            mp.setenv("FORGECAST_WAREHOUSE_DATABASE", name)
        else:
            from sqlalchemy.engine import make_url

            url = make_url(_EXTERNAL_URLS[server]).set(database=name)
            mp.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
            mp.delenv("FORGECAST_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        settings = get_settings()
        module_server = prepare(settings)  # migrations and the raw tables
        # The product never writes its own environment; the tests point this process
        # (DagsterInstance.get()) and the subprocesses they start at the module's instance,
        # through mp so that it is restored afterwards.
        for name, value in dagster_environment(settings, module_server).items():
            mp.setenv(name, value)
        try:
            yield settings, module_server
        finally:
            get_settings.cache_clear()
            _forget_dagster_instance()
    get_settings.cache_clear()


def _forget_dagster_instance() -> None:
    """Dagster keeps the definitions-state storage of an instance entered as a context in
    a context variable that a run in process can leave set; the next module's definitions
    would then read it from this module's (dropped) Dagster database."""
    from dagster._core.storage.defs_state import base

    base._current_storage.set(None)


@pytest.fixture(scope="session")
def main_server(tmp_path_factory):
    """The session's server, with the template databases migrated (warehouse schema and
    raw tables, Dagster's storage tables)."""
    from resources.database import ensure_server, stop_embedded
    from resources.settings import get_settings

    get_settings.cache_clear()
    session_settings = get_settings()
    server = ensure_server(session_settings)
    if not server.embedded:
        _EXTERNAL_URLS[server] = _SESSION_DATABASE_URL
    _migrate_templates(server, tmp_path_factory)
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            _drop_databases(server, TEMPLATE)
        if server.embedded:
            stop_embedded(session_settings)
            shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def session_server(main_server):
    """The server of the module's databases: the session's, but for the PostgreSQL 15
    leg's modules (tests/integration/pg15/conftest.py)."""
    return main_server


@pytest.fixture(scope="session")
def platform_on(tmp_path_factory):
    """``with platform_on(server, name) as (settings, server):`` a platform of its own on
    another server than the module's (databases ``name`` and ``name``_dagster, a data
    dir), e.g. to compare one run on two servers; the module's comes back afterwards."""

    @contextlib.contextmanager
    def make(server, name: str) -> Iterator:
        try:
            with _platform(server, name, tmp_path_factory.mktemp(name), TEMPLATE) as made:
                yield made
        finally:
            _drop_databases(server, name)

    return make


def _migrate_templates(server, tmp_path_factory) -> None:
    with _platform(server, TEMPLATE, tmp_path_factory.mktemp(TEMPLATE), None):
        import dagster as dg

        dg.DagsterInstance.get().dispose()  # creates Dagster's tables in the template


@pytest.fixture(scope="session")
def pg15_server(tmp_path_factory):
    """A PostgreSQL 15 cluster of this session (tests/pg_cluster.py: initdb'd in a temp
    dir, unix socket only, a US-English ICU collation), reached as a customer's server is,
    through DATABASE_URL; the template databases migrated on it. Stopped and deleted at
    the session's end. Skipped only where the machine has no PostgreSQL 15 binaries."""
    from resources.database import Server
    from tests.pg_cluster import PG15_BIN, THROWAWAY, available, start_cluster

    if not available(PG15_BIN):
        pytest.skip(f"PostgreSQL 15 leg: no PostgreSQL 15 binaries in {PG15_BIN} "
                    "(Debian: apt-get install postgresql-15)")
    cluster = start_cluster(PG15_BIN, settings=THROWAWAY)
    try:
        server = Server(host=cluster.socket_dir, port=None, user="postgres", password=None,
                        warehouse_database=TEMPLATE, dagster_database=_dagster_db(TEMPLATE),
                        embedded=False)
        _EXTERNAL_URLS[server] = cluster.url()
        _migrate_templates(server, tmp_path_factory)
        yield server
    finally:
        cluster.stop()


def _database_name(module_name: str) -> str:
    stem = re.sub(r"[^a-z0-9_]", "_", module_name.rsplit(".", 1)[-1].lower())
    return "fc_" + stem.removeprefix("test_")[:40]


@pytest.fixture(scope="module")
def platform(request, session_server, tmp_path_factory):
    """This module's databases and data dir: (settings, server)."""
    name = _database_name(request.module.__name__)
    with _platform(session_server, name, tmp_path_factory.mktemp(name), TEMPLATE) as made:
        yield made
    _drop_databases(session_server, name)


@pytest.fixture(scope="module")
def scratch_database(request, session_server) -> Iterator[dict[str, str]]:
    """An empty database of this module on the session's server, for a test that builds
    its own schema: libpq connection parameters and ``uri``."""
    from psycopg.conninfo import conninfo_to_dict

    name = _database_name(request.module.__name__) + "_scratch"
    _create_databases(session_server, name, None, dagster=False)
    uri = session_server.conninfo(name)
    yield {"uri": uri, **conninfo_to_dict(uri)}
    _drop_databases(session_server, name)


@pytest.fixture(scope="module")
def settings(platform):
    return platform[0]


@pytest.fixture(scope="module")
def server(platform):
    return platform[1]


@pytest.fixture
def conn(settings, server):
    from resources.database import connect

    with connect(settings, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def private_platform_env():
    """For a test that runs a platform of its own (its own embedded server in ``data_dir``):
    this process's environment without the session's and the module's platform."""

    def make(data_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in PLATFORM_ENV}
        return {**env, "FORGECAST_DATA_DIR": str(data_dir), **extra}

    return make
