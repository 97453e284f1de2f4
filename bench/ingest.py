"""Benchmark of ingest (assets/ingest/loader.py): validate + load vs raw COPY vs pandas.

    .venv/bin/python bench/ingest.py [--sizes 1000000 5000000] [--pandas-rows 200000]

Starts its own embedded PostgreSQL in a temporary data directory, writes a SAP daily
stock CSV per size (7 columns, ';'-separated, 2,000 materials in one plant, 0.15% bad
rows of every kind the validator knows) and a material master, then measures, each case
in a fresh child process (so ``ru_maxrss`` is that case's own peak resident memory):

- ``forgecast ingest_file``: hash + keep the file, read, validate (types, dates, ranges,
  required values, unknown items, duplicate keys), COPY, quarantine, attach: end to end.
- raw COPY alone: ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` of the same file into a
  plain table of 7 text columns (no validation, no index): the floor a loader can reach.
- pandas ``read_csv`` + ``DataFrame.to_sql`` (SQLAlchemy, psycopg, default method,
  chunks of 10,000, executemany) on the first ``--pandas-rows`` rows of the same file; its rows/s is
  extrapolated to the full size (it is linear, and the full run would take minutes).

Prints a markdown table; the target is >= 40% of raw COPY's rows/s and < 100 MB of peak
RSS growth from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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

HEADER = "STICHTAG;MATNR;WERKS;LGORT;LABST;SPEME;MEINS\n"
ITEMS = 2000
TODAY = date(2026, 6, 30)


def write_master(path: Path) -> None:
    lines = ["MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM\n"]
    lines += [f"{i:018d};1000;PART {i};M{i % 7};ST;SKU-{i};;{5 + i % 20};{i % 50}.0;{i % 80}.0;\n"
              for i in range(ITEMS)]
    path.write_text("".join(lines), encoding="utf-8")


def write_stock(path: Path, rows: int) -> None:
    """Daily stock rows: item-major days, a bad row every ~1000 rows (of several kinds)."""
    days = rows // ITEMS + 1
    start = TODAY - timedelta(days=days)
    dates = [(start + timedelta(days=k)).strftime("%Y%m%d") for k in range(days)]
    bad = ["20251345", "-5", "abc", "99999999999999999"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        written = 0
        for d in dates:
            n = min(ITEMS, rows - written)
            if n <= 0:
                break
            lines = [f"{d};{i:018d};1000;0001;{(i * 7 + written) % 500}.5;0;ST\n" for i in range(n)]
            for k in range(0, n, 997):
                kind = (written + k) % 4
                if kind == 0:
                    lines[k] = f"{bad[0]};{k:018d};1000;0001;1;0;ST\n"
                elif kind == 1:
                    lines[k] = f"{d};{k:018d};1000;0001;{bad[1]};0;ST\n"
                elif kind == 2:
                    lines[k] = f"{d};{bad[3][:18]};1000;0001;1;0;ST\n"  # unknown item
                else:
                    lines[k] = lines[k - 1] if k else lines[k]  # duplicate key
            fh.write("".join(lines))
            written += n


# ----------------------------------------------------------------------------- cases (child)
def _settings(data_dir: str):
    from resources.settings import Settings

    return Settings(data_dir=Path(data_dir))


def case_platform(data_dir: str, file: str) -> dict:
    from assets.ingest.loader import ingest_file
    from orchestration.platform import prepare
    from resources.database import connect

    settings = _settings(data_dir)
    prepare(settings)
    with connect(settings, autocommit=True) as conn:
        conn.execute("checkpoint")
        t0 = time.perf_counter()
        result = ingest_file(conn, Path(file), "sap", "stock", store_dir=Path(data_dir) / "files",
                             bad_row_threshold=0.05, today=TODAY)
        elapsed = time.perf_counter() - t0
    return {"rows": result.rows_received, "seconds": elapsed, "loaded": result.rows_loaded,
            "quarantined": result.rows_quarantined, "status": result.status}


def case_copy(data_dir: str, file: str) -> dict:
    from orchestration.platform import prepare
    from resources.database import connect

    settings = _settings(data_dir)
    prepare(settings)
    with connect(settings, autocommit=True) as conn:
        conn.execute("drop table if exists public.bench_copy")
        conn.execute("create table public.bench_copy (stichtag text, matnr text, werks text, "
                     "lgort text, labst text, speme text, meins text)")
        conn.execute("checkpoint")
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(
                "copy public.bench_copy from stdin (format csv, delimiter ';', header true)") as cp, \
                open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        elapsed = time.perf_counter() - t0
        rows = conn.execute("select count(*) from public.bench_copy").fetchone()[0]
        conn.execute("drop table public.bench_copy")
    return {"rows": rows, "seconds": elapsed}


def case_pandas(data_dir: str, file: str, sample: int) -> dict:
    import pandas as pd
    import sqlalchemy as sa

    from orchestration.platform import prepare

    server = prepare(_settings(data_dir))
    engine = sa.create_engine(server.url())
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists public.bench_pandas")
        conn.exec_driver_sql("checkpoint")
    t0 = time.perf_counter()
    frame = pd.read_csv(file, sep=";", dtype=str, nrows=sample, keep_default_na=False)
    frame.to_sql("bench_pandas", engine, schema="public", index=False, chunksize=10_000)
    elapsed = time.perf_counter() - t0
    with engine.begin() as conn:
        rows = conn.exec_driver_sql("select count(*) from public.bench_pandas").scalar()
        conn.exec_driver_sql("drop table public.bench_pandas")
    engine.dispose()
    return {"rows": rows, "seconds": elapsed}


def child_main(args: argparse.Namespace) -> None:
    if args.case == "platform":
        out = case_platform(args.data_dir, args.file)
    elif args.case == "copy":
        out = case_copy(args.data_dir, args.file)
    else:
        out = case_pandas(args.data_dir, args.file, args.pandas_rows)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_case(case: str, data_dir: Path, file: Path, pandas_rows: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", case, "--data-dir", str(data_dir), "--file",
         str(file), "--pandas-rows", str(pandas_rows)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- parent
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--pandas-rows", type=int, default=200_000)
    parser.add_argument("--child", choices=["platform", "copy", "pandas"])
    parser.add_argument("--data-dir")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        args.case = args.child
        child_main(args)
        return

    from assets.ingest.loader import ingest_file
    from orchestration.platform import prepare
    from resources.database import connect, stop_embedded

    tmp = Path(tempfile.mkdtemp(prefix="fc-bench-ingest-"))
    settings = _settings(str(tmp / "data"))
    try:
        prepare(settings)
        master = tmp / "sap_material_master.csv"
        write_master(master)
        with connect(settings, autocommit=True) as conn:
            ingest_file(conn, master, "sap", "material_master", store_dir=settings.data_dir / "files",
                        today=TODAY)
        results = []
        for size in args.sizes:
            file = tmp / f"sap_stock_{size}.csv"
            t0 = time.perf_counter()
            write_stock(file, size)
            mb = file.stat().st_size / 1e6
            print(f"wrote {file.name}: {size:,} rows, {mb:.0f} MB in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
            copy = run_case("copy", settings.data_dir, file, args.pandas_rows)
            platform = run_case("platform", settings.data_dir, file, args.pandas_rows)
            pandas = run_case("pandas", settings.data_dir, file, min(args.pandas_rows, size))
            results.append((size, mb, copy, platform, pandas))
            file.unlink()
        print_table(results)
    finally:
        stop_embedded(settings)
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(results) -> None:
    print("| implementation | rows | file MB | seconds | rows/s | vs raw COPY | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size, mb, copy, platform, pandas in results:
        copy_rate = copy["rows"] / copy["seconds"]
        for name, r in (("raw COPY alone (no validation)", copy),
                        ("forgecast ingest_file (validate + load)", platform),
                        (f"pandas read_csv + to_sql ({pandas['rows']:,}-row sample, "
                         "extrapolated)", pandas)):
            rate = r["rows"] / r["seconds"]
            seconds = size / rate
            print(f"| {name} | {size:,} | {mb:.0f} | {seconds:.2f} | {rate:,.0f} | "
                  f"{rate / copy_rate:.0%} | {r['peak_rss_mb']:.0f} |")
    if len(results) > 1:
        first, last = results[0][3], results[-1][3]
        print(f"\nforgecast peak RSS growth {results[0][0]:,} -> {results[-1][0]:,} rows: "
              f"{last['peak_rss_mb'] - first['peak_rss_mb']:.0f} MB; quarantined "
              f"{last['quarantined']:,} of {last['rows']:,} rows ({last['status']})")


if __name__ == "__main__":
    main()
