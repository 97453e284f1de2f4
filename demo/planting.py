"""Planted ground truth: labelled demand events the alert benchmark scores alerts against.

Off unless ``generate_demo_data(..., plant=PlantPlan())`` asks for it, so the plain demo's
exports stay byte-identical. With a plan, the eligible items (smooth, erratic and
intermittent demand) of every block of 20 items get ``PlantPlan.block``'s kinds dealt
out, shuffled per seed (the same block idea as ``demo.patterns.deal_blocks``): a fixed
share of each kind at any size, and every item's event depends only on ``(seed, item)``.
The event hits the item's first stocking point on a random day inside the last
``window_days`` of the history (never in the last ``margin_days``, so a replay sees a week
after it):

* ``level_up`` / ``level_down``: demand x (1 +- 30..60 %) from that day to the end;
* ``trend_break``: demand x (1 + r (t - day) / 30), r = +-30..60 % a month;
* ``promotion``: 3-7 days of extra demand, 1-3x the level of the 28 days before;
* ``discontinue``: no demand from that day (the planner has not stopped replenishing);
* ``entry_error``: one day's issue posted x10 (a digit slipped): only the export row
  changes, not the demand or the stock. It is the case an alert must NOT fire for.

Demand events change the true demand after the planning parameters were sized (the
planner did not see them coming) and before the stock is simulated, so the stock and
the censoring follow them. The demo's built shortages (``DemoSummary.runs_short``,
``component_runs_short``) are labelled too, as ``shortage`` events on the last day.

Labels go to ``<out>/ground_truth/labels.csv``, outside every ``<source>/<entity>/``
folder the landing zone reads: the platform never ingests them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo.patterns import Calendar, Series

ELIGIBLE = ("smooth", "erratic", "intermittent")
DEMAND_KINDS = ("level_up", "level_down", "trend_break", "promotion", "discontinue")
KINDS = (*DEMAND_KINDS, "entry_error", "shortage")
# Per 14 eligible items (a block of 20 holds 8 smooth, 3 erratic, 3 intermittent):
# 4 level shifts, 2 entry errors, one of each other kind, 5 left clean.
EVENT_BLOCK = ("level_up", "level_up", "level_down", "level_down", "entry_error",
               "entry_error", "trend_break", "promotion", "discontinue", "", "", "", "", "")
LABELS_FILE = "ground_truth/labels.csv"
LABEL_COLUMNS = ("sku", "system", "location_id", "day", "kind", "size", "demand_class")
ERROR_FACTOR = 10


@dataclass(frozen=True)
class PlantPlan:
    window_days: int = 60  # events fall inside the last this many days of the history
    margin_days: int = 10  # ... but not inside the very last ones
    block: tuple[str, ...] = EVENT_BLOCK  # kinds dealt per block of eligible items

    def __post_init__(self) -> None:
        unknown = set(self.block) - {"", *KINDS} | ({"shortage"} & set(self.block))
        if unknown:
            raise ValueError(f"PlantPlan.block holds unknown kinds {sorted(unknown)}; "
                             f"expected some of {KINDS[:-1]} or ''")
        if not 0 <= self.margin_days < self.window_days:
            raise ValueError("PlantPlan needs 0 <= margin_days < window_days")


@dataclass(frozen=True)
class Label:
    sku: str
    system: str  # 'sap' or 'odoo'
    location_id: str  # as the platform names it: 'sap:<WERKS>' or 'odoo:<location>'
    day: str  # ISO date the event starts
    kind: str
    size: float  # relative change (0.45 = +45 %), the error factor, or 0 (shortage)
    demand_class: str  # the demo's demand pattern of the item

    def row(self) -> tuple:
        return (self.sku, self.system, self.location_id, self.day, self.kind,
                round(self.size, 4), self.demand_class)


def location_id(s: Series) -> str:
    return f"sap:{s.werks}" if s.system == "sap" else f"odoo:{s.lgort}"


def deal_events(seed: int, patterns: list[str], plan: PlantPlan) -> dict[int, str]:
    """Item index -> event kind, for the eligible items of each block of 20."""
    out: dict[int, str] = {}
    for b in range((len(patterns) + 19) // 20):
        idx = [i for i in range(20 * b, min(20 * b + 20, len(patterns)))
               if patterns[i] in ELIGIBLE]
        kinds = [plan.block[j % len(plan.block)]
                 for j in np.random.default_rng([seed, 8, b]).permutation(len(plan.block))]
        out.update((i, k) for i, k in zip(idx, kinds, strict=False) if k)
    return out


def _scaled(rng: np.random.Generator, x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``x * factor`` rounded stochastically: whole ticks, the mean kept."""
    y = x * factor
    return np.floor(y + rng.random(y.size)).astype(np.int64)


def plant_demand(s: Series, kind: str, seed: int, cal: Calendar, plan: PlantPlan
                 ) -> Label | None:
    """Change ``s.demand`` in place for a demand event; the label, or None when the
    series has nothing to change (no demand before the window)."""
    n = cal.n_days
    rng = np.random.default_rng([seed, 9, s.item.idx])
    day = int(rng.integers(n - plan.window_days, n - plan.margin_days))
    x = s.demand
    before = x[max(0, day - 28):day]
    if x[:day].sum() <= 0:
        return None
    t = np.arange(n - day, dtype=np.float64)
    if kind in ("level_up", "level_down"):
        size = float(rng.uniform(0.3, 0.6)) * (1 if kind == "level_up" else -1)
        x[day:] = _scaled(rng, x[day:], np.full(t.size, 1 + size))
    elif kind == "trend_break":
        size = float(rng.uniform(0.3, 0.6)) * (1 if rng.random() < 0.5 else -1)
        x[day:] = _scaled(rng, x[day:], np.clip(1 + size * t / 30, 0.1, None))
    elif kind == "promotion":
        length = int(rng.integers(3, 8))
        size = float(rng.uniform(1.0, 3.0))
        level = max(float(before.mean()), float(s.item.scale))
        end = min(n, day + length)
        x[day:end] += rng.poisson(level * size, end - day)
    elif kind == "discontinue":
        size = -1.0
        x[day:] = 0
    else:
        raise ValueError(f"{kind!r} is not a demand event")
    return Label(s.item.sku, s.system, location_id(s), cal.iso[day], kind, size,
                 s.item.profile.pattern)


def plant_entry_error(s: Series, issued: np.ndarray, seed: int, cal: Calendar,
                      plan: PlantPlan) -> Label | None:
    """One day's issue of the series (``issued``, its column, changed in place) posted
    ``ERROR_FACTOR`` times too high, on a day with an issue inside the window."""
    n = cal.n_days
    days = np.flatnonzero(issued[n - plan.window_days:n - plan.margin_days]) \
        + n - plan.window_days
    if not days.size:
        return None
    day = int(days[np.random.default_rng([seed, 10, s.item.idx]).integers(days.size)])
    issued[day] *= ERROR_FACTOR
    return Label(s.item.sku, s.system, location_id(s), cal.iso[day], "entry_error",
                 float(ERROR_FACTOR), s.item.profile.pattern)


def write_labels(root: Path, labels: list[Label]) -> str:
    """Write the labels CSV under ``root``; returns its path relative to ``root``."""
    path = root / LABELS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(label.row() for label in labels)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        writer.writerows(rows)
    return LABELS_FILE
