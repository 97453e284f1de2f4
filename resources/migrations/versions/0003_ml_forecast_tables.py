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

-- Promotion and retirement history: rows are only ever added.
create table ml.ai_model_events (
    id          bigserial primary key,
    model_id    bigint not null references ml.ai_models (id),
    event       text not null check (event in ('registered', 'promoted', 'retired')),
    reason      text,
    metrics     jsonb not null default '{}',
    run_id      text,
    created_at  timestamptz not null default now()
);
create index ai_model_events_model on ml.ai_model_events (model_id, created_at);

-- Per-item model choice from a rolling-origin backtest (append-only; the newest row per
-- item x location is the one in force). scores: backtest WAPE of every candidate.
create table ml.model_selections (
    id              bigserial primary key,
    run_id          text not null,
    as_of           date not null,
    item_id         text not null,
    location_id     text not null,
    demand_class    text not null,
    model_name      text not null,
    model_version   text not null,
    bucket          text not null default 'day',
    wape            double precision,
    scores          jsonb not null default '{}',
    err_low         double precision not null default 0,
    err_high        double precision not null default 0,
    horizon         integer not null default 0,
    origins         integer not null default 0,
    failures        jsonb not null default '{}',
    note            text,
    reason          text not null default 'scheduled' check (reason in ('scheduled', 'cold_start')),
    selected_at     timestamptz not null default now()
);
create index model_selections_current on ml.model_selections (item_id, location_id, id desc);

-- The latest fitted parameters of an item's model: the warm start of its next fit.
create table ml.item_model_params (
    item_id      text not null,
    location_id  text not null,
    model_name   text not null,
    params       jsonb not null,
    run_id       text not null,
    fitted_at    timestamptz not null default now(),
    primary key (item_id, location_id, model_name)
);

create table ml.inference_jobs (
    id               bigserial primary key,
    run_id           text not null,
    shard            text not null default 'all',
    kind             text not null default 'forecast' check (kind in ('forecast', 'select')),
    as_of            date,
    workers          integer,
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

-- Accuracy of past forecasts once actuals are in: as of scored_date, for each lag L, the
-- forecasts made L days before each target day of the window (window_start..scored_date)
-- against actual demand. item_id / location_id null: the whole portfolio.
create table forecast.forecast_accuracy (
    id             bigserial primary key,
    scored_date    date not null,
    item_id        text,
    location_id    text,
    lag_days       integer not null,
    window_start   date not null,
    model_name     text,
    wape           double precision,
    bias           double precision,
    mase           double precision,
    coverage       double precision,
    baseline_wape  double precision,   -- seasonal naive over the same days and lag
    actual_total   double precision not null default 0,
    observations   integer not null,
    run_id         text,
    scored_at      timestamptz not null default now()
);
create unique index forecast_accuracy_key on forecast.forecast_accuracy
    (scored_date, coalesce(item_id, ''), coalesce(location_id, ''), lag_days);

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
    last_run_id         text,
    chart_path          text             -- PNG under <data_dir>/charts/, for notifications
);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("drop schema if exists forecast cascade")
    op.execute("drop schema if exists ml cascade")
