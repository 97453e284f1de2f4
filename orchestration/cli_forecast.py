"""`forgecast select [--item SKU] [--as-of D]`: the weekly model selection, now.

It runs the ``forecast_model_selection`` job (the asset the weekly schedule materializes,
same code) in this process on Forgecast's Dagster instance, so the run is in the run
history like a scheduled one; the asset's progress lines (items done / total, items per
second) are shown as it goes. The settings give the instance's storage URL: the user
passes none.
"""

from __future__ import annotations

import click

from orchestration.tables import format_table
from resources.settings import get_settings

SELECTION_JOB = "forecast_model_selection"
SELECTION_OP = "forecast__model_selection"
# The asset's own progress lines (INFO), not Dagster's debug chatter.
PROGRESS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def selection_run_config(sku: str | None, as_of: str | None) -> dict:
    config = {k: v for k, v in (("item", sku), ("as_of", as_of)) if v is not None}
    return {**PROGRESS, "ops": {SELECTION_OP: {"config": config}}}


@click.command("select")
@click.option("--item", "sku", help="Select for this SKU's item(s) only.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="Select as of this day (default: the newest demand).")
def select_cmd(sku: str | None, as_of) -> None:
    """Run the weekly model selection now (through Dagster: it is in the run history)."""
    from orchestration.backfill import require_success
    from orchestration.definitions import defs
    from orchestration.platform import in_process_tags
    from orchestration.platform import instance as platform_instance

    instance = platform_instance(get_settings())
    day = as_of.date().isoformat() if as_of else None
    click.echo(f"model selection ({f'SKU {sku}' if sku else 'all items'}"
               f"{f', as of {day}' if day else ''})", err=True)
    result = defs.resolve_job_def(SELECTION_JOB).execute_in_process(
        instance=instance, raise_on_error=False, run_config=selection_run_config(sku, day),
        tags=in_process_tags())
    require_success(result, what="selection")
    meta = {}
    for event in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
    rows = [("run", result.run_id), ("as of", meta.get("as_of", "-")),
            ("items selected", meta.get("items_selected", 0)),
            ("items failed", meta.get("items_failed", 0))]
    rows += [(f"serves: {name}", count)
             for name, count in sorted((meta.get("selected_models") or {}).items())]
    if meta.get("note"):
        rows.append(("note", meta["note"]))
    click.echo(format_table(["model selection", "value"], rows))
