"""apprise URLs are credentials: after a realistic life (CLI set-up, a test message,
sensor-launched runs on a real Dagster instance with working, failing, unreachable and
mis-authenticated channels, retries until dead), no secret part of any URL appears in:
captured logs (root logger at DEBUG), stdout/stderr, CLI output (also with -v), Dagster's
event log (every record of every run, serialized), the notify tables (clear columns),
error texts, the generated Dagster home, or the database server's log and WAL."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from notify_support import future_day

from assets.alerts.assets import FORECAST_ALERTS
from assets.notify.sending import send_due
from orchestration.cli import main
from orchestration.definitions import defs
from orchestration.jobs import NOTIFY_JOB_NAME
from orchestration.sensors.notifications import run_alerts_sensor_once
from resources.local_receiver import LocalReceiver, LocalSmtpReceiver

PASSWORD = "pw-Zq8sK2vRx"
TOKEN = "tok-9f8e7d6c5b4a3"
USER = "hookuser7"
SECRETS = (PASSWORD, TOKEN, f"{USER}:")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_clean(label: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {label}"


def assert_clean_bytes(path: Path) -> None:
    data = path.read_bytes()
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} found in {path}"


@pytest.fixture
def receivers():
    with LocalReceiver() as ok, LocalReceiver() as failing, \
            LocalSmtpReceiver(user="mailer", password="the-right-one") as smtp:
        failing.fail_next(10_000)
        yield ok, failing, smtp


def test_no_secret_reaches_logs_metadata_errors_or_output(env, receivers, capfd, caplog, settings):
    ok, failing, smtp = receivers
    caplog.set_level(logging.DEBUG)
    urls = {
        "working": f"json://{USER}:{PASSWORD}@127.0.0.1:{ok.port}/{TOKEN}/ok",
        "failing": f"json://{USER}:{PASSWORD}@127.0.0.1:{failing.port}/{TOKEN}/fail",
        "unreachable": f"form://{USER}:{PASSWORD}@127.0.0.1:{closed_port()}/{TOKEN}",
        "bad_login": f"mailto://{USER}:{PASSWORD}@127.0.0.1:{smtp.port}?mode=insecure"
                     f"&from=forgecast@example.com&to={TOKEN}@example.com",
    }
    name = f"secret-{env.tag}"
    outputs: list[str] = []

    def cli(*args: str) -> int:
        code = main(list(args))
        out, err = capfd.readouterr()
        outputs.append(out + err)
        return code

    # --- the CLI: set-up, listing, a test message, the log ------------------------------
    assert cli("notify", "recipients", "add", name) == 0
    env.recipient_ids.append(env.conn.execute("select id from notify.recipients where name = %s",
                                              (name,)).fetchone()[0])
    for url in urls.values():
        assert cli("notify", "prefs", "set", name, "--channel", url, "--min-severity", "low",
                   "--location", env.location) == 0
    assert cli("-v", "notify", "prefs", "set", name, "--channel",
               f"nosuchservice://{USER}:{PASSWORD}@example.com/{TOKEN}") != 0
    assert cli("notify", "prefs", "list") == 0
    assert cli("-v", "notify", "test", name) != 0  # three channels fail, each reported

    # --- sensor-launched runs on a real instance, then retries until dead ----------------
    env.alert(item="S1", severity="critical")
    env.alert(item="S2", severity="high")
    instance = dg.DagsterInstance.get()
    instance.report_runless_asset_event(dg.AssetMaterialization(FORECAST_ALERTS, partition="2026-03-01"))
    results = run_alerts_sensor_once(defs, instance)
    assert results and all(r.success for r in results)
    t0 = future_day()
    for hour in range(1, 12, 2):
        send_due(env.conn, settings, now=t0 + timedelta(hours=hour))
    job = defs.resolve_job_def(NOTIFY_JOB_NAME)
    results.append(job.execute_in_process(
        instance=instance, run_config={"ops": {"notify__notifications": {"config": {"plan": False}}}}))
    assert cli("notify", "deliveries", "--limit", "500") == 0
    assert cli("-v", "notify", "deliveries", "--attempts", "--limit", "500") == 0

    # the scenario really exercised every path
    statuses = {n["status"] for n in env.notifications()}
    assert {"sent", "dead"} <= statuses
    assert len(ok.received) >= 3 and failing.failed_requests >= 5
    errors = [row[0] for row in env.conn.execute(
        "select d.error from notify.delivery_attempts d join notify.notifications n "
        "on n.id = d.notification_id where n.recipient_id = any(%s) and d.error is not null",
        (env.recipient_ids,)).fetchall()]
    assert any("500" in e for e in errors) and any("connect" in e.lower() for e in errors)
    mail = env.conn.execute("select status, last_error from notify.notifications where "
                            "recipient_id = any(%s) and channel_kind = 'mailto' and event <> 'test' "
                            "limit 1", (env.recipient_ids,)).fetchone()
    assert mail[0] == "dead" and mail[1]  # refused login: retried, then dead

    # --- grep everything --------------------------------------------------------------------
    out, err = capfd.readouterr()
    for label, text in [("stdout", out), ("stderr", err), ("captured logs", caplog.text),
                        *((f"CLI output {i}", o) for i, o in enumerate(outputs))]:
        assert_clean(label, text)
    for result in results:
        for record in instance.all_logs(result.run_id):
            assert_clean(f"event log of run {result.run_id}", serialize_value(record))
        run = instance.get_run_by_id(result.run_id)
        assert_clean("run config and tags", serialize_value(run))
    for table in ("notifications", "delivery_attempts", "notification_preferences",
                  "recipients", "notification_templates"):
        dump = env.conn.execute(f"select coalesce(string_agg(t::text, E'\\n'), '') "
                                f"from notify.{table} t").fetchone()[0]
        assert_clean(f"notify.{table}", dump)
    for path in settings.resolved_dagster_home.rglob("*"):
        if path.is_file():
            assert_clean_bytes(path)
    pgdata = settings.data_dir / "pgdata"
    for path in [*(pgdata / "log").rglob("*"), *(pgdata / "pg_wal").glob("0*")]:
        if path.is_file():
            assert_clean_bytes(path)
