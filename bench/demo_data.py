"""Benchmark of the demo data generator (demo/generator.py).

    .venv/bin/python bench/demo_data.py [--items 10000 --days 730] [--small-items 1000]

Times ``generate_demo_data`` for a small and a large size, and compares it at the small
size with the naive way of writing the same exports, in the same run: one Python loop step per item and day,
``csv.writer.writerow`` / ``json.dumps`` per row (``naive_generate`` below, same files and
columns, the same kind of simulation). Every measurement runs in a fresh child process so
``ru_maxrss`` (peak resident memory) belongs to that run alone. A second table shows the
tracemalloc heap peak for a quarter of and the full small size: streaming means it does
not grow with items.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

END = date(2025, 6, 30)
ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- naive
def naive_generate(out: Path, items: int, days: int, seed: int) -> int:
    """Row-at-a-time reference: same files and columns, Python loop per item and day."""
    rnd = random.Random(seed)
    start = END - timedelta(days=days - 1)
    dates = [start + timedelta(days=k) for k in range(days + 62)]
    weekday = [1.05, 1.0, 1.0, 1.0, 0.9, 0.2, 0.02]
    files, rows = {}, 0

    def open_csv(source: str, entity: str, header: list[str]):
        path = out / source / entity / f"{source}_{entity}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        files[path] = f
        w = csv.writer(f, delimiter=";" if source == "sap" else ",", lineterminator="\n")
        w.writerow(header)
        return w

    class JsonArray:
        def __init__(self, entity: str) -> None:
            path = out / "odoo" / entity / f"odoo_{entity}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.f = files[path] = open(path, "w", encoding="utf-8")  # noqa: SIM115
            self.f.write("[")
            self.first = True

        def add(self, obj: dict) -> None:
            self.f.write(("\n" if self.first else ",\n") + json.dumps(obj))
            self.first = False

    master = open_csv("sap", "material_master", ["MATNR", "WERKS", "MAKTX", "MATKL", "MEINS",
                      "BISMT", "EAN11", "PLIFZ", "EISBE", "MINBE", "LVORM", "STRGR"])
    routings = open_csv("sap", "routings", ["MATNR", "WERKS", "PLNNR", "VORNR", "ARBPL",
                        "LTXA1", "VGW01", "VGW02", "VGE01"])
    stock = open_csv("sap", "stock", ["STICHTAG", "MATNR", "WERKS", "LGORT", "LABST", "SPEME",
                     "MEINS"])
    moves = open_csv("sap", "goods_movements", ["MBLNR", "ZEILE", "BWART", "MATNR", "WERKS",
                     "LGORT", "BUDAT", "MENGE", "MEINS", "SHKZG"])
    orders = open_csv("sap", "purchase_orders", ["EBELN", "EBELP", "MATNR", "WERKS", "EINDT",
                      "MENGE", "WEMNG", "MEINS"])
    open_csv("sap", "master_audit", ["CHANGENR", "OBJECTID", "WERKS", "UDATE", "FNAME",
             "VALUE_OLD", "VALUE_NEW", "USERNAME"])
    valuation = open_csv("acct", "item_valuation", ["item_ref", "valuation_date",
                         "standard_cost", "currency", "valuation_class"])
    products, quants = JsonArray("products"), JsonArray("stock_quants")
    odoo_moves, ops = JsonArray("stock_moves"), JsonArray("workcenter_operations")

    def poisson(mean: float) -> int:  # Knuth; fine for the small means here
        limit, k, p = math.exp(-mean), 0, rnd.random()
        while p > limit:
            k += 1
            p *= rnd.random()
        return k

    mblnr = move_id = 1
    for i in range(items):
        sku, matnr = f"FC-{i + 1:06d}", f"{1_000_000 + i:018d}"
        u = rnd.random()
        systems = ["sap"] if u < 0.6 else ["odoo"] if u < 0.85 else ["sap", "odoo"]
        level = min(rnd.lognormvariate(math.log(6), 0.9), 60)
        for d in dates[:days]:
            if d.day == 1:
                valuation.writerow([sku, d.isoformat(), f"{rnd.uniform(1, 200):.2f}", "EUR",
                                    "3000"])
                rows += 1
        for system in systems:
            lead = rnd.randint(3, 60)
            reorder = round(level * lead * 1.3)
            lot = max(1, round(level * rnd.uniform(15, 60)))
            on_hand, pipeline = reorder + lot // 2, {}
            if system == "sap":
                master.writerow([matnr, "1000", f"ITEM {i}", "COMP01", "ST", sku, "", lead,
                                 0, reorder, "", "40"])
                routings.writerow([matnr, "1000", 50_000_000 + i, "0010", "ASSY-10",
                                   "Assemble", 30, 1.5, "MIN"])
            else:
                products.add({"id": 100 + i, "default_code": sku, "name": f"Item {i}",
                              "categ_id": "All / Components", "uom_id": "Units",
                              "barcode": None, "active": True, "produce_delay": lead,
                              "safety_stock": 0, "reorder_point": reorder,
                              "route_ids": "Manufacture"})
                ops.add({"id": i, "product_id": 100 + i, "workcenter": "Assembly Line 1",
                         "name": "Assemble", "sequence": 10, "time_cycle_manual": 1.5,
                         "setup_time": 30})
            rows += 2
            for t in range(days):
                d = dates[t]
                received = pipeline.pop(t, 0)
                on_hand += received
                demand = poisson(level * weekday[d.weekday()])
                issued = min(demand, on_hand)
                on_hand -= issued
                if system == "sap":
                    day = d.strftime("%Y%m%d")
                    if received:
                        moves.writerow([mblnr, 1, "101", matnr, "1000", "0001", day, received,
                                        "ST", "S"])
                        mblnr, rows = mblnr + 1, rows + 1
                    if issued:
                        moves.writerow([mblnr, 1, "261", matnr, "1000", "0001", day, issued,
                                        "ST", "H"])
                        mblnr, rows = mblnr + 1, rows + 1
                    stock.writerow([day, matnr, "1000", "0001", on_hand, 0, "ST"])
                else:
                    stamp = f"{d.isoformat()}T{rnd.randint(6, 17):02d}:00:00"
                    if received:
                        odoo_moves.add({"id": move_id, "product_id": 100 + i, "date": stamp,
                                        "product_uom_qty": received,
                                        "location_id": "Partners/Vendors",
                                        "location_dest_id": "WH/Stock", "state": "done",
                                        "reference": f"WH/IN/{move_id:05d}"})
                        move_id, rows = move_id + 1, rows + 1
                    if issued:
                        odoo_moves.add({"id": move_id, "product_id": 100 + i, "date": stamp,
                                        "product_uom_qty": issued, "location_id": "WH/Stock",
                                        "location_dest_id": "Virtual Locations/Production",
                                        "state": "done", "reference": f"WH/MO/{move_id:05d}"})
                        move_id, rows = move_id + 1, rows + 1
                    quants.add({"date": d.isoformat(), "product_id": 100 + i,
                                "location_id": "WH/Stock", "quantity": on_hand,
                                "reserved_quantity": 0})
                rows += 1
                if on_hand + sum(pipeline.values()) <= reorder:
                    due = t + lead
                    pipeline[due] = pipeline.get(due, 0) + lot
            for j, (due, qty) in enumerate(sorted(pipeline.items())):
                if system == "sap":
                    orders.writerow([4_500_000_000 + i, (j + 1) * 10, matnr, "1000",
                                     dates[due].strftime("%Y%m%d"), qty, 0, "ST"])
                    rows += 1
    for j in (products, quants, odoo_moves, ops):
        j.f.write("\n]\n")
    for f in files.values():
        f.close()
    return rows


# ----------------------------------------------------------------------------- child
def child(kind: str, items: int, days: int, heap: bool) -> None:
    """One measured run in this (fresh) process; prints one JSON line."""
    sys.path.insert(0, str(ROOT))
    from demo.generator import generate_demo_data

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    if heap:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    if kind == "fast":
        rows = sum(generate_demo_data(out, items=items, days=days, seed=42, end_date=END,
                                      fault_rate=0.002).files.values())
    else:
        rows = naive_generate(out, items, days, seed=42)
    seconds = time.perf_counter() - t0
    heap_peak = tracemalloc.get_traced_memory()[1] if heap else 0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    print(json.dumps({
        "kind": kind, "items": items, "days": days, "rows": rows, "seconds": seconds,
        "mb": size / 1e6, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_rss_mb": base_rss / 1024, "heap_mb": heap_peak / 1e6,
    }))


def measure(kind: str, items: int, days: int, heap: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--items", str(items), "--days", str(days)]
    if heap:
        cmd.append("--heap")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000, help="largest size (items)")
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--small-items", type=int, default=1_000,
                    help="small size, also the size of the naive vs fast comparison")
    ap.add_argument("--child", choices=("fast", "naive"), help=argparse.SUPPRESS)
    ap.add_argument("--heap", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.items, args.days, args.heap)
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n", file=sys.stderr)
    runs = []
    for kind, items in (("naive", args.small_items), ("fast", args.small_items),
                        ("fast", args.items)):
        print(f"running {kind} {items} x {args.days} ...", file=sys.stderr)
        runs.append(measure(kind, items, args.days))
    print("| implementation | items x days | rows | MB written | seconds | rows/s "
          "| peak RSS MB | RSS growth MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        name = ("naive (row loop, csv.writer / json.dumps)" if r["kind"] == "naive"
                else "generate_demo_data (numpy + str.join)")
        print(f"| {name} | {r['items']} x {r['days']} | {r['rows']:,} | {r['mb']:.0f} "
              f"| {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | {r['rss_mb']:.0f} "
              f"| {r['rss_mb'] - r['base_rss_mb']:.0f} |")
    naive, fast = runs[0], runs[1]
    speedup = (fast["rows"] / fast["seconds"]) / (naive["rows"] / naive["seconds"])
    print(f"\nfast vs naive at {args.small_items} x {args.days}: {speedup:.1f}x rows/s")

    print("\n| tracemalloc heap peak | items x days | MB |\n|---|---|---:|")
    for items in (max(1, args.small_items // 4), args.small_items):
        r = measure("fast", items, args.days, heap=True)
        print(f"| generate_demo_data | {items} x {args.days} | {r['heap_mb']:.1f} |")


if __name__ == "__main__":
    main()
