"""Dagster's run history pruned on a real instance (PostgreSQL storage): old runs go with
their events, the runs holding an asset partition's latest materialization stay; and
`forgecast maintenance` reports what it dropped."""


import dagster as dg

from orchestration.cli import main
from resources.dagster_history import prune_run_history
from resources.database import connect

PARTS = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=PARTS, key=["test_maintenance", "thing"])
def thing(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"made {context.partition_key}")


def _age_all_runs(storage, days: int) -> None:
    storage.execute("update runs set create_timestamp = create_timestamp - make_interval("
                    "days => %s), update_timestamp = update_timestamp - make_interval(days => %s)",
                    (days, days))


def test_old_runs_are_pruned_but_each_partitions_latest_materialization_stays(
        settings, server, capsys):
    instance = dg.DagsterInstance.get()
    first_a = dg.materialize([thing], instance=instance, partition_key="a").run_id
    latest_a = dg.materialize([thing], instance=instance, partition_key="a").run_id
    only_b = dg.materialize([thing], instance=instance, partition_key="b").run_id
    with connect(settings, autocommit=True, database=server.dagster_database) as storage:
        _age_all_runs(storage, 400)
        deleted, kept = prune_run_history(instance, storage, older_than_days=90)
    assert deleted >= 1 and kept >= 2
    assert instance.get_run_by_id(first_a) is None
    assert instance.get_run_by_id(latest_a) is not None
    assert instance.get_run_by_id(only_b) is not None
    latest = instance.get_latest_materialization_event(dg.AssetKey(["test_maintenance", "thing"]))
    assert latest is not None and latest.run_id == only_b

    assert main(["maintenance"]) == 0
    out = capsys.readouterr().out
    assert "raw partitions dropped" in out and "Dagster runs pruned" in out
