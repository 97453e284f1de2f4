"""Bills of materials of the demo: which made items consume which others, how much, and
the rows of the SAP (STKO/STPO) and Odoo (mrp.bom / mrp.bom.line) exports.

Two levels: a finished good (level 0) is made of subassemblies (made components, level 1),
bought components, raw materials and packaging (level 2); a subassembly of raw materials
and bought components. A parent only ever takes components of a higher level, so there is
no cycle. Components are drawn with weights falling by rank, so a few are shared by many
parents, and one component of each chunk of ``CHUNK_ITEMS`` items (the chunk's "common"
part, stocked in every plant) goes into most of the chunk's parents. Parents and
components are always in the same chunk: the simulation of a chunk issues a component on
the start day of each parent production order, which keeps memory bounded by one chunk.

Quantities are what a planner would key in: pieces per parent for pieces, kilograms or
litres with up to three decimals, sometimes per 100 parents (BMENG 100) or in grams /
millilitres (converted downstream), sometimes with a scrap percentage. The consumption the
simulation issues is computed from exactly the numbers written, so exploding the
production orders over these BOMs gives back the issued quantity up to rounding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from demo.patterns import ODOO_UOM, SAP_LGORTS, SAP_PLANTS, Item, Series, size_series

COMMON_SHARE = 0.85  # parents that take the chunk's common component
RANK_WEIGHTS = 1.0 / np.arange(1, 1025)  # early candidates are shared by many parents
SAP_SMALL_UNIT = {"KG": "G", "L": "ML"}  # a thousandth of the component's base unit


def _num(x: float) -> str:
    """Up to three decimals, no trailing zeros: '850', '0.35', '12.5'."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class BomLine:
    parent: int  # item idx
    child: int
    posnr: int
    sap_menge: str  # MENGE per BMENG of the parent, in sap_unit
    sap_unit: str
    ausch: float  # scrap percent (SAP); Odoo lines carry it inside the quantity
    odoo_qty: str  # per the mrp.bom's product_qty, in odoo_unit
    odoo_unit: str
    old_menge: str  # a superseded version's MENGE ('' = none)

    def per_unit(self, system: str, base: int) -> float:
        """Component base units one parent unit consumes, scrap included."""
        if system == "sap":
            factor = 0.001 if self.sap_unit in ("G", "ML") else 1.0
            return float(self.sap_menge) * factor / base * (1 + self.ausch / 100)
        factor = 0.001 if self.odoo_unit == "g" else 1.0
        return float(self.odoo_qty) * factor / base


@dataclass
class ChunkBom:
    lines: list[BomLine]
    base: dict[int, int]  # parent idx -> base quantity (BMENG / mrp.bom product_qty)
    valid_from: dict[int, int]  # parent idx -> days before the history the BOM is valid
    alternative: set[int]  # parents with a second (alternative 02) SAP BOM
    common: int | None  # the chunk's component used by most parents

    by_parent: dict[int, list[BomLine]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_parent = {}
        for b in self.lines:
            self.by_parent.setdefault(b.parent, []).append(b)

    def children_of(self, parent: int) -> list[BomLine]:
        return self.by_parent.get(parent, [])


def _locations(it: Item) -> set[str]:
    return {w for w, _, _ in it.plants} | ({"odoo"} if it.system != "sap" else set())


PIECES_PER_PARENT = (1, 1, 1, 2, 2, 3, 4, 6, 8, 12)
SCRAP_PCT = (0.5, 1.0, 2.0, 3.0, 5.0)


def _per_unit_base(u: float, child: Item) -> float:
    if child.meins == "ST":
        return float(PIECES_PER_PARENT[int(u * len(PIECES_PER_PARENT))])
    if child.meins == "M":
        return round(0.2 + 4.8 * u, 2)
    return round(0.05 + (5.95 if child.meins == "KG" else 1.95) * u, 3)


def plan_bom(items: list[Item], seed: int, excluded: set[int]) -> ChunkBom:
    """The BOMs of one chunk's made items (not those in ``excluded``: the showcase). A
    component must have a full history (not new, not discontinued) so that its whole
    consumption can follow its parents'. Forces the common component into every plant."""
    rng = np.random.default_rng([seed, 7, items[0].idx])
    ok = [it for it in items if it.idx not in excluded
          and it.profile.pattern not in ("new", "discontinued")]
    subs = [it for it in ok if it.level == 1]
    parts = [it for it in ok if it.level == 2 and it.cat.key == "component"]
    raws = [it for it in ok if it.cat.key == "raw"]
    packs = [it for it in ok if it.cat.key == "packaging"]
    common = next((it for system in ("both", "sap", "odoo") for it in parts
                   if it.system == system), None)
    if common is not None and common.system != "odoo":
        have = {w for w, _, _ in common.plants}
        common.plants = sorted(common.plants + [(w, SAP_LGORTS[0], share)
                                                for w, _, share in SAP_PLANTS if w not in have])
    base: dict[int, int] = {}
    valid_from: dict[int, int] = {}
    alternative: set[int] = set()
    lines: list[BomLine] = []
    where_of = {it.idx: frozenset(_locations(it)) for it in items}
    fitting: dict[tuple[int, frozenset], list[Item]] = {}  # (pool, locations) -> candidates
    for par in items:
        if not par.manufactured or par.idx in excluded:
            continue
        where = where_of[par.idx]

        def pick(pool: list[Item], lo: int, hi: int, where: frozenset = where) -> list[Item]:
            key = (id(pool), where)
            if key not in fitting:
                fitting[key] = [it for it in pool if where_of[it.idx] & where and it is not common]
            fits = fitting[key]
            k = min(len(fits), int(rng.integers(lo, hi + 1)))
            if not k:
                return []
            # Weighted sampling without replacement (Efraimidis-Spirakis): the k largest
            # log(u) / weight.
            keys = np.log(rng.random(len(fits))) / RANK_WEIGHTS[:len(fits)]
            chosen = np.argpartition(-keys, k - 1)[:k] if k < len(fits) else range(k)
            return [fits[j] for j in sorted(int(j) for j in chosen)]

        if par.level == 0:
            kids = pick(subs, 1, 2) + pick(parts, 1, 3) + pick(raws, 0, 1) + pick(packs, 1, 1)
        else:
            kids = pick(raws, 1, 2) + pick(parts, 0, 2)
        if common is not None and where_of[common.idx] & where and rng.random() < COMMON_SHARE:
            kids.append(common)
        if not kids:
            continue
        base[par.idx] = 100 if rng.random() < 0.25 else 1
        valid_from[par.idx] = int(rng.integers(200, 1500))
        if rng.random() < 0.1:
            alternative.add(par.idx)
        for j, kid in enumerate(kids):
            u = rng.random(7).tolist()
            q = _per_unit_base(u[0], kid)
            ausch = 0.0 if u[1] < 0.7 else SCRAP_PCT[int(u[2] * len(SCRAP_PCT))]
            small = SAP_SMALL_UNIT.get(kid.meins) if u[3] < 0.3 else None
            factor = 1000 if small else 1
            grams = kid.meins == "KG" and u[4] < 0.3  # an Odoo line in g, the product in kg
            old = _num(q * base[par.idx] * factor * (0.8 if u[6] < 0.5 else 1.25)) \
                if u[5] < 0.1 else ""
            lines.append(BomLine(
                parent=par.idx, child=kid.idx, posnr=(j + 1) * 10,
                sap_menge=_num(q * base[par.idx] * factor),
                sap_unit=small or kid.meins, ausch=ausch,
                odoo_qty=_num(q * (1 + ausch / 100) * base[par.idx] * (1000 if grams else 1)),
                odoo_unit="g" if grams else ODOO_UOM[kid.meins],
                old_menge=old))
    return ChunkBom(lines, base, valid_from, alternative, common.idx if common else None)


def per_unit_matrix(series: list[Series], bom: ChunkBom) -> np.ndarray:
    """``[p, c]``: ticks of series ``c`` one unit of series ``p`` consumes, where parent and
    component are both stocked at the same location (plant or Odoo warehouse)."""
    at = {(s.item.idx, s.location): k for k, s in enumerate(series)}
    q = np.zeros((len(series), len(series)))
    for p, s in enumerate(series):
        if not s.item.manufactured:
            continue
        for line in bom.children_of(s.item.idx):
            c = at.get((line.child, s.location))
            if c is not None:
                q[p, c] += line.per_unit(s.system, bom.base[line.parent]) * series[c].item.scale
    return q


def size_components(series: list[Series], per_unit: np.ndarray, seed: int) -> None:
    """A component's demand at a location where parents consume it is its parents'
    production plus, for a bought or made component, the share sold as spare parts (drawn
    from its own demand): size every series, then the components again on both, parents
    first (level order), so a component is stocked for its parents. Like MRP, no safety
    stock against the parents' production (it is calculated, not forecast); the reorder
    point holds the largest single order's need instead."""
    size_series(series)
    comps = np.flatnonzero(per_unit.any(axis=0))
    if not comps.size:
        return
    thin = np.random.default_rng([seed, 6, series[0].item.idx])
    spare = np.array([series[c].item.spare_share for c in comps])
    kept = thin.binomial(np.stack([series[c].demand for c in comps], axis=1), spare)
    for j, c in enumerate(comps.tolist()):
        series[c].is_component = True
        series[c].demand = np.ascontiguousarray(kept[:, j])
    for level in (1, 2):
        at = [int(c) for c in comps if series[c].item.level == level]
        if not at:
            continue
        plan = np.array([s.plan_mean for s in series])
        lot = np.array([s.lot for s in series], dtype=np.float64)
        size_series([series[c] for c in at], (plan @ per_unit)[at],
                    np.ceil((lot[:, None] * per_unit[:, at]).max(axis=0)).astype(np.int64))


# ----------------------------------------------------------------------------- rows
def sap_bom_rows(bom: ChunkBom, by_idx: dict[int, Item], start: date) -> list[str]:
    """STPO-style rows of every parent at every plant where it and the component are."""
    rows = []
    for parent, base in bom.base.items():
        par = by_idx[parent]
        lines = bom.children_of(parent)
        since = start - timedelta(days=bom.valid_from[parent])
        datuv = since.strftime("%Y%m%d")
        for werks, _, _ in par.plants:
            here = [b for b in lines if werks in _locations(by_idx[b.child])]
            alternatives = ("01", "02") if parent in bom.alternative else ("01",)
            for stlal in alternatives:
                for b in here:
                    kid = by_idx[b.child]
                    menge = b.sap_menge if stlal == "01" else _num(float(b.sap_menge) * 1.1)
                    head = f"{par.matnr};{werks};1;{stlal};{b.posnr:04d};{kid.matnr};"
                    scrap = _num(b.ausch) if b.ausch else ""
                    if b.old_menge and stlal == "01":  # the version it replaced
                        old_from = (since - timedelta(days=365)).strftime("%Y%m%d")
                        old_to = (since - timedelta(days=1)).strftime("%Y%m%d")
                        rows.append(f"{head}{b.old_menge};{base};{b.sap_unit};{scrap};"
                                    f"{old_from};{old_to}\n")
                    rows.append(f"{head}{menge};{base};{b.sap_unit};{scrap};{datuv};\n")
    return rows


def odoo_bom_rows(bom: ChunkBom, by_idx: dict[int, Item], ids: list[int]
                  ) -> tuple[list[str], list[str]]:
    """mrp.bom and mrp.bom.line objects of every Odoo parent with an Odoo component; a few
    parents also keep their archived previous BOM. ``ids`` = [next bom id, next line id],
    advanced in place."""
    boms, lines = [], []
    for parent, base in bom.base.items():
        par = by_idx[parent]
        here = [b for b in bom.children_of(parent)
                if par.system != "sap" and by_idx[b.child].system != "sap"]
        if not here:
            continue
        versions = [(False, 1.25)] if any(b.old_menge for b in here) else []
        for active, factor in [*versions, (True, 1.0)]:
            boms.append(f'{{"id":{ids[0]},"product_id":{par.odoo_id},"product_qty":{base},'
                        f'"type":"normal","active":{json.dumps(active)}}}')
            for b in here:
                qty = b.odoo_qty if active else _num(float(b.odoo_qty) * factor)
                lines.append(f'{{"id":{ids[1]},"bom_id":{ids[0]},'
                             f'"product_id":{by_idx[b.child].odoo_id},"product_qty":{qty},'
                             f'"product_uom_id":"{b.odoo_unit}"}}')
                ids[1] += 1
            ids[0] += 1
    return boms, lines
