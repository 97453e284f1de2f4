"""The Dagster UI, proven in a real browser.

`forgecast ui` (webserver + daemon, `dagster dev`) runs on its own embedded PostgreSQL in a
temporary data directory; headless Chromium (Debian's, driven by Playwright) opens the
global asset lineage and the lineage upstream of the notifications asset, checks that every
stage is on screen (landing-zone ingest -> dbt staging/unified -> forecasts -> projected
inventory -> alerts -> notifications), then materializes an asset from the UI and waits
for its run page to say "Success". Screenshots of every step go to test-artifacts/e2e/.

The expected graph comes from the webserver's GraphQL API (asset keys, groups, kinds and
dependencies), so the test follows the code location instead of a hard-coded list; it
asserts on keys and groups only, never on partitioning.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"

# The network is closed here: without these Chromium keeps calling home.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1600, "height": 1000}
TALL_VIEWPORT = {"width": 2000, "height": 3200}

STAGE_GROUPS = ("ingest", "unified", "forecast", "alerts", "notify")
NOTIFICATIONS = "notify/notifications"
FORECAST_CHAIN = ("forecast/forecasts", "forecast/projected_inventory", "alerts/forecast_alerts")
# What the UI materializes: quick, needs no upstream data (no alerts -> nothing to send).
MATERIALIZE_TARGET = NOTIFICATIONS

STARTUP_TIMEOUT = 300.0
RUN_TIMEOUT = 240.0
UI_TIMEOUT_MS = 60_000


# ----------------------------------------------------------------------------- helpers
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium() -> str | None:
    for candidate in (os.environ.get("FORGECAST_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _key(path: list[str]) -> str:
    return "/".join(path)


def _label_matches(label: str, name: str) -> bool:
    """The graph shortens long names in the middle ("project…_inventory")."""
    label = label.strip()
    if label == name:
        return True
    if "…" not in label:
        return False
    head, _, tail = label.partition("…")
    return (len(head) + len(tail) < len(name) and name.startswith(head)
            and name.endswith(tail.strip()))


def _unmatched(names: list[str], labels: list[str]) -> list[str]:
    """Names that get no node label of their own (bipartite matching, since two long
    names could share a shortened label)."""
    owner: dict[int, str] = {}

    def assign(name: str, seen: set[int]) -> bool:
        for i, label in enumerate(labels):
            if i in seen or not _label_matches(label, name):
                continue
            seen.add(i)
            if i not in owner or assign(owner[i], seen):
                owner[i] = name
                return True
        return False

    return [name for name in names if not assign(name, set())]


@dataclass
class Ui:
    base_url: str
    data_dir: Path
    pgid: int
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.base_url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.load(response)
        assert "errors" not in payload, payload
        return payload["data"]


ASSET_NODES = """{ assetNodes { assetKey { path } groupName kinds isMaterializable
  isPartitioned dependencyKeys { path } } }"""
LOCATION_STATUS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
  status assetSelection { path } } } }"""


def _wait_until_ready(ui: Ui, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "webserver not answering"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`forgecast ui` exited with {proc.returncode}:\n{_log_tail(ui.log)}")
        try:
            with urllib.request.urlopen(f"{ui.base_url}/server_info", timeout=5):
                pass
            entries = ui.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            status = {e["name"]: e for e in entries}
            entry = status.get("forgecast")
            if entry and entry["loadStatus"] == "LOADED":
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    pytest.fail(f"code location failed to load: {error['message']}")
                if ui.graphql(ASSET_NODES)["assetNodes"]:
                    return
            last = f"code location: {entry and entry['loadStatus']}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = f"webserver: {exc}"
        time.sleep(1.0)
    pytest.fail(f"the UI was not ready within {STARTUP_TIMEOUT:.0f}s ({last}):\n{_log_tail(ui.log)}")


def _group_members(pgid: int) -> list[psutil.Process]:
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                alive.append(proc)
    return alive


def _describe(proc: psutil.Process) -> str:
    try:
        return f"{proc.pid}: {' '.join(proc.cmdline())[:160]}"
    except psutil.Error:
        return f"{proc.pid}: (exited)"


def _processes_using(data_dir: Path) -> list[str]:
    """Anything still running out of the temporary data dir (the embedded server)."""
    found = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(data_dir) in cmdline:
                found.append(f"{proc.pid}: {cmdline[:160]}")
    return found


def _stop_group(proc: subprocess.Popen, pgid: int) -> None:
    """`dagster dev` does not always take its webserver, daemon and code server down with
    it: interrupt the whole process group, then kill whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium before the tests")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def ui(chromium_path, tmp_path_factory) -> Ui:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    data_dir = tmp_path_factory.mktemp("fc-ui")
    port = _free_port()
    env = dict(os.environ, FORGECAST_DATA_DIR=str(data_dir))
    # Its own embedded server and Dagster home, whatever this process was pointed at.
    for name in ("DAGSTER_HOME", "FORGECAST_DAGSTER_PG_URL", "DATABASE_URL",
                 "FORGECAST_DAGSTER_HOME", "FORGECAST_LANDING_DIR"):
        env.pop(name, None)
    forgecast = Path(sys.executable).with_name("forgecast")
    command = ([str(forgecast)] if forgecast.exists()
               else [sys.executable, "-m", "orchestration.cli"])
    log = ARTIFACTS / "forgecast-ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*command, "ui", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pgid = proc.pid  # start_new_session: the child leads its own group
    handle = Ui(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, pgid=pgid, log=log)
    try:
        _wait_until_ready(handle, proc)
        yield handle
    finally:
        _stop_group(proc, pgid)
        subprocess.run([*command, "db", "down"], cwd=ROOT, env=env, capture_output=True,
                       timeout=120, check=False)
        leftovers = [_describe(p) for p in _group_members(pgid)] + _processes_using(data_dir)
        assert not leftovers, f"processes left running after the UI stopped: {leftovers}"


@pytest.fixture(scope="module")
def asset_graph(ui) -> dict[str, dict]:
    nodes = ui.graphql(ASSET_NODES)["assetNodes"]
    return {_key(n["assetKey"]["path"]): {
        "group": n["groupName"], "kinds": set(n["kinds"]),
        "deps": {_key(d["path"]) for d in n["dependencyKeys"]},
        "materializable": n["isMaterializable"], "partitioned": n["isPartitioned"],
    } for n in nodes}


@pytest.fixture(scope="module")
def page(ui, chromium_path):
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="fc-chromium-")
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        # A persistent context on a fresh directory: Chromium's --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS,
            viewport=VIEWPORT)
        context.set_default_timeout(UI_TIMEOUT_MS)
        tab = context.pages[0] if context.pages else context.new_page()
        tab.on("console", lambda msg: console_errors.append(msg.text)
               if msg.type == "error" else None)
        dismiss_community_dialog(tab, ui)
        try:
            yield tab
        finally:
            (ARTIFACTS / "browser-console-errors.txt").write_text("\n".join(console_errors))
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def dismiss_community_dialog(page, ui: Ui) -> None:
    """A fresh browser gets a "Join the Dagster community" dialog over the first page it
    opens, a few seconds after load. Skip it once (the UI remembers that in the browser's
    storage), and skip it again should it ever come back in front of an action."""
    skip = page.get_by_role("button", name="Skip")
    page.add_locator_handler(skip, lambda button: button.click())
    page.goto(f"{ui.base_url}/overview", wait_until="domcontentloaded")
    with contextlib.suppress(Exception):
        skip.wait_for(state="visible", timeout=20_000)
        skip.click()
        skip.wait_for(state="hidden")


def open_ui(page, ui: Ui, path: str) -> None:
    page.goto(f"{ui.base_url}{path}", wait_until="domcontentloaded")


def graph_labels(page) -> list[str]:
    """Text of every node drawn in the asset graph (SVG foreignObjects)."""
    texts = page.evaluate("""() => Array.from(document.querySelectorAll('svg foreignObject'))
        .map(node => Array.from(node.children).map(child => child.innerText).join('\\n'))""")
    return [line.strip() for text in texts for line in text.splitlines() if line.strip()]


def wait_for_labels(page, names: list[str], timeout: float = 60.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        labels = graph_labels(page)
        missing = _unmatched(names, labels)
        if not missing or time.monotonic() > deadline:
            return missing
        page.wait_for_timeout(500)


def upstream_of(graph: dict[str, dict], key: str) -> set[str]:
    seen: set[str] = set()
    todo = [key]
    while todo:
        for dep in graph[todo.pop()]["deps"]:
            if dep in graph and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def depth_to(graph: dict[str, dict], key: str) -> int:
    def depth(k: str) -> int:
        deps = [d for d in graph[k]["deps"] if d in graph]
        return 1 + max((depth(d) for d in deps), default=0)
    return depth(key)


# ----------------------------------------------------------------------------- tests
def test_code_location_has_the_whole_pipeline(asset_graph):
    """What the browser must show, as the webserver itself reports it."""
    assert NOTIFICATIONS in asset_graph, sorted(asset_graph)
    upstream = upstream_of(asset_graph, NOTIFICATIONS)
    for key in FORECAST_CHAIN:
        assert key in upstream, f"{key} is not upstream of {NOTIFICATIONS}"
    groups = {asset_graph[k]["group"] for k in upstream}
    assert {"ingest", "unified", "forecast", "alerts"} <= groups, groups
    dbt_models = {k for k in upstream if "dbt" in asset_graph[k]["kinds"]}
    assert {asset_graph[k]["group"] for k in dbt_models} == {"unified"}, dbt_models
    assert any(k.startswith("ingest/") for k in upstream if asset_graph[k]["group"] == "ingest")


def test_global_lineage_shows_every_stage(page, ui, asset_graph):
    open_ui(page, ui, "/asset-groups")
    for group in STAGE_GROUPS:
        page.locator("svg foreignObject", has_text=group).first.wait_for(state="visible")
    labels = graph_labels(page)
    missing = [g for g in STAGE_GROUPS if g not in labels]
    shot(page, "01-global-lineage-groups")
    assert not missing, f"stage groups missing from the global lineage: {missing} in {labels}"

    # Expand every group: each asset of the code location gets its own node.
    page.locator('[aria-label="settings"]').last.click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.wait_for_url("**expanded=**")
    # Reopened on a screen tall enough for the whole expanded graph: the graph is zoomed
    # to fit and draws every node (off-screen nodes are not drawn).
    page.set_viewport_size(TALL_VIEWPORT)
    try:
        page.reload(wait_until="domcontentloaded")
        names = sorted(k.split("/")[-1] for k in asset_graph)
        missing = wait_for_labels(page, names)
        shot(page, "02-global-lineage-expanded")
    finally:
        page.set_viewport_size(VIEWPORT)
    assert not missing, f"assets missing from the expanded lineage: {missing}"


def test_lineage_from_landing_zone_to_notifications(page, ui, asset_graph):
    upstream = upstream_of(asset_graph, NOTIFICATIONS)
    depth = depth_to(asset_graph, NOTIFICATIONS)
    open_ui(page, ui, f"/assets/{NOTIFICATIONS}?view=lineage&lineageScope=upstream"
                      f"&lineageDepth={depth}")
    page.get_by_text("Upstream", exact=True).first.wait_for(state="visible")
    expected = sorted(k.split("/")[-1] for k in upstream | {NOTIFICATIONS})
    missing = wait_for_labels(page, expected)
    shot(page, "03-lineage-upstream-of-notifications")
    assert not missing, f"upstream assets missing from the lineage view: {missing}"
    labels = graph_labels(page)
    shown_groups = [g for g in STAGE_GROUPS if g in labels]
    assert shown_groups == list(STAGE_GROUPS), shown_groups
    # Nothing that is not upstream is drawn: the lineage is exactly ingest -> notify.
    strangers = {k.split("/")[-1] for k in asset_graph} - set(expected)
    drawn = [s for s in strangers if s in labels]
    assert not drawn, f"assets outside the lineage of notifications drawn: {drawn}"


def test_materialize_from_the_ui_succeeds(page, ui, asset_graph):
    target = asset_graph.get(MATERIALIZE_TARGET)
    assert target and target["materializable"], f"{MATERIALIZE_TARGET} is not materializable"
    assert not target["partitioned"], (
        f"{MATERIALIZE_TARGET} became partitioned: pick an unpartitioned asset for this test")
    open_ui(page, ui, f"/assets/{MATERIALIZE_TARGET}")
    page.get_by_text("Never materialized").first.wait_for(state="visible")
    shot(page, "04-asset-before")

    page.locator("button").filter(has_text="Materialize").filter(
        has_not_text="all").first.click()
    # Its upstream alerts were never materialized: the UI asks to confirm.
    confirm = page.get_by_role("button", name="Confirm")
    with contextlib.suppress(Exception):
        confirm.wait_for(state="visible", timeout=8000)
        page.wait_for_timeout(500)  # the dialog fades in
        shot(page, "05-confirm-dialog")
        confirm.click()
    launched = page.locator("a[href*='/runs/']", has_text="View").first
    launched.wait_for(state="visible")
    page.wait_for_timeout(500)  # the toast slides in
    shot(page, "06-run-launched")
    run_path = launched.get_attribute("href")
    run_id = run_path.rstrip("/").split("/")[-1]

    open_ui(page, ui, f"/runs/{run_id}")
    status = page.get_by_text("Success", exact=True).first
    deadline = time.monotonic() + RUN_TIMEOUT
    while not status.is_visible():
        run = ui.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
        if run.get("status") in ("FAILURE", "CANCELED"):
            shot(page, "07-run-failed")
            pytest.fail(f"run {run_id} ended {run['status']}:\n{_log_tail(ui.log)}")
        if time.monotonic() > deadline:
            shot(page, "07-run-timeout")
            pytest.fail(f"run {run_id} not successful after {RUN_TIMEOUT:.0f}s: {run}")
        page.wait_for_timeout(1000)
    shot(page, "07-run-success")
    run = ui.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
    assert run["status"] == "SUCCESS", run
    assert [_key(k["path"]) for k in run["assetSelection"]] == [MATERIALIZE_TARGET], run

    open_ui(page, ui, f"/assets/{MATERIALIZE_TARGET}")
    page.get_by_text("Latest materialization").first.wait_for(state="visible")
    page.get_by_text("Never materialized").first.wait_for(state="hidden")
    shot(page, "08-asset-materialized")
