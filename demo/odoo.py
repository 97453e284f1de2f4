"""The Odoo side of the demo exports: products, daily quants and stock moves of the Odoo
warehouse (mixed into ``demo.generator._Generator``, whose counters, faults and calendar
it uses)."""

from __future__ import annotations

import json

import numpy as np

from demo.files import (
    CONSUMPTION,
    DELIVERY,
    EXPECTED,
    EXPECTED_PRODUCED,
    ODOO_MOVE,
    ODOO_REF,
    ODOO_REF_SEQ,
    PRODUCED,
    RECEIPT,
    TIMES,
    Counters,
    ExportWriter,
    Faults,
    bad_iso_date,
    quantities,
    quantity,
    with_duplicates,
)
from demo.inventory import SimResult
from demo.patterns import ODOO_LOCATION, ODOO_UOM, WORK_CENTRES, Calendar, Item, Series
from demo.supply import DONE, DUE, KIND, PLANNED, QTY


def routes(it: Item) -> str:
    """Odoo routes of a product: made or bought, and make-to-order for a few made ones."""
    made = "Manufacture" if it.manufactured else "Buy"
    return made + (",Replenish on Order (MTO)" if it.make_to_order else "")


def merge_events(*parts: tuple[np.ndarray, np.ndarray, np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(day, ticks, kind) event arrays -> one set ordered by day, earlier parts first within
    a day; the fourth array is each event's position in the concatenated input."""
    days = np.concatenate([p[0] for p in parts])
    order = np.argsort(days, kind="stable")
    qty = np.concatenate([p[1] for p in parts])[order]
    kind = np.concatenate([p[2] for p in parts])[order]
    return days[order], qty, kind, order



class OdooExports:
    """Odoo rows of a series, and what the SAP and Odoo movements share."""

    seed: int
    out: dict[tuple[str, str], ExportWriter]
    cal: Calendar
    c: Counters
    faults: Faults

    def _fault_seed(self, s: Series, stream: int) -> list[int]:
        return [self.seed, 9, s.item.idx, stream, int(s.werks or 0)]

    def _issues(self, s: Series, k: int, res: SimResult
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Consumption by parents' production (kind 2), then independent issues: deliveries
        to customers (finished goods, spare parts) or, for a component no parent here
        consumes, production use of items outside the demo."""
        c_days = np.flatnonzero(res.consumed[:, k])
        i_days = np.flatnonzero(res.issued[:, k])
        m = i_days.size
        if s.item.cat.key == "finished" or s.is_component:
            kinds = np.full(m, DELIVERY, dtype=np.int64)
        elif s.item.cat.key == "component":
            kinds = np.where(s.rng.random(m) < s.item.spare_share, DELIVERY, CONSUMPTION)
        else:
            kinds = np.full(m, CONSUMPTION, dtype=np.int64)
        return [(c_days, res.consumed[c_days, k], np.full(c_days.size, CONSUMPTION)),
                (i_days, res.issued[i_days, k], kinds)]

    def odoo_product(self, it: Item, s: Series) -> None:
        sc = it.scale
        self.out["odoo", "products"].add([
            f'{{"id":{it.odoo_id},"default_code":"{it.sku}","name":{json.dumps(it.name)},'
            f'"categ_id":"{it.cat.odoo_categ}","uom_id":"{ODOO_UOM[it.meins]}",'
            f'"barcode":{json.dumps(it.ean or None)},'
            f'"active":{"false" if it.profile.pattern == "discontinued" else "true"},'
            f'"produce_delay":{s.lead},"safety_stock":{quantity(s.safety, sc)},'
            f'"reorder_point":{quantity(s.reorder, sc)},"route_ids":"{routes(it)}"}}'])
        ops = []
        for j, (w, setup, run) in enumerate(it.operations):
            ops.append(f'{{"id":{self.c.odoo_op},"product_id":{it.odoo_id},'
                       f'"workcenter":"{WORK_CENTRES[w][2]}","name":"{WORK_CENTRES[w][1]}",'
                       f'"sequence":{(j + 1) * 10},"time_cycle_manual":{run},'
                       f'"setup_time":{setup}}}')
            self.c.odoo_op += 1
        self.out["odoo", "workcenter_operations"].add(ops)

    def odoo_quants(self, s: Series, stock: np.ndarray, issued: np.ndarray) -> None:
        it = s.item
        first = it.profile.launch
        n = self.cal.n_days
        # Reserved = what is picked for tomorrow's orders (never more than on hand).
        tomorrow = np.zeros_like(issued)
        tomorrow[:-1] = issued[1:]
        reserved = quantities(np.minimum(stock, tomorrow)[first:], it.scale)
        dates = self.cal.iso[first:n]
        keys = [it.odoo_id] * len(dates)
        qtys = quantities(stock[first:], it.scale)
        dups = self.faults.inject(self._fault_seed(s, 3), dates, keys, qtys, bad_iso_date,
                                  lambda k: 90_000_000 + k)
        lines = [f'{{"date":"{d}","product_id":{k},"location_id":"{ODOO_LOCATION}",'
                 f'"quantity":{q},"reserved_quantity":{r}}}'
                 for d, k, q, r in zip(dates, keys, qtys, reserved, strict=True)]
        self.out["odoo", "stock_quants"].add(with_duplicates(lines, dups))

    def odoo_moves(self, s: Series, k: int, res: SimResult, orders: np.ndarray | None,
                   names: list[str] | None, consumed_by: dict[int, str]) -> None:
        """Done moves of the history and expected receipts. A made item's receipts come
        from production with the manufacturing order's name as reference; a component's
        consumption carries the name of a parent order started that day."""
        it, n = s.item, self.cal.n_days
        consumption, independent = self._issues(s, k, res)
        fixed: list[str | None] | None = None  # references that are not a running number
        if orders is None or names is None:
            r_days = np.flatnonzero(res.receipts[:, k])
            receipts = (r_days, res.receipts[r_days, k], np.where(r_days >= n, EXPECTED, RECEIPT))
            if consumption[0].size:
                fixed = [None] * r_days.size
        else:
            real = orders[:, KIND] != PLANNED
            receipts = (orders[real, DUE], orders[real, QTY],
                        np.where(orders[real, KIND] == DONE, PRODUCED, EXPECTED_PRODUCED))
            fixed = [nm for nm, ok in zip(names, real.tolist(), strict=True) if ok]
        days, qty, kind, order = merge_events(receipts, consumption, independent)
        m = days.size
        if fixed is not None:
            fixed += [consumed_by.get(d) for d in consumption[0].tolist()]
            fixed += [None] * independent[0].size
            fixed = [fixed[j] for j in order.tolist()]
            free = np.array([r is None for r in fixed], dtype=bool)
        else:
            free = np.ones(m, dtype=bool)
        iso = self.cal.iso
        dates = [iso[d] for d in days.tolist()]
        times = [TIMES[t] for t in s.rng.integers(0, len(TIMES), m).tolist()]
        keys = [it.odoo_id] * m
        qtys = quantities(qty, it.scale)
        ids = range(self.c.odoo_move, self.c.odoo_move + m)
        self.c.odoo_move += m
        # Other references run per kind (WH/IN/, WH/OUT/, WH/MO/), like Odoo sequences.
        kinds = kind.tolist()
        nums = np.zeros(m, dtype=np.int64)
        slots = np.asarray(ODOO_REF_SEQ)[kind] if m else nums
        for slot in range(3):
            mask = free & (slots == slot)
            nums[mask] = self.c.odoo_ref[slot] + np.arange(int(mask.sum()))
            self.c.odoo_ref[slot] += int(mask.sum())
        refs = [f"{ODOO_REF[kd]}{num:05d}" for kd, num in zip(kinds, nums.tolist(), strict=True)]
        if fixed is not None:
            refs = [f or r for f, r in zip(fixed, refs, strict=True)]
        dups = self.faults.inject(self._fault_seed(s, 4), dates, keys, qtys, bad_iso_date,
                                  lambda k: 90_000_000 + k)
        lines = [f'{{"id":{i},"product_id":{k},"date":"{d}T{tm}","product_uom_qty":{q},'
                 f'{ODOO_MOVE[kd]},"reference":"{ref}"}}'
                 for i, k, d, tm, q, kd, ref in zip(ids, keys, dates, times, qtys, kinds, refs,
                                                    strict=True)]
        self.out["odoo", "stock_moves"].add(with_duplicates(lines, dups))

