"""The one registry of every export Forgecast accepts.

Each ``ExportType`` declares, for one source system and entity, the columns the export
carries, their types, which are required and the natural key. Validation (ingest),
the raw table layout and the dbt sources all follow this registry, so adding a third
ERP is adding entries here plus its dbt staging models.

Raw tables are named ``raw.<source>_<entity>``; every declared column lands as ``text``
(lower-cased name) beside ``_batch_id`` and ``_row_number``. dbt staging does the
casting, so a mapping fix never needs a reload of the original file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

ColumnType = Literal["text", "int", "decimal", "date", "datetime", "bool"]
FileFormat = Literal["csv", "json", "xlsx"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = True
    description: str = ""
    # Quantities and stock that must not be negative (validation quarantines the row).
    non_negative: bool = False
    open_ended: bool = False  # a validity end: SAP's 9999-12-31 ("no end") is no typo


@dataclass(frozen=True)
class KnownItems:
    """Where an export's item references must exist: ``entity`` of the same source, with
    ``columns`` pairs (this export's column, the master's column); each ``also`` pair is one
    more reference, a column in another's place: ("IDNRK", "MATNR") = IDNRK at WERKS."""

    entity: str
    columns: tuple[tuple[str, str], ...]
    also: tuple[tuple[str, str], ...] = ()

    def references(self) -> tuple[tuple[str, ...], ...]:  # own columns, master's order
        own = tuple(c for c, _ in self.columns)
        return (own, *(tuple(new if c == old else c for c in own) for new, old in self.also))


SAP_ITEM = KnownItems("material_master", (("MATNR", "MATNR"), ("WERKS", "WERKS")))
ODOO_ITEM = KnownItems("products", (("product_id", "id"),))


@dataclass(frozen=True)
class RowRule:
    """A check across two columns of one row: ``not_before`` (``columns[1]`` is not
    earlier than ``columns[0]``, e.g. finish >= start) or ``differs`` (the two values are
    not equal, e.g. a component is not its own parent). A row breaking it is quarantined
    with ``reason``, named on ``columns[1]``; a NULL on either side passes."""

    kind: Literal["not_before", "differs"]
    columns: tuple[str, str]
    reason: str


@dataclass(frozen=True)
class ExportType:
    source_system: str
    entity: str
    format: FileFormat
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    description: str
    # strptime format of `date` columns; `datetime` columns are ISO 8601.
    date_format: str = "%Y-%m-%d"
    # freeze: unknown columns reject the batch; evolve: they are ignored (kept in the file).
    contract_mode: Literal["freeze", "evolve"] = "evolve"
    # Stable raw table name, lower case, safe as an identifier.
    raw_table: str = field(default="")
    # Rows must reference an item of the current item master of the same source
    # (a row whose item is not there is quarantined as an unknown item).
    known_items: KnownItems | None = None
    row_rules: tuple[RowRule, ...] = ()

    def __post_init__(self) -> None:
        if not self.raw_table:
            object.__setattr__(self, "raw_table", f"{self.source_system}_{self.entity}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _cols(*specs: Column) -> tuple[Column, ...]:
    return specs

SAP_DATE = "%Y%m%d"

EXPORT_TYPES: tuple[ExportType, ...] = (
    # ---------------------------------------------------------------- SAP (CSV, ';')
    ExportType(
        "sap", "material_master", "csv",
        _cols(
            Column("MATNR", description="material number, 18 digits zero padded"),
            Column("WERKS", description="plant"),
            Column("MAKTX", description="material description"),
            Column("MATKL", description="material group (category)"),
            Column("MEINS", description="base unit of measure: ST (piece), KG, L, M"),
            Column("BISMT", required=False, description="old material number = the SKU"),
            Column("EAN11", required=False, description="EAN/GTIN, shared with Odoo"),
            Column("PLIFZ", "int", non_negative=True, description="planned delivery time, days"),
            Column("EISBE", "decimal", non_negative=True, description="safety stock"),
            Column("MINBE", "decimal", non_negative=True, description="reorder point"),
            Column("LVORM", required=False, description="'X' = flagged for deletion"),
            Column("STRGR", required=False,
                   description="planning strategy group: 20 = make-to-order, 40 = to stock"),
        ),
        natural_key=("MATNR", "WERKS"),
        description="SAP material master (MARA/MARC/MAKT) per plant",
    ),
    ExportType(
        "sap", "routings", "csv",
        _cols(
            Column("MATNR"), Column("WERKS"),
            Column("PLNNR", description="task list (routing) group"),
            Column("VORNR", description="operation number 0010, 0020 ..."),
            Column("ARBPL", description="work center"),
            Column("LTXA1", required=False, description="operation text"),
            Column("VGW01", "decimal", non_negative=True, description="setup time"),
            Column("VGW02", "decimal", non_negative=True, description="run (machine) time per unit"),
            Column("VGE01", description="time unit of VGW01/VGW02: MIN or H"),
        ),
        natural_key=("MATNR", "WERKS", "PLNNR", "VORNR"),
        known_items=SAP_ITEM,
        description="SAP routing operations (PLKO/PLPO)",
    ),
    ExportType(
        "sap", "stock", "csv",
        _cols(
            Column("STICHTAG", "date", description="snapshot date (key date)"),
            Column("MATNR"), Column("WERKS"),
            Column("LGORT", description="storage location"),
            Column("LABST", "decimal", non_negative=True, description="unrestricted stock"),
            Column("SPEME", "decimal", required=False, non_negative=True, description="blocked"),
            Column("MEINS"),
        ),
        natural_key=("STICHTAG", "MATNR", "WERKS", "LGORT"),
        known_items=SAP_ITEM,
        description="SAP daily stock per plant and storage location (MARD)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "goods_movements", "csv",
        _cols(
            Column("MBLNR", description="material document"),
            Column("ZEILE", "int", description="document line"),
            Column("BWART", description="movement type: 101 GR, 261 GI to order, 601 delivery"),
            Column("MATNR"), Column("WERKS"), Column("LGORT"),
            Column("BUDAT", "date", description="posting date"),
            Column("MENGE", "decimal", non_negative=True, description="quantity"),
            Column("MEINS"),
            Column("SHKZG", description="debit/credit: S receipt, H issue"),
        ),
        natural_key=("MBLNR", "ZEILE"),
        known_items=SAP_ITEM,
        description="SAP goods movements (MSEG)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "purchase_orders", "csv",
        _cols(
            Column("EBELN", description="purchasing document"),
            Column("EBELP", "int", description="item"),
            Column("MATNR"), Column("WERKS"),
            Column("EINDT", "date", description="delivery date"),
            Column("MENGE", "decimal", non_negative=True, description="ordered quantity"),
            Column("WEMNG", "decimal", non_negative=True, description="received so far"),
            Column("MEINS"),
        ),
        natural_key=("EBELN", "EBELP"),
        known_items=SAP_ITEM,
        description="SAP open purchase order schedule lines (EKPO/EKET)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "production_orders", "csv",
        _cols(
            Column("AUFNR", description="production order number"),
            Column("MATNR"), Column("WERKS"),
            Column("LGORT", required=False, description="receiving storage location"),
            Column("PSMNG", "decimal", non_negative=True, description="order (planned) quantity"),
            Column("WEMNG", "decimal", non_negative=True, required=False,
                   description="delivered (goods receipt) quantity so far"),
            Column("GSTRS", "date", description="scheduled start"),
            Column("GLTRS", "date", description="scheduled finish"),
            Column("STTXT", description="system status: CRTD, REL, PCNF, CNF, DLV, TECO, CLSD"),
            Column("MEINS"),
        ),
        natural_key=("AUFNR",),
        known_items=SAP_ITEM,
        row_rules=(RowRule("not_before", ("GSTRS", "GLTRS"), "finish before start"),),
        description="SAP production orders (AFKO/AFPO)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "planned_orders", "csv",
        _cols(
            Column("PLNUM", description="planned order number"),
            Column("MATNR"),
            Column("PLWRK", description="planning plant"),
            Column("GSMNG", "decimal", non_negative=True, description="total order quantity"),
            Column("PSTTR", "date", description="order start"),
            Column("PEDTR", "date", description="order finish"),
            Column("AUFFX", required=False, description="'X' = firmed by the planner"),
            Column("MEINS"),
        ),
        natural_key=("PLNUM",),
        known_items=KnownItems("material_master", (("MATNR", "MATNR"), ("PLWRK", "WERKS"))),
        row_rules=(RowRule("not_before", ("PSTTR", "PEDTR"), "finish before start"),),
        description="SAP planned orders from MRP (PLAF)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "stock_transport_orders", "csv",
        _cols(
            Column("EBELN", description="purchasing document"),
            Column("EBELP", "int", description="item"),
            Column("BSART", description="document type: UB = stock transport order"),
            Column("MATNR"),
            Column("WERKS", description="receiving plant"),
            Column("RESWK", description="supplying (issuing) plant"),
            Column("EINDT", "date", description="delivery date at the receiving plant"),
            Column("MENGE", "decimal", non_negative=True, description="ordered quantity"),
            Column("WEMNG", "decimal", non_negative=True, required=False,
                   description="received so far"),
            Column("MEINS"),
        ),
        natural_key=("EBELN", "EBELP"),
        known_items=replace(SAP_ITEM, also=(("RESWK", "WERKS"),)),
        row_rules=(RowRule("differs", ("WERKS", "RESWK"),
                           "supplying plant equals the receiving plant"),),
        description="SAP stock transport orders between plants (EKKO/EKPO, BSART UB)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "bom", "csv",
        _cols(
            Column("MATNR", description="parent (header) material"),
            Column("WERKS"),
            Column("STLAN", description="BOM usage: 1 = production"),
            Column("STLAL", description="alternative BOM: 01 = the one MRP uses"),
            Column("POSNR", description="item number 0010, 0020 ..."),
            Column("IDNRK", description="component material"),
            Column("MENGE", "decimal", non_negative=True,
                   description="component quantity per BMENG of the parent"),
            Column("BMENG", "decimal", non_negative=True,
                   description="base quantity of the parent the MENGE is for"),
            Column("MEINS", description="unit of MENGE"),
            Column("AUSCH", "decimal", non_negative=True, required=False,
                   description="component scrap, percent"),
            Column("DATUV", "date", description="valid from"),
            Column("DATUB", "date", required=False, open_ended=True, description="valid to"),
        ),
        natural_key=("MATNR", "WERKS", "STLAN", "STLAL", "POSNR", "DATUV"),
        known_items=replace(SAP_ITEM, also=(("IDNRK", "MATNR"),)),
        row_rules=(RowRule("differs", ("MATNR", "IDNRK"), "component is its own parent"),
                   RowRule("not_before", ("DATUV", "DATUB"), "valid to before valid from")),
        description="SAP bills of material (STKO/STPO)",
        date_format=SAP_DATE,
    ),
    ExportType(
        "sap", "master_audit", "csv",
        _cols(
            Column("CHANGENR", description="change document number"),
            Column("OBJECTID", description="material number"),
            Column("WERKS"),
            Column("UDATE", "date", description="change date"),
            Column("FNAME", description="changed field: PLIFZ, EISBE, MINBE"),
            Column("VALUE_OLD", required=False),
            Column("VALUE_NEW"),
            Column("USERNAME", required=False),
        ),
        natural_key=("CHANGENR", "FNAME"),
        description="SAP change documents of the material master (CDHDR/CDPOS)",
        date_format=SAP_DATE,
    ),
    # ---------------------------------------------------------------- Odoo (JSON)
    ExportType(
        "odoo", "products", "json",
        _cols(
            Column("id", "int", description="product.product id"),
            Column("default_code", description="internal reference = the SKU"),
            Column("name"),
            Column("categ_id", description="category path, e.g. 'All / Components'"),
            Column("uom_id", description="unit: Units, kg, L, m"),
            Column("barcode", required=False, description="EAN, shared with SAP"),
            Column("active", "bool"),
            Column("produce_delay", "int", non_negative=True, description="lead time, days"),
            Column("safety_stock", "decimal", non_negative=True, required=False),
            Column("reorder_point", "decimal", non_negative=True, required=False),
            Column("route_ids", required=False,
                   description="routes, comma separated: 'Manufacture', "
                   "'Replenish on Order (MTO)', 'Buy'"),
        ),
        natural_key=("id",),
        description="Odoo products (product.product with its orderpoint)",
    ),
    ExportType(
        "odoo", "stock_quants", "json",
        _cols(
            Column("date", "date"),
            Column("product_id", "int"),
            Column("location_id", description="location name, e.g. 'WH/Stock'"),
            Column("quantity", "decimal", non_negative=True),
            Column("reserved_quantity", "decimal", non_negative=True),
        ),
        natural_key=("date", "product_id", "location_id"),
        known_items=ODOO_ITEM,
        description="Odoo daily stock.quant snapshot",
    ),
    ExportType(
        "odoo", "stock_moves", "json",
        _cols(
            Column("id", "int"),
            Column("product_id", "int"),
            Column("date", "datetime"),
            Column("product_uom_qty", "decimal", non_negative=True),
            Column("location_id", description="from: 'WH/Stock', 'Partners/Vendors' ..."),
            Column("location_dest_id", description="to: 'Partners/Customers', 'Virtual/Production'"),
            Column("state", description="done (history) or assigned (expected receipt)"),
            Column("reference", required=False),
        ),
        natural_key=("id",),
        description="Odoo stock moves: done deliveries/consumption and expected receipts",
        known_items=ODOO_ITEM,
    ),
    ExportType(
        "odoo", "workcenter_operations", "json",
        _cols(
            Column("id", "int"),
            Column("product_id", "int"),
            Column("workcenter", description="work center name"),
            Column("name", description="operation name"),
            Column("sequence", "int"),
            Column("time_cycle_manual", "decimal", non_negative=True, description="minutes/unit"),
            Column("setup_time", "decimal", non_negative=True, required=False, description="min"),
        ),
        natural_key=("id",),
        description="Odoo mrp.routing.workcenter operations",
        known_items=ODOO_ITEM,
    ),
    ExportType(
        "odoo", "manufacturing_orders", "json",
        _cols(
            Column("name", description="reference, e.g. WH/MO/00012"),
            Column("product_id", "int"),
            Column("product_qty", "decimal", non_negative=True, description="quantity to produce"),
            Column("qty_produced", "decimal", non_negative=True, required=False),
            Column("date_start", "datetime", description="scheduled start"),
            Column("date_finished", "datetime", description="scheduled end"),
            Column("state", description="draft, confirmed, progress, to_close, done, cancel"),
            Column("location_dest_id", description="finished products location, 'WH/Stock'"),
        ),
        natural_key=("name",),
        known_items=ODOO_ITEM,
        row_rules=(RowRule("not_before", ("date_start", "date_finished"),
                           "finish before start"),),
        description="Odoo manufacturing orders (mrp.production)",
    ),
    ExportType(
        "odoo", "boms", "json",
        _cols(
            Column("id", "int", description="mrp.bom id"),
            Column("product_id", "int", description="the product it makes"),
            Column("product_qty", "decimal", non_negative=True,
                   description="quantity the lines are for"),
            Column("type", description="normal (manufacture), phantom (kit), subcontract"),
            Column("active", "bool", required=False),
        ),
        natural_key=("id",),
        known_items=ODOO_ITEM,
        description="Odoo bills of materials (mrp.bom)",
    ),
    ExportType(
        "odoo", "bom_lines", "json",
        _cols(
            Column("id", "int", description="mrp.bom.line id"),
            Column("bom_id", "int"),
            Column("product_id", "int", description="component"),
            Column("product_qty", "decimal", non_negative=True),
            Column("product_uom_id", description="unit of product_qty: Units, kg, g, L, m"),
        ),
        natural_key=("id",),
        known_items=ODOO_ITEM,
        description="Odoo bill of materials lines (mrp.bom.line)",
    ),
    # ---------------------------------------------------------------- Accounting (CSV, ',')
    ExportType(
        "acct", "item_valuation", "csv",
        _cols(
            Column("item_ref", description="SKU"),
            Column("valuation_date", "date"),
            Column("standard_cost", "decimal", non_negative=True),
            Column("currency"),
            Column("valuation_class", required=False),
        ),
        natural_key=("item_ref", "valuation_date"),
        description="Accounting item valuation / standard cost",
    ),
)

_BY_KEY = {(e.source_system, e.entity): e for e in EXPORT_TYPES}


def get_export_type(source_system: str, entity: str) -> ExportType | None:
    return _BY_KEY.get((source_system, entity))


def sources() -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.source_system for e in EXPORT_TYPES))


def entities_of(source_system: str) -> tuple[str, ...]:
    return tuple(e.entity for e in EXPORT_TYPES if e.source_system == source_system)


def infer_entity(source_system: str, path) -> str:
    """The entity a file belongs to, from its folder or name (``.../stock/x.csv``,
    ``sap_stock_2025.csv``); a clear error when it is not unambiguous."""
    from pathlib import Path

    from resources.errors import ValidationError

    path = Path(path)
    known = entities_of(source_system)
    if not known:
        raise ValidationError(
            f"unknown source system '{source_system}' (known: {', '.join(sources())})",
            details={"source_system": source_system},
        )
    if path.parent.name in known:
        return path.parent.name
    stem = path.name.lower()
    matches = [e for e in known if e in stem]
    longest = max(matches, key=len) if matches else None
    if longest and all(m in longest for m in matches):
        return longest
    raise ValidationError(
        f"{path.name}: cannot infer the entity for source '{source_system}'; "
        f"pass --entity (one of {', '.join(known)})",
        details={"file": path.name, "candidates": matches or list(known)},
    )
