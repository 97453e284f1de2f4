"""Move pandas frames in and out of PostgreSQL with psycopg 3.

Bulk data moves with COPY in CSV form (one round trip, no per-row Python objects on the
server side). Item ids are uuid columns in the warehouse and strings in Python: COPY's CSV
and ``read_frame`` both hand them over as ``str``, so frames built here group and look up
by the same keys as every dict keyed by ``(item_id, location_id)``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pandas as pd
import psycopg
from psycopg import sql

UUID_OID = 2950  # pg_type.oid of uuid


def read_frame(conn: psycopg.Connection, query: str,
               params: Sequence | Mapping | None = None) -> pd.DataFrame:
    """The rows of ``query`` as a frame; uuid columns as ``str`` (None stays None)."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [d.name for d in cur.description]
        uuids = [d.name for d in cur.description if d.type_code == UUID_OID]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    for column in uuids:
        frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    return frame


def copy_out(conn, query: sql.Composable | str, params: dict | None = None) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT (CSV with header) into a frame."""
    if params:
        inner = psycopg.ClientCursor(conn).mogrify(query, params)
    else:
        inner = query if isinstance(query, str) else query.as_string(conn)
    buffer = io.BytesIO()
    with conn.cursor().copy(sql.SQL("copy ({}) to stdout with (format csv, header)").format(
            sql.SQL(inner))) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"item_id": str, "location_id": str})


def copy_in(conn, table: str, frame: pd.DataFrame, columns: list[str]) -> int:
    """COPY ``frame[columns]`` into ``table`` as CSV; returns rows written."""
    schema, _, name = table.rpartition(".")
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    text = frame[columns].to_csv(index=False, header=False, na_rep="")
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        copy.write(text)
    return len(frame)
