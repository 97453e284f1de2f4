"""Routing, rendering and delivery helpers (no network)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pytest

from assets.alerts.rules import ItemContext, SupplyContext, evaluate_item_alerts
from assets.forecast.projection import project_inventory
from assets.notify.delivery import backoff_delay, deliver, mask_url
from assets.notify.rendering import (
    DEFAULT_TEMPLATES,
    TemplateRenderError,
    TemplateSecurityError,
    body_format_for,
    build_context,
    render,
    template_for,
)
from assets.notify.routing import (
    AlertEvent,
    Preference,
    Recipient,
    channel_kind,
    in_quiet_hours,
    plan_deliveries,
    quiet_hours_end,
)

WEBHOOK = "json://planner:s3cretpw@inbox.example.com/hooks/forgecast"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
BERLIN = Recipient(id="u1", name="Anna Planner", timezone="Europe/Berlin", role="planner")
LONDON = Recipient(id="u2", name="Ben Buyer", timezone="UTC", role="buyer")
NIGHT = (time(22, 0), time(7, 0))


def event(**changes) -> AlertEvent:
    base = AlertEvent(
        alert_id=101,
        dedup_key="shortage:42:WH-MAIN",
        alert_type="shortage",
        severity="high",
        item_id=42,
        location_id="WH-MAIN",
        message="BLT-M8-30 (Hex bolt M8x30) at WH-MAIN: projected stockout on 2026-03-09",
        details={"sku": "BLT-M8-30", "condition": "stockout", "stockout_date": "2026-03-09"},
        status="open",
        event="raised",
        last_notified_at=None,
    )
    return replace(base, **changes)


def pref(recipient: Recipient = BERLIN, url: str = WEBHOOK, **changes) -> Preference:
    return Preference(
        recipient_id=recipient.id,
        alert_types=changes.pop("alert_types", None),
        min_severity=changes.pop("min_severity", "low"),
        channel_url=url,
        **changes,
    )


def plan(events, preferences, now, recipients=(BERLIN, LONDON)):
    return plan_deliveries(list(events), list(recipients), list(preferences), now)


NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


# --- channel kinds and secrecy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (WEBHOOK, "json"),
        ("jsons://host/path", "json"),
        ("mailtos://user:pw@mail.example.com?to=ops@example.com", "mailto"),
        (SLACK, "slack"),
        ("SLACK://a/b/c", "slack"),
        ("ntfy://topic", "ntfy"),
    ],
)
def test_channel_kind_from_scheme(url, kind):
    assert channel_kind(url) == kind
    assert pref(url=url).channel_kind == kind


def test_channel_kind_requires_a_scheme():
    with pytest.raises(ValueError):
        channel_kind("inbox.example.com/hook")


def test_channel_url_never_appears_in_reprs():
    preference = pref()
    delivery = plan([event()], [preference], NOON)[0]
    for text in (repr(preference), repr(delivery), str(delivery)):
        assert "s3cretpw" not in text and "inbox.example.com" not in text


def test_bad_settings_fail_fast():
    with pytest.raises(ValueError):
        Recipient(id="x", name="X", timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        pref(min_severity="urgent")


# --- filters ------------------------------------------------------------------------------


def test_severity_and_type_filters():
    prefs = [
        pref(BERLIN, min_severity="critical"),
        pref(LONDON, alert_types={"shortage"}, min_severity="medium"),
    ]
    deliveries = plan([event(severity="high"), event(alert_type="excess", severity="low")], prefs, NOON)
    assert [(d.recipient.id, d.event.alert_type) for d in deliveries] == [("u2", "shortage")]
    assert deliveries[0].preference_index == 1
    assert deliveries[0].channel_url == WEBHOOK


def test_resolved_only_when_asked_for():
    resolved = event(event="resolved", status="resolved")
    assert plan([resolved], [pref()], NOON) == []
    assert len(plan([resolved], [pref(notify_on_resolve=True)], NOON)) == 1


def test_unchanged_repeats_once_the_interval_has_passed():
    prefs = [pref(repeat_interval_hours=24)]
    recent = event(event="unchanged", last_notified_at=NOON - timedelta(hours=23))
    stale = event(event="unchanged", last_notified_at=NOON - timedelta(hours=25))
    never = event(event="unchanged", last_notified_at=None)
    assert plan([recent], prefs, NOON) == []
    assert len(plan([stale], prefs, NOON)) == 1
    assert len(plan([never], prefs, NOON)) == 1
    assert plan([stale], [pref(repeat_interval_hours=0)], NOON) == []


def test_unknown_recipients_are_skipped_and_bad_input_rejected():
    stranger = Recipient(id="zz", name="Nobody")
    assert plan([event()], [pref(stranger)], NOON) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        plan([event()], [pref()], datetime(2026, 1, 15, 12, 0))
    with pytest.raises(ValueError, match="unknown event"):
        plan([event(event="new")], [pref()], NOON)  # revision 0009 renamed it 'raised'


def test_two_preferences_to_the_same_channel_send_once():
    deliveries = plan([event()], [pref(min_severity="low"), pref(min_severity="medium")], NOON)
    assert len(deliveries) == 1


# --- quiet hours ----------------------------------------------------------------------------


def test_in_quiet_hours_plain_wrapping_and_empty():
    assert in_quiet_hours(time(23, 30), NIGHT)
    assert in_quiet_hours(time(6, 59), NIGHT)
    assert not in_quiet_hours(time(7, 0), NIGHT)
    assert not in_quiet_hours(time(21, 59), NIGHT)
    lunch = (time(12, 0), time(13, 0))
    assert in_quiet_hours(time(12, 30), lunch) and not in_quiet_hours(time(13, 0), lunch)
    assert not in_quiet_hours(time(3, 0), (time(8, 0), time(8, 0)))
    assert not in_quiet_hours(time(3, 0), None)


def test_quiet_hours_wrap_midnight_in_berlin_but_not_yet_in_utc():
    now = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)  # 22:30 in Berlin (CET), 21:30 UTC
    deliveries = plan([event()], [pref(BERLIN, quiet_hours=NIGHT), pref(LONDON, quiet_hours=NIGHT)], now)
    send_after = {d.recipient.id: d.send_after for d in deliveries}
    assert send_after["u1"] == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)  # 07:00 CET next day
    assert send_after["u2"] == now


def test_quiet_hours_end_same_morning_and_in_summer_time():
    early = datetime(2026, 1, 16, 5, 30, tzinfo=UTC)  # 06:30 CET
    assert quiet_hours_end(early, "Europe/Berlin", NIGHT) == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 21, 30, tzinfo=UTC)  # 23:30 CEST
    assert quiet_hours_end(summer, "Europe/Berlin", NIGHT) == datetime(2026, 7, 16, 5, 0, tzinfo=UTC)
    assert quiet_hours_end(NOON, "Europe/Berlin", NIGHT) is None


def test_critical_overrides_quiet_hours():
    now = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # midnight in Berlin
    [delivery] = plan([event(severity="critical")], [pref(BERLIN, quiet_hours=NIGHT)], now)
    assert delivery.send_after == now


# --- idempotency ------------------------------------------------------------------------------


def keys(events, preferences, now=NOON):
    return [d.idempotency_key for d in plan(events, preferences, now)]


def test_idempotency_key_is_stable_across_calls():
    assert keys([event()], [pref()]) == keys([event()], [pref()])
    later_same_run = NOON + timedelta(hours=3)
    assert keys([event()], [pref()]) == keys([event()], [pref()], later_same_run)


def test_idempotency_key_differs_per_recipient_channel_and_occurrence():
    base = keys([event()], [pref()])[0]
    others = [
        keys([event()], [pref(LONDON)])[0],
        keys([event()], [pref(url=SLACK)])[0],
        keys([event()], [pref(url=WEBHOOK + "2")])[0],
        keys([event(event="escalated")], [pref()])[0],
        keys([event(event="escalated", severity="critical")], [pref()])[0],
        keys([event(alert_id=102)], [pref()])[0],
    ]
    assert len({base, *others}) == 7


def test_repeat_key_changes_once_per_repeat_window():
    prefs = [pref(repeat_interval_hours=24)]
    stale = event(event="unchanged", last_notified_at=NOON - timedelta(days=2))
    first = keys([stale], prefs, NOON)
    assert keys([stale], prefs, NOON + timedelta(hours=1)) == first
    assert keys([stale], prefs, NOON + timedelta(hours=24)) != first


def test_idempotency_key_does_not_contain_the_url():
    [key] = keys([event()], [pref()])
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    for secret in (WEBHOOK, "s3cretpw", "planner", "inbox.example.com"):
        assert secret not in key


# --- rendering --------------------------------------------------------------------------------


def realistic_events() -> list[AlertEvent]:
    """Events carrying exactly the details the alert rules produce."""
    today = date(2026, 3, 2)
    item = ItemContext(
        42, "BLT-M8-30", "Hex bolt <M8x30> & washer", "WH-MAIN", 10, 40.0, 160.0, 2.5, 100.0, 12.0
    )
    forecast = pd.DataFrame(
        {"target_date": [today + timedelta(days=i) for i in range(20)], "yhat": [14.0] * 20}
    )
    # Lag-1 forecasts of 12 a day, actuals 10/14 for 19 weeks, then a week at 40.
    recent = pd.DataFrame({"target_date": [today - timedelta(days=140 - i) for i in range(140)],
                           "actual": [10.0, 14.0] * 66 + [10.0] + [40.0] * 7, "yhat": 12.0,
                           "yhat_lower": 6.0, "yhat_upper": 18.0})
    alerts = evaluate_item_alerts(item, project_inventory(100, forecast, None), None, today)
    # (The anomaly rides on the below-safety-stock night: a stockout would inhibit it.)
    alerts += evaluate_item_alerts(
        item, project_inventory(100, forecast.assign(yhat=6.0), None), recent, today
    )
    alerts += evaluate_item_alerts(replace(item, on_hand=5000), None, None, today)
    late = {"reference": "4500017/10", "supply_type": "purchase", "is_firm": True,
            "expected_date": today - timedelta(days=9), "quantity": 120.0}
    alerts += [a for a in evaluate_item_alerts(replace(item, on_hand=5000), None, None, today,
                                               supply=SupplyContext((late,)))
               if a.alert_type == "late_supply"]
    return [
        AlertEvent(
            i,
            a.dedup_key,
            a.alert_type,
            a.severity,
            a.item_id,
            a.location_id,
            a.message,
            a.details,
            "open",
            "raised",
        )
        for i, a in enumerate(alerts)
    ]


def _name(event: AlertEvent) -> str:
    return event.details.get("condition", event.alert_type)


def test_every_default_template_renders_with_rule_details():
    events = {_name(e): e for e in realistic_events()}
    assert set(events) == {"stockout", "demand_anomaly", "below_safety_stock", "excess",
                           "late_supply"}
    for (alert_type, kind), (subject_t, body_t) in DEFAULT_TEMPLATES.items():
        html = body_format_for(kind) == "html"
        for event_ in (e for e in events.values() if e.alert_type == alert_type):
            subject, body = render(subject_t, body_t, build_context(event_, BERLIN), html)
            assert subject.startswith("[") and "BLT-M8-30" in subject and "\n" not in subject
            assert "WH-MAIN" in subject
            assert "None" not in body and "BLT-M8-30" in body
    stockout_text = render(*template_for("shortage", "json"), build_context(events["stockout"]),
                           False)
    assert stockout_text[0].startswith("[CRITICAL] Stockout risk: BLT-M8-30 at WH-MAIN on ")
    assert "Order by: 2026-02-27 (overdue)" in stockout_text[1]
    assert "Consumed by: its own forecast" in stockout_text[1]
    below_text = render(*template_for("shortage", "json"),
                        build_context(events["below_safety_stock"]), False)
    assert below_text[0].startswith("[MEDIUM] Below safety stock: BLT-M8-30 at WH-MAIN from ")
    assert "Quantity to restore: " in below_text[1] and "Order by" not in below_text[1]
    late_text = render(*template_for("late_supply", "json"), build_context(events["late_supply"]),
                       False)[1]
    assert "4500017/10 (purchase, 120.0 due 2026-02-21, 8 days late)" in late_text


def test_html_bodies_are_escaped_and_text_bodies_are_not():
    context = build_context(realistic_events()[0])
    _, html_body = render(*template_for("shortage", "mailto"), context, html=True)
    _, text_body = render(*template_for("shortage", "json"), context, html=False)
    _, md_body = render(*template_for("shortage", "slack"), context, html=False)
    assert "Hex bolt &lt;M8x30&gt; &amp; washer" in html_body
    assert "<table>" in html_body  # the template's own markup is not escaped
    assert "Hex bolt <M8x30> & washer" in text_body
    assert md_body.startswith("*")


def test_resolved_event_is_marked():
    resolved = replace(realistic_events()[0], event="resolved", status="resolved")
    subject, body = render(*template_for("shortage", "json"), build_context(resolved), False)
    assert subject.startswith("[RESOLVED]") and body.startswith("Resolved: ")


@pytest.mark.parametrize(("event_name", "subject_start", "body_start"), [
    ("de-escalated", "[EASED TO MEDIUM] ", "Less urgent now: "),
    ("escalated", "[MEDIUM] ", "Worse: "),
    ("reopened", "[MEDIUM] ", "Back again: "),
    ("raised", "[MEDIUM] ", "BLT-M8-30"),
])
def test_each_event_has_its_wording(event_name, subject_start, body_start):
    eased = replace(realistic_events()[0], event=event_name, severity="medium")
    subject, body = render(*template_for("shortage", "json"), build_context(eased), False)
    assert subject.startswith(subject_start) and body.startswith(body_start)


def test_unknown_type_and_kind_fall_back_to_generic_templates():
    subject_t, body_t = template_for("supplier_late", "ntfy")
    ev = event(alert_type="supplier_late", details={"sku": "BLT-M8-30"})
    subject, body = render(subject_t, body_t, build_context(ev), False)
    assert subject == "[HIGH] Supplier late: BLT-M8-30 at WH-MAIN"
    assert body.startswith(ev.message)
    assert body_format_for("mailto") == "html" and body_format_for("ntfy") == "text"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ message.__init__.__globals__ }}",
        "{{ details.update({'sku': 'hacked'}) }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_unsafe_templates_raise_a_clear_error(template):
    context = build_context(event())
    with pytest.raises(TemplateSecurityError, match="not allowed"):
        render("subject", template, context, html=False)
    assert context["details"]["sku"] == "BLT-M8-30"


def test_broken_template_raises_render_error_and_subject_is_one_line():
    with pytest.raises(TemplateRenderError):
        render("{{ oops", "body", {}, html=False)
    subject, _ = render("line one\r\nBcc: evil@example.com", "", {}, html=False)
    assert subject == "line one Bcc: evil@example.com"


def test_context_never_contains_the_channel_url():
    delivery = plan([event()], [pref()], NOON)[0]
    context = build_context(delivery.event, delivery.recipient)
    assert "s3cretpw" not in repr(context) and context["recipient"]["name"] == "Anna Planner"


# --- delivery helpers --------------------------------------------------------------------------


def test_mask_url():
    assert mask_url(WEBHOOK) == "json://***"
    assert mask_url(SLACK) == "slack://***"
    assert mask_url("no scheme here") == "***"


class CeilingRng:
    """Returns the top of the jitter range, exposing the exponential ceiling."""

    def uniform(self, low, high):
        return high


def test_backoff_is_exponential_capped_and_fully_jittered():
    ceilings = [backoff_delay(n, rng=CeilingRng()) for n in range(1, 9)]
    assert ceilings == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_delay(500, rng=CeilingRng()) == 3600  # no overflow
    rng = random.Random(3)
    delays = [backoff_delay(4, base_seconds=10, cap_seconds=100, rng=rng) for _ in range(200)]
    assert all(0 <= d <= 80 for d in delays) and min(delays) < 10 and max(delays) > 70
    with pytest.raises(ValueError):
        backoff_delay(0)


def test_invalid_url_result_reveals_nothing():
    url = "nosuchservice://admin:hunter22@10.1.2.3/secret-token-abcdef"
    result = deliver(url, "subject", "body", "text")
    assert not result.ok and result.status == "invalid_url"
    for secret in ("hunter22", "admin", "secret-token-abcdef", "10.1.2.3", url):
        assert secret not in repr(result)
    assert result.url_id.startswith("sha256:")


def test_deliver_rejects_unknown_body_format():
    with pytest.raises(ValueError):
        deliver(WEBHOOK, "s", "b", "rtf")
