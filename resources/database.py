"""Where the warehouse and Dagster's storage live, and how to reach them.

Without ``DATABASE_URL`` Forgecast runs a private PostgreSQL server (the ``pgserver``
wheel's binaries) under ``<data_dir>/pgdata``, listening only on a unix socket inside
that directory. With ``DATABASE_URL`` it uses that server. Either way the warehouse and
Dagster's storage are two databases on the same server, and the same code path serves
tests, the demo and production.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from resources.errors import OperationError
from resources.private import restrict_data_dir
from resources.settings import Settings

log = logging.getLogger(__name__)

# pgserver logs each pg_ctl command line at INFO; keep our output about our work.
logging.getLogger("pgserver").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Server:
    """Connection facts for one PostgreSQL server. ``password`` is never printed."""

    host: str  # a host name, or a unix socket directory for the embedded server
    port: int | None
    user: str
    password: str | None
    warehouse_database: str
    dagster_database: str
    embedded: bool

    def url(self, database: str | None = None, driver: str = "psycopg") -> URL:
        query = {"host": self.host} if self.host.startswith("/") else {}
        return URL.create(
            f"postgresql+{driver}",
            username=self.user,
            password=self.password or None,
            host=None if query else self.host,
            port=self.port,
            database=database or self.warehouse_database,
            query=query,
        )

    def masked_url(self, database: str | None = None) -> str:
        rendered = self.url(database, driver="psycopg").render_as_string(hide_password=True)
        return rendered.replace("postgresql+psycopg://", "postgresql://")

    def masked_dagster_url(self) -> str:
        """``dagster_url`` with the password masked: what `forgecast db url --dagster`
        prints for FORGECAST_DAGSTER_PG_URL."""
        return self.url(self.dagster_database, driver="psycopg2").render_as_string(
            hide_password=True)

    def conninfo(self, database: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.warehouse_database,
            application_name="forgecast",
        )

    def dagster_url(self) -> str:
        """SQLAlchemy URL for dagster-postgres. psycopg2 explicitly: SQLAlchemy 2.1 would
        otherwise pick psycopg 3, which dagster-postgres' NOTIFY statement breaks on."""
        return self.url(self.dagster_database, driver="psycopg2").render_as_string(
            hide_password=False
        )


def pgdata_dir(settings: Settings) -> Path:
    return settings.data_dir / "pgdata"


def _external_server(settings: Settings) -> Server:
    assert settings.database_url is not None
    try:
        url = make_url(settings.database_url.get_secret_value())
    except Exception as exc:  # the URL may hold a password: never echo it
        raise OperationError("DATABASE_URL is not a valid PostgreSQL URL") from exc
    if not url.drivername.startswith("postgres"):
        raise OperationError(f"DATABASE_URL must be a postgresql:// URL, not {url.drivername}://")
    host = url.host or str(url.query.get("host", "localhost"))
    return Server(
        host=host,
        port=url.port,
        user=url.username or "postgres",
        password=url.password,
        warehouse_database=url.database or settings.warehouse_database,
        dagster_database=settings.dagster_database,
        embedded=False,
    )


def _start_embedded(settings: Settings) -> Server:
    pgdata = pgdata_dir(settings)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # Two first starts on a fresh data dir raced (both ran initdb; one reported that the
    # server did not start while the other started it): one at a time, the second finds
    # the first one's server running.
    with open(pgdata.parent / ".pgserver.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _start_embedded_locked(settings, pgdata)


def _start_embedded_locked(settings: Settings, pgdata: Path) -> Server:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver  # imported late: only the embedded path needs it

        try:
            # cleanup_mode=None: the server outlives this process; `forgecast db down` stops it.
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception:
            # pgserver waits 10 s for pg_ctl: crash recovery after an immediate shutdown
            # (a killed server) can take longer on a busy machine; once done, a second
            # start is quick.
            log.warning("the embedded server did not start at once; trying again",
                        exc_info=True)
            server = None
        try:
            server = server or pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:
            raise OperationError(
                f"the embedded PostgreSQL server did not start (log: {pgdata / 'log'})",
                details={"pgdata": str(pgdata)},
            ) from exc
    restrict_data_dir(pgdata.parent)
    _tune_embedded(server, pgdata)
    uri = make_url(server.get_uri())
    return Server(
        host=str(uri.query["host"]),
        port=None,
        user=uri.username or "postgres",
        password=None,
        warehouse_database=settings.warehouse_database,
        dagster_database=settings.dagster_database,
        embedded=True,
    )


# Server settings of the embedded server (a private, single-node server for batch work;
# an external server keeps its DBA's settings). WAL is what a nightly rebuild of ~10M-row
# tables mostly waits on: with wal_level=minimal, tables created or truncated in the
# transaction that fills them (dbt's table builds and full refreshes, ingest's COPY into
# a new partition) are not written to the WAL at all, only fsync'd at commit; crash
# recovery works as before. Fewer, later checkpoints keep a full build from writing
# every page twice. minimal needs max_wal_senders = 0 (no replicas of a private server).
EMBEDDED_SERVER_SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "256MB",
}


def _tune_embedded(server, pgdata: Path) -> None:
    """Apply EMBEDDED_SERVER_SETTINGS once per data directory (ALTER SYSTEM, then a
    restart, since wal_level needs one). A no-op when they are in force: they are
    applied together, so wal_level tells."""
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        if conn.execute("show wal_level").fetchone()[0] == "minimal":
            return
        for name, value in EMBEDDED_SERVER_SETTINGS.items():
            conn.execute(sql.SQL("alter system set {} = {}").format(
                sql.Identifier(name), sql.Literal(value)))
    from pgserver._commands import pg_ctl

    log.info("embedded server: applying its settings (restart)")
    pg_ctl(["-w", "-l", str(server.log), "restart", "-m", "fast"], pgdata=pgdata,
           user=server.system_user, timeout=60)


def version_name(version_num: int) -> str:
    """150018 -> '15.18' (server_version_num of PostgreSQL 10 and newer: major * 10000 + minor)."""
    return f"{version_num // 10000}.{version_num % 10000}"


def check_server_version(server: Server, version_num: int, minimum: int) -> None:
    """Refuse a server older than major ``minimum`` before anything is written on it."""
    if version_num // 10000 < minimum:
        raise OperationError(
            f"PostgreSQL {version_name(version_num)} at {server.masked_url()} is too old: "
            f"Forgecast needs PostgreSQL {minimum} or newer",
            details={"server_version_num": version_num, "min_pg_version": minimum})


def _ensure_databases(server: Server, min_pg_version: int) -> None:
    """Check the server's version, then create the warehouse and Dagster databases if
    they are missing (idempotent)."""
    admin_db = "postgres"
    try:
        with psycopg.connect(server.conninfo(admin_db), autocommit=True, connect_timeout=10) as conn:
            # libpq reports server_version_num in the connection handshake: no query.
            check_server_version(server, conn.info.server_version, min_pg_version)
            for name in (server.warehouse_database, server.dagster_database):
                exists = conn.execute("select 1 from pg_database where datname = %s", (name,))
                if exists.fetchone() is None:
                    # A concurrent command may have created it in the meantime.
                    with contextlib.suppress(psycopg.errors.DuplicateDatabase,
                                             psycopg.errors.UniqueViolation):
                        conn.execute(sql.SQL("create database {}{}").format(
                            sql.Identifier(name), sql.SQL(
                                # Byte-order text comparison: sorts of millions of text
                                # keys (dedupe, window functions) get abbreviated keys,
                                # which PostgreSQL disables for libc locales. For UTF-8
                                # text it is the code point order C.UTF-8 gives anyway.
                                " template template0 lc_collate 'C'" if server.embedded else "")))
    except psycopg.OperationalError as exc:
        raise OperationError(
            f"cannot reach PostgreSQL at {server.masked_url(admin_db)}",
            details={"reason": _first_line(exc)},
        ) from exc


# What psycopg, psycopg2, SQLAlchemy and dagster-postgres say when the server is down or
# went away (lower case): the CLI turns any of them into one line and a command to run.
_SERVER_GONE = (
    "connection refused", "server closed the connection", "is the server running",
    "terminating connection due to administrator command", "the database system is shutting down",
    "too many retries for db connection", "consuming input failed", "connection already closed",
    "could not connect to server", "server conn crashed",
)


def server_gone_reason(error: BaseException | str | None) -> str | None:
    """The first line saying the server is unreachable, from an exception (its causes
    and contexts too) or an error's text; None when it is something else."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        for line in str(error).splitlines():
            if any(sign in line.lower() for sign in _SERVER_GONE):
                return line.strip()[:200]
        if isinstance(error, str):
            return None
        error = error.__cause__ or error.__context__
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_ready: dict[tuple, Server] = {}


def ensure_server(settings: Settings) -> Server:
    """The server, started (embedded), checked to be PostgreSQL ``settings.min_pg_version``
    or newer, and holding both databases. Every command and run that opens the warehouse
    comes through here first. Idempotent and cheap after the first call in a process."""
    key = (settings.data_dir, settings.database_url and settings.database_url.get_secret_value(),
           settings.min_pg_version)
    if key in _ready:
        return _ready[key]
    embedded = settings.uses_embedded_database
    server = _start_embedded(settings) if embedded else _external_server(settings)
    _ensure_databases(server, settings.min_pg_version)
    _ready[key] = server
    return server


def server_without_starting(settings: Settings) -> Server | None:
    """Connection facts of the embedded server if it is running, else None (no start)."""
    if not settings.uses_embedded_database:
        return _external_server(settings)
    pid_file = pgdata_dir(settings) / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen addr, shmem, status
    if len(lines) < 5 or not _pid_alive(int(lines[0])):
        return None
    return Server(
        host=lines[4],
        port=None,
        user="postgres",
        password=None,
        warehouse_database=settings.warehouse_database,
        dagster_database=settings.dagster_database,
        embedded=True,
    )


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_embedded(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop the embedded server. Returns False when none was running."""
    if not settings.uses_embedded_database:
        raise OperationError("DATABASE_URL is set: Forgecast does not stop an external server")
    pgdata = pgdata_dir(settings)
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    if not _pid_alive(pid):
        return False
    import os
    import signal

    # SIGINT = PostgreSQL's "fast" shutdown: roll back open transactions, stop cleanly.
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown as the last resort
        time.sleep(1)
    _ready.clear()
    return not _pid_alive(pid)


def connect(settings: Settings, *, autocommit: bool = False,
            database: str | None = None) -> psycopg.Connection:
    """A psycopg 3 connection to the warehouse database (or another on the same server)."""
    server = ensure_server(settings)
    try:
        return psycopg.connect(server.conninfo(database), autocommit=autocommit,
                               connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise OperationError(
            f"cannot connect to {server.masked_url()}", details={"reason": _first_line(exc)}
        ) from exc
