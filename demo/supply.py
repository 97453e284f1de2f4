"""Orders of the demo: the production orders behind every receipt of a made item (SAP
AFKO/AFPO, Odoo mrp.production), the planned orders that continue its replenishment cycle
past the firm horizon (SAP PLAF, Odoo draft manufacturing orders), purchase orders of
bought items, stock transport orders between the two SAP plants, and the component built
to run short because of a parent's production plan."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from demo.files import Counters, ExportWriter, quantity
from demo.inventory import SimResult, cut_stock
from demo.patterns import FIRM_DAYS, PLAN_DAYS, Calendar, Series

# What became of an order: delivered (history), late (due before the end, not delivered),
# open (decided in the history, due after it), firm (started after the end, inside the firm
# horizon), planned (beyond it: an MRP proposal, ``firmed`` when the planner fixed it).
DONE, LATE, OPEN, FIRM, PLANNED = "done", "late", "open", "firm", "planned"


class Order(NamedTuple):
    start: int  # day index; GSTRS / PSTTR / date_start
    due: int  # GLTRS / PEDTR / date_finished
    qty: int  # ticks
    kind: str
    firmed: bool = False


def future_orders(s: Series, k: int, res: SimResult, cal: Calendar) -> list[Order]:
    """The replenishment cycle of a made item after the last day: the next order when the
    inventory position (stock + open orders) is expected to reach the reorder point, then one
    lot every lot/demand days, up to PLAN_DAYS ahead. Those starting within FIRM_DAYS are
    firm production orders, the rest planned orders (one in ten firmed by the planner)."""
    n = cal.n_days
    if not s.item.manufactured or s.item.profile.stop < n or s.plan_mean <= 0:
        return []
    position = int(res.stock[-1, k]) + int(res.receipts[n:, k].sum()) + res.late_qty(k)
    t = n - 1 + max(1, int(np.ceil((position - s.reorder) / s.plan_mean)))
    step = max(5, round(s.lot / s.plan_mean))
    out: list[Order] = []
    while t + 5 + s.lead < len(cal.next_open):
        start = int(cal.next_open[t + 1])
        due = int(cal.next_open[start + s.lead])
        if due > n + PLAN_DAYS:
            break
        firm = start <= n + FIRM_DAYS
        out.append(Order(start, due, s.lot, FIRM if firm else PLANNED,
                         firmed=not firm and s.rng.random() < 0.1))
        t += step
    return out


def orders_of(s: Series, k: int, res: SimResult, future: list[Order], cal: Calendar,
              cut: bool = False) -> list[Order]:
    """Every production order of a made series, by start: those the simulation released
    (delivered in the history, late, or open after it) and the future ones. ``cut``: the
    receipts were cut afterwards (the showcase), so one order per remaining receipt,
    started on the working day lead time days before it."""
    n = cal.n_days
    if cut:
        rec = res.receipts[:, k]
        out = [Order(int(cal.prev_open[d - s.lead]) if d >= s.lead else d - s.lead, d,
                     int(rec[d]), DONE if d < n else OPEN) for d in np.flatnonzero(rec).tolist()]
    else:
        out = [Order(start, due, qty, LATE if late else DONE if due < n else OPEN)
               for _, start, due, qty, late in res.orders_of(k).tolist()]
    return sorted(out + future, key=lambda o: (o.start, o.due))


def pick_component_short(series: list[Series], per_unit: np.ndarray, res: SimResult,
                         plans: dict[int, list[Order]], cal: Calendar, common: int | None
                         ) -> tuple[int, int, Order] | None:
    """A bought SAP component whose stock cannot cover what one firm production order of a
    parent, starting inside the component's lead time, will consume: its latest receipts
    were delivered short and its open orders cancelled (``cut_stock``) to a third of that
    order's need. Returns (component series, parent series, the parent's order). Without a
    natural candidate a parent gets a rush order starting tomorrow."""
    n = cal.n_days
    pairs = [(int(c), int(p)) for c in np.flatnonzero(per_unit.any(axis=0))
             for p in np.flatnonzero(per_unit[:, c])
             if series[c].system == "sap" and not series[c].item.manufactured
             and series[c].item.idx != common and p in plans]
    candidates = [(o.start, c, p, o) for c, p in pairs for o in plans[p]
                  if o.kind in (FIRM, OPEN) and n <= o.start < n + series[c].lead]
    if not candidates and pairs:
        c, p = pairs[0]
        start = int(cal.next_open[n + 1])
        rush = Order(start, int(cal.next_open[start + series[p].lead]), series[p].lot, FIRM)
        if rush.start - n < series[c].lead:
            plans[p].append(rush)
            candidates = [(rush.start, c, p, rush)]
    for _, c, p, o in sorted(candidates, key=lambda x: (x[0], x[1], x[2])):
        need = int(np.rint(o.qty * per_unit[p, c]))
        stock, receipts = res.stock[:, c].copy(), res.receipts[:, c].copy()
        if need >= 3 and cut_stock(stock, receipts, n, need // 3):
            res.stock[:, c], res.receipts[:, c] = stock, receipts
            return c, p, o
    return None


def pick_transfers(series: list[Series], res: SimResult, seed: int, skip: set[int]
                   ) -> list[tuple[int, int, int]]:
    """A few items stocked in both SAP plants get an open stock transport order from the
    main plant to the second: (supplying series, receiving series, quantity in ticks), about
    ten days of the receiving plant's demand and at most a third of the supplier's stock.
    The first candidate of a chunk always gets one, so even a small demo has one."""
    by_item: dict[int, dict[str, int]] = {}
    for k, s in enumerate(series):
        if s.system == "sap" and s.item.idx not in skip and s.item.profile.pattern != "discontinued":
            by_item.setdefault(s.item.idx, {})[s.werks] = k
    out = []
    for idx, plants in by_item.items():
        if len(plants) < 2 or (out and np.random.default_rng([seed, 10, idx]).random() >= 0.08):
            continue
        src, dst = plants["1000"], plants["2000"]
        qty = min(int(series[dst].plan_mean * 10), int(res.stock[-1, src]) // 3)
        if qty >= series[dst].item.scale:
            out.append((src, dst, qty))
    return out


class SupplyWriter:
    """Rows of the order exports, numbered from the run's counters."""

    def __init__(self, out: dict[tuple[str, str], ExportWriter], cal: Calendar,
                 counters: Counters) -> None:
        self.out, self.cal, self.c = out, cal, counters

    def _sap_status(self, o: Order, u: float) -> str:
        n = self.cal.n_days
        if o.kind == DONE:
            return "TECO" if u < 0.2 else "DLV"
        if o.start < n:  # released and running; some operations confirmed
            return "PCNF" if u < 0.3 else "REL"
        return "REL" if o.start <= n + 3 else "CRTD"

    def sap_production(self, s: Series, orders: list[Order]) -> dict[Order, str]:
        """Production orders (AFKO/AFPO) and planned orders (PLAF); returns each production
        order's number."""
        it, cal = s.item, self.cal
        prod, plaf, numbers = [], [], {}
        head = f"{it.matnr};{s.werks};"
        for o, u in zip(orders, s.rng.random(len(orders)).tolist(), strict=True):
            q = quantity(o.qty, it.scale)
            if o.kind == PLANNED:
                plaf.append(f"{self.c.plnum:010d};{head}{q};{cal.sap_at(o.start)};"
                            f"{cal.sap_at(o.due)};{'X' if o.firmed else ''};{it.meins}\n")
                self.c.plnum += 1
                continue
            numbers[o] = aufnr = str(self.c.aufnr)
            self.c.aufnr += 1
            prod.append(f"{aufnr};{head}{s.lgort};{q};"
                        f"{q if o.kind == DONE else 0};{cal.sap_at(o.start)};{cal.sap_at(o.due)};"
                        f"{self._sap_status(o, u)};{it.meins}\n")
        self.out["sap", "production_orders"].add(prod)
        self.out["sap", "planned_orders"].add(plaf)
        return numbers

    def sap_purchase(self, s: Series, receipts: np.ndarray) -> None:
        """Open purchase order schedule lines of a bought item, one document per series."""
        n, it = self.cal.n_days, s.item
        days = n + np.flatnonzero(receipts[n:])
        if not days.size:
            return
        ebeln = self.c.ebeln
        self.c.ebeln += 1
        lines = []
        for j, d in enumerate(days.tolist()):
            open_qty = int(receipts[d])
            # Some lines are partly delivered already: ordered = open + received so far.
            got = int(open_qty * s.rng.uniform(0.2, 0.5)) if s.rng.random() < 0.2 else 0
            lines.append(f"{ebeln};{(j + 1) * 10};{it.matnr};{s.werks};{self.cal.sap[d]};"
                         f"{quantity(open_qty + got, it.scale)};{quantity(got, it.scale)};"
                         f"{it.meins}\n")
        self.out["sap", "purchase_orders"].add(lines)

    def sap_transfers(self, series: list[Series], transfers: list[tuple[int, int, int]],
                      seed: int) -> None:
        n, lines = self.cal.n_days, []
        for src, dst, qty in transfers:
            s = series[dst]
            rng = np.random.default_rng([seed, 11, s.item.idx])
            due = int(self.cal.next_open[n + int(rng.integers(2, 15))])
            lines.append(f"{self.c.ebeln};10;UB;{s.item.matnr};{s.werks};{series[src].werks};"
                         f"{self.cal.sap[due]};{quantity(qty, s.item.scale)};0;{s.item.meins}\n")
            self.c.ebeln += 1
        self.out["sap", "stock_transport_orders"].add(lines)

    def odoo_production(self, s: Series, orders: list[Order]) -> list[tuple[Order, str]]:
        """Manufacturing orders (mrp.production), drafts for planned ones; returns each
        order's name (WH/MO/..., the reference of its finished-product move)."""
        n, it, cal = self.cal.n_days, s.item, self.cal
        rows, named = [], []
        for o in orders:
            name = f"WH/MO/{self.c.odoo_ref[2]:05d}"
            self.c.odoo_ref[2] += 1
            named.append((o, name))
            state = {DONE: "done", LATE: "progress", FIRM: "confirmed", PLANNED: "draft"}.get(
                o.kind, "progress" if o.start < n else "confirmed")
            q = quantity(o.qty, it.scale)
            rows.append(f'{{"name":"{name}","product_id":{it.odoo_id},"product_qty":{q},'
                        f'"qty_produced":{q if o.kind == DONE else 0},'
                        f'"date_start":"{cal.iso_at(o.start)}T06:00:00",'
                        f'"date_finished":"{cal.iso_at(o.due)}T15:00:00",'
                        f'"state":"{state}","location_dest_id":"WH/Stock"}}')
        self.out["odoo", "manufacturing_orders"].add(rows)
        return named
