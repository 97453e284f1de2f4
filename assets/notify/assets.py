"""Notifications asset: route alert events to recipients' channels, store each
delivery under its idempotency key, and send what is due through apprise."""


from datetime import UTC, datetime

import dagster as dg

from assets.alerts.assets import FORECAST_ALERTS
from assets.notify.routing import plan_deliveries
from assets.notify.store import delivery_summary, enqueue, load_alert_events, load_routing, send_due
from resources.warehouse import WarehouseResource

NOTIFICATIONS = dg.AssetKey(["notify", "notifications"])


@dg.asset(
    key=NOTIFICATIONS,
    deps=[FORECAST_ALERTS],
    group_name="notify",
    kinds={"python", "postgres", "apprise"},
    description="One notification per alert event x recipient x channel (unique idempotency "
    "key), sent through apprise; every attempt is recorded, failures retry with backoff.",
)
def notifications(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings
    now = datetime.now(UTC)
    with warehouse.connection(autocommit=True) as conn:
        recipients, preferences, preference_ids = load_routing(conn, settings)
        events = load_alert_events(conn)
        planned = plan_deliveries(events, recipients, preferences, now)
        created = enqueue(conn, planned, preference_ids)
        sent = send_due(conn, settings, now=now)
        totals = delivery_summary(conn)
    context.log.info(f"{created} new notification(s); sent {sent['sent']}, "
                     f"failed {sent['failed']}, dead {sent['dead']}")
    return dg.MaterializeResult(metadata={
        "recipients": len(recipients),
        "alert_events": len(events),
        "notifications_created": created,
        "delivered_now": sent["sent"],
        "failed_now": sent["failed"],
        "dead_now": sent["dead"],
        "by_status": totals,
        "dagster/row_count": sum(totals.values()),
    })


ASSETS = [notifications]
ASSET_CHECKS: list = []
