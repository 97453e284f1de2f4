"""`forgecast demo`: demo exports into the landing zone, then the nightly job end to end.

The planner's inbox is a local HTTP receiver (apprise json://) on a fixed loopback port
(setting demo_inbox_port), so the demo delivers real notifications; received messages are
appended to ``<data_dir>/demo_inbox.jsonl``. Running the demo again adds nothing twice: identical
files are skipped by their sha256, forecasts are append-only per as-of date, alerts are
keyed by type + item + location and notifications by their idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable

from resources.settings import Settings

DEMO_RECIPIENT = "demo-planner"

SUMMARY_SQL = [
    ("ingest", "rows loaded (current batches)",
     "select coalesce(sum(rows_loaded), 0) from raw.raw_data_batches where status = 'loaded'"),
    ("ingest", "rows quarantined",
     "select coalesce(sum(rows_quarantined), 0) from raw.raw_data_batches "
     "where status = 'loaded'"),
    ("unified", "items unified", "select count(*) from unified.manufacturing_items"),
    ("unified", "demand history rows", "select count(*) from unified.demand_history"),
    ("forecast", "item-locations forecast",
     "select count(distinct (item_id, location_id)) from forecast.forecasts"),
    ("forecast", "forecast rows", "select count(*) from forecast.forecasts"),
    ("alerts", "open alerts", "select count(*) from forecast.forecast_alerts where status = 'open'"),
    ("notify", "notifications delivered",
     "select count(*) from notify.notifications where status = 'sent'"),
]


def run_demo(settings: Settings, *, items: int, days: int, seed: int,
             echo: Callable[[str], None] = print) -> list[tuple[str, str, int]]:
    import dagster as dg

    from assets.notify.store import set_channel_preference, upsert_recipient
    from orchestration.demo_data import generate_demo_data
    from resources.bootstrap import ensure_ready
    from resources.database import connect
    from resources.errors import OperationError
    from resources.local_receiver import LocalReceiver

    ensure_ready(settings)
    echo(f"writing demo exports for {items} items x {days} days into "
         f"{settings.resolved_landing_dir}")
    generate_demo_data(settings.resolved_landing_dir, items=items, days=days, seed=seed)
    try:
        inbox = LocalReceiver(port=settings.demo_inbox_port,
                              log_path=settings.data_dir / "demo_inbox.jsonl").start()
    except OSError as exc:
        raise OperationError(f"the demo inbox port {settings.demo_inbox_port} is busy "
                             f"(set FORGECAST_DEMO_INBOX_PORT): {exc}") from exc
    try:
        with connect(settings, autocommit=True) as conn:
            recipient = upsert_recipient(conn, DEMO_RECIPIENT, "Europe/Berlin", "planner")
            set_channel_preference(conn, settings, recipient, inbox.url, min_severity="medium")
        from orchestration.definitions import defs

        echo("running the nightly job (ingest -> dbt -> forecast -> alerts -> notify)")
        job = defs.resolve_job_def("nightly")
        result = job.execute_in_process(
            instance=dg.DagsterInstance.get(), raise_on_error=False,
            # Step starts and successes, not Dagster's debug chatter.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
        if not result.success:
            failed = [e.step_key for e in result.all_events if e.is_step_failure]
            raise OperationError(f"the nightly run {result.run_id} failed at step(s) "
                                 f"{', '.join(failed) or '?'}: see `forgecast ui`",
                                 details={"run_id": result.run_id})
        echo(f"run {result.run_id} succeeded; the planner's inbox received "
             f"{len(inbox.received)} message(s)")
    finally:
        inbox.stop()
    with connect(settings) as conn:
        return [(stage, what, conn.execute(query).fetchone()[0])
                for stage, what, query in SUMMARY_SQL]
