"""The inventory simulation behind the demo data: a reorder-point policy run for all series
of a chunk at once, with production orders of made items consuming their components, and
the shaping of the two showcase shortages. Pure numpy, no Python loop over series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo.patterns import HORIZON, MAX_LEAD_DAYS, MAX_MAKE_DAYS, Calendar, Series

LATE_WINDOW = 10  # a late production order was due in the last days of the history


@dataclass
class SimResult:
    """Day x series arrays in ticks. ``receipts`` rows n.. are orders still open after the
    last day; a late production order (due before the end, not delivered) is not in it.
    ``made`` holds every production order as columns (series, start, due, qty, late)."""

    stock: np.ndarray  # end-of-day stock
    issued: np.ndarray  # independent demand issued (censored by the stock on hand)
    consumed: np.ndarray  # issued to the parents' production orders on their start day
    receipts: np.ndarray
    made: np.ndarray  # orders x 5, ordered by decision day

    def __post_init__(self) -> None:
        by_series = self.made[np.argsort(self.made[:, 0], kind="stable")]
        bounds = np.searchsorted(by_series[:, 0], np.arange(self.stock.shape[1] + 1))
        self._orders = [by_series[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def orders_of(self, k: int) -> np.ndarray:
        return self._orders[k]

    def late_qty(self, k: int) -> int:
        rows = self._orders[k]
        return int(rows[rows[:, 4] == 1, 3].sum())


def simulate(series: list[Series], cal: Calendar, per_unit: np.ndarray) -> SimResult:
    """Run a reorder-point policy for all series of a chunk at once.

    ``per_unit[p, c]`` is how many ticks of series ``c`` one unit of series ``p`` consumes
    (its bill of materials at that location). A made item's production order starts on
    the first working day after it is decided and finishes on the first working day at
    least ``lead`` days after its start.
    Its components are issued on the start day, which the loop has not reached yet, so one
    pass over the days keeps every level consistent.
    """
    n = cal.n_days
    next_open, prev_open = cal.next_open, cal.prev_open
    m = len(series)
    demand = np.stack([s.demand for s in series], axis=1)
    delay = np.stack([s.delay for s in series], axis=1)
    lead = np.array([s.lead for s in series])
    reorder = np.array([s.reorder for s in series])
    lot = np.array([s.lot for s in series])
    opening = np.array([s.opening for s in series])
    launch = np.array([s.item.profile.launch for s in series])
    stop = np.array([s.item.profile.stop for s in series])
    made = np.array([bool(s.item.operations) for s in series])
    late_ok = np.array([s.late_ok for s in series])
    need_per_lot = np.rint(lot[:, None] * per_unit).astype(np.int64)

    receipts = np.zeros((n + HORIZON, m), dtype=np.int64)
    dependent = np.zeros((n + HORIZON, m), dtype=np.int64)
    # A new item has no stock before launch; its first lot arrives on the launch day (made:
    # started lead days earlier, consuming its components then if inside the history).
    new = launch > 0
    on_hand = np.where(new, 0, opening)
    receipts[launch[new], np.flatnonzero(new)] = opening[new]
    first = []  # a new made item's first order: (series, start, due, qty, late)
    for k in np.flatnonzero(new & made).tolist():
        start = int(launch[k] - lead[k])
        if start >= 0:
            start = int(prev_open[start])
            dependent[start] += np.rint(opening[k] * per_unit[k]).astype(np.int64)
        first.append((k, start, int(launch[k]), int(opening[k]), 0))
    # Inventory position = on hand + on order: receipts move stock from one to the other.
    position = opening.copy()
    # Discontinued items are no longer replenished, new ones only after launch.
    days = np.arange(n)[:, None]
    replenished = (launch <= days) & (days < stop)
    placed = np.zeros((n, m), dtype=bool)  # made items: a production order decided that day
    late_orders: list[tuple[int, int]] = []
    late_from = n - LATE_WINDOW - MAX_MAKE_DAYS - 10  # no order decided earlier is due later
    stock = np.empty((n, m), dtype=np.int64)
    issued = np.empty((n, m), dtype=np.int64)
    consumed = np.empty((n, m), dtype=np.int64)
    for t in range(n):
        on_hand += receipts[t]
        # Production is served first (backflush), then customers; never more than on hand.
        used = np.minimum(dependent[t], on_hand)
        on_hand -= used
        out = np.minimum(demand[t], on_hand)
        on_hand -= out
        position -= used + out
        consumed[t] = used
        issued[t] = out
        stock[t] = on_hand
        # Reorder when the inventory position falls to the reorder point.
        need = np.flatnonzero((position <= reorder) & replenished[t])
        if not need.size:
            continue
        lt = lead[need]
        due = t + np.clip(lt + delay[t, need], 1, MAX_LEAD_DAYS)
        # Suppliers deliver on working days: the next one, unless that breaks the 60-day
        # limit of open orders, then the one before.
        due = np.where(next_open[due] - t <= MAX_LEAD_DAYS, next_open[due], prev_open[due])
        mk = made[need]
        if mk.any():
            ordered = need[mk]
            start = next_open[t + 1]
            due[mk] = next_open[start + lt[mk]]  # MAX_MAKE_DAYS keeps it inside the limit
            placed[t, ordered] = True
            # Components are issued on the start day (rows of items without a BOM are 0).
            dependent[start] += need_per_lot[ordered].sum(axis=0)
            if t >= late_from:
                # A few production orders are stuck on the shop floor: still open after
                # their finish date, so not in the receipts (but on order).
                late = mk & late_ok[need] & (due >= n - LATE_WINDOW) & (due < n)
                if late.any():
                    late_ok[need[late]] = False
                    late_orders += [(t, k) for k in need[late].tolist()]
                    position[need[late]] += lot[need[late]]
                    need, due = need[~late], due[~late]
        receipts[due, need] += lot[need]
        position[need] += lot[need]
    return SimResult(stock, issued, consumed, receipts,
                     _made_orders(placed, late_orders, first, lead, lot, cal))


def _made_orders(placed: np.ndarray, late: list[tuple[int, int]], first: list[tuple],
                 lead: np.ndarray, lot: np.ndarray, cal: Calendar) -> np.ndarray:
    """Every production order as rows (series, start, due, qty, late), from the days they
    were decided: started the next working day, due lead days later (next working day)."""
    days, ks = np.nonzero(placed)
    start = cal.next_open[days + 1]
    rows = np.stack([ks, start, cal.next_open[start + lead[ks]], lot[ks],
                     np.zeros_like(ks)], axis=1)
    is_late = {(t, k) for t, k in late}
    if is_late:
        rows[:, 4] = [(t, k) in is_late for t, k in zip(days.tolist(), ks.tolist(), strict=True)]
    return np.concatenate([np.array(first, dtype=np.int64).reshape(-1, 5), rows.astype(np.int64)])



def cut_stock(stock: np.ndarray, receipts: np.ndarray, n: int, target: int) -> bool:
    """Cut the latest receipts of one series (its columns, changed in place) so the last
    day's stock is at most ``target``: each receipt only as far as every later day's stock
    stays at or above the target, so no issue is censored anew and the stock still equals
    receipts minus issues; then, if still too much, the opening stock. Open orders are
    cancelled. False when the series cannot be made that short (its stock dipped below the
    target earlier)."""
    receipts[n:] = 0
    for day in np.flatnonzero(receipts[:n])[::-1]:
        cut = min(int(stock[-1] - target), int(receipts[day]),
                  int(stock[day:].min() - target))
        if cut <= 0:
            break
        receipts[day] -= cut
        stock[day:] -= cut
    stock -= max(0, min(int(stock[-1] - target), int(stock.min() - target)))
    return bool(stock[-1] <= target)


def run_short(s: Series, n: int, stock: np.ndarray, receipts: np.ndarray) -> bool:
    """Make one series run out inside its lead time: its supplier (or its own production)
    delivered the latest receipts short and the open orders were cancelled, so the last
    day's stock covers about a third of one lead time's demand (see ``cut_stock``)."""
    daily = float(s.demand[max(0, n - 28):n].mean())
    if daily <= 0:
        return False
    return cut_stock(stock, receipts, n, max(1, round(daily * s.lead / 3)))
