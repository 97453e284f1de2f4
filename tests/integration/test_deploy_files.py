"""The deployment files in deploy/, checked without Docker or Kubernetes.

- deploy/dagster.yaml: Dagster's instance config validation, each configurable class's own
  schema, then a real DagsterInstance on PostgreSQL (a scratch database on the test server).
- deploy/workspace.yaml: Dagster's workspace schema, then a real gRPC code server started
  with the docker-compose command and loaded through that workspace file.
- deploy/docker-compose.yml: the compose structure (services, images/builds, environment,
  depends_on, healthchecks, networks, volumes) and its agreement with dagster.yaml,
  workspace.yaml and the Dockerfile.
- deploy/Dockerfile: what it copies exists, what it installs is pinned, what it runs is
  the code server the compose file and the Helm values expect.
- deploy/helm/values.yaml: keys against the structure of Dagster's chart, then the
  instance the chart renders from them, validated by dagster and dagster-k8s.
- deploy/definitions_k8s.py: loads through Dagster's own loader; the nightly job runs on
  the k8s_job_executor; a forecast shard's step Job is built by dagster-k8s.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE_WORKDIR = "/opt/forgecast"

FAKE_ENV = {
    "FORGECAST_DAGSTER_PG_URL": "postgresql+psycopg2://dagster:secret@db.invalid:5432/dagster",
    "FORGECAST_IMAGE": "forgecast:test",
    "FORGECAST_DOCKER_NETWORK": "forgecast",
}


def load(path: Path):
    return yaml.safe_load(path.read_text())


def env_refs(node) -> set[str]:
    """Environment variables a Dagster config names with {env: NAME}."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {node["env"]}
        return set().union(*(env_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_refs(v) for v in node)) if node else set()
    return set()


def validate_class_config(section: dict) -> object:
    """A configurable class's config, processed by the class's own schema."""
    from dagster._config import process_config
    from dagster._serdes.config_class import ConfigurableClassData

    # Dagster's own resolution of the module path (dagster.core -> dagster._core).
    data = ConfigurableClassData(section["module"], section["class"], "{}")
    cls = getattr(importlib.import_module(data.module_name), data.class_name)
    result = process_config(cls.config_type(), section.get("config", {}))
    assert result.success, f"{section['class']}: {[e.message for e in result.errors]}"
    return result.value


# ----------------------------------------------------------------------------- dagster.yaml
@pytest.fixture
def production_home(tmp_path, monkeypatch) -> Path:
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    return tmp_path


def test_production_dagster_yaml_passes_dagsters_validation(production_home):
    from dagster._core.instance.config import dagster_instance_config

    config, custom_class = dagster_instance_config(str(production_home), "dagster.yaml")
    assert custom_class is None
    for section in ("run_coordinator", "run_launcher", "compute_logs", "local_artifact_storage"):
        validate_class_config(config[section])

    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "FORGECAST_DAGSTER_PG_URL"}
    runs = config["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] > 0 and runs["tag_concurrency_limits"]
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]
    assert config["retention"]["schedule"]["purge_after_days"] > 0
    assert env_refs(config) == set(FAKE_ENV)


def test_tag_limits_name_real_schedules_and_sensors():
    from orchestration.definitions import defs

    config = load(DEPLOY / "dagster.yaml")
    helm = load(DEPLOY / "helm" / "values.yaml")
    for limits in (config["concurrency"]["runs"]["tag_concurrency_limits"],
                   helm["concurrency"]["runs"]["tagConcurrencyLimits"]):
        for limit in limits:
            if limit["key"] == "dagster/schedule_name":
                assert defs.get_schedule_def(limit["value"])
            elif limit["key"] == "dagster/sensor_name":
                assert defs.get_sensor_def(limit["value"])
            elif limit["key"] == "dagster/partition":  # one run per partition at a time
                assert limit == {"key": "dagster/partition", "limit": 1,
                                 "value": {"applyLimitPerUniqueValue": True}}
            else:
                assert limit["key"] == "dagster/backfill", limit


def test_production_instance_runs_on_postgres(production_home, server, conn, monkeypatch):
    """The very file, as a live instance on PostgreSQL: storage tables created, the run
    queue, the Docker launcher and the monitoring/retry/retention settings in force."""
    from dagster import DagsterInstance
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_docker import DockerRunLauncher
    from psycopg import sql

    scratch = "forgecast_deploy_check"
    conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(scratch)))
    conn.execute(sql.SQL("create database {}").format(sql.Identifier(scratch)))
    monkeypatch.setenv("FORGECAST_DAGSTER_PG_URL",
                       server.url(scratch, driver="psycopg2").render_as_string(hide_password=False))
    try:
        instance = DagsterInstance.from_config(str(production_home))
        try:
            assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
            assert isinstance(instance.run_launcher, DockerRunLauncher)
            assert instance.run_launcher.image == FAKE_ENV["FORGECAST_IMAGE"]
            assert instance.run_monitoring_enabled
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
            queue = instance.get_concurrency_config().run_queue_config
            assert queue.max_concurrent_runs == 8
            assert {limit["key"] for limit in queue.tag_concurrency_limits} >= {
                "dagster/schedule_name", "dagster/backfill"}
            assert instance.get_runs() == []  # storage is live
            assert not instance.telemetry_enabled
        finally:
            instance.dispose()
    finally:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(scratch)))


# ----------------------------------------------------------------------------- workspace
def test_workspace_yaml_matches_dagsters_schema(monkeypatch):
    from dagster._core.workspace.config_schema import ensure_workspace_config

    monkeypatch.setenv("FORGECAST_CODE_SERVER_HOST", "code-server")
    monkeypatch.setenv("FORGECAST_CODE_SERVER_PORT", "4000")
    path = DEPLOY / "workspace.yaml"
    config = load(path)
    ensure_workspace_config(config, str(path))
    (entry,) = config["load_from"]
    server = entry["grpc_server"]
    assert server["location_name"] == "forgecast"
    assert env_refs(server) == {"FORGECAST_CODE_SERVER_HOST", "FORGECAST_CODE_SERVER_PORT"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_workspace_loads_the_compose_code_server(monkeypatch):
    """Start the code server exactly as docker-compose does (host and port swapped for
    loopback), then load deploy/workspace.yaml the way the webserver does."""
    from dagster import instance_for_test
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._grpc.client import DagsterGrpcClient

    compose = load(DEPLOY / "docker-compose.yml")
    command = list(compose["services"]["code-server"]["command"])
    port = _free_port()
    command[command.index("-h") + 1] = "127.0.0.1"
    command[command.index("-p") + 1] = str(port)
    command[command.index("-d") + 1] = str(ROOT)
    image = "forgecast:test"
    command[command.index("--container-image") + 1] = image
    dagster_cli = Path(sys.executable).with_name(command[0])
    proc = subprocess.Popen([str(dagster_cli), *command[1:]], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"code server exited: {proc.stdout.read().decode()[-3000:]}")
            with contextlib.suppress(Exception):
                client.ping("")
                break
            assert time.monotonic() < deadline, "code server did not answer within 180 s"
            time.sleep(1)

        monkeypatch.setenv("FORGECAST_CODE_SERVER_HOST", "127.0.0.1")
        monkeypatch.setenv("FORGECAST_CODE_SERVER_PORT", str(port))
        target = WorkspaceFileTarget(paths=[str(DEPLOY / "workspace.yaml")])
        with instance_for_test() as instance, WorkspaceProcessContext(instance, target) as workspace:
            entry = workspace.create_request_context().get_code_location_entries().get("forgecast")
            assert entry is not None
            assert entry.load_error is None, entry.load_error
            location = entry.code_location
            assert location.container_image == image
            (repository,) = location.get_repositories().values()
            keys = {"/".join(node.asset_key.path) for node in repository.get_asset_node_snaps()}
            assert {"notify/notifications", "forecast/forecasts"} <= keys
            assert repository.has_job("nightly")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# ----------------------------------------------------------------------------- compose
COMPOSE_SERVICES = {"postgres", "migrate", "code-server", "webserver", "daemon"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key.strip(): value for key, value in pairs}


def interpolate(node, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ escapes."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def one(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op and op.endswith("?") and not value:
            raise AssertionError(f"{name} is required: {arg}")
        if op and op.endswith("-") and not value:
            return arg
        assert value is not None, f"${{{name}}} has no default and no value in .env.example"
        return value

    return INTERPOLATION.sub(one, node.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    raw = load(DEPLOY / "docker-compose.yml")
    return interpolate(raw, _dotenv(DEPLOY / ".env.example"))


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_services_images_and_builds(compose):
    services = compose["services"]
    assert set(services) == COMPOSE_SERVICES
    forgecast = {name: s for name, s in services.items() if name != "postgres"}
    assert len({s["image"] for s in forgecast.values()}) == 1
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context == ROOT, build
            assert (context / build["dockerfile"]).is_file(), build
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["restart"] == "no"
    for name in ("code-server", "webserver", "daemon", "postgres"):
        assert services[name]["restart"] == "unless-stopped", name


def test_compose_startup_order(compose):
    services = compose["services"]
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            assert condition in DEPENDS_CONDITIONS, condition
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"

    def depth(name: str, seen: tuple = ()) -> int:
        assert name not in seen, f"depends_on cycle: {seen + (name,)}"
        deps = services[name].get("depends_on", {})
        return 1 + max((depth(d, seen + (name,)) for d in deps), default=0)

    order = sorted(services, key=depth)
    assert order.index("postgres") < order.index("migrate") < order.index("code-server")
    assert order.index("code-server") < order.index("webserver")
    assert order.index("code-server") < order.index("daemon")
    assert services["code-server"]["depends_on"]["migrate"]["condition"] == \
        "service_completed_successfully"


def test_compose_environment_feeds_instance_workspace_and_runs(compose):
    services = compose["services"]
    instance = load(DEPLOY / "dagster.yaml")
    workspace = load(DEPLOY / "workspace.yaml")
    launcher = instance["run_launcher"]["config"]
    needed = env_refs(instance) | env_refs(workspace) | {"DAGSTER_HOME"}
    for name in ("webserver", "daemon"):
        env = _environment(services[name])
        assert needed <= set(env), f"{name} lacks {needed - set(env)}"
        # The daemon hands these to every run container: each must be set.
        assert set(launcher["env_vars"]) <= set(env), set(launcher["env_vars"]) - set(env)
    for name in ("migrate", "code-server"):
        env = _environment(services[name])
        assert {"DATABASE_URL", "FORGECAST_DAGSTER_PG_URL", "FORGECAST_NOTIFY_SECRET_KEY"} <= set(env)

    env = _environment(services["daemon"])
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    # Dagster's storage through psycopg2, on the compose PostgreSQL, in its own database.
    from sqlalchemy.engine import make_url

    dagster_url = make_url(env["FORGECAST_DAGSTER_PG_URL"])
    warehouse_url = make_url(env["DATABASE_URL"])
    assert dagster_url.drivername == "postgresql+psycopg2"
    assert dagster_url.host == warehouse_url.host == "postgres"
    assert dagster_url.database == env["FORGECAST_DAGSTER_DATABASE"] != warehouse_url.database
    assert warehouse_url.database == _environment(services["postgres"])["POSTGRES_DB"]
    # The workspace reaches the code server where compose runs it.
    command = services["code-server"]["command"]
    assert env["FORGECAST_CODE_SERVER_HOST"] == "code-server"
    assert env["FORGECAST_CODE_SERVER_PORT"] == command[command.index("-p") + 1]
    assert command[command.index("--location-name") + 1] == \
        workspace["load_from"][0]["grpc_server"]["location_name"]
    for name in ("webserver", "daemon"):
        cmd = services[name]["command"]
        assert cmd[cmd.index("-w") + 1] == f"{IMAGE_WORKDIR}/deploy/workspace.yaml"
    # Run containers join the compose network and mount the compose volumes by name.
    assert env["FORGECAST_DOCKER_NETWORK"] in {n["name"] for n in compose["networks"].values()}
    volume_names = {v["name"] for v in compose["volumes"].values()}
    for mount in launcher["container_kwargs"]["volumes"]:
        assert mount.split(":")[0] in volume_names, mount
    assert env["FORGECAST_IMAGE"] == services["code-server"]["image"]


def test_compose_settings_are_accepted_by_forgecast(compose):
    from resources.settings import Settings

    env = _environment(compose["services"]["code-server"])
    settings = Settings(database_url=env["DATABASE_URL"], data_dir=env["FORGECAST_DATA_DIR"],
                        notify_secret_key=env["FORGECAST_NOTIFY_SECRET_KEY"],
                        timezone=env["FORGECAST_TIMEZONE"],
                        nightly_cron=env["FORGECAST_NIGHTLY_CRON"])
    assert not settings.uses_embedded_database


def test_compose_mounts_and_ports(compose):
    services = compose["services"]
    for name in ("webserver", "daemon"):
        mounts = services[name]["volumes"]
        assert "/var/run/docker.sock:/var/run/docker.sock" in mounts, name
        assert any(m.endswith(":/opt/dagster/compute_logs") for m in mounts), name
    (published,) = services["webserver"]["ports"]
    host, host_port, container_port = published.split(":")
    assert host == "127.0.0.1" and container_port == "3000"
    for name, service in services.items():
        assert service["networks"] == ["forgecast"], name


# ----------------------------------------------------------------------------- Dockerfile
def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_builds_the_code_location():
    steps = dockerfile_instructions()
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11")
    workdir = [arg for op, arg in steps if op == "WORKDIR"]
    assert workdir == [IMAGE_WORKDIR]
    for op, arg in steps:
        if op == "COPY" and not arg.startswith("--"):
            *sources, _ = arg.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    run = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install -e '.[deploy]'" in run
    assert "dbt parse" in run
    assert ("USER", "forgecast") in steps

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["deploy"]
    dagster_pin = next(d for d in project["dependencies"] if d.startswith("dagster-postgres=="))
    integration_version = dagster_pin.split("==")[1]
    assert sorted(extra) == [f"dagster-docker=={integration_version}",
                             f"dagster-k8s=={integration_version}"]

    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    copies = [arg for op, arg in steps if op == "COPY"]
    assert "deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in copies

    cmd = yaml.safe_load(dict(steps)["CMD"])
    compose = load(DEPLOY / "docker-compose.yml")["services"]["code-server"]["command"]
    assert cmd == compose[:len(cmd)], "the image's CMD and compose's code server differ"
    assert dict(steps)["EXPOSE"] == cmd[cmd.index("-p") + 1]


def test_dockerignore_keeps_what_the_dockerfile_copies():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for op, arg in dockerfile_instructions():
        if op == "COPY":
            *sources, _ = arg.split()
            for source in sources:
                assert source.rstrip("/").split("/")[0] in allowed, source


# ----------------------------------------------------------------------------- Helm
# Keys of Dagster's chart (helm/dagster values schema, chart 1.13); the chart rejects
# unknown keys in these sections.
CHART_TOP_LEVEL = {
    "global", "dagsterWebserver", "dagster-user-deployments", "postgresql",
    "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "rabbitmq", "redis",
    "flower", "ingress", "imagePullSecrets", "computeLogManager", "scheduler", "runLauncher",
    "pythonLogs", "dagsterDaemon", "busybox", "migrate", "telemetry", "serviceAccount",
    "retention", "concurrency", "additionalInstanceConfig", "nameOverride", "fullnameOverride",
    "rbacEnabled",
}
CHART_SECTIONS = {
    "global": {"postgresqlSecretName", "dagsterHome", "serviceAccountName",
               "celeryConfigSecretName", "dagsterInstanceConfigMap"},
    "dagsterWebserver": {
        "replicaCount", "image", "nameOverride", "pathPrefix", "service", "workspace", "env",
        "envConfigMaps", "envSecrets", "deploymentLabels", "labels", "nodeSelector",
        "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
        "readinessProbe", "livenessProbe", "startupProbe", "annotations", "enableReadOnly",
        "dbStatementTimeout", "dbPoolRecycle", "dbPoolMaxOverflow", "logLevel", "logFormat",
        "schedulerName", "volumeMounts", "volumes", "initContainerResources",
        "extraContainers", "extraPrependedInitContainers"},
    "dagsterDaemon": {
        "enabled", "image", "runCoordinator", "heartbeatTolerance", "env", "envConfigMaps",
        "envSecrets", "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations",
        "podSecurityContext", "securityContext", "resources", "livenessProbe",
        "readinessProbe", "startupProbe", "annotations", "runMonitoring", "runRetries",
        "sensors", "schedules", "schedulerName", "volumeMounts", "volumes", "logLevel",
        "logFormat", "initContainerResources", "extraContainers",
        "extraPrependedInitContainers", "checkDbReadyInitContainer"},
    "postgresql": {"image", "enabled", "postgresqlHost", "postgresqlUsername",
                   "postgresqlPassword", "postgresqlDatabase", "postgresqlParams",
                   "postgresqlScheme", "service"},
    "concurrency": {"enabled", "pools", "runs"},
    "retention": {"enabled", "sensor", "schedule", "autoMaterialize"},
}
K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
    "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
    "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig",
}
RUN_K8S_CONFIG_KEYS = {"containerConfig", "podSpecConfig", "podTemplateSpecMetadata",
                       "jobSpecConfig", "jobMetadata"}
QUEUED_COORDINATOR_KEYS = {"maxConcurrentRuns", "tagConcurrencyLimits",
                           "dequeueIntervalSeconds", "dequeueNumWorkers", "dequeueUseThreads",
                           "blockOpConcurrencyLimitedRuns"}
USER_DEPLOYMENT_KEYS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
    "port", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity",
    "tolerations", "podSecurityContext", "securityContext", "resources", "livenessProbe",
    "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes", "schedulerName",
    "initContainers", "sidecarContainers", "deploymentLabels", "deploymentStrategy",
}
CHART_RELEASE = "forgecast"
CHART_NAMESPACE = "forgecast"


@pytest.fixture(scope="module")
def helm() -> dict:
    return load(DEPLOY / "helm" / "values.yaml")


def test_helm_values_follow_the_chart_structure(helm):
    assert set(helm) <= CHART_TOP_LEVEL, set(helm) - CHART_TOP_LEVEL
    for section, keys in CHART_SECTIONS.items():
        assert set(helm.get(section, {})) <= keys, (section, set(helm[section]) - keys)
    launcher = helm["runLauncher"]
    assert set(launcher) == {"type", "config"}
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    assert set(k8s) <= K8S_RUN_LAUNCHER_KEYS, set(k8s) - K8S_RUN_LAUNCHER_KEYS
    assert {"imagePullPolicy", "loadInclusterConfig", "envConfigMaps", "envSecrets", "envVars",
            "volumeMounts", "volumes"} <= set(k8s)  # required by the chart's schema
    assert set(k8s.get("runK8sConfig", {})) <= RUN_K8S_CONFIG_KEYS
    coordinator = helm["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert set(queued) <= QUEUED_COORDINATOR_KEYS
    # The chart fails on limits set twice (concurrency.runs and the run coordinator).
    assert "maxConcurrentRuns" not in queued and "tagConcurrencyLimits" not in queued
    assert helm["concurrency"]["enabled"]
    assert set(helm["concurrency"]["pools"]) <= {"defaultLimit", "granularity",
                                                 "opGranularityRunBuffer"}
    assert set(helm["concurrency"]["runs"]) <= {"maxConcurrentRuns", "tagConcurrencyLimits"}
    for limit in helm["concurrency"]["runs"]["tagConcurrencyLimits"]:
        assert set(limit) <= {"key", "value", "limit"}

    users = helm["dagster-user-deployments"]
    assert users["enabled"] and users["enableSubchart"]
    (deployment,) = users["deployments"]
    assert set(deployment) <= USER_DEPLOYMENT_KEYS, set(deployment) - USER_DEPLOYMENT_KEYS
    assert deployment["name"] and deployment["port"] and deployment["image"]["tag"]

    assert helm["postgresql"]["enabled"] is False
    assert helm["generatePostgresqlPasswordSecret"] is False


def test_helm_images_match_the_pinned_dagster(helm):
    import dagster

    for section in ("dagsterWebserver", "dagsterDaemon"):
        image = helm[section]["image"]
        assert image["repository"].endswith("dagster/dagster-k8s")
        assert image["tag"] == dagster.__version__


def test_helm_user_deployment_serves_the_k8s_code_location(helm):
    from dagster._cli.api import grpc_command

    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    # The chart runs `dagster api grpc -h 0.0.0.0 -p <port> <args>`: the args must parse.
    context = grpc_command.make_context("grpc", ["-h", "0.0.0.0", "-p", str(deployment["port"]),
                                                 *args])
    python_file = Path(context.params["python_file"])
    assert python_file.is_relative_to(IMAGE_WORKDIR)
    assert (ROOT / python_file.relative_to(IMAGE_WORKDIR)).is_file()
    assert context.params["working_directory"] == IMAGE_WORKDIR
    assert context.params["location_name"] == "forgecast"
    assert context.params["attribute"] == "defs"
    assert {"name": "forgecast-secrets"} in deployment["envSecrets"]
    assert deployment["env"]["FORGECAST_DATA_DIR"] in {
        m["mountPath"] for m in deployment["volumeMounts"]}


def render_chart_instance(helm: dict) -> dict:
    """The instance the chart writes into its ConfigMap (templates/configmap-instance.yaml)
    for the features these values use, keys renamed as the chart's templates do."""
    pg = helm["postgresql"]
    storage = {"postgres_db": {
        "username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"], "params": pg.get("postgresqlParams", {}),
        "scheme": pg["postgresqlScheme"]}}
    k8s = helm["runLauncher"]["config"]["k8sRunLauncher"]
    launcher = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or CHART_NAMESPACE,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": f"{CHART_RELEASE}-dagster",
        "dagster_home": helm["global"]["dagsterHome"],
        "instance_config_map": f"{CHART_RELEASE}-dagster-instance",
        "postgres_password_secret": helm["global"]["postgresqlSecretName"],
    }
    renames = {"envConfigMaps": "env_config_maps", "envSecrets": "env_secrets",
               "envVars": "env_vars", "volumeMounts": "volume_mounts", "volumes": "volumes",
               "labels": "labels", "resources": "resources", "schedulerName": "scheduler_name",
               "securityContext": "security_context"}
    for key, name in renames.items():
        if k8s.get(key):
            value = k8s[key]
            if key in ("envConfigMaps", "envSecrets"):
                value = [item["name"] for item in value]
            launcher[name] = value
    if k8s.get("failPodOnRunFailure"):
        launcher["fail_pod_on_run_failure"] = True
    if k8s.get("runK8sConfig"):
        snake = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
                 "podTemplateSpecMetadata": "pod_template_spec_metadata",
                 "jobSpecConfig": "job_spec_config", "jobMetadata": "job_metadata"}
        launcher["run_k8s_config"] = {snake[k]: v for k, v in k8s["runK8sConfig"].items()}

    daemon = helm["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator_config = {}
    if queued.get("dequeueUseThreads"):
        coordinator_config["dequeue_use_threads"] = queued["dequeueUseThreads"]
    if queued.get("dequeueNumWorkers"):
        coordinator_config["dequeue_num_workers"] = queued["dequeueNumWorkers"]
    monitoring = daemon["runMonitoring"]
    retries = daemon["runRetries"]
    concurrency = helm["concurrency"]
    pools, runs = concurrency["pools"], concurrency["runs"]
    instance = {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {"module": "dagster_postgres.schedule_storage",
                             "class": "PostgresScheduleStorage", "config": storage},
        "run_storage": {"module": "dagster_postgres.run_storage",
                        "class": "PostgresRunStorage", "config": storage},
        "event_log_storage": {"module": "dagster_postgres.event_log",
                              "class": "PostgresEventLogStorage", "config": storage},
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": launcher},
        "run_coordinator": {"module": "dagster.core.run_coordinator",
                            "class": "QueuedRunCoordinator", "config": coordinator_config},
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"]},
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"]},
        "sensors": {"use_threads": daemon["sensors"]["useThreads"],
                    "num_workers": daemon["sensors"]["numWorkers"]},
        "schedules": {"use_threads": daemon["schedules"]["useThreads"],
                      "num_workers": daemon["schedules"]["numWorkers"]},
        "telemetry": {"enabled": helm["telemetry"]["enabled"]},
        "concurrency": {
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
            "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"],
                     "tag_concurrency_limits": runs["tagConcurrencyLimits"]}},
    }
    retention = helm["retention"]
    if retention["enabled"]:
        instance["retention"] = {
            name: {"purge_after_days": retention[key]["purgeAfterDays"]}
            for key, name in (("sensor", "sensor"), ("schedule", "schedule"),
                              ("autoMaterialize", "auto_materialize")) if key in retention}
    return instance


def test_helm_renders_an_instance_dagster_accepts(helm, tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy.engine import make_url

    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "secret")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(render_chart_instance(helm)))
    config, _ = dagster_instance_config(str(tmp_path), "dagster.yaml")
    launcher = validate_class_config(config["run_launcher"])
    assert launcher["fail_pod_on_run_failure"] is True
    validate_class_config(config["run_coordinator"])
    storage = validate_class_config(config["run_storage"])
    url = make_url(pg_url_from_config(storage))
    assert url.drivername == "postgresql+psycopg2"
    assert url.host == helm["postgresql"]["postgresqlHost"]
    assert url.query.get("sslmode") == "require"


# ----------------------------------------------------------------------------- k8s executor
@pytest.fixture(scope="module")
def k8s_module():
    path = DEPLOY / "definitions_k8s.py"
    spec = importlib.util.spec_from_file_location("forgecast_definitions_k8s", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_k8s_definitions_load_through_dagsters_loader():
    """What `dagster api grpc --python-file deploy/definitions_k8s.py` does first: find
    exactly one Definitions at module scope."""
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_file

    targets = loadable_targets_from_python_file(str(DEPLOY / "definitions_k8s.py"),
                                                working_directory=str(ROOT))
    assert [t.attribute for t in targets] == ["defs"]


def test_nightly_steps_run_as_kubernetes_jobs(k8s_module):
    defs = k8s_module.defs
    job = defs.resolve_job_def("nightly")
    assert job.executor_def.name == "forgecast_k8s_job_executor"
    from dagster._config import process_config
    from dagster_k8s import k8s_job_executor

    config = k8s_module.EXECUTOR_CONFIG
    result = process_config(k8s_job_executor.config_schema.config_type, config)
    assert result.success, [e.message for e in result.errors]
    op_names = {node.name for node in job.graph.iterate_op_defs()}
    # One op mapped over the run's shards (dynamic outputs): no fixed count to keep in step.
    assert "forecast_shard" in op_names, "the nightly job has no forecast shard op"
    assert not any(re.fullmatch(r"forecast_shard_\d+", name) for name in op_names)
    assert set(config["per_step_k8s_config"]) == {"forecast_shard"}


def test_a_forecast_shard_step_job_is_valid_kubernetes(k8s_module, helm):
    """dagster-k8s builds the step's V1Job from the launcher (Helm values) and the executor
    config: every key must be a real Kubernetes field."""
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
    )

    launcher = render_chart_instance(helm)["run_launcher"]["config"]
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job_config = DagsterK8sJobConfig(
        job_image=image, dagster_home=launcher["dagster_home"],
        image_pull_policy=launcher["image_pull_policy"], image_pull_secrets=[],
        service_account_name=launcher["service_account_name"],
        instance_config_map=launcher["instance_config_map"],
        postgres_password_secret=launcher["postgres_password_secret"],
        env_config_maps=launcher.get("env_config_maps", []),
        env_secrets=launcher.get("env_secrets", []), env_vars=launcher.get("env_vars", []),
        volume_mounts=launcher.get("volume_mounts", []), volumes=launcher.get("volumes", []),
        labels=launcher.get("labels", {}), resources={}, scheduler_name=None,
        security_context={})
    config = k8s_module.EXECUTOR_CONFIG
    step = UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"])
    shard = UserDefinedDagsterK8sConfig.from_dict(config["per_step_k8s_config"]["forecast_shard"])
    merged = UserDefinedDagsterK8sConfig.from_dict({
        **config["step_k8s_config"], **config["per_step_k8s_config"]["forecast_shard"]})
    for user_config in (step, shard, merged):
        k8s_job = construct_dagster_k8s_job(
            job_config, ["dagster", "api", "execute_step"], "dagster-step-test",
            user_defined_k8s_config=user_config, component="step_worker")
        pod = k8s_job.spec.template.spec
        assert pod.volumes[0].persistent_volume_claim.claim_name == "forgecast-data"
        assert pod.containers[0].image == image
    container = k8s_job.spec.template.spec.containers[0]
    assert container.resources.requests == k8s_module.SHARD_RESOURCES["requests"]
    assert k8s_job.spec.template.spec.topology_spread_constraints[0].topology_key == \
        "kubernetes.io/hostname"


def test_docs_describe_every_deploy_file():
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != ".env.example" and "__pycache__" not in path.parts:
            assert str(path.relative_to(ROOT)) in docs, f"docs/deploy.md does not mention {path}"
    assert "docker compose -f deploy/docker-compose.yml up -d --build" in docs
