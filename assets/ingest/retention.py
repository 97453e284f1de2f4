"""Raw-data retention: what ``forgecast maintenance`` and the weekly maintenance run drop
from the ingest stage. Loaded history stays: only the partitions of batches nothing reads
any more (superseded by a replay, rejected, failed) and old quarantine rows go. The batch
rows themselves stay, as the audit of what arrived and what became of it."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from assets.ingest import store
from assets.ingest.registry import get_export_type


@dataclass(frozen=True)
class RawPurge:
    batches_expired: int
    partitions_dropped: int
    quarantine_rows_deleted: int


def purge_raw(conn: psycopg.Connection, older_than_days: int) -> RawPurge:
    """Drop the raw partitions of superseded, rejected and failed batches and the
    quarantined rows of batches that ended more than ``older_than_days`` ago; one
    transaction, so a failure leaves everything as it was."""
    with conn.transaction():
        expired = store.expired_batches(conn, older_than_days)
        dropped = 0
        for batch_id, source, entity in expired:
            export = get_export_type(source, entity)
            if export is not None:
                dropped += store.drop_batch_table_if_exists(conn, export, batch_id)
        deleted = store.delete_old_quarantine(conn, older_than_days)
    return RawPurge(len(expired), dropped, deleted)
