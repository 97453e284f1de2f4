"""The ``forgecast`` command line.

Every command that needs the database starts the embedded server (or uses
DATABASE_URL) and migrates first, idempotently. Errors print as one line
``CODE: message`` and exit non-zero; ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from orchestration.cli_forecast import select_cmd
from orchestration.cli_ingest import ingest_cmd
from orchestration.cli_notify import notify_group
from orchestration.tables import format_table
from resources.errors import DatabaseUnavailable, ServiceError
from resources.private import private_umask
from resources.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Forgecast: ERP exports in, forecasts and inventory alerts out."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if verbose:  # otherwise Dagster and dbt report progress through their own handlers
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    _log_to_file(verbose)


# ----------------------------------------------------------------------------- db
@cli.group()
def db() -> None:
    """The PostgreSQL server: embedded by default, DATABASE_URL when set."""


@db.command("up")
def db_up() -> None:
    """Start the embedded server (if used), create both databases, migrate."""
    from orchestration.platform import prepare
    from resources.private import tighten

    settings = get_settings()
    server = prepare(settings)
    tightened = tighten(settings.data_dir)  # an installation from before 0700/0600
    if tightened:
        click.echo(f"made {tightened} file(s) and folder(s) under {settings.data_dir} private")
    kind = "embedded" if server.embedded else "external"
    click.echo(f"PostgreSQL ({kind}) ready: {server.masked_url()}")
    click.echo(f"Dagster storage: {server.masked_dagster_url()}")


@db.command("down")
def db_down() -> None:
    """Stop the embedded server."""
    from resources.database import stop_embedded

    stopped = stop_embedded(get_settings())
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@db.command("url")
@click.option("--dagster", is_flag=True, help="The Dagster storage database instead.")
def db_url(dagster: bool) -> None:
    """Print the connection URL (password masked). Starts nothing."""
    from resources.database import server_without_starting

    server = server_without_starting(get_settings())
    if server is None:
        raise click.ClickException("the embedded server is not running: run `forgecast db up`")
    # Dagster's storage URL names its driver (psycopg2): it is what
    # FORGECAST_DAGSTER_PG_URL takes, unlike the plain URL psycopg 3 would get.
    click.echo(server.masked_dagster_url() if dagster else server.masked_url())


@db.command("migrate")
def db_migrate() -> None:
    """Apply migrations and sync raw tables with the ingest registry (idempotent)."""
    from orchestration.platform import prepare
    from resources import migrations

    server = prepare(get_settings())
    click.echo(f"warehouse at revision {migrations.current_revision(server)}")


# ----------------------------------------------------------------------------- config
@cli.command("config")
def config_cmd() -> None:
    """Show the effective settings (secrets masked)."""
    rows = sorted(get_settings().describe().items())
    click.echo(format_table(["setting", "value"], rows))


# ----------------------------------------------------------------------------- demo data
@cli.command("demo-data")
@click.option("--items", default=200, show_default=True, type=click.IntRange(1))
@click.option("--days", default=365, show_default=True, type=click.IntRange(7))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--fault-rate", default=0.002, show_default=True, type=click.FloatRange(0, 0.5))
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default yesterday).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: the landing zone).")
@click.option("--plant-events", is_flag=True,
              help="Plant labelled demand events; labels to <out>/ground_truth/labels.csv.")
def demo_data_cmd(items, days, seed, fault_rate, end_date, out, plant_events) -> None:
    """Write realistic SAP, Odoo and accounting exports (deterministic per seed)."""
    from demo.generator import generate_demo_data
    from demo.planting import PlantPlan

    out = out or get_settings().resolved_landing_dir
    summary = generate_demo_data(out, items=items, days=days, seed=seed, fault_rate=fault_rate,
                                 end_date=end_date.date() if end_date else None,
                                 progress=lambda msg: click.echo(msg, err=True),
                                 plant=PlantPlan() if plant_events else None)
    click.echo(format_table(["file", "rows"], sorted(summary.files.items())))
    click.echo(f"{summary.items} items, {summary.start_date} .. {summary.end_date}, "
               f"faults: {summary.faults}  -> {out}")
    if summary.labels_file:
        click.echo(f"planted {summary.planted}; labels: {out / summary.labels_file}")


# ----------------------------------------------------------------------------- demo
@cli.command("demo")
@click.option("--items", default=50, show_default=True, type=click.IntRange(1))
@click.option("--days", default=120, show_default=True, type=click.IntRange(30))
@click.option("--seed", default=42, show_default=True, type=int)
def demo_cmd(items: int, days: int, seed: int) -> None:
    """Generate demo data and run the nightly pipeline on it end to end."""
    from orchestration.demo import run_demo

    summary = run_demo(get_settings(), items=items, days=days, seed=seed,
                       echo=lambda msg: click.echo(msg, err=True))
    click.echo(format_table(["stage", "what", "count"], summary))


# ----------------------------------------------------------------------------- backfill
@cli.command("backfill")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--yes", is_flag=True,
              help="Run a range longer than FORGECAST_BACKFILL_CONFIRM_DAYS (default 62).")
def backfill_cmd(start, end, yes: bool) -> None:
    """Rebuild a range of days: dbt once for the range, then forecasts and alerts per day."""
    from orchestration.backfill import run_backfill

    run_ids = run_backfill(get_settings(), start.date(), end.date(),
                           echo=lambda msg: click.echo(msg, err=True), yes=yes)
    click.echo(f"backfill done: {len(run_ids) - 1} day(s), runs {run_ids[0]} .. {run_ids[-1]}")


# ----------------------------------------------------------------------------- maintenance
@cli.command("maintenance")
def maintenance_cmd() -> None:
    """Drop raw partitions and quarantine rows past FORGECAST_RAW_RETENTION_DAYS and prune
    Dagster runs past FORGECAST_RUN_HISTORY_DAYS (also run weekly by a schedule)."""
    from orchestration.maintenance import run_maintenance
    from orchestration.platform import instance as platform_instance

    settings = get_settings()
    rows = run_maintenance(settings, platform_instance(settings))
    click.echo(format_table(["maintenance", "count"], rows))


# ----------------------------------------------------------------------------- ui
@cli.command("ui", context_settings={"ignore_unknown_options": True})
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def ui_cmd(port: int, host: str, dagster_args: tuple[str, ...]) -> None:
    """Start the Dagster webserver and daemon (`dagster dev`) on Forgecast's instance."""
    from orchestration.platform import prepare
    from orchestration.supervise import run_supervised
    from resources.dagster_instance import dagster_environment

    settings = get_settings()
    dagster_env = dagster_environment(settings, prepare(settings))
    root = Path(__file__).resolve().parent.parent
    args = [sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"),
            "-h", host, "-p", str(port), *dagster_args]
    click.echo(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={dagster_env['DAGSTER_HOME']})")
    # `dagster dev` and the processes it starts get the instance's variables; this
    # process's own environment is left as it was. It stays the parent, so SIGTERM from a
    # service manager ends the whole tree (orchestration/supervise.py).
    code = run_supervised(args, {**os.environ, **dagster_env})
    if code:
        sys.exit(code)


# Stage command groups live beside this module, one file each.
cli.add_command(ingest_cmd)
cli.add_command(notify_group)
cli.add_command(select_cmd)


def _as_database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The server down or gone mid-command, whatever layer noticed it first."""
    from orchestration.backfill import database_advice
    from resources.database import server_gone_reason

    if isinstance(exc, DatabaseUnavailable):
        return exc
    reason = server_gone_reason(exc)
    return DatabaseUnavailable(database_advice(reason)) if reason else None


def _log_to_file(verbose: bool) -> None:
    """Library logs (the drivers' connection retries among them) go to
    <data_dir>/logs/forgecast.log; the terminal shows them with --verbose only. A root
    handler also stops `logging.warning` from installing its own stderr handler."""
    settings = get_settings()
    folder = settings.data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "forgecast.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if not verbose:
        root.setLevel(logging.INFO)


def undecodable_argument(argv: list[str]) -> str | None:
    """The first argument that is not UTF-8 text (Python keeps such bytes as lone
    surrogates, which fail later as an unexpected UnicodeEncodeError), shown escaped."""
    for position, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return f"argument {position} ({shown!r}) is not valid UTF-8 text"
    return None


def main(argv: list[str] | None = None) -> int:
    private_umask()  # what the platform writes is private to its user
    bad = undecodable_argument(sys.argv[1:] if argv is None else argv)
    if bad:
        click.echo(f"error: VALIDATION_ERROR: {bad}", err=True)
        return 2
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="forgecast", standalone_mode=False)
    except ServiceError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an unexpected failure: still one line unless --verbose
        if verbose:
            traceback.print_exc()
        gone = _as_database_unavailable(exc)
        if gone is not None:
            click.echo(f"error: {gone}", err=True)
            return gone.exit_code
        click.echo(f"error: OPERATION_ERROR: unexpected {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
