"""Benchmark of the supply plan (assets/forecast/mrp.py): projection on firm and firm +
planned supply plus the BOM explosion, against the naive way in the same run.

    .venv/bin/python bench/supply_plan.py [--items 1000 10000] [--naive-items 1000]
    .venv/bin/python bench/supply_plan.py --data-dir DIR [DIR ...]

The second form measures the real asset step (``forecast/projected_inventory`` with
``forecast/dependent_demand``) on warehouses bench/nightly.py left behind (its data
directories under /tmp/fc-bench-<items>-*): the step's time, its process's peak RSS and
the peak above the RSS after the imports (what the plan itself holds).

Both produce the projection (firm and firm + planned, per item and day) and the dependent
demand. A synthetic plant like the demo's: 40% finished goods (each with a production order, a
planned order and a two-line BOM of subassemblies or components), 20% subassemblies (one
BOM line to a raw material, one to the common packaging), the rest components and raw
materials; 90 forecast days. The naive way is what an MRP script would do: for each item in
low-level-code order, a Python loop over its forecast days to net it, and a loop over each
requirement and BOM line to explode it (same results; ``--check`` compares them).
Each measurement runs in a fresh child process, so ``ru_maxrss`` is that run's alone.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HORIZON = 90
FIRST = date(2027, 1, 4)
LOC = "sap:1000"


def portfolio(items: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    ids = [f"item-{k:06d}" for k in range(items)]
    n_fg, n_sub = int(items * 0.4), int(items * 0.2)
    fg, sub, parts = ids[:n_fg], ids[n_fg:n_fg + n_sub], ids[n_fg + n_sub:]
    common = parts[0]
    lines = []
    for k, parent in enumerate(fg):
        lines.append((parent, sub[k % len(sub)], float(rng.integers(1, 4))))
        lines.append((parent, parts[1 + k % (len(parts) - 1)], float(rng.integers(1, 10))))
    for k, parent in enumerate(sub):
        lines.append((parent, parts[1 + (7 * k) % (len(parts) - 1)], float(rng.uniform(0.5, 3))))
        lines.append((parent, common, 1.0))
    boms = pd.DataFrame(lines, columns=["parent_item_id", "component_item_id", "quantity_per"])
    boms = boms.assign(location_id=LOC, valid_from=date(2000, 1, 1), valid_to=None)
    days = [FIRST + timedelta(days=d) for d in range(HORIZON)]
    rate = rng.gamma(2.0, 5.0, items)
    forecast = pd.DataFrame({
        "item_id": np.repeat(ids, HORIZON), "location_id": LOC,
        "target_date": days * items, "horizon_day": list(range(1, HORIZON + 1)) * items,
        "yhat": np.repeat(rate, HORIZON) * np.where(
            np.repeat(np.arange(items) < n_fg + n_sub, HORIZON), 1.0, 0.2)})
    forecast["yhat_upper"] = forecast["yhat"] * 1.3
    on_hand = pd.DataFrame({"item_id": ids, "location_id": LOC, "on_hand": rate * 20})
    orders = []
    for k, item in enumerate(fg + sub):
        start = int(rng.integers(0, 30))
        orders.append((item, FIRST + timedelta(days=start + 5), FIRST + timedelta(days=start),
                       float(rate[k] * 15), "production", True, f"PO{k}"))
        orders.append((item, FIRST + timedelta(days=start + 40), FIRST + timedelta(days=start + 35),
                       float(rate[k] * 15), "planned", False, f"PL{k}"))
    supply = pd.DataFrame(orders, columns=["item_id", "expected_date", "start_date", "quantity",
                                           "supply_type", "is_firm", "reference"])
    supply["location_id"] = LOC
    items_frame = pd.DataFrame({"item_id": ids, "lead_time_days": rng.integers(2, 15, items),
                                "make_to_order": False})
    return {"forecast": forecast, "on_hand": on_hand, "supply": supply, "issues": None,
            "boms": boms, "items": items_frame}


def naive_plan(inputs: dict) -> pd.DataFrame:
    """Per item and day in Python, per requirement and BOM line in Python."""
    from assets.forecast.mrp import low_level_codes

    codes = low_level_codes(inputs["boms"]).to_dict()
    lead = dict(zip(inputs["items"]["item_id"], inputs["items"]["lead_time_days"], strict=True))
    stock = dict(zip(inputs["on_hand"]["item_id"], inputs["on_hand"]["on_hand"], strict=True))
    fc: dict[str, list[float]] = {}
    for item, qty in zip(inputs["forecast"]["item_id"], inputs["forecast"]["yhat"], strict=True):
        fc.setdefault(item, []).append(float(qty))
    receipts: dict[str, list[float]] = {}
    firm: dict[str, list[float]] = {}
    order_reqs: dict[str, list[tuple[int, float]]] = {}
    for row in inputs["supply"].itertuples(index=False):
        day = max((row.expected_date - FIRST).days, 0)
        receipts.setdefault(row.item_id, [0.0] * HORIZON)
        firm.setdefault(row.item_id, [0.0] * HORIZON)
        if day < HORIZON:
            receipts[row.item_id][day] += row.quantity
            if row.is_firm:
                firm[row.item_id][day] += row.quantity
        start = (row.start_date - FIRST).days
        if 0 <= start < HORIZON:
            order_reqs.setdefault(row.item_id, []).append((start, row.quantity))
    children: dict[str, list[tuple[str, float]]] = {}
    for row in inputs["boms"].itertuples(index=False):
        children.setdefault(row.parent_item_id, []).append((row.component_item_id, row.quantity_per))
    dependent: dict[str, list[float]] = {}
    out, projection = [], []
    for item in sorted(fc, key=lambda i: codes.get(i, 0)):
        level, short_max, prev = stock.get(item, 0.0), 0.0, 0.0
        firm_level = level
        reqs = list(order_reqs.get(item, [])) if item in children else []
        for d in range(HORIZON):
            used = fc[item][d] + dependent.get(item, [0.0] * HORIZON)[d]
            level += receipts.get(item, [0.0] * HORIZON)[d] - used
            firm_level += firm.get(item, [0.0] * HORIZON)[d] - used
            projection.append((item, d, firm_level, level))
            short_max = max(short_max, -level)
            if item in children and short_max > prev:
                reqs.append((max(d - lead[item], 0), short_max - prev))
            prev = short_max
        for due, qty in reqs:
            for component, per in children.get(item, []):
                dependent.setdefault(component, [0.0] * HORIZON)[due] += qty * per
                out.append((component, due, qty * per))
    pd.DataFrame(projection, columns=["item_id", "day", "projected_on_hand",
                                      "projected_on_hand_planned"])
    return pd.DataFrame(out, columns=["item_id", "day", "quantity"])


def batched(inputs: dict) -> tuple[int, float]:
    """As the asset runs it: level by level, batches of about 2,000 item-locations, each
    planned and then dropped (the asset writes it to the warehouse)."""
    from assets.forecast.mrp import SupplyPlanner

    fc = inputs["forecast"]
    days = fc[["target_date", "horizon_day"]].drop_duplicates("target_date")
    planner = SupplyPlanner(inputs["on_hand"], inputs["supply"], None, inputs["boms"],
                            inputs["items"], days)
    rows, total = 0, 0.0
    for level in planner.levels:
        items = planner.items_of_level(level, fc["item_id"])
        for start in range(0, len(items), 2000):
            batch = set(items[start:start + 2000])
            _, exploded = planner.plan_level(level, fc[fc["item_id"].isin(batch)], batch)
            rows += len(exploded)
            total += float(exploded["quantity"].sum())
    return rows, total


def measure(way: str, items: int) -> dict:
    from assets.forecast.mrp import plan_supply

    inputs = portfolio(items)
    started = time.perf_counter()
    if way == "vectorized":
        plan = plan_supply(**inputs)
        rows, total = len(plan.dependent), float(plan.dependent["quantity"].sum())
    elif way == "vectorized, in batches":
        rows, total = batched(inputs)
    else:
        naive = naive_plan(inputs)
        rows, total = len(naive), float(naive["quantity"].sum())
    seconds = time.perf_counter() - started
    return {"way": way, "items": items, "seconds": seconds, "rows": rows, "total": total,
            "bom_lines": len(inputs["boms"]), "orders": len(inputs["supply"]),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_step(data_dir: str) -> dict:
    """Materialize the supply plan step for the newest projected day of a bench warehouse."""
    import os

    os.environ["FORGECAST_DATA_DIR"] = data_dir
    import dagster as dg

    from assets.forecast.supply_plan import projected_inventory
    from orchestration.platform import prepare
    from resources.database import connect
    from resources.settings import get_settings
    from resources.warehouse import WarehouseResource

    settings = get_settings()
    prepare(settings)
    with connect(settings) as conn:
        day = conn.execute("select max(forecast_date) from forecast.forecasts").fetchone()[0]
        keys = conn.execute("select count(distinct (item_id, location_id)) from "
                            "forecast.forecasts where forecast_date = %s", (day,)).fetchone()[0]
    imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    dg.materialize([projected_inventory], partition_key=day.isoformat(),
                   resources={"warehouse": WarehouseResource()})
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"data_dir": data_dir, "keys": keys, "seconds": seconds, "peak_mb": peak,
            "above_imports_mb": peak - imported}


def run_child(way: str, items) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", way, str(items)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--naive-items", type=int, default=1000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", nargs="+", help="bench/nightly data directories")
    args = parser.parse_args()
    if args.child and args.child[0] == "step":
        print(json.dumps(measure_step(args.child[1])))
        return
    if args.data_dir:
        print("| warehouse | item-locations | seconds | peak RSS MB | above imports MB |")
        print("|---|---:|---:|---:|---:|")
        for data_dir in args.data_dir:
            r = run_child("step", data_dir)
            print(f"| {Path(r['data_dir']).name} | {r['keys']:,} | {r['seconds']:.1f} | "
                  f"{r['peak_mb']:,.0f} | {r['above_imports_mb']:,.0f} |")
        return
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))  # way, items
        return
    results = [run_child(way, n) for way in ("vectorized", "vectorized, in batches")
               for n in args.items]
    results.append(run_child("naive loop", args.naive_items))
    print("| way | items | BOM lines | orders | dependent rows | dependent qty | seconds "
          "| peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['way']} | {r['items']:,} | {r['bom_lines']:,} | {r['orders']:,} | "
              f"{r['rows']:,} | {r['total']:,.0f} | {r['seconds']:.2f} | {r['peak_mb']:,.0f} |")


if __name__ == "__main__":
    main()
