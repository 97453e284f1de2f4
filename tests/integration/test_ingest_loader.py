"""Ingest of files into a real PostgreSQL: load, quarantine, reject, duplicate, replay,
a load killed midway, the landing zone, master-data audits, partitions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from psycopg import sql

from assets.ingest.landing import ingest_landing_zone_files
from assets.ingest.loader import ingest_file, reap_dead_batches, replay_batch
from assets.ingest.registry import EXPORT_TYPES
from resources.errors import DuplicateError, ValidationError

HEADER = "STICHTAG;MATNR;WERKS;LGORT;LABST;SPEME;MEINS"
TODAY = date(2025, 6, 30)
ROOT = Path(__file__).resolve().parents[2]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest(conn, path, settings, **kw):
    kw.setdefault("today", TODAY)
    return ingest_file(conn, path, "sap", "stock", store_dir=settings.data_dir / "files", **kw)


def _count(conn, batch_id, table="sap_stock"):
    return conn.execute(sql.SQL("select count(*) from {} where _batch_id = %s").format(
        sql.Identifier("raw", table)), (batch_id,)).fetchone()[0]


@pytest.fixture(scope="module", autouse=True)
def cleanup(settings, server, tmp_path_factory):
    """Item masters the files here refer to (earlier tests may have loaded others, which
    would make these items unknown); afterwards every batch this module created goes."""
    from resources.database import connect

    with connect(settings, autocommit=True) as conn:
        start = conn.execute("select coalesce(max(id), 0) from raw.raw_data_batches").fetchone()[0]
        _load_masters(conn, settings, tmp_path_factory.mktemp("masters"))
    yield
    with connect(settings, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("select id from raw.raw_data_batches where id > %s "
                                          "order by id desc", (start,)).fetchall()]
        for export in EXPORT_TYPES:
            for batch_id in ids:
                conn.execute(sql.SQL("drop table if exists {}").format(
                    sql.Identifier("raw", f"{export.raw_table}__b{batch_id}")))
        conn.execute("delete from raw.quarantined_rows where batch_id = any(%s)", (ids,))
        conn.execute("delete from raw.prim_master_audits where batch_id = any(%s)", (ids,))
        for batch_id in ids:
            conn.execute("delete from raw.raw_data_batches where id = %s", (batch_id,))


def _load_masters(conn, settings, folder):
    items = ["1", "000000000000099999", *[f"{i:018d}" for i in range(1500)]]
    master = folder / "loader_material_master.csv"
    _write(master, ["MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM",
                    *[f"{m};1000;PART;M;ST;;;5;1;2;" for m in items]])
    ingest_file(conn, master, "sap", "material_master", store_dir=settings.data_dir / "files",
                today=TODAY)
    products = folder / "loader_products.json"
    products.write_text('[{"id": 7, "default_code": "LOADER-7", "name": "n", "categ_id": "All", '
                        '"uom_id": "Units", "active": true, "produce_delay": 2}]')
    ingest_file(conn, products, "odoo", "products", store_dir=settings.data_dir / "files",
                today=TODAY)


def test_good_rows_load_and_bad_rows_are_quarantined(conn, settings, tmp_path):
    rows = [f"202506{d:02d};0000000000000{d:05d};1000;0001;{d * 3}.5;0;ST" for d in range(1, 30)]
    rows.append("20251345;000000000000099999;1000;0001;4;0;ST")  # impossible date
    path = _write(tmp_path / "stock_a.csv", [HEADER, *rows])
    result = _ingest(conn, path, settings, bad_row_threshold=0.5)
    assert (result.status, result.rows_received, result.rows_loaded) == ("loaded", 30, 29)
    assert result.rows_quarantined == 1
    assert _count(conn, result.batch_id) == 29
    bad = conn.execute("select row_number, column_name, raw_value, reason from "
                       "raw.quarantined_rows where batch_id = %s", (result.batch_id,)).fetchall()
    assert bad == [(30, "STICHTAG", "20251345", "unparseable date (expected YYYYMMDD)")]
    # The batch is its own partition of raw.sap_stock, attached when accepted.
    parent = conn.execute("select inhparent::regclass::text from pg_inherits where inhrelid = "
                          "to_regclass(%s)", (f"raw.sap_stock__b{result.batch_id}",)).fetchone()
    assert parent == ("raw.sap_stock",)

    with pytest.raises(DuplicateError, match="already ingested as batch"):
        _ingest(conn, path, settings)
    assert _count(conn, result.batch_id) == 29


def test_missing_required_column_rejects_the_batch(conn, settings, tmp_path):
    path = _write(tmp_path / "stock_b.csv", ["STICHTAG;MATNR;WERKS;MEINS", "20250601;1;1000;ST"])
    with pytest.raises(ValidationError, match="missing required column.*LGORT, LABST"):
        _ingest(conn, path, settings)
    status = conn.execute("select status from raw.raw_data_batches where file_name = %s",
                          ("stock_b.csv",)).fetchone()[0]
    assert status == "rejected"


def test_batch_over_the_bad_row_threshold_is_rejected_whole_and_replay_reloads_it(
        conn, settings, tmp_path):
    rows = [f"202506{d:02d};1;1000;0001;{d}" + ";0;ST" for d in range(1, 10)]
    rows[0] = "20250601;1;1000;0001;-5;0;ST"
    path = _write(tmp_path / "stock_c.csv", [HEADER, *rows])
    result = _ingest(conn, path, settings, bad_row_threshold=0.05)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("rejected", 0, 1)
    assert "negative value not allowed" in result.error_summary
    assert conn.execute("select to_regclass(%s)", (f"raw.sap_stock__b{result.batch_id}",)
                        ).fetchone()[0] is None  # a rejected batch leaves no table behind
    # A threshold (mapping) fix later: replay the stored file, no original path needed.
    path.unlink()
    replayed = replay_batch(conn, result.batch_id, bad_row_threshold=0.2, today=TODAY)
    assert (replayed.status, replayed.rows_loaded, replayed.replay_of) == ("loaded", 8, result.batch_id)
    old = conn.execute("select status from raw.raw_data_batches where id = %s",
                       (result.batch_id,)).fetchone()[0]
    assert old == "superseded"


def test_replay_leaves_exactly_one_current_copy(conn, settings, tmp_path):
    rows = [f"202505{d:02d};{d:018d};1000;0001;{d}.0;0;ST" for d in range(1, 21)]
    path = _write(tmp_path / "stock_d.csv", [HEADER, *rows])
    first = _ingest(conn, path, settings)
    second = replay_batch(conn, first.batch_id, today=TODAY)
    third = replay_batch(conn, second.batch_id, today=TODAY)
    statuses = conn.execute("select id, status, replay_of from raw.raw_data_batches where id = "
                            "any(%s) order by id", ([first.batch_id, second.batch_id,
                                                     third.batch_id],)).fetchall()
    assert statuses == [(first.batch_id, "superseded", None),
                        (second.batch_id, "superseded", first.batch_id),
                        (third.batch_id, "loaded", second.batch_id)]
    current = conn.execute(
        "select count(*) from raw.sap_stock r join raw.raw_data_batches b on b.id = r._batch_id "
        "where b.status = 'loaded' and b.sha256 = %s", (first.sha256,)).fetchone()[0]
    assert current == 20
    with pytest.raises(ValidationError, match="already superseded"):
        replay_batch(conn, first.batch_id, today=TODAY)
    with pytest.raises(DuplicateError):  # the content is current (as the replay)
        _ingest(conn, path, settings)


def test_json_array_and_an_empty_export_load(conn, settings, tmp_path):
    moves = tmp_path / "odoo_stock_moves.json"
    moves.write_text('[{"id": 1, "product_id": 7, "date": "2025-06-01T10:00:00", '
                     '"product_uom_qty": 3, "location_id": "WH/Stock", '
                     '"location_dest_id": "Partners/Customers", "state": "done", "reference": null}]')
    result = ingest_file(conn, moves, "odoo", "stock_moves", store_dir=settings.data_dir / "files",
                         today=TODAY)
    assert result.status == "loaded" and result.rows_loaded == 1
    row = conn.execute("select id, product_uom_qty, state, reference from raw.odoo_stock_moves "
                       "where _batch_id = %s", (result.batch_id,)).fetchone()
    assert row == ("1", "3", "done", None)

    empty = tmp_path / "odoo_workcenter_operations.json"
    empty.write_text("[]")
    result = ingest_file(conn, empty, "odoo", "workcenter_operations",
                         store_dir=settings.data_dir / "files")
    assert (result.status, result.rows_received, result.rows_loaded) == ("loaded", 0, 0)


def test_a_json_array_streams_across_read_blocks(conn, settings, tmp_path):
    path = tmp_path / "odoo_products.json"
    records = [f'{{"id": {i}, "default_code": "BIG-{i}", "name": "{"x" * 200}", '
               f'"categ_id": "All", "uom_id": "Units", "barcode": null, "active": {str(i % 2 == 0).lower()}, '
               f'"produce_delay": 4, "safety_stock": 1.5, "reorder_point": 2}}' for i in range(1, 12001)]
    path.write_text("[\n" + ",\n".join(records) + "\n]")  # ~3.5 MB: several 1 MB read blocks
    result = ingest_file(conn, path, "odoo", "products", store_dir=settings.data_dir / "files",
                         today=TODAY)
    assert (result.status, result.rows_loaded) == ("loaded", 12000)
    active = conn.execute("select active, count(*) from raw.odoo_products where _batch_id = %s "
                          "group by 1 order by 1", (result.batch_id,)).fetchall()
    assert active == [("false", 6000), ("true", 6000)]


def test_master_audit_rows_reach_prim_master_audits(conn, settings, tmp_path):
    path = _write(tmp_path / "sap_master_audit.csv", [
        "CHANGENR;OBJECTID;WERKS;UDATE;FNAME;VALUE_OLD;VALUE_NEW;USERNAME",
        "0000000001;000000000000000042;1000;20250301;PLIFZ;10;14;MUELLER",
        "0000000001;000000000000000042;1000;20250301;EISBE;5.0;8.0;MUELLER"])
    result = ingest_file(conn, path, "sap", "master_audit", store_dir=settings.data_dir / "files",
                         today=TODAY)
    audits = conn.execute("select object_id, field_name, old_value, new_value, changed_on, "
                          "changed_by from raw.prim_master_audits where batch_id = %s order by 2",
                          (result.batch_id,)).fetchall()
    assert audits == [("000000000000000042", "EISBE", "5.0", "8.0", date(2025, 3, 1), "MUELLER"),
                      ("000000000000000042", "PLIFZ", "10", "14", date(2025, 3, 1), "MUELLER")]


KILLED_LOADER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from resources.settings import get_settings
    from resources.bootstrap import ensure_ready
    from resources.database import connect
    from assets.ingest.loader import ingest_file

    settings = get_settings()
    ensure_ready(settings)
    def stall(rows):
        print(f"rows {rows}", flush=True)
        time.sleep(600)  # killed here, mid-COPY
    with connect(settings, autocommit=True) as conn:
        ingest_file(conn, Path(sys.argv[1]), "sap", "stock", store_dir=settings.data_dir / "files",
                    on_progress=stall)
""")


def test_a_load_killed_midway_leaves_nothing_and_the_next_attempt_succeeds(
        conn, settings, tmp_path):
    path = tmp_path / "stock_killed.csv"
    with open(path, "w") as fh:
        fh.write(HEADER + "\n")
        fh.writelines(f"2025{1 + d // 28:02d}{1 + d % 28:02d};{i:018d};1000;0001;{i}.5;0;ST\n"
                      for d in range(120) for i in range(1500))  # 180k rows: several chunks
    proc = subprocess.Popen([sys.executable, "-c", KILLED_LOADER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline()
        assert line.startswith("rows "), line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    batch_id = conn.execute("select max(id) from raw.raw_data_batches where file_name = "
                            "'stock_killed.csv'").fetchone()[0]
    deadline = time.monotonic() + 30
    while batch_id not in reap_dead_batches(conn):  # the server notices the dead client
        status = conn.execute("select status from raw.raw_data_batches where id = %s",
                              (batch_id,)).fetchone()[0]
        if status == "failed" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    status, summary = conn.execute("select status, error_summary from raw.raw_data_batches "
                                   "where id = %s", (batch_id,)).fetchone()
    assert status == "failed" and "stopped before it finished" in summary
    assert conn.execute("select to_regclass(%s)", (f"raw.sap_stock__b{batch_id}",)
                        ).fetchone()[0] is None
    assert _count(conn, batch_id) == 0
    retry = _ingest(conn, path, settings)
    assert (retry.status, retry.rows_loaded) == ("loaded", 180_000)


def test_the_landing_zone_loads_masters_first_and_skips_known_content(conn, settings, tmp_path):
    landing = tmp_path / "landing"
    master = landing / "sap" / "material_master" / "m.csv"
    stock = landing / "sap" / "stock" / "s.csv"
    master.parent.mkdir(parents=True)
    stock.parent.mkdir(parents=True)
    _write(master, ["MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM",
                    "LZ-1;1000;A;M;ST;;;5;1;2;", "LZ-2;1000;B;M;ST;;;5;1;2;"])
    _write(stock, [HEADER, "20250601;LZ-1;1000;0001;5;0;ST", "20250601;LZ-2;1000;0001;5;0;ST",
                   "20250601;LZ-3;1000;0001;5;0;ST"])
    (stock.parent / "copy_of_s.csv").write_bytes(stock.read_bytes())
    (stock.parent / "half_written.csv.part").write_text("STICHTAG;MA")
    local = settings.model_copy(update={"landing_dir": landing, "bad_row_threshold": 0.5})
    results = ingest_landing_zone_files(conn, local)
    assert [(r.entity, r.file_name, r.status, r.rows_loaded) for r in results] == [
        ("material_master", "m.csv", "loaded", 2), ("stock", "copy_of_s.csv", "loaded", 2)]
    reason = conn.execute("select reason from raw.quarantined_rows where batch_id = %s",
                          (results[1].batch_id,)).fetchone()[0]
    assert reason == "unknown item: not in the current sap material_master"
    assert ingest_landing_zone_files(conn, local) == []  # everything known: nothing again


def _quarantined(conn, batch_id):
    return conn.execute(
        "select b.file_name, q.row_number, q.column_name, q.reason from raw.quarantined_rows q "
        "join raw.raw_data_batches b on b.id = q.batch_id where q.batch_id = %s "
        "order by q.row_number, q.column_name", (batch_id,)).fetchall()


def test_orders_and_boms_breaking_the_row_rules_are_quarantined(conn, settings, tmp_path):
    files = settings.data_dir / "files"
    master = _write(tmp_path / "supply_material_master.csv", [
        "MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM",
        "SUP-1;1000;A;M;ST;;;5;1;2;", "SUP-1;2000;A;M;ST;;;5;1;2;",
        "SUP-2;1000;B;M;ST;;;5;1;2;", "SUP-C;1000;C;M;KG;;;5;1;2;"])
    ingest_file(conn, master, "sap", "material_master", store_dir=files, today=TODAY)
    unknown = "unknown item: not in the current sap material_master"

    orders = _write(tmp_path / "production_orders.csv", [
        "AUFNR;MATNR;WERKS;PSMNG;WEMNG;GSTRS;GLTRS;STTXT;MEINS",
        "1000001;SUP-1;1000;100;20;20250601;20250610;REL;ST",
        "1000002;SUP-1;1000;-5;0;20250601;20250610;REL;ST",
        "1000003;SUP-1;1000;100;0;20250610;20250601;REL;ST",
        "1000004;NOPE;1000;100;0;20250601;20250610;REL;ST"])
    result = ingest_file(conn, orders, "sap", "production_orders", store_dir=files, today=TODAY,
                         bad_row_threshold=0.9)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 1, 3)
    assert _quarantined(conn, result.batch_id) == [
        ("production_orders.csv", 2, "PSMNG", "negative value not allowed"),
        ("production_orders.csv", 3, "GLTRS", "finish before start"),
        ("production_orders.csv", 4, "MATNR", unknown)]
    assert conn.execute("select aufnr from raw.sap_production_orders where _batch_id = %s",
                        (result.batch_id,)).fetchall() == [("1000001",)]

    bom = _write(tmp_path / "bom.csv", [
        "MATNR;WERKS;STLAN;STLAL;POSNR;IDNRK;MENGE;BMENG;MEINS;AUSCH;DATUV;DATUB",
        "SUP-1;1000;1;01;0010;SUP-C;2.5;1;KG;;20250101;",
        "SUP-1;1000;1;01;0020;SUP-1;1;1;ST;;20250101;",
        "SUP-1;1000;1;01;0030;SUP-X;1;1;ST;;20250101;",
        "SUP-2;1000;1;01;0010;SUP-C;1;1;KG;;20250101;20241231"])
    result = ingest_file(conn, bom, "sap", "bom", store_dir=files, today=TODAY,
                         bad_row_threshold=0.9)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 3)
    assert _quarantined(conn, result.batch_id) == [
        ("bom.csv", 2, "IDNRK", "component is its own parent"),
        ("bom.csv", 3, "IDNRK", unknown),
        ("bom.csv", 4, "DATUB", "valid to before valid from")]

    transfers = _write(tmp_path / "stock_transport_orders.csv", [
        "EBELN;EBELP;BSART;MATNR;WERKS;RESWK;EINDT;MENGE;WEMNG;MEINS",
        "4500000001;10;UB;SUP-1;1000;2000;20250705;50;0;ST",
        "4500000001;20;UB;SUP-1;1000;1000;20250705;50;0;ST",
        "4500000001;30;UB;SUP-2;1000;2000;20250705;50;0;ST"])  # SUP-2 is not at 2000
    result = ingest_file(conn, transfers, "sap", "stock_transport_orders", store_dir=files,
                         today=TODAY, bad_row_threshold=0.9)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    assert _quarantined(conn, result.batch_id) == [
        ("stock_transport_orders.csv", 2, "RESWK", "supplying plant equals the receiving plant"),
        ("stock_transport_orders.csv", 3, "RESWK", unknown)]

    mos = tmp_path / "manufacturing_orders.json"
    mos.write_text(
        '[{"name": "WH/MO/1", "product_id": 7, "product_qty": 4, "date_start": "2025-06-01T08:00:00",'
        ' "date_finished": "2025-06-02T08:00:00", "state": "confirmed", "location_dest_id": "WH/Stock"},'
        ' {"name": "WH/MO/2", "product_id": 7, "product_qty": 4, "date_start": "2025-06-03T08:00:00",'
        ' "date_finished": "2025-06-02T08:00:00", "state": "confirmed", "location_dest_id": "WH/Stock"},'
        ' {"name": "WH/MO/3", "product_id": 999999, "product_qty": 4, "date_start": "2025-06-01T08:00:00",'
        ' "date_finished": "2025-06-02T08:00:00", "state": "draft", "location_dest_id": "WH/Stock"}]')
    result = ingest_file(conn, mos, "odoo", "manufacturing_orders", store_dir=files, today=TODAY,
                         bad_row_threshold=0.9)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    assert _quarantined(conn, result.batch_id) == [
        ("manufacturing_orders.json", 2, "date_finished", "finish before start"),
        ("manufacturing_orders.json", 3, "product_id", "unknown item: not in the current odoo products")]


def test_a_symlink_or_fifo_is_refused_before_anything_is_kept(conn, settings, tmp_path):
    """`ln -s /etc/shadow x.csv; forgecast ingest x.csv` once kept a world-readable copy of
    the link's target: now nothing is hashed, kept or recorded."""
    secret = _write(tmp_path / "secret.txt", [HEADER, "20250601;1;1000;0001;1;0;ST"])
    link = tmp_path / "stock_link.csv"
    link.symlink_to(secret)
    fifo = tmp_path / "stock_fifo.csv"
    os.mkfifo(fifo)
    batches = conn.execute("select count(*) from raw.raw_data_batches").fetchone()[0]
    kept = sorted((settings.data_dir / "files").rglob("*"))
    with pytest.raises(ValidationError, match="symbolic link"):
        _ingest(conn, link, settings)
    with pytest.raises(ValidationError, match="not a regular file"):
        _ingest(conn, fifo, settings)
    assert conn.execute("select count(*) from raw.raw_data_batches").fetchone()[0] == batches
    assert sorted((settings.data_dir / "files").rglob("*")) == kept


def test_a_kept_export_is_private_to_its_user(conn, settings, tmp_path):
    path = _write(tmp_path / "stock_private.csv", [HEADER, "20250602;1;1000;0001;7;0;ST"])
    result = _ingest(conn, path, settings)
    stored = Path(conn.execute("select stored_path from raw.raw_data_batches where id = %s",
                               (result.batch_id,)).fetchone()[0])
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o077 == 0  # no group / other access
