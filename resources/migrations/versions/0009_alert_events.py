"""One alert per problem: the ``shortage`` type, alert events and the nightly alert budget.

Revision ID: 0009
Revises: 0008

- ``forecast.alert_events``: append-only, one row per raised, escalated, de-escalated,
  resolved or reopened alert (severity before and after, as-of day, run).
- ``forecast.alert_budget``: one row per as-of day, the open-alert rate the night left,
  read by the next night's rate-jump check.
- ``stockout`` and ``below_safety_stock`` become one ``shortage`` alert per item-location
  (``details.condition`` says which). Where both exist, the worse one (open first, then
  severity, a stockout before a below-safety one) is kept; the other's notifications move
  to it (so who was told stays known) and its row goes, recorded as resolved in
  alert_events. Severities follow the new scale (an uncovered stockout is critical, one
  planned orders cover high): the scale changed, not the item, so the first night after
  must not announce an escalation. Kept open alerts become ``unchanged``: their news was
  told under the old key, and an untold one still goes out as a reminder.
- Event names: ``new`` is now ``raised``, and ``reopened`` / ``de-escalated`` exist, in
  forecast_alerts and in notify.notifications.
- Preferences for either old type become one ``shortage`` preference (the lower minimum
  severity, resolve notices if either asked); stored templates that are a shipped default
  of an old type are deleted (the shortage default is seeded by the next planning); an
  edited one serves ``shortage`` (the stockout one first), a second edited one stays under
  its old name, unused.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_TYPES = ("stockout", "below_safety_stock", "excess", "demand_anomaly",
             "accuracy_degraded", "late_supply")
NEW_TYPES = ("shortage", "excess", "demand_anomaly", "accuracy_degraded", "late_supply")
OLD_EVENTS = ("new", "escalated", "unchanged", "resolved")
NEW_EVENTS = ("raised", "escalated", "de-escalated", "unchanged", "resolved", "reopened")
SPECIAL_EVENTS = ("digest", "test")

# md5(subject || chr(31) || body) of every default template shipped for the old types
# (the application never overwrote a stored default, so older installs hold older ones).
SHIPPED_DEFAULTS = (
    "13a87146cbaf5895581fff304288b0ff", "d67609a8016db579c726388ffff449d6",
    "7debabe1c03fb13f8ce2c7d643a0dba9", "340483d904fe0c17d9624d91728d700a",
    "836502a3a4351a49c6a1105436af8e41", "b59474e56c2c03023251f1c5c4577957",
    "355d15915d0432d90c3b4c2fd7dc9984", "13bdea363f5218cdb110e5ed62e18ada",
    "ffe6349e681d0a5e97f9e1f825f06dc1", "3625260ebc8a08edab233ab7617b88cd",
    "03c63089acc88684f936af477f4d326a", "b3338d7545f767fc1bae761add27af73",
    "e21c27645871b2629fed207d36d235f3", "4073be9d777d1b2716d48a3dd5057675",
    "33a0fbe0aab3aa61691a47dacf662aec",
)


def _listed(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _checks(types, events, notify_events) -> None:
    op.execute(f"""
alter table forecast.forecast_alerts
    add constraint forecast_alerts_alert_type_check check (alert_type in ({_listed(types)})),
    add constraint forecast_alerts_last_event_check check (last_event in ({_listed(events)}));
alter table notify.notifications
    add constraint notifications_event_check check (event in ({_listed(notify_events)}));
""")


def _drop_checks() -> None:
    op.execute("""
alter table forecast.forecast_alerts
    drop constraint forecast_alerts_alert_type_check,
    drop constraint forecast_alerts_last_event_check;
alter table notify.notifications drop constraint notifications_event_check;
""")


def upgrade() -> None:
    op.execute("""
create table forecast.alert_events (
    id              bigserial primary key,
    dedup_key       text not null,
    alert_type      text not null,
    item_id         uuid not null,
    location_id     text not null,
    event           text not null check (event in
                    ('raised', 'escalated', 'de-escalated', 'resolved', 'reopened')),
    severity_before text,
    severity_after  text,
    as_of           date not null,
    run_id          text,
    created_at      timestamptz not null default now()
);
create index alert_events_dedup_key on forecast.alert_events (dedup_key);

create table forecast.alert_budget (
    as_of          date primary key,
    item_locations integer not null,
    open_alerts    integer not null,
    open_per_1000  double precision not null,
    by_type        jsonb not null default '{}',   -- type -> severity -> open alerts
    events         jsonb not null default '{}',   -- event -> count, this night
    run_id         text,
    created_at     timestamptz not null default now()
);
""")
    _drop_checks()
    op.execute("""
-- The one row kept per item-location: open first, then the worse, a stockout on a tie.
create temporary table shortage_merge on commit drop as
select id, first_value(id) over w as kept_id, row_number() over w as rank
from forecast.forecast_alerts
where alert_type in ('stockout', 'below_safety_stock')
window w as (partition by item_id, location_id
             order by status = 'open' desc,
                      array_position(array['low', 'medium', 'high', 'critical'], severity) desc,
                      alert_type = 'stockout' desc, last_seen_at desc, id);

insert into forecast.alert_events (dedup_key, alert_type, item_id, location_id, event,
                                   severity_before, as_of, run_id)
select a.dedup_key, a.alert_type, a.item_id, a.location_id, 'resolved', a.severity,
       current_date, 'migration 0009'
from forecast.forecast_alerts a join shortage_merge m on m.id = a.id
where m.rank > 1 and a.status = 'open';

update notify.notifications n set alert_id = m.kept_id
from shortage_merge m where n.alert_id = m.id and m.rank > 1;
delete from forecast.forecast_alerts a using shortage_merge m where a.id = m.id and m.rank > 1;

update forecast.forecast_alerts set
    details = details || jsonb_build_object('condition', alert_type),
    severity = case when alert_type = 'stockout' and status = 'open'
                    then case when (details->>'covered_by_planned')::boolean then 'high'
                              else 'critical' end
                    else severity end,
    last_event = case when status = 'open' then 'unchanged' else last_event end,
    dedup_key = 'shortage:' || item_id || ':' || location_id,
    alert_type = 'shortage'
where alert_type in ('stockout', 'below_safety_stock');
update forecast.forecast_alerts set last_event = 'raised' where last_event = 'new';
alter table forecast.forecast_alerts alter column last_event set default 'raised';

update notify.notifications n set dedup_key = a.dedup_key
from forecast.forecast_alerts a
where a.id = n.alert_id and a.alert_type = 'shortage' and n.dedup_key <> a.dedup_key;
update notify.notifications set event = 'raised' where event = 'new';
""")
    _checks(NEW_TYPES, NEW_EVENTS, (*NEW_EVENTS, *SPECIAL_EVENTS))
    op.execute("""
-- One shortage preference where a recipient had both old types on one channel and scope.
create temporary table preference_merge on commit drop as
select id, first_value(id) over w as kept_id, row_number() over w as rank,
       min(array_position(array['low', 'medium', 'high', 'critical'], min_severity)) over p
           as min_rank,
       bool_or(notify_on_resolve) over p as on_resolve
from notify.notification_preferences
where alert_type in ('stockout', 'below_safety_stock')
window p as (partition by recipient_id, channel_fingerprint, coalesce(item_category, ''),
             coalesce(location_id, '')),
       w as (p order by alert_type = 'stockout' desc, id);

update notify.notifications n set preference_id = m.kept_id
from preference_merge m where n.preference_id = m.id and m.rank > 1;
delete from notify.notification_preferences p using preference_merge m
where p.id = m.id and m.rank > 1;
update notify.notification_preferences p set alert_type = 'shortage',
    min_severity = (array['low', 'medium', 'high', 'critical'])[m.min_rank],
    notify_on_resolve = m.on_resolve, updated_at = now()
from preference_merge m where p.id = m.id;
""")
    op.execute(f"""
delete from notify.notification_templates
where alert_type in ('stockout', 'below_safety_stock')
  and md5(subject || chr(31) || body) in ({_listed(SHIPPED_DEFAULTS)});
""")
    for old in ("stockout", "below_safety_stock"):
        op.execute(f"""
update notify.notification_templates t set alert_type = 'shortage', updated_at = now()
where t.alert_type = '{old}' and not exists (
    select 1 from notify.notification_templates s
    where s.alert_type = 'shortage' and s.channel_kind = t.channel_kind);
""")


def downgrade() -> None:
    _drop_checks()
    op.execute("""
update forecast.forecast_alerts set
    alert_type = case when details->>'condition' = 'stockout' then 'stockout'
                      else 'below_safety_stock' end
where alert_type = 'shortage';
update forecast.forecast_alerts set
    dedup_key = alert_type || ':' || item_id || ':' || location_id
where alert_type in ('stockout', 'below_safety_stock');
update forecast.forecast_alerts set last_event = case last_event
    when 'raised' then 'new' when 'reopened' then 'new' when 'de-escalated' then 'unchanged'
    else last_event end;
alter table forecast.forecast_alerts alter column last_event set default 'new';

update notify.notifications n set dedup_key = a.dedup_key
from forecast.forecast_alerts a
where a.id = n.alert_id and n.dedup_key like 'shortage:%';
update notify.notifications set event = case event
    when 'raised' then 'new' when 'reopened' then 'new' when 'de-escalated' then 'unchanged'
    else event end;

-- A shortage preference asked for both old types.
insert into notify.notification_preferences (recipient_id, alert_type, min_severity,
    channel_kind, channel_url_encrypted, channel_url_env, channel_fingerprint, item_category,
    location_id, quiet_start, quiet_end, delivery_mode, digest_hour, notify_on_resolve,
    repeat_interval_hours, enabled)
select recipient_id, 'below_safety_stock', min_severity, channel_kind, channel_url_encrypted,
       channel_url_env, channel_fingerprint, item_category, location_id, quiet_start,
       quiet_end, delivery_mode, digest_hour, notify_on_resolve, repeat_interval_hours, enabled
from notify.notification_preferences where alert_type = 'shortage';
update notify.notification_preferences set alert_type = 'stockout'
where alert_type = 'shortage';

update notify.notification_templates t set alert_type = 'stockout'
where t.alert_type = 'shortage' and not exists (
    select 1 from notify.notification_templates s
    where s.alert_type = 'stockout' and s.channel_kind = t.channel_kind);
delete from notify.notification_templates where alert_type = 'shortage';

drop table forecast.alert_budget;
drop table forecast.alert_events;
""")
    _checks(OLD_TYPES, OLD_EVENTS, (*OLD_EVENTS, *SPECIAL_EVENTS))
