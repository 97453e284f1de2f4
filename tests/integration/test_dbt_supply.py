"""The supply side of the dbt project on hand-made raw data, on an empty database of its
own: open supply and open demand from every order type, bills of materials with their
units and scrap, the split of demand history, and the two BOM tests (a cycle blocks the
build naming its SKUs; a unit that does not convert is only reported).

One module-scoped fixture runs ``dbt build`` twice: on the data below (passes, with the
unit warning), then with a batch of BOM lines that close two cycles (fails). Tables are
captured after the first build, so the tests only read Python data.

Items (SAP plant 1000 unless said): FG-1 (also at 2000) is made from SUB-1 and PACK-1;
SUB-1 from RAW-1 (kg, its BOM in g) and PACK-1 (a line in kg: does not convert); Odoo
product 21 (FG-O) is made from product 22 (COMP-O).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
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

from resources.warehouse import DBT_PROJECT_DIR

D = dt.date
FG1, SUB1, RAW1, PACK1, CYCA, CYCB = (f"{n:018d}" for n in (101, 201, 301, 401, 501, 502))

BATCHES = [
    (1, "sap", "material_master", "loaded"), (2, "sap", "production_orders", "loaded"),
    (3, "sap", "planned_orders", "loaded"), (4, "sap", "stock_transport_orders", "loaded"),
    (5, "sap", "purchase_orders", "loaded"), (6, "sap", "bom", "loaded"),
    (7, "sap", "goods_movements", "loaded"), (8, "odoo", "products", "loaded"),
    (9, "odoo", "manufacturing_orders", "loaded"), (10, "odoo", "stock_moves", "loaded"),
    (11, "odoo", "boms", "loaded"), (12, "odoo", "bom_lines", "loaded"),
]
MM = "matnr werks maktx matkl meins bismt plifz eisbe minbe strgr"
BOM = "matnr werks stlan stlal posnr idnrk menge bmeng meins ausch datuv datub"
MOVES = "mblnr zeile bwart matnr werks lgort budat menge meins shkzg"
ODOO_MOVES = "id product_id date product_uom_qty location_id location_dest_id state reference"
STO = "ebeln ebelp bsart matnr werks reswk eindt menge wemng meins"
MO = "name product_id product_qty qty_produced date_start date_finished state location_dest_id"

# fmt: off
ROWS: dict[str, RawRows] = {
    "sap_material_master": batch(1, MM,
        (FG1, "1000", "Pump", "FG", "ST", "FG-1", "5", "0", "0", "20"),  # make-to-order
        (FG1, "2000", "Pump", "FG", "ST", "FG-1", "5", "0", "0", ""),
        (SUB1, "1000", "Motor", "SUB", "ST", "SUB-1", "3", "0", "0", "40"),
        (RAW1, "1000", "Steel", "RAW", "KG", "RAW-1", "10", "0", "0", ""),
        (PACK1, "1000", "Box", "PACK", "ST", "PACK-1", "2", "0", "0", ""),
        (CYCA, "1000", "Cycle A", "SUB", "ST", "CYC-A", "2", "0", "0", ""),
        (CYCB, "1000", "Cycle B", "SUB", "ST", "CYC-B", "2", "0", "0", ""),
    ),
    "sap_production_orders": batch(2, "aufnr matnr werks psmng wemng gstrs gltrs sttxt meins",
        ("1000001", FG1, "1000", "100", "30", "20240310", "20240315", "REL", "ST"),
        ("1000002", FG1, "1000", "50", "60", "20240310", "20240315", "REL PCNF", "ST"),  # over
        ("1000003", FG1, "1000", "100", "0", "20240310", "20240315", "REL TECO", "ST"),
        ("1000004", FG1, "1000", "20", "", "20240320", "20240322", "CRTD", "ST"),
        ("1000005", FG1, "1000", "40", "10", "20240301", "20240305", "REL PDLV", "ST"),  # late
        ("1000006", FG1, "1000", "40", "10", "20240301", "20240305", "DLV", "ST"),
    ),
    "sap_planned_orders": batch(3, "plnum matnr plwrk gsmng psttr pedtr auffx meins",
        ("5000001", SUB1, "1000", "200", "20240401", "20240405", "X", "ST"),
        ("5000002", SUB1, "1000", "80", "20240410", "20240415", "", "ST"),
    ),
    "sap_stock_transport_orders": batch(4, STO,
        ("4500009001", "10", "UB", FG1, "2000", "1000", "20240320", "40", "15", "ST"),
        ("4500009001", "20", "UB", FG1, "2000", "1000", "20240320", "40", "40", "ST"),  # done
        ("4500009002", "10", "NB", FG1, "2000", "1000", "20240320", "40", "0", "ST"),
    ),
    "sap_purchase_orders": batch(5, "ebeln ebelp matnr werks eindt menge wemng meins",
        ("4500000100", "10", RAW1, "1000", "20240318", "500", "100", "KG"),
        # The transport order's line again: a transfer, not a purchase.
        ("4500009001", "10", FG1, "2000", "20240320", "40", "15", "ST"),
    ),
    "sap_bom": batch(6, BOM,
        (FG1, "1000", "1", "01", "0010", SUB1, "20", "10", "ST", "5", "20240101", ""),
        (FG1, "1000", "1", "01", "0020", PACK1, "10", "10", "ST", "", "20240101", ""),
        (FG1, "1000", "1", "01", "0030", PACK1, "5", "10", "ST", "10", "20240101", ""),
        (FG1, "1000", "2", "01", "0010", RAW1, "1", "1", "KG", "", "20240101", ""),  # usage 2
        (FG1, "1000", "1", "02", "0010", RAW1, "1", "1", "KG", "", "20240101", ""),  # alt. 02
        (SUB1, "1000", "1", "01", "0010", RAW1, "500", "1", "G", "", "20240101", ""),
        (SUB1, "1000", "1", "01", "0020", PACK1, "2", "1", "KG", "", "20240101", ""),
    ),
    "sap_goods_movements": batch(7, MOVES,
        ("4900000001", "1", "261", SUB1, "1000", "0001", "20240305", "20", "ST", "H"),
        ("4900000001", "2", "601", SUB1, "1000", "0001", "20240305", "1", "ST", "H"),
        ("4900000002", "1", "601", FG1, "1000", "0001", "20240305", "5", "ST", "H"),
        ("4900000003", "1", "261", FG1, "2000", "0001", "20240305", "2", "ST", "H"),
        ("4900000004", "1", "261", RAW1, "1000", "0001", "20240305", "10", "KG", "H"),
    ),
    "odoo_products": batch(8, "id default_code name categ_id uom_id active produce_delay route_ids",
        ("21", "FG-O", "Kit", "All / Finished", "Units", "true", "3",
         "Manufacture, Replenish on Order (MTO)"),
        ("22", "COMP-O", "Resin", "All / Components", "kg", "true", "7", "Buy"),
    ),
    "odoo_manufacturing_orders": batch(9, MO,
        ("WH/MO/00001", "21", "10", "4", "2024-03-10T08:00:00", "2024-03-12T16:00:00", "confirmed",
         "WH/Stock"),
        ("WH/MO/00002", "21", "5", "", "2024-03-20T08:00:00", "2024-03-21T16:00:00", "draft",
         "WH/Stock"),
        ("WH/MO/00003", "21", "5", "5", "2024-03-01T08:00:00", "2024-03-02T16:00:00", "done",
         "WH/Stock"),
        ("WH/MO/00004", "21", "5", "0", "2024-03-01T08:00:00", "2024-03-02T16:00:00", "cancel",
         "WH/Stock"),
    ),
    "odoo_stock_moves": batch(10, ODOO_MOVES,
        # The receipt of WH/MO/00001: the order is the supply, not this move too.
        ("1", "21", "2024-03-12T16:00:00", "6", "Virtual Locations/Production", "WH/Stock",
         "assigned", "WH/MO/00001"),
        # A receipt from production whose order is not exported: it stands for the order.
        ("2", "21", "2024-03-14T16:00:00", "3", "Virtual Locations/Production", "WH/Stock",
         "assigned", "WH/MO/00099"),
        ("3", "22", "2024-03-16T10:00:00", "50", "Partners/Vendors", "WH/Stock", "assigned",
         "WH/IN/00005"),
        ("4", "22", "2024-03-05T10:00:00", "7", "WH/Stock", "Virtual Locations/Production", "done",
         "WH/MO/00003"),
        ("5", "22", "2024-03-05T11:00:00", "2", "WH/Stock", "Partners/Customers", "done",
         "WH/OUT/00001"),
        ("6", "21", "2024-03-05T12:00:00", "3", "WH/Stock", "Partners/Customers", "done",
         "WH/OUT/00002"),
    ),
    "odoo_boms": batch(11, "id product_id product_qty type active",
        ("1", "21", "2", "normal", "true"),
        ("2", "21", "1", "phantom", "true"),  # a kit: no production
    ),
    "odoo_bom_lines": batch(12, "id bom_id product_id product_qty product_uom_id",
        ("1", "1", "22", "3", "kg"),
        ("2", "1", "22", "500", "g"),  # the same component again, in grams
        ("3", "2", "22", "100", "kg"),
    ),
}
# fmt: on

# FG-1 needs SUB-1 needs RAW-1, which now needs FG-1; CYC-A and CYC-B need each other.
CYCLES = batch(20, BOM,
    (RAW1, "1000", "1", "01", "0010", FG1, "1", "1", "ST", "", "20240101", ""),
    (CYCA, "1000", "1", "01", "0010", CYCB, "1", "1", "ST", "", "20240101", ""),
    (CYCB, "1000", "1", "01", "0010", CYCA, "1", "1", "ST", "", "20240101", ""),
)
TABLES = ["manufacturing_items", "open_supply", "open_demand", "bill_of_materials",
          "demand_history"]


@pytest.fixture(scope="module")
def postgres(scratch_database: dict[str, str]) -> dict[str, str]:
    return scratch_database


@pytest.fixture(scope="module")
def built(postgres, tmp_path_factory) -> Iterator[dict[str, Any]]:
    work_dir = tmp_path_factory.mktemp("dbt-supply")
    out: dict[str, Any] = {}
    create_raw(server_of(postgres))
    with pytest.MonkeyPatch.context() as mp, psycopg.connect(postgres["uri"], autocommit=True) as conn:
        for name, value in profile_env(postgres).items():
            mp.setenv(name, value)
        insert_batches(conn, BATCHES)
        for table, rows in ROWS.items():
            insert_rows(conn, table, rows)
        out["build"] = run_dbt(DBT_PROJECT_DIR, work_dir, "build")
        assert out["build"].success, out["build"].problems()
        out["skus"] = {r["item_id"]: r["sku"]
                       for r in fetch(conn, "select * from unified.manufacturing_items")}
        out["tables"] = {t: fetch(conn, f"select * from unified.{t}") for t in TABLES}

        insert_batches(conn, [(20, "sap", "bom", "loaded")])
        insert_rows(conn, "sap_bom", CYCLES)
        out["cycle_build"] = run_dbt(DBT_PROJECT_DIR, work_dir, "build")
        yield out


def _by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_the_build_passes_and_reports_the_unit_that_does_not_convert(built) -> None:
    build: DbtRun = built["build"]
    assert build.with_status("error", "fail", "skipped") == []
    assert "assert_bom_lines_left_out" in build.names("warn")
    assert "Warning in test assert_bom_lines_left_out" in build.log
    assert "assert_bill_of_materials_has_no_cycles" in build.names("pass")
    assert {"positive_open_supply_quantity", "positive_open_demand_quantity"} <= build.names("pass")


def test_open_supply_counts_open_quantities_of_open_orders(built) -> None:
    supply = _by(built["tables"]["open_supply"], "reference")
    sap_production = {ref: (r["quantity"], r["supply_type"], r["is_firm"], r["start_date"],
                            r["expected_date"])
                      for ref, r in supply.items() if ref.startswith("10000")}
    assert sap_production == {
        "1000001": (70, "production", True, D(2024, 3, 10), D(2024, 3, 15)),
        "1000004": (20, "production", True, D(2024, 3, 20), D(2024, 3, 22)),  # CRTD
        "1000005": (30, "production", True, D(2024, 3, 1), D(2024, 3, 5)),  # late, PDLV
    }  # 1000002 delivered more than planned; TECO and DLV are closed
    assert {ref: (r["supply_type"], r["is_firm"], r["quantity"]) for ref, r in supply.items()
            if ref.startswith("5000")} == {"5000001": ("planned", True, 200),
                                           "5000002": ("planned", False, 80)}
    assert supply["4500000100/10"]["supply_type"] == "purchase"
    assert supply["4500000100/10"]["quantity"] == 400
    assert all(r["quantity"] > 0 for r in supply.values())


def test_odoo_orders_and_production_receipts_are_counted_once(built) -> None:
    supply = _by(built["tables"]["open_supply"], "reference")
    odoo = {ref: (r["supply_type"], r["is_firm"], r["quantity"], r["location_id"])
            for ref, r in supply.items() if r["source_system"] == "odoo"}
    assert odoo == {
        "WH/MO/00001": ("production", True, 6, "odoo:WH/Stock"),
        "WH/MO/00002": ("planned", False, 5, "odoo:WH/Stock"),
        "WH/MO/00099": ("production", True, 3, "odoo:WH/Stock"),  # no order: the move
        "WH/IN/00005": ("purchase", True, 50, "odoo:WH/Stock"),
    }
    assert supply["WH/MO/00001"]["expected_date"] == D(2024, 3, 12)
    assert supply["WH/MO/00001"]["start_date"] == D(2024, 3, 10)


def test_a_transport_order_is_supply_where_it_arrives_and_demand_where_it_leaves(built) -> None:
    transfers = [r for r in built["tables"]["open_supply"] if r["supply_type"] == "transfer"]
    assert [(r["reference"], r["location_id"], r["supplying_location_id"], r["quantity"],
             r["expected_date"], r["is_firm"]) for r in transfers] == [
        ("4500009001/10", "sap:2000", "sap:1000", 25, D(2024, 3, 20), True)]
    assert not [r for r in built["tables"]["open_supply"]
                if r["reference"] == "4500009001/10" and r["supply_type"] == "purchase"]
    demand = built["tables"]["open_demand"]
    assert [(r["reference"], r["location_id"], r["receiving_location_id"], r["quantity"],
             r["required_date"], r["demand_type"]) for r in demand] == [
        ("4500009001/10", "sap:1000", "sap:2000", 25, D(2024, 3, 20), "transfer")]
    assert demand[0]["item_id"] == transfers[0]["item_id"]


def test_bom_quantities_are_per_parent_unit_with_scrap_in_the_components_unit(built) -> None:
    skus = built["skus"]
    bom = {(skus[r["parent_item_id"]], skus[r["component_item_id"]]): r
           for r in built["tables"]["bill_of_materials"]}
    assert set(bom) == {("FG-1", "SUB-1"), ("FG-1", "PACK-1"), ("SUB-1", "RAW-1"),
                        ("FG-O", "COMP-O")}  # usage 2, alternative 02, the kit: not read
    fg_sub = bom[("FG-1", "SUB-1")]
    assert (fg_sub["quantity_per"], fg_sub["scrap_pct"]) == (Decimal("2.1"), 5)  # 20 / 10 * 1.05
    assert (fg_sub["location_id"], fg_sub["valid_from"], fg_sub["valid_to"]) == \
        ("sap:1000", D(2024, 1, 1), None)
    packs = bom[("FG-1", "PACK-1")]  # two positions: 10 / 10 + 5 / 10 * 1.1
    assert packs["quantity_per"] == Decimal("1.55")
    assert round(packs["scrap_pct"], 4) == Decimal("3.3333")
    assert packs["reference"] == f"{FG1}/0020, {FG1}/0030"
    steel = bom[("SUB-1", "RAW-1")]  # 500 G per motor = 0.5 KG
    assert (steel["quantity_per"], steel["component_uom"]) == (Decimal("0.5"), "KG")
    resin = bom[("FG-O", "COMP-O")]  # (3 kg + 500 g) per 2 kits
    assert (resin["quantity_per"], resin["location_id"], resin["valid_from"]) == \
        (Decimal("1.75"), "odoo:WH/Stock", D(1900, 1, 1))


def test_make_to_order_comes_from_the_strategy_group_or_the_odoo_route(built) -> None:
    items = {r["sku"]: r["make_to_order"] for r in built["tables"]["manufacturing_items"]}
    assert items == {"FG-1": True, "SUB-1": False, "RAW-1": False, "PACK-1": False,
                     "CYC-A": False, "CYC-B": False, "FG-O": True, "COMP-O": False}


def test_demand_history_splits_independent_demand_from_consumption(built) -> None:
    skus = built["skus"]
    day = {(skus[r["item_id"]], r["location_id"]):
           (r["quantity"], r["independent_quantity"], r["consumption_quantity"])
           for r in built["tables"]["demand_history"] if r["demand_date"] == D(2024, 3, 5)}
    assert day == {
        ("SUB-1", "sap:1000"): (1, 1, 20),  # a component: its consumption is exploded
        ("RAW-1", "sap:1000"): (0, 0, 10),
        ("FG-1", "sap:1000"): (5, 5, 0),
        ("FG-1", "sap:2000"): (2, 0, 2),  # no BOM at 2000 consumes it: all of it counts
        ("COMP-O", "odoo:WH/Stock"): (2, 2, 7),
        ("FG-O", "odoo:WH/Stock"): (3, 3, 0),
    }


def test_a_bom_cycle_stops_the_build_naming_its_skus(built) -> None:
    build: DbtRun = built["cycle_build"]
    assert not build.success
    assert "assert_bill_of_materials_has_no_cycles" in build.names("fail")
    assert "BOM cycle at sap:1000: FG-1, RAW-1, SUB-1" in build.log
    assert "BOM cycle at sap:1000: CYC-A, CYC-B" in build.log
    # Nothing downstream of the BOMs is built from them: demand history waits.
    assert "demand_history" in build.names("skipped")
