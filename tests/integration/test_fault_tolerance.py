"""Faults, as an operator meets them: the database restarted in the middle of a run, a
forecast worker process killed in the middle of its pool, the notification receiver down
for a whole run.

The first two run in their own data directory (their own embedded PostgreSQL), in
subprocesses; the receiver test uses the module's database like the other notify tests."""

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from notify_support import future_day

from assets.notify.admin import list_deliveries
from resources.local_receiver import LocalReceiver

ROOT = Path(__file__).resolve().parents[2]


def forgecast(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def private_platform(tmp_path_factory, private_platform_env):
    """A server of its own: the first test stops and restarts it under a running backfill."""
    data_dir = tmp_path_factory.mktemp("fault")
    env = private_platform_env(data_dir, FORGECAST_DEMO_INBOX_PORT="0")
    demo = forgecast(env, "demo", "--items", "20", "--days", "60")
    assert demo.returncode == 0, demo.stderr[-3000:]
    # Progress lines and the summary: dbt's lines went to logs/steps.log, the runs' own
    # log lines stay in Dagster's event log, and no warning is left to print.
    lines = (demo.stdout + demo.stderr).splitlines()
    assert len(lines) <= 40, "\n".join(lines)
    assert not any("WARNING" in line or "plotly" in line for line in lines), "\n".join(lines)
    assert "Running with dbt" in (data_dir / "logs" / "steps.log").read_text()
    yield env, data_dir
    forgecast(env, "db", "down")


def forecast_days(data_dir: Path) -> dict:
    with psycopg.connect(host=str(data_dir / "pgdata"), user="postgres", dbname="forgecast") as c:
        return dict(c.execute("select forecast_date, count(*) from forecast.forecasts "
                              "where is_current group by forecast_date").fetchall())


def test_database_restart_mid_backfill_then_rerun_completes_without_duplicates(private_platform):
    env, data_dir = private_platform
    before = forecast_days(data_dir)
    last = max(before)
    start, end = (last - timedelta(days=2)), last  # three days: the restart hits the second
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
    # The re-run rebuilt the days' forecasts and says how many rows it replaced.
    assert f"{before[last]} row(s) written, {before[last]} superseded" in rerun.stderr
    after = forecast_days(data_dir)
    for day in (start + timedelta(days=n) for n in range(3)):
        assert after.get(day), f"no forecasts as of {day}"
    # One current version per (as-of day, item, location, target day): nothing doubled.
    assert after[last] == before[last]


def dagster_runs_by_status(data_dir: Path) -> dict:
    with psycopg.connect(host=str(data_dir / "pgdata"), user="postgres",
                         dbname="dagster") as c:
        return dict(c.execute("select status, count(*) from runs group by status").fetchall())


def test_the_server_stopped_mid_backfill_is_one_line_and_no_run_stays_started(
        private_platform):
    env, data_dir = private_platform
    last = max(forecast_days(data_dir))
    start = last - timedelta(days=2)
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "backfill", "--from",
                             start.isoformat(), "--to", last.isoformat()], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    seen = ""
    while "[1/" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.readline()
    assert "[1/" in seen, seen[-2000:]
    try:
        assert forgecast(env, "db", "down").returncode == 0
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 6, err[-3000:]
        last_line = err.strip().splitlines()[-1]
        assert last_line.startswith("error: DATABASE_UNAVAILABLE: the PostgreSQL server stopped "
                                    "answering") and "forgecast db up" in last_line, err[-3000:]
        # The drivers' retries went to the log file, not the terminal.
        assert "Retrying failed database connection" not in err
        assert "DagsterPostgresException" not in err and "Traceback" not in err
    finally:
        assert forgecast(env, "db", "up").returncode == 0
    assert "STARTED" in dagster_runs_by_status(data_dir)  # the dead command's run ...
    # ... is failed by the next command that opens the instance.
    assert forgecast(env, "select", "--as-of", last.isoformat()).returncode == 0
    assert "STARTED" not in dagster_runs_by_status(data_dir)
    log = (data_dir / "logs" / "forgecast.log").read_text()
    assert "Retrying failed database connection" in log or "connection" in log.lower()


# The forecast_and_alerts job for one day, run twice in one process (the imports and the
# model warm-up are paid once): the attempt the test interrupts, then the re-run.
FORECAST_TWICE = """
import sys
from orchestration.definitions import defs
from orchestration.platform import instance
from resources.settings import get_settings

forgecast = instance(get_settings())
job = defs.resolve_job_def("forecast_and_alerts")
info = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
for attempt in ("interrupted", "rerun"):
    result = job.execute_in_process(instance=forgecast, partition_key=sys.argv[1],
                                    raise_on_error=False, run_config=info)
    print(attempt, result.run_id, result.success, flush=True)
"""


def pool_workers(run: psutil.Process) -> list[psutil.Process]:
    """The run's forked children still running its own command line: the forecast pool's
    workers (fork start method). A subprocess being started is one too for an instant,
    until it execs its program."""
    own = run.cmdline()
    workers = []
    for child in run.children():
        try:
            if child.cmdline() == own and child.status() != psutil.STATUS_ZOMBIE:
                workers.append(child)
        except psutil.Error:
            pass
    return workers


def kill_one_pool_worker(run: psutil.Process, deadline: float) -> int | None:
    """SIGKILL one worker of the run's forecast pool while the pool has work left; the pid.

    The run is frozen (SIGSTOP) as soon as a worker shows: its pool then feeds the
    workers no more than a few chunks (a handful of 30 items), so the kill lands while
    most items are unfinished however slow this machine is."""
    while time.monotonic() < deadline and run.is_running() and run.status() != psutil.STATUS_ZOMBIE:
        if not pool_workers(run):
            time.sleep(0.002)
            continue
        run.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.05)  # a subprocess caught between fork and exec has exec'd by now
            workers = pool_workers(run)
            if workers:
                victim = workers[0]
                victim.send_signal(signal.SIGKILL)
                _gone(victim)
                return victim.pid
        finally:
            run.send_signal(signal.SIGCONT)
    return None


def _gone(process: psutil.Process) -> None:
    """Wait until a process died (a zombie while its stopped parent cannot reap it)."""
    for _ in range(500):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {process.pid} survived SIGKILL")


def test_forecast_worker_killed_mid_pool_is_recorded_and_a_rerun_duplicates_nothing(
        private_platform):
    env, data_dir = private_platform
    # One shard of all 30 item x locations, so the shard forecasts them with a pool (a
    # shard under 24 items runs serially, in the run's own process).
    env = {**env, "FORGECAST_FORECAST_SHARDS": "1", "FORGECAST_FORECAST_WORKERS": "2"}
    db = {"host": str(data_dir / "pgdata"), "user": "postgres", "dbname": "forgecast"}
    day = max(forecast_days(data_dir)) - timedelta(days=10)
    assert day not in forecast_days(data_dir)
    with psycopg.connect(**db) as c:
        expected = set(c.execute("select distinct item_id::text, location_id from "
                                 "unified.demand_history where demand_date <= %s", (day,)))
    assert len(expected) >= 24

    proc = subprocess.Popen([sys.executable, "-c", FORECAST_TWICE, day.isoformat()], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    forecasting = threading.Event()

    def read_log() -> None:  # drain stderr (a full pipe would stall the run)
        for line in proc.stderr:
            log.append(line)
            if "forecast shard 1/1: forecasting" in line:
                forecasting.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert forecasting.wait(timeout=300), "".join(log)[-3000:]
        killed = kill_one_pool_worker(psutil.Process(proc.pid), time.monotonic() + 300)
        assert killed, "no pool worker seen: " + "".join(log)[-3000:]
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    out = proc.stdout.read()  # two lines: the runs (stderr is the reader's)
    assert proc.returncode == 0, "".join(log)[-3000:]
    runs = dict(line.split(" ", 1) for line in out.splitlines() if line.split(" ")[0] in (
        "interrupted", "rerun"))
    interrupted, rerun = (runs[k].split() for k in ("interrupted", "rerun"))
    assert interrupted[1] == rerun[1] == "True", out  # the item retries saved the run

    with psycopg.connect(**db) as c:
        jobs = c.execute("select run_id, status, items_attempted, items_succeeded, items_failed, "
                         "errors, workers from ml.inference_jobs where as_of = %s and "
                         "kind = 'forecast' order by id", (day,)).fetchall()
        rows = c.execute("select item_id::text, location_id, count(*), count(distinct target_date), "
                         "max(horizon_day), array_agg(distinct run_id) from forecast.forecasts "
                         "where forecast_date = %s and is_current group by 1, 2",
                         (day,)).fetchall()
        kept = c.execute("select array_agg(distinct run_id), bool_and(version = 1) from "
                         "forecast.forecasts where forecast_date = %s and not is_current",
                         (day,)).fetchone()
    # The interrupted attempt says so: its worker died and the unfinished items were retried.
    assert [j[0] for j in jobs] == [interrupted[0], rerun[0]]
    first, second = jobs
    assert first[1:5] == ("succeeded", len(expected), len(expected), 0) and first[6] == 2
    incidents = [e for e in first[5] if e["item_id"] is None]
    assert incidents and incidents[0]["items_retried"] >= 1, first[5]
    assert "worker process died" in incidents[0]["error"]
    assert first[5] == incidents  # no item failed for good
    assert any("worker process died" in line for line in log)  # and the run log says so too
    assert second[1:6] == ("succeeded", len(expected), len(expected), 0, [])
    # Every item x location has one current forecast for the day, the re-run's; the
    # interrupted attempt's is kept as the first version.
    assert {(r[0], r[1]) for r in rows} == expected
    horizon = rows[0][3]
    assert all(r[2] == r[3] == r[4] == horizon for r in rows)
    assert {run for r in rows for run in r[5]} == {rerun[0]}
    assert kept == ([interrupted[0]], True)


def test_receiver_down_for_a_whole_notify_run_then_each_delivery_goes_out_once(env):
    # The receiver's port, then nothing listening on it.
    down = LocalReceiver().start()
    port = down.port
    down.stop()
    paths = {}
    for name in ("anna", "ben"):
        paths[name] = f"/{env.tag}/{name}"
        env.pref(env.recipient(name), f"json://127.0.0.1:{port}{paths[name]}")

    def shown() -> dict:  # what `forgecast notify deliveries` lists for them, by id
        return {row[0]: row for name in paths
                for row in list_deliveries(env.conn, recipient=f"{name}-{env.tag}")}

    def attempts() -> list:
        return [[a[1] for a in env.attempts(n["id"])] for n in env.notifications()]
    for item, severity in (("A", "critical"), ("B", "high"), ("C", "medium")):
        env.alert(item=item, severity=severity)
    t0 = future_day()

    env.run(t0)  # a whole run with the receiver down
    notes = env.notifications()
    assert [(n["status"], n["attempts"]) for n in notes] == [("failed", 1)] * 6
    assert all("connection" in n["last_error"].lower() for n in notes)
    assert attempts() == [["failed"]] * 6
    waiting = shown()
    assert sorted(waiting) == [n["id"] for n in notes]
    assert {row[7] for row in waiting.values()} == {"failed"}  # waiting to retry, not dead
    backoff = timedelta(seconds=env.settings.notify_backoff_base_seconds)
    assert all(t0 <= row[9] <= t0 + backoff for row in waiting.values())  # next try scheduled
    env.run(t0)  # still down, nothing due yet: no attempt, nothing planned twice
    assert [(n["status"], n["attempts"]) for n in env.notifications()] == [("failed", 1)] * 6
    assert attempts() == [["failed"]] * 6

    with LocalReceiver(port=port) as inbox:  # the receiver is back, on the same address
        later = t0 + timedelta(hours=2)  # past any first backoff (<= base seconds)
        env.run(later)
        env.run(later + timedelta(hours=2))  # and another run: nothing more
        received = [(r.path, r.payload["title"]) for r in inbox.requests]

    for name, path in paths.items():
        titles = sorted(title for where, title in received if where == path)
        assert len(titles) == 3 and len(set(titles)) == 3, (name, titles)
        assert [t.split("]")[0] + "]" for t in titles] == ["[CRITICAL]", "[HIGH]", "[MEDIUM]"]
    assert len(received) == 6
    notes = env.notifications()
    assert [(n["status"], n["attempts"]) for n in notes] == [("sent", 2)] * 6
    assert attempts() == [["failed", "sent"]] * 6
    assert sorted(shown()) == [n["id"] for n in notes]
    assert {row[7] for row in shown().values()} == {"sent"}
