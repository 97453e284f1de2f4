"""Helpers of the dbt integration modules that build their own raw data: the raw layout
production has, raw batches landed the way ingest lands them, dbt invocations in process
with their artefacts kept out of the developer's dbt_project/target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from assets.ingest.raw_tables import attach_batch_table, create_batch_table, sync_raw_tables
from assets.ingest.registry import EXPORT_TYPES
from resources import migrations
from resources.database import Server

RawRows = list[tuple[int, dict[str, str]]]


def batch(batch_id: int, columns: str, *rows: tuple[str, ...]) -> RawRows:
    """Rows of one raw batch: `columns` are the lower-case raw column names."""
    names = columns.split()
    return [(batch_id, dict(zip(names, row, strict=True))) for row in rows]


def server_of(postgres: dict[str, str]) -> Server:
    database = str(postgres.get("dbname") or "postgres")
    return Server(host=str(postgres["host"]), port=int(postgres.get("port") or 5432),
                  user=str(postgres.get("user") or "postgres"),
                  password=str(postgres.get("password") or "") or None,
                  warehouse_database=database, dagster_database=database, embedded=False)


def profile_env(postgres: dict[str, str]) -> dict[str, str]:
    """The FORGECAST_DBT_* variables profiles.yml reads, pointing at ``postgres``."""
    return {
        "FORGECAST_DBT_TARGET": "ci",
        "FORGECAST_DBT_HOST": str(postgres["host"]),  # the unix-socket directory
        "FORGECAST_DBT_PORT": str(postgres.get("port") or 5432),
        "FORGECAST_DBT_USER": str(postgres.get("user") or "postgres"),
        "FORGECAST_DBT_PASSWORD": str(postgres.get("password") or ""),
        "FORGECAST_DBT_DBNAME": str(postgres.get("dbname") or "postgres"),
        "FORGECAST_DBT_THREADS": "4",
        "DO_NOT_TRACK": "1",
    }


def create_raw(server: Server) -> None:
    """The raw layout production has: the migrations (raw.raw_data_batches) and the
    ingest's raw-table sync (one table per registry export, partitioned by batch)."""
    migrations.upgrade(server)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        sync_raw_tables(conn)


def insert_batches(conn: psycopg.Connection, batches: list[tuple[int, str, str, str]]) -> None:
    # A made-up sha256 per batch: a live batch owns its content's hash.
    conn.cursor().executemany(
        "insert into raw.raw_data_batches (id, source_system, entity, status, file_name, sha256,"
        " format) values (%s, %s, %s, %s, 'test', lpad(%s::text, 64, '0'), 'csv')",
        [(*b, b[0]) for b in batches],
    )


def insert_rows(conn: psycopg.Connection, table: str, rows: RawRows) -> None:
    """Rows into the raw table the way ingest lands them: each batch into a table of its
    own, attached as the batch's partition."""
    export = next(e for e in EXPORT_TYPES if e.raw_table == table)
    batches: dict[int, list[tuple[int, dict[str, str]]]] = {}
    for row_number, (batch_id, values) in enumerate(rows, start=1):
        batches.setdefault(batch_id, []).append((row_number, values))
    for batch_id, numbered in batches.items():
        batch_table = create_batch_table(conn, export, batch_id)
        for row_number, values in numbered:
            names = ["_row_number", *values]
            conn.execute(
                sql.SQL("insert into {} ({}) values ({})").format(
                    batch_table,
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                [row_number, *values.values()],
            )
        attach_batch_table(conn, export, batch_id)


class DbtRun:
    """Outcome of one dbt invocation: success and the status of every node."""

    def __init__(self, result: Any, log: str = "") -> None:
        self.success = result.success
        self.exception = result.exception
        self.log = log
        self.statuses: dict[str, str] = {
            r.node.unique_id: str(getattr(r.status, "value", r.status))
            for r in (getattr(result.result, "results", None) or [])
        }

    def with_status(self, *statuses: str) -> list[str]:
        return sorted(uid for uid, s in self.statuses.items() if s in statuses)

    def names(self, *statuses: str) -> set[str]:
        """Node names (a generic test's without its hash) of the given statuses."""
        return {uid.split(".")[2] for uid in self.with_status(*statuses)}

    def problems(self) -> str:
        return f"{self.exception!r}; failed: {self.with_status('error', 'fail')}"


def run_dbt(project: Path, work_dir: Path, *args: str) -> DbtRun:
    """dbt in process on ``project``; its log file's text is kept (what a planner reads)."""
    from dbt.cli.main import dbtRunner

    logs = work_dir / "logs"
    log_file = logs / "dbt.log"
    before = log_file.stat().st_size if log_file.exists() else 0
    argv = [*args, "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work_dir / "target"), "--log-path", str(logs)]
    result = dbtRunner().invoke(argv)
    with open(log_file, encoding="utf-8", errors="replace") as fh:
        fh.seek(before)
        return DbtRun(result, fh.read())


def fetch(conn: psycopg.Connection, query: str, *params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()
