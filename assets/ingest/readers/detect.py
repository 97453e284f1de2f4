"""Detection: format (by content, then suffix), compression, encoding, delimiter and
quote of an export file; operator overrides win."""

from __future__ import annotations

import codecs
from pathlib import Path

from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from assets.ingest.readers.base import FileFormat, ReadOptions, open_binary
from resources.errors import ValidationError

CSV_DELIMITERS = ";,\t|"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


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
    with open_binary(path, compression, limits) as raw:
        head = raw.read(min(limits.max_row_bytes, 1 << 20) + 4096)
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
