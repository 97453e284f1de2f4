"""AI runtime (schema ml) and forecast tables (schema forecast).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DDL = """
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
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("drop schema if exists forecast cascade")
    op.execute("drop schema if exists ml cascade")
