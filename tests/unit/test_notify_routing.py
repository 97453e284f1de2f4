"""Digests, filters, per-preference history, episodes, templates and channel clients
(pure logic, no database, no network)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from assets.notify.admin import parse_quiet_hours
from assets.notify.delivery import ChannelClients, notify_type_for
from assets.notify.rendering import (
    SEEDED_ALERT_TYPES,
    SEEDED_KINDS,
    build_context,
    default_template_rows,
    render,
    template_for,
)
from assets.notify.routing import (
    AlertEvent,
    Notice,
    Preference,
    Recipient,
    channel_fingerprint,
    next_digest_at,
    plan_deliveries,
)
from resources.errors import ValidationError

URL = "json://planner:s3cretpw@inbox.example.com/hooks/forgecast"
ANNA = Recipient(id=1, name="Anna", timezone="Europe/Berlin")
NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def event(**changes) -> AlertEvent:
    base = AlertEvent(alert_id=7, dedup_key="shortage:42:WH", alert_type="shortage",
                      severity="high", item_id=42, location_id="WH", message="SKU-42 at WH",
                      details={"sku": "SKU-42", "condition": "stockout"}, status="open",
                      event="raised",
                      episode="2026-01-10T02:00:00+00:00", item_category="FASTENERS")
    return replace(base, **changes)


def pref(**changes) -> Preference:
    base = {"recipient_id": 1, "alert_types": None, "min_severity": "low", "channel_url": URL, "id": 11}
    return Preference(**{**base, **changes})


def test_next_digest_at_is_the_next_local_hour():
    # 12:00 UTC = 13:00 in Berlin: today's 08:00 has passed, tomorrow's is next.
    assert next_digest_at(NOON, "Europe/Berlin", 8) == datetime(2026, 1, 16, 7, 0, tzinfo=UTC)
    assert next_digest_at(NOON, "Europe/Berlin", 18) == datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
    exactly = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
    assert next_digest_at(exactly, "Europe/Berlin", 18) == exactly + timedelta(days=1)
    summer = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # 05:00 CEST
    assert next_digest_at(summer, "Europe/Berlin", 8) == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def test_digest_items_wait_for_the_digest_even_critical_and_in_quiet_hours():
    night = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)
    digest = pref(delivery_mode="digest", digest_hour=8, quiet_hours=(time(22), time(7)))
    planned = plan_deliveries([event(severity="critical"), event(alert_id=8, dedup_key="x")],
                              [ANNA], [digest], night)
    assert {d.send_after for d in planned} == {datetime(2026, 1, 16, 7, 0, tzinfo=UTC)}
    assert {d.delivery_mode for d in planned} == {"digest"} and planned[0].preference_id == 11
    with pytest.raises(ValueError):
        pref(delivery_mode="weekly")


def test_category_and_location_filters():
    assert plan_deliveries([event()], [ANNA], [pref(item_category="FASTENERS")], NOON)
    assert not plan_deliveries([event()], [ANNA], [pref(item_category="PAINT")], NOON)
    assert not plan_deliveries([event(item_category=None)], [ANNA], [pref(item_category="PAINT")], NOON)
    assert plan_deliveries([event()], [ANNA], [pref(location_id="WH")], NOON)
    assert not plan_deliveries([event()], [ANNA], [pref(location_id="DC-2")], NOON)


def test_history_drives_reminders_per_preference_and_resolutions():
    unchanged = event(event="unchanged")
    told_recently = {("7", "11"): Notice(NOON - timedelta(hours=3))}
    told_long_ago = {("7", "11"): Notice(NOON - timedelta(hours=30))}
    assert not plan_deliveries([unchanged], [ANNA], [pref()], NOON, told_recently)
    assert plan_deliveries([unchanged], [ANNA], [pref()], NOON, told_long_ago)
    assert plan_deliveries([unchanged], [ANNA], [pref()], NOON, {})  # a new preference
    # Another preference's notice does not count for this one.
    assert plan_deliveries([unchanged], [ANNA], [pref(id=12)], NOON, told_recently)

    resolved = event(event="resolved", status="resolved")
    asking = pref(notify_on_resolve=True)
    assert not plan_deliveries([resolved], [ANNA], [asking], NOON, {})  # never told: silence
    assert plan_deliveries([resolved], [ANNA], [asking], NOON, told_recently)
    assert not plan_deliveries([resolved], [ANNA], [pref()], NOON, told_recently)
    # A resolution is announced once, even if its key changed since (revision 0009).
    told_resolved = {("7", "11"): Notice(NOON - timedelta(hours=3), "resolved")}
    assert not plan_deliveries([resolved], [ANNA], [asking], NOON, told_resolved)


def test_a_de_escalation_goes_only_to_those_who_asked_for_resolutions_and_were_told():
    eased = event(event="de-escalated", severity="medium")
    told = {("7", "11"): Notice(NOON - timedelta(hours=3), "raised")}
    asking = pref(notify_on_resolve=True)
    assert not plan_deliveries([eased], [ANNA], [pref()], NOON, told)
    assert not plan_deliveries([eased], [ANNA], [asking], NOON, {})  # never told: silence
    [delivery] = plan_deliveries([eased], [ANNA], [asking], NOON, told)
    # Each step down is its own news: a later one to another severity has another key.
    lower = plan_deliveries([replace(eased, severity="low")], [ANNA], [asking], NOON, told)
    assert delivery.idempotency_key != lower[0].idempotency_key


@pytest.mark.parametrize("news", ["raised", "reopened", "escalated"])
def test_news_goes_to_every_matching_preference_at_once(news):
    told = {("7", "11"): Notice(NOON - timedelta(hours=3), "raised")}
    assert plan_deliveries([event(event=news)], [ANNA], [pref()], NOON, told)


def test_a_raised_alert_keeps_the_key_it_had_when_the_event_was_called_new():
    # The key of a notice stored before revision 0009 (event 'new'): sha256 over the same
    # parts, so planning after the upgrade finds it and sends nothing again.
    import hashlib

    [delivery] = plan_deliveries([event()], [ANNA], [pref()], NOON)
    parts = ("shortage:42:WH", "new", "1", channel_fingerprint(URL),
             "7:2026-01-10T02:00:00+00:00:high")
    assert delivery.idempotency_key == hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def test_a_new_episode_of_the_same_alert_has_a_new_key():
    first = plan_deliveries([event()], [ANNA], [pref()], NOON)[0].idempotency_key
    same = plan_deliveries([event()], [ANNA], [pref()], NOON + timedelta(days=2))[0].idempotency_key
    reopened = plan_deliveries([event(episode="2026-01-20T02:00:00+00:00")], [ANNA], [pref()],
                               NOON)[0].idempotency_key
    assert first == same != reopened


def test_a_stored_fingerprint_identifies_the_channel_without_the_url():
    stored = pref(channel_url="", channel_kind="json", fingerprint=channel_fingerprint(URL))
    assert (plan_deliveries([event()], [ANNA], [stored], NOON)[0].idempotency_key
            == plan_deliveries([event()], [ANNA], [pref()], NOON)[0].idempotency_key)


def test_notify_types():
    assert notify_type_for("raised", "critical") == "failure"
    assert notify_type_for("de-escalated", "medium") == "warning"
    assert notify_type_for("escalated", "high") == "warning"
    assert notify_type_for("unchanged", "low") == "info"
    assert notify_type_for("resolved", "critical") == "success"
    assert notify_type_for("digest", None) == notify_type_for("test", None) == "info"


def test_quiet_hours_parsing():
    assert parse_quiet_hours("22:00-07:00") == (time(22), time(7))
    assert parse_quiet_hours(" 12:30 - 13:15 ") == (time(12, 30), time(13, 15))
    assert parse_quiet_hours("none") is None and parse_quiet_hours(None) is None
    with pytest.raises(ValidationError):
        parse_quiet_hours("at night")


def test_templates_skip_facts_an_alert_does_not_carry():
    sparse = event(details={"sku": "SKU-42", "condition": "stockout", "stockout_date": "2026-03-09"})
    for kind in ("json", "mailto", "slack"):
        subject, body = render(*template_for("shortage", kind), build_context(sparse), kind == "mailto")
        assert "2026-03-09" in body and "Shortfall" not in body and "None" not in body
        assert subject.startswith("[HIGH] Stockout risk: SKU-42")


def test_digest_and_test_templates():
    items = [{"severity": "critical", "event": "raised", "message": "Bolt <M8> & nut"},
             {"severity": "low", "event": "resolved", "message": "Paint"}]
    context = {"items": items, "counts": {"critical": 1}, "date": "2026-01-16",
               "recipient": {"name": "Anna"}, "channel_kind": "mailto"}
    subject, html = render(*template_for("digest", "mailto"), context, html=True)
    assert subject == "[Forgecast] Daily digest 2026-01-16: 2 alert updates (1 critical)"
    assert "Bolt &lt;M8&gt; &amp; nut" in html and "<table>" in html
    _, text = render(*template_for("digest", "json"), context, html=False)
    assert "- [CRITICAL] raised: Bolt <M8> & nut" in text
    subject, _ = render(*template_for("test", "slack"), context, html=False)
    assert subject == "[Forgecast] Test message for Anna"


def test_default_template_rows_cover_every_type_and_format():
    rows = default_template_rows()
    assert {(r[0], r[1]) for r in rows} == {(t, k) for t in SEEDED_ALERT_TYPES for k in SEEDED_KINDS}
    assert {r[1]: r[4] for r in rows} == SEEDED_KINDS


def test_channel_clients_are_reused_per_url_and_thread():
    clients = ChannelClients()
    first = clients.get(URL)
    assert first is not None and clients.get(URL) is first
    assert clients.get("nosuchservice://x/y") is None
    other: list = []
    worker = threading.Thread(target=lambda: other.append(clients.get(URL)))
    worker.start()
    worker.join()
    assert other[0] is not None and other[0] is not first
    assert clients.supports_attachments(URL)
