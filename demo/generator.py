"""Realistic demo exports of two ERPs and an accounting system, written to a landing zone.

``generate_demo_data`` writes one file per source and entity declared in
``assets/ingest/registry.py`` (``OUT/<source>/<entity>/<source>_<entity>.<ext>``):

* SAP (CSV, ';'): material master per plant, routings, bills of material, daily stock per
  storage location, goods movements (101 receipts, 261/601 issues), production orders,
  planned orders, open purchase and stock transport orders, master changes.
* Odoo (JSON array): products, daily quants, stock moves (done and expected), operations,
  manufacturing orders (done, running, confirmed, draft), bills of materials and lines.
* Accounting (CSV, ','): monthly standard cost per SKU.

How it stays fast and small: items are processed in chunks. Per item the whole demand
series is drawn with numpy at once; the inventory of all series of a chunk is simulated
together (one loop over days, numpy across series; see ``demo_patterns``), and the rows of
a series are built with a list comprehension over pre-formatted date strings and written
straight to the open files. Memory is bounded by one chunk (items x days never sits in memory) and the
output is byte-identical for the same arguments, because every item draws from its own
generator seeded with ``(seed, item)``.

The stock is consistent with the movements (end-of-day stock = previous day + receipts -
issues), replenishment follows the master data (reorder point MINBE, lead time PLIFZ), and
demand is censored by stock: on a stockout only what was on hand is issued. Every receipt
of a made item (one with a routing) is a delivered production order started lead time
days before it, which issued its components (261, Odoo moves to production) per the bill
of materials that day; its orders still open at the end are production orders, not
purchase orders (``demo.supply``, ``demo.bom``). Data-quality faults (bad dates, negative
quantities, unknown items, duplicate rows) go into a ``fault_rate`` share of the stock and
movement rows only, never into master data or orders.

Pure Python + numpy: no Dagster import, so the CLI and unit tests can use it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from demo.bom import odoo_bom_rows, per_unit_matrix, plan_bom, sap_bom_rows, size_components
from demo.files import (
    CHUNK_ITEMS,
    COLUMNS,
    RECEIPT,
    SAP_BWART,
    SAP_SHKZG,
    Counters,
    ExportWriter,
    Faults,
    bad_sap_date,
    quantities,
    quantity,
    with_duplicates,
)
from demo.inventory import SimResult, run_short, simulate
from demo.odoo import OdooExports, merge_events
from demo.patterns import (
    MAX_LEAD_DAYS,
    PATTERN_BLOCK,
    PATTERNS,
    SAP_USERS,
    SYSTEM_BLOCK,
    WORK_CENTRES,
    Calendar,
    Item,
    Series,
    build_calendar,
    deal_blocks,
    make_item,
    make_series,
)
from demo.planting import (
    ELIGIBLE,
    Label,
    PlantPlan,
    deal_events,
    plant_demand,
    plant_entry_error,
    write_labels,
)
from demo.supply import (
    DUE,
    FIRM,
    KIND,
    PLANNED,
    START,
    SupplyWriter,
    future_orders,
    orders_of,
    pick_component_short,
    pick_transfers,
)


@dataclass
class DemoSummary:
    """What was written."""

    files: dict[str, int]  # relative path -> data rows written
    items: int
    days: int
    start_date: date
    end_date: date
    faults: dict[str, int]  # fault kind -> count injected
    patterns: dict[str, int] = field(default_factory=dict)  # demand pattern -> items
    systems: dict[str, int] = field(default_factory=dict)  # sap / odoo / both -> items
    # (SKU, MATNR, WERKS) of the item built to run out inside its lead time, if any
    runs_short: tuple[str, str, str] | None = None
    # (SKU, MATNR, WERKS, AUFNR) of the component built to run short because the parent's
    # firm production order AUFNR, starting inside its lead time, needs more than it has
    component_runs_short: tuple[str, str, str, str] | None = None
    # Planted events (``plant=PlantPlan()``): kind -> count, and the labels file relative
    # to the output folder (see ``demo.planting``); empty / None when nothing was planted.
    planted: dict[str, int] = field(default_factory=dict)
    labels_file: str | None = None


class _Generator(OdooExports):
    """Turns chunks of items into rows of every export, keeping the running numbers."""

    def __init__(self, out: dict[tuple[str, str], ExportWriter], cal: Calendar, seed: int,
                 fault_rate: float, showcase_idx: int | None = None,
                 plant: PlantPlan | None = None, events: dict[int, str] | None = None) -> None:
        self.out = out
        self.cal = cal
        self.seed = seed
        self.faults = Faults(fault_rate)
        self.c = Counters()
        self.supply = SupplyWriter(out, cal, self.c)
        self.showcase_idx = showcase_idx  # the item built to run out (see run_short)
        self.runs_short: tuple[str, str, str] | None = None
        self.component_runs_short: tuple[str, str, str, str] | None = None
        self.plant = plant
        self.events = events or {}  # item index -> planted event kind
        self.labels: list[Label] = []
        # Month starts as day offsets; the first is the start of the month the history
        # begins in (possibly before day 0), so every item has a cost from the first day.
        self.month_starts = [k for k in range(cal.n_days) if cal.iso[k].endswith("-01")]
        if self.month_starts[:1] != [0]:
            self.month_starts.insert(0, -(cal.start.day - 1))

    # -- per chunk ---------------------------------------------------------------------
    def chunk(self, items: list[Item]) -> None:
        by_idx = {it.idx: it for it in items}
        if self.showcase_idx in by_idx:  # a plain make-to-stock item with no BOM
            by_idx[self.showcase_idx].make_to_order = False
        bom = plan_bom(items, self.seed, {self.showcase_idx})
        series = [s for it in items for s in make_series(it, self.seed, self.cal)]
        per_unit = per_unit_matrix(series, bom)
        size_components(series, per_unit, self.seed)
        errors = self._plant_demand(series) if self.plant else []
        for s in series:
            s.late_ok = s.late_ok and s.item.idx != self.showcase_idx
        res = simulate(series, self.cal, per_unit)
        showcase = self._run_showcase_short(series, res)
        plans = {k: future_orders(s, k, res, self.cal) for k, s in enumerate(series)
                 if s.item.manufactured and k != showcase}
        short = None
        if self.component_runs_short is None:
            short = pick_component_short(series, per_unit, res, plans, self.cal, bom.common)
        skip = {self.showcase_idx} | ({series[short[0]].item.idx} if short else set())
        transfers = pick_transfers(series, res, self.seed, skip)
        none = np.zeros((0, 5), dtype=np.int64)
        orders = {k: orders_of(s, k, res, plans.get(k, none), self.cal, cut=k == showcase)
                  for k, s in enumerate(series) if s.item.manufactured}
        for k in errors:  # after the simulation: a wrong posting, not demand
            label = plant_entry_error(series[k], res.issued[:, k], self.seed, self.cal,
                                      self.plant)
            self.labels += [label] if label else []

        for it in items:
            self.valuation(it)
            if it.system != "sap":
                self.odoo_product(it, next(s for s in series
                                           if s.item is it and s.system == "odoo"))
        self.out["sap", "bom"].add(sap_bom_rows(bom, by_idx, self.cal.start))
        boms, lines = odoo_bom_rows(bom, by_idx, self.c.odoo_bom)
        self.out["odoo", "boms"].add(boms)
        self.out["odoo", "bom_lines"].add(lines)
        names = {k: self.supply.odoo_production(s, orders[k]) for k, s in enumerate(series)
                 if s.system == "odoo" and s.item.manufactured}
        for k, s in enumerate(series):
            if s.system == "sap":
                self.sap_master(s)
                self.sap_stock(s, res.stock[:, k])
                self.sap_movements(s, k, res)
                if s.item.manufactured:
                    numbers = self.supply.sap_production(s, orders[k])
                    if short and k == short[1]:
                        c, o = series[short[0]], orders[k]
                        j = np.flatnonzero((o[:, START] == short[2][0]) & (o[:, DUE] == short[2][1])
                                           & (o[:, KIND] == FIRM))[0]
                        self.component_runs_short = (c.item.sku, c.item.matnr, c.werks,
                                                     str(numbers[j]))
                else:
                    self.supply.sap_purchase(s, res.receipts[:, k])
            else:
                self.odoo_quants(s, res.stock[:, k], res.issued[:, k] + res.consumed[:, k])
                self.odoo_moves(s, k, res, orders.get(k), names.get(k),
                                self._consumed_by(k, per_unit, orders, names))
        self.supply.sap_transfers(series, transfers, self.seed)

    def _plant_demand(self, series: list[Series]) -> list[int]:
        """Plant each item's event into its first stocking point (``demo.planting``),
        after the planner sized it; returns the series that get an entry error later."""
        errors, done, pending = [], set(), []
        for k, s in enumerate(series):
            if s.item.idx in done:
                continue
            done.add(s.item.idx)
            kind = self.events.get(s.item.idx)
            if (s.item.idx == self.showcase_idx
                    or not s.demand[:self.cal.n_days - self.plant.window_days].any()):
                # The showcase shortage stays as built; a component its parents consume
                # whole has no demand of its own to change: the event goes to the
                # chunk's next clean eligible item.
                pending += [kind] if kind else []
                continue
            if not kind and pending and s.item.profile.pattern in ELIGIBLE:
                kind = pending.pop(0)
            if not kind:
                continue
            if kind == "entry_error":
                errors.append(k)
                continue
            label = plant_demand(s, kind, self.seed, self.cal, self.plant)
            self.labels += [label] if label else []
        return errors

    def _run_showcase_short(self, series: list[Series], res: SimResult) -> int | None:
        """The showcase item (the first smooth SAP-only item) runs out inside its lead time
        in its first plant: the case the stockout alert exists for (see ``run_short``).
        Returns its series."""
        k = next((k for k, s in enumerate(series) if s.item.idx == self.showcase_idx), None)
        if k is not None and run_short(series[k], self.cal.n_days, res.stock[:, k],
                                       res.receipts[:, k]):
            s = series[k]
            self.runs_short = (s.item.sku, s.item.matnr, s.werks)
        return k

    @staticmethod
    def _consumed_by(c: int, per_unit: np.ndarray, orders: dict[int, np.ndarray],
                     names: dict[int, list[str]]) -> dict[int, str]:
        """Start day -> name of a parent manufacturing order that consumed component ``c``
        that day (the reference of its consumption move in Odoo); the first parent's first
        order when several started that day."""
        refs: dict[int, str] = {}
        for p in np.flatnonzero(per_unit[:, c]).tolist()[::-1]:
            if p in names:
                started = orders[p][:, KIND] != PLANNED
                refs.update(zip(orders[p][started, START].tolist()[::-1],
                                [nm for nm, ok in zip(names[p], started.tolist(), strict=True)
                                 if ok][::-1], strict=True))
        return refs

    # -- SAP -----------------------------------------------------------------------------
    def sap_master(self, s: Series) -> None:
        it, sc = s.item, s.item.scale
        lvorm = "X" if it.profile.pattern == "discontinued" else ""
        self.out["sap", "material_master"].add([
            f"{it.matnr};{s.werks};{it.name.upper()[:40]};{it.matkl};{it.meins};{it.sku};"
            f"{it.ean};{s.lead};{quantity(s.safety, sc)};{quantity(s.reorder, sc)};{lvorm};"
            f"{'20' if it.make_to_order else '40'}\n"])
        if it.operations:
            plnnr = self.c.plnnr
            self.c.plnnr += 1
            self.out["sap", "routings"].add([
                f"{it.matnr};{s.werks};{plnnr};{(j + 1) * 10:04d};"
                f"{WORK_CENTRES[w][0]}-{s.werks[:2]};{WORK_CENTRES[w][1]};{setup:.1f};"
                f"{run:.2f};MIN\n"
                for j, (w, setup, run) in enumerate(it.operations)])
        self.sap_audit(s)

    def sap_audit(self, s: Series) -> None:
        """A few planner changes of lead time, safety stock and reorder point over time; the
        last VALUE_NEW of each field is the current master value."""
        rng = s.rng
        if rng.random() >= 0.3:
            return
        sc = s.item.scale
        current = {"PLIFZ": s.lead, "EISBE": s.safety, "MINBE": s.reorder}
        n_changes = int(rng.integers(1, 4))
        first = s.item.profile.launch
        days = np.sort(rng.integers(first, self.cal.n_days, n_changes))
        changes = [("PLIFZ",), ("EISBE",), ("MINBE",), ("EISBE", "MINBE")]
        docs = [changes[int(rng.integers(len(changes)))] for _ in range(n_changes)]
        # Walk back from today's values so the history ends in the master value.
        values = {f: [v] for f, v in current.items()}
        for fields in reversed(docs):
            for f in fields:
                prev = round(values[f][0] * rng.uniform(0.6, 1.4)) or int(rng.integers(1, 9)) * sc
                values[f].insert(0, int(np.clip(prev, 3, MAX_LEAD_DAYS)) if f == "PLIFZ" else prev)
        pos = dict.fromkeys(current, 0)
        lines = []
        for day, fields in zip(days.tolist(), docs, strict=True):
            user = SAP_USERS[int(rng.integers(len(SAP_USERS)))]
            for f in fields:
                old, new = values[f][pos[f]], values[f][pos[f] + 1]
                pos[f] += 1
                if f != "PLIFZ":  # EISBE/MINBE are quantities in the base unit
                    old, new = quantity(old, sc), quantity(new, sc)
                lines.append(f"{self.c.changenr:010d};{s.item.matnr};{s.werks};"
                             f"{self.cal.sap[day]};{f};{old};{new};{user}\n")
            self.c.changenr += 1
        self.out["sap", "master_audit"].add(lines)

    def sap_stock(self, s: Series, stock: np.ndarray) -> None:
        it = s.item
        first = it.profile.launch  # new items have no stock rows before launch
        dates = self.cal.sap[first:self.cal.n_days]
        keys = [f"{it.matnr};{s.werks};{s.lgort}"] * len(dates)
        qtys = quantities(stock[first:], it.scale)
        dups = self.faults.inject(
            self._fault_seed(s, 1), dates, keys, qtys, bad_sap_date,
            lambda k: f"{99_000_000 + k:018d};{s.werks};{s.lgort}")
        tail = f";{quantity(s.speme, it.scale)};{it.meins}\n"
        lines = [f"{d};{k};{q}{tail}" for d, k, q in zip(dates, keys, qtys, strict=True)]
        self.out["sap", "stock"].add(with_duplicates(lines, dups))

    def sap_movements(self, s: Series, k: int, res: SimResult) -> None:
        it, n = s.item, self.cal.n_days
        r_days = np.flatnonzero(res.receipts[:n, k])
        days, qty, kind, _ = merge_events(
            (r_days, res.receipts[r_days, k], np.full(r_days.size, RECEIPT)),
            *self._issues(s, k, res))
        m = days.size
        sap = self.cal.sap
        dates = [sap[d] for d in days.tolist()]
        keys = [f"{it.matnr};{s.werks};{s.lgort}"] * m
        qtys = quantities(qty, it.scale)
        docs = range(self.c.mblnr, self.c.mblnr + m)
        self.c.mblnr += m
        dups = self.faults.inject(
            self._fault_seed(s, 2), dates, keys, qtys, bad_sap_date,
            lambda k: f"{99_000_000 + k:018d};{s.werks};{s.lgort}")
        u = it.meins
        lines = [f"{mb};1;{SAP_BWART[kd]};{k};{d};{q};{u};{SAP_SHKZG[kd]}\n"
                 for mb, kd, k, d, q in zip(docs, kind.tolist(), keys, dates, qtys, strict=True)]
        self.out["sap", "goods_movements"].add(with_duplicates(lines, dups))

    # -- accounting ------------------------------------------------------------------------
    def valuation(self, it: Item) -> None:
        """Standard cost per month start: revalued each January, rarely in between."""
        # New items are costed from the month before their launch.
        months = [k for k in self.month_starts if k >= it.profile.launch - 31]
        months = months or self.month_starts[-1:]
        when = [(self.cal.start + timedelta(days=k)).isoformat() for k in months]
        rng = np.random.default_rng([self.seed, 4, it.idx])
        jan = np.array([w[5:7] == "01" for w in when])
        step = np.where(jan, rng.uniform(-0.02, 0.06, len(months)), 0.0)
        step += (rng.random(len(months)) < 0.05) * rng.uniform(-0.03, 0.03, len(months))
        costs = it.cost * np.cumprod(1 + step)
        vclass = it.cat.valuation_class
        self.out["acct", "item_valuation"].add([
            f"{it.sku},{w},{c:.2f},{it.currency},{vclass}\n"
            for w, c in zip(when, costs.tolist(), strict=True)])


def _odoo_ids(seed: int, systems: list[str]) -> list[int]:
    """Odoo product ids: increasing integers with gaps (archived and deleted products)."""
    gaps = np.random.default_rng([seed, 5]).integers(1, 4, len(systems)).tolist()
    ids, nxt = [], 100
    for system, gap in zip(systems, gaps, strict=True):
        if system == "sap":
            ids.append(0)
        else:
            nxt += gap
            ids.append(nxt)
    return ids


# ----------------------------------------------------------------------------- public API
def generate_demo_data(out_dir: Path, *, items: int = 200, days: int = 365, seed: int = 42,
                       end_date: date | None = None, fault_rate: float = 0.002,
                       progress: Callable[[str], None] | None = None,
                       plant: PlantPlan | None = None) -> DemoSummary:
    """Write demo exports for ``items`` items over ``days`` days ending at ``end_date``
    (default yesterday) into the landing-zone layout under ``out_dir``; with ``plant``,
    labelled events too (``demo.planting``), labels beside the exports."""
    if items < 1 or days < 1:
        raise ValueError("items and days must be at least 1")
    if not 0 <= fault_rate < 1:
        raise ValueError("fault_rate must be in [0, 1)")
    if plant is not None and days <= plant.window_days:
        raise ValueError(f"planting events needs more than {plant.window_days} days")
    seed %= 1 << 64  # numpy seed sequences take non-negative entropy only
    end = end_date or date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    cal = build_calendar(start, days)
    systems = deal_blocks(seed, items, SYSTEM_BLOCK, 1)
    patterns = deal_blocks(seed, items, PATTERN_BLOCK, 2)
    odoo_ids = _odoo_ids(seed, systems)

    root = Path(out_dir)
    writers: dict[tuple[str, str], ExportWriter] = {}
    ok = False
    try:
        for source, entity in COLUMNS:
            ext = "json" if source == "odoo" else "csv"
            writers[source, entity] = ExportWriter(root, source, entity, ext)
        showcase = next((i for i in range(items)
                         if systems[i] == "sap" and patterns[i] == "smooth"), None)
        events = deal_events(seed, patterns, plant) if plant else None
        gen = _Generator(writers, cal, seed, fault_rate, showcase, plant, events)
        for lo in range(0, items, CHUNK_ITEMS):
            hi = min(items, lo + CHUNK_ITEMS)
            gen.chunk([make_item(i, seed, systems[i], patterns[i], odoo_ids[i], days)
                       for i in range(lo, hi)])
            if progress:
                progress(f"demo data: {hi}/{items} items")
        ok = True
    finally:
        for w in writers.values():
            w.close(ok)

    labels_file = None
    if plant is not None:
        labels_file = write_labels(root, gen.labels + _shortage_labels(gen, cal))
    return DemoSummary(
        files={w.rel: w.rows for w in writers.values()},
        items=items, days=days, start_date=start, end_date=end,
        faults=dict(gen.faults.counts),
        patterns={p: patterns.count(p) for p in PATTERNS},
        systems={s: systems.count(s) for s in ("sap", "odoo", "both")},
        runs_short=gen.runs_short,
        component_runs_short=gen.component_runs_short,
        planted=_counts(gen.labels) if plant else {},
        labels_file=labels_file,
    )


def _shortage_labels(gen: _Generator, cal: Calendar) -> list[Label]:
    """The demo's two built shortages as labels on the last day (SAP plants)."""
    built = [x for x in (gen.runs_short, gen.component_runs_short) if x]
    return [Label(sku, "sap", f"sap:{werks}", cal.iso[cal.n_days - 1], "shortage", 0.0,
                  "") for sku, _, werks, *_ in built]


def _counts(labels: list[Label]) -> dict[str, int]:
    out: dict[str, int] = {}
    for label in labels:
        out[label.kind] = out.get(label.kind, 0) + 1
    return out
