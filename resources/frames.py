"""Move pandas frames in and out of PostgreSQL with psycopg 3 (COPY for writes)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import psycopg
from psycopg import sql


def read_frame(conn: psycopg.Connection, query: str, params: Sequence | None = None) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame,
               columns: Sequence[str]) -> int:
    """COPY ``frame[columns]`` into ``schema.table``; returns rows written."""
    schema, name = table.split(".", 1)
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        for row in frame[list(columns)].itertuples(index=False, name=None):
            copy.write_row(row)
    return len(frame)
