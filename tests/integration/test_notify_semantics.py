"""What gets sent when: raised / escalated / de-escalated / unchanged / resolved per
preference, repeat interval, superseding, filters, and no double send under re-runs and
overlapping runs, on the session's PostgreSQL with a real local HTTP receiver."""

from __future__ import annotations

import threading
from datetime import time, timedelta

import pytest
from notify_support import future_day

from assets.notify.planning import plan_and_enqueue
from assets.notify.sending import notify_once, send_due
from resources.database import connect
from resources.local_receiver import LocalReceiver

# Planning joins the alerts to unified.manufacturing_items: the dbt tables must exist.
pytestmark = pytest.mark.usefixtures("unified_schema")


@pytest.fixture
def inbox():
    with LocalReceiver() as receiver:
        yield receiver


def url_for(inbox, env, name):
    path = f"/{env.tag}/{name}"
    return inbox.url_for("json", path), path


def titles(inbox, path):
    return [r.payload["title"] for r in inbox.requests if r.path == path]


def test_raised_escalated_unchanged_resolved_follow_the_preference(env, inbox):
    url, path = url_for(inbox, env, "lifecycle")
    quiet_url, quiet_path = url_for(inbox, env, "no-resolve")
    anna, ben = env.recipient("anna"), env.recipient("ben")
    env.pref(anna, url, notify_on_resolve=True, repeat_interval_hours=24)
    env.pref(ben, quiet_url, repeat_interval_hours=0)  # no reminders, no resolve notices
    alert = env.alert(severity="medium")
    t0 = future_day()

    env.run(t0)  # raised
    env.update_alert(alert, severity="high", last_event="escalated")
    env.run(t0 + timedelta(hours=1))  # escalated
    env.run(t0 + timedelta(hours=2))  # the same escalation again: nothing
    env.update_alert(alert, last_event="unchanged")
    env.run(t0 + timedelta(hours=12))  # unchanged inside the repeat interval: nothing
    env.run(t0 + timedelta(hours=26))  # 24 h after the escalation notice: one reminder
    env.run(t0 + timedelta(hours=27))  # still the same repeat window: nothing
    env.update_alert(alert, status="resolved", last_event="resolved")
    env.run(t0 + timedelta(hours=28))  # resolved: only to whoever asked
    env.run(t0 + timedelta(hours=29))

    assert [t.split("]")[0] + "]" for t in titles(inbox, path)] == [
        "[MEDIUM]", "[HIGH]", "[HIGH]", "[RESOLVED]"]
    assert [t.split("]")[0] + "]" for t in titles(inbox, quiet_path)] == ["[MEDIUM]", "[HIGH]"]
    events = [n["event"] for n in env.notifications(anna)]
    assert events == ["raised", "escalated", "unchanged", "resolved"]


def test_a_de_escalation_is_told_only_to_whoever_asked_for_resolutions(env, inbox):
    url, path = url_for(inbox, env, "eased")
    quiet_url, quiet_path = url_for(inbox, env, "eased-quiet")
    anna, ben = env.recipient("anna"), env.recipient("ben")
    env.pref(anna, url, notify_on_resolve=True)
    env.pref(ben, quiet_url)
    alert = env.alert(severity="critical")
    t0 = future_day()
    env.run(t0)
    env.update_alert(alert, severity="medium", last_event="de-escalated")
    env.run(t0 + timedelta(hours=1))
    env.run(t0 + timedelta(hours=2))  # the same step down again: nothing
    assert [t.split(" Stockout")[0] for t in titles(inbox, path)] == [
        "[CRITICAL]", "[EASED TO MEDIUM]"]
    assert len(titles(inbox, quiet_path)) == 1
    assert [n["event"] for n in env.notifications(anna)] == ["raised", "de-escalated"]


def test_a_reopened_alert_is_news_again(env, inbox):
    url, path = url_for(inbox, env, "reopen")
    anna = env.recipient()
    env.pref(anna, url)
    alert = env.alert()
    t0 = future_day()
    env.run(t0)
    env.update_alert(alert, status="resolved", last_event="resolved")
    env.run(t0 + timedelta(hours=1))
    # The alerts stage reopens it: same row, a new first_seen_at (a new episode).
    env.update_alert(alert, status="open", last_event="reopened", resolved_at=None,
                     first_seen_at=t0 + timedelta(hours=2))
    env.run(t0 + timedelta(hours=2))
    assert len(titles(inbox, path)) == 2


def test_a_warning_held_by_quiet_hours_is_superseded_by_its_escalation(env, inbox):
    url, path = url_for(inbox, env, "supersede")
    anna = env.recipient(timezone="UTC")
    env.pref(anna, url, quiet_hours=(time(22, 0), time(7, 0)))
    alert = env.alert(severity="high")
    night = future_day() - timedelta(hours=1)  # 23:00 UTC
    env.run(night)
    assert titles(inbox, path) == []
    env.update_alert(alert, severity="critical", last_event="escalated")
    env.run(night + timedelta(minutes=30))
    env.run(night + timedelta(hours=9), plan=False)  # quiet hours over
    assert [t[:10] for t in titles(inbox, path)] == ["[CRITICAL]"]
    statuses = {n["event"]: n["status"] for n in env.notifications()}
    assert statuses == {"raised": "superseded", "escalated": "sent"}


def test_news_of_an_alert_resolved_while_held_is_not_sent(env, inbox):
    url, path = url_for(inbox, env, "resolved-held")
    anna = env.recipient()
    env.pref(anna, url, quiet_hours=(time(22, 0), time(7, 0)), notify_on_resolve=True)
    alert = env.alert(severity="high")
    night = future_day() - timedelta(hours=1)
    env.run(night)
    env.update_alert(alert, status="resolved", last_event="resolved")
    env.run(night + timedelta(hours=9))
    # Never told it was open, so neither the stale warning nor a resolve notice goes out.
    assert titles(inbox, path) == []
    assert [n["status"] for n in env.notifications()] == ["superseded"]


def test_filters_type_severity_category_and_location(env, inbox):
    url, path = url_for(inbox, env, "filters")
    anna = env.recipient()
    # The old type name still works: it means shortage.
    env.pref(anna, url, alert_type="stockout", min_severity="high", item_category="FASTENERS")
    env.alert(item="A", details={"category": "FASTENERS"})  # matches
    env.alert(item="B", details={"category": "PAINT"})  # other category
    env.alert(item="C", severity="medium", details={"category": "FASTENERS"})  # too low
    env.alert(item="D", alert_type="excess", details={"category": "FASTENERS"})  # other type
    env.alert(item="E", details={"category": "FASTENERS"}, location=env.location + "-elsewhere")
    env.run(future_day())
    assert [t.split(": ")[1].split(" ")[0] for t in titles(inbox, path)] == ["SKU-A"]


def test_env_reference_channel_is_read_at_send_time(env, inbox, monkeypatch):
    url, path = url_for(inbox, env, "env")
    monkeypatch.setenv("FORGECAST_TEST_CHANNEL", url)
    anna = env.recipient()
    env.pref(anna, channel_env="FORGECAST_TEST_CHANNEL")
    stored = env.conn.execute("select channel_url_encrypted, channel_url_env from "
                              "notify.notification_preferences where recipient_id = %s",
                              (anna,)).fetchone()
    assert stored == (None, "FORGECAST_TEST_CHANNEL")
    env.alert(item="A")
    monkeypatch.delenv("FORGECAST_TEST_CHANNEL")
    t0 = future_day()
    env.run(t0)
    [note] = env.notifications()
    assert note["status"] == "failed" and "FORGECAST_TEST_CHANNEL is not set" in note["last_error"]
    monkeypatch.setenv("FORGECAST_TEST_CHANNEL", url)
    env.run(t0 + timedelta(hours=2), plan=False)
    assert len(titles(inbox, path)) == 1


def test_a_delivery_left_sending_by_a_lost_worker_is_dead_not_resent(env, inbox):
    url, path = url_for(inbox, env, "stale")
    anna = env.recipient()
    env.pref(anna, url)
    env.alert()
    t0 = future_day()
    plan_and_enqueue(env.conn, env.settings, now=t0)
    env.conn.execute("update notify.notifications set status = 'sending', "
                     "claimed_at = now() - interval '2 hours' where recipient_id = %s", (anna,))
    env.run(t0 + timedelta(hours=1))
    [note] = env.notifications()
    assert note["status"] == "dead" and "may already have been delivered" in note["last_error"]
    assert titles(inbox, path) == []


def test_rerunning_and_overlapping_runs_send_nothing_twice(env, settings):
    with LocalReceiver(delay_seconds=0.02) as slow:
        paths = []
        for name in ("anna", "ben", "carl"):
            url, path = url_for(slow, env, name)
            env.pref(env.recipient(name), url)
            paths.append(path)
        for i in range(40):
            env.alert(item=f"I{i}", severity="critical" if i % 5 == 0 else "high")
        t0 = future_day()
        errors = []

        def one_pass(offset_minutes: int) -> None:
            try:
                with connect(settings, autocommit=True) as conn:
                    notify_once(conn, settings, now=t0 + timedelta(minutes=offset_minutes))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=one_pass, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        one_pass(10)  # a re-executed run afterwards
        with connect(settings, autocommit=True) as conn:
            send_due(conn, settings, now=t0 + timedelta(hours=1))

        assert errors == []
        received = [(r.path, r.payload["title"]) for r in slow.requests if r.path in paths]
        assert len(received) == 120 and len(set(received)) == 120
    notes = env.notifications()
    assert len(notes) == 120 and {n["status"] for n in notes} == {"sent"}
    assert {n["attempts"] for n in notes} == {1}
