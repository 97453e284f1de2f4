"""Stage schemas. Tables follow in one revision per stage.

dbt owns staging.* and unified.* (manufacturing_items, manufacturing_processes,
inventory_snapshots, ...): they are not created here. raw.<source>_<entity> tables follow
the ingest registry and are synchronised after migrations (``assets.ingest.raw_tables``).

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = ("raw", "staging", "unified", "ml", "forecast", "notify")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"create schema if not exists {schema}")


def downgrade() -> None:
    for schema in ("notify", "forecast", "ml", "raw"):
        op.execute(f"drop schema if exists {schema} cascade")
