"""Warehouse reads of the quality gates (psycopg 3, no Dagster)."""

from __future__ import annotations

# Item-locations that sold something in the last 90 days of data but got no forecast
# as of the newest forecast date.
UNCOVERED_SQL = """
with as_of as (select max(forecast_date) as day from forecast.forecasts),
active as (
    select distinct d.item_id, d.location_id
    from unified.demand_history d
    join unified.manufacturing_items i on i.item_id = d.item_id
    cross join as_of
    where i.status = 'active' and d.quantity > 0
      and d.demand_date > as_of.day - 90 and d.demand_date <= as_of.day
)
select count(*) filter (where f.item_id is null), count(*)
from active a
cross join as_of
left join (select distinct item_id, location_id from forecast.forecasts
           where forecast_date = (select day from as_of) and is_current) f
  on f.item_id = a.item_id and f.location_id = a.location_id
"""

ALERT_SANITY_SQL = """
select
  count(*) filter (where a.status = 'open' and i.item_id is null) as unknown_items,
  count(*) filter (where a.status = 'open' and i.status = 'discontinued'
                   and a.alert_type = 'shortage') as discontinued,
  count(*) filter (where a.alert_type = 'shortage' and a.status = 'open'
                   and (a.details->>'order_by_date')::date > (a.details->>'stockout_date')::date)
    as order_after_stockout
from forecast.forecast_alerts a
left join unified.manufacturing_items i on i.item_id = a.item_id
"""


def forecast_coverage(conn) -> tuple[int, int]:
    """(active item-locations without a forecast, active item-locations)."""
    uncovered, active = conn.execute(UNCOVERED_SQL).fetchone()
    return uncovered, active


def alert_problems(conn) -> dict[str, int]:
    unknown, discontinued, order_after = conn.execute(ALERT_SANITY_SQL).fetchone()
    return {"open_alerts_for_unknown_items": unknown,
            "replenishment_alerts_for_discontinued_items": discontinued,
            "order_by_after_stockout": order_after}
