"""One at a time, across processes: PostgreSQL session advisory locks on the warehouse.

Dagster's run queue limits the runs it launches, but `forgecast backfill`, `demo` and
`select` execute in process where the queue does not see them, and two dbt builds at
once collide on dbt's ``__dbt_backup`` relations. A lock held on its own connection
serialises them whoever started them; a process that dies releases it with its session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def exclusive(conn: psycopg.Connection, name: str,
              on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock ``name`` for the block, on ``conn`` (autocommit; keep it for nothing
    else). When another session holds it, ``on_wait`` is told and the call waits."""
    key = "select hashtextextended(%s, 0)"
    (lock_id,) = conn.execute(key, (f"forgecast:{name}",)).fetchone()
    if not conn.execute("select pg_try_advisory_lock(%s)", (lock_id,)).fetchone()[0]:
        if on_wait is not None:
            on_wait(f"another process holds '{name}': waiting for it to finish")
        conn.execute("select pg_advisory_lock(%s)", (lock_id,))
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("select pg_advisory_unlock(%s)", (lock_id,))


def transaction_lock(conn: psycopg.Connection, name: str) -> None:
    """Hold the lock ``name`` until ``conn``'s transaction ends (DDL that two first starts
    would race on: ``create table if not exists`` is not safe concurrently)."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"forgecast:{name}",))
