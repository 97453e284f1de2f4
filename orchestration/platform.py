"""Ready the platform for a command: the server and its migrations (resources), then the
raw tables in step with the ingest registry (the ingest stage), and Forgecast's Dagster
instance for runs executed in this process. The commands call this; the layers below
never reach up for it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from resources.database import Server
from resources.settings import Settings


def prepare(settings: Settings) -> Server:
    """Server up, databases present, schema migrated, raw tables synced, Dagster's home
    (its dagster.yaml) written. Idempotent."""
    from assets.ingest.raw_tables import sync_raw_tables
    from resources.bootstrap import ensure_ready
    from resources.dagster_instance import write_dagster_home
    from resources.database import connect

    server = ensure_ready(settings)
    write_dagster_home(settings)
    with connect(settings) as conn:  # commits on leaving the block
        sync_raw_tables(conn)
    return server


def instance(settings: Settings) -> dg.DagsterInstance:
    """The platform prepared, and its Dagster instance for in-process runs; runs a dead
    command left STARTED are marked failed first."""
    from resources.dagster_instance import forgecast_instance

    made = forgecast_instance(settings, prepare(settings))
    fail_orphaned_runs(made)
    return made


# In-process runs (backfill, demo, select) have no run worker that Dagster's run monitoring
# could watch: when their command dies (a killed server, Ctrl-C, SIGKILL) they stay
# STARTED for ever. They carry their process's identity, and the next command that opens
# the instance fails the ones whose process is gone.
OWNER_TAG = "forgecast/owner"


def in_process_tags() -> dict[str, str]:
    """Tags for a run executed in this process (see ``fail_orphaned_runs``)."""
    import psutil

    started = psutil.Process().create_time()
    return {OWNER_TAG: f"{socket.gethostname()}:{os.getpid()}:{started:.0f}"}


def _owner_alive(owner: str) -> bool:
    import psutil

    host, pid, started = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True  # another machine's process: not ours to judge
    try:
        return f"{psutil.Process(int(pid)).create_time():.0f}" == started
    except (psutil.NoSuchProcess, ValueError):
        return False


@contextmanager
def run_slot(settings: Settings, job: str, partition: str | None,
             echo: Callable[[str], None] = print) -> Iterator[None]:
    """One in-process run of ``job`` for ``partition`` at a time (Dagster's queue limits
    the runs it launches by partition, dagster.yaml; these it never sees). A second one
    waits, saying so."""
    from resources.database import connect
    from resources.locks import exclusive

    with connect(settings, autocommit=True) as conn, exclusive(
            conn, f"run {job} {partition or 'unpartitioned'}", on_wait=echo):
        yield


# In-process runs from the CLI: the run's own log lines stay in Dagster's event log (the
# UI shows them); the terminal gets warnings and errors only, plus the command's own
# progress lines.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def output_to_log(settings: Settings) -> Iterator[None]:
    """What steps print to stdout (dbt's every line: dagster-dbt re-emits them there)
    goes to <data_dir>/logs/steps.log instead of the terminal; `forgecast ui` runs keep
    it in their run logs as before."""
    import contextlib

    folder = settings.data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "steps.log", "a", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log):
        yield


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the in-process runs still STARTED whose command is gone; their ids."""
    runs = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
                  dg.DagsterRunStatus.NOT_STARTED]))
    failed = []
    for run in runs:
        owner = run.tags.get(OWNER_TAG)
        if owner and not _owner_alive(owner):
            instance.report_run_failed(run, message=f"the command running it ended ({owner}); "
                                       "marked failed by the next forgecast command")
            failed.append(run.run_id)
    return failed
