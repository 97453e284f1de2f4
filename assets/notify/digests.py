"""Daily digests: each preference's due digest items become one message (pending, then
sent by the normal path) while the items wait as 'batched'. Plain Python on top of the
store: no Dagster."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from assets.alerts.rules import severity_rank
from assets.notify import store
from assets.notify.rendering import render_notification

MAX_DIGEST_CHARTS = 5
_SEVERITIES = ("critical", "high", "medium", "low")


def digest_key(preference_id: int, slot: datetime, item_ids: list[int]) -> str:
    """The same items of the same preference and slot make the same digest."""
    return hashlib.sha256(
        f"digest\x1f{preference_id}\x1f{slot.isoformat()}\x1f{','.join(map(str, sorted(item_ids)))}"
        .encode()).hexdigest()


def build_digests(conn: psycopg.Connection, *, now: datetime, run_id: str | None = None,
                  templates: dict | None = None) -> int:
    """Turn each preference's due digest items into one digest message. Items are locked
    while grouped, so concurrent builders never put one item in two digests."""
    templates = store.load_templates(conn) if templates is None else templates
    built = 0
    with conn.transaction():
        groups: dict[tuple, list[store.DigestItemRow]] = defaultdict(list)
        for row in store.lock_due_digest_items(conn, now):
            groups[(row.preference_id, row.recipient_id, row.due_at)].append(row)
        if not groups:
            return 0
        prefs = store.digest_recipients(conn, [k[0] for k in groups])
        for (pref_id, recipient_id, slot), items in groups.items():
            kind, fingerprint, name, tz, role = prefs[pref_id]
            items.sort(key=lambda r: (-severity_rank(r.severity or "low"), r.id))
            lines = [{"id": r.id, "severity": r.severity or "low", "event": r.event,
                      "subject": r.subject, "message": r.message, "alert_type": r.alert_type,
                      "item_id": r.item_id, "location_id": r.location_id} for r in items]
            counts = {s: sum(1 for i in lines if i["severity"] == s) for s in _SEVERITIES}
            context = {"items": lines, "counts": counts,
                       "date": slot.astimezone(ZoneInfo(tz)).date().isoformat(),
                       "recipient": {"name": name, "role": role}, "channel_kind": kind}
            subject, body, body_format = render_notification(templates, "digest", kind, context)
            charts = list(dict.fromkeys(p for r in items for p in (r.attachments or [])))
            ids = [r.id for r in items]
            digest_id = store.insert_digest(
                conn, key=digest_key(pref_id, slot, ids), recipient_id=recipient_id,
                preference_id=pref_id, kind=kind, fingerprint=fingerprint,
                severity=max((r.severity or "low" for r in items), key=severity_rank),
                subject=subject, body=body, body_format=body_format,
                attachments=charts[:MAX_DIGEST_CHARTS], due_at=now, run_id=run_id)
            if digest_id is None:  # cannot happen while the items are locked; be safe
                continue
            store.mark_batched(conn, digest_id, ids)
            built += 1
    return built
