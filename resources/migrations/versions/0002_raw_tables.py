"""Ingest tables (schema raw): batches, quarantine, master-data audits.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = """
create table raw.raw_data_batches (
    id               bigserial primary key,
    source_system    text not null,
    entity           text not null,
    file_name        text not null,
    sha256           char(64) not null,
    format           text not null,
    encoding         text,
    file_size_bytes  bigint,
    stored_path      text,
    rows_received    integer not null default 0,
    rows_loaded      integer not null default 0,
    rows_quarantined integer not null default 0,
    status           text not null default 'received' check (status in
                     ('received', 'validating', 'loaded', 'rejected', 'superseded', 'failed')),
    error_summary    text,
    replay_of        bigint references raw.raw_data_batches (id),
    received_at      timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
-- The same content is loaded at most once: a live batch owns its sha256.
create unique index raw_data_batches_live_sha256
    on raw.raw_data_batches (sha256) where status in ('received', 'validating', 'loaded');
create index raw_data_batches_source_entity on raw.raw_data_batches (source_system, entity, status);

create table raw.quarantined_rows (
    id          bigserial primary key,
    batch_id    bigint not null references raw.raw_data_batches (id),
    row_number  integer not null,
    column_name text,
    raw_value   text,
    reason      text not null
);
create index quarantined_rows_batch on raw.quarantined_rows (batch_id, row_number);

-- Master-data changes as exported by the ERPs (SAP change documents, ...).
create table raw.prim_master_audits (
    id            bigserial primary key,
    batch_id      bigint not null references raw.raw_data_batches (id),
    source_system text not null,
    object_id     text not null,
    location      text,
    field_name    text not null,
    old_value     text,
    new_value     text,
    changed_on    date,
    changed_by    text,
    unique (batch_id, object_id, location, field_name, changed_on)
);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    for table in ("prim_master_audits", "quarantined_rows", "raw_data_batches"):
        op.execute(f"drop table if exists raw.{table} cascade")
