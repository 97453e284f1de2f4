"""What every reader shares: the chunk type, the detected file format, operator
overrides, the byte stream (gzip expansion limited while streaming) and the row helpers."""

from __future__ import annotations

import gzip
import io
import zlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from assets.ingest.limits import IngestLimits
from resources.errors import ValidationError

CHUNK_ROWS = 20_000  # rows per chunk on the Python paths


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
def open_binary(path: Path, compression: str | None, limits: IngestLimits):
    with ExitStack() as stack:
        fh = stack.enter_context(open(path, "rb"))
        if compression == "gzip":
            gz = stack.enter_context(gzip.GzipFile(fileobj=fh, mode="rb"))
            raw = LimitedReader(gz, path.stat().st_size, limits, path.name)
            yield io.BufferedReader(raw, buffer_size=1 << 20)
        else:
            yield fh


def check_header(header: list[str], file_name: str, limits: IngestLimits) -> list[str]:
    if len(header) > limits.max_columns:
        raise ValidationError(
            f"{file_name}: {len(header)} columns, more than the limit of {limits.max_columns}",
            details={"file": file_name, "columns": len(header)})
    return header


def bad_text(value: str) -> bool:
    try:
        value.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def clean_text(value: str) -> str:
    return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace") \
        if bad_text(value) else value



def chunk_from_rows(rows: list[list], width: int, first_row: int,
                     reasons: list[str | None] | None = None,
                     raws: list[str | None] | None = None) -> RowChunk:
    columns = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(width)]
    batch = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(width)])
    has_problems = reasons is not None and any(r is not None for r in reasons)
    return RowChunk(batch, first_row,
                    pa.array(reasons, type=pa.string()) if has_problems else None,
                    pa.array(raws, type=pa.string()) if has_problems else None)
