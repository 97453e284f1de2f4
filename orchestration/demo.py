"""`forgecast demo`: demo exports into the landing zone, then the nightly job end to end.

The planner's inbox is a local HTTP receiver (apprise json://) on a fixed loopback port
(setting demo_inbox_port), so the demo delivers real notifications; received messages are
appended to ``<data_dir>/demo_inbox.jsonl``. Running the demo again adds nothing twice: identical
files are skipped by their sha256, a re-forecast day gets a new current version, alerts are
keyed by type + item + location and notifications by their idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable

from resources.settings import Settings

DEMO_RECIPIENT = "demo-planner"
# Step starts and successes, not Dagster's debug chatter.

def run_demo(settings: Settings, *, items: int, days: int, seed: int,
             echo: Callable[[str], None] = print) -> list[tuple[str, str, int]]:

    from assets.ingest.landing import ingest_landing_zone_files
    from assets.notify.admin import set_sole_channel, upsert_recipient
    from demo.generator import generate_demo_data
    from orchestration.definitions import defs
    from orchestration.platform import QUIET_RUN_CONFIG
    from orchestration.platform import instance as platform_instance
    from orchestration.sensors.notifications import run_alerts_sensor_once
    from resources.database import connect
    from resources.errors import OperationError
    from resources.local_receiver import LocalReceiver

    instance = platform_instance(settings)
    echo(f"writing demo exports for {items} items x {days} days into "
         f"{settings.resolved_landing_dir}")
    data = generate_demo_data(settings.resolved_landing_dir, items=items, days=days, seed=seed)
    with connect(settings, autocommit=True) as conn:
        batches = ingest_landing_zone_files(conn, settings)
    echo(f"ingested {len(batches)} new file(s) from the landing zone")
    if data.runs_short:
        sku, _, plant = data.runs_short
        echo(f"{sku} in plant {plant} is built to run out inside its lead time (its supplier "
             "delivered short and cancelled the open order): expect its shortage alert (a stockout)")
    if data.component_runs_short:
        sku, _, plant, order = data.component_runs_short
        echo(f"{sku} in plant {plant} is a component built to run short: its parent's firm "
             f"production order {order}, starting inside its lead time, needs more than its "
             "stock and open orders: expect its shortage alert (a stockout), pegged to that order")
    try:
        inbox = LocalReceiver(port=settings.demo_inbox_port,
                              log_path=settings.data_dir / "demo_inbox.jsonl").start()
    except OSError as exc:
        raise OperationError(f"the demo inbox port {settings.demo_inbox_port} is busy "
                             f"(set FORGECAST_DEMO_INBOX_PORT): {exc}") from exc
    try:
        with connect(settings, autocommit=True) as conn:
            recipient = upsert_recipient(conn, DEMO_RECIPIENT, "Europe/Berlin", "planner")
            set_sole_channel(conn, settings, recipient, inbox.url, min_severity="medium")
        day = data.end_date.isoformat()
        echo(f"running the nightly job for {day} (dbt -> forecast -> alerts)")
        _execute(defs.resolve_job_def("nightly"), instance, settings, echo, partition_key=day)
        echo("delivering notifications (the notify_on_alerts sensor's run)")
        results = run_alerts_sensor_once(defs, instance, run_config_extra=QUIET_RUN_CONFIG)
        if not all(r.success for r in results):
            raise OperationError("the notify run launched by notify_on_alerts failed: "
                                 "see `forgecast ui`")
        echo(f"the planner's inbox received {len(inbox.received)} message(s)")
    finally:
        inbox.stop()
    with connect(settings) as conn:
        return _summary(conn)


def _summary(conn) -> list[tuple[str, str, int]]:
    """What the demo produced, stage by stage, in pipeline order."""
    from assets.alerts import store as alerts
    from assets.forecast import store as forecast
    from assets.ingest.store import loaded_totals
    from assets.notify import store as notify
    from assets.unified import store as unified

    loaded, quarantined = loaded_totals(conn)
    rows = [("ingest", "rows loaded (current batches)", loaded),
            ("ingest", "rows quarantined", quarantined)]
    for stage, store in (("unified", unified), ("forecast", forecast), ("alerts", alerts),
                         ("notify", notify)):
        rows += [(stage, what, count) for what, count in store.demo_counts(conn).items()]
    return rows


def _execute(job, instance, settings: Settings, echo, **kwargs) -> None:
    from orchestration.backfill import require_success
    from orchestration.platform import (
        QUIET_RUN_CONFIG,
        in_process_tags,
        output_to_log,
        run_slot,
    )

    with run_slot(settings, job.name, kwargs.get("partition_key"), echo), \
            output_to_log(settings):
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config=QUIET_RUN_CONFIG, tags=in_process_tags(),
                                        **kwargs)
    require_success(result, what=job.name)
