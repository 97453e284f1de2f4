"""Safety limits of one ingested file. Past a file-level limit the batch is rejected; a
row or field past its limit is quarantined (its raw value truncated in the quarantine)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestLimits:
    max_file_bytes: int = 4 << 30  # the file as delivered (compressed or not)
    max_uncompressed_bytes: int = 16 << 30  # gzip / xlsx content once expanded
    max_compression_ratio: float = 200.0  # expanded / compressed: a zip bomb is far beyond
    max_columns: int = 1000
    max_rows: int = 100_000_000
    max_field_bytes: int = 64 << 10  # one value
    max_row_bytes: int = 1 << 20  # one record, all values
    # Values longer than this are cut in raw.quarantined_rows (the original file is kept).
    max_quarantine_value_chars: int = 1000


DEFAULT_LIMITS = IngestLimits()
