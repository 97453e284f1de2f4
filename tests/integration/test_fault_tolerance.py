"""Faults, as an operator meets them: the database restarted in the middle of a run.
Runs in its own data directory (its own embedded PostgreSQL), through the CLI."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def forgecast(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def private_platform(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fault")
    env = {**os.environ, "FORGECAST_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("DAGSTER_HOME", None)
    env["FORGECAST_DEMO_INBOX_PORT"] = "0"
    demo = forgecast(env, "demo", "--items", "20", "--days", "60")
    assert demo.returncode == 0, demo.stderr[-3000:]
    yield env, data_dir
    forgecast(env, "db", "down")


def forecast_days(data_dir: Path) -> dict:
    with psycopg.connect(host=str(data_dir / "pgdata"), user="postgres", dbname="forgecast") as c:
        return dict(c.execute("select forecast_date, count(*) from forecast.forecasts "
                              "group by forecast_date").fetchall())


def test_database_restart_mid_backfill_then_rerun_completes_without_duplicates(private_platform):
    env, data_dir = private_platform
    before = forecast_days(data_dir)
    last = max(before)
    start, end = (last - timedelta(days=3)), last
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "backfill", "--from",
                             start.isoformat(), "--to", end.isoformat()], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the backfill is forecasting, then restart the server under it.
    deadline = time.monotonic() + 300
    seen = ""
    while "[1/" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.readline()
    assert "[1/" in seen, seen[-2000:]
    assert forgecast(env, "db", "down").returncode == 0
    time.sleep(2)
    assert forgecast(env, "db", "up").returncode == 0
    proc.communicate(timeout=600)  # fails cleanly or completes thanks to step retries

    rerun = forgecast(env, "backfill", "--from", start.isoformat(), "--to", end.isoformat())
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = forecast_days(data_dir)
    for day in (start + timedelta(days=n) for n in range(4)):
        assert after.get(day), f"no forecasts as of {day}"
    # Append-only and unique per (as-of day, item, location, target day): nothing doubled.
    assert after[last] == before[last]
