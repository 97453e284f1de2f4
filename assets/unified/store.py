"""The few reads of the unified schema that Python makes outside dbt (dbt owns and writes
every table in it)."""

from __future__ import annotations

import psycopg


def demo_counts(conn: psycopg.Connection) -> dict[str, int]:
    """The unified schema's lines of `forgecast demo`'s summary."""
    items, demand = conn.execute(
        "select (select count(*) from unified.manufacturing_items), "
        "(select count(*) from unified.demand_history)").fetchone()
    return {"items unified": items, "demand history rows": demand}
