"""Notification delivery benchmark: N alerts x 3 recipients through apprise json:// to a
local HTTP receiver (its own process) that drops a share of requests (HTTP 503).

    .venv/bin/python bench/notify.py                  # 10,000 alerts, 20% dropped
    .venv/bin/python bench/notify.py --alerts 2000 --naive-limit 0

The same 3N notifications are delivered twice, on a private embedded PostgreSQL:

- naive: the obvious loop: for each due notification, build an ``apprise.Apprise()``,
  ``notify()``, record the attempt and the status with one statement each, retry a
  failure at once;
- forgecast: ``send_due`` (claims with skip locked, one apprise client per channel and
  thread, a bounded thread pool, batched writes, backoff with jitter) called until
  nothing is left, as the due sensor would.

Proof counts come from the receiver: every (recipient, alert) message delivered exactly
once, none lost, none duplicated; attempts recorded equal requests seen.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = ("planner", "buyer", "operator")


def receiver_process(conn, drop_rate: float, seed: int) -> None:
    """Run the inbox in its own process (own GIL) until told to stop, then report."""
    from resources.local_receiver import LocalReceiver

    with LocalReceiver(drop_rate=drop_rate, seed=seed) as inbox:
        conn.send(inbox.port)
        while conn.recv() != "stop":
            # "report": what arrived so far, then reset for the next implementation
            seen = Counter((r.path, r.payload.get("title")) for r in inbox.requests)
            conn.send((seen, inbox.failed_requests))
            with inbox._lock:
                inbox._requests.clear()
                inbox.failed_requests = 0
        conn.send(None)


def seed_alerts(conn, alerts: int) -> None:
    severities = ("low", "medium", "high", "critical")
    with conn.cursor().copy(
            "copy forecast.forecast_alerts (dedup_key, alert_type, severity, item_id, location_id, "
            "status, last_event, message, details) from stdin") as copy:
        for i in range(alerts):
            item = f"B{i:06d}"
            item_id = uuid.uuid5(uuid.NAMESPACE_URL, f"forgecast:bench:{item}")  # ids are uuids
            copy.write_row((f"shortage:{item}:BENCH", "shortage", severities[i % 4], item_id, "BENCH",
                            "open", "raised", f"{item} at BENCH: projected stockout",
                            f'{{"sku": "{item}", "condition": "stockout", "stockout_date": "2026-03-09", '
                            f'"days_until_stockout": {i % 30}, "shortfall_qty": {i % 97}.5}}'))


def naive_send(conn, settings, limit: int) -> tuple[int, float]:
    """One Apprise() per message, serially, one statement per write, immediate retries."""
    import apprise

    from assets.notify.channels import resolve_channel

    urls = {pid: resolve_channel(settings, enc, None).url for pid, enc in conn.execute(
        "select id, channel_url_encrypted from notify.notification_preferences").fetchall()}
    rows = conn.execute("select id, preference_id, subject, body from notify.notifications "
                        "where status = 'pending' order by id limit %s", (limit,)).fetchall()
    started = time.perf_counter()
    for nid, pid, subject, body in rows:
        for attempt in range(1, settings.notify_max_attempts + 1):
            client = apprise.Apprise()
            client.add(urls[pid])
            t0 = time.perf_counter()
            ok = bool(client.notify(body=body, title=subject, body_format="text"))
            conn.execute("insert into notify.delivery_attempts (notification_id, attempt, status, "
                         "elapsed_ms) values (%s, %s, %s, %s)",
                         (nid, attempt, "sent" if ok else "failed", (time.perf_counter() - t0) * 1000))
            conn.execute("update notify.notifications set status = %s, attempts = %s, sent_at = "
                         "case when %s then now() end where id = %s",
                         ("sent" if ok else "failed", attempt, ok, nid))
            if ok:
                break
    return len(rows), time.perf_counter() - started


def forgecast_send(conn, settings, workers: int) -> tuple[int, float, int]:
    from assets.notify.sending import send_due

    started = time.perf_counter()
    passes = 0
    while True:
        passes += 1
        send_due(conn, settings, workers=workers)
        left = conn.execute("select count(*), min(next_attempt_at) from notify.notifications "
                            "where status in ('pending', 'failed')").fetchone()
        if not left[0]:
            break
        wait = (left[1] - datetime.now(UTC)).total_seconds()
        time.sleep(min(max(wait, 0.0), 1.0))
    total = conn.execute("select count(*) from notify.notifications").fetchone()[0]
    return total, time.perf_counter() - started, passes


def proof(seen: Counter, expected: set) -> dict:
    delivered = set(seen) & expected
    return {"once": sum(1 for k in delivered if seen[k] == 1), "lost": len(expected - set(seen)),
            "duplicated": sum(c - 1 for c in seen.values() if c > 1),
            "unexpected": len(set(seen) - expected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--drop-rate", type=float, default=0.2)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--naive-limit", type=int, default=3000,
                        help="messages the naive loop sends (it is slow); 0 skips it")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fc-bench-notify-"))
    os.environ.update({
        "FORGECAST_DATA_DIR": str(data_dir),
        # Retries within the run: the receiver's drops are instant, not outages.
        "FORGECAST_NOTIFY_BACKOFF_BASE_SECONDS": "0.05",
        "FORGECAST_NOTIFY_BACKOFF_CAP_SECONDS": "0.5",
        "FORGECAST_NOTIFY_MAX_ATTEMPTS": "15",
    })
    os.environ.pop("DATABASE_URL", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(ROOT))
    from assets.notify.admin import set_channel_preference, upsert_recipient
    from assets.notify.planning import plan_and_enqueue
    from orchestration.platform import prepare
    from resources.database import connect, stop_embedded
    from resources.settings import get_settings

    settings = get_settings()
    prepare(settings)
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=receiver_process,
                                           args=(child, args.drop_rate, args.seed), daemon=True)
    proc.start()
    port = parent.recv()
    rows = []
    try:
        with connect(settings, autocommit=True) as conn:
            seed_alerts(conn, args.alerts)
            for role in RECIPIENTS:
                rid = upsert_recipient(conn, role, "UTC", role)
                set_channel_preference(conn, settings, rid, f"json://127.0.0.1:{port}/{role}",
                                       min_severity="low")
            messages = args.alerts * len(RECIPIENTS)

            def plan() -> float:
                conn.execute("truncate notify.notifications, notify.delivery_attempts")
                t0 = time.perf_counter()
                planned = plan_and_enqueue(conn, settings, now=datetime.now(UTC))
                assert planned["created"] == messages, planned
                return time.perf_counter() - t0

            def expected() -> set:
                """Every notification the run was to deliver (naive: those it got to)."""
                query = ("select r.name, n.subject from notify.notifications n join notify.recipients r "
                         "on r.id = n.recipient_id where n.attempts > 0")
                return {(f"/{name}", subject) for name, subject in conn.execute(query).fetchall()}

            def report() -> tuple[Counter, int]:
                parent.send("report")
                return parent.recv()

            def attempts() -> int:
                return conn.execute("select count(*) from notify.delivery_attempts").fetchone()[0]

            plan_seconds = plan()
            print(f"planned, rendered and stored {messages:,} notifications in {plan_seconds:.1f}s",
                  file=sys.stderr)
            if args.naive_limit:
                sent, seconds = naive_send(conn, settings, min(args.naive_limit, messages))
                seen, failed = report()
                rows.append(("naive: Apprise() per message, serial, a statement per write", sent,
                             seconds, failed, attempts(), proof(seen, expected())))
                print(f"naive: {sent} in {seconds:.1f}s", file=sys.stderr)
            for workers in args.workers:
                plan()
                sent, seconds, passes = forgecast_send(conn, settings, workers)
                seen, failed = report()
                rows.append((f"forgecast send_due: clients reused, {workers} threads, batched writes "
                             f"({passes} passes)", sent, seconds, failed, attempts(),
                             proof(seen, expected())))
                print(f"forgecast {workers} workers: {sent} in {seconds:.1f}s", file=sys.stderr)
            dead = conn.execute("select count(*) from notify.notifications where status <> 'sent'"
                                ).fetchone()[0]
    finally:
        parent.send("stop")
        parent.recv()
        proc.join(timeout=10)
        stop_embedded(settings)

    print(f"\n{args.alerts:,} alerts x {len(RECIPIENTS)} recipients, receiver drops "
          f"{args.drop_rate:.0%} of requests (HTTP 503); plan + render + store: {plan_seconds:.1f}s\n")
    print("| implementation | messages | seconds | messages/s | dropped requests | attempts recorded "
          "| delivered once | lost | duplicated |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sent, seconds, failed, recorded, counts in rows:
        print(f"| {name} | {sent:,} | {seconds:,.1f} | {sent / seconds:,.0f} | {failed:,} | "
              f"{recorded:,} | {counts['once']:,} | {counts['lost']} | {counts['duplicated']} |")
        assert counts["lost"] == counts["duplicated"] == counts["unexpected"] == 0, counts
        assert counts["once"] == sent and recorded == sent + failed, (counts, recorded, failed)
    assert dead == 0, f"{dead} notifications not delivered in the last run"


if __name__ == "__main__":
    main()
