"""Building blocks of the demo data generator: plant calendar, demand patterns, item catalogue.

Pure Python + numpy (no Dagster) so the generator can run from the CLI and in unit tests
without the orchestration stack. Everything takes an explicit ``numpy.random.Generator``
so the caller controls determinism (one generator per item, see ``demo_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

PATTERNS = ("smooth", "erratic", "intermittent", "lumpy", "new", "discontinued")

# Items are dealt out in blocks of 20 whose composition is fixed and whose order is shuffled
# per seed. Drawing each item independently would leave small demos (30 items) without,
# say, a lumpy item; the block guarantees every pattern and every system mix appears once
# 20 items exist, while the shares stay what the product issue asks for.
PATTERN_BLOCK = (
    ("smooth",) * 8 + ("erratic",) * 3 + ("intermittent",) * 3
    + ("lumpy",) * 2 + ("new",) * 2 + ("discontinued",) * 2
)
# 60 % only in SAP, 25 % only in Odoo, 15 % in both ERPs.
SYSTEM_BLOCK = ("sap",) * 12 + ("odoo",) * 5 + ("both",) * 3

# Relative demand per weekday (Mon..Sun): plants work Mon-Fri, a skeleton Saturday shift,
# Sunday is almost always zero.
WEEKDAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.0, 0.9, 0.2, 0.02])
# Plant holidays (month, day): the whole site is closed, no demand at all.
HOLIDAYS = ((12, 24), (12, 25), (12, 26), (12, 31), (1, 1), (5, 1))


def deal_blocks(seed: int, n: int, block: tuple[str, ...], stream: int) -> list[str]:
    """Assign ``block`` labels to ``n`` items, block by block, shuffled per seed."""
    out: list[str] = []
    for b in range((n + len(block) - 1) // len(block)):
        perm = np.random.default_rng([seed, stream, b]).permutation(len(block))
        out.extend(block[j] for j in perm)
    return out[:n]


@dataclass(frozen=True)
class Calendar:
    """Day-indexed calendar: index 0 = start date; history is ``n_days`` long and the
    date strings run ``horizon`` days further for open orders and expected receipts."""

    start: date
    n_days: int
    weekday: np.ndarray  # 0 = Monday, history only
    day_of_year: np.ndarray
    open_factor: np.ndarray  # weekday factor, 0 on holidays
    sap: list[str]  # '20250301'
    iso: list[str]  # '2025-03-01'
    years: list[int]


def build_calendar(start: date, n_days: int, horizon: int) -> Calendar:
    days = [start + timedelta(days=k) for k in range(n_days + horizon)]
    hist = days[:n_days]
    weekday = np.array([d.weekday() for d in hist], dtype=np.int64)
    holiday = np.array([(d.month, d.day) in HOLIDAYS for d in hist])
    return Calendar(
        start=start,
        n_days=n_days,
        weekday=weekday,
        day_of_year=np.array([d.timetuple().tm_yday for d in hist], dtype=np.float64),
        open_factor=np.where(holiday, 0.0, WEEKDAY_FACTOR[weekday]),
        sap=[d.strftime("%Y%m%d") for d in days],
        iso=[d.isoformat() for d in days],
        years=[d.year for d in days],
    )


# ----------------------------------------------------------------------------- demand
@dataclass(frozen=True)
class DemandProfile:
    """Per-item demand parameters; every plant/warehouse of the item shares them so the
    item keeps its pattern across ERPs (only the volume differs)."""

    pattern: str
    level: float  # mean units per full working day
    trend: float  # relative change per year
    season_amp: float
    season_phase: float
    gamma_shape: float  # erratic: day-to-day volatility (smaller = wilder)
    p_occur: float  # intermittent/lumpy: chance of an order on a working day
    size: float  # intermittent/lumpy: typical order size
    launch: int  # first day with demand (new items start late)
    stop: int  # first day without demand (discontinued items), n_days otherwise


def draw_profile(rng: np.random.Generator, pattern: str, n_days: int) -> DemandProfile:
    launch, stop = 0, n_days
    if pattern == "new":
        # Short history: introduced in the last 15-45 % of the window.
        launch = int(n_days * rng.uniform(0.55, 0.85))
    elif pattern == "discontinued":
        stop = int(n_days * rng.uniform(0.45, 0.8))
    return DemandProfile(
        pattern=pattern,
        level=float(rng.lognormal(np.log(6.0), 0.9)),
        trend=float(rng.uniform(-0.15, 0.35)),
        season_amp=float(rng.uniform(0.05, 0.4)),
        season_phase=float(rng.uniform(0, 2 * np.pi)),
        gamma_shape=float(rng.uniform(0.35, 0.9)),
        p_occur=float(rng.uniform(0.03, 0.15) if pattern == "intermittent"
                      else rng.uniform(0.015, 0.06)),
        size=float(rng.uniform(0.5, 4.0) if pattern == "intermittent"
                   else rng.lognormal(np.log(25.0), 0.6)),
        launch=launch,
        stop=stop,
    )


def demand_units(rng: np.random.Generator, prof: DemandProfile, cal: Calendar,
                 share: float) -> np.ndarray:
    """Daily true (uncensored) demand in whole units for one plant/warehouse of an item.

    ``share`` scales the volume (a second plant sells less than the main one). The whole
    series is drawn at once; there is no per-day Python work here.
    """
    n = cal.n_days
    t = np.arange(n, dtype=np.float64)
    open_ = cal.open_factor
    if prof.pattern in ("intermittent", "lumpy"):
        # Orders arrive on few working days (more likely early in the week); the size is
        # steady for intermittent items and highly variable for lumpy ones.
        occurs = rng.random(n) < prof.p_occur * open_ / WEEKDAY_FACTOR.max()
        if prof.pattern == "intermittent":
            size = 1 + rng.poisson(prof.size * share, n)
        else:
            size = np.ceil(rng.lognormal(np.log(prof.size * share), 1.0, n))
        return np.where(occurs, size, 0).astype(np.int64)

    season = 1 + prof.season_amp * np.sin(2 * np.pi * cal.day_of_year / 365.25 + prof.season_phase)
    trend = np.clip(1 + prof.trend * t / 365.0, 0.1, None)
    mean = prof.level * share * open_ * season * trend
    if prof.pattern == "erratic":
        # Gamma-Poisson (negative binomial): the same mean, far more day-to-day noise.
        mean = mean * rng.gamma(prof.gamma_shape, 1 / prof.gamma_shape, n)
    elif prof.pattern == "new":
        # Ramp-up over the first weeks after launch, nothing before.
        mean = mean * np.clip((t - prof.launch + 1) / 30.0, 0, 1)
    elif prof.pattern == "discontinued":
        # Run-out: demand fades over ~two months and stops at ``stop``.
        mean = mean * np.clip((prof.stop - t) / 60.0, 0, 1)
    return rng.poisson(mean).astype(np.int64)


# ----------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class Category:
    key: str
    matkl: tuple[str, ...]  # SAP material groups
    odoo_categ: str
    units: tuple[str, ...]  # SAP base units
    valuation_class: str
    nouns: tuple[str, ...]
    variants: tuple[str, ...]
    cost: float  # median standard cost, EUR per unit
    manufactured_share: float  # share made in-house (has a routing)


CATEGORIES = (
    Category("raw", ("RAW01", "RAW02"), "All / Raw Materials", ("KG", "L", "M"), "3000",
             ("Steel sheet", "Aluminium bar", "Copper wire", "PA6 granulate", "Hydraulic oil",
              "Epoxy resin", "Stainless tube", "Rubber profile"),
             ("S235", "AlMg3", "2mm", "6mm", "HLP46", "D20", "EPDM"), 4.0, 0.0),
    Category("component", ("COMP01", "COMP02", "COMP03"), "All / Components", ("ST",), "3010",
             ("Hex bolt", "Ball bearing", "O-ring", "Compression spring", "Bracket", "Shaft",
              "Gasket", "Circuit board", "Sensor", "Bushing"),
             ("M8x40", "6204-2RS", "32x3", "D12", "left", "right", "Type A", "Type B"),
             2.5, 0.3),
    Category("finished", ("FERT01", "FERT02"), "All / Finished Goods", ("ST",), "7920",
             ("Pump housing", "Gear unit", "Valve assembly", "Control panel", "Fan module",
              "Hydraulic cylinder", "Conveyor roller"),
             ("PH-120", "GU-40", "VA-16", "CP-3", "FM-250", "HC-80", "CR-50"), 180.0, 1.0),
    Category("packaging", ("PACK01",), "All / Packaging", ("ST", "M"), "3050",
             ("Carton", "Euro pallet", "Stretch foil", "Edge protector", "Label roll"),
             ("600x400", "1200x800", "23my", "50mm", "100x50"), 0.8, 0.0),
)
CATEGORY_WEIGHTS = np.array([0.2, 0.4, 0.25, 0.15])
ODOO_UOM = {"ST": "Units", "KG": "kg", "L": "L", "M": "m"}

# (SAP work centre prefix, operation text, Odoo work centre name), in process order.
WORK_CENTRES = (
    ("SAW", "Saw to length", "Saw"),
    ("CNC", "CNC machining", "CNC Machining"),
    ("WELD", "Weld frame", "Welding"),
    ("ASSY", "Assemble", "Assembly Line 1"),
    ("PAINT", "Powder coat", "Paint Shop"),
    ("TEST", "Final test", "Quality Control"),
    ("PACK", "Pack and label", "Packing"),
)
SAP_USERS = ("MRP_CTRL1", "JSCHMIDT", "AMUELLER", "BATCH_MRP", "KWEBER")


def draw_name(rng: np.random.Generator, cat: Category) -> str:
    """A plausible product name; plain ASCII without ';', ',' or quotes (safe in any CSV)."""
    noun = cat.nouns[int(rng.integers(len(cat.nouns)))]
    variant = cat.variants[int(rng.integers(len(cat.variants)))]
    return f"{noun} {variant} {int(rng.integers(1, 99)):02d}"


def ean13(body12: int) -> str:
    """EAN-13 with a valid check digit from a 12-digit body."""
    digits = f"{body12:012d}"
    total = sum(int(c) * (3 if k % 2 else 1) for k, c in enumerate(digits))
    return digits + str((10 - total % 10) % 10)
