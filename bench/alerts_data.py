"""The demo exports as the frames ``bench/alerts.py`` replays: read straight from the files
with pandas, the shortcut that replaces ingest + dbt (which the replay would otherwise run
60 times). It follows ``unified.demand_history``'s rules where they matter here:

* demand of an item-location = deliveries to customers (SAP 601, Odoo moves to
  Partners/Customers) + consumption by production (261, moves to Production), the
  consumption left out for a component of a BOM at that location (its parents' plans
  cover it; the replay hands it to the projection as dependent demand instead);
* a day with stock 0 at its end is a stockout day (censored demand);
* item-locations are ``(sku, location_id)`` with the platform's location ids
  (``sap:<WERKS>``, ``odoo:WH/Stock``), the labels' keys.

Supply: the exports hold the receipts that happened and the orders still open at the
end, not what was open on an earlier day. On an as-of day the replay counts as open
every receipt after it whose order was placed by then (receipt date - lead time <= the
day) and every order still open at the end placed by then; planned orders are not firm.
Stock transport orders and demo faults (the bench generates with fault_rate 0) are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["sku", "location_id"]


@dataclass
class DemoFrames:
    days: pd.DatetimeIndex
    demand: pd.DataFrame  # days x (sku, location_id): what the forecast reads
    stock: pd.DataFrame  # days x keys: on hand at the end of the day
    consumption: pd.DataFrame  # components' consumption by production, days x keys
    items: pd.DataFrame  # sku, location_id, name, lead_time_days, safety_stock, ...
    receipts: pd.DataFrame  # sku, location_id, date, quantity (delivered)
    open_end: pd.DataFrame  # sku, location_id, date, quantity, is_firm (open at the end)
    labels: pd.DataFrame


def _sap(root: Path, entity: str) -> pd.DataFrame:
    return pd.read_csv(root / "sap" / entity / f"sap_{entity}.csv", sep=";", dtype=str)


def _odoo(root: Path, entity: str) -> pd.DataFrame:
    return pd.DataFrame(json.loads((root / "odoo" / entity / f"odoo_{entity}.json").read_text()))


def _num(values) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").fillna(0.0)


def _sap_date(values) -> pd.Series:
    return pd.to_datetime(values, format="%Y%m%d")


def load(root: Path) -> DemoFrames:
    sap_master = _sap(root, "material_master")
    sku_of = dict(zip(sap_master["MATNR"], sap_master["BISMT"], strict=False))
    products = _odoo(root, "products")
    odoo_sku = dict(zip(products["id"], products["default_code"], strict=True))

    # -- movements ----------------------------------------------------------------------
    moves = _sap(root, "goods_movements")
    moves = pd.DataFrame({"sku": moves["MATNR"].map(sku_of),
                          "location_id": "sap:" + moves["WERKS"],
                          "date": _sap_date(moves["BUDAT"]), "quantity": _num(moves["MENGE"]),
                          "kind": moves["BWART"] + moves["SHKZG"]})
    odoo = _odoo(root, "stock_moves")
    odoo = odoo[odoo["state"] == "done"]
    src, dst = odoo["location_id"], odoo["location_dest_id"]
    kind = np.select([(src == "WH/Stock") & (dst == "Partners/Customers"),
                      (src == "WH/Stock") & dst.str.contains("Production"),
                      dst == "WH/Stock"], ["601H", "261H", "101S"], "")
    odoo = pd.DataFrame({"sku": odoo["product_id"].map(odoo_sku),
                         "location_id": "odoo:" + np.where(dst == "WH/Stock", dst, src),
                         "date": pd.to_datetime(odoo["date"]).dt.normalize(),
                         "quantity": _num(odoo["product_uom_qty"]), "kind": kind})
    moves = pd.concat([moves, odoo], ignore_index=True)

    # -- stock ----------------------------------------------------------------------------
    stock = _sap(root, "stock")
    stock = pd.DataFrame({"sku": stock["MATNR"].map(sku_of), "location_id": "sap:" + stock["WERKS"],
                          "date": _sap_date(stock["STICHTAG"]), "quantity": _num(stock["LABST"])})
    quants = _odoo(root, "stock_quants")
    quants = pd.DataFrame({"sku": quants["product_id"].map(odoo_sku),
                           "location_id": "odoo:" + quants["location_id"],
                           "date": pd.to_datetime(quants["date"]),
                           "quantity": _num(quants["quantity"])})
    stock = pd.concat([stock, quants], ignore_index=True)
    stock = stock.pivot_table(index="date", columns=KEY, values="quantity", aggfunc="sum")
    days = pd.date_range(stock.index.min(), stock.index.max(), freq="D")
    stock = stock.reindex(days).ffill().fillna(0.0)  # before a new item's launch: none

    # -- demand ---------------------------------------------------------------------------
    components = _components(root, sku_of, odoo_sku)
    out = moves[moves["kind"].isin(["601H", "261H"])].copy()
    is_comp = pd.Series(list(zip(out["sku"], out["location_id"], strict=True)),
                        index=out.index).isin(components)
    consumption = out[(out["kind"] == "261H") & is_comp]
    demand = out[~((out["kind"] == "261H") & is_comp)]

    def daily(frame: pd.DataFrame) -> pd.DataFrame:
        wide = frame.pivot_table(index="date", columns=KEY, values="quantity", aggfunc="sum")
        return wide.reindex(index=days, columns=stock.columns).fillna(0.0)

    receipts = moves.loc[moves["kind"] == "101S", [*KEY, "date", "quantity"]]
    return DemoFrames(days, daily(demand), stock, daily(consumption),
                      _items(root, sap_master, products, stock.columns),
                      receipts.reset_index(drop=True), _open_end(root, sku_of, odoo_sku),
                      pd.read_csv(root / "ground_truth" / "labels.csv"))


def _components(root: Path, sku_of: dict, odoo_sku: dict) -> set[tuple[str, str]]:
    bom = _sap(root, "bom")
    comps = {(sku_of.get(m), f"sap:{w}") for m, w in zip(bom["IDNRK"], bom["WERKS"], strict=True)}
    boms = _odoo(root, "boms")
    lines = _odoo(root, "bom_lines")
    active = set(boms.loc[boms["active"], "id"])
    comps |= {(odoo_sku.get(p), "odoo:WH/Stock")
              for p, b in zip(lines["product_id"], lines["bom_id"], strict=True) if b in active}
    return comps


def _items(root: Path, master: pd.DataFrame, products: pd.DataFrame, keys) -> pd.DataFrame:
    sap = pd.DataFrame({"sku": master["BISMT"], "location_id": "sap:" + master["WERKS"],
                        "name": master["MAKTX"], "lead_time_days": _num(master["PLIFZ"]),
                        "safety_stock": _num(master["EISBE"]),
                        "reorder_point": _num(master["MINBE"])})
    odoo = pd.DataFrame({"sku": products["default_code"], "location_id": "odoo:WH/Stock",
                         "name": products["name"], "lead_time_days": _num(products["produce_delay"]),
                         "safety_stock": _num(products["safety_stock"]),
                         "reorder_point": _num(products["reorder_point"])})
    items = pd.concat([sap, odoo], ignore_index=True)
    cost = pd.read_csv(root / "acct" / "item_valuation" / "acct_item_valuation.csv")
    latest = cost.sort_values("valuation_date").groupby("item_ref")["standard_cost"].last()
    items["unit_cost"] = items["sku"].map(latest)
    wanted = pd.DataFrame(list(keys), columns=KEY)
    return wanted.merge(items, on=KEY, how="left").fillna({"lead_time_days": 0})


def _open_end(root: Path, sku_of: dict, odoo_sku: dict) -> pd.DataFrame:
    po = _sap(root, "purchase_orders")
    prod = _sap(root, "production_orders")
    prod = prod[prod["STTXT"] != "DLV"]
    planned = _sap(root, "planned_orders")
    frames = [
        pd.DataFrame({"sku": po["MATNR"].map(sku_of), "location_id": "sap:" + po["WERKS"],
                      "date": _sap_date(po["EINDT"]),
                      "quantity": _num(po["MENGE"]) - _num(po["WEMNG"]), "is_firm": True}),
        pd.DataFrame({"sku": prod["MATNR"].map(sku_of), "location_id": "sap:" + prod["WERKS"],
                      "date": _sap_date(prod["GLTRS"]),
                      "quantity": _num(prod["PSMNG"]) - _num(prod["WEMNG"]), "is_firm": True}),
        pd.DataFrame({"sku": planned["MATNR"].map(sku_of), "location_id": "sap:" + planned["PLWRK"],
                      "date": _sap_date(planned["PEDTR"]), "quantity": _num(planned["GSMNG"]),
                      "is_firm": False}),
    ]
    moves = _odoo(root, "stock_moves")
    moves = moves[(moves["state"] == "assigned") & (moves["location_dest_id"] == "WH/Stock")]
    frames.append(pd.DataFrame({"sku": moves["product_id"].map(odoo_sku),
                                "location_id": "odoo:WH/Stock",
                                "date": pd.to_datetime(moves["date"]).dt.normalize(),
                                "quantity": _num(moves["product_uom_qty"]), "is_firm": True}))
    mos = _odoo(root, "manufacturing_orders")
    mos = mos[mos["state"].isin(["confirmed", "progress", "draft"])]
    frames.append(pd.DataFrame({"sku": mos["product_id"].map(odoo_sku),
                                "location_id": "odoo:" + mos["location_dest_id"],
                                "date": pd.to_datetime(mos["date_finished"]).dt.normalize(),
                                "quantity": _num(mos["product_qty"]) - _num(mos["qty_produced"]),
                                "is_firm": mos["state"] != "draft"}))
    return pd.concat(frames, ignore_index=True)


def supply_on(frames: DemoFrames, as_of: pd.Timestamp) -> pd.DataFrame:
    """Orders open on ``as_of`` (see the module docstring): item_id, location_id,
    expected_date, quantity, is_firm, as ``project_portfolio`` reads them."""
    lead = frames.items.set_index(KEY)["lead_time_days"]
    rows = []
    for frame, firm in ((frames.receipts, True), (frames.open_end, None)):
        f = frame[frame["date"] > as_of]
        placed = f["date"] - pd.to_timedelta(
            lead.reindex(pd.MultiIndex.from_frame(f[KEY])).fillna(0).to_numpy(), unit="D")
        f = f[placed.to_numpy() <= as_of]
        rows.append(pd.DataFrame({"item_id": f["sku"], "location_id": f["location_id"],
                                  "expected_date": f["date"].dt.date, "quantity": f["quantity"],
                                  "is_firm": True if firm else f["is_firm"]}))
    return pd.concat(rows, ignore_index=True)
