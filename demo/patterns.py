"""The model behind the demo data: plant calendar, demand patterns, item catalogue, items
with their stocking points and the planning parameters of each. ``demo.inventory``
simulates them and ``demo.generator`` turns the result into export files.

Pure Python + numpy (no Dagster) so the generator can run from the CLI and in unit tests
without the orchestration stack. Randomness comes from explicit generators seeded with
``(seed, item, ...)``, so every item's data is the same however the items are chunked.
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

MAX_LEAD_DAYS = 60  # PLIFZ range is 3..60; open orders fall 1..60 days after end_date
HORIZON = MAX_LEAD_DAYS + 2  # days kept after the history for open orders (simulation)
# In-house production takes at most this long, so a production order released the day
# after it is decided still finishes on a working day inside MAX_LEAD_DAYS.
MAX_MAKE_DAYS = 40
PLAN_DAYS = 120  # planned orders reach this far past the last day
FIRM_DAYS = 14  # ... and those starting inside it are already firm production orders
CALENDAR_DAYS = PLAN_DAYS + MAX_LEAD_DAYS + 10  # date strings kept after the history


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
    receiving: np.ndarray  # goods receipt open (Mon-Fri, no holiday), history + horizon
    next_open: np.ndarray  # per day the next day the goods receipt is open (or that day)
    prev_open: np.ndarray  # per day the previous day it is open (or that day)
    sap: list[str]  # '20250301'
    iso: list[str]  # '2025-03-01'
    years: list[int]

    def sap_at(self, k: int) -> str:
        """SAP date of day ``k``, also before the history (an order started earlier)."""
        return self.sap[k] if 0 <= k < len(self.sap) else \
            (self.start + timedelta(days=k)).strftime("%Y%m%d")

    def iso_at(self, k: int) -> str:
        return self.iso[k] if 0 <= k < len(self.iso) else \
            (self.start + timedelta(days=k)).isoformat()


def build_calendar(start: date, n_days: int, horizon: int = CALENDAR_DAYS) -> Calendar:
    days = [start + timedelta(days=k) for k in range(n_days + horizon)]
    weekday = np.array([d.weekday() for d in days], dtype=np.int64)
    holiday = np.array([(d.month, d.day) in HOLIDAYS for d in days])
    receiving = (weekday < 5) & ~holiday
    idx = np.arange(receiving.size)
    next_open = np.minimum.accumulate(np.where(receiving, idx, idx[-1])[::-1])[::-1]
    prev_open = np.maximum.accumulate(np.where(receiving, idx, -1))
    return Calendar(
        start=start,
        n_days=n_days,
        weekday=weekday[:n_days],
        day_of_year=np.array([d.timetuple().tm_yday for d in days[:n_days]], dtype=np.float64),
        open_factor=np.where(holiday, 0.0, WEEKDAY_FACTOR[weekday])[:n_days],
        receiving=receiving,
        next_open=next_open,
        prev_open=np.where(prev_open < 0, idx, prev_open),
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

# Plants and their storage locations; the second plant is smaller.
SAP_PLANTS = (("1000", 0.75, 1.0), ("2000", 0.5, 0.6))  # (WERKS, P(item stocked), volume)
SAP_LGORTS = ("0001", "0002", "0003")
SAP_LGORT_P = (0.7, 0.2, 0.1)
ODOO_LOCATION = "WH/Stock"
ODOO_SHARE = 0.8  # Odoo site volume relative to SAP plant 1000


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


# ----------------------------------------------------------------------------- items and stock
@dataclass
class Item:
    idx: int
    sku: str
    system: str  # 'sap', 'odoo' or 'both'
    profile: DemandProfile
    cat: Category
    matkl: str
    meins: str  # SAP base unit
    scale: int  # quantity ticks per unit: 1 for pieces, 10 (one decimal) for KG/L/M
    name: str
    ean: str  # '' when the ERP has none
    manufactured: bool
    spare_share: float  # share of a component's demand sold as spare parts
    matnr: str
    odoo_id: int
    plants: list[tuple[str, str, float]]  # (WERKS, LGORT, volume share) in SAP
    operations: list[tuple[int, float, float]]  # (work centre, setup min, run min/unit)
    cost: float
    currency: str
    make_to_order: bool = False  # SAP strategy group 20 / Odoo route MTO

    @property
    def level(self) -> int:
        """BOM level: 0 finished good, 1 subassembly (a made component), 2 bought."""
        if not self.manufactured:
            return 2
        return 0 if self.cat.key == "finished" else 1


@dataclass
class Series:
    """One stock-keeping point: an item in one SAP plant or in the Odoo warehouse."""

    item: Item
    system: str  # 'sap' or 'odoo'
    werks: str
    lgort: str
    rng: np.random.Generator
    demand: np.ndarray  # true daily demand in ticks
    lead: int
    speme: int  # blocked stock, constant
    delay: np.ndarray  # supplier (or shop floor) delay per order day
    z: float  # safety factor the planner chose
    lot_days: float  # lot size in days of demand
    fill: float  # opening stock above the reorder point, share of a lot
    late_ok: bool = False  # a made item whose last order may still be open, late
    is_component: bool = False  # consumed by a parent's production at this location
    # Sized by size_series from the demand (and the parents' production, if a component).
    safety: int = 0
    reorder: int = 0
    lot: int = 0
    opening: int = 0
    plan_mean: float = 0.0  # daily demand the planner sizes on, ticks

    @property
    def location(self) -> str:
        return self.werks or "odoo"


def make_item(idx: int, seed: int, system: str, pattern: str, odoo_id: int,
               n_days: int) -> Item:
    rng = np.random.default_rng([seed, 2, idx])
    cat = CATEGORIES[int(rng.choice(len(CATEGORIES), p=CATEGORY_WEIGHTS))]
    meins = cat.units[int(rng.integers(len(cat.units)))]
    manufactured = bool(rng.random() < cat.manufactured_share)
    plants: list[tuple[str, str, float]] = []
    if system != "odoo":
        for werks, p, share in SAP_PLANTS:
            if rng.random() < p:
                plants.append((werks, SAP_LGORTS[int(rng.choice(3, p=SAP_LGORT_P))], share))
        if not plants:  # every SAP item is stocked somewhere
            plants.append((SAP_PLANTS[0][0], SAP_LGORTS[0], SAP_PLANTS[0][2]))
    ops: list[tuple[int, float, float]] = []
    if manufactured:
        wcs = np.sort(rng.choice(len(WORK_CENTRES), int(rng.integers(2, 6)), replace=False))
        ops = [(int(w), float(rng.integers(2, 25)) * 5, round(float(rng.uniform(0.2, 30)), 2))
               for w in wcs]
    # Multiplying by a number coprime to 10**k permutes 0..10**k-1, so material numbers and
    # EANs are unique, look unordered, and still depend only on (seed, item).
    matnr = 1_000_000 + (idx * 7919 + seed * 104_729) % 9_000_000
    ean_body = 400_000_000_000 + (idx * 7919 + seed * 131) % 10_000_000_000
    # 'both' items always share the EAN (the unification needs it); others mostly have one.
    has_ean = system == "both" or rng.random() < 0.9
    return Item(
        idx=idx, sku=f"FC-{idx + 1:06d}", system=system,
        profile=draw_profile(rng, pattern, n_days), cat=cat,
        matkl=cat.matkl[int(rng.integers(len(cat.matkl)))], meins=meins,
        scale=1 if meins == "ST" else 10, name=draw_name(rng, cat),
        ean=ean13(ean_body) if has_ean else "", manufactured=manufactured,
        spare_share=float(rng.uniform(0.05, 0.3)) if cat.key == "component" else 0.0,
        matnr=f"{matnr:018d}", odoo_id=odoo_id, plants=plants, operations=ops,
        cost=float(rng.lognormal(np.log(cat.cost), 0.8)),
        currency="USD" if rng.random() < 0.1 else "EUR",
        make_to_order=manufactured and rng.random() < 0.1,
    )


def make_series(item: Item, seed: int, cal: Calendar) -> list[Series]:
    points = [("sap", w, lg, share) for w, lg, share in item.plants]
    if item.system != "sap":
        points.append(("odoo", "", ODOO_LOCATION, ODOO_SHARE))
    out = []
    for k, (system, werks, lgort, share) in enumerate(points):
        rng = np.random.default_rng([seed, 3, item.idx, k])
        units = demand_units(rng, item.profile, cal, share)
        demand = units * item.scale
        if item.scale > 1:  # KG/L/M: one decimal place
            demand += (units > 0) * rng.integers(0, item.scale, cal.n_days)
        lead = int(np.clip(round(rng.lognormal(np.log(14), 0.7)), 3, MAX_LEAD_DAYS))
        # Most items are planned with a comfortable safety factor; about one in five is
        # planned tight and runs dry now and then, which is what the stockout alerts and
        # the demand censoring need.
        z = rng.uniform(-0.3, 1.0) if rng.random() < 0.2 else rng.uniform(1.5, 3.0)
        lot_days = float(rng.uniform(15, 60))
        fill = float(rng.uniform(0.3, 1.0))
        if item.manufactured:
            # A plant makes its items in short runs (three to twelve days of demand) with
            # a production time of two to six weeks and less safety stock than it keeps of
            # bought parts: a made item's stock covers a few days and its running production
            # orders the rest of the lead time.
            lead = int(np.clip(round(lead * 1.5), 14, MAX_MAKE_DAYS))
            lot_days, z = lot_days / 5, z / 2
        s = Series(
            item=item, system=system, werks=werks, lgort=lgort, rng=rng, demand=demand,
            lead=lead, z=float(z), lot_days=lot_days, fill=fill,
            speme=int(rng.integers(1, 20)) * item.scale if rng.random() < 0.1 else 0,
            # Suppliers are mostly on time, sometimes early, sometimes up to a week late.
            delay=rng.choice(np.array([-2, -1, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 5]), cal.n_days),
            late_ok=item.manufactured and rng.random() < 0.3,
        )
        out.append(s)
    return out


def size_series(series: list[Series], dep_mean: np.ndarray | None = None,
                max_lump: np.ndarray | None = None) -> None:
    """Safety stock, reorder point, lot and opening stock of each series, from its own
    demand plus, for a component, its parents' production: ``dep_mean`` per day and
    ``max_lump`` the largest single parent order's need. A component is consumed in lumps
    (a whole production order at once), so its reorder point and lot cover the largest.
    All series at once: window sums from cumulative sums, no loop over series."""
    if not series:
        return
    d = np.stack([s.demand for s in series], axis=1).astype(np.float64)
    cols = np.arange(d.shape[1])
    launch = np.array([s.item.profile.launch for s in series])
    stop = np.array([s.item.profile.stop for s in series])

    def window(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
        return c[hi, cols] - c[lo, cols]

    days = stop - launch
    total = window(d, launch, stop)
    # Planners size the parameters on recent demand (a trend makes it exceed the mean)
    # and keep some headroom for the seasonal peak.
    span = np.maximum(1, days // 4)
    recent = window(d, np.maximum(stop - span, launch), stop) / span
    mean = np.where(days > 0, np.maximum(total / np.maximum(days, 1), recent), 0.0)
    mean *= 1 + np.array([s.item.profile.season_amp for s in series]) / 2
    var = window(d * d, launch, stop) / np.maximum(days, 1) - (total / np.maximum(days, 1)) ** 2
    sd = np.sqrt(np.maximum(var, 0.0))
    nonzero = window(d > 0, launch, stop)
    typical = np.where(nonzero > 0, total / np.maximum(nonzero, 1), 0.0)
    mean += 0.0 if dep_mean is None else dep_mean
    lump = np.zeros(len(series), dtype=np.int64) if max_lump is None else max_lump
    for j, s in enumerate(series):
        s.safety = int(max(0.0, s.z * sd[j] * np.sqrt(s.lead)))
        s.lot = int(max(mean[j] * s.lot_days, typical[j], s.item.scale, lump[j]))
        # A production order starts the next working day and ends on a working day: up
        # to three days more than the lead time, which the planner of a made item allows.
        cover = s.lead + (3 if s.item.manufactured else 0)
        s.reorder = int(round(mean[j] * cover)) + s.safety + int(lump[j])
        s.opening = int(s.reorder + s.lot * s.fill)
        s.plan_mean = float(mean[j])
