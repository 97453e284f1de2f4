"""Planted ground truth in the demo (demo/planting.py): off by default, labelled events that
match the demand they changed, stable per seed, and never picked up by the ingest."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from assets.ingest.landing import landing_files
from assets.ingest.registry import EXPORT_TYPES
from demo.generator import generate_demo_data
from demo.patterns import build_calendar, make_item, make_series
from demo.planting import (
    ELIGIBLE,
    LABELS_FILE,
    PlantPlan,
    deal_events,
    plant_demand,
    plant_entry_error,
)

END = date(2025, 6, 30)
DAYS = 150


def _labels(root: Path) -> list[dict]:
    with open(root / LABELS_FILE, encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("planted")
    return out, generate_demo_data(out, items=200, days=DAYS, seed=11, end_date=END,
                                   fault_rate=0, plant=PlantPlan())


def test_planting_is_off_by_default(tmp_path):
    summary = generate_demo_data(tmp_path, items=25, days=60, seed=3, end_date=END)
    assert summary.planted == {} and summary.labels_file is None
    assert not (tmp_path / "ground_truth").exists()


def test_every_block_of_eligible_items_gets_the_plans_kinds():
    patterns = ["smooth"] * 8 + ["erratic"] * 3 + ["intermittent"] * 3 + ["lumpy"] * 6
    events = deal_events(5, patterns * 3, PlantPlan())
    assert all(patterns[i % 20] in ELIGIBLE for i in events)
    kinds = sorted(events.values())
    assert kinds.count("level_up") == kinds.count("level_down") == 6
    assert kinds.count("entry_error") == 6
    assert kinds.count("trend_break") == kinds.count("promotion") == kinds.count("discontinue") == 3


def test_labels_are_written_beside_the_exports_and_counted(planted):
    root, summary = planted
    labels = _labels(root)
    demand = [r for r in labels if r["kind"] != "shortage"]
    counted = {}
    for r in demand:
        counted[r["kind"]] = counted.get(r["kind"], 0) + 1
    assert counted == summary.planted
    # 10 blocks of 20 items: 4 level shifts, 1 trend, 1 promotion, 1 discontinue each.
    # An event dealt to an item with no demand of its own moves to a clean item of its
    # chunk (one may find none left); an entry error needs an issue in the window.
    assert counted["level_up"] == counted["level_down"] == 20
    assert all(9 <= counted[k] <= 10 for k in ("trend_break", "promotion", "discontinue"))
    assert 16 <= counted["entry_error"] <= 20
    first, last = END - timedelta(days=59), END - timedelta(days=10)
    assert all(first.isoformat() <= r["day"] <= last.isoformat() for r in demand)
    assert {r["demand_class"] for r in demand} == set(ELIGIBLE)
    shifts = [abs(float(r["size"])) for r in demand if r["kind"].startswith("level_")]
    assert min(shifts) >= 0.3 and max(shifts) <= 0.6
    assert len({(r["sku"], r["location_id"]) for r in demand}) == len(demand)
    # The demo's built shortages are labelled as supply cases on the last day.
    built = [r for r in labels if r["kind"] == "shortage"]
    assert {(r["sku"], r["location_id"]) for r in built} == {
        (summary.runs_short[0], f"sap:{summary.runs_short[2]}"),
        (summary.component_runs_short[0], f"sap:{summary.component_runs_short[2]}")}


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_planting_is_stable_per_seed(tmp_path):
    args = {"items": 40, "days": 90, "end_date": END, "fault_rate": 0.0, "plant": PlantPlan()}
    for name, seed in (("a", 2), ("b", 2), ("c", 3)):
        generate_demo_data(tmp_path / name, seed=seed, **args)
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert a == b
    assert a[LABELS_FILE] != c[LABELS_FILE]


def _series(pattern: str = "smooth", idx: int = 0):
    cal = build_calendar(END - timedelta(days=DAYS - 1), DAYS)
    return make_series(make_item(idx, 1, "sap", pattern, 0, DAYS), 1, cal)[0], cal


@pytest.mark.parametrize("kind", ["level_up", "level_down", "trend_break", "promotion",
                                  "discontinue"])
def test_a_label_matches_the_demand_it_changed(kind):
    s, cal = _series()
    s.demand = s.demand * 0 + 50  # a steady 50 a day makes the change exact to read
    before = s.demand.copy()
    label = plant_demand(s, kind, 1, cal, PlantPlan())
    day = cal.iso.index(label.day)
    assert DAYS - 60 <= day < DAYS - 10
    assert (s.demand[:day] == before[:day]).all()
    after = s.demand[day:].astype(float)
    if kind.startswith("level_"):
        assert after.mean() / 50 == pytest.approx(1 + label.size, abs=0.03)
        assert (label.size > 0) == (kind == "level_up")
    elif kind == "trend_break":
        assert np.sign(after[-1] - after[0]) == np.sign(label.size)
    elif kind == "promotion":
        changed = np.flatnonzero(s.demand != before)
        assert changed.min() >= day and changed.max() < day + 7 and after[0] > 50
    else:
        assert (after == 0).all() and label.size == -1.0


def test_an_entry_error_changes_one_days_issue_tenfold():
    s, cal = _series()
    issued = np.zeros(DAYS, dtype=np.int64)
    issued[DAYS - 40] = 7
    label = plant_entry_error(s, issued, 1, cal, PlantPlan())
    assert label.kind == "entry_error" and label.day == cal.iso[DAYS - 40]
    assert issued[DAYS - 40] == 70 and issued.sum() == 70
    assert plant_entry_error(s, np.zeros(DAYS, dtype=np.int64), 1, cal, PlantPlan()) is None


def test_a_plan_with_unknown_kinds_or_windows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown kinds"):
        PlantPlan(block=("level_up", "meteor"))
    with pytest.raises(ValueError, match="margin_days"):
        PlantPlan(window_days=10, margin_days=10)
    with pytest.raises(ValueError, match="more than 60 days"):
        generate_demo_data(tmp_path, items=5, days=60, plant=PlantPlan())


def test_the_ingest_never_picks_up_the_labels(planted):
    root, _ = planted
    labels = root / LABELS_FILE
    assert labels.is_file()
    picked = {p for export in EXPORT_TYPES for p in landing_files(root, export)}
    assert labels not in picked and not any("ground_truth" in p.parts for p in picked)
    # Every export file is picked up: the labels are the only file left out.
    every = {p for p in root.rglob("*") if p.is_file()}
    assert every - picked == {labels}
