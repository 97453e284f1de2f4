"""Validation rules of one export, vectorized over chunks of rows (Arrow compute).

Pure functions, no database: the loader feeds ``RowChunk``s in and gets back, per chunk,
the good rows (declared columns, trimmed, '' -> NULL, booleans as 'true'/'false') ready to
COPY, the problems that send rows to quarantine (row number, column, raw value, reason)
and, per good row, a 64-bit word for the duplicate check (32-bit hash of the natural key,
32-bit row number). The rules match the casts of the dbt staging macros, so a row that
passes here always casts there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest.key_hash import key_hash32
from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from assets.ingest.readers import RowChunk
from assets.ingest.registry import Column, ExportType, RowRule
from resources.errors import ValidationError

# A date this far past today is a typo, not a plan (open orders are at most a year out).
MAX_FUTURE_DAYS = 400
OPEN_END_DAY = (date(9999, 12, 31) - date(1970, 1, 1)).days  # SAP's "valid forever"
MIN_DATE = date(1990, 1, 1)
TRUE_VALUES = ("true", "1", "x", "yes", "y", "t")
FALSE_VALUES = ("false", "0", "no", "n", "f")

DECIMAL_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
INT_RE = r"^[+-]?[0-9]{1,9}(\.0*)?$"
NONFINITE_RE = r"(?i)^[+-]?(nan|inf|infinity)$"
NEGATIVE_RE = r"^-[^eE]*[1-9]"
DATE_RES = {
    "%Y%m%d": (r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$", "YYYYMMDD"),
    "%Y-%m-%d": (r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})$", "YYYY-MM-DD"),
}
DATETIME_RE = (r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
               r"(?:[ T](?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.[0-9]+)?)?)?"
               r"(?:Z|(?P<zs>[+-])(?P<zh>[0-9]{2})(?::?(?P<zm>[0-9]{2}))?)?$")
KEY_SEP = "\x1f"
_TRUE = pa.array(TRUE_VALUES)  # (building an array also loads pyarrow's pandas shim once,
_FALSE = pa.array(FALSE_VALUES)  # at import rather than inside the first load)
PROBLEM_SCHEMA = pa.schema([("row_number", pa.int64()), ("column_name", pa.string()),
                            ("raw_value", pa.string()), ("reason", pa.string())])


@dataclass(frozen=True)
class HeaderPlan:
    """Where each registry column sits in the file's header (None: absent, optional)."""

    positions: tuple[int | None, ...]
    unknown_columns: tuple[str, ...]


def normalize_name(name: str) -> str:
    return name.strip().lstrip("\ufeff").lower()


def plan_header(export: ExportType, header: list[str], file_name: str) -> HeaderPlan:
    normalized = [normalize_name(h) for h in header]
    seen: dict[str, int] = {}
    duplicates = []
    for i, name in enumerate(normalized):
        if name and name in seen:
            duplicates.append(header[i].strip())
        seen.setdefault(name, i)
    declared = {c.name.lower() for c in export.columns}
    dup_lower = {d.lower() for d in duplicates}
    dup_declared = [c.name for c in export.columns if c.name.lower() in dup_lower]
    if dup_declared:
        raise ValidationError(
            f"{file_name}: duplicate column name(s) {', '.join(sorted(set(dup_declared)))}",
            details={"file": file_name, "duplicate_columns": sorted(set(dup_declared))})
    missing = [c.name for c in export.columns if c.required and c.name.lower() not in seen]
    if missing:
        raise ValidationError(
            f"{file_name}: missing required column(s) {', '.join(missing)} "
            f"for {export.source_system}/{export.entity}",
            details={"file": file_name, "missing_columns": missing},
        )
    unknown = tuple(h for h, n in zip(header, normalized, strict=True) if n and n not in declared)
    if unknown and export.contract_mode == "freeze":
        shown = ", ".join(repr(u[:60]) for u in unknown[:10])
        raise ValidationError(
            f"{file_name}: unknown column(s) {shown} "
            f"({export.source_system}/{export.entity} has a frozen contract)",
            details={"file": file_name, "unknown_columns": [u[:200] for u in unknown[:50]]},
        )
    positions = tuple(seen.get(c.name.lower()) for c in export.columns)
    return HeaderPlan(positions, unknown)


# ----------------------------------------------------------------------------- helpers
def _null_strings(n: int) -> pa.Array:
    return pa.nulls(n, type=pa.string())


def _reason(mask: pa.Array, text: str | pa.Array, n: int) -> pa.Array:
    """``text`` where ``mask`` is true, null elsewhere (null mask -> null)."""
    value = text if isinstance(text, pa.Array) else pa.scalar(text, pa.string())
    return pc.if_else(pc.fill_null(mask, False), value, _null_strings(n))


def _quoted(prefix: str, values: pa.Array) -> pa.Array:
    cut = pc.utf8_slice_codeunits(values, 0, 40)
    return pc.binary_join_element_wise(pa.scalar(prefix), cut, pa.scalar("'"), "")


def _printable(values: pa.Array, cut: int) -> pa.Array:
    """A raw value as the quarantine keeps it: cut to ``cut`` characters, NUL shown as \\x00."""
    return pc.replace_substring(pc.utf8_slice_codeunits(values, 0, cut), "\x00", "\\x00")


def _ints(struct: pa.Array, field: str) -> np.ndarray:
    values = pc.fill_null(pc.struct_field(struct, field), "0")
    values = pc.if_else(pc.equal(values, ""), pa.scalar("0"), values)
    return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)


_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _calendar_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(valid calendar date?, days since 1970-01-01) for arrays of year, month, day."""
    month_ok = (m >= 1) & (m <= 12)
    mi = np.clip(m, 1, 12) - 1
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = _DAYS[mi] + ((mi == 1) & leap)
    valid = month_ok & (d >= 1) & (d <= dim) & (y >= 1)
    yy = np.where(valid, y, 1970)
    months = (yy - 1970) * 12 + np.where(valid, mi, 0)
    days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return valid, days + np.where(valid, d - 1, 0)


def _seconds(value: pa.Array, column: Column, date_format: str) -> np.ndarray:
    """Seconds since 1970-01-01 UTC of dates / ISO date-times (their offset applied), for
    comparing two columns; only meaningful where the value passed its column's rule."""
    pattern = (DATE_RES.get(date_format, DATE_RES["%Y-%m-%d"])[0] if column.type == "date"
               else DATETIME_RE)
    parts = pc.extract_regex(value, pattern)
    _, days = _calendar_days(*(_ints(parts, f) for f in ("y", "m", "d")))
    seconds = days * 86400
    if column.type == "datetime":
        hh, mm, ss, zh, zm = (_ints(parts, f) for f in ("H", "M", "S", "zh", "zm"))
        sign = np.where(pc.fill_null(pc.equal(pc.struct_field(parts, "zs"), "-"), False)
                        .to_numpy(zero_copy_only=False), -1, 1)
        seconds = seconds + hh * 3600 + mm * 60 + ss - sign * (zh * 3600 + zm * 60)
    return seconds


# ----------------------------------------------------------------------------- rules
class ColumnRule:
    """Normalized value and reason (null = fine) for one declared column of a chunk."""

    def __init__(self, column: Column, date_format: str, today: date, limits: IngestLimits):
        self.column = column
        self.limits = limits
        self.date_format = date_format
        self.min_day = (MIN_DATE - date(1970, 1, 1)).days
        self.max_day = (today + timedelta(days=MAX_FUTURE_DAYS) - date(1970, 1, 1)).days

    def apply(self, raw: pa.Array) -> tuple[pa.Array, pa.Array]:
        """(normalized values, reasons): a cheap conservative check finds the suspect
        values and only those go through the full rules."""
        n = len(raw)
        if n == 0 or self.column.type in ("bool", "datetime") or raw.null_count == n:
            return self._full(raw)
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        suspect = self._suspect(raw)
        count = int(suspect.sum())
        if count == 0:
            return raw, _null_strings(n)
        if count == n:
            return self._full(raw)
        mask = pa.array(suspect)
        sub_value, sub_reason = self._full(pc.filter(raw, mask))
        return (pc.replace_with_mask(raw, mask, sub_value),
                pc.replace_with_mask(_null_strings(n), mask, sub_reason))

    def _suspect(self, raw: pa.Array) -> np.ndarray:
        column = self.column
        length = pc.binary_length(raw)
        lengths = pc.fill_null(length, -1).to_numpy(zero_copy_only=False)
        suspect = lengths == 0  # '' becomes NULL
        if column.required:
            suspect |= lengths < 0
        if len(lengths) and lengths.max() > self.limits.max_field_bytes:
            suspect |= lengths > self.limits.max_field_bytes
        data = raw.buffers()[2]
        if data is not None and data.size:
            full = np.frombuffer(data, dtype=np.uint8)
            if (full == 0).any():
                suspect |= pc.fill_null(pc.match_substring(raw, "\x00"), False
                                        ).to_numpy(zero_copy_only=False)
            offsets = np.frombuffer(raw.buffers()[1], dtype=np.int32)[
                raw.offset:raw.offset + len(raw) + 1]
            first = full[np.minimum(offsets[:-1], full.size - 1)]
            last = full[np.clip(offsets[1:] - 1, 0, full.size - 1)]
            # Whitespace or a non-ASCII character at either end: trimming may change it.
            edge = (first <= 32) | (first >= 0x80) | (last <= 32) | (last >= 0x80)
            suspect |= (lengths > 0) & edge
        kind = column.type
        if kind in ("int", "decimal"):
            ok = pc.fill_null(pc.match_substring_regex(raw, INT_RE if kind == "int" else DECIMAL_RE),
                              True).to_numpy(zero_copy_only=False)
            suspect |= ~ok
            if column.non_negative:
                suspect |= pc.fill_null(pc.starts_with(raw, "-"), False).to_numpy(zero_copy_only=False)
        elif kind == "date" and self.date_format == "%Y%m%d":
            matched = pc.fill_null(pc.match_substring_regex(raw, r"^[0-9]{8}$"), False)
            digits = pc.cast(pc.if_else(matched, raw, pa.scalar("19700101")), pa.int64()
                             ).to_numpy(zero_copy_only=False)
            valid, days = _calendar_days(digits // 10000, digits // 100 % 100, digits % 100)
            ok = valid & (days >= self.min_day) & (days <= self.max_day)
            suspect |= ~ok & (lengths > 0)
        elif kind == "date":
            dates = self._dates(raw, len(raw))
            for reason in dates:
                suspect |= pc.is_valid(reason).to_numpy(zero_copy_only=False)
        return suspect

    def _full(self, raw: pa.Array) -> tuple[pa.Array, pa.Array]:
        n = len(raw)
        column = self.column
        trimmed = pc.utf8_trim_whitespace(raw)
        value = pc.if_else(pc.equal(trimmed, ""), _null_strings(n), trimmed)
        present = pc.is_valid(value)
        reasons = [_reason(pc.greater(pc.binary_length(raw), self.limits.max_field_bytes),
                           f"value longer than {self.limits.max_field_bytes} bytes", n),
                   _reason(pc.match_substring(raw, "\x00"), "contains a NUL byte", n)]
        if column.required:
            reasons.append(_reason(pc.invert(present), "required value is empty", n))
        kind = column.type
        if kind in ("int", "decimal"):
            nonfinite = pc.match_substring_regex(value, NONFINITE_RE)
            pattern = INT_RE if kind == "int" else DECIMAL_RE
            ok = pc.match_substring_regex(value, pattern)
            reasons.append(_reason(nonfinite, "not a finite number", n))
            label = "not an integer: '" if kind == "int" else "not a number: '"
            reasons.append(_reason(pc.invert(ok), _quoted(label, value), n))
            if column.non_negative:
                negative = pc.and_(ok, pc.match_substring_regex(value, NEGATIVE_RE))
                reasons.append(_reason(negative, "negative value not allowed", n))
        elif kind in ("date", "datetime"):
            reasons.extend(self._dates(value, n))
        elif kind == "bool":
            lowered = pc.utf8_lower(value)
            is_true = pc.is_in(lowered, value_set=_TRUE)
            is_false = pc.is_in(lowered, value_set=_FALSE)
            ok = pc.or_(is_true, is_false)
            reasons.append(_reason(pc.invert(ok), _quoted("not a boolean: '", value), n))
            value = pc.if_else(is_true, pa.scalar("true"),
                               pc.if_else(is_false, pa.scalar("false"), value))
        return value, pc.coalesce(*reasons)

    def _dates(self, value: pa.Array, n: int) -> list[pa.Array]:
        if self.column.type == "date":
            pattern, expected = DATE_RES.get(self.date_format, DATE_RES["%Y-%m-%d"])
            label = f"unparseable date (expected {expected})"
        else:
            pattern, label = DATETIME_RE, "unparseable datetime (expected ISO 8601)"
        parts = pc.extract_regex(value, pattern)
        matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
        y, m, d = (_ints(parts, f) for f in ("y", "m", "d"))
        valid, days = _calendar_days(y, m, d)
        valid &= matched
        if self.column.type == "datetime":
            hh, mm, ss = (_ints(parts, f) for f in ("H", "M", "S"))
            valid &= (hh < 24) & (mm < 60) & (ss < 60)
        present = pc.is_valid(value).to_numpy(zero_copy_only=False)
        bad = present & ~valid
        early = present & valid & (days < self.min_day)
        late = present & valid & (days > self.max_day)
        if self.column.open_ended:
            late &= days != OPEN_END_DAY
        return [_reason(pa.array(bad), label, n),
                _reason(pa.array(early), f"date before {MIN_DATE.isoformat()}", n),
                _reason(pa.array(late), f"date more than {MAX_FUTURE_DAYS} days in the future", n)]


# ----------------------------------------------------------------------------- validator
@dataclass
class CheckedChunk:
    good: pa.RecordBatch  # _row_number + declared columns (raw table names)
    problems: pa.Table  # PROBLEM_SCHEMA
    bad_rows: int
    key_words: np.ndarray  # uint64: hash32 << 32 | row number, per good row


class BatchValidator:
    """Checks chunks of one file against its export type."""

    def __init__(self, export: ExportType, plan: HeaderPlan, today: date, *,
                 limits: IngestLimits = DEFAULT_LIMITS, known_items: pa.Array | None = None,
                 known_items_label: str = "the item master") -> None:
        self.export = export
        self.plan = plan
        self.limits = limits
        self.rules = [ColumnRule(c, export.date_format, today, limits) for c in export.columns]
        self.names = [c.name.lower() for c in export.columns]
        self.key_index = [self.names.index(k.lower()) for k in export.natural_key]
        self.known_items = known_items
        self.known_label = known_items_label
        # (columns of each item reference, the column its problem is reported on): the
        # first for the item itself, the swapped-in one for an `also` reference.
        spec = export.known_items if known_items is not None else None
        refs = spec.references() if spec else ()
        self.item_refs = [([self.names.index(c.lower()) for c in ref],
                           self.names.index((ref[0] if k == 0 else spec.also[k - 1][0]).lower()))
                          for k, ref in enumerate(refs)]

    def _apply_row_rule(self, rule: RowRule, values: list, reasons: list,
                        readable: pa.Array) -> None:
        """A row breaking ``rule`` gets its reason on ``rule.columns[1]``; only rows whose
        two values are present and passed their own rules are compared."""
        first, second = (self.names.index(c.lower()) for c in rule.columns)
        compared = pc.and_(readable, pc.and_(
            pc.and_(pc.is_valid(values[first]), pc.is_valid(values[second])),
            pc.and_(pc.is_null(reasons[first]), pc.is_null(reasons[second]))))
        if not pc.any(compared).as_py():
            return
        if rule.kind == "differs":
            broken = pc.equal(values[first], values[second])
        else:
            columns = self.export.columns
            earlier = (_seconds(values[second], columns[second], self.export.date_format)
                       < _seconds(values[first], columns[first], self.export.date_format))
            broken = pa.array(earlier)
        reasons[second] = pc.coalesce(
            reasons[second], _reason(pc.and_(compared, broken), rule.reason, len(compared)))

    def check(self, chunk: RowChunk) -> CheckedChunk:
        batch = chunk.batch
        n = batch.num_rows
        rows = pa.array(np.arange(chunk.first_row, chunk.first_row + n, dtype=np.int64))
        values, reasons, raws = [], [], []
        for rule, position in zip(self.rules, self.plan.positions, strict=True):
            raw = batch.column(position) if position is not None else _null_strings(n)
            value, reason = rule.apply(raw)
            values.append(value)
            reasons.append(reason)
            raws.append(raw)
        # Row-level problems: found while reading, or a row over the length limit.
        lengths = None
        for col in batch.columns:
            size = pc.fill_null(pc.binary_length(col), 0)
            lengths = size if lengths is None else pc.add(lengths, size)
        row_reason = _reason(pc.greater(lengths, self.limits.max_row_bytes),
                             f"row longer than {self.limits.max_row_bytes} bytes", n) \
            if lengths is not None else _null_strings(n)
        if chunk.pre_reason is not None:
            row_reason = pc.coalesce(chunk.pre_reason, row_reason)
            # A row the reader could not split right: its column checks mean nothing.
            unreadable = pc.is_valid(chunk.pre_reason)
            reasons = [pc.if_else(unreadable, _null_strings(n), r) for r in reasons]
        readable = pc.invert(pc.is_valid(row_reason))
        for rule in self.export.row_rules:
            self._apply_row_rule(rule, values, reasons, readable)
        bad = pc.is_valid(row_reason)
        for reason in reasons:
            bad = pc.or_(bad, pc.is_valid(reason))
        checked = pc.invert(bad)  # every reference of a row is checked, each on its column
        for columns, named in self.item_refs:
            keys = pc.binary_join_element_wise(*[values[i] for i in columns], KEY_SEP)
            unknown = pc.and_(pc.and_(checked, pc.is_valid(keys)),
                              pc.invert(pc.is_in(keys, value_set=self.known_items)))
            reasons[named] = pc.coalesce(
                reasons[named], _reason(unknown, f"unknown item: not in {self.known_label}", n))
            bad = pc.or_(bad, unknown)
        problems = self._problems(rows, row_reason, chunk, raws, reasons, batch)
        good_mask = pc.invert(bad)
        good_rows = pc.filter(rows, good_mask)
        good = pa.RecordBatch.from_arrays(
            [good_rows, *[pc.filter(v, good_mask) for v in values]],
            names=["_row_number", *self.names])
        key = pc.binary_join_element_wise(*[good.column(1 + i) for i in self.key_index],
                                          pa.scalar(""), KEY_SEP)
        words = (key_hash32(pc.fill_null(key, "")) << np.uint64(32)) | \
            good_rows.to_numpy(zero_copy_only=False).astype(np.uint64)
        return CheckedChunk(good, problems, n - len(good_rows), words)

    def _problems(self, rows, row_reason, chunk: RowChunk, raws, reasons, batch) -> pa.Table:
        cut = self.limits.max_quarantine_value_chars
        parts = []
        mask = pc.is_valid(row_reason)
        if pc.any(mask).as_py():
            if chunk.pre_raw is not None:
                raw = chunk.pre_raw
            else:
                raw = pc.binary_join_element_wise(*batch.columns, ",")
            parts.append(pa.table({
                "row_number": pc.filter(rows, mask),
                "column_name": _null_strings(pc.sum(mask).as_py()),
                "raw_value": _printable(pc.filter(raw, mask), cut),
                "reason": pc.filter(row_reason, mask)}, schema=PROBLEM_SCHEMA))
        for column, raw, reason in zip(self.export.columns, raws, reasons, strict=True):
            mask = pc.is_valid(reason)
            count = pc.sum(mask).as_py() or 0
            if not count:
                continue
            parts.append(pa.table({
                "row_number": pc.filter(rows, mask),
                "column_name": pa.array([column.name] * count, type=pa.string()),
                "raw_value": _printable(pc.filter(raw, mask), cut),
                "reason": pc.filter(reason, mask)}, schema=PROBLEM_SCHEMA))
        if not parts:
            return PROBLEM_SCHEMA.empty_table()
        return pa.concat_tables(parts)
