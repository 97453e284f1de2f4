"""Validation rules and entity inference, without a database."""

from datetime import date

import pytest

from assets.ingest.registry import EXPORT_TYPES, get_export_type, infer_entity
from assets.ingest.validation import RowValidator, check_value, plan_header
from resources.errors import ValidationError

STOCK = get_export_type("sap", "stock")
TODAY = date(2025, 6, 30)


def test_registry_names_are_unique_and_keys_are_declared_columns():
    tables = [e.raw_table for e in EXPORT_TYPES]
    assert len(tables) == len(set(tables))
    for export in EXPORT_TYPES:
        assert set(export.natural_key) <= set(export.column_names), export.raw_table


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("LABST", "-1", "negative value not allowed"),
    ("LABST", "abc", "not a number: 'abc'"),
    ("STICHTAG", "20251345", "unparseable date (expected %Y%m%d)"),
    ("STICHTAG", "20990101", "date more than 400 days in the future"),
    ("MATNR", "", "required value is empty"),
    ("SPEME", None, None),  # optional
    ("LABST", "12.5", None),
])
def test_check_value(column, value, reason):
    col = next(c for c in STOCK.columns if c.name == column)
    assert check_value(col, value, STOCK.date_format, TODAY) == reason


def test_header_is_case_insensitive_and_missing_columns_are_named():
    plan = plan_header(STOCK, ["stichtag", "MATNR", "WERKS", "LGORT", "LABST", "MEINS", "EXTRA"],
                       "f.csv")
    assert plan.unknown_columns == ("EXTRA",)
    with pytest.raises(ValidationError, match="f.csv: missing required column.*LABST"):
        plan_header(STOCK, ["STICHTAG", "MATNR", "WERKS", "LGORT", "MEINS"], "f.csv")


def test_duplicate_natural_key_inside_a_batch_is_a_problem_on_the_second_row():
    header = ["STICHTAG", "MATNR", "WERKS", "LGORT", "LABST", "MEINS"]
    validator = RowValidator(STOCK, plan_header(STOCK, header, "f.csv"), TODAY)
    row = ["20250601", "1", "1000", "0001", "5", "ST"]
    assert validator.check(1, row)[1] == []
    problems = validator.check(2, list(row))[1]
    assert [p.reason for p in problems] == ["duplicate natural key inside the batch"]


def test_infer_entity_from_folder_or_name(tmp_path):
    assert infer_entity("sap", tmp_path / "stock" / "x.csv") == "stock"
    assert infer_entity("odoo", tmp_path / "odoo_stock_moves.json") == "stock_moves"
    with pytest.raises(ValidationError, match="cannot infer the entity"):
        infer_entity("sap", tmp_path / "export.csv")
    with pytest.raises(ValidationError, match="unknown source system 'navision'"):
        infer_entity("navision", tmp_path / "stock.csv")
