"""Real apprise deliveries to the local HTTP receiver (127.0.0.1 only, no internet)."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime

import pytest

from assets.notify.delivery import deliver
from assets.notify.rendering import body_format_for, build_context, render, template_for
from assets.notify.routing import AlertEvent, Preference, Recipient, plan_deliveries
from resources.local_receiver import LocalReceiver

PASSWORD = "s3cretpw"


@pytest.fixture
def inbox(tmp_path):
    with LocalReceiver(log_path=tmp_path / "inbox.jsonl") as receiver:
        yield receiver


def secret_url(receiver: LocalReceiver) -> str:
    return f"json://planner:{PASSWORD}@127.0.0.1:{receiver.port}/inbox"


def assert_reveals_nothing(result, url: str) -> None:
    text = repr(result)
    for secret in (url, PASSWORD, "planner:", url.split("://", 1)[1]):
        assert secret not in text


def test_notification_arrives_with_title_and_body(inbox, tmp_path):
    result = deliver(inbox.url, "[HIGH] Stockout risk", "Order 54 units by 2026-02-27", "text")

    assert result.ok and result.status == "success" and result.error is None
    assert result.elapsed_ms >= 0 and result.url_id and "127.0.0.1" not in result.url_id
    [payload] = inbox.received
    assert payload["title"] == "[HIGH] Stockout risk"
    assert payload["message"] == "Order 54 units by 2026-02-27"
    assert payload["type"] == "info"
    lines = (tmp_path / "inbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == payload


def test_server_error_fails_without_leaking_credentials_then_retry_succeeds(inbox, caplog):
    url = secret_url(inbox)
    inbox.fail_next(1)
    with caplog.at_level(logging.DEBUG):
        failed = deliver(url, "subject", "body", "text")

    assert not failed.ok and failed.status == "failure"
    assert failed.error and "500" in failed.error
    assert_reveals_nothing(failed, url)
    assert inbox.received == []
    # apprise's own logging never reached the application's handlers.
    assert not [r for r in caplog.records if r.name.startswith(("apprise", "urllib3"))]
    assert PASSWORD not in caplog.text
    assert logging.getLogger("apprise").propagate is True  # restored afterwards

    retried = deliver(url, "subject", "body", "text")
    assert retried.ok and retried.url_id == failed.url_id
    assert [p["title"] for p in inbox.received] == ["subject"]


def test_connection_refused_is_a_clean_failure():
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"json://planner:{PASSWORD}@127.0.0.1:{port}/inbox"

    result = deliver(url, "subject", "body", "text", timeout_seconds=10)

    assert not result.ok and result.status == "failure"
    assert result.error and "connection" in result.error.lower()
    assert_reveals_nothing(result, url)


def test_planned_alert_is_rendered_and_delivered_end_to_end(inbox):
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    planner = Recipient(id="u1", name="Anna Planner", timezone="Europe/Berlin")
    preference = Preference("u1", {"shortage"}, "high", inbox.url)
    alert = AlertEvent(
        alert_id=7,
        dedup_key="shortage:42:WH-MAIN",
        alert_type="shortage",
        severity="critical",
        item_id=42,
        location_id="WH-MAIN",
        message="BLT-M8-30 (Hex bolt M8x30) at WH-MAIN: projected stockout on 2026-03-05",
        details={
            "sku": "BLT-M8-30",
            "condition": "stockout",
            "stockout_date": "2026-03-05",
            "days_until_stockout": 3,
            "order_by_date": "2026-02-20",
            "order_overdue": True,
            "shortfall_qty": 54.0,
            "lead_time_days": 13,
            "on_hand": 20.0,
        },
        status="open",
        event="raised",
    )
    [delivery] = plan_deliveries([alert], [planner], [preference], now)
    body_format = body_format_for(delivery.channel_kind)
    subject, body = render(
        *template_for(alert.alert_type, delivery.channel_kind),
        build_context(delivery.event, delivery.recipient),
        html=body_format == "html",
    )

    result = deliver(delivery.channel_url, subject, body, body_format)

    assert result.ok
    [payload] = inbox.received
    assert payload["title"] == "[CRITICAL] Stockout risk: BLT-M8-30 at WH-MAIN on 2026-03-05"
    assert "Order by: 2026-02-20 (overdue)" in payload["message"]


def test_receiver_can_listen_on_a_chosen_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalReceiver(port=port, path="planner") as receiver:
        assert receiver.url == f"json://127.0.0.1:{port}/planner"
        assert deliver(receiver.url, "hello", "inbox", "markdown").ok
        assert receiver.received[0]["title"] == "hello"
