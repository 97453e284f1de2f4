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

import io
from contextlib import contextmanager
from pathlib import Path

from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from assets.ingest.readers.base import FileFormat, NeedsRobustReader, ReadOptions, RowChunk, open_binary
from assets.ingest.readers.csv_rows import arrow_chunks, csv_rows_python, read_header
from assets.ingest.readers.detect import check_options, detect_encoding, detect_format
from assets.ingest.readers.json_rows import json_rows
from assets.ingest.readers.xlsx_rows import xlsx_rows, xlsx_source

__all__ = ["FileFormat", "NeedsRobustReader", "ReadOptions", "RowChunk", "check_options",
           "detect_encoding", "detect_format", "open_export"]


@contextmanager
def open_export(path: Path, fmt: FileFormat, *, limits: IngestLimits = DEFAULT_LIMITS,
                robust: bool = False, date_format: str = "%Y-%m-%d",
                declared: tuple[str, ...] = ()):
    """Yield ``(header, chunks)``. ``robust`` selects the Python CSV reader."""
    if fmt.format == "xlsx":
        with xlsx_source(path, fmt, limits) as xlsx_path:
            yield xlsx_rows(xlsx_path, path.name, fmt.sheet, limits, date_format)
        return
    if fmt.format == "csv" and not robust:
        with open_binary(path, fmt.compression, limits) as raw:
            header = read_header(raw, fmt, path.name, limits)
        with open_binary(path, fmt.compression, limits) as raw:
            source = raw if fmt.compression else str(path)
            yield header, arrow_chunks(source, raw, header, path.name, fmt)
        return
    with open_binary(path, fmt.compression, limits) as raw:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, errors="surrogateescape", newline="")
        if fmt.format == "json":
            yield json_rows(text, path.name, limits, declared)
        else:
            yield csv_rows_python(text, path.name, fmt, limits)
