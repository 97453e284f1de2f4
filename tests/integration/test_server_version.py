"""The server's version is checked when a command connects: below the minimum
(FORGECAST_MIN_PG_VERSION, raised here past the session server's own major to play an
old server), one line naming both versions, a non-zero exit, and nothing written: no
database created, no schema in an existing one. Runs again on PostgreSQL 15
(tests/integration/pg15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [["db", "up"], ["db", "migrate"], ["ingest", "status"], ["notify", "recipients", "list"]]


@pytest.fixture
def server_major(conn) -> int:
    return conn.info.server_version // 10000


def _url(settings, database: str) -> str:
    url = make_url(settings.database_url.get_secret_value()) if settings.database_url else None
    return (url.set(database=database).render_as_string(hide_password=False) if url else "")


def _forgecast(args, settings, server, database: str, minimum: int):
    """`forgecast <args>` against ``database`` on the module's server, with the minimum
    raised to ``minimum``."""
    env = dict(os.environ, FORGECAST_MIN_PG_VERSION=str(minimum),
               FORGECAST_DAGSTER_DATABASE=f"{database}_dagster")
    if server.embedded:  # the embedded server's socket, as an external server would be given
        env["FORGECAST_WAREHOUSE_DATABASE"] = database
    else:
        env["DATABASE_URL"] = _url(settings, database)
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _exists(conn, database: str) -> bool:
    return conn.execute("select 1 from pg_database where datname = %s", (database,)
                        ).fetchone() is not None


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_server_below_the_minimum_is_refused_before_any_database_is_created(
        args, settings, server, conn, server_major):
    database = "fc_too_old_" + "_".join(args)
    result = _forgecast(args, settings, server, database, server_major + 1)
    assert result.returncode == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: OPERATION_ERROR: PostgreSQL {server_major}.")
    assert lines[0].endswith(f"is too old: Forgecast needs PostgreSQL {server_major + 1} or newer")
    assert not _exists(conn, database) and not _exists(conn, f"{database}_dagster")


def test_an_existing_database_gets_no_schema_from_a_refused_command(settings, server, conn,
                                                                    server_major):
    database = "fc_too_old_existing"
    conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
    conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    try:
        result = _forgecast(["db", "migrate"], settings, server, database, server_major + 1)
        assert result.returncode == 5 and "is too old" in result.stderr
        with psycopg.connect(server.conninfo(database)) as other:
            schemas = [r[0] for r in other.execute(
                "select nspname from pg_namespace where nspname not like 'pg\\_%' "
                "and nspname not in ('public', 'information_schema')")]
        assert schemas == []
    finally:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(database)))


def test_the_servers_own_version_is_accepted(settings, server, conn, server_major):
    result = _forgecast(["db", "migrate"], settings, server, conn.info.dbname, server_major)
    assert result.returncode == 0, result.stderr
    assert "warehouse at revision" in result.stdout
