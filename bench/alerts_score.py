"""Scoring of ``bench/alerts.py``'s replay against the planted labels (see its docstring
for the definitions), printed as markdown tables."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from assets.alerts.anomaly import bounds_95
from assets.alerts.lifecycle import diff_alerts
from assets.alerts.rules import Alert

LAGS = (1, 7, 28)
CHANGES = ("level_up", "level_down", "trend_break", "promotion", "discontinue")
DETECT_DAYS = 7
PROMOTION_DAYS = 14


def events(f, keys: list) -> pd.DataFrame:
    """One row per planted label: key index, day index, kind, direction, value at stake."""
    index = {key: k for k, key in enumerate(keys)}
    day_of = {d.date().isoformat(): i for i, d in enumerate(f.days)}
    cost = f.items.set_index(["sku", "location_id"])["unit_cost"]
    rows = []
    for label in f.labels.itertuples(index=False):
        key = (label.sku, label.location_id)
        if key not in index:
            continue
        i = day_of[label.day]
        level = float(f.demand[key].iloc[max(0, i - 28):i].mean())
        direction = "up" if label.kind in ("level_up", "promotion") or (
            label.kind == "trend_break" and label.size > 0) else "down"
        change = 1.0 if label.kind == "discontinue" else abs(float(label.size))
        rows.append({"k": index[key], "day": i, "kind": label.kind, "size": label.size,
                     "class": label.demand_class, "direction": direction,
                     "value": change * level * 28 * float(cost.get(key, np.nan))})
    return pd.DataFrame(rows)


def lifecycle(inventory: dict, flags: list, keys: list, nights: range) -> list[tuple]:
    """(night, alert type, key index) of every alert ``diff_alerts`` raises (no resolved
    keys are passed, so one that holds again after it resolved is raised anew), anomaly flags
    (night, key index, direction) joined to the inventory alerts of the night."""
    index = {key: k for k, key in enumerate(keys)}
    anomalies: dict[int, list[Alert]] = {}
    for i, k, direction in flags:
        anomalies.setdefault(i, []).append(
            Alert("demand_anomaly", "medium", keys[k][0], keys[k][1], "", {"direction": direction}))
    opened, open_before = [], {}
    for i in nights:
        current = inventory.get(i, []) + anomalies.get(i, [])
        changes = diff_alerts(open_before, current)
        open_before = {c.dedup_key: c.alert.severity for c in changes if c.alert is not None}
        opened += [(i, c.alert.alert_type, index[(c.alert.item_id, c.alert.location_id)])
                   for c in changes if c.event == "raised"]
    return opened


def score_anomaly(flags: list, opened: list, ev: pd.DataFrame, clean: set, first: int,
                  last: int, floor: float) -> dict:
    changes = ev[ev["kind"].isin(CHANGES) & (ev["day"] >= first) & (ev["day"] <= last - DETECT_DAYS)]
    by_key = {k: g for k, g in changes.groupby("k")}
    alerts = [(i, k) for i, t, k in opened if t == "demand_anomaly" and i >= first]
    true = 0
    for i, k in alerts:
        g = by_key.get(k)
        if g is not None and any(i >= e.day and (e.kind != "promotion" or i <= e.day + PROMOTION_DAYS)
                                 for e in g.itertuples()):
            true += 1
    flagged: dict[tuple[int, str], list[int]] = {}
    for i, k, direction in flags:
        flagged.setdefault((k, direction), []).append(i)
    found, delay = [], []
    for e in changes.itertuples():
        days = [i for i in flagged.get((e.k, e.direction), []) if i >= e.day]
        found.append(bool(days) and min(days) <= e.day + DETECT_DAYS)
        if days:
            delay.append(min(days) - e.day)
    changes = changes.assign(found=found)
    shifts = changes[changes["kind"].isin(("level_up", "level_down"))]
    errors = ev[ev["kind"] == "entry_error"]
    error_keys = set(errors["k"])
    late = [(i, k) for i, k in alerts if i >= first + 7]
    nights = max(1, last - first - 6)
    return {
        "opened": len(alerts),
        "precision": true / len(alerts) if alerts else float("nan"),
        "recall shifts@7": shifts["found"].mean(),
        "recall shifts@7 above floor": shifts.loc[shifts["value"] >= floor, "found"].mean(),
        "recall all changes@7": changes["found"].mean(),
        "median days": float(np.median(delay)) if delay else float("nan"),
        "entry-error alerts": sum(k in error_keys for _, k in alerts),
        "clean /1000/night": 1000 * sum(k in clean for _, k in late) / max(1, len(clean)) / nights,
        "_by_kind": changes.groupby("kind")["found"].mean().to_dict(),
        "_by_class": shifts.groupby("class")["found"].mean().to_dict(),
    }


def coverage(f, fc: dict) -> pd.DataFrame:
    actual = f.demand.to_numpy(float)
    observed = f.stock.to_numpy(float) != 0
    rows = []
    for lag in LAGS:
        yhat = fc[(lag, "yhat")]
        ok = ~np.isnan(yhat) & observed
        frame = pd.DataFrame({c: fc[(lag, c)][ok] for c in
                              ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95")})
        if frame[["yhat_lower_95", "yhat_upper_95"]].isna().all().all():
            frame = frame.drop(columns=["yhat_lower_95", "yhat_upper_95"])
        a = actual[ok]
        lo95, hi95 = bounds_95(frame)
        rows.append({"lag": lag, "item-days": int(ok.sum()),
                     "80% coverage": float(((a >= frame["yhat_lower"]) & (a <= frame["yhat_upper"])).mean()),
                     "95% coverage": float(((a >= lo95) & (a <= hi95)).mean()),
                     "95% bounds": "stored" if "yhat_lower_95" in frame else "80% widened"})
    return pd.DataFrame(rows)


def report(f, state: dict, flags: dict, first: int, last: int, candidates: dict) -> None:
    keys = state["keys"]
    ev = events(f, keys)
    clean = set(range(len(keys))) - set(ev["k"])
    nights = range(min(state["inventory"]), last + 1)
    print(f"\n{len(keys)} item-locations, {len(clean)} clean; labels {dict(Counter(ev['kind']))}; "
          f"scored as-of days {f.days[first].date()} .. {f.days[last].date()}")
    rows, detail = [], {}
    for name, policy in candidates.items():
        opened = lifecycle({}, flags[name], keys, nights)
        s = score_anomaly(flags[name], opened, ev, clean, first, last, policy.value_floor)
        detail[name] = (s.pop("_by_kind"), s.pop("_by_class"))
        rows.append({"anomaly rule": name, **s})
    table = pd.DataFrame(rows)
    floors = sorted({p.value_floor for p in candidates.values()})
    print(f"\nDemand anomaly per candidate rule (value floor {floors[-1]:g} unless named)")
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print("\nrecall within 7 days by kind / by demand class (level shifts):")
    for name, (kinds, classes) in detail.items():
        print(f"- {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in kinds.items())
              + " | " + ", ".join(f"{k} {v:.2f}" for k, v in classes.items()))

    per_night = (last - first - 6)
    inv_opened = lifecycle(state["inventory"], [], keys, nights)
    late = [(i, t, k) for i, t, k in inv_opened if i >= first + 7]
    types = sorted({t for _, t, _ in inv_opened})
    supply_keys = set(ev.loc[ev["kind"] == "shortage", "k"])
    rows = []
    for t in types:
        mine = [(i, k) for i, tt, k in late if tt == t]
        rows.append({"alert type": t, "opened (after week 1)": len(mine),
                     "clean /1000/night": 1000 * sum(k in clean for _, k in mine)
                     / max(1, len(clean)) / per_night,
                     "on built shortages": f"{len({k for _, k in mine} & supply_keys)}"
                                           f"/{len(supply_keys)}"})
    print("\nInventory alerts (rules.evaluate_portfolio), opened per night after the first week")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"))
    inventory_rate = sum(r["clean /1000/night"] for r in rows)
    print(f"all inventory types: {inventory_rate:.2f} per 1,000 clean item-locations per night; "
          "with each anomaly rule: " + ", ".join(
              f"{r['anomaly rule']} {inventory_rate + r['clean /1000/night']:.2f}"
              for r in table.to_dict("records")))
    print("\nInterval coverage over all item-days (stockout days left out)")
    print(coverage(f, state["fc"]).to_markdown(index=False, floatfmt=".3f"))
