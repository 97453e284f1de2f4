"""`forgecast notify ...`: recipients, preferences, test messages, deliveries.

Channel URLs are credentials: they are read from an option, an environment variable
reference (``--channel-env``, nothing secret stored) or a hidden prompt, stored
encrypted, and never printed back (``kind://***`` and a short fingerprint instead).
"""

from __future__ import annotations

import click

from orchestration.tables import format_table
from resources.settings import get_settings

SEVERITIES = ["low", "medium", "high", "critical"]


def _connection():
    from orchestration.platform import prepare
    from resources.database import connect

    settings = get_settings()
    prepare(settings)
    return settings, connect(settings, autocommit=True)


def _when(value) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("notify")
def notify_group() -> None:
    """Recipients, their channel preferences, test messages and the delivery log."""


# ------------------------------------------------------------------------ recipients
@notify_group.group("recipients")
def recipients_group() -> None:
    """Who receives alerts."""


@recipients_group.command("add")
@click.argument("name")
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="IANA time zone (quiet hours and digests are local to it).")
@click.option("--role", type=click.Choice(["planner", "buyer", "operator"]), default="planner",
              show_default=True)
def recipients_add(name: str, timezone: str, role: str) -> None:
    """Add a recipient (or update its time zone and role)."""
    from assets.notify.admin import upsert_recipient

    _, conn = _connection()
    with conn:
        rid = upsert_recipient(conn, name, timezone, role)
    click.echo(format_table(["id", "name", "timezone", "role"], [[rid, name.strip(), timezone, role]]))


@recipients_group.command("list")
def recipients_list() -> None:
    """Recipients and how many enabled channels each has."""
    from assets.notify.store import list_recipients

    _, conn = _connection()
    with conn:
        rows = list_recipients(conn)
    click.echo(format_table(["id", "name", "timezone", "role", "channels", "created"],
                            [[*r[:5], _when(r[5])] for r in rows]))


# --------------------------------------------------------------------------- prefs
@notify_group.group("prefs")
def prefs_group() -> None:
    """Channel preferences: which alerts reach a recipient, where and when."""


@prefs_group.command("set")
@click.argument("recipient")
@click.option("--channel", "channel_url", metavar="URL",
              help="apprise URL (stored encrypted, never printed). Omit it to be prompted "
              "with hidden input, or use --channel-env.")
@click.option("--channel-env", metavar="VAR",
              help="Name of an environment variable holding the apprise URL at send time.")
@click.option("--alert-type", help="Only this alert type (default: every type); the old "
              "stockout and below_safety_stock mean shortage.")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="medium", show_default=True)
@click.option("--item-category", help="Only items of this category.")
@click.option("--location", "location_id", help="Only this location.")
@click.option("--quiet-hours", metavar="HH:MM-HH:MM",
              help="Hold non-critical alerts in this recipient-local window (e.g. 22:00-07:00).")
@click.option("--digest/--immediate", default=False, show_default=True,
              help="One message a day instead of one per alert event.")
@click.option("--digest-hour", type=click.IntRange(0, 23),
              help="Recipient-local hour of the digest (default: setting notify_digest_hour).")
@click.option("--notify-on-resolve/--no-notify-on-resolve", default=False, show_default=True)
@click.option("--repeat-hours", type=click.IntRange(0),
              help="Re-send an unchanged open alert after this many hours (0: never; "
              "default: setting notify_repeat_interval_hours).")
@click.option("--disable", is_flag=True, help="Keep the preference but stop using it.")
def prefs_set(recipient, channel_url, channel_env, alert_type, min_severity, item_category,
              location_id, quiet_hours, digest, digest_hour, notify_on_resolve, repeat_hours,
              disable) -> None:
    """Create or update a preference of RECIPIENT (name or id) for one channel."""
    from assets.notify.admin import (
        canonical_alert_type,
        find_recipient,
        list_preferences,
        parse_quiet_hours,
        set_channel_preference,
    )

    if channel_url is None and channel_env is None:
        channel_url = click.prompt("apprise URL (hidden)", hide_input=True, err=True)
    if canonical_alert_type(alert_type) != alert_type:
        click.echo(f"note: alert type {alert_type} is now part of "
                   f"{canonical_alert_type(alert_type)} (below safety stock up to a stockout, "
                   "one alert per item-location); the preference is stored for it")
    settings, conn = _connection()
    with conn:
        rid = find_recipient(conn, recipient)[0]
        pid = set_channel_preference(
            conn, settings, rid, channel_url, channel_env=channel_env, min_severity=min_severity,
            alert_type=alert_type, item_category=item_category, location_id=location_id,
            quiet_hours=parse_quiet_hours(quiet_hours),
            delivery_mode="digest" if digest else "immediate", digest_hour=digest_hour,
            notify_on_resolve=notify_on_resolve, repeat_interval_hours=repeat_hours,
            enabled=not disable)
        [pref] = [p for p in list_preferences(conn, rid) if p["id"] == pid]
    click.echo(format_table(list(pref), [list(pref.values())]))


@prefs_group.command("list")
@click.argument("recipient", required=False)
def prefs_list(recipient: str | None) -> None:
    """Preferences (of one recipient, or all). Channels show as kind://*** only."""
    from assets.notify.admin import find_recipient, list_preferences

    _, conn = _connection()
    with conn:
        rid = find_recipient(conn, recipient)[0] if recipient else None
        prefs = list_preferences(conn, rid)
    headers = list(prefs[0]) if prefs else ["id", "recipient", "channel"]
    click.echo(format_table(headers, [list(p.values()) for p in prefs]))


@prefs_group.command("remove")
@click.argument("preference_id", type=int)
def prefs_remove(preference_id: int) -> None:
    """Delete a preference (its past notifications stay in the log)."""
    from assets.notify.admin import delete_preference

    _, conn = _connection()
    with conn:
        delete_preference(conn, preference_id)
    click.echo(f"preference {preference_id} removed")


# ---------------------------------------------------------------------------- test
@notify_group.command("test")
@click.argument("recipient")
def test_cmd(recipient: str) -> None:
    """Send a test message through every channel of RECIPIENT and report each result."""
    from assets.notify.sending import send_test
    from resources.errors import OperationError

    settings, conn = _connection()
    with conn:
        results = send_test(conn, settings, recipient)
    click.echo(format_table(
        ["preference", "channel", "result", "apprise status", "ms", "error"],
        [[r["preference"], r["channel"], "delivered" if r["ok"] else "FAILED", r["status"],
          r["elapsed_ms"], _short(r["error"], 80)] for r in results]))
    failed = sum(not r["ok"] for r in results)
    if failed:
        raise OperationError(f"{failed} of {len(results)} channel(s) failed")


# ---------------------------------------------------------------------- deliveries
@notify_group.command("deliveries")
@click.option("--status", type=click.Choice(
    ["pending", "sending", "sent", "failed", "dead", "superseded", "batched"]))
@click.option("--recipient", help="Only this recipient (name or id).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--attempts", "show_attempts", is_flag=True,
              help="One row per delivery attempt instead of per notification.")
def deliveries_cmd(status, recipient, limit, show_attempts) -> None:
    """The delivery log, newest first."""
    from assets.notify.admin import list_attempts, list_deliveries
    from assets.notify.store import delivery_summary

    _, conn = _connection()
    with conn:
        if show_attempts:
            rows = list_attempts(conn, status=status, recipient=recipient, limit=limit)
            click.echo(format_table(
                ["notification", "attempt", "at", "recipient", "channel", "event", "result",
                 "apprise", "ms", "url id", "error"],
                [[r[0], r[1], _when(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                  _short(r[10])] for r in rows]))
            return
        rows = list_deliveries(conn, status=status, recipient=recipient, limit=limit)
        totals = delivery_summary(conn)
    click.echo(format_table(
        ["id", "created", "recipient", "channel", "event", "alert", "severity", "status",
         "attempts", "next attempt", "sent", "last error"],
        [[r[0], _when(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], _when(r[9]),
          _when(r[10]), _short(r[11])] for r in rows]))
    click.echo("totals: " + (", ".join(f"{k} {v}" for k, v in totals.items()) or "none"))


# ---------------------------------------------------------------------------- send
@notify_group.command("send")
@click.option("--no-plan", is_flag=True, help="Only send what is due (retries, digests).")
def send_cmd(no_plan: bool) -> None:
    """Run one notification pass now, outside Dagster (the sensors do this normally)."""
    from assets.notify.sending import notify_once

    settings, conn = _connection()
    with conn:
        report = notify_once(conn, settings, plan=not no_plan)
    plan, send = report["plan"], report["send"]
    rows = [[k, v] for k, v in plan.items()] + [[k, v] for k, v in send.items()]
    click.echo(format_table(["what", "count"], rows))
