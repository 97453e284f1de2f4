"""Notifications asset: route alert events to recipients' channels, store each
delivery under its idempotency key, and send what is due through apprise.

Launched by the sensors in ``orchestration/sensors/notifications.py``: after every
materialization of the alerts asset (plan + send), and when retries or digests fall due
(send only). Re-running it, or two runs at once, sends nothing twice (see store/).
Metadata and logs carry counts only: never a channel URL, never an error text.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.alerts.assets import FORECAST_ALERTS
from assets.notify import store
from assets.notify.sending import notify_once
from resources.warehouse import WarehouseResource

NOTIFICATIONS = dg.AssetKey(["notify", "notifications"])
NOTIFY_OP_NAME = "notify__notifications"


class NotifyConfig(dg.Config):
    plan: bool = True  # route the current alert events first; False: only due retries/digests
    max_seconds: float | None = None  # stop sending after this long (the rest stays due)


@dg.asset(
    key=NOTIFICATIONS,
    deps=[FORECAST_ALERTS],
    group_name="notify",
    kinds={"python", "postgres", "apprise"},
    description="One notification per alert event x recipient x channel (unique idempotency "
    "key), rendered per channel and sent through apprise; every attempt is recorded, failures "
    "retry with exponential backoff and jitter, then are dead. Digest preferences get one "
    "message a day.",
)
def notifications(context: dg.AssetExecutionContext, config: NotifyConfig,
                  warehouse: WarehouseResource):
    settings = warehouse.settings
    with warehouse.connection(autocommit=True) as conn:
        report = notify_once(conn, settings, plan=config.plan, now=datetime.now(UTC),
                             run_id=context.run.run_id, max_seconds=config.max_seconds)
    plan, send, totals = report["plan"], report["send"], report["by_status"]
    context.log.info(
        (f"planned {plan['planned']} delivery(ies) for {plan['alert_events']} alert event(s), "
         f"{plan['created']} new; " if plan else "no planning (retries and digests only); ")
        + f"sent {send['sent']}, failed {send['failed']} (will retry), dead {send['dead']}, "
        f"digests built {send['digests']} in {send['seconds']:.1f}s")
    metadata = {
        "planned": plan.get("planned", 0),
        "notifications_created": plan.get("created", 0),
        "superseded": plan.get("superseded", 0),
        "alert_events": plan.get("alert_events", 0),
        "recipients": plan.get("recipients", 0),
        "claimed": send["claimed"],
        "delivered_now": send["sent"],
        "failed_now": send["failed"],
        "dead_now": send["dead"],
        "recovered_stale": send["recovered"],
        "digests_built": send["digests"],
        "send_seconds": send["seconds"],
        "by_status": dg.MetadataValue.json(totals),
        "dagster/row_count": sum(totals.values()),
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=NOTIFICATIONS, blocking=False,
                description="No delivery died (max attempts, invalid channel) in the last 24 hours.")
def no_dead_deliveries(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        dead = store.dead_since(conn, hours=24)
    return dg.AssetCheckResult(passed=dead == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"dead_last_24h": dead})


@dg.asset_check(asset=NOTIFICATIONS, blocking=False,
                description="No delivery is stuck in 'sending' beyond the lease (a lost worker).")
def no_stuck_deliveries(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    settings = warehouse.settings
    with warehouse.connection() as conn:
        stuck = store.stuck_sending(conn, settings.notify_sending_lease_seconds)
    return dg.AssetCheckResult(passed=stuck == 0, metadata={"stuck_sending": stuck})


ASSETS = [notifications]
ASSET_CHECKS = [no_dead_deliveries, no_stuck_deliveries]
