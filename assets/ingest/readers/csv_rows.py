"""CSV: the fast path is Arrow's streaming CSV reader (1 MiB blocks); a file it cannot
read as a clean table raises ``NeedsRobustReader`` and is re-read with the Python
``csv`` module, which numbers and reports every bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from assets.ingest.limits import IngestLimits
from assets.ingest.readers.base import (
    CHUNK_ROWS,
    FileFormat,
    NeedsRobustReader,
    RowChunk,
    bad_text,
    check_header,
    chunk_from_rows,
    clean_text,
)
from resources.errors import ValidationError

ARROW_BLOCK_BYTES = 1 << 20  # Arrow reads ahead ~36 blocks: this bounds its buffers

# A field bigger than any limit we report on: past it the Python csv module stops.
csv.field_size_limit(256 << 20)


def _first_record(reader, file_name: str) -> list[str]:
    """The header record of a csv reader ([] for an empty file)."""
    try:
        return next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise ValidationError(f"{file_name}: unreadable header ({exc})",
                              details={"file": file_name}) from None


def read_header(raw, fmt: FileFormat, file_name: str, limits: IngestLimits) -> list[str]:
    """The first CSV record, parsed by the csv module from the start of the file."""
    head = raw.read(limits.max_row_bytes)
    text = head.decode(fmt.encoding, errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter,
                        quotechar=fmt.quote)
    header = _first_record(reader, file_name)
    if not any(h.strip() for h in header):
        raise ValidationError(f"{file_name}: the file is empty or has no header row",
                              details={"file": file_name})
    return check_header(header, file_name, limits)


# ----------------------------------------------------------------------------- CSV, Arrow
def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") else encoding


def arrow_chunks(source, raw, header: list[str], file_name: str, fmt: FileFormat
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


def _escaped(value: str) -> str:
    """A raw value with undecodable bytes shown as \\xNN, for the quarantine."""
    return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def csv_rows_python(text: io.TextIOWrapper, file_name: str, fmt: FileFormat,
                     limits: IngestLimits):
    reader = csv.reader(text, delimiter=fmt.delimiter, quotechar=fmt.quote, strict=False)
    header = _first_record(reader, file_name)
    header = [clean_text(h) for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if not any(h.strip() for h in header):
        raise ValidationError(f"{file_name}: the file is empty or has no header row",
                              details={"file": file_name})
    check_header(header, file_name, limits)
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
                if bad_text(joined):
                    reason = f"bytes not valid in the file's encoding ({encoding})"
                    raw_text = _escaped(joined)
                    fields = [clean_text(f) for f in fields]
                if len(fields) != width:
                    reason = reason or f"row has {len(fields)} fields, the header has {width}"
                    raw_text = raw_text or joined
                    fields = (fields + [""] * width)[:width]
                buffer.append(fields)
                reasons.append(reason)
                raws.append(raw_text[: limits.max_quarantine_value_chars] if raw_text else None)
                if len(buffer) >= CHUNK_ROWS:
                    yield chunk_from_rows(buffer, width, row_number, reasons, raws)
                    row_number += len(buffer)
                    buffer, reasons, raws = [], [], []
        except csv.Error as exc:
            raise ValidationError(f"{file_name}: unreadable CSV near row {row_number + len(buffer)}"
                                  f": {exc}", details={"file": file_name}) from None
        if buffer:
            yield chunk_from_rows(buffer, width, row_number, reasons, raws)

    return header, chunks()
