"""Item ids as uuid in the ml and forecast tables, as in dbt's unified tables.

Revision ID: 0005
Revises: 0004

Until now these tables held ``item_id`` as text and every join with the unified schema
cast one side. Existing ids were written from unified uuids, so ``item_id::uuid`` converts
them; a row holding anything else stops the upgrade (it names no known item).

Primary keys, uniques and plain indexes over ``item_id`` are rebuilt by PostgreSQL with the
new type. The accuracy key was an expression index on ``coalesce(item_id, '')`` (the
portfolio rows have no item): '' is no uuid, so it becomes a unique index whose nulls are
not distinct (PostgreSQL 15+), the same rule without the sentinel.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("ml.model_selections", "ml.item_model_params", "forecast.forecasts",
          "forecast.projected_inventory", "forecast.forecast_accuracy",
          "forecast.forecast_alerts")


def upgrade() -> None:
    op.execute("drop index forecast.forecast_accuracy_key")
    for table in TABLES:
        op.execute(f"alter table {table} alter column item_id type uuid using item_id::uuid")
    op.execute("create unique index forecast_accuracy_key on forecast.forecast_accuracy "
               "(scored_date, item_id, location_id, lag_days) nulls not distinct")


def downgrade() -> None:
    op.execute("drop index forecast.forecast_accuracy_key")
    for table in TABLES:
        op.execute(f"alter table {table} alter column item_id type text using item_id::text")
    op.execute("create unique index forecast_accuracy_key on forecast.forecast_accuracy "
               "(scored_date, coalesce(item_id, ''), coalesce(location_id, ''), lag_days)")
