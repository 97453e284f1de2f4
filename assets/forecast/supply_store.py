"""Warehouse reads and writes of the supply plan (psycopg 3, no Dagster): the open supply
and scheduled issues recorded per as-of day, the bills of materials and planning data the
explosion reads, the projection and dependent demand it writes, and the BOM check.

Item ids are uuid in the warehouse and ``str`` in Python, as in store.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from resources.frames import copy_in, read_frame

PROJECTION_COLUMNS = ["forecast_date", "item_id", "location_id", "target_date",
                      "projected_on_hand", "projected_on_hand_p80", "cumulative_demand",
                      "cumulative_supply", "projected_on_hand_planned",
                      "cumulative_supply_planned", "cumulative_open_demand",
                      "cumulative_dependent_demand", "run_id"]
DEPENDENT_COLUMNS = ["forecast_date", "item_id", "location_id", "required_date", "quantity",
                     "parent_item_id", "bom_level", "peg_type", "peg_reference", "peg_date",
                     "run_id"]

# The open supply and scheduled issues of unified, recorded as the supply of one as-of day.
RECORD_SUPPLY_SQL = """
insert into forecast.supply_snapshots (forecast_date, flow, line_id, item_id, location_id,
    due_date, start_date, quantity, supply_type, is_firm, reference)
select %(d)s, 'receipt', supply_id, item_id, location_id, expected_date, start_date,
       quantity, supply_type, is_firm, reference
from unified.open_supply
union all
select %(d)s, 'issue', demand_id, item_id, location_id, required_date, null, quantity,
       demand_type, true, reference
from unified.open_demand"""


def supply_as_of(conn, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(open supply, scheduled issues) the projection as of ``as_of`` uses.

    The newest day, or a day never projected, takes today's orders and records them; an
    older day projected before (a backfill re-run) reads what it was projected with, so the
    orders delivered since do not vanish from its past and later orders do not appear."""
    newest, recorded = conn.execute(
        "select max(forecast_date), bool_or(forecast_date = %s) "
        "from forecast.supply_snapshots", (as_of,)).fetchone()
    if newest is None or as_of >= newest or not recorded:
        conn.execute("delete from forecast.supply_snapshots where forecast_date = %s", (as_of,))
        conn.execute(RECORD_SUPPLY_SQL, {"d": as_of})
    lines = read_frame(conn, "select flow, item_id, location_id, due_date, start_date, "
                             "quantity::float8 as quantity, supply_type, is_firm, reference "
                             "from forecast.supply_snapshots where forecast_date = %s "
                             "order by due_date, reference", (as_of,))
    receipts = lines[lines["flow"] == "receipt"].rename(columns={"due_date": "expected_date"})
    issues = lines[lines["flow"] == "issue"].rename(columns={"due_date": "required_date"})
    return (receipts.drop(columns="flow").reset_index(drop=True),
            issues.drop(columns=["flow", "start_date"]).reset_index(drop=True))


def bills_of_materials(conn, as_of: date) -> pd.DataFrame:
    """BOM lines still valid after ``as_of`` (validity is checked per due day later)."""
    return read_frame(conn, "select parent_item_id, component_item_id, location_id, "
                            "valid_from, valid_to, quantity_per::float8 as quantity_per "
                            "from unified.bill_of_materials "
                            "where valid_to is null or valid_to > %s", (as_of,))


def planning_items(conn) -> pd.DataFrame:
    return read_frame(conn, "select item_id, coalesce(lead_time_days, 0) as lead_time_days, "
                            "make_to_order from unified.manufacturing_items")


# What the BOMs say production consumed (production orders started in the window, their
# order quantity times the BOM lines valid then) beside what it actually consumed (261 / Odoo moves to
# production), per component-location: the check that the BOMs are right.
BOM_BIAS_SQL = """
with exploded as (
    select b.component_item_id as item_id, b.location_id,
           sum(p.order_quantity * b.quantity_per)::float8 as exploded
    from unified.production_history p
    join unified.bill_of_materials b
      on b.parent_item_id = p.item_id and b.location_id = p.location_id
     and p.start_date >= b.valid_from and (b.valid_to is null or p.start_date <= b.valid_to)
    where p.start_date > %(start)s and p.start_date <= %(as_of)s
    group by 1, 2
), components as (
    select distinct component_item_id as item_id, location_id from unified.bill_of_materials
), actual as (
    select d.item_id, d.location_id, sum(d.consumption_quantity)::float8 as consumed
    from unified.demand_history d join components c using (item_id, location_id)
    where d.demand_date > %(start)s and d.demand_date <= %(as_of)s
    group by 1, 2
)
select i.sku, location_id, coalesce(e.exploded, 0) as exploded,
       coalesce(a.consumed, 0) as consumed
from exploded e full join actual a using (item_id, location_id)
join unified.manufacturing_items i on i.item_id = coalesce(e.item_id, a.item_id)
order by abs(coalesce(e.exploded, 0) - coalesce(a.consumed, 0)) desc, i.sku, location_id"""


def bom_consumption_bias(conn, as_of: date, days: int = 90) -> pd.DataFrame:
    """sku, location_id, exploded, consumed over the ``days`` before ``as_of``."""
    return read_frame(conn, BOM_BIAS_SQL, {"start": as_of - timedelta(days=days),
                                           "as_of": as_of})


def dependent_demand_of(conn, as_of: date, items: set[str]) -> pd.DataFrame:
    """The dependent demand stored so far for ``items`` as of ``as_of``, per day: what
    the levels above handed down (the supply plan writes it batch by batch)."""
    return read_frame(conn, "select item_id, location_id, required_date, sum(quantity) "
                            "as quantity from forecast.dependent_demand "
                            "where forecast_date = %s and item_id = any(%s::uuid[]) "
                            "group by 1, 2, 3", (as_of, list(items)))


def dependent_summary(conn, as_of: date) -> dict:
    """What the supply plan wrote to forecast.dependent_demand as of ``as_of``: rows,
    components, rows per peg type, the deepest BOM level, and the ten components with the
    most dependent demand (sku, location_id, quantity)."""
    rows, components, levels = conn.execute(
        "select count(*), count(distinct (item_id, location_id)), coalesce(max(bom_level), 0) "
        "from forecast.dependent_demand where forecast_date = %s", (as_of,)).fetchone()
    by_peg = dict(conn.execute(
        "select peg_type, count(*) from forecast.dependent_demand where forecast_date = %s "
        "group by 1 order by 1", (as_of,)).fetchall())
    top = read_frame(conn, """
        select i.sku, d.location_id, sum(d.quantity) as quantity
        from forecast.dependent_demand d join unified.manufacturing_items i using (item_id)
        where d.forecast_date = %s
        group by 1, 2 order by 3 desc, 1, 2 limit 10""", (as_of,))
    return {"rows": rows, "components": components, "by_peg": by_peg, "bom_levels": levels,
            "top": top}


def clear_projection(conn, as_of: date) -> None:
    """Derived data: this as-of date's projection and dependent demand are replaced
    wholesale (in the caller's transaction, batch after batch)."""
    conn.execute("delete from forecast.projected_inventory where forecast_date = %s", (as_of,))
    conn.execute("delete from forecast.dependent_demand where forecast_date = %s", (as_of,))


def append_projection(conn, frame: pd.DataFrame, dependent: pd.DataFrame) -> int:
    copy_in(conn, "forecast.dependent_demand", dependent, DEPENDENT_COLUMNS)
    return copy_in(conn, "forecast.projected_inventory", frame, PROJECTION_COLUMNS)


