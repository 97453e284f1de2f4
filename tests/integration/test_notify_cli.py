"""`forgecast notify ...` against the session's PostgreSQL and a local receiver."""

from __future__ import annotations

import socket
import uuid

import pytest

from orchestration.cli import main
from resources.local_receiver import LocalReceiver


@pytest.fixture
def name(conn):
    value = f"cli-{uuid.uuid4().hex[:8]}"
    yield value
    conn.execute("delete from notify.notifications where recipient_id in "
                 "(select id from notify.recipients where name = %s)", (value,))
    conn.execute("delete from notify.recipients where name = %s", (value,))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_recipients_prefs_test_and_deliveries(capsys, name, server):
    with LocalReceiver(path=f"/{name}") as inbox:
        code, out, _ = run(capsys, "notify", "recipients", "add", name, "--timezone", "Europe/Berlin",
                           "--role", "buyer")
        assert code == 0 and name in out and "Europe/Berlin" in out
        code, out, _ = run(capsys, "notify", "recipients", "list")
        assert code == 0 and name in out

        code, out, _ = run(capsys, "notify", "prefs", "set", name, "--channel", inbox.url,
                           "--min-severity", "high", "--quiet-hours", "22:00-07:00",
                           "--notify-on-resolve", "--repeat-hours", "12")
        assert code == 0 and "json://***" in out and "22:00-07:00" in out
        assert str(inbox.port) not in out
        code, out, _ = run(capsys, "notify", "prefs", "set", name, "--channel",
                           f"json://127.0.0.1:{closed_port()}/down", "--digest", "--digest-hour", "7")
        assert code == 0 and "digest@07h" in out
        code, out, _ = run(capsys, "notify", "prefs", "list", name)
        assert code == 0 and out.count("json://***") == 2

        code, out, err = run(capsys, "notify", "test", name)
        assert code != 0 and "1 of 2 channel(s) failed" in err
        assert "delivered" in out and "FAILED" in out
        assert [p["title"] for p in inbox.received] == [f"[Forgecast] Test message for {name}"]

        code, out, _ = run(capsys, "notify", "deliveries", "--recipient", name)
        assert code == 0 and out.count("test") >= 2 and "sent" in out and "dead" in out
        code, out, _ = run(capsys, "notify", "deliveries", "--status", "dead", "--recipient", name)
        rows = out.splitlines()[2:-1]  # header, rule ... totals
        assert code == 0 and len(rows) == 1 and " dead " in rows[0]
        code, out, _ = run(capsys, "notify", "deliveries", "--attempts", "--recipient", name)
        assert code == 0 and "success" in out and "failure" in out


def test_clear_one_line_errors(capsys, name, server):
    code, _, err = run(capsys, "notify", "prefs", "list", "nobody-" + name)
    assert code != 0 and err.startswith("error: NOT_FOUND:")
    code, _, err = run(capsys, "notify", "recipients", "add", name, "--timezone", "Mars/Base")
    assert code != 0 and "VALIDATION_ERROR" in err and "Mars/Base" in err
    run(capsys, "notify", "recipients", "add", name)
    code, _, err = run(capsys, "notify", "prefs", "set", name, "--channel", "not a url")
    assert code != 0 and "VALIDATION_ERROR" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "notify", "prefs", "set", name, "--channel", "json://127.0.0.1/x",
                       "--quiet-hours", "late")
    assert code != 0 and "22:00-07:00" in err
    code, _, err = run(capsys, "notify", "test", name)
    assert code != 0 and "no enabled channel" in err
    code, _, err = run(capsys, "notify", "prefs", "set", name, "--channel-env", "FC_UNSET_CHANNEL_VAR")
    assert code != 0 and "FC_UNSET_CHANNEL_VAR is not set" in err


def test_the_demo_inbox_on_a_new_port_replaces_the_old_one(conn, settings, name):
    """The demo's planner preference is keyed by recipient + channel kind: a run with
    another inbox port must not add a second preference that receives the same alerts."""
    from assets.notify.admin import set_sole_channel, upsert_recipient

    recipient = upsert_recipient(conn, name, "UTC", "planner")
    first = set_sole_channel(conn, settings, recipient, "json://127.0.0.1:18001/inbox",
                             min_severity="medium")
    second = set_sole_channel(conn, settings, recipient, "json://127.0.0.1:18002/inbox",
                              min_severity="medium")
    again = set_sole_channel(conn, settings, recipient, "json://127.0.0.1:18002/inbox",
                             min_severity="medium")
    enabled = conn.execute("select id from notify.notification_preferences "
                           "where recipient_id = %s and enabled", (recipient,)).fetchall()
    assert first != second == again
    assert enabled == [(second,)]


def test_a_stored_template_with_nested_loops_is_stopped_and_the_default_sent(
        capsys, conn, name, server):
    """A template stored in notify.notification_templates by SQL once hung `notify test`
    at 100% CPU: it is checked when read, and the shipped default goes out instead."""
    nested = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    conn.execute("insert into notify.notification_templates (alert_type, channel_kind, subject, "
                 "body, body_format) values ('test', 'json', 'hello', %s, 'text') "
                 "on conflict (alert_type, channel_kind) do update set body = excluded.body",
                 (nested,))
    try:
        with LocalReceiver(path=f"/{name}") as inbox:
            assert run(capsys, "notify", "recipients", "add", name)[0] == 0
            assert run(capsys, "notify", "prefs", "set", name, "--channel", inbox.url)[0] == 0
            code, out, _ = run(capsys, "notify", "test", name)
            assert code == 0 and "delivered" in out
            assert [p["title"] for p in inbox.received] == [
                f"[Forgecast] Test message for {name}"]
            assert "x" not in inbox.received[0]["message"][:5]
    finally:
        conn.execute("delete from notify.notification_templates where alert_type = 'test' "
                     "and channel_kind = 'json'")
