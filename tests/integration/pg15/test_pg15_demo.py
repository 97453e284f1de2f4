"""`forgecast demo` on PostgreSQL 15 (the module's server, reached through DATABASE_URL)
against the same demo on the embedded PostgreSQL 16: the same counts stage by stage, the
same unified tables row for row (the 15 casts and a US-English collation change nothing),
and a second run on 15 duplicates nothing."""

from __future__ import annotations

import pytest
from test_demo_pipeline import table_counts

from orchestration.demo import run_demo

# Smaller than the command's default (50 x 120): the comparison holds at any size.
DEMO = {"items": 30, "days": 60, "seed": 42}
UNIFIED_TABLES = ("manufacturing_items", "item_external_ids", "manufacturing_processes",
                  "inventory_snapshots", "demand_history", "open_supply", "item_master_history")


def unified_fingerprints(conn) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of every row but its loaded_at (when it
    was written: the one column allowed to differ), per unified table."""
    out = {}
    for table in UNIFIED_TABLES:
        out[table] = conn.execute(
            "select count(*), coalesce(sum(('x' || substr(md5((to_jsonb(t) - 'loaded_at')::text),"
            f" 1, 15))::bit(60)::bigint)::text, '0') from unified.{table} t").fetchone()
    return out


@pytest.fixture(scope="module")
def runs(settings, main_server, platform_on):
    from resources.database import connect

    with platform_on(main_server, "fc_pg15_demo_on_16") as (embedded, _):
        on_16 = run_demo(embedded, **DEMO, echo=lambda _: None)
        with connect(embedded) as conn:
            tables_16 = unified_fingerprints(conn)
    on_15 = run_demo(settings, **DEMO, echo=lambda _: None)
    with connect(settings, autocommit=True) as conn:
        tables_15 = unified_fingerprints(conn)
        before = table_counts(conn)
        again = run_demo(settings, **DEMO, echo=lambda _: None)
        after = table_counts(conn)
    return {"16": on_16, "15": on_15, "tables_16": tables_16, "tables_15": tables_15,
            "again": again, "before": before, "after": after}


def test_the_demo_ends_with_the_same_counts_per_stage_as_on_the_embedded_server(runs):
    assert runs["15"] == runs["16"]
    assert all(count > 0 for _, _, count in runs["15"])


def test_the_unified_tables_are_the_same_rows_as_on_the_embedded_server(runs):
    assert runs["tables_15"] == runs["tables_16"]


def test_running_the_demo_again_on_15_duplicates_nothing(runs):
    assert runs["after"] == runs["before"]
    assert runs["again"] == runs["15"]
