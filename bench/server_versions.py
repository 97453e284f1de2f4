"""Benchmark: the dbt builds of bench/transform.py on PostgreSQL 15 against the embedded
PostgreSQL 16, on the same N items x D days of demo data.

    .venv/bin/python bench/server_versions.py [--items 1000] [--days 730]

On 16 the casting macros guard each cast with pg_input_is_valid; on 15 they cast the
columns ingest validated as they are (dbt_project/macros/casting.sql). The 15 server is a
throwaway cluster of the machine's own binaries (tests/pg_cluster.py) with the embedded
server's settings (resources/database.py EMBEDDED_SERVER_SETTINGS) and byte-order
collation like its databases, so the versions and their casts are what differs; a third
run on 15 with a US-English ICU collation, as most external servers have, shows what the
collation costs. Each run is a bench/transform.py process (full build, the night's
incremental build, full build again); prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from resources.database import EMBEDDED_SERVER_SETTINGS  # noqa: E402
from tests.pg_cluster import BYTE_ORDER, ICU_EN_US, PG15_BIN, start_cluster  # noqa: E402


def transform(items: int, days: int, database_url: str | None) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "transform.py"), "--items", str(items),
           "--days", str(days)]
    if database_url:
        cmd += ["--database-url", database_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stderr.write(proc.stderr[-3000:])
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:])
        raise SystemExit(f"bench/transform.py failed on {database_url or 'the embedded server'}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def on_pg15(items: int, days: int, locale: tuple[str, ...]) -> dict:
    cluster = start_cluster(PG15_BIN, locale=locale, settings=EMBEDDED_SERVER_SETTINGS)
    try:
        return transform(items, days, cluster.url("forgecast"))
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()

    runs = [("16 (embedded)", "C", transform(args.items, args.days, None)),
            ("15", "C", on_pg15(args.items, args.days, BYTE_ORDER)),
            ("15", "ICU en-US", on_pg15(args.items, args.days, ICU_EN_US))]
    base = runs[0][2]
    print(f"\n{args.items:,} items x {args.days} days; load average {os.getloadavg()[0]:.1f}")
    print("\n| PostgreSQL | collation | full build s | vs 16 | incremental s | vs 16 |")
    print("|---|---|---:|---:|---:|---:|")
    for version, collation, result in runs:
        print(f"| {version} | {collation} | {result['full_s']:.1f} | "
              f"{result['full_s'] / base['full_s']:.0%} | {result['incremental_s']:.1f} | "
              f"{result['incremental_s'] / base['incremental_s']:.0%} |")


if __name__ == "__main__":
    main()
