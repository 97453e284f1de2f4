"""Load one export file as one batch: record, keep, validate, COPY, all or nothing.

1. The file is hashed and kept content-addressed under the data directory (replay never
   needs the original path); a live batch with the same sha256 is a DuplicateError.
2. The batch row is committed first (status ``validating``) while this session holds an
   advisory lock on it: a load killed midway leaves a batch whose lock is free, which
   ``reap_dead_batches`` (run before every load and status query) marks ``failed``.
3. One transaction: the file streams through the reader (Arrow's CSV reader, or the
   Python readers) and the vectorized validator; good rows are COPY'd (FREEZE) into a
   table of the batch's own, bad rows are spooled to a temp file. Duplicate natural keys
   are found from a 32-bit key hash per row (8 bytes a row, sorted at the end, candidates
   compared exactly in SQL). Accepted: the table is attached as a partition of
   raw.<source>_<entity>; rejected: it is dropped. Quarantine rows and the final status
   commit with it. Memory stays flat apart from the 8 bytes a row of the duplicate check.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa

from assets.ingest import store
from assets.ingest.limits import DEFAULT_LIMITS, IngestLimits
from assets.ingest.pipeline import KeyWords, pipelined, row_capacity, spool_problems
from assets.ingest.raw_tables import attach_batch_table, create_batch_table, ensure_raw_table
from assets.ingest.readers import (
    FileFormat,
    NeedsRobustReader,
    ReadOptions,
    check_options,
    detect_format,
    open_export,
)
from assets.ingest.registry import ExportType, get_export_type
from assets.ingest.store import BatchResult
from assets.ingest.validation import PROBLEM_SCHEMA, BatchValidator, plan_header
from resources.errors import (
    DuplicateError,
    NotFoundError,
    OperationError,
    ServiceError,
    ValidationError,
)
from resources.private import regular_file_problem


# ----------------------------------------------------------------------------- files
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def keep_original(path: Path, sha256: str, store_dir: Path) -> Path:
    """Copy the file content-addressed under the data directory (replay needs no path)."""
    target = store_dir / sha256[:2] / f"{sha256}{''.join(path.suffixes[-2:])}"
    if not target.exists():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.chmod(0o600)  # a raw ERP export, whatever the caller's umask
        tmp.replace(target)
    return target


def resolve_export(source_system: str, entity: str) -> ExportType:
    export = get_export_type(source_system, entity)
    if export is None:
        raise NotFoundError(
            f"no export type registered for source '{source_system}', entity '{entity}'",
            details={"source_system": source_system, "entity": entity},
        )
    return export


def reap_dead_batches(conn: psycopg.Connection) -> list[int]:
    """Batches still 'received'/'validating' whose loading session is gone -> 'failed'."""
    dead = []
    for batch_id in store.loading_batch_ids(conn):
        if not store.try_lock_batch(conn, batch_id):
            continue  # its loader is alive
        try:
            if store.fail_lost_batch(conn, batch_id):
                dead.append(batch_id)
        finally:
            store.unlock_batch(conn, batch_id)
    return dead


# ----------------------------------------------------------------------------- ingest
def ingest_file(
    conn: psycopg.Connection,
    path: Path,
    source_system: str,
    entity: str,
    *,
    store_dir: Path,
    bad_row_threshold: float = 0.05,
    today: date | None = None,
    options: ReadOptions | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
    on_progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Ingest ``path`` as a new batch. ``conn`` must be in autocommit mode (not in a
    transaction). Returns the result for loaded and rejected batches; raises
    DuplicateError for known content and the ServiceError that rejected a file whose
    structure is unusable (after recording the batch as rejected)."""
    export = resolve_export(source_system, entity)
    check_options(options)
    path = Path(path)
    problem = regular_file_problem(path)
    if problem == "file not found":
        raise NotFoundError(f"file not found: {path}", details={"file": str(path)})
    if problem is not None:  # before anything is hashed, kept or recorded
        raise ValidationError(f"{path}: {problem}", details={"file": str(path)})
    reap_dead_batches(conn)
    size = path.stat().st_size
    sha256 = file_sha256(path)
    existing = store.live_batch_with_sha(conn, sha256)
    if existing is not None:
        raise DuplicateError(
            f"{path.name}: the same content was already ingested as batch {existing}",
            details={"file": path.name, "sha256": sha256, "batch_id": existing},
        )
    too_big = size > limits.max_file_bytes
    stored = None if too_big else keep_original(path, sha256, store_dir)
    with conn.transaction():
        ensure_raw_table(conn, export)
        try:
            batch_id = store.insert_batch(
                conn, source_system=source_system, entity=entity, file_name=path.name,
                sha256=sha256, file_format=_guess_format(path), size=size,
                stored_path=str(stored) if stored else None)
        except psycopg.errors.UniqueViolation:
            raise DuplicateError(
                f"{path.name}: the same content is being ingested by another process",
                details={"file": path.name, "sha256": sha256},
            ) from None
        store.lock_batch(conn, batch_id)
    try:
        if too_big:
            raise ValidationError(
                f"{path.name}: {size} bytes, more than the limit of {limits.max_file_bytes}",
                details={"file": path.name, "size": size})
        with conn.transaction():
            result = load_batch(conn, batch_id, export, stored, path.name,
                                bad_row_threshold=bad_row_threshold, today=today,
                                options=options, limits=limits, on_progress=on_progress)
        return BatchResult(**{**result.__dict__, "sha256": sha256})
    except ServiceError as exc:
        _finish_failed(conn, batch_id, "rejected", str(exc))
        exc.details.setdefault("batch_id", batch_id)
        raise
    except BaseException as exc:
        _finish_failed(conn, batch_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    finally:
        if not (conn.closed or conn.broken):
            store.unlock_batch(conn, batch_id)


def _guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return {"jsonl": "json", "ndjson": "json", "txt": "csv", "tsv": "csv"}.get(suffix, suffix or "unknown")


def _finish_failed(conn: psycopg.Connection, batch_id: int, status: str, summary: str) -> None:
    if conn.closed or conn.broken:
        return  # the reaper marks it failed once this session is gone
    with conn.transaction():
        store.finish_batch_failed(conn, batch_id, status, summary)


# ----------------------------------------------------------------------------- replay
def replay_batch(
    conn: psycopg.Connection,
    batch_id: int,
    *,
    bad_row_threshold: float = 0.05,
    today: date | None = None,
    options: ReadOptions | None = None,
    limits: IngestLimits = DEFAULT_LIMITS,
) -> BatchResult:
    """Re-validate and reload a stored batch as a new batch (``replay_of`` = the old one)
    in one transaction: when the new batch loads, the old one becomes superseded, so
    exactly one copy of its rows is current."""
    reap_dead_batches(conn)
    with conn.transaction():
        old = store.lock_stored_batch(conn, batch_id)
        if old is None:
            raise NotFoundError(f"batch {batch_id} does not exist", details={"batch_id": batch_id})
        status, stored_path, sha256 = old.status, old.stored_path, old.sha256
        if status == "superseded":
            newer = store.latest_replay_of(conn, batch_id)
            raise ValidationError(f"batch {batch_id} is already superseded (by batch {newer}); "
                                  f"replay the current one", details={"batch_id": batch_id})
        if status in ("received", "validating"):
            raise OperationError(f"batch {batch_id} is still loading", details={"batch_id": batch_id})
        stored = Path(stored_path) if stored_path else None
        if stored is None or not stored.is_file():
            raise NotFoundError(f"batch {batch_id}: the kept file is missing ({stored_path})",
                                details={"batch_id": batch_id})
        if file_sha256(stored) != sha256.strip():
            raise OperationError(f"batch {batch_id}: the kept file no longer matches its sha256",
                                 details={"batch_id": batch_id})
        export = resolve_export(old.source_system, old.entity)
        ensure_raw_table(conn, export)
    try:
        with conn.transaction():
            store.lock_stored_batch(conn, batch_id)
            # The old batch gives up its sha256 first (the live-sha index allows one).
            store.set_batch_status(conn, batch_id, "superseded")
            new_id = store.insert_batch(
                conn, source_system=old.source_system, entity=old.entity,
                file_name=old.file_name, sha256=sha256, file_format=_guess_format(stored),
                size=stored.stat().st_size, stored_path=str(stored), replay_of=batch_id)
            result = load_batch(conn, new_id, export, stored, old.file_name,
                                bad_row_threshold=bad_row_threshold, today=today,
                                options=options, limits=limits)
            if result.status != "loaded":
                # Not accepted: the old batch stays what it was.
                store.set_batch_status(conn, batch_id, status)
        return BatchResult(**{**result.__dict__, "sha256": sha256, "replay_of": batch_id})
    except ServiceError as exc:
        with conn.transaction():
            store.insert_rejected_replay(conn, old, _guess_format(stored), str(exc))
        raise


# ----------------------------------------------------------------------------- the load
def known_item_keys(conn: psycopg.Connection, export: ExportType) -> tuple[pa.Array | None, str]:
    """Keys of the current item master the export must reference (None: no master yet)."""
    spec = export.known_items
    if spec is None:
        return None, ""
    master = resolve_export(export.source_system, spec.entity)
    ensure_raw_table(conn, master)
    keys = store.loaded_keys(conn, master, [m for _, m in spec.columns])
    label = f"the current {master.source_system} {master.entity}"
    if not keys:
        return None, label
    return pa.array(keys, type=pa.string()), label


def load_batch(conn: psycopg.Connection, batch_id: int, export: ExportType, stored: Path,
               file_name: str, *, bad_row_threshold: float, today: date | None,
               options: ReadOptions | None, limits: IngestLimits,
               on_progress: Callable[[int], None] | None = None) -> BatchResult:
    """Validate and load ``stored`` as batch ``batch_id``. Must run inside a transaction."""
    today = today or date.today()
    fmt = detect_format(stored, options, limits)
    known, known_label = known_item_keys(conn, export)
    notes: list[str] = []
    if export.known_items is not None and known is None:
        notes.append(f"unknown-item check skipped: no loaded batch of {known_label} yet")
    attempt_robust = False
    while True:
        try:
            with conn.transaction():
                outcome = _stream(conn, batch_id, export, stored, file_name, fmt, known,
                                  known_label, today, limits, attempt_robust, on_progress)
            break
        except NeedsRobustReader:
            if attempt_robust:
                raise
            attempt_robust = True  # the savepoint rolled the partial COPY back
    received, bad_rows, words, spool, header_notes = outcome
    notes.extend(header_notes)
    with spool:
        dup_count = _quarantine_duplicates(conn, batch_id, export, words, spool)
        quarantined = bad_rows + dup_count
        share = quarantined / received if received else 0.0
        spool.seek(0)
        store.copy_problems(conn, spool)
    first = store.quarantined_rows(conn, batch_id, 1)
    first_text = "" if not first else (
        f"row {first[0][0]}, column {first[0][1]}: {first[0][3]}" if first[0][1]
        else f"row {first[0][0]}: {first[0][3]}")
    if share > bad_row_threshold:
        status, loaded = "rejected", 0
        store.drop_batch_table(conn, export, batch_id)
        summary = (f"{file_name}: {quarantined} of {received} rows ({share:.1%}) failed "
                   f"validation, above the {bad_row_threshold:.0%} threshold; first: {first_text}")
    else:
        status, loaded = "loaded", received - quarantined
        attach_batch_table(conn, export, batch_id)
        if export.entity == "master_audit":
            store.record_master_audits(conn, batch_id, export)
        summary = f"{quarantined} row(s) quarantined; first: {first_text}" if quarantined else None
    if notes:
        summary = "; ".join([*([summary] if summary else []), *notes])
    store.finish_batch(conn, batch_id, status=status,
                       file_format=fmt.format + (".gz" if fmt.compression else ""),
                       encoding=fmt.encoding, received=received, loaded=loaded,
                       quarantined=quarantined, summary=summary)
    return BatchResult(batch_id, export.source_system, export.entity, file_name, status,
                       received, loaded, quarantined, summary, notes=tuple(notes))


def _stream(conn, batch_id, export, stored, file_name, fmt: FileFormat, known, known_label,
            today, limits, robust, on_progress):
    """Read, validate and COPY every row; returns counts, key words and the problem spool."""
    create_batch_table(conn, export, batch_id)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
    words = KeyWords(row_capacity(stored, fmt, export, limits))
    received = bad_rows = 0
    notes: list[str] = []
    try:
        with open_export(stored, fmt, limits=limits, robust=robust,
                         date_format=export.date_format,
                         declared=export.column_names) as (header, chunks):
            if not header:
                header = list(export.column_names)  # an empty JSON export
            plan = plan_header(export, header, file_name)
            if plan.unknown_columns:
                shown = ", ".join(repr(u[:40]) for u in plan.unknown_columns[:5])
                more = len(plan.unknown_columns) - 5
                notes.append(f"ignored unknown column(s) {shown}"
                             + (f" and {more} more" if more > 0 else ""))
            validator = BatchValidator(export, plan, today, limits=limits, known_items=known,
                                       known_items_label=known_label)
            with store.copy_into_batch(conn, export, batch_id) as copy:
                for rows, bad, problems, payload, key_words in pipelined(chunks, validator):
                    received += rows
                    if received > limits.max_rows:
                        raise ValidationError(f"{file_name}: more than {limits.max_rows} rows",
                                              details={"file": file_name})
                    bad_rows += bad
                    if problems.num_rows:
                        spool_problems(spool, problems, batch_id)
                    if payload is not None:
                        copy.write(payload)
                        words.extend(key_words)
                    if on_progress:
                        on_progress(received)
    except BaseException:
        spool.close()
        raise
    return received, bad_rows, words, spool, notes


def _quarantine_duplicates(conn, batch_id: int, export: ExportType, words: KeyWords, spool) -> int:
    candidates = words.duplicate_candidates()
    if not len(candidates):
        return 0
    rows = store.natural_keys_of(conn, export, batch_id, candidates.tolist())
    first_at: dict[tuple, int] = {}
    dups: list[tuple[int, str]] = []
    for row_number, *key in rows:
        first = first_at.setdefault(tuple(key), row_number)
        if first != row_number:
            dups.append((row_number, first, ",".join("" if k is None else k for k in key)))
    if not dups:
        return 0
    store.delete_batch_rows(conn, export, batch_id, [d[0] for d in dups])
    problems = pa.table({
        "row_number": pa.array([d[0] for d in dups], type=pa.int64()),
        "column_name": pa.array([",".join(export.natural_key)] * len(dups), type=pa.string()),
        "raw_value": pa.array([d[2] for d in dups], type=pa.string()),
        "reason": pa.array([f"duplicate natural key inside the batch (first at row {d[1]})"
                            for d in dups], type=pa.string())}, schema=PROBLEM_SCHEMA)
    spool_problems(spool, problems, batch_id)
    return len(dups)


def batch_result(conn: psycopg.Connection, batch_id: int) -> BatchResult:
    """The recorded outcome of one batch."""
    result = store.batch_result(conn, batch_id)
    if result is None:
        raise NotFoundError(f"batch {batch_id} does not exist", details={"batch_id": batch_id})
    return result


def reject_if_invalid(result: BatchResult) -> BatchResult:
    """Raise a ValidationError for a rejected batch (after it was recorded)."""
    if result.status == "rejected":
        raise ValidationError(result.error_summary or "batch rejected",
                              details={"batch_id": result.batch_id, "file": result.file_name})
    return result
