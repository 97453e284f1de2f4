"""Read export files as a header plus chunks of rows, streaming, whatever the format.

Every reader yields ``RowChunk``s: an Arrow record batch of *string* columns in the
file's column order (named ``c0..cN``, never after the header text), the row number of
its first row, and optionally a per-row problem found while reading (a ragged CSV row,
bytes that are not valid in the file's encoding, a JSON line that does not parse). Values
come back exactly as exported; validation decides what they mean.

- CSV: the fast path is Arrow's streaming CSV reader (1 MiB blocks). A file it
  cannot read as a clean table (ragged rows, a field longer than a block, bytes invalid in
  the encoding) raises ``NeedsRobustReader`` and the loader re-reads it with the Python
  ``csv`` module, which numbers and reports every bad row.
- JSON: an array (parsed element by element, never the whole document at once) or JSON Lines.
- XLSX: openpyxl in read-only mode (defusedxml guards the XML), after checking the zip's
  declared sizes against the limits; formula cells are read as their text, never evaluated.
- gzip of any of them, detected by its magic bytes; expanded size and ratio are limited
  while streaming.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from resources.errors import ValidationError

CSV_DELIMITERS = ";,\t|"
CHUNK_ROWS = 20_000  # rows per chunk on the Python paths
ARROW_BLOCK_BYTES = 1 << 20  # Arrow reads ahead ~36 blocks: this bounds its buffers
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"

# A field bigger than any limit we report on: past it the Python csv module stops.
csv.field_size_limit(256 << 20)


class NeedsRobustReader(Exception):
    """The fast CSV reader cannot read this file as a clean table."""


@dataclass(frozen=True)
class ReadOptions:
    """Operator overrides of what detection would choose."""

    encoding: str | None = None
    delimiter: str | None = None
    quote: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class FileFormat:
    format: str  # csv | json | xlsx
    encoding: str | None  # Python codec name; None for xlsx
    compression: str | None  # gzip | None
    delimiter: str | None = None
    quote: str | None = None
    sheet: str | None = None


@dataclass
class RowChunk:
    batch: pa.RecordBatch  # string columns c0..cN in the file's column order
    first_row: int
    pre_reason: pa.Array | None = None  # a problem found while reading the row, or null
    pre_raw: pa.Array | None = None  # the row as read, for the quarantine

    @property
    def num_rows(self) -> int:
        return self.batch.num_rows


# ----------------------------------------------------------------------------- detection
def _suffix_format(name: str) -> str | None:
    name = name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return {"csv": "csv", "txt": "csv", "tsv": "csv", "json": "json", "jsonl": "json",
            "ndjson": "json", "xlsx": "xlsx"}.get(suffix)


def detect_format(path: Path, options: ReadOptions | None = None,
                  limits: IngestLimits = DEFAULT_LIMITS) -> FileFormat:
    """Format, compression, encoding, delimiter and quote of ``path`` (overrides win)."""
    options = options or ReadOptions()
    with open(path, "rb") as fh:
        magic = fh.read(4)
    compression = "gzip" if magic.startswith(GZIP_MAGIC) else None
    head = b""
    try:
        with _open_binary(path, compression, limits) as raw:
            head = raw.read(min(limits.max_row_bytes, 1 << 20) + 4096)
    except ValidationError:
        raise
    if not head.strip():
        raise ValidationError(f"{path.name}: the file is empty", details={"file": path.name})
    fmt = _suffix_format(path.name)
    if head.startswith(ZIP_MAGIC):
        fmt = "xlsx"
    elif fmt is None or fmt == "xlsx":
        stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
        if stripped[:1] in (b"[", b"{"):
            fmt = "json"
        elif fmt == "xlsx":
            raise ValidationError(f"{path.name}: not a valid xlsx file (no zip container)",
                                  details={"file": path.name})
        elif _looks_binary(head):
            raise ValidationError(
                f"{path.name}: unsupported or binary file (expected CSV, JSON, JSON Lines, "
                "XLSX, optionally gzip-compressed)", details={"file": path.name})
        else:
            fmt = "csv"
    if fmt == "xlsx":
        return FileFormat("xlsx", None, compression, sheet=options.sheet)
    encoding = options.encoding or detect_encoding(head)
    _check_codec(encoding, path)
    if fmt == "csv" and _looks_binary(head) and not encoding.startswith("utf-16"):
        raise ValidationError(f"{path.name}: binary content, not a CSV export",
                              details={"file": path.name})
    if fmt == "json":
        return FileFormat("json", encoding, compression)
    text = head.decode(encoding, errors="replace")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = options.delimiter or _detect_delimiter(first_line)
    quote = options.quote or '"'
    if len(delimiter) != 1 or len(quote) != 1 or delimiter == quote:
        raise ValidationError("delimiter and quote must be two different single characters",
                              details={"delimiter": delimiter, "quote": quote})
    return FileFormat("csv", encoding, compression, delimiter, quote)


def check_options(options: ReadOptions | None) -> None:
    """Operator overrides that can never work are refused before anything is recorded."""
    if options is None:
        return
    if options.encoding:
        try:
            codecs.lookup(options.encoding)
        except LookupError:
            raise ValidationError(f"unknown encoding '{options.encoding}'",
                                  details={"encoding": options.encoding}) from None
    for name, value in (("delimiter", options.delimiter), ("quote", options.quote)):
        if value is not None and len(value) != 1:
            raise ValidationError(f"--{name} must be a single character, not {value!r}",
                                  details={name: value})


def _check_codec(encoding: str, path: Path) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValidationError(f"{path.name}: unknown encoding '{encoding}'",
                              details={"encoding": encoding}) from None


def _looks_binary(head: bytes) -> bool:
    sample = head[:4096]
    if not sample:
        return False
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control / len(sample) > 0.05


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # a multi-byte character cut at the edge of the sample
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _detect_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# ----------------------------------------------------------------------------- byte streams
class LimitedReader(io.RawIOBase):
    """Counts expanded bytes and stops a decompression bomb early."""

    def __init__(self, inner, compressed_size: int, limits: IngestLimits, name: str) -> None:
        self.inner = inner
        self.compressed_size = max(compressed_size, 1)
        self.limits = limits
        self.name_ = name
        self.expanded = 0
        self.error: ValidationError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (EOFError, OSError, zlib.error) as exc:
            self.error = ValidationError(
                f"{self.name_}: truncated or corrupt gzip stream ({exc})",
                details={"file": self.name_})
            raise self.error from None
        n = len(data)
        buffer[:n] = data
        self.expanded += n
        ratio_floor = 16 << 20  # small files may compress very well and that is fine
        if self.expanded > self.limits.max_uncompressed_bytes or (
                self.expanded > ratio_floor
                and self.expanded / self.compressed_size > self.limits.max_compression_ratio):
            self.error = ValidationError(
                f"{self.name_}: expands beyond the limits (more than "
                f"{self.expanded} bytes from {self.compressed_size}, ratio limit "
                f"{self.limits.max_compression_ratio:.0f}, size limit "
                f"{self.limits.max_uncompressed_bytes})", details={"file": self.name_})
            raise self.error
        return n


@contextmanager
def _open_binary(path: Path, compression: str | None, limits: IngestLimits):
    with ExitStack() as stack:
        fh = stack.enter_context(open(path, "rb"))
        if compression == "gzip":
            gz = stack.enter_context(gzip.GzipFile(fileobj=fh, mode="rb"))
            raw = LimitedReader(gz, path.stat().st_size, limits, path.name)
            yield io.BufferedReader(raw, buffer_size=1 << 20)
        else:
            yield fh


# ----------------------------------------------------------------------------- entry point
@contextmanager
def open_export(path: Path, fmt: FileFormat, *, limits: IngestLimits = DEFAULT_LIMITS,
                robust: bool = False, date_format: str = "%Y-%m-%d",
                declared: tuple[str, ...] = ()):
    """Yield ``(header, chunks)``. ``robust`` selects the Python CSV reader."""
    if fmt.format == "xlsx":
        with _xlsx_source(path, fmt, limits) as xlsx_path:
            yield _xlsx_rows(xlsx_path, path.name, fmt.sheet, limits, date_format)
        return
    if fmt.format == "csv" and not robust:
        with _open_binary(path, fmt.compression, limits) as raw:
            header = _read_header(raw, fmt, path.name, limits)
        with _open_binary(path, fmt.compression, limits) as raw:
            source = raw if fmt.compression else str(path)
            yield header, _arrow_chunks(source, raw, header, path.name, fmt)
        return
    with _open_binary(path, fmt.compression, limits) as raw:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, errors="surrogateescape", newline="")
        if fmt.format == "json":
            yield _json_rows(text, path.name, limits, declared)
        else:
            yield _csv_rows_python(text, path.name, fmt, limits)


def _check_header(header: list[str], file_name: str, limits: IngestLimits) -> list[str]:
    if len(header) > limits.max_columns:
        raise ValidationError(
            f"{file_name}: {len(header)} columns, more than the limit of {limits.max_columns}",
            details={"file": file_name, "columns": len(header)})
    return header


def _read_header(raw, fmt: FileFormat, file_name: str, limits: IngestLimits) -> list[str]:
    """The first CSV record, parsed by the csv module from the start of the file."""
    head = raw.read(limits.max_row_bytes)
    text = head.decode(fmt.encoding, errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter,
                        quotechar=fmt.quote)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise ValidationError(f"{file_name}: unreadable header ({exc})",
                              details={"file": file_name}) from None
    if not any(h.strip() for h in header):
        raise ValidationError(f"{file_name}: the file is empty or has no header row",
                              details={"file": file_name})
    return _check_header(header, file_name, limits)


# ----------------------------------------------------------------------------- CSV, Arrow
def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") else encoding


def _arrow_chunks(source, raw, header: list[str], file_name: str, fmt: FileFormat
                  ) -> Iterator[RowChunk]:
    names = [f"c{i}" for i in range(len(header))]

    reader_opts = pacsv.ReadOptions(use_threads=False, block_size=ARROW_BLOCK_BYTES,
                                    skip_rows=1, column_names=names,
                                    encoding=_arrow_encoding(fmt.encoding))
    parse_opts = pacsv.ParseOptions(delimiter=fmt.delimiter, quote_char=fmt.quote,
                                    double_quote=True, newlines_in_values=True,
                                    ignore_empty_lines=True)
    convert_opts = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                        strings_can_be_null=False, check_utf8=True)
    row = 1
    try:
        reader = pacsv.open_csv(source, read_options=reader_opts, parse_options=parse_opts,
                                convert_options=convert_opts)
        for batch in reader:
            if batch.num_rows:
                yield RowChunk(batch, row)
                row += batch.num_rows
    except NeedsRobustReader:
        raise
    except (pa.ArrowException, UnicodeDecodeError, ValidationError) as exc:
        limited = getattr(raw, "raw", None)
        if isinstance(getattr(limited, "error", None), ValidationError):
            raise limited.error from None
        if isinstance(exc, ValidationError):
            raise
        raise NeedsRobustReader(str(exc)) from None


# ----------------------------------------------------------------------------- CSV, Python
def _bad_text(value: str) -> bool:
    try:
        value.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _clean_text(value: str) -> str:
    return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace") \
        if _bad_text(value) else value


def _escaped(value: str) -> str:
    """A raw value with undecodable bytes shown as \\xNN, for the quarantine."""
    return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def _csv_rows_python(text: io.TextIOWrapper, file_name: str, fmt: FileFormat,
                     limits: IngestLimits):
    reader = csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quote, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise ValidationError(f"{file_name}: unreadable header ({exc})",
                              details={"file": file_name}) from None
    header = [_clean_text(h) for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if not any(h.strip() for h in header):
        raise ValidationError(f"{file_name}: the file is empty or has no header row",
                              details={"file": file_name})
    _check_header(header, file_name, limits)
    width = len(header)
    encoding = fmt.encoding

    def chunks() -> Iterator[RowChunk]:
        row_number = 1
        buffer: list[list[str]] = []
        reasons: list[str | None] = []
        raws: list[str | None] = []
        try:
            for fields in reader:
                if not fields or fields == [""] and width > 1:
                    continue  # a blank line carries no data
                reason = raw_text = None
                joined = fmt.delimiter.join(fields)
                if _bad_text(joined):
                    reason = f"bytes not valid in the file's encoding ({encoding})"
                    raw_text = _escaped(joined)
                    fields = [_clean_text(f) for f in fields]
                if len(fields) != width:
                    reason = reason or f"row has {len(fields)} fields, the header has {width}"
                    raw_text = raw_text or joined
                    fields = (fields + [""] * width)[:width]
                buffer.append(fields)
                reasons.append(reason)
                raws.append(raw_text[: limits.max_quarantine_value_chars] if raw_text else None)
                if len(buffer) >= CHUNK_ROWS:
                    yield _chunk_from_rows(buffer, width, row_number, reasons, raws)
                    row_number += len(buffer)
                    buffer, reasons, raws = [], [], []
        except csv.Error as exc:
            raise ValidationError(f"{file_name}: unreadable CSV near row {row_number + len(buffer)}"
                                  f": {exc}", details={"file": file_name}) from None
        if buffer:
            yield _chunk_from_rows(buffer, width, row_number, reasons, raws)

    return header, chunks()


def _chunk_from_rows(rows: list[list], width: int, first_row: int,
                     reasons: list[str | None] | None = None,
                     raws: list[str | None] | None = None) -> RowChunk:
    columns = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(width)]
    batch = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(width)])
    has_problems = reasons is not None and any(r is not None for r in reasons)
    return RowChunk(batch, first_row,
                    pa.array(reasons, type=pa.string()) if has_problems else None,
                    pa.array(raws, type=pa.string()) if has_problems else None)


# ----------------------------------------------------------------------------- JSON
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
    return _clean_text(value) if isinstance(value, str) else str(value)


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


def _json_rows(text, file_name: str, limits: IngestLimits, declared: tuple[str, ...]):
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
    _check_header(header, file_name, limits)
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
                    yield _chunk_from_rows(rows, width, row_number, reasons, raws)
                    row_number += len(rows)
                    rows.clear()
                    reasons.clear()
                    raws.clear()
        except RecursionError:
            raise ValidationError(f"{file_name}: JSON nested too deeply",
                                  details={"file": file_name}) from None
        if rows:
            yield _chunk_from_rows(rows, width, row_number, reasons, raws)

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


# ----------------------------------------------------------------------------- XLSX
def check_zip_limits(path: Path, file_name: str, limits: IngestLimits) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValidationError(f"{file_name}: not a valid xlsx file (truncated or corrupt zip: "
                              f"{exc})", details={"file": file_name}) from None
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise ValidationError(f"{file_name}: expands to {total} bytes, more than the limit of "
                              f"{limits.max_uncompressed_bytes}", details={"file": file_name})
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > (1 << 20) and ratio > limits.max_compression_ratio:
            raise ValidationError(
                f"{file_name}: member {info.filename} has a compression ratio of {ratio:.0f}, "
                f"more than the limit of {limits.max_compression_ratio:.0f} (zip bomb?)",
                details={"file": file_name, "member": info.filename})


@contextmanager
def _xlsx_source(path: Path, fmt: FileFormat, limits: IngestLimits):
    if fmt.compression != "gzip":
        check_zip_limits(path, path.name, limits)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="fc-xlsx-") as tmp:
        target = Path(tmp) / "book.xlsx"
        with _open_binary(path, "gzip", limits) as raw, open(target, "wb") as out:
            shutil.copyfileobj(raw, out, 1 << 20)
        check_zip_limits(target, path.name, limits)
        yield target


def _cell_text(value, date_format: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().strftime(date_format)
        return value.isoformat()
    if isinstance(value, date):
        return value.strftime(date_format)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _xlsx_rows(path: Path, file_name: str, sheet: str | None, limits: IngestLimits,
               date_format: str):
    import openpyxl  # defusedxml, when installed, guards openpyxl's XML parsing

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken package
        raise ValidationError(f"{file_name}: not a readable xlsx workbook "
                              f"({type(exc).__name__}: {exc})", details={"file": file_name}
                              ) from None
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise ValidationError(f"{file_name}: no sheet named '{sheet}' (sheets: "
                              f"{', '.join(book.sheetnames)})", details={"file": file_name})
    ws = book[sheet] if sheet else book.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    try:
        header_cells = next(rows)
    except StopIteration:
        book.close()
        raise ValidationError(f"{file_name}: the sheet is empty", details={"file": file_name}
                              ) from None
    except Exception as exc:
        book.close()
        raise ValidationError(f"{file_name}: unreadable sheet ({exc})",
                              details={"file": file_name}) from None
    header = ["" if c is None else str(c) for c in header_cells]
    while header and header[-1] == "":
        header.pop()
    if not header:
        book.close()
        raise ValidationError(f"{file_name}: the sheet has no header row",
                              details={"file": file_name})
    _check_header(header, file_name, limits)
    width = len(header)

    def chunks() -> Iterator[RowChunk]:
        row_number = 1
        buffer: list[list] = []
        try:
            for cells in rows:
                values = [_cell_text(c, date_format) for c in cells[:width]]
                if not any(v not in (None, "") for v in values) and len(cells) <= width:
                    continue  # an empty spreadsheet row
                values += [None] * (width - len(values))
                buffer.append(values)
                if len(buffer) >= CHUNK_ROWS:
                    yield _chunk_from_rows(buffer, width, row_number)
                    row_number += len(buffer)
                    buffer = []
        except Exception as exc:
            raise ValidationError(f"{file_name}: unreadable sheet near row {row_number} "
                                  f"({type(exc).__name__}: {exc})", details={"file": file_name}
                                  ) from None
        finally:
            if not buffer:
                book.close()
        if buffer:
            yield _chunk_from_rows(buffer, width, row_number)
        book.close()

    return header, chunks()


def with_overrides(fmt: FileFormat, options: ReadOptions | None) -> FileFormat:
    if options is None:
        return fmt
    changes = {k: v for k, v in (("encoding", options.encoding), ("delimiter", options.delimiter),
                                 ("quote", options.quote), ("sheet", options.sheet)) if v}
    return replace(fmt, **changes)
