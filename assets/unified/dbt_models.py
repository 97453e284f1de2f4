"""The dbt project as Dagster assets: staging and unified models, snapshots, and dbt
tests as asset checks. Sources map onto the ingest assets' keys (raw/<table>), so the
lineage runs landing zone -> raw -> staging -> unified without gaps."""


import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.partitions import daily_partitions
from resources.warehouse import DBT_PROJECT_DIR, WarehouseResource, dbt_profile_env

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_current(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    sources = (p for folder in ("models", "macros", "snapshots", "seeds", "tests")
               for p in (project.project_dir / folder).rglob("*") if p.is_file())
    project_files = [project.project_dir / "dbt_project.yml", *sources]
    return all(p.stat().st_mtime <= built for p in project_files)


def ensure_manifest(project: DbtProject) -> None:
    """Parse (in process, no database needed) when the manifest is missing or older than
    the project's files: a fresh checkout, or a model edited since the last parse."""
    if manifest_is_current(project):
        return
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(project.project_dir),
                                 "--profiles-dir", str(project.profiles_dir)])
    if not result.success:
        raise RuntimeError(f"dbt parse failed for {project.project_dir}: {result.exception}")


ensure_manifest(dbt_project)


class ForgecastDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=dg.AssetKey([props["source_name"], props["name"]]))
        schema = props.get("config", {}).get("schema") or props.get("schema") or "unified"
        return spec.replace_attributes(
            key=dg.AssetKey([schema, props["name"]]),
            group_name=schema,
        ).merge_attributes(kinds={"postgres"})

    def get_partition_mapping(self, dbt_resource_props, dbt_parent_resource_props):
        # A day's models read every current raw batch, whatever file brought it.
        if dbt_parent_resource_props.get("resource_type") == "source":
            return dg.AllPartitionMapping()
        return super().get_partition_mapping(dbt_resource_props, dbt_parent_resource_props)


def partition_window_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """dbt vars for the run's partition window (inclusive dates): one day for a nightly
    run, the whole range for a backfill, which runs as one dbt invocation."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return {}
    window = context.partition_time_window
    last_day = window.end - timedelta(days=1)
    return {"min_date": window.start.date().isoformat(), "max_date": last_day.date().isoformat()}


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ForgecastDbtTranslator(),
    partitions_def=daily_partitions,
    # A backfill over many days is one dbt invocation with the whole window as vars.
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse",
)
def forgecast_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Staging (rename, cast, current batches only) and unified models, with tests. The
    incremental models rewrite only the partition window (dbt vars min_date/max_date)."""
    os.environ.update(dbt_profile_env(warehouse.server()))
    window = partition_window_vars(context)
    args = ["build", "--vars", json.dumps(window)] if window else ["build"]
    context.log.info(f"dbt {' '.join(args)}")
    yield from dbt.cli(args, context=context).stream()


ASSETS = [forgecast_dbt_models]
ASSET_CHECKS: list = []
