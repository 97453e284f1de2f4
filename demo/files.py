"""The demo exports' file side: one writer per export file, the layout of every export
(columns, delimiters), the running document numbers and the data-quality faults that go
into a share of the stock and movement rows. Used by ``demo.generator``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FAULT_KINDS = ("bad_date", "negative_quantity", "unknown_item", "duplicate_row")

# Column order of every export. It must equal assets/ingest/registry.py (a unit test
# compares them); it is repeated here because the row templates below hard-code the
# order, and so the generator does not depend on the ingest package being importable.
COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sap", "material_master"): ("MATNR", "WERKS", "MAKTX", "MATKL", "MEINS", "BISMT", "EAN11",
                                 "PLIFZ", "EISBE", "MINBE", "LVORM", "STRGR"),
    ("sap", "routings"): ("MATNR", "WERKS", "PLNNR", "VORNR", "ARBPL", "LTXA1", "VGW01",
                          "VGW02", "VGE01"),
    ("sap", "stock"): ("STICHTAG", "MATNR", "WERKS", "LGORT", "LABST", "SPEME", "MEINS"),
    ("sap", "goods_movements"): ("MBLNR", "ZEILE", "BWART", "MATNR", "WERKS", "LGORT", "BUDAT",
                                 "MENGE", "MEINS", "SHKZG"),
    ("sap", "purchase_orders"): ("EBELN", "EBELP", "MATNR", "WERKS", "EINDT", "MENGE", "WEMNG",
                                 "MEINS"),
    ("sap", "production_orders"): ("AUFNR", "MATNR", "WERKS", "LGORT", "PSMNG", "WEMNG",
                                   "GSTRS", "GLTRS", "STTXT", "MEINS"),
    ("sap", "planned_orders"): ("PLNUM", "MATNR", "PLWRK", "GSMNG", "PSTTR", "PEDTR", "AUFFX",
                                "MEINS"),
    ("sap", "stock_transport_orders"): ("EBELN", "EBELP", "BSART", "MATNR", "WERKS", "RESWK",
                                        "EINDT", "MENGE", "WEMNG", "MEINS"),
    ("sap", "bom"): ("MATNR", "WERKS", "STLAN", "STLAL", "POSNR", "IDNRK", "MENGE", "BMENG",
                     "MEINS", "AUSCH", "DATUV", "DATUB"),
    ("sap", "master_audit"): ("CHANGENR", "OBJECTID", "WERKS", "UDATE", "FNAME", "VALUE_OLD",
                              "VALUE_NEW", "USERNAME"),
    ("odoo", "products"): ("id", "default_code", "name", "categ_id", "uom_id", "barcode",
                           "active", "produce_delay", "safety_stock", "reorder_point",
                           "route_ids"),
    ("odoo", "stock_quants"): ("date", "product_id", "location_id", "quantity",
                               "reserved_quantity"),
    ("odoo", "stock_moves"): ("id", "product_id", "date", "product_uom_qty", "location_id",
                              "location_dest_id", "state", "reference"),
    ("odoo", "workcenter_operations"): ("id", "product_id", "workcenter", "name", "sequence",
                                        "time_cycle_manual", "setup_time"),
    ("odoo", "manufacturing_orders"): ("name", "product_id", "product_qty", "qty_produced",
                                       "date_start", "date_finished", "state",
                                       "location_dest_id"),
    ("odoo", "boms"): ("id", "product_id", "product_qty", "type", "active"),
    ("odoo", "bom_lines"): ("id", "bom_id", "product_id", "product_qty", "product_uom_id"),
    ("acct", "item_valuation"): ("item_ref", "valuation_date", "standard_cost", "currency",
                                 "valuation_class"),
}
CSV_DELIMITER = {"sap": ";", "acct": ","}

CHUNK_ITEMS = 256  # items simulated together; bounds memory at ~chunk x days values
# Odoo move times of day: 06:00 .. 17:55 in 5-minute steps.
TIMES = [f"{h:02d}:{m:02d}:00" for h in range(6, 18) for m in range(0, 60, 5)]

# Movement kinds. 0 = receipt from a supplier, 1 = delivery to customer, 2 = consumption by
# production, 3 = expected (open) receipt from a supplier, 4 = receipt from production,
# 5 = expected receipt from production (an open manufacturing order).
RECEIPT, DELIVERY, CONSUMPTION, EXPECTED, PRODUCED, EXPECTED_PRODUCED = range(6)
SAP_BWART = ("101", "601", "261", "101", "101", "101")
SAP_SHKZG = ("S", "H", "H", "S", "S", "S")
_PRODUCTION = "Virtual Locations/Production"
ODOO_MOVE = (
    '"location_id":"Partners/Vendors","location_dest_id":"WH/Stock","state":"done"',
    '"location_id":"WH/Stock","location_dest_id":"Partners/Customers","state":"done"',
    f'"location_id":"WH/Stock","location_dest_id":"{_PRODUCTION}","state":"done"',
    '"location_id":"Partners/Vendors","location_dest_id":"WH/Stock","state":"assigned"',
    f'"location_id":"{_PRODUCTION}","location_dest_id":"WH/Stock","state":"done"',
    f'"location_id":"{_PRODUCTION}","location_dest_id":"WH/Stock","state":"assigned"',
)
ODOO_REF = ("WH/IN/", "WH/OUT/", "WH/MO/", "WH/IN/", "WH/MO/", "WH/MO/")
# Odoo sequences: done and expected receipts share WH/IN/; manufacturing orders and the
# consumption of components not made in the demo share WH/MO/.
ODOO_REF_SEQ = (0, 1, 2, 0, 2, 2)


# ----------------------------------------------------------------------------- output
class ExportWriter:
    """One export file. CSV gets a header row; JSON is an array written object by object.
    Written under a '.part' name and renamed on success, so a landing-zone sensor never
    picks up half a file."""

    def __init__(self, root: Path, source: str, entity: str, ext: str) -> None:
        self.rel = f"{source}/{entity}/{source}_{entity}.{ext}"
        self.path = root / self.rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.part = self.path.with_name(self.path.name + ".part")
        self.json = ext == "json"
        self.rows = 0
        self._f = open(self.part, "w", encoding="utf-8", newline="", buffering=1 << 20)  # noqa: SIM115
        if self.json:
            self._f.write("[")
        else:
            self._f.write(CSV_DELIMITER[source].join(COLUMNS[(source, entity)]) + "\n")

    def add(self, lines: list[str]) -> None:
        """CSV lines end with a newline; JSON lines are bare objects."""
        if not lines:
            return
        if self.json:
            self._f.write(("\n" if self.rows == 0 else ",\n") + ",\n".join(lines))
        else:
            self._f.write("".join(lines))
        self.rows += len(lines)

    def close(self, ok: bool) -> None:
        if self.json:
            self._f.write("\n]\n" if self.rows else "]\n")
        self._f.close()
        if ok:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)


class Faults:
    """Injects data-quality faults into a ``rate`` share of transaction rows and counts them."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.counts = dict.fromkeys(FAULT_KINDS, 0)

    def inject(self, rng_seed: list[int], dates: list, keys: list, qtys: list,
               bad_date: Callable[[str, int], str], unknown: Callable[[int], object]
               ) -> list[int]:
        """Corrupt rows in place (the lists are the row fields); returns rows to duplicate."""
        n = len(dates)
        if self.rate <= 0 or n == 0:
            return []
        rng = np.random.default_rng(rng_seed)
        hit = np.flatnonzero(rng.random(n) < self.rate)
        dups: list[int] = []
        for i, kind in zip(hit.tolist(), rng.integers(0, 4, hit.size).tolist(), strict=True):
            name = FAULT_KINDS[kind]
            if name == "bad_date":
                dates[i] = bad_date(dates[i], self.counts[name])
            elif name == "negative_quantity":
                qtys[i] = -qtys[i] if qtys[i] > 0 else -1
            elif name == "unknown_item":
                keys[i] = unknown(self.counts[name])
            else:
                dups.append(i)
            self.counts[name] += 1
        return dups


def with_duplicates(lines: list[str], dups: list[int]) -> list[str]:
    # An exact repeat right after the original, like a re-sent export line.
    for i in sorted(dups, reverse=True):
        lines.insert(i + 1, lines[i])
    return lines


def bad_sap_date(value: str, k: int) -> str:
    return (f"{value[:4]}1345", f"{value[:4]}0230", "00000000")[k % 3]


def bad_iso_date(value: str, k: int) -> str:
    y, m, d = value[:4], value[5:7], value[8:10]
    return (f"{y}-13-45", f"{y}-02-30", f"{d}.{m}.{y}")[k % 3]


def quantities(ticks: np.ndarray, scale: int) -> list:
    """Ticks -> Python numbers that print as '12' (pieces) or '12.5' (one decimal)."""
    return ticks.tolist() if scale == 1 else (ticks / scale).tolist()


def quantity(ticks: int, scale: int) -> str:
    return str(ticks) if scale == 1 else str(ticks / scale)


@dataclass
class Counters:
    """Document numbers that run across the whole file (SAP number ranges, Odoo ids)."""

    mblnr: int = 4_900_000_000
    ebeln: int = 4_500_000_000
    changenr: int = 100_000
    plnnr: int = 50_000_000
    aufnr: int = 1_000_000
    plnum: int = 20_000_000
    odoo_move: int = 1
    odoo_op: int = 1
    odoo_ref: list[int] = field(default_factory=lambda: [1, 1, 1])
    odoo_bom: list[int] = field(default_factory=lambda: [1, 1])  # next mrp.bom / line id
