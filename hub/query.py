"""Read models: a message with its deliveries, attempts, status history and trace, in the
view its reader may have.

People (auditors, operators, admins) see all of it. A system that sent or receives the
message sees every recipient's delivery state, but of the others' deliveries no error text
(it quotes their servers and their push URLs) and attempt details, and nowhere the worker
that made an attempt (a host name and process id): `view` says which view a reader got.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.model import Kind
from core.settings import Settings
from hub.ingest.lifecycle import RECALL
from hub.store.db import Database
from hub.store.models import Attempt, Delivery, Message, StatusRecord
from routing.directory import System
from security.audit_tables import AuditEvent
from security.auth import Caller

TERMINAL_OK = {"delivered"}
TERMINAL_BAD = {"dead", "refused"}


def message_state(states: list[str]) -> str:
    if not states:
        return "accepted"
    if all(s in TERMINAL_OK for s in states):
        return "delivered"
    if any(s in TERMINAL_BAD for s in states):
        return "failed" if all(s in TERMINAL_BAD for s in states) else "partially_failed"
    if any(s in TERMINAL_OK for s in states):
        return "partially_delivered"
    return "in_progress"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _attempt(a: Attempt, full: bool, own: bool) -> dict[str, Any]:
    return {"number": a.number, "started_at": _iso(a.started_at),
            "finished_at": _iso(a.finished_at), "outcome": a.outcome,
            "detail": a.detail if full or own else None,
            "worker": a.worker if full else None}


def _duty(due: Any, met: Any, flagged: Any) -> dict[str, Any]:
    overdue = flagged is not None and met is None
    return {"due_at": _iso(due), "met_at": _iso(met),
            # flagged and still unmet: late since the due time
            "overdue": overdue, "overdue_since": _iso(due) if overdue else None,
            "flagged_at": _iso(flagged),
            "met_late": due is not None and met is not None and met > due}


def _deadlines(d: Delivery) -> dict[str, Any]:
    """The recipient's NĐ 30/2020 duties (hub/deadlines.py): receipt the same working day,
    an answer by the DueDate; a due time appears once the document reached the recipient."""
    receipt = _duty(d.receipt_due_at, d.receipt_confirmed_at, d.receipt_flagged_at)
    answer = None
    if d.answer_due_at is not None:
        answer = {**_duty(d.answer_due_at, d.answered_at, d.answer_flagged_at),
                  "met_by": d.answered_by}
    return {"receipt": receipt, "answer": answer}


def _delivery(d: Delivery, full: bool, own: bool) -> dict[str, Any]:
    return {
        "id": d.id,
        "recipient": d.recipient_org,
        "system": d.system_id,
        "mode": d.mode,
        "adapter": d.adapter,
        "form": d.form,
        "state": d.state,
        "attempts": [_attempt(a, full, own) for a in d.attempt_log],
        "last_error": d.last_error if full or own else None,
        "next_attempt_at": _iso(d.next_attempt_at),
        # held (state `waiting`) until this delivery to the same recipient is delivered
        "after": d.after_delivery_id,
        "finished_at": _iso(d.finished_at),
        "dead_letter": d.state == "dead",
        "deadlines": _deadlines(d),
        # the routing rule that added the recipient (copy_to) or chose its system (via)
        "rule": d.rule,
    }


def message_view(db: Database, settings: Settings, reader: Caller | System | None,
                 message_id: str) -> dict[str, Any]:
    """The record of a message as `reader` may see it: whole for people and for the hub
    itself (None); the participant view for its sender and recipient systems.

    Raises NotFound when there is no such message or the reader may not see it (the two
    are not told apart).
    """
    if isinstance(reader, System):
        reader = Caller.of_system(reader)
    full = reader is None or reader.sees_everything
    with db.reading() as session:
        message = session.execute(
            select(Message).where(Message.id == message_id)
            .options(selectinload(Message.deliveries).selectinload(Delivery.attempt_log))
        ).scalar_one_or_none()
        participants = set() if message is None else (
            {message.sender_system} | {d.system_id for d in message.deliveries})
        visible = message is not None and (
            full or (reader is not None and reader.kind == "system"
                     and reader.id in participants))
        if message is None or not visible:
            raise NotFound(f"no message {message_id}", code="message_not_found")
        own = "" if reader is None or full else reader.id
        statuses = session.execute(
            select(StatusRecord).where(StatusRecord.message_id == message_id)
            .order_by(StatusRecord.id)
        ).scalars().all()
        # what changed the document since: updates, revocations, replacements, recalls
        changes = session.execute(
            select(Message.id, Message.kind, Message.business_doc_type, Message.status_code,
                   Message.sender_org, Message.received_at)
            .where(Message.original_id == message_id,
                   or_(Message.kind == Kind.DOCUMENT.value, Message.status_code == RECALL))
            .order_by(Message.received_at, Message.id)
        ).all()
        events = session.execute(
            select(AuditEvent).where(AuditEvent.message_id == message_id)
            .order_by(AuditEvent.seq)
        ).scalars().all()
        deliveries: list[dict[str, Any]] = [
            _delivery(d, full, d.system_id == own) for d in message.deliveries
        ]
        header = message.meta.get("header", {})
        package_trace = [
            {"organId": h.get("organId"), "timestamp": h.get("timestamp"), "source": "package"}
            for h in header.get("traceHeaderList", {}).get("traceHeaders", [])
        ]
        # the hubs before this one, as the hub that forwarded it named them (core/hops.py)
        hop_trace = [
            {"organId": h.get("organId"), "timestamp": h.get("timestamp"), "source": "hop",
             **({"message_id": h.get("messageId")} if full else {})}
            for h in message.meta.get("hops", [])
        ]
        hub_trace = [
            {"organId": settings.hub_organ_id, "timestamp": e.at, "event": e.event,
             # a participant sees the systems involved; workers, people and tools are "hub"
             "actor": e.actor if full or e.actor in participants else "hub",
             "source": "hub",
             # people see the event's whole record (the worker, the receiver's answer)
             **({"detail": json.loads(e.detail)} if full else {})}
            for e in events
        ]
        return {
            "id": message.id,
            "view": "full" if full else "participant",
            "kind": message.kind,
            "form": message.form,
            "channel": message.channel,
            "document_id": message.document_id,
            "business_doc_type": message.business_doc_type,
            "status_code": message.status_code,
            "response_to": message.response_to,
            # the original document of an update, replacement, recall or status, and what
            # changed an original since (docs/lifecycle.md)
            "original": message.original_id,
            "changes": [
                {"id": c.id, "kind": c.kind, "business_doc_type": c.business_doc_type,
                 "status_code": c.status_code, "sender": c.sender_org,
                 "received_at": _iso(c.received_at)}
                for c in changes
            ],
            "sender": message.sender_org,
            "sender_system": message.sender_system,
            "subject": message.subject,
            "sha256": message.sha256,
            "size": message.size,
            "received_at": _iso(message.received_at),
            # the recipient groups the package named, and the units each reached
            "groups": message.groups or [],
            "state": message_state([d["state"] for d in deliveries]),
            "deliveries": deliveries,
            "status_history": [
                {"status_code": s.status_code, "from": s.from_org, "description": s.description,
                 "timestamp": s.timestamp, "recorded_at": _iso(s.recorded_at),
                 "status_message_id": s.status_message_id}
                for s in statuses
            ],
            "warnings": message.meta.get("warnings", []),
            "signature": message.meta.get("signature"),
            "trace": package_trace + hop_trace + hub_trace,
        }
