"""Ingest of one file into a real PostgreSQL: load, quarantine, reject, duplicate."""

from __future__ import annotations

from datetime import date

import pytest

from assets.ingest.loader import ingest_file
from resources.errors import DuplicateError, ValidationError

HEADER = "STICHTAG;MATNR;WERKS;LGORT;LABST;SPEME;MEINS"


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest(conn, path, settings, **kw):
    return ingest_file(conn, path, "sap", "stock", store_dir=settings.data_dir / "files",
                       today=date(2025, 6, 30), **kw)


def test_good_rows_load_and_bad_rows_are_quarantined(conn, settings, tmp_path):
    rows = [f"202506{d:02d};0000000000000{d:05d};1000;0001;{d * 3}.5;0;ST" for d in range(1, 30)]
    rows.append("20251345;000000000000099999;1000;0001;4;0;ST")  # impossible date
    path = _write(tmp_path / "stock_a.csv", [HEADER, *rows])
    result = _ingest(conn, path, settings, bad_row_threshold=0.5)
    assert (result.status, result.rows_received, result.rows_loaded) == ("loaded", 30, 29)
    assert result.rows_quarantined == 1
    loaded = conn.execute("select count(*) from raw.sap_stock where _batch_id = %s",
                          (result.batch_id,)).fetchone()[0]
    assert loaded == 29
    bad = conn.execute("select row_number, column_name, raw_value, reason from "
                       "raw.quarantined_rows where batch_id = %s", (result.batch_id,)).fetchall()
    assert bad == [(30, "STICHTAG", "20251345", "unparseable date (expected YYYYMMDD)")]

    with pytest.raises(DuplicateError, match="already ingested as batch"):
        _ingest(conn, path, settings)
    again = conn.execute("select count(*) from raw.sap_stock where _batch_id = %s",
                         (result.batch_id,)).fetchone()[0]
    assert again == 29


def test_missing_required_column_rejects_the_batch(conn, settings, tmp_path):
    path = _write(tmp_path / "stock_b.csv", ["STICHTAG;MATNR;WERKS;MEINS", "20250601;1;1000;ST"])
    with pytest.raises(ValidationError, match="missing required column.*LGORT, LABST"):
        _ingest(conn, path, settings)
    status = conn.execute("select status from raw.raw_data_batches where file_name = %s",
                          ("stock_b.csv",)).fetchone()[0]
    assert status == "rejected"


def test_batch_over_the_bad_row_threshold_is_rejected_whole(conn, settings, tmp_path):
    rows = ["20250601;1;1000;0001;-5;0;ST", "20250602;1;1000;0001;7;0;ST"]
    path = _write(tmp_path / "stock_c.csv", [HEADER, *rows])
    result = _ingest(conn, path, settings, bad_row_threshold=0.05)
    assert result.status == "rejected" and result.rows_loaded == 0
    assert "negative value not allowed" in result.error_summary
    count = conn.execute("select count(*) from raw.sap_stock where _batch_id = %s",
                         (result.batch_id,)).fetchone()[0]
    assert count == 0


def test_json_array_and_an_empty_export_load(conn, settings, tmp_path):
    moves = tmp_path / "odoo_stock_moves.json"
    moves.write_text('[{"id": 1, "product_id": 7, "date": "2025-06-01T10:00:00", '
                     '"product_uom_qty": 3, "location_id": "WH/Stock", '
                     '"location_dest_id": "Partners/Customers", "state": "done", "reference": null}]')
    result = ingest_file(conn, moves, "odoo", "stock_moves", store_dir=settings.data_dir / "files",
                         today=date(2025, 6, 30))
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    row = conn.execute("select id, product_uom_qty, state, reference from raw.odoo_stock_moves "
                       "where _batch_id = %s", (result.batch_id,)).fetchone()
    assert row == ("1", "3", "done", None)

    empty = tmp_path / "odoo_workcenter_operations.json"
    empty.write_text("[]")
    result = ingest_file(conn, empty, "odoo", "workcenter_operations",
                         store_dir=settings.data_dir / "files")
    assert (result.status, result.rows_received, result.rows_loaded) == ("loaded", 0, 0)
