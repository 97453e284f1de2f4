"""Integration tests of the dbt project against an empty database of its own.

The project runs from a copy in a temp dir whose seed item_crossref.csv holds the
entries below (the committed seed ships empty). One module-scoped fixture does all
the (slow, ~5 s each) dbt work once:

1. ``dbt build`` of the whole project on a small hand-made raw data set;
2. new raw batches arrive (a lead time change with its change document among them)
   and one is superseded, then ``dbt build`` of the whole project with the partition
   vars ``min_date``/``max_date`` (what Dagster does per partition);
3. ``dbt build --full-refresh`` of the incremental models, to compare with step 2.

The tables are captured after each step, so the tests only read Python data and
do not depend on their order.

Data set (March 2024, days 1-5):

- FC-100 in both ERPs: SAP material 100100 (plants 1000 and 2000) and Odoo product 7,
  same SKU and same EAN;
- FC-200 SAP, plus Odoo product 13 without any reference, attached by a crossref entry;
- FC-300 Odoo product 9, plus SAP material 300300 without BISMT whose EAN (as GTIN-14)
  is product 9's barcode: the EAN rule joins them;
- FC-400 Odoo only and archived; its barcode is also the EAN of SAP material 450450
  (BISMT FC-450): the rules disagree for both ids, crossref entries decide;
- SAP material 900900 without BISMT or EAN: left out, with a warning; a crossref entry
  for a material nobody exports is warned too;
- SAP stock of FC-100 misses 2024-03-03; a superseded batch has that day: ignored;
- Odoo stock of product 7 misses 2024-03-03; a rejected batch is ignored;
- the material master of FC-100 / plant 1000 arrives twice: the later batch wins.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dbt_support import (
    DbtRun,
    RawRows,
    batch,
    create_raw,
    fetch,
    insert_batches,
    insert_rows,
    profile_env,
    run_dbt,
    server_of,
)

from assets.ingest.registry import EXPORT_TYPES

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO_ROOT / "dbt_project"

D = dt.date
WINDOW = {"min_date": "2024-03-03", "max_date": "2024-03-05"}

# --------------------------------------------------------------------------- data

BATCHES = [
    # id, source_system, entity, status
    (1, "sap", "material_master", "loaded"),
    (2, "sap", "material_master", "loaded"),
    (3, "sap", "stock", "loaded"),
    (4, "sap", "stock", "superseded"),
    (5, "sap", "goods_movements", "loaded"),
    (6, "sap", "purchase_orders", "loaded"),
    (7, "sap", "routings", "loaded"),
    (8, "sap", "master_audit", "loaded"),
    (9, "odoo", "products", "loaded"),
    (10, "odoo", "stock_quants", "loaded"),
    (11, "odoo", "stock_moves", "loaded"),
    (12, "odoo", "workcenter_operations", "loaded"),
    (13, "acct", "item_valuation", "loaded"),
    (14, "odoo", "stock_quants", "rejected"),
    (15, "odoo", "stock_quants", "loaded"),
    (16, "acct", "item_valuation", "failed"),
]

M100 = "000000000000100100"
M200 = "000000000000200200"
M300 = "000000000000300300"
M450 = "000000000000450450"
M900 = "000000000000900900"

CROSSREF = """\
source_system,external_id,sku,note
sap,000000000000450450,FC-450,EAN on Odoo product 11 is a copy error (MDM-12)
odoo,11,FC-400,EAN on Odoo product 11 is a copy error (MDM-12)
odoo,13,FC-200,web shop listing without internal reference (MDM-15)
sap,000000000000999999,FC-100,stale: no export has this material
"""

MM = "matnr werks maktx matkl meins bismt ean11 plifz eisbe minbe lvorm"
STOCK = "stichtag matnr werks lgort labst speme meins"
MOVES = "mblnr zeile bwart matnr werks lgort budat menge meins shkzg"
QUANTS = "date product_id location_id quantity reserved_quantity"
AUDIT = "changenr objectid werks udate fname value_old value_new username"

# fmt: off
ROWS: dict[str, RawRows] = {
    "sap_material_master": [
        *batch(1, MM,
            (M100, "1000", "Widget", "001", "ST", "FC-100", "4000000000017", "5", "10", "30", ""),
            (M100, "2000", "Widget", "001", "ST", "FC-100", "", "9", "50", "80", ""),
            (M200, "1000", "Steel sheet", "002", "KG", "FC-200", "", "12", "100", "250", ""),
            (M900, "1000", "Legacy part", "003", "ST", "", "", "3", "0", "0", ""),  # no SKU
            # No BISMT; EAN = Odoo product 9's barcode as GTIN-14.
            (M300, "1000", "Gadget", "004", "ST", "", "04000000000024", "6", "8", "12", ""),
            # BISMT FC-450, but its EAN is also Odoo product 11's (FC-400) barcode.
            (M450, "1000", "Bracket", "002", "ST", "FC-450", "4000000000031", "2", "0", "0", ""),
        ),
        # Later batch, same natural key: safety stock 10 -> 20 must win.
        *batch(2, MM,
            (M100, "1000", "Widget", "001", "ST", "FC-100", "4000000000017", "5", "20", "30", ""),
        ),
    ],
    "sap_stock": [
        *batch(3, STOCK,
            # FC-100: two storage locations; 2024-03-03 missing.
            ("20240301", M100, "1000", "0001", "40", "0", "ST"),
            ("20240301", M100, "1000", "0002", "10", "0", "ST"),
            ("20240302", M100, "1000", "0001", "35", "0", "ST"),
            ("20240302", M100, "1000", "0002", "10", "0", "ST"),
            ("20240304", M100, "1000", "0001", "30", "0", "ST"),
            ("20240304", M100, "1000", "0002", "12", "0", "ST"),
            ("20240305", M100, "1000", "0001", "28", "0", "ST"),
            ("20240305", M100, "1000", "0002", "12", "0", "ST"),
            # FC-200: every day, out of stock on 2024-03-04.
            ("20240301", M200, "1000", "0001", "500", "0", "KG"),
            ("20240302", M200, "1000", "0001", "480", "0", "KG"),
            ("20240303", M200, "1000", "0001", "470", "0", "KG"),
            ("20240304", M200, "1000", "0001", "0", "0", "KG"),
            ("20240305", M200, "1000", "0001", "450.5", "", "KG"),  # speme empty
            # Material without SKU: left out.
            ("20240301", M900, "1000", "0001", "5", "0", "ST"),
            # FC-300 in SAP: out of stock, then no export until the incremental batch's
            # 03-04, so the gap crosses the window's edge (03-03).
            ("20240301", M300, "1000", "0001", "0", "0", "ST"),
        ),
        # Superseded batch: ignored, so FC-100 stays missing on 2024-03-03.
        *batch(4, STOCK, ("20240303", M100, "1000", "0001", "9999", "", "ST")),
    ],
    "sap_goods_movements": batch(5, MOVES,
        ("4900000001", "1", "261", M100, "1000", "0001", "20240302", "5", "ST", "H"),
        ("4900000002", "1", "601", M100, "1000", "0001", "20240304", "3", "ST", "H"),
        ("4900000002", "2", "601", M100, "1000", "0002", "20240304", "1", "ST", "H"),
        ("4900000003", "1", "101", M200, "1000", "0001", "20240302", "100", "KG", "S"),  # GR
        ("4900000004", "1", "261", M200, "1000", "0001", "20240305", "20", "KG", "H"),
    ),
    "sap_purchase_orders": batch(6, "ebeln ebelp matnr werks eindt menge wemng meins",
        ("4500000001", "10", M200, "1000", "20240310", "100", "40", "KG"),
        ("4500000001", "20", M200, "1000", "20240303", "50", "50", "KG"),  # fully received
        ("4500000002", "10", M100, "1000", "20240304", "30", "0", "ST"),
    ),
    "sap_routings": batch(7, "matnr werks plnnr vornr arbpl ltxa1 vgw01 vgw02 vge01",
        (M100, "1000", "50000001", "0010", "CUT-01", "Cut", "15", "2.5", "MIN"),
        (M100, "1000", "50000001", "0020", "ASM-01", "Assemble", "0.5", "0.1", "H"),
    ),
    "sap_master_audit": batch(8, AUDIT,
        ("0000012345", M100, "1000", "20240301", "EISBE", "10", "20", "MUELLER"),
        ("0000012346", M100, "2000", "20240302", "PLIFZ", "8", "9", "MUELLER"),
    ),
    "odoo_products": batch(9, "id default_code name categ_id uom_id barcode active"
                               " produce_delay safety_stock reorder_point",
        ("7", "FC-100", "Widget (Odoo)", "All / Finished", "Units", "4000000000017", "true", "4",
         "15", "25"),
        ("9", "FC-300", "Gadget", "All / Saleable / Gadgets", "Units", "4000000000024", "true", "2",
         "5", "10"),
        ("11", "FC-400", "Old gizmo", "All / Components", "kg", "4000000000031", "false", "1", "",
         ""),
        ("13", "", "Steel sheet (web shop)", "All / Components", "kg", "", "true", "12", "", ""),
    ),
    "odoo_stock_quants": [
        *batch(10, QUANTS,
            ("2024-03-01", "9", "WH/Stock", "10", "2"),
            ("2024-03-02", "9", "WH/Stock", "6", "1"),
            ("2024-03-03", "9", "WH/Stock", "6", "0"),
            ("2024-03-04", "9", "WH/Stock", "0", "0"),
            ("2024-03-05", "9", "WH/Stock", "8", "0"),
            # product 7: 2024-03-03 missing
            ("2024-03-01", "7", "WH/Stock", "20", "5"),
            ("2024-03-02", "7", "WH/Stock", "20", "5"),
            ("2024-03-04", "7", "WH/Stock", "18", "0"),
            ("2024-03-05", "7", "WH/Stock", "18", "0"),
            ("2024-03-01", "55", "WH/Stock", "1", "0"),  # unknown product: left out
        ),
        # Rejected batch: ignored.
        *batch(14, QUANTS, ("2024-03-01", "9", "WH/Stock", "999", "0")),
        # A second location on one day only (superseded before the incremental run).
        *batch(15, QUANTS, ("2024-03-03", "9", "WH/Quality", "2", "0")),
    ],
    "odoo_stock_moves": batch(11, "id product_id date product_uom_qty location_id"
                                   " location_dest_id state reference",
        ("101", "9", "2024-03-02T09:30:00", "4", "WH/Stock", "Partners/Customers", "done",
         "WH/OUT/00001"),
        ("102", "7", "2024-03-03 14:00:00", "2", "WH/Stock", "Virtual Locations/Production",
         "done", "MO/00001"),
        ("103", "9", "2024-03-08T08:00:00", "50", "Partners/Vendors", "WH/Stock", "assigned",
         "WH/IN/00002"),
        ("104", "9", "2024-03-01T10:00:00", "12", "Partners/Vendors", "WH/Stock", "done",
         "WH/IN/00001"),  # a receipt, not demand
        # 23:30 at UTC-2 is 01:30 UTC on the next day.
        ("105", "9", "2024-03-04T23:30:00-02:00", "1", "WH/Stock", "Partners/Customers", "done",
         "WH/OUT/00002"),
        ("106", "9", "2024-03-06T10:00:00", "3", "WH/Stock", "Partners/Customers", "assigned",
         "WH/OUT/00003"),  # an expected delivery, not supply
    ),
    "odoo_workcenter_operations": batch(12, "id product_id workcenter name sequence"
                                             " time_cycle_manual setup_time",
        ("1", "7", "Assembly line", "Assemble", "10", "3.5", "10"),
        ("2", "9", "Packing", "Pack", "10", "1.0", ""),
    ),
    "acct_item_valuation": batch(13, "item_ref valuation_date standard_cost currency"
                                      " valuation_class",
        ("FC-100", "2024-01-01", "12.50", "EUR", "7920"),
        ("FC-100", "2024-03-01", "13.10", "EUR", "7920"),
        ("FC-200", "2024-02-01", "2.40", "eur", "3000"),
        ("FC-999", "2024-02-01", "1.00", "EUR", ""),  # unknown SKU
    ),
}
# fmt: on


# --------------------------------------------------------------------------- dbt


def _dbt(work_dir: Path, *args: str) -> DbtRun:
    return run_dbt(work_dir / "project", work_dir, *args)


def _without_loaded_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """loaded_at says which dbt run wrote a row: it differs between the runs compared."""
    return [{k: v for k, v in row.items() if k != "loaded_at"} for row in rows]


BATCH_INCREMENTAL_STAGING = [
    "stg_sap__stock", "stg_sap__goods_movements", "stg_odoo__stock_quants", "stg_odoo__stock_moves",
]


def _capture_staged(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """The batch-incremental staging tables, every row in a stable order."""
    return {model: sorted(fetch(conn, f"select * from staging.{model}"),
                          key=lambda row: [str(value) for value in row.values()])
            for model in BATCH_INCREMENTAL_STAGING}


def _capture(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        "inventory_snapshots": _without_loaded_at(fetch(
            conn,
            "select * from unified.inventory_snapshots order by item_id, location_id, snapshot_date",
        )),
        "demand_history": _without_loaded_at(fetch(
            conn,
            "select * from unified.demand_history order by item_id, location_id, demand_date",
        )),
    }


# An incremental model that ignores the partition window (appends every day on every
# run): the test written_inside_partition_window must catch it. Warn, so the build goes on.
WINDOW_BREAKER_SQL = """\
{{ config(materialized='incremental', schema='unified') }}
select day::date as day, {{ forgecast_run_started_at() }} as loaded_at
from generate_series(date '2024-03-01', date '2024-03-05', interval '1 day') as day
"""
WINDOW_BREAKER_YML = """\
version: 2
models:
  - name: window_breaker
    description: Test fixture, see tests/integration/test_dbt_project.py.
    config:
      # Windowed like the daily models: other tests read only the window, this one
      # must still see the rows written outside it.
      meta:
        window_column: day
    columns:
      - name: day
        data_tests:
          - written_inside_partition_window:
              config:
                severity: warn
"""


def _copy_project(work_dir: Path) -> None:
    """The project in work_dir/project, with this module's crossref entries as the seed
    and a model that breaks the partition window."""
    project = work_dir / "project"
    shutil.copytree(DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "seeds" / "item_crossref.csv").write_text(CROSSREF)
    (project / "models" / "unified" / "window_breaker.sql").write_text(WINDOW_BREAKER_SQL)
    (project / "models" / "unified" / "_window_breaker.yml").write_text(WINDOW_BREAKER_YML)


@pytest.fixture(scope="module")
def postgres(scratch_database: dict[str, str]) -> dict[str, str]:
    """An empty database on the session's server: the raw layout is this module's own."""
    return scratch_database


@pytest.fixture(scope="module")
def dbt_env(postgres: dict[str, str]) -> Iterator[None]:
    """The FORGECAST_DBT_* variables profiles.yml reads, pointing at the test server."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in profile_env(postgres).items():
            mp.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def warehouse(postgres, dbt_env, tmp_path_factory) -> Iterator[dict[str, Any]]:
    work_dir = tmp_path_factory.mktemp("dbt")
    _copy_project(work_dir)
    out: dict[str, Any] = {}
    create_raw(server_of(postgres))
    with psycopg.connect(postgres["uri"], autocommit=True) as conn:
        insert_batches(conn, BATCHES)
        for table, rows in ROWS.items():
            insert_rows(conn, table, rows)

        # 1. Full build of the project.
        out["build"] = _dbt(work_dir, "build")
        assert out["build"].success, out["build"].problems()
        out["item_ids"] = {
            r["sku"]: r["item_id"] for r in fetch(conn, "select * from unified.manufacturing_items")
        }
        out["tables"] = {
            name: fetch(conn, f"select * from unified.{name}")
            for name in [
                "manufacturing_items",
                "item_external_ids",
                "manufacturing_processes",
                "open_supply",
                "inventory_snapshots",
                "demand_history",
                "item_master_snapshot",
                "item_master_history",
            ]
        }
        out["staging_material_master"] = fetch(conn, "select * from staging.stg_sap__material_master")
        out["initial"] = _capture(conn)

        # 2. New batches land in the window, one batch is superseded, then the
        #    incremental models are rebuilt for the window only.
        fc200 = out["item_ids"]["FC-200"]
        insert_batches(
            conn,
            [
                (20, "sap", "stock", "loaded"),
                (21, "sap", "goods_movements", "loaded"),
                (22, "sap", "material_master", "loaded"),
                (23, "sap", "master_audit", "loaded"),
            ],
        )
        insert_rows(
            conn,
            "sap_stock",
            batch(
                20,
                STOCK,
                ("20240304", M200, "1000", "0001", "15", "", "KG"),
                ("20240304", M300, "1000", "0001", "6", "", "ST"),
            ),
        )
        insert_rows(
            conn,
            "sap_goods_movements",
            batch(
                21,
                MOVES,
                ("4900000005", "1", "601", M200, "1000", "0001", "20240303", "7", "KG", "H"),
            ),
        )
        insert_rows(
            conn,
            "sap_material_master",
            batch(
                22,
                MM,
                (M200, "1000", "Steel sheet", "002", "KG", "FC-200", "", "12", "120", "250", ""),
                # FC-100's lead time (plant 1000, the item-level record) 5 -> 7 days.
                (M100, "1000", "Widget", "001", "ST", "FC-100", "4000000000017", "7", "20", "30", ""),
            ),
        )
        insert_rows(
            conn,
            "sap_master_audit",
            batch(23, AUDIT, ("0000012400", M100, "1000", "20240305", "PLIFZ", "5", "7", "PLANNER7")),
        )
        conn.execute("update raw.raw_data_batches set status = 'superseded' where id = 15")
        # A marker outside the window: the windowed run must leave it alone.
        marker = (
            " unified.inventory_snapshots where item_id = %s and location_id = 'sap:1000'"
            " and snapshot_date = date '2024-03-01'"
        )
        conn.execute(
            "update unified.inventory_snapshots set on_hand = on_hand + 1000"
            " where (item_id, location_id, snapshot_date) in"
            f" (select item_id, location_id, snapshot_date from {marker})",
            [fc200],
        )
        # The whole project, as the Dagster asset runs it for a partition window.
        out["incremental"] = _dbt(work_dir, "build", "--vars", json.dumps(WINDOW))
        assert out["incremental"].success, out["incremental"].problems()
        out["marker_after_incremental"] = fetch(conn, f"select on_hand from {marker}", fc200)
        out["stamps_after_incremental"] = fetch(
            conn,
            "select loaded_at = max(loaded_at) over () as this_run, min(snapshot_date) as first,"
            " max(snapshot_date) as last from unified.inventory_snapshots group by loaded_at",
        )
        conn.execute(
            "update unified.inventory_snapshots set on_hand = on_hand - 1000"
            " where (item_id, location_id, snapshot_date) in"
            f" (select item_id, location_id, snapshot_date from {marker})",
            [fc200],
        )
        out["after_incremental"] = _capture(conn)
        out["snapshot_after_incremental"] = fetch(
            conn, "select * from unified.item_master_snapshot order by sku, dbt_valid_from"
        )
        out["items_after_incremental"] = fetch(conn, "select * from unified.manufacturing_items")
        out["history_after_incremental"] = fetch(
            conn, "select * from unified.item_master_history order by sku, attribute, changed_on"
        )

        out["staged_after_incremental"] = _capture_staged(conn)
        out["staged_batches"] = fetch(
            conn, "select model, batch_id from staging.staged_batches order by model, batch_id"
        )

        # 3. Full refresh of the incremental models over the same data.
        out["full_refresh"] = _dbt(
            work_dir,
            "build",
            "--full-refresh",
            "--select",
            *BATCH_INCREMENTAL_STAGING,
            "inventory_snapshots",
            "demand_history",
        )
        assert out["full_refresh"].success, out["full_refresh"].problems()
        out["after_full_refresh"] = _capture(conn)
        out["staged_after_full_refresh"] = _capture_staged(conn)
    yield out


# --------------------------------------------------------------------------- helpers


def _rows(warehouse: dict[str, Any], table: str, **where: Any) -> list[dict[str, Any]]:
    return [r for r in warehouse["tables"][table] if all(r[k] == v for k, v in where.items())]


def _series(rows: list[dict[str, Any]], date_col: str, value_col: str) -> dict[dt.date, Any]:
    return {r[date_col]: r[value_col] for r in sorted(rows, key=lambda r: r[date_col])}


# --------------------------------------------------------------------------- project files


def _load_generator():
    path = DBT_PROJECT / "scripts" / "generate_sources.py"
    spec = importlib.util.spec_from_file_location("forgecast_generate_sources", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_sources_yml_is_generated_from_registry() -> None:
    generator = _load_generator()
    committed = (DBT_PROJECT / "models" / "staging" / "_sources.yml").read_text()
    assert committed == generator.render(), (
        "models/staging/_sources.yml is stale: run .venv/bin/python dbt_project/scripts/generate_sources.py"
    )


def test_every_raw_table_has_a_staging_model() -> None:
    staging = DBT_PROJECT / "models" / "staging"
    missing = [
        e.raw_table for e in EXPORT_TYPES if not (staging / f"stg_{e.source_system}__{e.entity}.sql").exists()
    ]
    assert missing == []


def test_gitignore_keeps_dbt_artefacts_out() -> None:
    ignored = (DBT_PROJECT / ".gitignore").read_text().split()
    assert {"target/", "logs/"} <= set(ignored)


# --------------------------------------------------------------------------- dbt build


def test_build_passes_with_expected_warnings(warehouse) -> None:
    build = warehouse["build"]
    assert build.with_status("error", "fail", "skipped") == []
    # The material without any match, the unknown ids and the stale crossref entry are
    # reported, not fatal; nothing else warns.
    warned = {uid.split(".")[2] for uid in build.with_status("warn")}
    assert warned == {
        "assert_erp_records_map_to_items",
        "assert_source_rows_map_to_items",
        "assert_item_crossref_entries_apply",
    }
    tests = [uid for uid in build.statuses if uid.startswith("test.")]
    assert len(tests) > 50
    for name in (
        "assert_external_ids_map_to_one_item",
        "assert_item_identity_has_no_conflicts",
        "assert_demand_history_has_no_date_gaps",
        "on_hand_within_tolerance_inventory_snapshots_on_hand",
        "written_inside_partition_window_inventory_snapshots_snapshot_date",
    ):
        assert any(name in uid for uid in tests), name
    assert build.statuses["snapshot.forgecast.item_master_snapshot"] == "success"
    assert build.statuses["seed.forgecast.item_crossref"] == "success"


def test_items_are_unified_across_erps(warehouse) -> None:
    items = {r["sku"]: r for r in warehouse["tables"]["manufacturing_items"]}
    assert set(items) == {"FC-100", "FC-200", "FC-300", "FC-400", "FC-450"}  # not M900
    assert items["FC-100"]["source_systems"] == "odoo,sap"  # same SKU (and EAN)
    assert items["FC-200"]["source_systems"] == "odoo,sap"  # crossref for Odoo 13
    assert items["FC-300"]["source_systems"] == "odoo,sap"  # EAN for SAP 300300
    assert items["FC-400"]["source_systems"] == "odoo"  # the shared EAN did not merge it
    assert items["FC-450"]["source_systems"] == "sap"
    assert items["FC-400"]["status"] == "discontinued"
    assert {items[s]["status"] for s in ("FC-100", "FC-200", "FC-300", "FC-450")} == {"active"}


def test_identity_rules_and_crossref(warehouse) -> None:
    rules = {
        (r["source_system"], r["external_id"]): (r["sku"], r["match_rule"])
        for r in warehouse["tables"]["item_external_ids"]
    }
    assert rules == {
        ("sap", M100): ("FC-100", "ean+sku"),
        ("odoo", "7"): ("FC-100", "ean+sku"),
        ("acct", "FC-100"): ("FC-100", "sku"),
        ("sap", M200): ("FC-200", "sku"),
        ("odoo", "13"): ("FC-200", "crossref"),
        ("acct", "FC-200"): ("FC-200", "sku"),
        # No BISMT: the GTIN-14 0400...24 is Odoo 9's EAN-13 400...24.
        ("sap", M300): ("FC-300", "ean"),
        ("odoo", "9"): ("FC-300", "sku"),
        # BISMT said FC-450, the EAN said FC-400 (and the reverse for Odoo 11): the
        # crossref entries decide, the rules alone would have left both out.
        ("sap", M450): ("FC-450", "crossref"),
        ("odoo", "11"): ("FC-400", "crossref"),
    }


def test_cross_erp_item_takes_sap_lowest_plant_and_latest_batch(warehouse) -> None:
    fc100 = next(r for r in warehouse["tables"]["manufacturing_items"] if r["sku"] == "FC-100")
    assert fc100["name"] == "Widget"  # SAP before Odoo
    assert fc100["lead_time_days"] == 5  # plant 1000, not plant 2000's 9
    assert fc100["safety_stock"] == Decimal("20")  # batch 2 beat batch 1's 10
    assert fc100["reorder_point"] == Decimal("30")
    assert fc100["uom"] == "EA"  # SAP ST
    assert fc100["unit_cost"] == Decimal("13.10")  # latest valuation
    assert fc100["currency"] == "EUR"
    # FC-300's SAP record (matched by EAN) supplies its attributes now; no valuation.
    fc300 = next(r for r in warehouse["tables"]["manufacturing_items"] if r["sku"] == "FC-300")
    assert (fc300["uom"], fc300["category"], fc300["lead_time_days"], fc300["unit_cost"]) == (
        "EA", "004", 6, None)
    fc400 = next(r for r in warehouse["tables"]["manufacturing_items"] if r["sku"] == "FC-400")
    assert (fc400["uom"], fc400["category"]) == ("KG", "Components")  # Odoo only


def test_item_ids_are_deterministic_uuids(warehouse) -> None:
    import hashlib
    import uuid

    for sku, item_id in warehouse["item_ids"].items():
        expected = uuid.UUID(hashlib.md5(f"forgecast:item:{sku}".encode()).hexdigest())
        assert item_id == expected


def test_cross_erp_item_has_one_item_and_its_external_ids(warehouse) -> None:
    fc100 = warehouse["item_ids"]["FC-100"]
    ids = {
        (r["source_system"], r["external_id"]) for r in _rows(warehouse, "item_external_ids", item_id=fc100)
    }
    assert ids == {("sap", M100), ("odoo", "7"), ("acct", "FC-100")}
    all_ids = warehouse["tables"]["item_external_ids"]
    assert len(all_ids) == len({(r["source_system"], r["external_id"]) for r in all_ids})
    # Unknown SKU in accounting, the material without any match and the stale crossref
    # entry are not mapped.
    assert not [r for r in all_ids if r["external_id"] in ("FC-999", M900, "000000000000999999")]
    assert len(all_ids) == 10


def test_staging_keeps_latest_loaded_batch(warehouse) -> None:
    rows = [
        r
        for r in warehouse["staging_material_master"]
        if (r["material_number"], r["plant"]) == (M100, "1000")
    ]
    assert len(rows) == 1
    assert rows[0]["batch_id"] == 2
    assert rows[0]["safety_stock"] == Decimal("20")


def test_inventory_carries_forward_missing_day(warehouse) -> None:
    fc100 = warehouse["item_ids"]["FC-100"]
    sap = _rows(warehouse, "inventory_snapshots", item_id=fc100, location_id="sap:1000")
    # Storage locations summed; the superseded 9999 is ignored; 03-03 repeats 03-02.
    assert _series(sap, "snapshot_date", "on_hand") == {
        D(2024, 3, 1): 50,
        D(2024, 3, 2): 45,
        D(2024, 3, 3): 45,
        D(2024, 3, 4): 42,
        D(2024, 3, 5): 40,
    }
    assert _series(sap, "snapshot_date", "is_carried_forward") == {
        D(2024, 3, 1): False,
        D(2024, 3, 2): False,
        D(2024, 3, 3): True,
        D(2024, 3, 4): False,
        D(2024, 3, 5): False,
    }
    # Open PO 4500000002 (30 EA) expected 03-04 is on order before that day.
    assert _series(sap, "snapshot_date", "on_order") == {
        D(2024, 3, 1): 30,
        D(2024, 3, 2): 30,
        D(2024, 3, 3): 30,
        D(2024, 3, 4): 0,
        D(2024, 3, 5): 0,
    }
    assert {r["allocated"] for r in sap} == {0}

    odoo = _rows(warehouse, "inventory_snapshots", item_id=fc100, location_id="odoo:WH/Stock")
    day3 = next(r for r in odoo if r["snapshot_date"] == D(2024, 3, 3))
    assert (day3["on_hand"], day3["allocated"], day3["is_carried_forward"]) == (20, 5, True)


def test_inventory_ignores_rejected_batch_and_unknown_items(warehouse) -> None:
    fc300 = warehouse["item_ids"]["FC-300"]
    odoo = _rows(warehouse, "inventory_snapshots", item_id=fc300, location_id="odoo:WH/Stock")
    assert _series(odoo, "snapshot_date", "on_hand")[D(2024, 3, 1)] == 10  # not 999
    assert {r["on_order"] for r in odoo} == {50}  # assigned receipt WH/IN/00002 on 03-08
    items = set(warehouse["item_ids"].values())
    assert {r["item_id"] for r in warehouse["tables"]["inventory_snapshots"]} <= items
    assert len({r["location_id"] for r in warehouse["tables"]["inventory_snapshots"]}) == 3


def test_demand_is_zero_filled(warehouse) -> None:
    ids = warehouse["item_ids"]
    sap = _rows(warehouse, "demand_history", item_id=ids["FC-100"], location_id="sap:1000")
    assert _series(sap, "demand_date", "quantity") == {
        D(2024, 3, 1): 0,
        D(2024, 3, 2): 5,
        D(2024, 3, 3): 0,
        D(2024, 3, 4): 4,
        D(2024, 3, 5): 0,
    }
    odoo = _rows(warehouse, "demand_history", item_id=ids["FC-300"], location_id="odoo:WH/Stock")
    # The receipt (104) is not demand; move 105 is 03-05 in UTC.
    assert _series(odoo, "demand_date", "quantity") == {
        D(2024, 3, 1): 0,
        D(2024, 3, 2): 4,
        D(2024, 3, 3): 0,
        D(2024, 3, 4): 0,
        D(2024, 3, 5): 1,
    }
    assert _series(odoo, "demand_date", "is_stockout")[D(2024, 3, 4)] is True
    production = _rows(warehouse, "demand_history", item_id=ids["FC-100"], location_id="odoo:WH/Stock")
    assert _series(production, "demand_date", "quantity")[D(2024, 3, 3)] == 2
    fc200 = _rows(warehouse, "demand_history", item_id=ids["FC-200"], location_id="sap:1000")
    assert [d for d, s in _series(fc200, "demand_date", "is_stockout").items() if s] == [D(2024, 3, 4)]
    # The single-day second location is zero-filled to Odoo's last day.
    quality = _rows(warehouse, "demand_history", item_id=ids["FC-300"], location_id="odoo:WH/Quality")
    assert sorted(r["demand_date"] for r in quality) == [D(2024, 3, d) for d in (3, 4, 5)]


def test_open_supply(warehouse) -> None:
    supply = {r["reference"]: r for r in warehouse["tables"]["open_supply"]}
    assert set(supply) == {"4500000001/10", "4500000002/10", "WH/IN/00002"}
    assert supply["4500000001/10"]["quantity"] == 60
    assert supply["4500000001/10"]["supply_type"] == "purchase"
    assert supply["WH/IN/00002"]["supply_type"] == "purchase"  # from a vendor
    assert all(r["is_firm"] and r["start_date"] is None for r in supply.values())
    assert supply["WH/IN/00002"]["location_id"] == "odoo:WH/Stock"
    assert supply["WH/IN/00002"]["expected_date"] == D(2024, 3, 8)


def test_processes_in_minutes(warehouse) -> None:
    processes = warehouse["tables"]["manufacturing_processes"]
    assert len(processes) == 4
    assemble = next(r for r in processes if r["work_center"] == "ASM-01")
    assert (assemble["sequence"], assemble["setup_minutes"], assemble["run_minutes_per_unit"]) == (20, 30, 6)
    packing = next(r for r in processes if r["work_center"] == "Packing")
    assert packing["setup_minutes"] == 0


# --------------------------------------------------------------------------- incremental


def test_incremental_window_applies_new_batches(warehouse) -> None:
    assert warehouse["incremental"].with_status("error", "fail", "skipped") == []
    warned = {uid.split(".")[2] for uid in warehouse["incremental"].with_status("warn")}
    assert "written_inside_partition_window_inventory_snapshots_snapshot_date" not in warned
    fc200 = warehouse["item_ids"]["FC-200"]
    inv = [r for r in warehouse["after_incremental"]["inventory_snapshots"] if r["item_id"] == fc200]
    day4 = next(r for r in inv if r["snapshot_date"] == D(2024, 3, 4))
    assert (day4["on_hand"], day4["is_carried_forward"]) == (15, False)
    demand = [r for r in warehouse["after_incremental"]["demand_history"] if r["item_id"] == fc200]
    assert _series(demand, "demand_date", "quantity")[D(2024, 3, 3)] == 7
    assert not any(_series(demand, "demand_date", "is_stockout").values())
    # Rows of the superseded batch vanish from the window, not only updated keys.
    for table in ("inventory_snapshots", "demand_history"):
        assert not [r for r in warehouse["after_incremental"][table] if r["location_id"] == "odoo:WH/Quality"]


def test_writing_outside_the_partition_window_is_caught(warehouse) -> None:
    name = "written_inside_partition_window_window_breaker_day"

    def status(run: str) -> str:
        return next(s for uid, s in warehouse[run].statuses.items() if f".{name}." in uid)

    assert status("build") == "pass"  # a new table holds all history
    assert status("incremental") == "warn"  # appended 03-01 and 03-02 outside the window


def test_incremental_window_leaves_other_days_alone(warehouse) -> None:
    # The marker added on 2024-03-01 (outside the window) survived the windowed run.
    assert warehouse["marker_after_incremental"] == [{"on_hand": Decimal("1500")}]
    # loaded_at tells the rows this run wrote (inside the window) from the others.
    # (03-02: the bridge of FC-300's gap, see the next test.)
    stamps = {r["this_run"]: (r["first"], r["last"]) for r in warehouse["stamps_after_incremental"]}
    assert stamps[True] == (D(2024, 3, 2), D(2024, 3, 5))
    assert stamps[False] == (D(2024, 3, 1), D(2024, 3, 2))


def test_export_gap_ending_in_the_window_is_bridged(warehouse) -> None:
    # FC-300's SAP stock: 0 on 03-01, next export 03-04 (incremental batch, window from
    # 03-03). The carried-forward 03-02 lies before the window yet only exists now.
    fc300 = warehouse["item_ids"]["FC-300"]
    before = _rows(warehouse, "inventory_snapshots", item_id=fc300, location_id="sap:1000")
    assert _series(before, "snapshot_date", "on_hand") == {D(2024, 3, 1): 0}
    after = [r for r in warehouse["after_incremental"]["inventory_snapshots"]
             if r["item_id"] == fc300 and r["location_id"] == "sap:1000"]
    assert _series(after, "snapshot_date", "on_hand") == {
        D(2024, 3, 1): 0, D(2024, 3, 2): 0, D(2024, 3, 3): 0, D(2024, 3, 4): 6,
    }
    assert [d for d, c in _series(after, "snapshot_date", "is_carried_forward").items() if c] == [
        D(2024, 3, 2), D(2024, 3, 3),
    ]
    # demand_history's stockout flag follows the bridged stock, before the window too.
    demand = [r for r in warehouse["after_incremental"]["demand_history"]
              if r["item_id"] == fc300 and r["location_id"] == "sap:1000"]
    assert [d for d, s in _series(demand, "demand_date", "is_stockout").items() if s] == [
        D(2024, 3, 1), D(2024, 3, 2), D(2024, 3, 3),
    ]
    # written_inside_partition_window allows the bridge (and only flagged the fixture).
    flagged = [uid for uid in warehouse["incremental"].with_status("warn", "fail", "error")
               if "written_inside_partition" in uid]
    assert len(flagged) == 1 and "window_breaker" in flagged[0]


def test_incremental_equals_full_refresh(warehouse) -> None:
    assert warehouse["after_incremental"] == warehouse["after_full_refresh"]
    assert warehouse["after_incremental"] != warehouse["initial"]


def test_batch_incremental_staging_equals_restaging_everything(warehouse) -> None:
    # The incremental build staged only the new batches (20, 21) and restaged the quants
    # when batch 15 was superseded; a full refresh from all loaded batches agrees.
    assert warehouse["staged_after_incremental"] == warehouse["staged_after_full_refresh"]
    staged = {(r["model"], r["batch_id"]) for r in warehouse["staged_batches"]}
    assert ("stg_sap__stock", 20) in staged and ("stg_sap__goods_movements", 21) in staged
    assert not any(batch == 15 for _, batch in staged)  # superseded: no longer recorded
    quant_days = {r["snapshot_date"] for r in warehouse["staged_after_incremental"]["stg_odoo__stock_quants"]
                  if r["location"] == "WH/Quality"}
    assert D(2024, 3, 3) not in quant_days  # the superseded batch's row vanished


def test_snapshot_records_changed_planning_parameters(warehouse) -> None:
    versions = [r for r in warehouse["snapshot_after_incremental"] if r["sku"] == "FC-200"]
    assert [v["safety_stock"] for v in versions] == [Decimal("100"), Decimal("120")]
    assert versions[0]["dbt_valid_to"] is not None and versions[1]["dbt_valid_to"] is None
    unchanged = [r for r in warehouse["snapshot_after_incremental"] if r["sku"] == "FC-300"]
    assert len(unchanged) == 1


def test_lead_time_change_adds_history_row_and_changes_current_row(warehouse) -> None:
    def fc100(rows):
        return [r for r in rows if r["sku"] == "FC-100"]

    assert fc100(warehouse["tables"]["manufacturing_items"])[0]["lead_time_days"] == 5
    assert fc100(warehouse["items_after_incremental"])[0]["lead_time_days"] == 7
    versions = fc100(warehouse["snapshot_after_incremental"])
    assert [(v["lead_time_days"], v["dbt_valid_to"] is None) for v in versions] == [(5, False), (7, True)]

    def changes(rows):
        return {
            (r["attribute"], r["location_id"], r["old_value"], r["new_value"], r["changed_by"],
             r["evidence"], r["is_item_level"])
            for r in fc100(rows)
        }

    documents_only = {
        # Before dbt recorded anything: the change documents alone.
        ("safety_stock", "sap:1000", 10, 20, "MUELLER", "audit", True),
        # Plant 2000 does not supply FC-100's item-level values.
        ("lead_time_days", "sap:2000", 8, 9, "MUELLER", "audit", False),
    }
    assert changes(warehouse["tables"]["item_master_history"]) == documents_only
    # The new version, explained by its change document (who, when).
    assert changes(warehouse["history_after_incremental"]) == documents_only | {
        ("lead_time_days", "sap:1000", 5, 7, "PLANNER7", "snapshot+audit", True),
    }
    row = next(r for r in fc100(warehouse["history_after_incremental"]) if r["changed_by"] == "PLANNER7")
    assert (row["changed_on"], row["change_number"]) == (D(2024, 3, 5), "0000012400")
    assert row["detected_at"] == versions[1]["dbt_valid_from"]
    # A change without a document (FC-200's safety stock) has no author.
    fc200 = [r for r in warehouse["history_after_incremental"] if r["sku"] == "FC-200"]
    assert [
        (r["attribute"], r["old_value"], r["new_value"], r["evidence"], r["changed_by"]) for r in fc200
    ] == [("safety_stock", 100, 120, "snapshot", None)]
