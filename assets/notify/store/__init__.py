"""Every SQL statement of the notify stage: small named functions, typed rows in and out.

Split by the tables they serve: ``people`` (recipients, preferences, templates),
``queue`` (the notifications and their delivery attempts: enqueue, claim, record,
digests) and ``reading`` (listings and counts for the CLI, sensors and checks). The
decisions (routing, rendering, retries, secrets) live in the logic modules beside this
package: planning, digests, sending, channels, admin.

Nothing is sent twice, and the database guarantees it, not timing:

- every notification has a unique idempotency key (``routing.idempotency_key``) and is
  inserted with ``on conflict do nothing``: planning the same events again, in a
  re-executed run or in two overlapping runs, adds nothing;
- a delivery is claimed (pending/failed -> sending) with ``for update skip locked`` in
  its own short transaction before apprise is called: two senders never claim the
  same row, and only the claimer writes its outcome;
- a row left in 'sending' by a lost worker (crash, killed run) is not retried: after the
  lease it is marked dead with an explicit error, because it may have been delivered
  (at most once, never twice).

``forecast.forecast_alerts.item_id`` may be text or uuid: statements that read it cast
it to text (a no-op on text), so either column type works.
"""

from assets.notify.store.people import (
    channel_secrets,
    delete_preference,
    disable_other_channels,
    enabled_channels_of,
    insert_templates,
    list_recipients,
    load_preferences,
    load_recipients,
    load_templates,
    operator_channel_secrets,
    preference_rows,
    recipient_by_id,
    recipient_by_name,
    upsert_preference,
    upsert_recipient_row,
)
from assets.notify.store.queue import (
    ClaimedRow,
    DigestItemRow,
    claim_due,
    digest_recipients,
    existing_keys,
    insert_digest,
    insert_notifications,
    insert_test_notification,
    load_alert_events,
    load_history,
    lock_due_digest_items,
    mark_batched,
    propagate_digest_status,
    record_outcomes,
    recover_stale_sending,
    supersede_stale,
)
from assets.notify.store.reading import (
    attempt_rows,
    dead_since,
    delivery_rows,
    delivery_summary,
    demo_counts,
    due_counts,
    stuck_sending,
)

__all__ = [
    "ClaimedRow", "DigestItemRow", "attempt_rows", "channel_secrets", "claim_due",
    "dead_since", "delete_preference", "disable_other_channels", "delivery_rows",
    "delivery_summary", "demo_counts",
    "digest_recipients", "due_counts", "enabled_channels_of", "existing_keys",
    "insert_digest", "insert_notifications", "insert_templates", "insert_test_notification",
    "list_recipients", "load_alert_events", "load_history", "load_preferences",
    "load_recipients", "load_templates", "lock_due_digest_items", "mark_batched",
    "operator_channel_secrets", "preference_rows", "propagate_digest_status",
    "recipient_by_id", "recipient_by_name", "record_outcomes", "recover_stale_sending",
    "stuck_sending", "supersede_stale", "upsert_preference", "upsert_recipient_row",
]
