"""Read export files as (header, rows) without loading them whole where the format allows.

CSV streams row by row; JSON accepts an array or JSON Lines. Values come back as
strings (or None) exactly as exported, so validation and quarantine see the raw value.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from resources.errors import ValidationError

CSV_DELIMITERS = ";,\t|"
Rows = Iterator[list[str | None]]


@dataclass(frozen=True)
class FileFormat:
    format: str  # csv | json
    encoding: str
    compressed: bool


def detect_format(path: Path) -> FileFormat:
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    suffix = name.rsplit(".", 1)[-1]
    if suffix in ("csv", "txt", "tsv"):
        fmt = "csv"
    elif suffix in ("json", "jsonl", "ndjson"):
        fmt = "json"
    else:
        raise ValidationError(
            f"{path.name}: unsupported file type '.{suffix}' (expected csv, json, jsonl, .gz)",
            details={"file": path.name},
        )
    with _open_binary(path, compressed) as fh:
        head = fh.read(4096)
    return FileFormat(fmt, _detect_encoding(head), compressed)


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 4 KiB edge is still UTF-8.
        if exc.start >= len(head) - 3:
            return "utf-8"
        return "cp1252"


@contextmanager
def _open_binary(path: Path, compressed: bool):
    fh = gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115
    try:
        yield fh
    finally:
        fh.close()


@contextmanager
def open_rows(path: Path, fmt: FileFormat) -> Iterator[tuple[list[str] | None, Rows]]:
    """Yield (header, row iterator); header None for an empty JSON export."""
    with _open_binary(path, fmt.compressed) as raw:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, newline="")
        if fmt.format == "csv":
            yield _csv_rows(path, text)
        else:
            yield _json_rows(path, text)


def _csv_rows(path: Path, text: io.TextIOWrapper):
    sample = text.read(64 * 1024)
    text.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=CSV_DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(f"{path.name}: the file is empty", details={"file": path.name}) from None
    width = len(header)

    def rows() -> Iterator[list[str | None]]:
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                # Keep the row so validation quarantines it with its number.
                row = (row + [None] * width)[:width] if len(row) < width else row
            yield [value if value != "" else None for value in row]

    return header, rows()


def _json_rows(path: Path, text: io.TextIOWrapper):
    first = text.read(1)
    while first and first.isspace():
        first = text.read(1)
    if first == "[":
        try:
            records = json.loads("[" + text.read())
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{path.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                details={"file": path.name, "line": exc.lineno},
            ) from None
        iterator: Iterator[dict] = iter(records)
    else:
        rest = first + text.read()  # JSON Lines
        iterator = _json_lines(path, rest.splitlines())
    records_iter = iter(iterator)
    try:
        first_record = next(records_iter)
    except StopIteration:
        return None, iter(())  # an empty export is valid: nothing happened that day
    header = list(first_record.keys())

    def rows() -> Iterator[list[str | None]]:
        for record in _chain(first_record, records_iter):
            if not isinstance(record, dict):
                yield [None] * len(header)
                continue
            yield [_json_value(record.get(name)) for name in header]

    return header, rows()


def _chain(first, rest):
    yield first
    yield from rest


def _json_lines(path: Path, lines: list[str]) -> Iterator[dict]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"{path.name}: invalid JSON on line {number}: {exc.msg}",
                    details={"file": path.name, "line": number},
                ) from None


def _json_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
