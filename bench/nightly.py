"""Nightly pipeline benchmark: time and peak memory per stage, for N items x D days of
demo data on a private embedded PostgreSQL.

    .venv/bin/python bench/nightly.py --items 1000 10000 --days 730

Each stage runs in its own process (the same code paths the CLI and Dagster use), whose
peak RSS - including child processes such as dbt - is sampled while it runs. Target:
10,000 items x 730 days in at most 15 minutes on the 2-core machine, and no stage's
memory growing faster than its input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("demo data", "ingest", "dbt", "forecast + alerts", "notify")


def run_stage(stage: str, items: int, days: int, data_dir: Path) -> tuple[float, float]:
    """(seconds, peak RSS MB of the stage's process tree)."""
    env = {**os.environ, "FORGECAST_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, __file__, "--stage", stage, "--items", str(items), "--days", str(days)]
    started = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                        stderr=open(data_dir / f"{stage.replace(' ', '_')}.log", "w"))  # noqa: SIM115
    peak = 0
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} failed: see {data_dir}")
    return time.perf_counter() - started, peak / 2**20


def stage_main(stage: str, items: int, days: int) -> None:
    """Run one stage in this process (called by run_stage)."""
    from resources.bootstrap import ensure_ready
    from resources.database import connect
    from resources.settings import get_settings

    settings = get_settings()
    end = date.today() - timedelta(days=1)
    ensure_ready(settings)
    if stage == "demo data":
        from orchestration.demo_data import generate_demo_data

        generate_demo_data(settings.resolved_landing_dir, items=items, days=days, seed=1,
                           end_date=end)
        return
    if stage == "ingest":
        from assets.ingest.landing import ingest_landing_zone_files

        with connect(settings, autocommit=True) as conn:
            ingest_landing_zone_files(conn, settings)
        return
    import dagster as dg

    from orchestration.definitions import defs

    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if stage == "notify":
        result = defs.resolve_job_def("notify").execute_in_process(instance=instance,
                                                                   run_config=quiet)
    else:
        name = "unified_models" if stage == "dbt" else "forecast_and_alerts"
        result = defs.resolve_job_def(name).execute_in_process(
            instance=instance, partition_key=end.isoformat(), run_config=quiet)
    if not result.success:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        stage_main(args.stage, args.items[0], args.days)
        return
    rows = []
    for items in args.items:
        data_dir = Path(tempfile.mkdtemp(prefix=f"fc-bench-{items}-"))
        total = 0.0
        for stage in STAGES:
            seconds, peak = run_stage(stage, items, args.days, data_dir)
            total += seconds
            rows.append((items, stage, seconds, peak))
            print(f"{items} items: {stage} {seconds:.1f}s, peak {peak:.0f} MB", file=sys.stderr)
        rows.append((items, "total", total, max(r[3] for r in rows if r[0] == items)))
        subprocess.run([sys.executable, "-m", "orchestration.cli", "db", "down"], cwd=ROOT,
                       env={**os.environ, "FORGECAST_DATA_DIR": str(data_dir)},
                       capture_output=True)
    print(f"\n| items x {args.days} days | stage | seconds | peak RSS MB |")
    print("|---:|---|---:|---:|")
    for items, stage, seconds, peak in rows:
        print(f"| {items:,} | {stage} | {seconds:,.1f} | {peak:,.0f} |")
    print(json.dumps({"target": "10,000 items in <= 900 s"}))


if __name__ == "__main__":
    main()
