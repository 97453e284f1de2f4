"""The demo data generator writes registry-conformant, consistent and deterministic exports."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from assets.ingest.registry import EXPORT_TYPES, get_export_type
from demo.files import FAULT_KINDS
from demo.generator import generate_demo_data
from demo.patterns import PATTERNS

END = date(2025, 6, 30)
SAP_FMT = get_export_type("sap", "stock").date_format


def _path(root: Path, source: str, entity: str) -> Path:
    ext = get_export_type(source, entity).format
    return root / source / entity / f"{source}_{entity}.{ext}"


def _csv(root: Path, source: str, entity: str) -> tuple[list[str], list[dict[str, str]]]:
    delimiter = ";" if source == "sap" else ","
    with _path(root, source, entity).open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def _json(root: Path, entity: str) -> list[dict]:
    return json.loads(_path(root, "odoo", entity).read_text(encoding="utf-8"))


def _sap_date(value: str) -> date | None:
    try:
        return datetime.strptime(value, SAP_FMT).date()
    except ValueError:
        return None


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, generate_demo_data(out, items=60, days=90, seed=7, end_date=END, fault_rate=0)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    out = tmp_path_factory.mktemp("faulty")
    return out, generate_demo_data(out, items=30, days=60, seed=7, end_date=END, fault_rate=0.03)


def test_every_export_matches_the_registry(clean):
    root, summary = clean
    assert summary.start_date == END - timedelta(days=89) and summary.end_date == END
    expected = {f"{e.source_system}/{e.entity}/{e.source_system}_{e.entity}.{e.format}"
                for e in EXPORT_TYPES}
    assert set(summary.files) == expected
    for e in EXPORT_TYPES:
        if e.format == "csv":
            header, rows = _csv(root, e.source_system, e.entity)
            assert tuple(header) == e.column_names, e.raw_table
        else:
            rows = _json(root, e.entity)
            assert all(tuple(r) == e.column_names for r in rows), e.raw_table
        rel = f"{e.source_system}/{e.entity}/{e.source_system}_{e.entity}.{e.format}"
        assert summary.files[rel] == len(rows) > 0, e.raw_table


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_is_deterministic_per_seed(tmp_path):
    args = {"items": 25, "days": 40, "end_date": END, "fault_rate": 0.01}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_demo_data(tmp_path / name, seed=seed, **args)
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert a == b
    assert len(a) == len(EXPORT_TYPES) == 18
    assert all(a[k] != c[k] for k in a)


def test_shared_items_carry_the_same_sku_and_ean(clean):
    root, summary = clean
    _, master = _csv(root, "sap", "material_master")
    sap = {r["BISMT"]: r["EAN11"] for r in master}
    odoo = {p["default_code"]: p["barcode"] for p in _json(root, "products")}
    both = sap.keys() & odoo.keys()
    assert len(both) == summary.systems["both"] > 0
    assert sap.keys() - odoo.keys() and odoo.keys() - sap.keys()
    for sku in both:
        ean = sap[sku]
        assert ean == odoo[sku] and len(ean) == 13
        checksum = sum(int(c) * (3 if k % 2 else 1) for k, c in enumerate(ean[:12]))
        assert (10 - checksum % 10) % 10 == int(ean[12])
    assert all(len(r["MATNR"]) == 18 and r["MATNR"].isdigit() for r in master)
    assert {r["WERKS"] for r in master} <= {"1000", "2000"}
    assert {r["MEINS"] for r in master} <= {"ST", "KG", "L", "M"}
    assert all(3 <= int(r["PLIFZ"]) <= 60 for r in master)
    # Accounting knows every item by its SKU.
    _, valuation = _csv(root, "acct", "item_valuation")
    assert {r["item_ref"] for r in valuation} == sap.keys() | odoo.keys()
    assert {r["currency"] for r in valuation} <= {"EUR", "USD"}


def test_every_demand_pattern_is_present(clean):
    root, summary = clean
    assert set(summary.patterns) == set(PATTERNS)
    assert all(summary.patterns[p] >= 2 for p in PATTERNS)
    assert sum(summary.patterns.values()) == summary.items == 60
    # Discontinued items are flagged in both ERPs; new items start late.
    _, master = _csv(root, "sap", "material_master")
    assert any(r["LVORM"] == "X" for r in master)
    assert any(p["active"] is False for p in _json(root, "products"))
    _, stock = _csv(root, "sap", "stock")
    first_day: dict[tuple, date] = {}
    for r in stock:
        key, day = (r["MATNR"], r["WERKS"]), _sap_date(r["STICHTAG"])
        first_day[key] = min(day, first_day.get(key, day))
    assert any(d > summary.start_date + timedelta(days=30) for d in first_day.values())


def test_no_demand_on_plant_holidays(tmp_path):
    generate_demo_data(tmp_path, items=40, days=30, seed=5, end_date=date(2025, 1, 10),
                       fault_rate=0)
    _, moves = _csv(tmp_path, "sap", "goods_movements")
    issue_days = Counter(r["BUDAT"] for r in moves if r["SHKZG"] == "H")
    holidays = ("20241224", "20241225", "20241226", "20250101")
    for holiday in holidays:
        assert issue_days[holiday] == 0
    # Suppliers deliver on working days (a new item's first stock may land any day).
    receipts = [r for r in moves if r["BWART"] == "101"]
    late = sum(r["BUDAT"] in holidays or _sap_date(r["BUDAT"]).weekday() >= 5 for r in receipts)
    assert receipts and late <= 2
    sundays = [d for d in issue_days if _sap_date(d).weekday() == 6]
    weekdays = [d for d in issue_days if _sap_date(d).weekday() < 5]
    assert sum(issue_days[d] for d in sundays) * 10 < sum(issue_days[d] for d in weekdays)


def _transactions(root: Path):
    _, stock = _csv(root, "sap", "stock")
    _, gm = _csv(root, "sap", "goods_movements")
    quants = _json(root, "stock_quants")
    moves = _json(root, "stock_moves")
    return stock, gm, quants, moves


def test_clean_run_has_no_faults(clean):
    root, summary = clean
    assert summary.faults == dict.fromkeys(FAULT_KINDS, 0)
    stock, gm, quants, moves = _transactions(root)
    _, master = _csv(root, "sap", "material_master")
    _, orders = _csv(root, "sap", "purchase_orders")
    _, audit = _csv(root, "sap", "master_audit")
    known_matnr = {r["MATNR"] for r in master}
    known_ids = {p["id"] for p in _json(root, "products")}

    for rows, col in ((stock, "STICHTAG"), (gm, "BUDAT"), (orders, "EINDT"), (audit, "UDATE")):
        assert all(_sap_date(r[col]) for r in rows), col
    assert all(_iso(q["date"]) for q in quants)
    assert all(_iso(m["date"]) for m in moves)
    assert all(r["MATNR"] in known_matnr for r in stock + gm + orders)
    assert all(r["OBJECTID"] in known_matnr for r in audit)
    assert all(q["product_id"] in known_ids for q in quants + moves)
    assert all(float(r["LABST"]) >= 0 and float(r["SPEME"]) >= 0 for r in stock)
    assert all(float(r["MENGE"]) > 0 for r in gm + orders)
    assert all(q["quantity"] >= 0 and 0 <= q["reserved_quantity"] <= q["quantity"]
               for q in quants)
    assert all(m["product_uom_qty"] > 0 for m in moves)
    # Natural keys are unique (no duplicate rows).
    assert len({(r["STICHTAG"], r["MATNR"], r["WERKS"], r["LGORT"]) for r in stock}) == len(stock)
    assert len({r["MBLNR"] for r in gm}) == len(gm)
    assert len({(q["date"], q["product_id"]) for q in quants}) == len(quants)
    assert len({m["id"] for m in moves}) == len(moves)


def test_faulty_run_injects_every_fault_kind_as_counted(faulty):
    root, summary = faulty
    assert all(summary.faults[k] > 0 for k in FAULT_KINDS), summary.faults
    stock, gm, quants, moves = _transactions(root)
    _, master = _csv(root, "sap", "material_master")
    known_matnr = {r["MATNR"] for r in master}
    known_ids = {p["id"] for p in _json(root, "products")}

    bad_dates = (sum(_sap_date(r["STICHTAG"]) is None for r in stock)
                 + sum(_sap_date(r["BUDAT"]) is None for r in gm)
                 + sum(_iso(q["date"]) is None for q in quants)
                 + sum(_iso(m["date"]) is None for m in moves))
    negative = (sum(float(r["LABST"]) < 0 for r in stock) + sum(float(r["MENGE"]) < 0 for r in gm)
                + sum(q["quantity"] < 0 for q in quants)
                + sum(m["product_uom_qty"] < 0 for m in moves))
    unknown = (sum(r["MATNR"] not in known_matnr for r in stock + gm)
               + sum(q["product_id"] not in known_ids for q in quants + moves))
    duplicates = 0
    for rows in (stock, gm, quants, moves):
        counts = Counter(json.dumps(r, sort_keys=True) for r in rows)
        duplicates += sum(c - 1 for c in counts.values())
    assert summary.faults == {"bad_date": bad_dates, "negative_quantity": negative,
                              "unknown_item": unknown, "duplicate_row": duplicates}
    # Master data stays clean so the files remain usable.
    assert all(r["MATNR"].isdigit() and float(r["MINBE"]) >= 0 for r in master)


def test_stock_follows_the_movements_and_never_goes_negative(clean):
    root, _ = clean
    stock, gm, quants, moves = _transactions(root)
    series: dict[tuple, dict[date, float]] = defaultdict(dict)
    delta: dict[tuple, float] = defaultdict(float)
    for r in stock:
        series[r["MATNR"], r["WERKS"], r["LGORT"]][_sap_date(r["STICHTAG"])] = float(r["LABST"])
    for r in gm:
        sign = 1 if r["SHKZG"] == "S" else -1
        assert (r["BWART"], r["SHKZG"]) in {("101", "S"), ("261", "H"), ("601", "H")}
        delta[r["MATNR"], r["WERKS"], r["LGORT"], _sap_date(r["BUDAT"])] += sign * float(r["MENGE"])
    for q in quants:
        series[q["product_id"],][date.fromisoformat(q["date"])] = q["quantity"]
    for m in moves:
        if m["state"] == "done":
            sign = 1 if m["location_dest_id"] == "WH/Stock" else -1
            delta[m["product_id"], datetime.fromisoformat(m["date"]).date()] += (
                sign * m["product_uom_qty"])

    stocked_out = 0
    for key, by_day in series.items():
        days = sorted(by_day)
        assert days == [days[0] + timedelta(days=k) for k in range(len(days))]
        assert min(by_day.values()) >= 0
        stocked_out += min(by_day.values()) == 0
        for prev, day in zip(days, days[1:], strict=False):
            assert by_day[day] - by_day[prev] == pytest.approx(delta[(*key, day)], abs=1e-6)
    # Stockouts happen for some series, not for all.
    assert 0 < stocked_out < len(series)


def test_open_orders_and_expected_receipts_lie_after_the_end_date(clean):
    root, _ = clean
    _, orders = _csv(root, "sap", "purchase_orders")
    assert orders
    for r in orders:
        assert END < _sap_date(r["EINDT"]) <= END + timedelta(days=60)
        assert 0 <= float(r["WEMNG"]) < float(r["MENGE"])
    moves = _json(root, "stock_moves")
    assigned = [m for m in moves if m["state"] == "assigned"]
    assert assigned
    assert {m["location_id"] for m in assigned} == {"Partners/Vendors",
                                                     "Virtual Locations/Production"}
    # Expected receipts from vendors lie ahead; from production they may be overdue: a
    # manufacturing order still in progress after its finish date (late).
    running = {mo["name"]: mo["state"] for mo in _json(root, "manufacturing_orders")}
    for m in assigned:
        if m["location_id"] == "Partners/Vendors" or running[m["reference"]] != "progress":
            assert datetime.fromisoformat(m["date"]).date() > END, m
    assert all(datetime.fromisoformat(m["date"]).date() <= END
               for m in moves if m["state"] == "done")


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_demo_data(tmp_path, items=0)
    with pytest.raises(ValueError):
        generate_demo_data(tmp_path, items=5, fault_rate=1.5)


def test_short_window_still_values_every_item(tmp_path):
    summary = generate_demo_data(tmp_path, items=12, days=7, seed=1, end_date=END, fault_rate=0)
    _, valuation = _csv(tmp_path, "acct", "item_valuation")
    assert {r["item_ref"] for r in valuation} == {f"FC-{i:06d}" for i in range(1, 13)}
    assert all(date.fromisoformat(r["valuation_date"]).day == 1 for r in valuation)
    assert summary.files["sap/stock/sap_stock.csv"] > 0


def test_the_showcase_item_runs_out_inside_its_lead_time(clean):
    root, summary = clean
    assert summary.runs_short is not None
    _, matnr, werks = summary.runs_short
    _, master = _csv(root, "sap", "material_master")
    lead = int(next(r["PLIFZ"] for r in master if (r["MATNR"], r["WERKS"]) == (matnr, werks)))
    _, stock = _csv(root, "sap", "stock")
    on_hand = sum(float(r["LABST"]) for r in stock
                  if (r["MATNR"], r["WERKS"], _sap_date(r["STICHTAG"])) == (matnr, werks, END))
    _, movements = _csv(root, "sap", "goods_movements")
    issued = sum(float(r["MENGE"]) for r in movements
                 if (r["MATNR"], r["WERKS"], r["SHKZG"]) == (matnr, werks, "H")
                 and _sap_date(r["BUDAT"]) > END - timedelta(days=28))
    assert 0 < on_hand < issued / 28 * lead / 2  # well under one lead time's demand
    _, orders = _csv(root, "sap", "purchase_orders")
    assert not [r for r in orders if (r["MATNR"], r["WERKS"]) == (matnr, werks)]
