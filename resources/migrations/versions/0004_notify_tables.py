"""Notification tables (schema notify).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DDL = """
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
    op.execute(DDL)


def downgrade() -> None:
    op.execute("drop schema if exists notify cascade")
