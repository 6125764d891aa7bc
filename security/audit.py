"""The audit trail: append-only events linked into a SHA-256 hash chain.

Each event's hash covers the previous hash and the event's canonical JSON, so changing,
removing or reordering any event breaks every hash after it. Appends lock the one-row
chain head, which serialises writers across every API and worker process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.tables import table_of
from security.audit_tables import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical(body)).encode("utf-8")).hexdigest()


def event_body(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at,
        "event": row.event,
        "actor": row.actor,
        "message_id": row.message_id,
        "delivery_id": row.delivery_id,
        "detail": json.loads(row.detail),
    }


@dataclass(frozen=True)
class PendingEvent:
    event: str
    actor: str = ""
    message_id: str | None = None
    delivery_id: str | None = None
    detail: dict[str, Any] | None = None


def append(session: Session, events: list[PendingEvent]) -> None:
    """Append events to the chain inside the caller's transaction.

    Call it last in a transaction: the head row stays locked until commit.
    Raises sqlalchemy errors when the database refuses.
    """
    if not events:
        return
    conn = session.connection()
    head_table = table_of(AuditHead)
    head = conn.execute(
        select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)
        .with_for_update()
    ).first()
    if head is None:
        conn.execute(insert(head_table).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for ev in events:
        seq += 1
        detail = ev.detail or {}
        body = {"seq": seq, "at": at, "event": ev.event, "actor": ev.actor,
                "message_id": ev.message_id, "delivery_id": ev.delivery_id, "detail": detail}
        digest = link_hash(prev, body)
        rows.append({"seq": seq, "at": at, "event": ev.event, "actor": ev.actor,
                     "message_id": ev.message_id, "delivery_id": ev.delivery_id,
                     "detail": canonical(detail), "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(table_of(AuditEvent)), rows)
    conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=seq, hash=prev))


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def iter_events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> ChainReport:
    """Walk the whole chain; report the first event whose link or hash does not hold."""
    prev, count, expected_seq = GENESIS, 0, 1
    for row in iter_events(session):
        if row.seq != expected_seq:
            return ChainReport(False, count, prev, row.seq, f"event {expected_seq} is missing")
        if row.prev_hash != prev:
            return ChainReport(False, count, prev, row.seq, "link to the previous event is broken")
        if link_hash(prev, event_body(row)) != row.hash:
            return ChainReport(False, count, prev, row.seq, "event content does not match its hash")
        prev, count, expected_seq = row.hash, count + 1, expected_seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(False, count, prev, head.seq, "events after the last one were removed")
    return ChainReport(True, count, prev)
