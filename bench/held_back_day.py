"""The night after: hold back the last day of the demo's daily exports, so a benchmark can
build everything before it and then ingest that day as its own batches, like a real
nightly run (bench/transform.py, bench/nightly.py)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

# Daily exports and how to find a row's day: (landing sub-path, CSV column index or JSON key).
DAILY_EXPORTS = {
    "sap/stock/sap_stock.csv": 0,  # STICHTAG
    "sap/goods_movements/sap_goods_movements.csv": 6,  # BUDAT
    "odoo/stock_quants/odoo_stock_quants.json": "date",
    "odoo/stock_moves/odoo_stock_moves.json": "date",
}


def hold_back_day(landing: Path, held: Path, day: date) -> int:
    """Move the rows of ``day`` out of each daily export into a file of its own under
    ``held`` (same layout); returns the rows moved."""
    moved = 0
    for sub_path, column in DAILY_EXPORTS.items():
        source, target = landing / sub_path, held / sub_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target = target.with_name(f"{target.stem}_{day:%Y%m%d}{target.suffix}")
        lines = source.read_text(encoding="utf-8").splitlines()
        if isinstance(column, int):
            stamp = f"{day:%Y%m%d}"
            keep = [lines[0]] + [ln for ln in lines[1:] if ln.split(";")[column] != stamp]
            late = [lines[0]] + [ln for ln in lines[1:] if ln.split(";")[column] == stamp]
            source.write_text("\n".join(keep) + "\n", encoding="utf-8")
            target.write_text("\n".join(late) + "\n", encoding="utf-8")
            moved += len(late) - 1
        else:
            marker = f'"{column}":"{day.isoformat()}'
            records = [ln.rstrip(",") for ln in lines if ln.startswith("{")]
            keep = [r for r in records if marker not in r]
            late = [r for r in records if marker in r]
            source.write_text("[\n" + ",\n".join(keep) + "\n]\n", encoding="utf-8")
            target.write_text("[\n" + ",\n".join(late) + "\n]\n", encoding="utf-8")
            moved += len(late)
    return moved


def release_held_back(held: Path, landing: Path) -> int:
    """Move the held-back files into the landing zone; returns how many."""
    files = [path for path in held.rglob("*.*") if path.is_file()]
    for path in files:
        shutil.move(path, landing / path.relative_to(held))
    return len(files)
