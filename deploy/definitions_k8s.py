"""The Forgecast code location on Kubernetes: the same definitions as
``orchestration.definitions``, with every step of a run in a Kubernetes Job of its own
(dagster-k8s's ``k8s_job_executor``), so the forecast shards of one nightly run (the
steps of the mapped op ``forecast_shard``, one per shard) land on different nodes.

The Helm user deployment loads this file (deploy/helm/values.yaml):
``dagster api grpc --python-file /opt/forgecast/deploy/definitions_k8s.py --attribute defs``.
Step pods inherit image, env, secrets and volumes from the K8sRunLauncher; only the
resources differ per step.
"""

import dagster as dg
from dagster_k8s import k8s_job_executor

# The module, not its `defs`: a second Definitions at module scope would make the
# location ambiguous to Dagster's loader.
import orchestration.definitions as forgecast

# Default for every step pod: dbt, ingest, alerts, notifications.
STEP_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"},
                  "limits": {"cpu": "2", "memory": "4Gi"}}
# A forecast shard runs a process pool over its items: give it a node's worth of CPU.
SHARD_RESOURCES = {"requests": {"cpu": "4", "memory": "8Gi"},
                   "limits": {"cpu": "8", "memory": "16Gi"}}
# The shard op of assets/forecast/assets.py: mapped over the shards of the run's settings
# (FORGECAST_FORECAST_SHARDS), one step per shard. The executor's per-step config is keyed
# by op name, so every shard step gets SHARD_STEP_CONFIG however many there are.
SHARD_OP = "forecast_shard"

SHARD_STEP_CONFIG = {
    "container_config": {"resources": SHARD_RESOURCES},
    # Spread the shards of a run over the nodes.
    "pod_template_spec_metadata": {"labels": {"forgecast/role": "forecast-shard"}},
    "pod_spec_config": {"topology_spread_constraints": [{
        "max_skew": 1,
        "topology_key": "kubernetes.io/hostname",
        "when_unsatisfiable": "ScheduleAnyway",
        "label_selector": {"match_labels": {"forgecast/role": "forecast-shard"}},
    }]},
}

EXECUTOR_CONFIG = {
    # Step pods of one run at once; the pools (instance concurrency) cap the warehouse-
    # and forecast-heavy steps across runs.
    "max_concurrent": 16,
    "step_k8s_config": {"container_config": {"resources": STEP_RESOURCES}},
    "per_step_k8s_config": {SHARD_OP: SHARD_STEP_CONFIG},
    # Step Jobs are garbage-collected with their run's pod.
    "enable_owner_references": True,
}

executor = k8s_job_executor.configured(EXECUTOR_CONFIG, name="forgecast_k8s_job_executor")

defs = dg.Definitions.merge(forgecast.defs, dg.Definitions(executor=executor))
