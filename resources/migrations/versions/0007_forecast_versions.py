"""Forecasts made again for an as-of day supersede the earlier ones, which are kept.

Revision ID: 0007
Revises: 0006

``forecast.forecasts`` was unique per (as-of day, item, location, target day) and written
with ``on conflict do nothing``: a re-run, a backfill or a run after a new selection wrote
nothing and reported success. Now every run's rows stay, numbered per as-of day, item and
location (``version``: 1 is the first forecast made for that day, the one planners saw
and accuracy scores), and exactly one version is current (``is_current``: what the
projection, alerts and charts read). Existing rows become version 1, current.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
alter table forecast.forecasts
    add column version integer not null default 1,
    add column is_current boolean not null default true,
    drop constraint forecasts_forecast_date_item_id_location_id_target_date_key;
create unique index forecasts_version on forecast.forecasts
    (forecast_date, item_id, location_id, target_date, version);
create unique index forecasts_current on forecast.forecasts
    (forecast_date, item_id, location_id, target_date) where is_current;
""")


def downgrade() -> None:
    # Only the current versions fit the old key: the superseded ones are dropped.
    op.execute("""
delete from forecast.forecasts where not is_current;
drop index forecast.forecasts_current;
drop index forecast.forecasts_version;
alter table forecast.forecasts
    drop column is_current,
    drop column version,
    add constraint forecasts_forecast_date_item_id_location_id_target_date_key
        unique (forecast_date, item_id, location_id, target_date);
""")
