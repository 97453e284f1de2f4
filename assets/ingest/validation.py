"""Validation rules for one export: which header is acceptable, which rows are good.

Pure functions: the loader feeds rows in and gets, per row, either the values to land
or the problems that send the row to quarantine (column, raw value, reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from assets.ingest.registry import Column, ExportType
from resources.errors import ValidationError

# A date this far past today is a typo, not a plan (open orders are at most a year out).
MAX_FUTURE_DAYS = 400
MIN_DATE = date(1990, 1, 1)
TRUE_VALUES = {"true", "1", "x", "yes", "y", "t"}
FALSE_VALUES = {"false", "0", "", "no", "n", "f"}


@dataclass(frozen=True)
class Problem:
    row_number: int
    column: str | None
    raw_value: str | None
    reason: str


@dataclass(frozen=True)
class HeaderPlan:
    """Where each registry column sits in the file's header (None: absent, optional)."""

    positions: tuple[int | None, ...]
    unknown_columns: tuple[str, ...]


def plan_header(export: ExportType, header: list[str], file_name: str) -> HeaderPlan:
    normalized = [h.strip().lstrip("\ufeff").lower() for h in header]
    index = {name: i for i, name in enumerate(normalized)}
    missing = [c.name for c in export.columns if c.required and c.name.lower() not in index]
    if missing:
        raise ValidationError(
            f"{file_name}: missing required column(s) {', '.join(missing)} "
            f"for {export.source_system}/{export.entity}",
            details={"file": file_name, "missing_columns": missing},
        )
    declared = {c.name.lower() for c in export.columns}
    unknown = tuple(h for h in header if h.strip().lower() not in declared)
    if unknown and export.contract_mode == "freeze":
        raise ValidationError(
            f"{file_name}: unknown column(s) {', '.join(unknown)} "
            f"({export.source_system}/{export.entity} has a frozen contract)",
            details={"file": file_name, "unknown_columns": list(unknown)},
        )
    positions = tuple(index.get(c.name.lower()) for c in export.columns)
    return HeaderPlan(positions, unknown)


def check_value(column: Column, value: str | None, date_format: str, today: date) -> str | None:
    """The reason ``value`` is bad for ``column``, or None when it is acceptable."""
    if value is None or value.strip() == "":
        return "required value is empty" if column.required else None
    text = value.strip()
    kind = column.type
    if kind == "int":
        try:
            number = int(text)
        except ValueError:
            return f"not an integer: {text[:40]!r}"
        return "negative value not allowed" if column.non_negative and number < 0 else None
    if kind == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return f"not a number: {text[:40]!r}"
        if not number.is_finite():
            return "not a finite number"
        return "negative value not allowed" if column.non_negative and number < 0 else None
    if kind in ("date", "datetime"):
        try:
            parsed = (
                datetime.strptime(text, date_format).date()
                if kind == "date"
                else datetime.fromisoformat(text).date()
            )
        except ValueError:
            expected = date_format if kind == "date" else "ISO 8601"
            return f"unparseable {kind} (expected {expected})"
        if parsed < MIN_DATE:
            return f"date before {MIN_DATE.isoformat()}"
        if parsed > today + timedelta(days=MAX_FUTURE_DAYS):
            return f"date more than {MAX_FUTURE_DAYS} days in the future"
        return None
    if kind == "bool":
        lowered = text.lower()
        return None if lowered in TRUE_VALUES | FALSE_VALUES else f"not a boolean: {text[:20]!r}"
    return None


def normalize_value(column: Column, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if column.type == "bool":
        return "true" if text.lower() in TRUE_VALUES else "false"
    return text or None


class RowValidator:
    """Checks rows one at a time and remembers natural keys to catch duplicates."""

    def __init__(self, export: ExportType, plan: HeaderPlan, today: date) -> None:
        self.export = export
        self.plan = plan
        self.today = today
        self._key_positions = [
            i for i, c in enumerate(export.columns) if c.name in export.natural_key
        ]
        self._seen_keys: set[int] = set()

    def check(self, row_number: int, row: list[str | None]) -> tuple[list[str | None], list[Problem]]:
        values: list[str | None] = []
        problems: list[Problem] = []
        for column, position in zip(self.export.columns, self.plan.positions, strict=True):
            raw = row[position] if position is not None and position < len(row) else None
            reason = check_value(column, raw, self.export.date_format, self.today)
            if reason:
                problems.append(Problem(row_number, column.name, raw, reason))
            values.append(normalize_value(column, raw))
        if not problems:
            key = hash(tuple(values[i] for i in self._key_positions))
            if key in self._seen_keys:
                problems.append(
                    Problem(row_number, ",".join(self.export.natural_key), None,
                            "duplicate natural key inside the batch")
                )
            else:
                self._seen_keys.add(key)
        return values, problems
