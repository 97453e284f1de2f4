"""The landing-zone sensor evaluated on the real Dagster instance (PostgreSQL storage), the
runs it requests executed in process, and the `forgecast ingest` command group."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest
from psycopg import sql

from assets.ingest.registry import EXPORT_TYPES
from orchestration.cli import main
from orchestration.sensors.landing_zone import landing_zone_sensor
from resources.settings import get_settings

HEADER = "STICHTAG;MATNR;WERKS;LGORT;LABST;SPEME;MEINS"


@pytest.fixture(scope="module", autouse=True)
def cleanup(settings, server):
    from resources.database import connect

    with connect(settings, autocommit=True) as conn:
        start = conn.execute("select coalesce(max(id), 0) from raw.raw_data_batches").fetchone()[0]
    yield
    with connect(settings, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("select id from raw.raw_data_batches where id > %s "
                                          "order by id desc", (start,)).fetchall()]
        for export in EXPORT_TYPES:
            for batch_id in ids:
                conn.execute(sql.SQL("drop table if exists {}").format(
                    sql.Identifier("raw", f"{export.raw_table}__b{batch_id}")))
        conn.execute("delete from raw.quarantined_rows where batch_id = any(%s)", (ids,))
        for batch_id in ids:
            conn.execute("delete from raw.raw_data_batches where id = %s", (batch_id,))


@pytest.fixture
def landing(tmp_path, monkeypatch, server):
    """A landing zone of this test's own (the sensor reads the settings)."""
    folder = tmp_path / "landing"
    monkeypatch.setenv("FORGECAST_LANDING_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()


def _drop(path, lines, age: float = 10.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    past = time.time() - age  # settled: not being written any more
    os.utime(path, (past, past))
    return path


def _tick(instance, cursor=None):
    from orchestration.definitions import defs

    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = landing_zone_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def _run(instance, request):
    from orchestration.definitions import defs

    # The run the daemon launches: the request's assets and checks (none: dbt's tests of
    # the raw tables run with the dbt build).
    job = defs.resolve_job_def("ingest_file").get_subset(
        asset_selection=set(request.asset_selection),
        asset_check_selection=set(request.asset_check_keys or ()))
    return job.execute_in_process(
        instance=instance, partition_key=request.partition_key, run_config=request.run_config,
        tags=request.tags, raise_on_error=False)


def test_sensor_ingests_each_new_file_once_and_reports_same_bytes_as_duplicate(landing, conn):
    instance = dg.DagsterInstance.get()
    _drop(landing / "sap" / "material_master" / "master.csv", [
        "MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM",
        "SENSOR-1;1000;A;M;ST;;;5;1;2;", "SENSOR-2;1000;B;M;ST;;;5;1;2;"])
    stock = _drop(landing / "sap" / "stock" / "stock_0601.csv", [
        HEADER, *[f"202506{d:02d};SENSOR-1;1000;0001;5;0;ST" for d in range(1, 22)],
        "20250601;SENSOR-2;1000;0001;=7;0;ST"])  # 1 bad row of 22: under the 5% threshold
    _drop(landing / "sap" / "stock" / "writing.csv.part", [HEADER])  # still being written

    first = _tick(instance)
    # The stock file waits: its item master is new in this very tick.
    assert [r.tags["forgecast/export"] for r in first.run_requests] == ["sap/material_master"]
    master_run = _run(instance, first.run_requests[0])
    assert master_run.success

    second = _tick(instance, first.cursor)
    assert [r.tags["forgecast/file"] for r in second.run_requests] == ["sap/stock/stock_0601.csv"]
    request = second.run_requests[0]
    assert request.run_key == request.partition_key == _sha(stock)
    assert request.run_config["ops"]["ingest_landing_file"]["config"]["entity"] == "stock"
    stock_run = _run(instance, request)
    assert stock_run.success
    materialized = {e.asset_key.to_user_string(): e.materialization.metadata
                    for e in stock_run.get_asset_materialization_events()}
    meta = materialized["ingest/sap_stock"]
    assert (meta["rows_loaded"].value, meta["rows_quarantined"].value) == (21, 1)
    assert "not a number" in meta["preview"].value and "'=7" in meta["preview"].value
    assert materialized["ingest/raw_data_batches"]["outcome"].value == "loaded"

    # The same bytes under another name: no run, a duplicate report; nothing loaded again.
    (landing / "sap" / "stock" / "stock_0601_again.csv").write_bytes(stock.read_bytes())
    os.utime(landing / "sap" / "stock" / "stock_0601_again.csv", (time.time() - 10,) * 2)
    third = _tick(instance, second.cursor)
    assert third.run_requests == []
    assert [e.metadata["duplicate_file"].value for e in third.asset_events] == [
        "sap/stock/stock_0601_again.csv"]
    batches = conn.execute("select count(*) from raw.raw_data_batches where sha256 = %s",
                           (_sha(stock),)).fetchone()[0]
    assert batches == 1
    assert _tick(instance, third.cursor).run_requests == []  # idempotent


def test_a_rejected_file_fails_its_run_without_retries(landing, conn):
    instance = dg.DagsterInstance.get()
    _drop(landing / "acct" / "item_valuation" / "broken.csv", ["item_ref,currency", "A,EUR"])
    result = _tick(instance)
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["dagster/retry_on_asset_or_op_failure"] == "false"
    run = _run(instance, result.run_requests[0])
    assert not run.success
    failure = next(e for e in run.all_events if e.is_step_failure)
    assert "missing required column(s) valuation_date, standard_cost" in \
        failure.step_failure_data.error.message
    status = conn.execute("select status from raw.raw_data_batches where file_name = 'broken.csv' "
                          "order by id desc limit 1").fetchone()[0]
    assert status == "rejected"


def _sha(path):
    from assets.ingest.loader import file_sha256

    return file_sha256(path)


# ----------------------------------------------------------------------------- CLI
def test_cli_ingest_status_errors_and_replay(tmp_path, capsys, server, conn):
    path = tmp_path / "acct_item_valuation_cli.csv"
    path.write_text("\n".join(["item_ref,valuation_date,standard_cost,currency,valuation_class",
                               *[f"CLI-{d},2025-06-{d:02d},{d}.5,EUR," for d in range(1, 21)],
                               "CLI-21,2025-06-21,@SUM(1),EUR,"]) + "\n")
    assert main(["ingest", str(path), "--source", "acct"]) == 0  # entity from the name
    out = capsys.readouterr().out
    assert "item_valuation" in out and "loaded" in out and "20" in out
    batch_id = conn.execute("select max(id) from raw.raw_data_batches where file_name = %s",
                            (path.name,)).fetchone()[0]

    assert main(["ingest", "errors", str(batch_id)]) == 0
    out = capsys.readouterr().out
    assert "'@SUM(1)" in out and "not a number" in out  # a formula is never shown raw

    assert main(["ingest", "status", "--last", "5", "--status", "loaded"]) == 0
    out = capsys.readouterr().out
    assert str(batch_id) in out and path.name in out

    assert main(["ingest", "replay", str(batch_id)]) == 0
    out = capsys.readouterr().out
    assert f"batch {batch_id} is superseded by batch" in out

    assert main(["ingest", str(path), "--source", "acct"]) == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: DUPLICATE:") and "\n" not in err

    assert main(["ingest", "errors", "987654321"]) == 3
    assert "NOT_FOUND" in capsys.readouterr().err
    assert main(["ingest", str(path), "--source", "acct", "--encoding", "nope"]) == 2
    assert "unknown encoding 'nope'" in capsys.readouterr().err


def test_content_ingested_outside_dagster_launches_no_run(landing, conn, settings):
    """`forgecast demo` / `forgecast ingest` load files in process: Dagster's partitions do
    not know them, yet a sensor started afterwards must not launch a run per file."""
    from assets.ingest.loader import ingest_file

    lines = ["MATNR;WERKS;MAKTX;MATKL;MEINS;BISMT;EAN11;PLIFZ;EISBE;MINBE;LVORM",
             "OUTSIDE-1;1000;A;M;ST;;;5;1;2;"]
    master = _drop(landing / "sap" / "material_master" / "outside.csv", lines)
    result = ingest_file(conn, master, "sap", "material_master",
                         store_dir=settings.data_dir / "files")
    assert result.status == "loaded"
    instance = dg.DagsterInstance.get()
    assert not instance.has_dynamic_partition("landing_files", _sha(master))
    first = _tick(instance)
    assert first.run_requests == []
    assert [e.metadata["duplicate_file"].value for e in first.asset_events] == [
        "sap/material_master/outside.csv"]
    again = _tick(instance, first.cursor)  # reported once, not on every tick
    assert again.run_requests == [] and again.asset_events == []
