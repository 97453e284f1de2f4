"""Notifications delivered through apprise to real local receivers: an HTTP server
(json:// and form://) and an SMTP server (aiosmtpd, mailto://), both on loopback.

Each test runs whole notification passes (plan -> store -> claim -> send -> record) on
the session's PostgreSQL, moving 'now' forward to let backoff delays, quiet hours and
digest times pass."""

from __future__ import annotations

import base64
import socket
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from notify_support import future_day

from resources.local_receiver import LocalReceiver, LocalSmtpReceiver

PNG = b"\x89PNG\r\n\x1a\n" + b"forgecast-chart" * 20


@pytest.fixture
def inbox():
    with LocalReceiver() as receiver:
        yield receiver


def path_url(inbox: LocalReceiver, env, name: str, scheme: str = "json") -> tuple[str, str]:
    """A URL to a path only this test uses (other suites may share the port range)."""
    path = f"/{env.tag}/{name}"
    return inbox.url_for(scheme, path), path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_500_twice_then_200_is_delivered_exactly_once_after_retries(env, inbox):
    url, path = path_url(inbox, env, "retry")
    anna = env.recipient()
    env.pref(anna, url)
    env.alert()
    inbox.fail_next(2)
    t0 = future_day()

    env.run(t0)
    env.run(t0 + timedelta(hours=2), plan=False)  # backoff <= 2 min: due again
    env.run(t0 + timedelta(hours=4), plan=False)
    env.run(t0 + timedelta(hours=6))  # nothing left to send, nothing re-planned

    assert inbox.count_by_path()[path] == 1
    [note] = env.notifications()
    assert (note["status"], note["attempts"]) == ("sent", 3)
    attempts = env.attempts(note["id"])
    assert [a[1] for a in attempts] == ["failed", "failed", "sent"]
    assert "500" in attempts[0][3] and attempts[2][3] is None
    assert all(a[4] for a in attempts)  # apprise's url id recorded, not the URL


def test_a_dead_channel_beside_a_working_one_leaves_the_working_one_delivered(env, inbox):
    url, path = path_url(inbox, env, "working")
    anna = env.recipient()
    working = env.pref(anna, url)
    broken = env.pref(anna, f"json://bot:hunter22@127.0.0.1:{closed_port()}/hook")
    env.alert()
    t0 = future_day()

    for hour in range(0, 12, 2):  # max 5 attempts, backoff capped at 1 h
        env.run(t0 + timedelta(hours=hour))

    by_pref = {n["preference_id"]: n for n in env.notifications()}
    assert by_pref[working]["status"] == "sent" and by_pref[working]["attempts"] == 1
    assert by_pref[broken]["status"] == "dead"
    assert by_pref[broken]["attempts"] == env.settings.notify_max_attempts
    assert "connection" in by_pref[broken]["last_error"].lower()
    assert "hunter22" not in by_pref[broken]["last_error"]
    assert inbox.count_by_path()[path] == 1


def test_quiet_hours_hold_a_warning_until_they_end_but_not_a_critical_alert(env, inbox):
    url, path = path_url(inbox, env, "quiet")
    anna = env.recipient(timezone="Europe/Berlin")
    env.pref(anna, url, quiet_hours=(time(22, 0), time(7, 0)))
    env.alert(item="W", severity="high")
    env.alert(item="C", severity="critical")
    day = future_day()
    berlin_midnight = day - timedelta(hours=1)  # 00:00 in Berlin (UTC+1 in winter, +2 summer)
    local_offset = berlin_midnight.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    seven_local = day + timedelta(hours=7) - local_offset  # 07:00 Berlin, in UTC

    env.run(berlin_midnight)
    titles = [p["title"] for p in (r.payload for r in inbox.requests) if p]
    assert inbox.count_by_path()[path] == 1 and titles[0].startswith("[CRITICAL]")

    env.run(seven_local - timedelta(minutes=30), plan=False)
    assert inbox.count_by_path()[path] == 1  # still quiet

    env.run(seven_local, plan=False)
    assert inbox.count_by_path()[path] == 2
    assert inbox.requests[-1].payload["title"].startswith("[HIGH]")
    assert inbox.requests[-1].payload["type"] == "warning"
    assert inbox.requests[0].payload["type"] == "failure"  # critical


def test_a_digest_groups_a_days_alerts_into_one_message(env, inbox):
    url, path = path_url(inbox, env, "digest")
    anna = env.recipient()
    env.pref(anna, url, delivery_mode="digest", digest_hour=8)
    day = future_day()
    env.alert(item="A", severity="medium")
    env.alert(item="B", severity="critical", details={"condition": "below_safety_stock"})
    env.run(day + timedelta(hours=9))
    env.alert(item="C", severity="low", alert_type="excess")
    env.run(day + timedelta(hours=15))
    env.run(day + timedelta(hours=23))
    assert inbox.count_by_path()[path] == 0  # nothing before the digest hour

    env.run(day + timedelta(days=1, hours=8))
    env.run(day + timedelta(days=1, hours=9))  # the digest is not sent twice

    assert inbox.count_by_path()[path] == 1
    [digest] = [r.payload for r in inbox.requests if r.path == path]
    assert "3 alert updates" in digest["title"] and "(1 critical)" in digest["title"]
    for item in ("SKU-A", "SKU-B", "SKU-C"):
        assert item in digest["message"]
    assert digest["message"].index("SKU-B") < digest["message"].index("SKU-A")  # critical first
    notes = env.notifications()
    parent = [n for n in notes if n["event"] == "digest"]
    items = [n for n in notes if n["delivery_mode"] == "digest"]
    assert len(parent) == 1 and parent[0]["status"] == "sent"
    assert len(items) == 3 and {n["status"] for n in items} == {"sent"}
    assert {n["digest_id"] for n in items} == {parent[0]["id"]}


def test_email_carries_the_chart_and_an_html_body_with_user_text_escaped(env, tmp_path):
    chart = tmp_path / "stockout.png"
    chart.write_bytes(PNG)
    with LocalSmtpReceiver(user="mailer", password="smtp-s3cret") as smtp:
        anna = env.recipient()
        env.pref(anna, smtp.url(to="anna@example.com"))
        env.alert(message='Bolt <script>alert("x")</script> & Co: stockout',
                  details={"chart_path": str(chart), "stockout_date": "2026-03-09",
                           "days_until_stockout": 4, "order_by_date": "2026-02-27",
                           "shortfall_qty": 54.0, "lead_time_days": 13, "on_hand": 20.0})
        env.run(future_day())
        [mail] = smtp.messages

    assert mail["To"] == "anna@example.com"
    assert mail["Subject"].startswith("[HIGH] Stockout risk: SKU-I-1")
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html and "&amp; Co" in html
    assert "<table>" in html  # the template's own markup is kept
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "stockout.png"
    assert attachment.get_content() == PNG
    [note] = env.notifications()
    assert note["status"] == "sent"


def test_json_and_form_channels_get_text_bodies_and_the_chart(env, inbox, tmp_path):
    chart = tmp_path / "chart.png"
    chart.write_bytes(PNG)
    json_url, json_path = path_url(inbox, env, "json")
    form_url, form_path = path_url(inbox, env, "form", scheme="form")
    anna = env.recipient()
    env.pref(anna, json_url)
    env.pref(anna, form_url)
    env.alert(message="Bolt <M8> & nut", details={"chart_path": str(chart)})
    env.run(future_day())

    by_path = {r.path: r for r in inbox.requests if r.path in (json_path, form_path)}
    sent_json, sent_form = by_path[json_path], by_path[form_path]
    assert "Bolt <M8> & nut" in sent_json.payload["message"]  # text: not escaped
    [attached] = sent_json.payload["attachments"]
    assert base64.b64decode(attached["base64"]) == PNG
    assert sent_form.content_type.startswith("multipart/form-data")
    assert "Bolt <M8> & nut" in sent_form.payload["message"]
    [(filename, data, _)] = sent_form.files.values()
    assert filename == "chart.png" and data == PNG


def test_a_missing_chart_file_does_not_stop_the_message(env, inbox):
    url, path = path_url(inbox, env, "nochart")
    anna = env.recipient()
    env.pref(anna, url)
    env.alert(details={"chart_path": "/nonexistent/chart.png"})
    env.run(future_day())
    assert inbox.count_by_path()[path] == 1
    assert "attachments" not in inbox.requests[-1].payload or not inbox.requests[-1].payload["attachments"]
