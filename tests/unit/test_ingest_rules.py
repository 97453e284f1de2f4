"""Validation rules, readers and entity inference, without a database."""

import codecs
import gzip
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from assets.ingest.display import markdown_table, safe_cell
from assets.ingest.landing import exports_in_load_order
from assets.ingest.readers import ReadOptions, RowChunk, detect_encoding, detect_format, open_export
from assets.ingest.registry import EXPORT_TYPES, get_export_type, infer_entity
from assets.ingest.validation import BatchValidator, key_hash32, plan_header
from resources.errors import ValidationError

STOCK = get_export_type("sap", "stock")
TODAY = date(2025, 6, 30)
STOCK_HEADER = ["STICHTAG", "MATNR", "WERKS", "LGORT", "LABST", "SPEME", "MEINS"]


def _chunk(rows, first_row=1):
    columns = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(rows[0]))]
    return RowChunk(pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))]),
                    first_row)


def _problems(export, header, rows, **kw):
    validator = BatchValidator(export, plan_header(export, header, "f.csv"), TODAY, **kw)
    checked = validator.check(_chunk(rows))
    return checked, [(p["row_number"], p["column_name"], p["reason"])
                     for p in checked.problems.to_pylist()]


def test_registry_names_are_unique_and_keys_are_declared_columns():
    tables = [e.raw_table for e in EXPORT_TYPES]
    assert len(tables) == len(set(tables))
    for export in EXPORT_TYPES:
        assert set(export.natural_key) <= set(export.column_names), export.raw_table
        if export.known_items:
            master = get_export_type(export.source_system, export.known_items.entity)
            assert {m for _, m in export.known_items.columns} <= set(master.column_names)
            for ref in export.known_items.references():
                assert set(ref) <= set(export.column_names), export.raw_table
        for rule in export.row_rules:
            assert set(rule.columns) <= set(export.column_names), export.raw_table


def test_item_masters_load_before_the_exports_that_reference_them():
    order = [(e.source_system, e.entity) for e in exports_in_load_order()]
    assert order.index(("sap", "material_master")) < order.index(("sap", "stock"))
    assert order.index(("odoo", "products")) < order.index(("odoo", "stock_moves"))


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("LABST", "-1", "negative value not allowed"),
    ("LABST", "abc", "not a number: 'abc'"),
    ("LABST", "NaN", "not a finite number"),
    ("LABST", "1e99999", "not a number: '1e99999'"),
    ("LABST", "12,5", "not a number: '12,5'"),
    ("STICHTAG", "20251345", "unparseable date (expected YYYYMMDD)"),
    ("STICHTAG", "20250230", "unparseable date (expected YYYYMMDD)"),
    ("STICHTAG", "2025-06-01", "unparseable date (expected YYYYMMDD)"),
    ("STICHTAG", "20990101", "date more than 400 days in the future"),
    ("STICHTAG", "19891231", "date before 1990-01-01"),
    ("MATNR", "", "required value is empty"),
    ("MATNR", "   ", "required value is empty"),
    ("SPEME", "", None),  # optional
    ("LABST", " 12.5 ", None),  # trimmed
    ("LABST", "-0.0", None),
    ("STICHTAG", "20240229", None),  # a leap day
])
def test_one_value(column, value, reason):
    row = ["20250601", "M1", "1000", "0001", "5", "0", "ST"]
    row[STOCK_HEADER.index(column)] = value
    checked, problems = _problems(STOCK, STOCK_HEADER, [row])
    assert problems == ([(1, column, reason)] if reason else [])
    if reason is None:
        stored = checked.good.to_pylist()[0]
        assert stored[column.lower()] == (value.strip() or None)


def test_odoo_datetimes_and_booleans():
    moves = get_export_type("odoo", "products")
    header = ["id", "default_code", "name", "categ_id", "uom_id", "active", "produce_delay"]
    rows = [["1", "A", "n", "c", "u", "X", "3"], ["2", "B", "n", "c", "u", "maybe", "3"],
            ["3", "C", "n", "c", "u", "false", "3.0"]]
    checked, problems = _problems(moves, header, rows)
    assert problems == [(2, "active", "not a boolean: 'maybe'")]
    assert [r["active"] for r in checked.good.to_pylist()] == ["true", "false"]
    stock_moves = get_export_type("odoo", "stock_moves")
    header = ["id", "product_id", "date", "product_uom_qty", "location_id", "location_dest_id",
              "state"]
    rows = [["1", "7", "2025-06-01T10:00:00", "1", "a", "b", "done"],
            ["2", "7", "2025-06-01 25:00:00", "1", "a", "b", "done"],
            ["3", "7", "2025-06-01T10:00:00+02:00", "1", "a", "b", "done"]]
    _, problems = _problems(stock_moves, header, rows)
    assert problems == [(2, "date", "unparseable datetime (expected ISO 8601)")]


def test_unknown_items_are_checked_against_the_master_keys():
    rows = [["20250601", "M1", "1000", "0001", "5", "0", "ST"],
            ["20250601", "M2", "2000", "0001", "5", "0", "ST"]]
    _, problems = _problems(STOCK, STOCK_HEADER, rows, known_items=pa.array(["M1\x1f1000"]),
                            known_items_label="the master")
    assert problems == [(2, "MATNR", "unknown item: not in the master")]


PRODUCTION = get_export_type("sap", "production_orders")
PRODUCTION_HEADER = ["AUFNR", "MATNR", "WERKS", "PSMNG", "WEMNG", "GSTRS", "GLTRS", "STTXT",
                     "MEINS"]


@pytest.mark.parametrize(("start", "finish", "quantity", "problem"), [
    ("20250601", "20250605", "10", None),
    ("20250605", "20250605", "10", None),  # start and finish on one day
    ("20250610", "20250605", "10", ("GLTRS", "finish before start")),
    ("20250601", "20250605", "-10", ("PSMNG", "negative value not allowed")),
    # A value that fails its own rule is reported once, not compared.
    ("2025-06-10", "20250605", "10", ("GSTRS", "unparseable date (expected YYYYMMDD)")),
])
def test_finish_before_start_is_quarantined_on_the_finish(start, finish, quantity, problem):
    row = ["1000123", "M1", "1000", quantity, "0", start, finish, "REL", "ST"]
    checked, problems = _problems(PRODUCTION, PRODUCTION_HEADER, [row])
    if problem is None:
        assert problems == [] and checked.good.num_rows == 1
    else:
        assert problems == [(1, *problem)] and checked.good.num_rows == 0


def test_datetimes_are_compared_as_instants_with_their_offsets():
    orders = get_export_type("odoo", "manufacturing_orders")
    header = ["name", "product_id", "product_qty", "date_start", "date_finished", "state",
              "location_dest_id"]
    rows = [
        # 10:00 at +02:00 is 08:00 UTC: finishing at 09:00 UTC is after it.
        ["MO/1", "7", "5", "2025-06-01T10:00:00+02:00", "2025-06-01T09:00:00", "draft", "WH/Stock"],
        ["MO/2", "7", "5", "2025-06-01T10:00:00+02:00", "2025-06-01T07:59:59Z", "draft", "WH/Stock"],
        ["MO/3", "7", "5", "2025-06-01 10:00", "2025-06-01 10:00:00", "draft", "WH/Stock"],
        ["MO/4", "7", "5", "2025-06-02", "2025-06-01T23:00:00", "draft", "WH/Stock"],
    ]
    checked, problems = _problems(orders, header, rows)
    assert problems == [(2, "date_finished", "finish before start"),
                        (4, "date_finished", "finish before start")]
    assert [r["name"] for r in checked.good.to_pylist()] == ["MO/1", "MO/3"]


BOM = get_export_type("sap", "bom")
BOM_HEADER = ["MATNR", "WERKS", "STLAN", "STLAL", "POSNR", "IDNRK", "MENGE", "BMENG", "MEINS",
              "DATUV", "DATUB"]


def test_a_component_that_is_its_own_parent_and_validity_dates_are_quarantined():
    rows = [["P1", "1000", "1", "01", "0010", "C1", "2", "1", "ST", "20250101", ""],
            ["P1", "1000", "1", "01", "0020", " P1 ", "2", "1", "ST", "20250101", ""],
            ["P1", "1000", "1", "01", "0030", "C2", "2", "1", "ST", "20250101", "20241231"],
            ["P1", "1000", "1", "01", "0040", "C3", "2", "1", "ST", "20250101", "20250101"]]
    checked, problems = _problems(BOM, BOM_HEADER, rows)
    assert problems == [(2, "IDNRK", "component is its own parent"),
                        (3, "DATUB", "valid to before valid from")]
    assert [r["posnr"] for r in checked.good.to_pylist()] == ["0010", "0040"]


def test_sap_open_ended_validity_is_no_date_typo():
    rows = [["P1", "1000", "1", "01", "0010", "C1", "2", "1", "ST", "20250101", "99991231"],
            ["P1", "1000", "1", "01", "0020", "C2", "2", "1", "ST", "20250101", "99991230"],
            ["P1", "1000", "1", "01", "0030", "C3", "2", "1", "ST", "99991231", ""]]
    checked, problems = _problems(BOM, BOM_HEADER, rows)
    # 9999-12-31 ends a validity without end; any other far date, or one that is not an
    # end, is still a typo.
    assert sorted((row, column) for row, column, _ in problems) == [(2, "DATUB"), (3, "DATUV")]
    assert [r["posnr"] for r in checked.good.to_pylist()] == ["0010"]


def test_every_item_reference_is_checked_on_its_own_column():
    known = pa.array(["P1\x1f1000", "C1\x1f1000", "C1\x1f2000"])
    rows = [["P1", "1000", "1", "01", "0010", "C1", "2", "1", "ST", "20250101", ""],
            ["P1", "1000", "1", "01", "0020", "C9", "2", "1", "ST", "20250101", ""],
            ["P9", "1000", "1", "01", "0030", "C9", "2", "1", "ST", "20250101", ""]]
    checked, problems = _problems(BOM, BOM_HEADER, rows, known_items=known,
                                  known_items_label="the master")
    unknown = "unknown item: not in the master"
    assert sorted(problems) == [(2, "IDNRK", unknown), (3, "IDNRK", unknown),
                                (3, "MATNR", unknown)]
    assert checked.good.num_rows == 1
    transfers = get_export_type("sap", "stock_transport_orders")
    header = ["EBELN", "EBELP", "BSART", "MATNR", "WERKS", "RESWK", "EINDT", "MENGE", "MEINS"]
    rows = [["45", "10", "UB", "C1", "2000", "1000", "20250701", "5", "ST"],
            ["45", "20", "UB", "C1", "1000", "3000", "20250701", "5", "ST"],  # not at 3000
            ["45", "30", "UB", "C1", "1000", "1000", "20250701", "5", "ST"]]
    _, problems = _problems(transfers, header, rows, known_items=known,
                            known_items_label="the master")
    assert problems == [(2, "RESWK", unknown),
                        (3, "RESWK", "supplying plant equals the receiving plant")]


def test_header_is_case_insensitive_and_missing_duplicate_and_frozen_columns_are_named():
    plan = plan_header(STOCK, ["stichtag", "MATNR", "WERKS", "LGORT", "LABST", "MEINS", "EXTRA"],
                       "f.csv")
    assert plan.unknown_columns == ("EXTRA",)
    with pytest.raises(ValidationError, match="f.csv: missing required column.*LABST"):
        plan_header(STOCK, ["STICHTAG", "MATNR", "WERKS", "LGORT", "MEINS"], "f.csv")
    with pytest.raises(ValidationError, match="duplicate column name.*MATNR"):
        plan_header(STOCK, [*STOCK_HEADER, "matnr"], "f.csv")
    from dataclasses import replace

    frozen = replace(STOCK, contract_mode="freeze")
    with pytest.raises(ValidationError, match="unknown column.*'EXTRA'.*frozen contract"):
        plan_header(frozen, [*STOCK_HEADER, "EXTRA"], "f.csv")


def test_key_hash_is_stable_and_spreads():
    keys = pa.array([f"2025\x1f{i}\x1f" for i in range(20000)] + ["x" * 300, "x" * 299 + "y"])
    hashes = key_hash32(keys)
    assert (key_hash32(keys) == hashes).all()
    assert len(np.unique(hashes)) >= 19990  # 32 bits: a rare collision is resolved exactly
    fixed = pa.array(["aaaa", "aaab", "aaaa"])  # equal-length fast path
    h = key_hash32(fixed)
    assert h[0] == h[2] != h[1]


def test_infer_entity_from_folder_or_name(tmp_path):
    assert infer_entity("sap", tmp_path / "stock" / "x.csv") == "stock"
    assert infer_entity("odoo", tmp_path / "odoo_stock_moves.json") == "stock_moves"
    with pytest.raises(ValidationError, match="cannot infer the entity"):
        infer_entity("sap", tmp_path / "export.csv")
    with pytest.raises(ValidationError, match="unknown source system 'navision'"):
        infer_entity("navision", tmp_path / "stock.csv")


# ----------------------------------------------------------------------------- readers
@pytest.mark.parametrize(("data", "encoding"), [
    (codecs.BOM_UTF8 + b"a;b\n", "utf-8-sig"),
    ("a;b\n".encode("utf-16"), "utf-16"),
    ("a;b\n".encode("utf-16-le"), "utf-16-le"),
    ("Öl;b\n".encode("cp1252"), "cp1252"),
    (b"a;\x81\x8d\n", "latin-1"),  # bytes cp1252 leaves undefined
    ("ä;b\n".encode(), "utf-8"),
])
def test_detect_encoding(data, encoding):
    assert detect_encoding(data) == encoding


def test_detect_format_delimiter_gzip_and_overrides(tmp_path):
    tsv = tmp_path / "x.txt"
    tsv.write_text("A\tB\tC\n1\t2\t3\n")
    fmt = detect_format(tsv)
    assert (fmt.format, fmt.delimiter, fmt.compression) == ("csv", "\t", None)
    packed = tmp_path / "x.json.gz"
    packed.write_bytes(gzip.compress(b'[{"a": 1}]'))
    fmt = detect_format(packed)
    assert (fmt.format, fmt.compression) == ("json", "gzip")
    with open_export(packed, fmt) as (header, chunks):
        assert header == ["a"] and [c.batch.to_pylist() for c in chunks] == [[{"c0": "1"}]]
    assert detect_format(tsv, ReadOptions(delimiter="|", encoding="latin-1")).delimiter == "|"


def test_json_lines_and_a_bad_line_stay_in_order(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1, "b": true}\n\n{broken\n{"a": 2.5, "b": null}\n')
    with open_export(path, detect_format(path), declared=("a", "b")) as (header, chunks):
        chunk = next(chunks)
    assert header == ["a", "b"]
    assert chunk.batch.to_pylist() == [{"c0": "1", "c1": "true"}, {"c0": None, "c1": None},
                                       {"c0": "2.5", "c1": None}]
    assert chunk.pre_reason.to_pylist()[1].startswith("invalid JSON line")


def test_display_escapes_formulas_and_markdown():
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert safe_cell("+1") == "+1" and safe_cell("a\nb") == "a\\nb"
    assert markdown_table(["x"], [["a|b"]]).splitlines()[-1] == "| a\\|b |"


def test_duplicate_candidates_cross_block_boundaries():
    from assets.ingest.pipeline import KeyWords

    words = KeyWords(10)
    n = (1 << 20) + 5000
    hashes = np.arange(n, dtype=np.uint64) * np.uint64(7919)  # distinct
    hashes[(1 << 20)] = hashes[(1 << 20) - 1]  # equal neighbours across the first block edge
    hashes[17] = hashes[n - 1]
    rows = np.arange(1, n + 1, dtype=np.uint64)
    for part in np.array_split((hashes << np.uint64(32)) | rows, 7):  # grows past capacity
        words.extend(part)
    assert sorted(words.duplicate_candidates().tolist()) == sorted([1 << 20, (1 << 20) + 1, 18, n])
