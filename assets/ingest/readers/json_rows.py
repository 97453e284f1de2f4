"""JSON: an array (parsed element by element, never the whole document at once) or
JSON Lines; the first record's keys are the header."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

from assets.ingest.limits import IngestLimits
from assets.ingest.readers.base import CHUNK_ROWS, RowChunk, check_header, chunk_from_rows, clean_text
from resources.errors import ValidationError


def _json_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return clean_text(value) if isinstance(value, str) else str(value)


def _iter_json_array(text, file_name: str, limits: IngestLimits) -> Iterator[object]:
    """Elements of a top-level JSON array, decoded one at a time."""
    decoder = json.JSONDecoder()
    buf = text.read(1 << 20)
    pos = 0
    eof = False
    consumed = 0

    def refill() -> bool:
        nonlocal buf, pos, eof, consumed
        if eof:
            return False
        more = text.read(1 << 20)
        if not more:
            eof = True
            return False
        consumed += pos
        buf = buf[pos:] + more
        pos = 0
        return True

    def skip_ws() -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                pos += 1
            if pos < len(buf) or not refill():
                return

    def fail(message: str):
        raise ValidationError(f"{file_name}: invalid JSON near character {consumed + pos}: "
                              f"{message}", details={"file": file_name,
                                                     "offset": consumed + pos})

    skip_ws()
    if pos >= len(buf) or buf[pos] != "[":
        fail("expected '['")
    pos += 1
    skip_ws()
    if pos < len(buf) and buf[pos] == "]":
        pos += 1
    else:
        while True:
            skip_ws()
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    if end >= len(buf) and not eof and refill():
                        continue  # a number may go on in the next block
                    break
                except json.JSONDecodeError as exc:
                    if len(buf) - pos > limits.max_row_bytes + (1 << 20):
                        fail(f"a record is larger than {limits.max_row_bytes} bytes or {exc.msg}")
                    if not refill():
                        fail(exc.msg)
            pos = end
            yield value
            skip_ws()
            if pos >= len(buf):
                fail("the array is not closed (truncated file?)")
            if buf[pos] == ",":
                pos += 1
                continue
            if buf[pos] == "]":
                pos += 1
                break
            fail("expected ',' or ']'")
    skip_ws()
    if pos < len(buf):
        fail("unexpected content after the array")


def _iter_json_lines(text) -> Iterator[object]:
    for line in text:
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield _BadRecord(f"invalid JSON line: {exc.msg}", line.rstrip("\r\n"))


@dataclass(frozen=True)
class _BadRecord:
    reason: str
    raw: str


def json_rows(text, file_name: str, limits: IngestLimits, declared: tuple[str, ...]):
    first = text.read(1)
    while first and first in " \t\r\n\ufeff":
        first = text.read(1)
    if first == "[":
        records: Iterator[object] = _iter_json_array(_Prepend(first, text), file_name, limits)
    elif first == "{":
        records = _iter_json_lines(_Prepend(first, text))
    else:
        raise ValidationError(f"{file_name}: not a JSON array or JSON Lines export",
                              details={"file": file_name})
    try:
        head = next(records)
    except StopIteration:
        return [], iter(())  # an empty export is valid: nothing happened that day
    header = [str(k) for k in head] if isinstance(head, dict) else list(declared)
    check_header(header, file_name, limits)
    index = {h.lower(): i for i, h in enumerate(header)}
    declared_lower = {d.lower() for d in declared}
    width = len(header)

    def chunks() -> Iterator[RowChunk]:
        row_number = 1
        rows: list[list] = []
        reasons: list[str | None] = []
        raws: list[str | None] = []

        def add(record) -> None:
            reason = raw = None
            values: list[str | None] = [None] * width
            if isinstance(record, _BadRecord):
                reason, raw = record.reason, record.raw
            elif not isinstance(record, dict):
                reason, raw = "record is not a JSON object", json.dumps(record)[:2000]
            else:
                for key, value in record.items():
                    pos = index.get(str(key).lower())
                    if pos is not None:
                        values[pos] = _json_value(value)
                    elif str(key).lower() in declared_lower:
                        reason = f"field '{key}' is missing from the export's first record"
                        raw = json.dumps(record, default=str)[:2000]
            rows.append(values)
            reasons.append(reason)
            raws.append(raw[: limits.max_quarantine_value_chars] if raw else None)

        try:
            add(head)
            for record in records:
                add(record)
                if len(rows) >= CHUNK_ROWS:
                    yield chunk_from_rows(rows, width, row_number, reasons, raws)
                    row_number += len(rows)
                    rows.clear()
                    reasons.clear()
                    raws.clear()
        except RecursionError:
            raise ValidationError(f"{file_name}: JSON nested too deeply",
                                  details={"file": file_name}) from None
        if rows:
            yield chunk_from_rows(rows, width, row_number, reasons, raws)

    return header, chunks()


class _Prepend:
    """A text stream with one already-read character put back in front."""

    def __init__(self, first: str, rest) -> None:
        self.first = first
        self.rest = rest

    def read(self, n: int = -1) -> str:
        head, self.first = self.first, ""
        return head + self.rest.read(n if n < 0 else max(n - len(head), 0))

    def __iter__(self):
        head, self.first = self.first, ""
        line = head + self.rest.readline()
        if line:
            yield line
        yield from self.rest
