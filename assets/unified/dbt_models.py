"""The dbt project as Dagster assets: staging and unified models, the seed, snapshots,
and dbt tests as asset checks. Every dbt node is ``unified/<node name>`` in group unified
(its schema, staging or unified, is in the ``dagster/table_name`` metadata); sources map
onto the ingest assets' keys (``ingest/<raw table>``), so the lineage runs landing zone ->
raw -> staging -> unified without gaps.

Every dbt test is an asset check: generic tests on their model, singular tests with one
parent on that parent, singular tests with several parents on the model their
``meta: {dagster: {ref: ...}}`` names (one of their parents: dagster-dbt only attaches a
test to a model it depends on). dbt severity decides what a failure does:
``error`` tests are blocking checks (the dbt step fails, so the forecasts downstream do
not run on bad data), ``warn`` tests are reported and block nothing.
"""


import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from assets.ingest.raw_tables import sync_raw_tables
from resources.database import Server
from resources.dbt_env import DBT_PROJECT_DIR, dbt_profile_env, write_dbt_launcher
from resources.locks import exclusive
from resources.partitions import daily_partitions
from resources.warehouse import WarehouseResource

# Asset key prefix = folder = group: assets/unified holds every dbt node (staging views
# included); the dbt sources are the raw tables assets/ingest loads.
UNIFIED_PREFIX = "unified"
INGEST_PREFIX = "ingest"

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
    the project's files: a fresh checkout, or a model edited since the last parse.

    Production (FORGECAST_DBT_TARGET=prod) never parses at import: the manifest is
    prepared when the deployment is built (`dbt parse` or `dagster-dbt project
    prepare-and-package`), and the file times of a deployed copy prove nothing."""
    if manifest_is_current(project):
        return
    if os.environ.get("FORGECAST_DBT_TARGET") == "prod":
        if project.manifest_path.exists():
            return
        raise RuntimeError(
            f"{project.manifest_path} is missing: prepare the dbt manifest when building the "
            "deployment (dbt parse --project-dir dbt_project --profiles-dir dbt_project)")
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
            # The raw tables are the ingest stage's assets: the same keys, so lineage joins.
            return spec.replace_attributes(key=dg.AssetKey([INGEST_PREFIX, props["name"]]))
        # Every model, seed and snapshot is this stage's, whatever schema dbt builds it in;
        # the relation (staging.stg_x, unified.x) stays visible as dagster/table_name.
        return spec.replace_attributes(
            key=dg.AssetKey([UNIFIED_PREFIX, props["name"]]),
            group_name=UNIFIED_PREFIX,
        ).merge_attributes(kinds={"postgres"})

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt tests as checks. A singular test that reads an ephemeral model (identity
        resolution) depends on what that model reads, not on a phantom asset for it."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        parents = manifest["parent_map"].get(unique_id, [])
        if not any(_is_ephemeral(manifest, p) for p in parents):
            return spec
        deps = {self.get_asset_spec(manifest, p, project).key
                for p in _through_ephemeral(manifest, parents)} - {spec.asset_key}
        return dg.AssetCheckSpec(name=spec.name, asset=spec.asset_key,
                                 description=spec.description, additional_deps=sorted(deps),
                                 blocking=spec.blocking, metadata=spec.metadata)

    def get_partition_mapping(self, dbt_resource_props, dbt_parent_resource_props):
        # A day's models read every current raw batch, whatever file brought it.
        if dbt_parent_resource_props.get("resource_type") == "source":
            return dg.AllPartitionMapping()
        return super().get_partition_mapping(dbt_resource_props, dbt_parent_resource_props)


def _is_ephemeral(manifest: Mapping[str, Any], unique_id: str) -> bool:
    node = manifest["nodes"].get(unique_id) or {}
    return node.get("config", {}).get("materialized") == "ephemeral"


def _through_ephemeral(manifest: Mapping[str, Any], unique_ids) -> set[str]:
    """The nodes, with every ephemeral one replaced by its own parents (recursively)."""
    out: set[str] = set()
    todo = list(unique_ids)
    while todo:
        unique_id = todo.pop()
        if _is_ephemeral(manifest, unique_id):
            todo.extend(manifest["parent_map"].get(unique_id, []))
        else:
            out.add(unique_id)
    return out


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
    # dbt's tests on its sources (the raw tables) run in every build: as checks of the
    # ingest assets they report results; without, each one logged a warning that it was
    # an observation "likely executed due to dbt indirect selection".
    dagster_dbt_translator=ForgecastDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)),
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
    window = partition_window_vars(context)
    args = ["build", "--vars", json.dumps(window)] if window else ["build"]
    with warehouse.connection() as conn:
        # dbt's sources are the raw tables: every export of the registry has one, even
        # before its first file arrives.
        sync_raw_tables(conn)
    context.log.info(f"dbt {' '.join(args)}")
    # One dbt build per warehouse at a time, whoever started it (a schedule tick during a
    # backfill, two demos): two at once collide on dbt's __dbt_backup relations.
    with (warehouse.connection(autocommit=True) as lock_conn,
          exclusive(lock_conn, "dbt build", on_wait=context.log.info),
          dbt_on_server(dbt, warehouse.server()) as dbt_here):
        invocation = dbt_here.cli(args, context=context, raise_on_error=False)
        yield from invocation.stream()
    if not invocation.is_successful():
        try:
            run_results = invocation.get_artifact("run_results.json")
        except FileNotFoundError:  # dbt stopped before running anything (compile error)
            run_results = {}
        raise dbt_failure(run_results)


@contextmanager
def dbt_on_server(dbt: DbtCliResource, server: Server) -> Iterator[DbtCliResource]:
    """The dbt resource, its invocations connected to ``server``: the profile reads
    FORGECAST_DBT_* variables, and ``DbtCliResource.cli`` passes dbt a copy of this
    process's environment with no way to add to it. So the variables go to a launcher
    that sets them for the dbt process alone: nothing is written to ``os.environ``,
    which other steps and threads of this process share."""
    with tempfile.TemporaryDirectory(prefix="forgecast-dbt-") as directory:
        launcher = write_dbt_launcher(Path(directory), dbt.dbt_executable,
                                      dbt_profile_env(server))
        yield dbt.model_copy(update={"dbt_executable": str(launcher)})


def failed_nodes(run_results: Mapping[str, Any]) -> dict[str, list[str]]:
    """unique ids of the nodes that failed (blocking tests), errored or were skipped."""
    out: dict[str, list[str]] = {"fail": [], "error": [], "skipped": []}
    for result in run_results.get("results", []):
        status = str(result.get("status"))
        if status in out:
            out[status].append(result["unique_id"])
    return out


def dbt_failure(run_results: Mapping[str, Any]) -> dg.Failure:
    """A step failure that says why: the blocking tests that failed, the nodes that
    errored, and what dbt skipped because of them."""
    nodes = failed_nodes(run_results)

    def names(ids: list[str]) -> str:
        # <type>.<package>.<name>[.<hash of a generic test>]
        return ", ".join(sorted(uid.split(".")[2] for uid in ids)) or "-"

    parts = []
    if nodes["fail"]:
        parts.append(f"blocking dbt tests failed: {names(nodes['fail'])}")
    if nodes["error"]:
        parts.append(f"dbt nodes errored: {names(nodes['error'])}")
    if nodes["skipped"]:
        parts.append(f"skipped because of them: {len(nodes['skipped'])} node(s)")
    description = "; ".join(parts) or "dbt build failed (see the dbt log in the compute logs)"
    return dg.Failure(
        description=description + ". Downstream assets are not materialized from this data.",
        metadata={
            "failed_tests": sorted(nodes["fail"]),
            "errored_nodes": sorted(nodes["error"]),
            "skipped_nodes": len(nodes["skipped"]),
        },
    )


ASSETS = [forgecast_dbt_models]
# The checks the dbt step runs on the ingest stage's raw tables: jobs that select the
# unified group select these too (they belong to another group's assets).
SOURCE_TEST_CHECKS = dg.AssetSelection.checks(*(
    spec.key for spec in forgecast_dbt_models.check_specs
    if spec.asset_key.path[0] == INGEST_PREFIX))
# The dbt tests are the @dbt_assets' own check specs: nothing to add here.
ASSET_CHECKS: list = []
