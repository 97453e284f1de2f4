"""The dbt project on demo data, on this module's own database (migrated like production,
tests/conftest.py; files ingested through the real ingest path), and through Dagster.

One module-scoped fixture does the slow work once (each dbt invocation costs seconds):

1. demo exports of two ERPs and accounting, ingested; ``dbt build`` of the project;
2. a later material master export changes the lead time of an item both ERPs export
   (with its SAP change document), and a restated stock export corrects the last day;
   ``dbt build`` with the partition window as vars (what the nightly run does);
3. ``dbt build --full-refresh`` of the incremental models, compared with step 2;
4. a negative on-hand and an identity conflict are planted in raw, then the dbt assets
   and a stand-in for the forecast are materialized with Dagster: the blocking checks
   fail, the downstream asset does not run, and the run says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from assets.ingest.assets import landing_files
from assets.ingest.loader import ingest_file, replay_batch
from assets.ingest.registry import EXPORT_TYPES
from assets.ingest.retention import purge_raw
from demo.generator import generate_demo_data
from resources.database import Server
from resources.errors import ServiceError
from resources.partitions import daily_partitions
from resources.warehouse import DBT_PROJECT_DIR, WarehouseResource, dbt_profile_env

ITEMS, DAYS, SEED = 40, 60, 11
END = date.today() - timedelta(days=1)
WINDOW = {"min_date": (END - timedelta(days=2)).isoformat(), "max_date": END.isoformat()}
UNIFIED_TABLES = ["manufacturing_items", "item_external_ids", "manufacturing_processes",
                  "open_supply", "inventory_snapshots", "demand_history"]
# Demo data injects rows of unknown materials into stock and movements: reported, not fatal.
EXPECTED_WARNINGS = {"assert_source_rows_map_to_items"}


class DbtRun:
    def __init__(self, result: Any) -> None:
        self.success = result.success
        self.exception = result.exception
        self.statuses = {r.node.unique_id: str(getattr(r.status, "value", r.status))
                         for r in (getattr(result.result, "results", None) or [])}

    def names(self, *statuses: str) -> set[str]:
        return {uid.split(".")[2] for uid, s in self.statuses.items() if s in statuses}


def _dbt(work_dir: Path, *args: str) -> DbtRun:
    from dbt.cli.main import dbtRunner

    return DbtRun(dbtRunner().invoke([
        *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]))


def _fetch(conn: psycopg.Connection, query: str, *params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


ORDER_BY = {"inventory_snapshots": "item_id, location_id, snapshot_date",
            "demand_history": "item_id, location_id, demand_date",
            "item_external_ids": "source_system, external_id", "manufacturing_items": "sku",
            "manufacturing_processes": "process_id", "open_supply": "supply_id"}


def _unified(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every unified table, without loaded_at (which run wrote a row differs by design)."""
    return {t: [{k: v for k, v in r.items() if k != "loaded_at"}
                for r in _fetch(conn, f"select * from unified.{t} order by {ORDER_BY[t]}")]
            for t in UNIFIED_TABLES}


def _write_csv(path: Path, header: str, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dbt_env(server: Server) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in dbt_profile_env(server).items():
            mp.setenv(name, value)
        mp.setenv("FORGECAST_DBT_TARGET", "ci")
        mp.setenv("DO_NOT_TRACK", "1")
        yield


def _ingest(conn: psycopg.Connection, path: Path, source: str, entity: str, files: Path) -> None:
    result = ingest_file(conn, path, source, entity, store_dir=files)
    assert result.status == "loaded", result


@pytest.fixture(scope="module")
def demo(server, dbt_env, tmp_path_factory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("dbt-demo")
    landing, files = work / "landing", work / "files"
    out: dict[str, Any] = {}
    out["summary"] = generate_demo_data(landing, items=ITEMS, days=DAYS, seed=SEED, end_date=END)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        for export in EXPORT_TYPES:
            for path in landing_files(landing, export):
                _ingest(conn, path, export.source_system, export.entity, files)

        # 1. The whole project on demo data.
        out["build"] = _dbt(work, "build")
        assert out["build"].success, out["build"].exception
        out["initial"] = _unified(conn)

        # Retention's cases: a replayed batch is superseded by its replay; a file that
        # lacks a required column is rejected whole.
        replayed = _fetch(conn, "select min(id) as id from raw.raw_data_batches where "
                          "source_system = 'sap' and entity = 'stock' and status = 'loaded'")[0]
        assert replay_batch(conn, replayed["id"]).status == "loaded"
        out["replayed"] = replayed["id"]
        with pytest.raises(ServiceError):
            ingest_file(conn, _write_csv(work / "broken" / "sap_stock_broken.csv", "STICHTAG;MATNR",
                                         "20250601;X"), "sap", "stock", store_dir=files)
        # 2. A later export: one both-ERP item's lead time at the plant that supplies its
        #    item-level values, with the change document; a restated last stock day.
        item = _fetch(conn, """
            select i.sku, i.lead_time_days, x.external_id as matnr, m.plant
            from unified.manufacturing_items i
            join unified.item_external_ids x on x.item_id = i.item_id and x.source_system = 'sap'
            join staging.stg_sap__material_master m on m.material_number = x.external_id
            where i.source_systems = 'odoo,sap'
            order by i.sku, m.plant limit 1""")[0]
        out["changed_item"] = item
        raw = _fetch(conn, "select * from raw.sap_material_master where matnr = %s and werks = %s",
                     item["matnr"], item["plant"])[0]
        new_lead = item["lead_time_days"] + 3
        cols = ["MATNR", "WERKS", "MAKTX", "MATKL", "MEINS", "BISMT", "EAN11", "PLIFZ", "EISBE",
                "MINBE", "LVORM"]
        values = {c: raw[c.lower()] or "" for c in cols} | {"PLIFZ": str(new_lead)}
        later = work / "later"
        _ingest(conn, _write_csv(later / "sap_material_master_v2.csv", ";".join(cols),
                                 ";".join(values[c] for c in cols)),
                "sap", "material_master", files)
        _ingest(conn, _write_csv(
            later / "sap_master_audit_v2.csv",
            "CHANGENR;OBJECTID;WERKS;UDATE;FNAME;VALUE_OLD;VALUE_NEW;USERNAME",
            f"9000000001;{item['matnr']};{item['plant']};{END:%Y%m%d};PLIFZ;"
            f"{item['lead_time_days']};{new_lead};PLANNER7"), "sap", "master_audit", files)
        stock = _fetch(conn, """
            select s.* from raw.sap_stock s
            join raw.raw_data_batches b on b.id = s._batch_id and b.status = 'loaded'
            where s.stichtag = %s and s.matnr = %s order by s.lgort limit 1""",
                       f"{END:%Y%m%d}", item["matnr"])[0]
        out["restated_stock"] = stock
        _ingest(conn, _write_csv(
            later / "sap_stock_v2.csv", "STICHTAG;MATNR;WERKS;LGORT;LABST;SPEME;MEINS",
            f"{stock['stichtag']};{stock['matnr']};{stock['werks']};{stock['lgort']};"
            f"{float(stock['labst']) + 5:g};{stock['speme'] or ''};{stock['meins']}"),
            "sap", "stock", files)
        out["incremental"] = _dbt(work, "build", "--vars", json.dumps(WINDOW))
        assert out["incremental"].success, out["incremental"].exception
        out["after_incremental"] = _unified(conn)
        out["history"] = _fetch(conn, "select * from unified.item_master_history where sku = %s",
                                item["sku"])
        out["versions"] = _fetch(conn, "select * from unified.item_master_snapshot where sku = %s"
                                 " order by dbt_valid_from", item["sku"])

        # Maintenance drops what nothing reads (retention 0 days: everything expired)...
        out["purge"] = purge_raw(conn, 0)
        out["replayed_partition"] = _fetch(conn, "select to_regclass(%s) as t",
                                           f"raw.sap_stock__b{replayed['id']}")[0]["t"]
        out["statuses"] = dict(conn.execute("select status, count(*) from raw.raw_data_batches "
                                            "group by status").fetchall())
        # 3. ... and a full refresh of the incremental models over what is left gives the
        #    same unified tables as the incremental build before it.
        out["full_refresh"] = _dbt(work, "build", "--full-refresh", "--select",
                                   "inventory_snapshots", "demand_history")
        assert out["full_refresh"].success, out["full_refresh"].exception
        out["after_full_refresh"] = _unified(conn)
    yield out


# --------------------------------------------------------------------------- dbt on demo data


def test_dbt_build_on_demo_data_passes_every_test(demo) -> None:
    for run in ("build", "incremental", "full_refresh"):
        assert demo[run].names("error", "fail", "skipped") == set(), run
        assert demo[run].names("warn") <= EXPECTED_WARNINGS, run
    tests = [uid for uid in demo["build"].statuses if uid.startswith("test.")]
    assert len(tests) > 100


def test_items_exported_by_both_erps_appear_once_with_both_ids(demo) -> None:
    items = demo["initial"]["manufacturing_items"]
    assert len(items) == ITEMS == len({i["sku"] for i in items})
    both = [i for i in items if i["source_systems"] == "odoo,sap"]
    assert len(both) == demo["summary"].systems["both"] > 0
    ids: dict[str, list[tuple[str, str]]] = {}
    for row in demo["initial"]["item_external_ids"]:
        ids.setdefault(row["item_id"], []).append((row["source_system"], row["match_rule"]))
    for item in both:
        assert sorted(ids[item["item_id"]]) == [
            ("acct", "sku"), ("odoo", "ean+sku"), ("sap", "ean+sku")], item["sku"]


def test_later_export_changing_lead_time_adds_history_row_and_changes_current_row(demo) -> None:
    item = demo["changed_item"]
    new_lead = item["lead_time_days"] + 3

    def current(snapshot: str) -> dict[str, Any]:
        return next(i for i in demo[snapshot]["manufacturing_items"] if i["sku"] == item["sku"])

    assert current("initial")["lead_time_days"] == item["lead_time_days"]
    assert current("after_incremental")["lead_time_days"] == new_lead
    assert [(v["lead_time_days"], v["dbt_valid_to"] is None) for v in demo["versions"]] == [
        (item["lead_time_days"], False), (new_lead, True)]
    changes = [r for r in demo["history"] if r["evidence"] != "audit"]
    assert [(r["attribute"], r["old_value"], r["new_value"], r["changed_by"], r["changed_on"],
             r["location_id"], r["evidence"]) for r in changes] == [
        ("lead_time_days", item["lead_time_days"], new_lead, "PLANNER7", END,
         f"sap:{item['plant']}", "snapshot+audit")]


def test_incremental_and_full_refresh_give_identical_unified_tables(demo) -> None:
    """Across maintenance too: the full refresh ran after the raw partitions of the
    superseded and rejected batches were dropped."""
    assert demo["after_incremental"] == demo["after_full_refresh"]
    # ... and the windowed run did change something: the restated stock day.
    assert demo["after_incremental"]["inventory_snapshots"] != demo["initial"]["inventory_snapshots"]
    for table in ("inventory_snapshots", "demand_history"):
        assert len(demo["after_incremental"][table]) > 1000


def test_maintenance_drops_only_what_nothing_reads(demo) -> None:
    purge = demo["purge"]
    assert purge.batches_expired == demo["statuses"]["superseded"] + demo["statuses"][
        "rejected"] >= 2
    assert purge.partitions_dropped >= 1 and demo["replayed_partition"] is None
    assert purge.quarantine_rows_deleted >= 1  # the demo's planted bad rows
    assert demo["statuses"]["loaded"] > 10  # loaded history stays


# --------------------------------------------------------------------------- blocking checks


DOWNSTREAM_RAN: list[str] = []


@dg.asset(key=["forecast", "stand_in"], deps=[dg.AssetKey(["unified", "demand_history"])],
          partitions_def=daily_partitions)
def forecast_stand_in() -> None:
    """Stands in for the forecast: reads unified.demand_history in the real graph."""
    DOWNSTREAM_RAN.append("ran")


def _planted_batch(conn: psycopg.Connection, source: str, entity: str) -> int:
    """A 'loaded' batch written behind ingest's back, ready for rows in its raw table
    (a partition of its own when ingest partitions the raw tables by batch)."""
    batch = conn.execute(
        "insert into raw.raw_data_batches (source_system, entity, file_name, sha256, format,"
        " status) values (%s, %s, 'planted', md5(random()::text) || md5(random()::text),"
        " 'csv', 'loaded') returning id", (source, entity)).fetchone()[0]
    table = f"{source}_{entity}"
    kind = conn.execute("select c.relkind from pg_class c join pg_namespace n on"
                        " n.oid = c.relnamespace where n.nspname = 'raw' and c.relname = %s",
                        (table,)).fetchone()[0]
    if kind == "p":
        conn.execute(sql.SQL("create table {} partition of {} for values in ({})").format(
            sql.Identifier("raw", f"{table}__planted{batch}"), sql.Identifier("raw", table),
            sql.Literal(batch)))
    return batch


@pytest.fixture(scope="module")
def blocked_run(demo, server) -> dg.ExecuteInProcessResult:
    """Bad data planted in raw behind ingest's back (ingest would quarantine a negative
    quantity), then the dbt assets materialized by Dagster for the last day."""
    from assets.unified.dbt_models import forgecast_dbt_models
    from resources.warehouse import dbt_resource

    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        stock = demo["restated_stock"]
        batch = _planted_batch(conn, "sap", "stock")
        conn.execute(
            "insert into raw.sap_stock (_batch_id, _row_number, stichtag, matnr, werks, lgort,"
            " labst, speme, meins) values (%s, 1, %s, %s, %s, 'NEG1', '-40', '0', %s)",
            (batch, stock["stichtag"], stock["matnr"], stock["werks"], stock["meins"]))
        # An Odoo product whose internal reference says one item while its barcode is the
        # EAN of another (SAP) item: one external id, two items.
        sap_a, sap_b = _fetch(conn, """
            select distinct on (bismt) bismt, ean11 from raw.sap_material_master
            where bismt <> '' and ean11 <> '' order by bismt limit 2""")
        batch = _planted_batch(conn, "odoo", "products")
        conn.execute(
            "insert into raw.odoo_products (_batch_id, _row_number, id, default_code, name,"
            " categ_id, uom_id, barcode, active, produce_delay) values"
            " (%s, 1, '990001', %s, 'Planted', 'All', 'Units', %s, 'true', '3')",
            (batch, sap_a["bismt"], sap_b["ean11"]))

    warehouse = WarehouseResource()  # the module's database, from the settings
    DOWNSTREAM_RAN.clear()
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [forgecast_dbt_models, forecast_stand_in], partition_key=END.isoformat(),
            resources={"dbt": dbt_resource(), "warehouse": warehouse},
            instance=instance, raise_on_error=False)


def _check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_failing_blocking_checks_stop_downstream_assets(blocked_run) -> None:
    assert not blocked_run.success
    evaluations = _check_evaluations(blocked_run)
    for name, key in [("on_hand_within_tolerance_stg_sap__stock_on_hand", ["unified", "stg_sap__stock"]),
                      ("assert_item_identity_has_no_conflicts", ["unified", "item_external_ids"])]:
        evaluation = evaluations[name]
        assert not evaluation.passed and evaluation.blocking, name
        assert evaluation.asset_key == dg.AssetKey(key)
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    # dbt skipped everything built on the negative stock; Dagster did not run the forecast.
    materialized = {e.asset_key for e in blocked_run.get_asset_materialization_events()}
    assert dg.AssetKey(["unified", "inventory_snapshots"]) not in materialized
    assert dg.AssetKey(["unified", "demand_history"]) not in materialized
    assert dg.AssetKey(["forecast", "stand_in"]) not in materialized
    assert DOWNSTREAM_RAN == []


def test_the_failed_run_says_why(blocked_run) -> None:
    failures = [e for e in blocked_run.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["forgecast_dbt_models"]
    message = failures[0].event_specific_data.error.message
    assert "blocking dbt tests failed" in message
    assert "on_hand_within_tolerance_stg_sap__stock_on_hand" in message
    assert "assert_item_identity_has_no_conflicts" in message


def test_warn_checks_report_without_blocking(blocked_run) -> None:
    evaluations = _check_evaluations(blocked_run)
    warn = [e for e in evaluations.values() if e.severity == dg.AssetCheckSeverity.WARN]
    assert warn and not any(e.blocking for e in warn)
