"""The demo's supply side: production and planned orders consistent with the goods
receipts, bills of materials without cycles whose explosion gives back the components'
consumption, stock transport orders, and the component built to run short."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from demo.generator import generate_demo_data

END = date(2025, 6, 30)
CLOSED = ("DLV", "TECO")
TO_BASE = {"G": 0.001, "ML": 0.001, "g": 0.001}


def _sap(root: Path, entity: str) -> list[dict[str, str]]:
    with (root / "sap" / entity / f"sap_{entity}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _odoo(root: Path, entity: str) -> list[dict]:
    return json.loads((root / "odoo" / entity / f"odoo_{entity}.json").read_text("utf-8"))


def _day(value: str) -> date:
    return datetime.strptime(value, "%Y%m%d").date()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default `forgecast demo` size (orchestration/cli.py: 50 items x 120 days)."""
    out = tmp_path_factory.mktemp("supply")
    return out, generate_demo_data(out, items=50, days=120, seed=42, end_date=END, fault_rate=0)


@pytest.fixture(scope="module")
def larger(tmp_path_factory):
    out = tmp_path_factory.mktemp("supply-larger")
    return out, generate_demo_data(out, items=300, days=200, seed=3, end_date=END, fault_rate=0)


def _made(root: Path) -> set[tuple[str, str]]:
    return {(r["MATNR"], r["WERKS"]) for r in _sap(root, "routings")}


def _sap_per_unit(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(parent, plant) -> component -> base units per parent unit, scrap included: the
    production BOM (usage 1, alternative 01) valid today, units converted."""
    unit = {(r["MATNR"], r["WERKS"]): r["MEINS"] for r in _sap(root, "material_master")}
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in _sap(root, "bom"):
        if (r["STLAN"], r["STLAL"]) != ("1", "01") or r["DATUB"]:
            continue
        base_unit = unit[r["IDNRK"], r["WERKS"]]
        factor = TO_BASE.get(r["MEINS"], 1.0)
        assert r["MEINS"] == base_unit or factor != 1.0, r
        scrap = 1 + float(r["AUSCH"] or 0) / 100
        out[r["MATNR"], r["WERKS"]][r["IDNRK"]] = (
            float(r["MENGE"]) * factor / float(r["BMENG"]) * scrap)
    return out


@pytest.mark.parametrize("which", ["demo", "larger"])
def test_every_receipt_of_a_made_item_is_a_delivered_production_order(which, request):
    root, summary = request.getfixturevalue(which)
    made = _made(root)
    orders = _sap(root, "production_orders")
    assert orders and {(r["MATNR"], r["WERKS"]) for r in orders} <= made
    receipts: dict[tuple, float] = defaultdict(float)
    for r in _sap(root, "goods_movements"):
        if r["BWART"] == "101" and (r["MATNR"], r["WERKS"]) in made:
            receipts[r["MATNR"], r["WERKS"], _day(r["BUDAT"])] += float(r["MENGE"])
    delivered: dict[tuple, float] = defaultdict(float)
    lead = {(r["MATNR"], r["WERKS"]): int(r["PLIFZ"]) for r in _sap(root, "material_master")}
    statuses = set()
    for r in orders:
        start, finish = _day(r["GSTRS"]), _day(r["GLTRS"])
        statuses.add(r["STTXT"])
        assert lead[r["MATNR"], r["WERKS"]] <= (finish - start).days <= lead[
            r["MATNR"], r["WERKS"]] + 4, r
        if r["STTXT"] in CLOSED:
            assert r["WEMNG"] == r["PSMNG"] and finish <= END, r
            delivered[r["MATNR"], r["WERKS"], finish] += float(r["PSMNG"])
        else:
            assert float(r["WEMNG"]) == 0 < float(r["PSMNG"]), r
    assert delivered == pytest.approx(receipts)
    assert {"DLV", "TECO", "REL"} <= statuses <= {"DLV", "TECO", "REL", "PCNF", "CRTD"}
    open_ = [r for r in orders if r["STTXT"] not in CLOSED]
    late = [r for r in open_ if _day(r["GLTRS"]) < END]
    assert late and all(_day(r["GLTRS"]) > END - timedelta(days=11) for r in late)
    assert any(_day(r["GSTRS"]) > END for r in open_)  # firm, not started yet
    # Made items are not bought: no purchase order of theirs.
    assert not {(r["MATNR"], r["WERKS"]) for r in _sap(root, "purchase_orders")} & made


def test_planned_orders_continue_the_cycle_after_the_firm_orders(larger):
    root, _ = larger
    made = _made(root)
    planned = _sap(root, "planned_orders")
    assert planned and {(r["MATNR"], r["PLWRK"]) for r in planned} <= made
    firm_end: dict[tuple, date] = {}
    for r in _sap(root, "production_orders"):
        key = r["MATNR"], r["WERKS"]
        firm_end[key] = max(firm_end.get(key, date.min), _day(r["GSTRS"]))
    assert all(_day(r["PSTTR"]) > firm_end.get((r["MATNR"], r["PLWRK"]), date.min)
               and _day(r["PSTTR"]) > END + timedelta(days=14) for r in planned)
    firmed = sum(r["AUFFX"] == "X" for r in planned)
    assert 0 < firmed < len(planned) / 4


def test_odoo_manufacturing_orders_match_the_receipts_from_production(larger):
    root, _ = larger
    mos = {m["name"]: m for m in _odoo(root, "manufacturing_orders")}
    assert {m["state"] for m in mos.values()} == {"done", "progress", "confirmed", "draft"}
    moves = _odoo(root, "stock_moves")
    from_production = [m for m in moves if m["location_id"] == "Virtual Locations/Production"]
    assert from_production
    for m in from_production:
        mo = mos[m["reference"]]
        assert (mo["product_id"], mo["product_qty"]) == (m["product_id"], m["product_uom_qty"])
        assert mo["date_finished"][:10] == m["date"][:10]
        assert (m["state"] == "done") == (mo["state"] == "done")
    produced = {m["reference"] for m in from_production}
    assert {n for n, mo in mos.items() if mo["state"] != "draft"} == produced
    # Bought items keep receipts from vendors; no product has both.
    vendors = {m["product_id"] for m in moves if m["location_id"] == "Partners/Vendors"}
    assert not vendors & {m["product_id"] for m in from_production}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return path + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    return next((c for n in list(edges) if n not in state and (c := visit(n, [n]))), None)


def test_boms_have_two_levels_shared_components_and_no_cycle(larger):
    root, _ = larger
    rows = _sap(root, "bom")
    stocked = {(r["MATNR"], r["WERKS"]) for r in _sap(root, "material_master")}
    assert all((r["IDNRK"], r["WERKS"]) in stocked for r in rows)  # in the parent's plant
    edges: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        edges[r["MATNR"]].add(r["IDNRK"])
    assert _cycle(edges) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check works
    parents = set(edges)
    assert any(edges[p] & parents for p in parents)  # a subassembly with its own BOM
    used_by: dict[str, set[str]] = defaultdict(set)
    for p, kids in edges.items():
        for kid in kids:
            used_by[kid].add(p)
    # One component (per chunk of 256 items: here the only chunk) in most parents.
    assert max(len(ps) for ps in used_by.values()) > len(parents) / 2
    assert sum(len(ps) > 1 for ps in used_by.values()) >= 5
    assert {r["BMENG"] for r in rows} == {"1", "100"}
    assert {"G", "KG"} <= {r["MEINS"] for r in rows}
    assert any(r["AUSCH"] for r in rows) and any(r["DATUB"] for r in rows)
    assert {r["STLAL"] for r in rows} == {"01", "02"}
    odoo_edges: dict[int, set[int]] = defaultdict(set)
    boms = {b["id"]: b for b in _odoo(root, "boms")}
    for line in _odoo(root, "bom_lines"):
        odoo_edges[boms[line["bom_id"]]["product_id"]].add(line["product_id"])
    assert odoo_edges and _cycle(odoo_edges) is None


@pytest.mark.parametrize("which", ["demo", "larger"])
def test_exploding_the_production_orders_gives_back_the_components_consumption(which, request):
    root, _ = request.getfixturevalue(which)
    per_unit = _sap_per_unit(root)
    exploded: dict[tuple, float] = defaultdict(float)
    orders: dict[tuple, int] = defaultdict(int)
    for r in _sap(root, "production_orders"):
        start = _day(r["GSTRS"])
        if start <= END:  # started: its components are issued
            for kid, q in per_unit.get((r["MATNR"], r["WERKS"]), {}).items():
                exploded[kid, r["WERKS"], start] += float(r["PSMNG"]) * q
                orders[kid, r["WERKS"], start] += 1
    components = {(kid, w) for (kid, w, _) in exploded}
    consumed: dict[tuple, float] = defaultdict(float)
    for r in _sap(root, "goods_movements"):
        if r["BWART"] == "261" and (r["MATNR"], r["WERKS"]) in components:
            consumed[r["MATNR"], r["WERKS"], _day(r["BUDAT"])] += float(r["MENGE"])
    assert components
    # Issued on the start day of the orders, never more than they need (less only when the
    # component was out of stock) but for rounding each order's need to the unit.
    assert set(consumed) <= set(exploded)
    assert all(consumed[k] <= exploded[k] + orders[k] / 2 for k in consumed)
    total_exploded, total_consumed = sum(exploded.values()), sum(consumed.values())
    assert total_consumed == pytest.approx(total_exploded, rel=0.05)


def test_the_built_component_shortage_is_real(demo):
    root, summary = demo
    assert summary.component_runs_short is not None
    sku, matnr, werks, aufnr = summary.component_runs_short
    master = {(r["MATNR"], r["WERKS"]): r for r in _sap(root, "material_master")}
    assert master[matnr, werks]["BISMT"] == sku
    lead = int(master[matnr, werks]["PLIFZ"])
    order = next(r for r in _sap(root, "production_orders") if r["AUFNR"] == aufnr)
    assert order["WERKS"] == werks and order["STTXT"] in ("REL", "CRTD")
    assert END < _day(order["GSTRS"]) < END + timedelta(days=lead)
    need = float(order["PSMNG"]) * _sap_per_unit(root)[order["MATNR"], werks][matnr]
    on_hand = sum(float(r["LABST"]) for r in _sap(root, "stock")
                  if (r["MATNR"], r["WERKS"], _day(r["STICHTAG"])) == (matnr, werks, END))
    supply = sum(float(r["MENGE"]) - float(r["WEMNG"]) for entity in
                 ("purchase_orders", "stock_transport_orders") for r in _sap(root, entity)
                 if (r["MATNR"], r["WERKS"]) == (matnr, werks))
    assert 0 <= on_hand + supply < need
    assert (matnr, werks) not in _made(root)


def _covered_by_firm_orders(root: Path, end: date) -> list[tuple]:
    """Made item-locations whose stock on the last day is less than their lead time's
    demand (the last four weeks' outflow, plus 20% for a forecast running above it) but
    whose stock plus firm production orders stays above that demand every day of it."""
    points: dict[tuple, dict] = {}  # (system, item, location) -> lead, stock, daily, firm
    master = {(r["MATNR"], r["WERKS"]): r for r in _sap(root, "material_master")}
    for key in _made(root):
        points["sap", *key] = {"lead": int(master[key]["PLIFZ"]), "stock": 0.0, "out": 0.0,
                               "firm": []}
    for r in _sap(root, "stock"):
        if ("sap", r["MATNR"], r["WERKS"]) in points and _day(r["STICHTAG"]) == end:
            points["sap", r["MATNR"], r["WERKS"]]["stock"] += float(r["LABST"])
    for r in _sap(root, "goods_movements"):
        if ("sap", r["MATNR"], r["WERKS"]) in points and r["SHKZG"] == "H" \
                and _day(r["BUDAT"]) > end - timedelta(days=28):
            points["sap", r["MATNR"], r["WERKS"]]["out"] += float(r["MENGE"])
    for r in _sap(root, "production_orders"):
        if r["STTXT"] not in CLOSED:
            points["sap", r["MATNR"], r["WERKS"]]["firm"].append(
                (_day(r["GLTRS"]), float(r["PSMNG"])))
    for p in _odoo(root, "products"):
        if p["route_ids"].startswith("Manufacture"):
            points["odoo", p["id"], ""] = {"lead": p["produce_delay"], "stock": 0.0,
                                           "out": 0.0, "firm": []}
    for q in _odoo(root, "stock_quants"):
        if ("odoo", q["product_id"], "") in points and q["date"] == end.isoformat():
            points["odoo", q["product_id"], ""]["stock"] = q["quantity"]
    for m in _odoo(root, "stock_moves"):
        if ("odoo", m["product_id"], "") in points and m["state"] == "done" \
                and m["location_id"] == "WH/Stock" \
                and date.fromisoformat(m["date"][:10]) > end - timedelta(days=28):
            points["odoo", m["product_id"], ""]["out"] += m["product_uom_qty"]
    for mo in _odoo(root, "manufacturing_orders"):
        if mo["state"] in ("confirmed", "progress"):
            points["odoo", mo["product_id"], ""]["firm"].append(
                (date.fromisoformat(mo["date_finished"][:10]), mo["product_qty"]))
    covered = []
    for key, p in points.items():
        need = p["out"] / 28 * 1.2
        if not need or p["stock"] >= need * p["lead"]:
            continue
        if all(p["stock"] + sum(q for due, q in p["firm"] if due <= end + timedelta(days=d))
               >= need * d for d in range(1, p["lead"] + 1)):
            covered.append(key)
    return covered


def test_firm_production_orders_cover_made_items_whose_stock_alone_runs_out(demo):
    root, summary = demo
    covered = _covered_by_firm_orders(root, END)
    assert len(covered) >= 5, covered
    assert ("sap", *summary.runs_short[1:]) not in covered


def test_make_to_order_flags_and_routes(larger):
    root, _ = larger
    made = _made(root)
    strategy = {(r["MATNR"], r["WERKS"]): r["STRGR"] for r in _sap(root, "material_master")}
    assert set(strategy.values()) == {"20", "40"}
    assert {k for k, v in strategy.items() if v == "20"} <= made
    assert 0 < sum(v == "20" for v in strategy.values()) < len(made) / 3
    routes = {p["route_ids"] for p in _odoo(root, "products")}
    assert routes == {"Manufacture", "Buy", "Manufacture,Replenish on Order (MTO)"}


def test_stock_transport_orders_move_stock_between_the_plants(demo):
    root, _ = demo
    transfers = _sap(root, "stock_transport_orders")
    plants = defaultdict(set)
    for r in _sap(root, "material_master"):
        plants[r["MATNR"]].add(r["WERKS"])
    assert transfers
    for r in transfers:
        assert r["BSART"] == "UB" and r["WERKS"] != r["RESWK"]
        assert {r["WERKS"], r["RESWK"]} <= plants[r["MATNR"]]
        assert END < _day(r["EINDT"]) <= END + timedelta(days=20) and float(r["MENGE"]) > 0


NEW_EXPORTS = [("sap", "production_orders"), ("sap", "planned_orders"),
               ("sap", "stock_transport_orders"), ("sap", "bom"),
               ("odoo", "manufacturing_orders"), ("odoo", "boms"), ("odoo", "bom_lines")]


@pytest.mark.parametrize(("source", "entity"), NEW_EXPORTS)
def test_new_exports_pass_the_registry_rules(larger, source, entity):
    """Unique natural keys, known items, cross-column rules: ingest quarantines nothing."""
    from assets.ingest.registry import get_export_type

    root, _ = larger
    export = get_export_type(source, entity)
    rows = _sap(root, entity) if source == "sap" else _odoo(root, entity)
    assert rows
    keys = [tuple(r[c] for c in export.natural_key) for r in rows]
    assert len(set(keys)) == len(keys)
    for rule in export.row_rules:
        a, b = rule.columns
        for r in rows:
            if r[a] in ("", None) or r[b] in ("", None):
                continue
            if rule.kind == "differs":
                assert r[a] != r[b], (rule.reason, r)
            else:
                assert str(r[a]) <= str(r[b]), (rule.reason, r)  # YYYYMMDD / ISO sort as dates
    if export.known_items:
        master = _sap(root, "material_master") if source == "sap" else _odoo(root, "products")
        known = {tuple(m[col] for _, col in export.known_items.columns) for m in master}
        assert all(tuple(r[col] for col, _ in export.known_items.columns) in known for r in rows)
    required = [c.name for c in export.columns if c.required]
    assert all(r[c] not in ("", None) for r in rows for c in required)
    non_negative = [c.name for c in export.columns if c.non_negative]
    assert all(float(r[c] or 0) >= 0 for r in rows for c in non_negative)
