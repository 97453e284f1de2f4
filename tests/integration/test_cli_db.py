"""`forgecast db ...` as a user runs it: a private server in its own data dir (it starts
and stops that server, so not the session's)."""

import os
import subprocess
import sys
from pathlib import Path

import psutil

FORGECAST = [sys.executable, "-m", "orchestration.cli"]


def run(args, env):
    return subprocess.run([*FORGECAST, *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=Path(__file__).resolve().parents[2])


def project_postgres(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(proc)
    return found


def test_db_up_url_down_leave_nothing_running(tmp_path, private_platform_env):
    env = private_platform_env(tmp_path / "fc")
    # An installation from before files were private: `db up` closes it.
    (tmp_path / "fc" / "charts").mkdir(parents=True, exist_ok=True)
    old_chart = tmp_path / "fc" / "charts" / "old.png"
    old_chart.write_bytes(b"png")
    old_chart.chmod(0o644)
    (tmp_path / "fc").chmod(0o755)
    up = run(["db", "up"], env)
    assert up.returncode == 0, up.stderr
    assert "PostgreSQL (embedded) ready" in up.stdout
    assert "private" in up.stdout
    assert old_chart.stat().st_mode & 0o777 == 0o600
    # 0700; 0711 as root, where the embedded server runs as user pgserver and must reach
    # its pgdata through it (no listing: everything inside stays private).
    assert (tmp_path / "fc").stat().st_mode & 0o777 == (0o711 if os.geteuid() == 0 else 0o700)
    pgdata = tmp_path / "fc" / "pgdata"  # PostgreSQL's own (0700, its socket 0777 inside)
    made = [p for p in (tmp_path / "fc").rglob("*") if not p.is_symlink()
            and pgdata not in (p, *p.parents) and p.stat().st_mode & 0o077]
    assert made == []  # everything the first start wrote is private too
    pgdata = tmp_path / "fc" / "pgdata"
    assert project_postgres(pgdata)
    again = run(["db", "up"], env)  # idempotent
    assert again.returncode == 0, again.stderr
    # The embedded server runs with its batch settings (resources/database.py), applied
    # with one restart on the first start and kept from then on.
    settings = (pgdata / "postgresql.auto.conf").read_text()
    assert "wal_level = 'minimal'" in settings and "max_wal_size = '8GB'" in settings
    show = subprocess.run([str(Path(sys.executable).parent / "python"), "-c",
                           "from resources.database import connect;"
                           "from resources.settings import get_settings;"
                           "c = connect(get_settings()); print(c.execute('show wal_level').fetchone()[0],"
                           " c.execute('select datcollate from pg_database"
                           " where datname = current_database()').fetchone()[0])"],
                          env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    # ... and its databases compare text in byte order (fast sorts of text keys).
    assert show.stdout.split() == ["minimal", "C"], show.stderr

    url = run(["db", "url"], env)
    assert url.returncode == 0 and url.stdout.startswith("postgresql://postgres@/forgecast")
    dagster_yaml = (tmp_path / "fc" / "dagster_home" / "dagster.yaml").read_text()
    assert "QueuedRunCoordinator" in dagster_yaml and "FORGECAST_DAGSTER_PG_URL" in dagster_yaml

    down = run(["db", "down"], env)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert project_postgres(pgdata) == []
    url_after = run(["db", "url"], env)
    assert url_after.returncode == 1 and "not running" in url_after.stderr


def test_db_url_masks_the_password_of_database_url(tmp_path, private_platform_env):
    env = private_platform_env(
        tmp_path, DATABASE_URL="postgresql://app:s3cret-pw@127.0.0.1:5999/warehouse")
    out = run(["db", "url"], env)
    assert out.returncode == 0
    assert out.stdout.strip() == "postgresql://app:***@127.0.0.1:5999/warehouse"
    assert "s3cret-pw" not in out.stdout + out.stderr
    # Dagster's storage URL names the driver Dagster's NOTIFY works with.
    dagster = run(["db", "url", "--dagster"], env)
    assert dagster.returncode == 0
    assert dagster.stdout.strip() == "postgresql+psycopg2://app:***@127.0.0.1:5999/dagster"
    assert "s3cret-pw" not in dagster.stdout + dagster.stderr


def test_unreachable_database_is_one_clear_line_without_secrets(tmp_path, private_platform_env):
    env = private_platform_env(
        tmp_path, DATABASE_URL="postgresql://app:s3cret-pw@127.0.0.1:5999/warehouse")
    out = run(["db", "up"], env)
    assert out.returncode == 5
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: OPERATION_ERROR: cannot reach PostgreSQL")
    assert "Traceback" not in out.stderr and "s3cret-pw" not in out.stderr


def test_two_first_starts_at_once_both_succeed(tmp_path, private_platform_env):
    """Two commands on a fresh data dir raced: one reported that the embedded server did
    not start while the other started it. The start is locked: both get the one server."""
    env = private_platform_env(tmp_path / "fresh")
    procs = [subprocess.Popen([*FORGECAST, "db", "up"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2]) for _ in range(2)]
    try:
        outcomes = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outcomes]
        assert len({p.pid for p in project_postgres(tmp_path / "fresh" / "pgdata")
                    if p.parent() is None or p.parent().name() != "postgres"}) == 1
    finally:
        run(["db", "down"], env)
