"""XLSX: openpyxl in read-only mode (defusedxml guards the XML), after checking the
zip's declared sizes against the limits; formula cells are read as their text, never
evaluated."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

from assets.ingest.limits import IngestLimits
from assets.ingest.readers.base import (
    CHUNK_ROWS,
    FileFormat,
    RowChunk,
    check_header,
    chunk_from_rows,
    open_binary,
)
from resources.errors import ValidationError


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
def xlsx_source(path: Path, fmt: FileFormat, limits: IngestLimits):
    if fmt.compression != "gzip":
        check_zip_limits(path, path.name, limits)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="fc-xlsx-") as tmp:
        target = Path(tmp) / "book.xlsx"
        with open_binary(path, "gzip", limits) as raw, open(target, "wb") as out:
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


def xlsx_rows(path: Path, file_name: str, sheet: str | None, limits: IngestLimits,
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
    check_header(header, file_name, limits)
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
                    yield chunk_from_rows(buffer, width, row_number)
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
            yield chunk_from_rows(buffer, width, row_number)
        book.close()

    return header, chunks()
