"""The dbt project as Dagster assets: staging and unified models, snapshots, and dbt
tests as asset checks. Sources map onto the ingest assets' keys (raw/<table>), so the
lineage runs landing zone -> raw -> staging -> unified without gaps."""


import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

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


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ForgecastDbtTranslator(),
    pool="warehouse",
)
def forgecast_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Staging (rename, cast, current batches only) and unified models, with tests."""
    os.environ.update(dbt_profile_env(warehouse.server()))
    yield from dbt.cli(["build"], context=context).stream()


ASSETS = [forgecast_dbt_models]
ASSET_CHECKS: list = []
