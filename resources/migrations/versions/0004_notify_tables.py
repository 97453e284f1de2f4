"""Notification tables (schema notify).

Revision ID: 0004
Revises: 0003

- recipients: who is told (name, time zone, role).
- notification_preferences: recipient x alert type x minimum severity x channel, with
  optional item category / location filters, quiet hours (recipient-local), immediate or
  daily digest, resolve notices and repeat interval. The apprise URL is a credential:
  stored Fernet-encrypted, or as the name of an environment variable holding it.
- notification_templates: subject + body per alert type x channel kind (Jinja2, sandboxed).
  Defaults are inserted by the application (never overwritten), then editable here.
- notifications: one row per alert event x recipient x channel (or one digest / test
  message), unique idempotency key: the database, not luck, prevents a double send.
- delivery_attempts: every call to apprise, with its outcome, scrubbed error and timing.
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
    channel_fingerprint   text not null,   -- sha256 of the URL (or of 'env:NAME')
    item_category         text,     -- null: every category
    location_id           text,     -- null: every location
    quiet_start           time,     -- recipient-local wall clock; may wrap midnight
    quiet_end             time,
    delivery_mode         text not null default 'immediate'
                          check (delivery_mode in ('immediate', 'digest')),
    digest_hour           smallint not null default 8 check (digest_hour between 0 and 23),
    notify_on_resolve     boolean not null default false,
    repeat_interval_hours integer check (repeat_interval_hours >= 0),  -- null: the setting
    enabled               boolean not null default true,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    check (channel_url_encrypted is not null or channel_url_env is not null),
    check ((quiet_start is null) = (quiet_end is null))
);
create unique index notification_preferences_identity on notify.notification_preferences (
    recipient_id, channel_fingerprint, (coalesce(alert_type, '')),
    (coalesce(item_category, '')), (coalesce(location_id, '')));

create table notify.notification_templates (
    id           bigserial primary key,
    alert_type   text not null,   -- an alert type, or 'digest' / 'test'
    channel_kind text not null,   -- 'default' serves every kind without its own
    subject      text not null,
    body         text not null,
    body_format  text not null default 'text' check (body_format in ('text', 'markdown', 'html')),
    updated_at   timestamptz not null default now(),
    unique (alert_type, channel_kind)
);

create table notify.notifications (
    id                  bigserial primary key,
    idempotency_key     text not null unique,   -- the database, not luck, prevents a double send
    alert_id            bigint references forecast.forecast_alerts (id),  -- null: digest, test
    dedup_key           text,
    recipient_id        bigint not null references notify.recipients (id) on delete cascade,
    preference_id       bigint references notify.notification_preferences (id) on delete set null,
    channel_kind        text not null,
    channel_fingerprint text not null,
    event               text not null check (event in
                        ('new', 'escalated', 'unchanged', 'resolved', 'digest', 'test')),
    severity            text,
    -- digest: an item waiting for (or carried by) the daily digest of its preference
    delivery_mode       text not null default 'immediate'
                        check (delivery_mode in ('immediate', 'digest')),
    digest_id           bigint references notify.notifications (id) on delete set null,
    status              text not null default 'pending' check (status in
                        ('pending', 'sending', 'sent', 'failed', 'dead', 'superseded', 'batched')),
    attempts            integer not null default 0,
    next_attempt_at     timestamptz not null default now(),
    subject             text not null,
    body                text not null,
    body_format         text not null default 'text'
                        check (body_format in ('text', 'markdown', 'html')),
    attachments         text[] not null default '{}',
    last_error          text,
    created_at          timestamptz not null default now(),
    created_by_run      text,
    claimed_at          timestamptz,
    claimed_by          text,
    sent_at             timestamptz
);
create index notifications_due on notify.notifications (next_attempt_at)
    where status in ('pending', 'failed') and delivery_mode = 'immediate';
create index notifications_digest_due on notify.notifications (preference_id, next_attempt_at)
    where status = 'pending' and delivery_mode = 'digest';
create index notifications_alert on notify.notifications (alert_id, preference_id);
create index notifications_sending on notify.notifications (claimed_at) where status = 'sending';
create index notifications_digest_items on notify.notifications (digest_id)
    where digest_id is not null;

create table notify.delivery_attempts (
    id              bigserial primary key,
    notification_id bigint not null references notify.notifications (id) on delete cascade,
    attempt         integer not null,
    attempted_at    timestamptz not null default now(),
    status          text not null check (status in ('sent', 'failed')),
    apprise_status  text,           -- apprise's per-service status: success, failure, timeout...
    error           text,           -- scrubbed: never holds the channel URL or its parts
    elapsed_ms      double precision,
    url_id          text,           -- apprise's hash id of the endpoint, not the URL
    run_id          text
);
create index delivery_attempts_notification on notify.delivery_attempts (notification_id);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("drop table if exists notify.delivery_attempts, notify.notifications, "
               "notify.notification_templates, notify.notification_preferences, "
               "notify.recipients cascade")
