"""Orders of the demo: the production orders behind every receipt of a made item (SAP
AFKO/AFPO, Odoo mrp.production), the planned orders that continue its replenishment cycle
past the firm horizon (SAP PLAF, Odoo draft manufacturing orders), purchase orders of
bought items, stock transport orders between the two SAP plants, and the component built
to run short because of a parent's production plan."""

from __future__ import annotations

import numpy as np

from demo.files import Counters, ExportWriter, quantities, quantity
from demo.inventory import SimResult, cut_stock
from demo.patterns import FIRM_DAYS, PLAN_DAYS, Calendar, Series

# What became of an order (column KIND): delivered in the history, late (due before the
# end, not delivered), open (decided in the history, due after it), firm (starting after
# the end, inside the firm horizon), planned (beyond it: an MRP proposal; FIRMED when the
# planner fixed it).
DONE, LATE, OPEN, FIRM, PLANNED = range(5)
# Orders of a series are rows of an int64 array: start (GSTRS / PSTTR / date_start, a day
# index), due (GLTRS / PEDTR / date_finished), quantity in ticks, kind, firmed.
START, DUE, QTY, KIND, FIRMED = range(5)
SAP_STATUS = ("DLV", "TECO", "REL", "PCNF", "CRTD")
ODOO_STATE = ("done", "progress", "confirmed", "draft")


def future_orders(s: Series, k: int, res: SimResult, cal: Calendar) -> np.ndarray:
    """The replenishment cycle of a made item after the last day: the next order when the
    inventory position (stock + open orders) is expected to reach the reorder point, then one
    lot every lot/demand days, up to PLAN_DAYS ahead. Those starting within FIRM_DAYS are
    firm production orders, the rest planned orders (one in ten firmed by the planner)."""
    n = cal.n_days
    if not s.item.manufactured or s.item.profile.stop < n or s.plan_mean <= 0:
        return np.zeros((0, 5), dtype=np.int64)
    position = int(res.stock[-1, k]) + int(res.receipts[n:, k].sum()) + res.late_qty(k)
    first = n - 1 + max(1, int(np.ceil((position - s.reorder) / s.plan_mean)))
    decided = np.arange(first, n + PLAN_DAYS, max(5, round(s.lot / s.plan_mean)))
    start = cal.next_open[decided + 1]
    due = cal.next_open[start + s.lead]
    start, due = start[due <= n + PLAN_DAYS], due[due <= n + PLAN_DAYS]
    firm = start <= n + FIRM_DAYS
    firmed = ~firm & (s.rng.random(start.size) < 0.1)
    return np.stack([start, due, np.full(start.size, s.lot), np.where(firm, FIRM, PLANNED),
                     firmed], axis=1).astype(np.int64)


def orders_of(s: Series, k: int, res: SimResult, future: np.ndarray, cal: Calendar,
              cut: bool = False) -> np.ndarray:
    """Every production order of a made series, by start: those the simulation released
    (delivered in the history, late, or open after it) and the future ones. ``cut``: the
    receipts were cut afterwards (the showcase), so one order per remaining receipt,
    started on the working day lead time days before it."""
    n = cal.n_days
    if cut:
        due = np.flatnonzero(res.receipts[:, k])
        start = np.where(due >= s.lead, cal.prev_open[np.maximum(due - s.lead, 0)],
                         due - s.lead)
        qty, late = res.receipts[due, k], np.zeros(due.size, dtype=bool)
    else:
        made = res.orders_of(k)
        start, due, qty, late = made[:, 1], made[:, 2], made[:, 3], made[:, 4] == 1
    kind = np.where(late, LATE, np.where(due < n, DONE, OPEN))
    past = np.stack([start, due, qty, kind, np.zeros_like(kind)], axis=1).astype(np.int64)
    out = np.concatenate([past, future])
    return out[np.lexsort((out[:, DUE], out[:, START]))]


def pick_component_short(series: list[Series], per_unit: np.ndarray, res: SimResult,
                         plans: dict[int, np.ndarray], cal: Calendar, common: int | None
                         ) -> tuple[int, int, tuple[int, int]] | None:
    """A bought SAP component whose stock cannot cover what one firm production order of a
    parent, starting inside the component's lead time, will consume: its latest receipts
    were delivered short and its open orders cancelled (``cut_stock``) to a third of that
    order's need. Returns (component series, parent series, the order's (start, due)).
    Without a natural candidate a parent gets a rush order starting tomorrow."""
    n = cal.n_days
    pairs = [(int(c), int(p)) for c in np.flatnonzero(per_unit.any(axis=0))
             for p in np.flatnonzero(per_unit[:, c])
             if series[c].system == "sap" and not series[c].item.manufactured
             and series[c].item.idx != common and p in plans]
    candidates = [(int(o[START]), c, p, o) for c, p in pairs for o in plans[p]
                  if o[KIND] == FIRM and n <= o[START] < n + series[c].lead]
    if not candidates and pairs:
        c, p = pairs[0]
        start = int(cal.next_open[n + 1])
        rush = np.array([start, cal.next_open[start + series[p].lead], series[p].lot, FIRM, 0])
        if start - n < series[c].lead:
            plans[p] = np.concatenate([plans[p], rush[None]])
            candidates = [(start, c, p, rush)]
    for _, c, p, o in sorted(candidates, key=lambda x: (x[0], x[1], x[2])):
        need = int(np.rint(o[QTY] * per_unit[p, c]))
        stock, receipts = res.stock[:, c].copy(), res.receipts[:, c].copy()
        if need >= 3 and cut_stock(stock, receipts, n, need // 3):
            res.stock[:, c], res.receipts[:, c] = stock, receipts
            return c, p, (int(o[START]), int(o[DUE]))
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

    def _dates(self, days: np.ndarray, iso: bool = False) -> list[str]:
        dates, at = (self.cal.iso, self.cal.iso_at) if iso else (self.cal.sap, self.cal.sap_at)
        return [dates[d] if d >= 0 else at(d) for d in days.tolist()]

    def sap_production(self, s: Series, orders: np.ndarray) -> np.ndarray:
        """Production orders (AFKO/AFPO) and planned orders (PLAF) of a made series; returns
        each order's number (-1 for a planned order)."""
        it, n = s.item, self.cal.n_days
        head, tail = f";{it.matnr};{s.werks};", f";{it.meins}\n"
        kind, start = orders[:, KIND], orders[:, START]
        u = s.rng.random(len(orders))
        # Delivered: DLV, some technically completed; running: released, some partly
        # confirmed; not started: released when due to start within days, else created.
        status = np.select(
            [kind == DONE, start < n, start <= n + 3],
            [np.where(u < 0.2, 1, 0), np.where(u < 0.3, 3, 2), 2], 4)
        plan = kind == PLANNED
        numbers = np.full(len(orders), -1, dtype=np.int64)
        made = np.flatnonzero(~plan)
        numbers[made] = self.c.aufnr + np.arange(made.size)
        self.c.aufnr += made.size
        o = orders[made]
        qty = quantities(o[:, QTY], it.scale)
        self.out["sap", "production_orders"].add([
            f"{a}{head}{s.lgort};{q};{q if st < 2 else 0};{b};{e};{SAP_STATUS[st]}{tail}"
            for a, q, st, b, e in zip(numbers[made].tolist(), qty, status[made].tolist(),
                                      self._dates(o[:, START]), self._dates(o[:, DUE]),
                                      strict=True)])
        o = orders[plan]
        self.out["sap", "planned_orders"].add([
            f"{a:010d}{head}{q};{b};{e};{'X' if x else ''}{tail}"
            for a, q, b, e, x in zip(range(self.c.plnum, self.c.plnum + len(o)),
                                     quantities(o[:, QTY], it.scale), self._dates(o[:, START]),
                                     self._dates(o[:, DUE]), o[:, FIRMED].tolist(),
                                     strict=True)])
        self.c.plnum += len(o)
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

    def odoo_production(self, s: Series, orders: np.ndarray) -> list[str]:
        """Manufacturing orders (mrp.production), drafts for planned ones; returns each
        order's name (WH/MO/..., the reference of its finished-product move)."""
        it, n = s.item, self.cal.n_days
        kind = orders[:, KIND]
        state = np.select([kind == DONE, kind == LATE, kind == PLANNED,
                           (kind == OPEN) & (orders[:, START] < n)], [0, 1, 3, 1], 2)
        first = self.c.odoo_ref[2]
        self.c.odoo_ref[2] += len(orders)
        names = [f"WH/MO/{first + j:05d}" for j in range(len(orders))]
        qty = quantities(orders[:, QTY], it.scale)
        rows = [f'{{"name":"{name}","product_id":{it.odoo_id},"product_qty":{q},'
                f'"qty_produced":{q if st == 0 else 0},"date_start":"{b}T06:00:00",'
                f'"date_finished":"{e}T15:00:00","state":"{ODOO_STATE[st]}",'
                f'"location_dest_id":"WH/Stock"}}'
                for name, q, st, b, e in zip(names, qty, state.tolist(),
                                             self._dates(orders[:, START], iso=True),
                                             self._dates(orders[:, DUE], iso=True), strict=True)]
        self.out["odoo", "manufacturing_orders"].add(rows)
        return names
