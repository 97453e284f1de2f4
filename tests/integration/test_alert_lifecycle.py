"""One alert per problem, on a real PostgreSQL with real Dagster runs of forecast_alerts
over two as-of days of prepared projections (no forecasting: the projection is the input
the rules read), and revision 0009 on a throwaway database.

Ten item-locations. D1: WORSENING is below its safety stock (a medium shortage) and holds
stock worth excess; the others are fine. D2: WORSENING runs out inside its lead time and
its demand has been far above the forecast for four days: the same shortage alert
escalates to critical (two events in alert_events), the stockout inhibits the anomaly and
the excess; four more items drop below safety stock, so the open-alert rate jumps 2.5x
and the budget check warns (it passed on D1, the first night).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from assets.alerts.assets import alert_rate_jump, forecast_alerts
from resources.warehouse import WarehouseResource
from tests.unified_schema import create_unified_tables

D1 = date(2026, 3, 9)
D2 = D1 + timedelta(days=1)
LOC = "sap:1000"
LEAD, SAFETY, COST = 10, 40.0, 2.5


def item(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"forgecast-alerts-test/{name}"))


WORSENING = item("worsening")
DIPPING = [item(f"dipping-{k}") for k in range(4)]  # fine on D1, below safety stock on D2
HEALTHY = [item(f"healthy-{k}") for k in range(5)]
ITEMS = [WORSENING, *DIPPING, *HEALTHY]

# (on hand at the as-of day, daily use) of each item's projection per night.
PATHS = {
    D1: {WORSENING: (100, 6), **{i: (400, 5) for i in DIPPING}, **{i: (400, 5) for i in HEALTHY}},
    # Lowest in the lead-time window: 100 - 14 * 11 < 0, and 100 - 6 * 11 = 34 < 40.
    D2: {WORSENING: (100, 14), **{i: (100, 6) for i in DIPPING},
         **{i: (400, 5) for i in HEALTHY}},
}


def prepare(conn) -> None:
    create_unified_tables(conn, "manufacturing_items", "demand_history", "inventory_snapshots")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into unified.manufacturing_items (item_id, sku, name, lead_time_days, "
            "safety_stock, reorder_point, unit_cost, status) values (%s, %s, %s, %s, %s, 80, "
            "%s, 'active')",
            [(i, f"SKU-{k}", f"test item {k}", LEAD, SAFETY, COST) for k, i in enumerate(ITEMS)])
        # WORSENING holds 5,000 (over a year of cover at ~10 a day: excess) though its projection
        # runs low: the demand the projection nets is the forecast's, the stock a count.
        cur.executemany("insert into unified.inventory_snapshots (item_id, location_id, "
                        "snapshot_date, on_hand) values (%s, %s, %s, %s)",
                        [(i, LOC, D1 - timedelta(days=1), 5000 if i == WORSENING else 400)
                         for i in ITEMS])
        # 20 weeks of 1 a day (5 for WORSENING); from D2 - 3 WORSENING sells 50 a day, far
        # above the 0-5 forecast: on D2 its last week is a level shift worth a look (the
        # default rule asks 120 days of history; on D1 three days of it are not enough yet).
        cur.executemany("insert into unified.demand_history (item_id, location_id, demand_date, "
                        "quantity, is_stockout) values (%s, %s, %s, %s, false)",
                        [(i, LOC, D2 - timedelta(days=d),
                          (50.0 if d <= 3 else 5.0) if i == WORSENING else 1.0)
                         for i in ITEMS for d in range(140)])
        cur.executemany("insert into forecast.forecasts (run_id, forecast_date, item_id, "
                        "location_id, target_date, horizon_day, yhat, yhat_lower, yhat_upper, "
                        "model_name, model_version) values ('prep', %s, %s, %s, %s, 1, 1, 0, 5, "
                        "'moving_average', '1')",
                        [(day - timedelta(days=1), i, LOC, day) for i in ITEMS for day in (D1, D2)])


def project(conn, as_of: date) -> None:
    """The as-of day's projection: on hand minus the daily use, 30 days from the next day."""
    rows = []
    for item_id, (on_hand, use) in PATHS[as_of].items():
        for d in range(30):
            stock = on_hand - use * (d + 1)
            rows.append((as_of, item_id, LOC, as_of + timedelta(days=d + 1), stock, stock,
                         use * (d + 1)))
    with conn.cursor() as cur:
        cur.executemany("insert into forecast.projected_inventory (forecast_date, item_id, "
                        "location_id, target_date, projected_on_hand, projected_on_hand_p80, "
                        "cumulative_demand, cumulative_supply, run_id) "
                        "values (%s, %s, %s, %s, %s, %s, %s, 0, 'prep')", rows)


@dataclasses.dataclass(frozen=True)
class Night:
    meta: dict
    check: dg.AssetCheckEvaluation
    alerts: dict  # (type, item) -> (severity, status, last_event, details)


def q(conn, query, params=()):
    return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row)
            for row in conn.execute(query, params).fetchall()]


def night(conn, as_of: date) -> Night:
    project(conn, as_of)
    result = dg.materialize([forecast_alerts, alert_rate_jump], partition_key=as_of.isoformat(),
                            resources={"warehouse": WarehouseResource()}, raise_on_error=True)
    [materialization] = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in
            materialization.step_materialization_data.materialization.metadata.items()}
    [check] = result.get_asset_check_evaluations()
    alerts = {(t, i): tuple(rest) for t, i, *rest in q(
        conn, "select alert_type, item_id, severity, status, last_event, details "
              "from forecast.forecast_alerts")}
    return Night(meta, check, alerts)


@pytest.fixture(scope="module")
def nights(settings):
    from resources.database import connect

    with connect(settings, autocommit=True) as conn:
        prepare(conn)
        first = night(conn, D1)
        second = night(conn, D2)
        events = q(conn, "select dedup_key, event, severity_before, severity_after, as_of "
                         "from forecast.alert_events order by id")
        budgets = q(conn, "select as_of, item_locations, open_alerts, open_per_1000 "
                          "from forecast.alert_budget order by as_of")
    return first, second, events, budgets


def test_below_safety_stock_then_a_stockout_is_one_alert_with_two_events(nights):
    first, second, events, _ = nights
    severity, status, event, details = first.alerts[("shortage", WORSENING)]
    assert (severity, status, event, details["condition"]) == (
        "medium", "open", "raised", "below_safety_stock")
    severity, status, event, details = second.alerts[("shortage", WORSENING)]
    assert (severity, status, event, details["condition"]) == (
        "critical", "open", "escalated", "stockout")
    assert details["stockout_date"] == (D2 + timedelta(days=8)).isoformat()  # 100 - 14 * 8 < 0
    assert [a for a in second.alerts if a[1] == WORSENING and a[0] in ("stockout",
                                                                       "below_safety_stock")] == []
    key = f"shortage:{WORSENING}:{LOC}"
    assert [e[1:] for e in events if e[0] == key] == [
        ("raised", None, "medium", D1), ("escalated", "medium", "critical", D2)]


def test_a_stockout_inhibits_the_anomaly_and_the_excess_of_its_item_location(nights):
    first, second, events, _ = nights
    # D1: below safety stock inhibits nothing: the excess stands.
    assert first.alerts[("excess", WORSENING)][:3] == ("low", "open", "raised")
    # D2: the stockout explains the demand spike and makes the excess moot.
    assert second.alerts[("shortage", WORSENING)][3]["inhibited"] == ["demand_anomaly", "excess"]
    assert ("demand_anomaly", WORSENING) not in second.alerts
    assert second.alerts[("excess", WORSENING)][1:3] == ("resolved", "resolved")
    assert (f"excess:{WORSENING}:{LOC}", "resolved", "low", None, D2) in events
    # Unchanged alerts leave no event: nothing but raises, the escalation and the resolve.
    assert {e[1] for e in events} == {"raised", "escalated", "resolved"}


def test_the_budget_reports_rates_per_1000_events_and_value_at_risk(nights):
    first, second, _, budgets = nights
    assert first.meta["item_locations_evaluated"] == 10
    assert (first.meta["open_alerts"], first.meta["open_per_1000"]) == (2, 200.0)
    assert first.meta["events"] == {"raised": 2}
    table = second.meta["open_per_1000_by_type_and_severity"].splitlines()
    assert table[2] == "| shortage | 100.0 | 0.0 | 400.0 | 0.0 | 500.0 |"
    assert second.meta["events"] == {"escalated": 1, "resolved": 1, "raised": 4}
    assert (second.meta["alerts_new_tonight"], second.meta["alerts_carried_over"]) == (4, 1)
    top = second.meta["top_value_at_risk"].splitlines()
    # The stockout's shortfall (14 * 11 - 100 = 54 at 2.5) tops the four dips (6 at 2.5).
    assert top[2] == "| SKU-0 | sap:1000 | shortage | critical | 135.00 |"
    assert len(top) == 2 + 5 and top[-1].endswith("| medium | 15.00 |")
    assert second.meta["charts"] == 5  # escalated and raised ones only
    assert budgets == [(D1, 10, 2, 200.0), (D2, 10, 5, 500.0)]


def test_the_rate_jump_check_passes_the_first_night_and_warns_on_the_jump(nights):
    first, second, *_ = nights
    assert first.check.passed and first.check.metadata["ratio"].value is None
    assert not second.check.passed
    assert second.check.severity == dg.AssetCheckSeverity.WARN
    assert second.check.metadata["ratio"].value == 2.5
    assert "2.5x" in second.check.description


# ---------------------------------------------------------------------- revision 0009
A, B, C = item("mig-a"), item("mig-b"), item("mig-c")
SHIPPED = json.loads((Path(__file__).parents[1] / "data" / "templates_before_0009.json").read_text())


@pytest.fixture
def scratch(server):
    """A database of its own at revision 0008, and the alembic step to move it."""
    from alembic import command
    from sqlalchemy import create_engine, pool

    from resources import migrations

    name = "fc_alert_events_migration"
    target = dataclasses.replace(server, warehouse_database=name)

    def migrate(step, revision):
        engine = create_engine(target.url(), poolclass=pool.NullPool)
        try:
            with engine.begin() as connection:
                config = migrations.alembic_config(target)
                config.attributes["connection"] = connection
                getattr(command, step)(config, revision)
        finally:
            engine.dispose()

    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"drop database if exists {name} with (force)")
        admin.execute(f"create database {name}")
    try:
        migrate("upgrade", "0008")
        with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
            yield conn, migrate
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


def old_state(conn) -> dict:
    """Alerts of both old types, preferences, templates and a notification at 0008."""
    def alert(kind, item_id, severity, status="open", event="new", details=None):
        return conn.execute(
            "insert into forecast.forecast_alerts (dedup_key, alert_type, severity, item_id, "
            "location_id, status, last_event, message, details) values (%s, %s, %s, %s, %s, "
            "%s, %s, 'm', %s) returning id",
            (f"{kind}:{item_id}:{LOC}", kind, severity, item_id, LOC, status, event,
             json.dumps(details or {}))).fetchone()[0]

    ids = {"a_stockout": alert("stockout", A, "high", details={"covered_by_planned": False}),
           "a_below": alert("below_safety_stock", A, "medium"),
           "b_below": alert("below_safety_stock", B, "medium", event="unchanged"),
           "c_stockout": alert("stockout", C, "high", "resolved", "resolved")}
    rid = conn.execute("insert into notify.recipients (name) values ('anna') returning id"
                       ).fetchone()[0]

    def pref(kind, severity, on_resolve):
        return conn.execute(
            "insert into notify.notification_preferences (recipient_id, alert_type, "
            "min_severity, channel_kind, channel_url_env, channel_fingerprint, "
            "notify_on_resolve) values (%s, %s, %s, 'json', 'HOOK', 'fp', %s) returning id",
            (rid, kind, severity, on_resolve)).fetchone()[0]

    ids["stockout_pref"] = pref("stockout", "high", False)
    ids["below_pref"] = pref("below_safety_stock", "medium", True)
    ids["note"] = conn.execute(
        "insert into notify.notifications (idempotency_key, alert_id, dedup_key, recipient_id, "
        "preference_id, channel_kind, channel_fingerprint, event, severity, subject, body) "
        "values ('k1', %s, %s, %s, %s, 'json', 'fp', 'new', 'medium', 's', 'b') returning id",
        (ids["a_below"], f"below_safety_stock:{A}:{LOC}", rid, ids["below_pref"])).fetchone()[0]
    with conn.cursor() as cur:
        templates = [tuple(r) for r in SHIPPED if r[1] == "slack"]  # as shipped: replaced
        templates += [("stockout", "default", "my stockout", "b", "text"),  # edited: kept
                      ("below_safety_stock", "default", "my below", "b", "text"),
                      ("below_safety_stock", "mailto", "my below mail", "b", "html")]
        cur.executemany("insert into notify.notification_templates (alert_type, channel_kind, "
                        "subject, body, body_format) values (%s, %s, %s, %s, %s)", templates)
    return ids


def test_revision_0009_merges_the_old_types_into_shortage_and_back(scratch):
    conn, migrate = scratch
    ids = old_state(conn)
    migrate("upgrade", "0009")
    alerts = q(conn, "select id, dedup_key, alert_type, severity, status, last_event, "
                     "details->>'condition' from forecast.forecast_alerts order by id")
    assert alerts == [
        # Both open for A: the stockout kept, on the new scale (uncovered: critical).
        (ids["a_stockout"], f"shortage:{A}:{LOC}", "shortage", "critical", "open",
         "unchanged", "stockout"),
        (ids["b_below"], f"shortage:{B}:{LOC}", "shortage", "medium", "open", "unchanged",
         "below_safety_stock"),
        (ids["c_stockout"], f"shortage:{C}:{LOC}", "shortage", "high", "resolved", "resolved",
         "stockout")]
    assert q(conn, "select dedup_key, event, severity_before from forecast.alert_events") == [
        (f"below_safety_stock:{A}:{LOC}", "resolved", "medium")]
    # The merged alert's notification moved with it (alert and preference), renamed.
    assert q(conn, "select alert_id, dedup_key, preference_id, event from notify.notifications"
             ) == [(ids["a_stockout"], f"shortage:{A}:{LOC}", ids["stockout_pref"], "raised")]
    assert q(conn, "select id, alert_type, min_severity, notify_on_resolve "
                   "from notify.notification_preferences") == [
        (ids["stockout_pref"], "shortage", "medium", True)]
    assert sorted(q(conn, "select alert_type, channel_kind, subject "
                          "from notify.notification_templates")) == [
        ("below_safety_stock", "default", "my below"),  # a second edit, parked
        ("shortage", "default", "my stockout"), ("shortage", "mailto", "my below mail")]
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update forecast.forecast_alerts set alert_type = 'stockout'")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update forecast.forecast_alerts set last_event = 'new'")
    conn.execute("update forecast.forecast_alerts set last_event = 'de-escalated' where id = %s",
                 (ids["b_below"],))

    migrate("downgrade", "0008")
    assert q(conn, "select id, dedup_key, alert_type, last_event from forecast.forecast_alerts "
                   "order by id") == [
        (ids["a_stockout"], f"stockout:{A}:{LOC}", "stockout", "unchanged"),
        (ids["b_below"], f"below_safety_stock:{B}:{LOC}", "below_safety_stock", "unchanged"),
        (ids["c_stockout"], f"stockout:{C}:{LOC}", "stockout", "resolved")]
    assert q(conn, "select dedup_key, event from notify.notifications") == [
        (f"stockout:{A}:{LOC}", "new")]
    assert sorted(q(conn, "select alert_type, min_severity from notify.notification_preferences"
                    )) == [("below_safety_stock", "medium"), ("stockout", "medium")]
    assert sorted(q(conn, "select alert_type, channel_kind from notify.notification_templates")
                  ) == [("below_safety_stock", "default"), ("stockout", "default"),
                        ("stockout", "mailto")]
    assert conn.execute("select to_regclass('forecast.alert_events')").fetchone()[0] is None
