"""Nightly pipeline benchmark: time and peak memory per stage, for N items x D days of
demo data on a private embedded PostgreSQL.

    .venv/bin/python bench/nightly.py --items 1000 10000 --days 730

Two nights, like a new installation: the demo exports arrive with their last day held
back (bench/held_back_day.py).
- Night 1 (bootstrap): ingest the history, build dbt from scratch, forecast with a
  cold-start model selection for every item (no weekly selection exists yet), alerts,
  notifications - for the day before the last.
- Night 2 (a regular night): the last day's exports arrive as their own batches; ingest,
  the incremental dbt build of that day, forecasts with the selections stored by night 1,
  alerts, notifications.
Two recipients are registered before night 1 (a planner: every alert type from severity
high; a buyer: shortages of any severity), their channel a json:// local HTTP receiver
in the benchmark's process, so notify renders, attaches charts and sends for real.
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
NIGHTS = {1: ("demo data", "ingest", "dbt", "forecast + alerts", "notify"),
          2: ("ingest", "dbt", "forecast + alerts", "notify")}


def run_stage(night: int, stage: str, items: int, days: int, data_dir: Path) -> tuple[float, float]:
    """(seconds, peak RSS MB of the stage's process tree)."""
    env = {**os.environ, "FORGECAST_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, __file__, "--stage", stage, "--night", str(night), "--items", str(items),
           "--days", str(days)]
    started = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                        stderr=open(data_dir / f"night{night}_{stage.replace(' ', '_')}.log", "w"))  # noqa: SIM115
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


def register_recipients(settings, channel_url: str) -> None:
    from assets.notify.admin import set_channel_preference, upsert_recipient
    from resources.database import connect

    with connect(settings, autocommit=True) as conn:
        planner = upsert_recipient(conn, "planner", "UTC", "planner")
        set_channel_preference(conn, settings, planner, channel_url, min_severity="high")
        buyer = upsert_recipient(conn, "buyer", "UTC", "buyer")
        set_channel_preference(conn, settings, buyer, channel_url, min_severity="low",
                               alert_type="shortage")


def stage_main(night: int, stage: str, items: int, days: int) -> None:
    """Run one stage in this process (called by run_stage)."""
    from held_back_day import hold_back_day, release_held_back

    from orchestration.platform import instance as platform_instance
    from orchestration.platform import prepare
    from resources.database import connect
    from resources.settings import get_settings

    settings = get_settings()
    last_day = date.today() - timedelta(days=1)
    end = last_day - timedelta(days=1) if night == 1 else last_day
    held = settings.data_dir / "held"
    prepare(settings)
    if stage == "demo data":
        from demo.generator import generate_demo_data

        generate_demo_data(settings.resolved_landing_dir, items=items, days=days, seed=1,
                           end_date=last_day)
        hold_back_day(settings.resolved_landing_dir, held, last_day)
        register_recipients(settings, os.environ["FORGECAST_BENCH_RECEIVER_URL"])
        return
    if stage == "ingest":
        from assets.ingest.landing import ingest_landing_zone_files

        if night == 2:
            release_held_back(held, settings.resolved_landing_dir)
        with connect(settings, autocommit=True) as conn:
            ingest_landing_zone_files(conn, settings)
        return
    from orchestration.definitions import defs

    instance = platform_instance(settings)
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
    record_supply_side(settings.data_dir, night, stage, instance, result.run_id)


# The dbt nodes of the supply side (issue 13): orders, transfers, BOMs and their tests.
SUPPLY_NODES = ("production_orders", "planned_orders", "stock_transport_orders", "sap__bom",
                "odoo__boms", "bom_lines", "manufacturing_orders", "open_transfers",
                "open_supply", "open_demand", "bill_of_materials", "production_history")


def record_supply_side(data_dir: Path, night: int, stage: str, instance, run_id: str) -> None:
    """What the supply side cost in this stage: the dbt nodes' execution time (summed over
    dbt's threads) or the projection + explosion step, into <data dir>/supply_side.json."""
    path = data_dir / "supply_side.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    if stage == "dbt":
        runs = sorted((ROOT / "dbt_project" / "target").glob("*/run_results.json"),
                      key=lambda p: p.stat().st_mtime)
        results = json.loads(runs[-1].read_text())["results"] if runs else []
        seconds = sum(r["execution_time"] for r in results
                      if any(name in r["unique_id"] for name in SUPPLY_NODES))
        recorded[f"{night}:dbt supply models and tests (node seconds)"] = seconds
    else:
        for step in instance.get_run_step_stats(run_id):
            if "projected_inventory" in step.step_key and step.end_time and step.start_time:
                recorded[f"{night}:projection + explosion step"] = step.end_time - step.start_time
    path.write_text(json.dumps(recorded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--night", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        sys.path.insert(0, str(ROOT / "bench"))
        stage_main(args.night, args.stage, args.items[0], args.days)
        return
    sys.path.insert(0, str(ROOT))
    from resources.local_receiver import LocalReceiver

    receiver = LocalReceiver().start()
    os.environ["FORGECAST_BENCH_RECEIVER_URL"] = receiver.url
    rows, messages, supply = [], {}, {}
    for items in args.items:
        data_dir = Path(tempfile.mkdtemp(prefix=f"fc-bench-{items}-"))
        for night, stages in NIGHTS.items():
            total, peaks = 0.0, []
            for stage in stages:
                seconds, peak = run_stage(night, stage, items, args.days, data_dir)
                total += seconds
                peaks.append(peak)
                rows.append((items, night, stage, seconds, peak))
                if stage == "notify":
                    messages[(items, night)] = len(receiver.requests) - sum(messages.values())
                print(f"{items} items, night {night}: {stage} {seconds:.1f}s, peak {peak:.0f} MB",
                      file=sys.stderr)
            rows.append((items, night, "**total**", total, max(peaks)))
            supply[(items, night, "night total")] = total
        recorded = data_dir / "supply_side.json"
        for key, seconds in (json.loads(recorded.read_text()) if recorded.exists() else {}).items():
            night, what = key.split(":", 1)
            supply[(items, int(night), what)] = seconds
        subprocess.run([sys.executable, "-m", "orchestration.cli", "db", "down"], cwd=ROOT,
                       env={**os.environ, "FORGECAST_DATA_DIR": str(data_dir)},
                       capture_output=True)
    receiver.stop()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print("messages received by the local receiver (planner + buyer): " + ", ".join(
        f"{items:,} items night {night}: {count:,}" for (items, night), count in messages.items()))
    print(f"\n| items x {args.days} days | night | stage | seconds | peak RSS MB |")
    print("|---:|---|---|---:|---:|")
    for items, night, stage, seconds, peak in rows:
        label = "1 (bootstrap)" if night == 1 else "2 (regular)"
        print(f"| {items:,} | {label} | {stage} | {seconds:,.1f} | {peak:,.0f} |")
    print("\n| items | night | supply-side part | seconds | share of the night |")
    print("|---:|---|---|---:|---:|")
    for (items, night, what), seconds in supply.items():
        if what != "night total":
            share = seconds / supply[(items, night, "night total")]
            print(f"| {items:,} | {night} | {what} | {seconds:,.1f} | {share:.1%} |")
    print(json.dumps({"target": "10,000 items in <= 900 s; the supply side under 20% of a "
                                "regular night"}))


if __name__ == "__main__":
    main()
