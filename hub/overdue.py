"""Who is late under NĐ 30/2020 now, grouped by the late recipient's organisation.

The read model of GET /api/v1/overdue and `lienthong overdue`: deliveries the scanner
(hub/deadlines.py) flagged and that are still unmet. People see every one; a connected
system sees those of the documents it sent and those it is late on itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from hub.store.db import Database
from hub.store.models import Delivery, Message
from routing import deadlines as rules
from routing.directory import Directory
from security.auth import Caller

MAX_ROWS = 5000


def late_now(kind: str | None = None, since: dt.datetime | None = None) -> Any:
    """The SQL condition of a delivery late now: flagged and still unmet, of `kind` (or
    either), due at or after `since` (if given)."""
    receipt: list[ColumnElement[bool]] = [Delivery.receipt_flagged_at.is_not(None),
                                           Delivery.receipt_confirmed_at.is_(None)]
    answer: list[ColumnElement[bool]] = [Delivery.answer_flagged_at.is_not(None),
                                          Delivery.answered_at.is_(None)]
    if since is not None:
        receipt.append(Delivery.receipt_due_at >= since)
        answer.append(Delivery.answer_due_at >= since)
    if kind == rules.RECEIPT:
        return and_(*receipt)
    if kind == rules.ANSWER:
        return and_(*answer)
    return or_(and_(*receipt), and_(*answer))


@dataclass(frozen=True)
class OverdueFilter:
    organization: str | None = None  # the late recipient's organisation
    kind: str | None = None  # receipt | answer
    since: dt.datetime | None = None  # due at or after this moment


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return _utc(moment).isoformat()


def overdue(db: Database, directory: Directory, reader: Caller | None, f: OverdueFilter,
            now: dt.datetime, limit: int = 1000) -> dict[str, Any]:
    """The late recipients `reader` may see (None: the hub itself, everything), grouped by
    organisation, most overdue first within each. Raises ServiceUnavailable when the
    database is down."""
    query = (select(Delivery, Message.document_id, Message.subject, Message.sender_org,
                    Message.sender_system)
             .join(Message, Message.id == Delivery.message_id)
             .where(Delivery.deadlines_open.is_(True), late_now(f.kind, f.since)))
    if f.organization:
        query = query.where(Delivery.recipient_org == (directory.canonical(f.organization)
                                                       or f.organization))
    if reader is not None and not reader.sees_everything:
        query = query.where(or_(Message.sender_system == reader.id,
                                Delivery.system_id == reader.id))
    limit = max(1, min(limit, MAX_ROWS))
    items: list[dict[str, Any]] = []
    with db.reading() as session:
        rows = session.execute(query.order_by(Delivery.id).limit(limit + 1)).all()
        for row in rows[:limit]:
            d = row.Delivery
            for kind, due, flagged, met in (
                    (rules.RECEIPT, d.receipt_due_at, d.receipt_flagged_at,
                     d.receipt_confirmed_at),
                    (rules.ANSWER, d.answer_due_at, d.answer_flagged_at, d.answered_at)):
                if due is None or flagged is None or met is not None:
                    continue
                if f.kind is not None and kind != f.kind:
                    continue
                if f.since is not None and _utc(due) < _utc(f.since):
                    continue
                items.append({
                    "kind": kind, "message_id": d.message_id, "delivery_id": d.id,
                    "document_id": row.document_id, "subject": row.subject,
                    "sender": row.sender_org, "sender_system": row.sender_system,
                    "recipient": d.recipient_org, "system": d.system_id,
                    "due_at": _iso(due), "flagged_at": _iso(flagged),
                    "late_by_s": max(0, int((now - _utc(due)).total_seconds())),
                })
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: (i["recipient"], -i["late_by_s"], i["kind"])):
        groups.setdefault(item["recipient"], []).append(item)
    organizations = []
    for code, late in groups.items():
        org = directory.organization(code)
        organizations.append({"organization": code, "name": org.name if org else None,
                              "count": len(late), "late": late})
    return {"as_of": now.isoformat(), "count": len(items), "truncated": len(rows) > limit,
            "organizations": organizations}
