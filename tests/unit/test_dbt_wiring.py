"""The dbt project as Dagster sees it: one connected graph ingest -> unified (staging and
unified models) -> forecast, every dbt node unified/<name> in group unified, every dbt
test an asset check, blocking exactly where dbt says error; the enforced contracts of the
unified models; and dbt given the connection the warehouse resource sets, per
invocation. No database needed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import deque

import dagster as dg
import pytest
import yaml

from assets.ingest.registry import EXPORT_TYPES
from resources.database import Server
from resources.dbt_env import write_dbt_launcher
from resources.warehouse import DBT_PROJECT_DIR, dbt_profile_env

UNIFIED = ["manufacturing_items", "item_external_ids", "manufacturing_processes",
           "inventory_snapshots", "demand_history", "open_supply", "open_demand",
           "bill_of_materials", "item_master_snapshot", "item_master_history"]
BLOCKING = {  # custom tests that protect the forecasts
    "assert_external_ids_map_to_one_item": ["unified", "item_external_ids"],
    "assert_item_identity_has_no_conflicts": ["unified", "item_external_ids"],
    "assert_demand_history_has_no_date_gaps": ["unified", "demand_history"],
    "on_hand_within_tolerance_inventory_snapshots_on_hand": ["unified", "inventory_snapshots"],
    "on_hand_within_tolerance_stg_sap__stock_on_hand": ["unified", "stg_sap__stock"],
    "on_hand_within_tolerance_stg_odoo__stock_quants_on_hand": ["unified", "stg_odoo__stock_quants"],
    "written_inside_partition_window_inventory_snapshots_snapshot_date":
        ["unified", "inventory_snapshots"],
    "written_inside_partition_window_demand_history_demand_date": ["unified", "demand_history"],
    "assert_bill_of_materials_has_no_cycles": ["unified", "bill_of_materials"],
}
REPORTED = {  # data-quality reports that block nothing
    "assert_erp_records_map_to_items": ["unified", "item_external_ids"],
    "assert_source_rows_map_to_items": ["unified", "item_external_ids"],
    "assert_item_crossref_entries_apply": ["unified", "item_crossref"],
    "assert_bom_lines_left_out": ["unified", "bill_of_materials"],
}


@pytest.fixture(scope="module")
def graph():
    from orchestration.definitions import defs

    return defs.resolve_asset_graph()


@pytest.fixture(scope="module")
def manifest():
    from assets.unified.dbt_models import dbt_project

    return json.loads(dbt_project.manifest_path.read_text())


def _upstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = deque([key])
    while todo:
        for parent in graph.get(todo.popleft()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_staging_reads_the_ingest_assets(graph) -> None:
    for export in EXPORT_TYPES:
        staging = dg.AssetKey(["unified", f"stg_{export.source_system}__{export.entity}"])
        node = graph.get(staging)
        raw = dg.AssetKey(["ingest", export.raw_table])
        assert {raw, dg.AssetKey(["ingest", "raw_data_batches"])} <= set(node.parent_keys), staging
        assert node.group_name == "unified"
        # The raw tables are the ingest stage's assets, not loose external keys.
        assert graph.get(raw).is_materializable and graph.get(raw).group_name == "ingest"


def test_every_dbt_node_is_a_unified_asset_that_names_its_relation(graph) -> None:
    from assets.unified.dbt_models import forgecast_dbt_models

    specs = list(forgecast_dbt_models.specs)
    assert len(specs) >= 20
    for spec in specs:
        assert spec.key.path[0] == "unified" and len(spec.key.path) == 2, spec.key
        assert spec.group_name == "unified", spec.key
    # The schema stays visible in the UI: staging views and the seed live in staging.
    tables = {spec.key.path[-1]: spec.metadata["dagster/table_name"] for spec in specs}
    assert tables["stg_sap__stock"].endswith("staging.stg_sap__stock")
    assert tables["item_crossref"].endswith("staging.item_crossref")
    assert tables["demand_history"].endswith("unified.demand_history")
    dbt_keys = {spec.key for spec in specs}
    sources = {k for key in dbt_keys for k in graph.get(key).parent_keys} - dbt_keys
    assert sources and all(k.path[0] == "ingest" for k in sources), sources


def test_ingest_unified_forecast_is_one_connected_graph(graph) -> None:
    for name in UNIFIED:
        key = dg.AssetKey(["unified", name])
        assert graph.get(key).group_name == "unified"
        upstream = _upstream(graph, key)
        assert any(k.path[-1].startswith("stg_") for k in upstream), name
        assert any(k.path[0] == "ingest" for k in upstream), name
    forecasts = _upstream(graph, dg.AssetKey(["forecast", "forecasts"]))
    assert dg.AssetKey(["unified", "demand_history"]) in forecasts
    assert dg.AssetKey(["ingest", "sap_goods_movements"]) in forecasts
    assert dg.AssetKey(["unified", "item_crossref"]) in forecasts  # the seed
    history = _upstream(graph, dg.AssetKey(["unified", "item_master_history"]))
    assert {dg.AssetKey(["unified", "item_master_snapshot"]),
            dg.AssetKey(["unified", "stg_sap__master_audit"])} <= history


def test_unified_models_have_enforced_contracts(manifest) -> None:
    from tests.unified_schema import unified_contracts

    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and n["config"]["schema"] == "unified"}
    assert set(UNIFIED) - {"item_master_snapshot"} <= set(models)
    for name, node in models.items():
        assert node["config"]["contract"]["enforced"], name
        assert node["columns"] and all(c["data_type"] for c in node["columns"].values()), name
        if node["config"]["materialized"] == "incremental":
            assert node["config"]["on_schema_change"] in ("append_new_columns", "fail"), name
    # An item id is a uuid wherever it appears; the small tables' keys are primary keys
    # (the big daily tables' keys are held by blocking tests: an index costs too much).
    contracts = unified_contracts()
    assert set(contracts) == set(models)
    for contract in contracts.values():
        item_ids = {name: kind for name, kind in contract.columns if name.endswith("item_id")}
        assert item_ids and set(item_ids.values()) == {"uuid"}, contract.model
    keys = {name: contract.primary_key for name, contract in contracts.items()}
    assert keys["manufacturing_items"] == ["item_id"]
    assert keys["item_external_ids"] == ["source_system", "external_id"]
    assert keys["open_supply"] == ["supply_id"]
    assert keys["open_demand"] == ["demand_id"]
    assert keys["bill_of_materials"] == ["bom_line_id"]


def test_no_phantom_assets_for_ephemeral_models(graph) -> None:
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert not [k for k in keys if "int_" in k]


def test_every_dbt_test_is_an_asset_check(graph, manifest) -> None:
    checks = {c.name: c for c in graph.asset_check_keys}
    tests = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"}
    # Tests of the raw sources belong to the ingest assets (Dagster logs them as
    # observations); every other test, generic or singular with any number of parents,
    # is a check on a dbt asset.
    model_tests = {n["name"] for uid, n in tests.items()
                   if not all(p.startswith("source.") for p in manifest["parent_map"][uid])}
    assert len(model_tests) > 100
    assert sorted(model_tests - set(checks)) == []
    for name, key in {**BLOCKING, **REPORTED}.items():
        assert checks[name].asset_key == dg.AssetKey(key), name


def test_blocking_follows_dbt_severity(manifest) -> None:
    from assets.unified.dbt_models import forgecast_dbt_models

    severity = {n["name"]: n["config"]["severity"].lower() for n in manifest["nodes"].values()
                if n["resource_type"] == "test"}
    specs = {spec.name: spec for spec in forgecast_dbt_models.check_specs}
    for name, spec in specs.items():
        if name in severity:
            assert spec.blocking == (severity[name] == "error"), name
    assert all(specs[name].blocking for name in BLOCKING)
    assert not any(specs[name].blocking for name in REPORTED)
    # Routings and history feed no forecast: none of their checks block.
    for spec in specs.values():
        if spec.asset_key.path[-1] in ("manufacturing_processes", "stg_sap__routings",
                                       "item_master_history", "item_master_snapshot"):
            assert not spec.blocking, spec.name


def test_the_profile_reads_what_the_warehouse_resource_sets() -> None:
    text = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    outputs = yaml.safe_load(text)["forgecast"]["outputs"]
    assert set(outputs) == {"dev", "ci", "prod"}
    server = Server(host="/tmp/sock", port=5433, user="u", password="p",
                    warehouse_database="w", dagster_database="d", embedded=True)
    environment = dbt_profile_env(server)
    # libpq reads PGOPTIONS itself (session settings of every dbt connection); the
    # profile reads the rest.
    assert "enable_nestloop=off" in environment.pop("PGOPTIONS")
    set_by_resource = set(environment)
    for name, output in outputs.items():
        read = set(re.findall(r"env_var\('(FORGECAST_DBT_\w+)'", json.dumps(output)))
        assert set_by_resource <= read, name
        assert output["type"] == "postgres"
    assert outputs["prod"]["retries"] > outputs["dev"]["retries"]


def test_dbt_gets_the_connection_per_invocation_not_through_os_environ(tmp_path) -> None:
    from dagster_dbt import DbtCliResource

    from assets.unified.dbt_models import dbt_on_server

    server = Server(host="/tmp/sock dir", port=5433, user="u", password="p'w $x \\",
                    warehouse_database="w", dagster_database="d", embedded=True)
    before = dict(os.environ)
    # /usr/bin/env stands in for dbt: it prints the environment it was started with.
    printer = DbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable="/usr/bin/env")
    with dbt_on_server(printer, server) as dbt:
        launcher = dbt.dbt_executable
        assert dict(os.environ) == before
        printed = subprocess.run([launcher], capture_output=True, text=True, check=True).stdout
    started_with = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
    for name, value in dbt_profile_env(server).items():
        assert started_with[name] == value, name
    assert not os.path.exists(launcher)  # the password does not outlive the invocation
    assert printer.dbt_executable == "/usr/bin/env"
    written = write_dbt_launcher(tmp_path, "/usr/bin/env", {"A": "1"})
    assert oct(written.stat().st_mode & 0o777) == "0o700"


def test_a_failed_build_says_which_tests_blocked() -> None:
    from assets.unified.dbt_models import dbt_failure

    failure = dbt_failure({"results": [
        {"unique_id": "test.forgecast.assert_item_identity_has_no_conflicts", "status": "fail"},
        {"unique_id": "test.forgecast.on_hand_within_tolerance_stg_sap__stock_on_hand.9e6da4b386",
         "status": "fail"},
        {"unique_id": "model.forgecast.demand_history", "status": "skipped"},
        {"unique_id": "test.forgecast.assert_source_rows_map_to_items", "status": "warn"},
        {"unique_id": "model.forgecast.open_supply", "status": "error"},
    ]})
    assert failure.description.startswith(
        "blocking dbt tests failed: assert_item_identity_has_no_conflicts, "
        "on_hand_within_tolerance_stg_sap__stock_on_hand; "
        "dbt nodes errored: open_supply; skipped because of them: 1 node(s)")
    assert "assert_source_rows_map_to_items" not in failure.description


def test_production_never_parses_at_import(tmp_path, monkeypatch) -> None:
    from types import SimpleNamespace

    from assets.unified.dbt_models import ensure_manifest

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    project = SimpleNamespace(project_dir=tmp_path, profiles_dir=tmp_path,
                              manifest_path=tmp_path / "target" / "manifest.json")
    monkeypatch.setenv("FORGECAST_DBT_TARGET", "prod")
    with pytest.raises(RuntimeError, match="prepare the dbt manifest"):
        ensure_manifest(project)
    project.manifest_path.parent.mkdir()
    project.manifest_path.write_text("{}")
    (tmp_path / "models" / "new.sql").write_text("select 1")  # newer than the manifest
    ensure_manifest(project)  # prepared at build time: used as it is, no parse
