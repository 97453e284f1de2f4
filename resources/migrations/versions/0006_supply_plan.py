"""The supply side of the projection: firm and firm + planned paths, scheduled issues,
dependent demand with its pegging, and the supply each as-of day was projected with.

Revision ID: 0006
Revises: 0005

- ``forecast.projected_inventory`` keeps ``projected_on_hand`` as the firm path (what alerts
  read) and gains the firm + planned path beside it, and the cumulative scheduled issues
  (stock transport orders) and dependent demand (components consumed by parents'
  production) the day's stock is net of.
- ``forecast.dependent_demand``: one row per component x location x day x peg, the
  parent order or parent forecast the quantity comes from (MRP's pegging).
- ``forecast.forecast_alerts`` accepts the ``late_supply`` type.
- ``forecast.supply_snapshots``: the open supply and scheduled issues a projection as of a
  day used. A re-run of that day reads them again instead of today's orders, so a
  backfilled projection is the one the night saw.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


ALERT_TYPES = ("stockout", "below_safety_stock", "excess", "demand_anomaly",
               "accuracy_degraded")


def _alert_types(types: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{t}'" for t in types)
    op.execute("alter table forecast.forecast_alerts drop constraint forecast_alerts_alert_type_check")
    op.execute("alter table forecast.forecast_alerts add constraint forecast_alerts_alert_type_check "
               f"check (alert_type in ({listed}))")


def upgrade() -> None:
    _alert_types((*ALERT_TYPES, "late_supply"))
    op.execute("""
alter table forecast.projected_inventory
    add column projected_on_hand_planned double precision,
    add column cumulative_supply_planned double precision,
    add column cumulative_open_demand double precision not null default 0,
    add column cumulative_dependent_demand double precision not null default 0;

create table forecast.dependent_demand (
    forecast_date      date not null,
    item_id            uuid not null,
    location_id        text not null,
    required_date      date not null,
    quantity           double precision not null,
    parent_item_id     uuid not null,
    bom_level          integer not null,
    peg_type           text not null
                       check (peg_type in ('production', 'planned', 'net_requirement')),
    peg_reference      text not null,
    peg_date           date not null,
    run_id             text not null
);
create index dependent_demand_item on forecast.dependent_demand
    (forecast_date, item_id, location_id, required_date);

create table forecast.supply_snapshots (
    forecast_date         date not null,
    flow                  text not null check (flow in ('receipt', 'issue')),
    line_id               uuid not null,
    item_id               uuid not null,
    location_id           text not null,
    due_date              date,
    start_date            date,
    quantity              double precision not null,
    supply_type           text not null,
    is_firm               boolean not null,
    reference             text,
    primary key (forecast_date, flow, line_id)
);
""")


def downgrade() -> None:
    op.execute("delete from forecast.forecast_alerts where alert_type = 'late_supply'")
    _alert_types(ALERT_TYPES)
    op.execute("""
drop table forecast.supply_snapshots;
drop table forecast.dependent_demand;
alter table forecast.projected_inventory
    drop column projected_on_hand_planned,
    drop column cumulative_supply_planned,
    drop column cumulative_open_demand,
    drop column cumulative_dependent_demand;
""")
