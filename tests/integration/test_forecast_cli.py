"""`forgecast select` and `forgecast db url --dagster` as a user runs them, on this module's
platform (its warehouse and Dagster databases, see tests/conftest.py): the selection runs
through Dagster (a run of the selection job in the run history), with progress, for one
SKU or all items; the Dagster URL printed is one Dagster's storage accepts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.unified_schema import create_unified_tables

FORGECAST = [sys.executable, "-m", "orchestration.cli"]
ROOT = Path(__file__).resolve().parents[2]
END = date(2026, 2, 27)
SKUS = ("SEL-A", "SEL-B")
LOC = "sap:1000"


def forgecast(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FORGECAST, *args], env=env or dict(os.environ), capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def item_id(sku: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"forgecast-test/select/{sku}"))


@pytest.fixture(scope="module")
def portfolio(settings, server):
    rng = np.random.default_rng(3)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        create_unified_tables(conn, "manufacturing_items", "demand_history")
        for sku in SKUS:
            conn.execute("insert into unified.manufacturing_items (item_id, sku, name, "
                         "lead_time_days, status) values (%s, %s, %s, 7, 'active')",
                         (item_id(sku), sku, f"item {sku}"))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into unified.demand_history (item_id, location_id, demand_date, "
                "quantity, is_stockout) values (%s, %s, %s, %s, false)",
                [(item_id(sku), LOC, END - timedelta(days=k), float(rng.poisson(12)))
                 for sku in SKUS for k in range(150)])
    return server


def rows(server, query: str, database: str | None = None) -> list[tuple]:
    with psycopg.connect(server.conninfo(database), autocommit=True) as conn:
        return conn.execute(query).fetchall()


def selection_runs(server) -> list[tuple]:
    return rows(server, "select run_id, status from runs where pipeline_name = "
                        "'forecast_model_selection'", server.dagster_database)


def test_select_one_sku_through_dagster_with_progress(portfolio):
    server = portfolio
    before = selection_runs(server)
    out = forgecast("select", "--item", "SEL-A", "--as-of", (END - timedelta(days=7)).isoformat())
    assert out.returncode == 0, out.stderr
    assert "model selection: 1/1 items" in out.stderr  # the asset's progress line
    assert "items selected" in out.stdout
    selected = rows(server, "select item_id::text from ml.model_selections "
                            f"where as_of = '{END - timedelta(days=7)}'")
    assert selected == [(item_id("SEL-A"),)]
    runs = selection_runs(server)
    assert len(runs) == len(before) + 1 and runs[-1][1] == "SUCCESS"
    # Its run id is the one the command printed.
    assert runs[-1][0] in out.stdout


def test_select_all_items_then_unknown_sku_and_future_day_fail_clearly(portfolio):
    server = portfolio
    out = forgecast("select")
    assert out.returncode == 0, out.stderr
    assert "model selection: 2/2 items" in out.stderr
    newest = rows(server, "select count(distinct item_id) from ml.model_selections "
                          f"where as_of = '{END}'")
    assert newest == [(2,)]
    unknown = forgecast("select", "--item", "NO-SUCH-SKU")
    assert unknown.returncode != 0
    assert "no item with SKU 'NO-SUCH-SKU'" in unknown.stderr
    future = forgecast("select", "--as-of", (END + timedelta(days=3)).isoformat())
    assert future.returncode != 0 and f"after the newest demand ({END})" in future.stderr


TRIVIAL_RUN = """
import dagster as dg

@dg.asset
def probe():
    return 1

instance = dg.DagsterInstance.get()
assert dg.materialize([probe], instance=instance).success
print(instance.get_run_records(limit=1)[0].dagster_run.job_name)
"""


def test_db_url_dagster_is_a_url_dagster_storage_accepts(portfolio):
    server = portfolio
    printed = forgecast("db", "url", "--dagster")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("postgresql+psycopg2://")
    assert url.split("?")[0].endswith(f"/{server.dagster_database}")
    if server.password:  # masked as the plain URL is: what the user pastes is their own
        assert server.password not in printed.stdout + printed.stderr and ":***@" in url
        url = server.dagster_url()
    # The URL as FORGECAST_DAGSTER_PG_URL: Dagster writes a run's events (and NOTIFYs).
    env = {**os.environ, "FORGECAST_DAGSTER_PG_URL": url}
    run = subprocess.run([sys.executable, "-c", TRIVIAL_RUN], env=env, capture_output=True,
                         text=True, timeout=180, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "__ephemeral_asset_job__"
    # The URL without its driver (what the command printed before) fails right there.
    plain = {**env, "FORGECAST_DAGSTER_PG_URL": url.replace("+psycopg2", "")}
    broken = subprocess.run([sys.executable, "-c", TRIVIAL_RUN], env=plain, capture_output=True,
                            text=True, timeout=180, cwd=ROOT)
    assert broken.returncode != 0
