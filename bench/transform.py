"""Benchmark of the unified data service (dbt): a full build against the nightly
incremental build of one day, on N items x D days of demo data.

    .venv/bin/python bench/transform.py [--items 10000] [--days 730] [--reuse DIR]
                                        [--database-url URL]

Starts a private embedded PostgreSQL in a temporary data directory (or reuses DIR from
an earlier run with ``--reuse``, skipping data generation and ingest; or uses the server
of ``--database-url``, e.g. a PostgreSQL 15 one: bench/server_versions.py), writes the demo
exports, ingests them through the ingest stage, then times, each as one dbt invocation
the way the Dagster asset runs it (``dbt build``: models, snapshot, seed and every test):

The last day of the four daily exports (SAP stock and goods movements, Odoo quants and
moves) is held back, as if it arrived the next night. Then:

1. full build of everything before it: ``dbt build --full-refresh``;
2. the night: the held-back day is ingested as its own batches, then the incremental
   nightly build ``dbt build --vars {min_date, max_date}`` for that day, the window a
   nightly partition passes;
3. full build again over all the data - what a naive nightly job would do every night -
   and a check that the incremental build had left the unified tables identical to it
   (row count and an order-independent hash of every row but its loaded_at, per table).

Prints a markdown table with the per-phase split (models vs tests, from run_results.json).
Targets: full build < 180 s on the 2-core machine; incremental <= 10% of the full build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from held_back_day import hold_back_day, release_held_back  # noqa: E402  (bench/ is on sys.path)

UNIFIED_TABLES = ("manufacturing_items", "item_external_ids", "manufacturing_processes",
                  "inventory_snapshots", "demand_history", "open_supply")


def dbt(args: list[str], env: dict[str, str], target_path: Path) -> tuple[float, dict]:
    """Run one dbt invocation; (wall seconds, run_results)."""
    cmd = [sys.executable, str(ROOT / "dbt_project" / "scripts" / "run_dbt.py"), *args,
           "--target-path", str(target_path)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"dbt {' '.join(args)} failed (exit {proc.returncode})")
    return seconds, json.loads((target_path / "run_results.json").read_text())


def phase_split(run_results: dict) -> dict[str, float]:
    """Seconds of node execution per kind (models, snapshots, seeds, tests); nodes run on
    2 threads, so these add up to more than the wall time."""
    split: dict[str, float] = {}
    for result in run_results["results"]:
        kind = result["unique_id"].split(".")[0]
        split[kind] = split.get(kind, 0.0) + result["execution_time"]
    return split


def slowest(run_results: dict, n: int = 5) -> list[tuple[str, float]]:
    ranked = sorted(run_results["results"], key=lambda r: -r["execution_time"])
    return [(r["unique_id"].split(".", 2)[-1], r["execution_time"]) for r in ranked[:n]]


def table_fingerprints(env: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of every row (but its loaded_at), per unified table."""
    os.environ.update(env)
    from resources.database import connect
    from resources.settings import get_settings

    out = {}
    with connect(get_settings(), autocommit=True) as conn:
        for table in UNIFIED_TABLES:
            # loaded_at says when a row was written: the one column allowed to differ.
            row = conn.execute(
                "select count(*), coalesce(sum(('x' || substr(md5((to_jsonb(t) - 'loaded_at')::text),"
                f" 1, 15))::bit(60)::bigint)::text, '0') from unified.{table} t").fetchone()
            out[table] = (row[0], row[1])
    return out


def ingest(settings) -> tuple[float, int]:
    from assets.ingest.landing import ingest_landing_zone_files
    from resources.database import connect

    started = time.perf_counter()
    with connect(settings, autocommit=True) as conn:
        results = ingest_landing_zone_files(conn, settings)
    return time.perf_counter() - started, sum(r.rows_loaded for r in results)


def prepare(data_dir: Path, items: int, days: int, end: date) -> None:
    """Demo exports (the last day held back under data_dir/held) + ingest."""
    from demo.generator import generate_demo_data
    from orchestration.platform import prepare
    from resources.settings import get_settings

    settings = get_settings()
    prepare(settings)
    started = time.perf_counter()
    generate_demo_data(settings.resolved_landing_dir, items=items, days=days, seed=1, end_date=end)
    held = hold_back_day(settings.resolved_landing_dir, data_dir / "held", end)
    generated = time.perf_counter() - started
    seconds, rows = ingest(settings)
    print(f"setup: demo data {generated:.1f}s ({held:,} rows of {end} held back), "
          f"ingest {seconds:.1f}s ({rows:,} raw rows)", file=sys.stderr)


def arrive(data_dir: Path) -> tuple[float, int]:
    """The held-back day lands and is ingested (its own batches)."""
    from resources.settings import get_settings

    settings = get_settings()
    release_held_back(data_dir / "held", settings.resolved_landing_dir)
    return ingest(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--reuse", type=Path, help="data dir of an earlier run (keeps it)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    parser.add_argument("--database-url", help="an external server (default: embedded)")
    args = parser.parse_args()

    end = date.today() - timedelta(days=1)
    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix=f"fc-transform-{args.items}-"))
    env = {**os.environ, "FORGECAST_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    os.environ.pop("DATABASE_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    os.environ.update(env)
    target = data_dir / "dbt_target"
    try:
        if args.reuse:
            print(f"reusing {data_dir}", file=sys.stderr)
        else:
            prepare(data_dir, args.items, args.days, end)

        first_s, first_results = dbt(["build", "--full-refresh"], env, target)
        print(f"full build (without the last day) {first_s:.1f}s; slowest {slowest(first_results)}",
              file=sys.stderr)
        if (data_dir / "held").exists():
            seconds, rows = arrive(data_dir)
            print(f"the night's ingest: {rows:,} rows in {seconds:.1f}s", file=sys.stderr)

        window = {"min_date": end.isoformat(), "max_date": end.isoformat()}
        inc_s, inc_results = dbt(["build", "--vars", json.dumps(window)], env, target)
        print(f"incremental build {inc_s:.1f}s; slowest {slowest(inc_results)}", file=sys.stderr)
        inc_tables = table_fingerprints(env)

        full_s, full_results = dbt(["build", "--full-refresh"], env, target)
        print(f"full build {full_s:.1f}s; slowest {slowest(full_results)}", file=sys.stderr)
        full_tables = table_fingerprints(env)
    finally:
        if not (args.reuse or args.keep):
            if not args.database_url:
                subprocess.run([sys.executable, "-m", "orchestration.cli", "db", "down"],
                               cwd=ROOT, env=env, capture_output=True)
            shutil.rmtree(data_dir, ignore_errors=True)

    identical = full_tables == inc_tables
    snapshot_rows = full_tables["inventory_snapshots"][0]
    items = full_tables["manufacturing_items"][0]
    print(f"\n{items:,} items x {args.days} days: {snapshot_rows:,} inventory_snapshots rows, "
          f"{full_tables['demand_history'][0]:,} demand_history rows; load average "
          f"{os.getloadavg()[0]:.1f}")
    print("\n| build | dbt invocation | wall s | models s | tests s | vs full |")
    print("|---|---|---:|---:|---:|---:|")
    for name, invocation, seconds, results in (
            ("full, all days but the last", "build --full-refresh", first_s, first_results),
            ("full (the naive nightly)", "build --full-refresh", full_s, full_results),
            ("incremental nightly, 1 day", "build --vars {min_date, max_date}", inc_s, inc_results)):
        split = phase_split(results)
        models = split.get("model", 0) + split.get("snapshot", 0) + split.get("seed", 0)
        print(f"| {name} | `{invocation}` | {seconds:,.1f} | {models:,.1f} | "
              f"{split.get('test', 0):,.1f} | {seconds / full_s:.0%} |")
    print(f"\nunified tables identical after the incremental build: {identical}")
    if not identical:
        for table in UNIFIED_TABLES:
            if full_tables[table] != inc_tables[table]:
                print(f"  {table}: full {full_tables[table]} vs incremental {inc_tables[table]}")
    print(json.dumps({"full_s": round(full_s, 1), "incremental_s": round(inc_s, 1),
                      "targets": {"full_s": 180, "incremental_share": 0.10},
                      "met": full_s < 180 and inc_s <= 0.10 * full_s and identical}))
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
