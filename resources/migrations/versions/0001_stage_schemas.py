"""Stage schemas and the tables Forgecast owns.

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

DDL = """
-- ------------------------------------------------------------------ raw (ingest)
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

-- ------------------------------------------------------------------ ml (AI runtime)
create table ml.ai_models (
    id              bigserial primary key,
    name            text not null,
    version         text not null,
    model_type      text not null,
    parameters      jsonb not null default '{}',
    status          text not null default 'candidate'
                    check (status in ('candidate', 'active', 'retired')),
    training_start  date,
    training_end    date,
    metrics         jsonb not null default '{}',
    created_at      timestamptz not null default now(),
    promoted_at     timestamptz,
    retired_at      timestamptz,
    unique (name, version)
);

create table ml.inference_jobs (
    id               bigserial primary key,
    run_id           text not null,
    shard            text not null default 'all',
    model_names      text[] not null default '{}',
    status           text not null check (status in ('running', 'succeeded', 'failed', 'partial')),
    items_attempted  integer not null default 0,
    items_succeeded  integer not null default 0,
    items_failed     integer not null default 0,
    errors           jsonb not null default '[]',
    started_at       timestamptz not null default now(),
    finished_at      timestamptz,
    duration_seconds double precision
);
create index inference_jobs_run on ml.inference_jobs (run_id);

-- ------------------------------------------------------------------ forecast
-- Append-only: a forecast made as of a date is never overwritten, so it can be scored.
create table forecast.forecasts (
    id            bigserial primary key,
    run_id        text not null,
    forecast_date date not null,
    item_id       text not null,
    location_id   text not null,
    target_date   date not null,
    horizon_day   integer not null,
    yhat          double precision not null,
    yhat_lower    double precision not null,
    yhat_upper    double precision not null,
    model_name    text not null,
    model_version text not null,
    created_at    timestamptz not null default now(),
    unique (forecast_date, item_id, location_id, target_date)
);

create table forecast.projected_inventory (
    forecast_date          date not null,
    item_id                text not null,
    location_id            text not null,
    target_date            date not null,
    projected_on_hand      double precision not null,
    projected_on_hand_p80  double precision not null,
    cumulative_demand      double precision not null,
    cumulative_supply      double precision not null,
    run_id                 text not null,
    primary key (forecast_date, item_id, location_id, target_date)
);

create table forecast.forecast_accuracy (
    id            bigserial primary key,
    forecast_date date not null,
    item_id       text,            -- null: the whole portfolio
    location_id   text,
    lag_days      integer not null,
    wape          double precision,
    bias          double precision,
    mase          double precision,
    coverage      double precision,
    observations  integer not null,
    scored_at     timestamptz not null default now()
);

create table forecast.forecast_alerts (
    id                  bigserial primary key,
    dedup_key           text not null unique,
    alert_type          text not null check (alert_type in
                        ('stockout', 'below_safety_stock', 'excess', 'demand_anomaly',
                         'accuracy_degraded')),
    severity            text not null check (severity in ('low', 'medium', 'high', 'critical')),
    item_id             text not null,
    location_id         text not null,
    status              text not null default 'open' check (status in ('open', 'resolved')),
    -- what the last alerts run did to it; drives notifications
    last_event          text not null default 'new'
                        check (last_event in ('new', 'escalated', 'unchanged', 'resolved')),
    message             text not null,
    details             jsonb not null default '{}',
    first_seen_at       timestamptz not null default now(),
    last_seen_at        timestamptz not null default now(),
    severity_changed_at timestamptz not null default now(),
    resolved_at         timestamptz,
    last_run_id         text
);

-- ------------------------------------------------------------------ notify
create table notify.recipients (
    id         bigserial primary key,
    name       text not null unique,
    timezone   text not null default 'UTC',
    role       text not null default 'planner' check (role in ('planner', 'buyer', 'operator')),
    created_at timestamptz not null default now()
);

create table notify.notification_preferences (
    id                    bigserial primary key,
    recipient_id          bigint not null references notify.recipients (id) on delete cascade,
    alert_type            text,     -- null: every type
    min_severity          text not null default 'medium'
                          check (min_severity in ('low', 'medium', 'high', 'critical')),
    channel_kind          text not null,
    -- apprise URLs are credentials: stored encrypted, or as the name of an env variable.
    channel_url_encrypted text,
    channel_url_env       text,
    channel_fingerprint   text not null,
    item_category         text,
    location_id           text,
    quiet_start           time,
    quiet_end             time,
    delivery_mode         text not null default 'immediate'
                          check (delivery_mode in ('immediate', 'digest')),
    notify_on_resolve     boolean not null default false,
    repeat_interval_hours integer not null default 24,
    check (channel_url_encrypted is not null or channel_url_env is not null)
);

create table notify.notification_templates (
    id           bigserial primary key,
    alert_type   text not null,
    channel_kind text not null,   -- 'default' serves every kind without its own
    subject      text not null,
    body         text not null,
    body_format  text not null default 'text' check (body_format in ('text', 'markdown', 'html')),
    updated_at   timestamptz not null default now(),
    unique (alert_type, channel_kind)
);

create table notify.notifications (
    id              bigserial primary key,
    idempotency_key text not null unique,   -- the database, not luck, prevents a double send
    alert_id        bigint not null references forecast.forecast_alerts (id),
    recipient_id    bigint not null references notify.recipients (id),
    preference_id   bigint references notify.notification_preferences (id) on delete set null,
    channel_kind    text not null,
    event           text not null check (event in ('new', 'escalated', 'unchanged', 'resolved', 'test')),
    status          text not null default 'pending'
                    check (status in ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    subject         text not null,
    body            text not null,
    last_error      text,
    created_at      timestamptz not null default now(),
    sent_at         timestamptz
);
create index notifications_due on notify.notifications (status, next_attempt_at);

create table notify.delivery_attempts (
    id              bigserial primary key,
    notification_id bigint not null references notify.notifications (id) on delete cascade,
    attempted_at    timestamptz not null default now(),
    status          text not null check (status in ('sent', 'failed')),
    error           text,
    elapsed_ms      double precision,
    url_id          text
);
"""


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"create schema if not exists {schema}")
    op.execute(DDL)


def downgrade() -> None:
    for schema in ("notify", "forecast", "ml"):
        op.execute(f"drop schema if exists {schema} cascade")
    for table in ("prim_master_audits", "quarantined_rows", "raw_data_batches"):
        op.execute(f"drop table if exists raw.{table} cascade")
